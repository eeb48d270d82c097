package service

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"
)

// The Docker tests run the project's own static binary (`milvus-ha serve`)
// in an image built from packaging/Dockerfile through the Engine API, with
// host networking (no Docker networks: their address ranges are outside
// what the lab may use). SERVICE_TEST_MILVUS_HA may name a prebuilt static
// binary; otherwise the test builds ./cmd/milvus-ha with CGO_ENABLED=0.

var dockerLab struct {
	once  sync.Once
	cli   *client.Client
	image string
	err   error
	skip  string
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the module")
	}
	return filepath.Dir(gomod), nil
}

func runID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// needDocker returns a client and the test image, building it once per
// test binary. The image is removed when the test binary's tests end.
func needDocker(t testing.TB) (*client.Client, string) {
	t.Helper()
	dockerLab.once.Do(func() {
		if os.Getenv("DOCKER_HOST") == "" {
			if _, err := os.Stat("/var/run/docker.sock"); err != nil {
				dockerLab.skip = "needs docker: no /var/run/docker.sock and DOCKER_HOST unset"
				return
			}
		}
		cli, err := NewDockerClient()
		if err != nil {
			dockerLab.err = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		if _, err := cli.Ping(ctx); err != nil {
			dockerLab.err = fmt.Errorf("docker socket present but engine not answering: %w", err)
			return
		}
		dockerLab.cli = cli
		dockerLab.image, dockerLab.err = buildTestImage(ctx, cli)
	})
	if dockerLab.skip != "" {
		t.Skip(dockerLab.skip)
	}
	if dockerLab.err != nil {
		t.Fatal(dockerLab.err)
	}
	return dockerLab.cli, dockerLab.image
}

func buildTestImage(ctx context.Context, cli *client.Client) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := os.Getenv("SERVICE_TEST_MILVUS_HA")
	if bin == "" {
		dir, err := os.MkdirTemp("", "svctest-bin")
		if err != nil {
			return "", err
		}
		defer os.RemoveAll(dir)
		bin = filepath.Join(dir, "milvus-ha")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/milvus-ha")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("build static milvus-ha: %w\n%s", err, out)
		}
	}
	dockerfile, err := os.ReadFile(filepath.Join(root, "packaging", "Dockerfile"))
	if err != nil {
		return "", err
	}
	binary, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	var ctxTar bytes.Buffer
	tw := tar.NewWriter(&ctxTar)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{{"Dockerfile", 0o644, dockerfile}, {"milvus-ha", 0o755, binary}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			return "", err
		}
		if _, err := tw.Write(f.data); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	tag := "milvus-ha-svctest:" + runID()
	resp, err := cli.ImageBuild(ctx, &ctxTar, build.ImageBuildOptions{
		Tags: []string{tag}, Remove: true, ForceRemove: true, Dockerfile: "Dockerfile",
	})
	if err != nil {
		return "", fmt.Errorf("image build: %w", err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	if err := jsonmessage.DisplayJSONMessagesStream(resp.Body, &out, 0, false, nil); err != nil {
		return "", fmt.Errorf("image build: %w\n%s", err, out.String())
	}
	return tag, nil
}

// removeTestImage runs after all tests (from TestMain).
func removeTestImage() {
	if dockerLab.cli == nil || dockerLab.image == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := dockerLab.cli.ImageRemove(ctx, dockerLab.image, image.RemoveOptions{Force: true, PruneChildren: true}); err != nil {
		fmt.Fprintf(os.Stderr, "remove test image %s: %v\n", dockerLab.image, err)
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// testContainer creates (not starts) a container of the test image with
// host networking, removed at cleanup. It returns its name.
func testContainer(t testing.TB, cli *client.Client, img string, cmd []string, hc *container.HealthConfig) string {
	t.Helper()
	name := "svctest-" + runID()
	ctx := testCtx(t)
	_, err := cli.ContainerCreate(ctx,
		&container.Config{Image: img, Cmd: cmd, Healthcheck: hc},
		&container.HostConfig{NetworkMode: "host"},
		nil, nil, name)
	if err != nil {
		t.Fatalf("create container: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := cli.ContainerRemove(ctx, name, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			t.Errorf("remove container %s: %v", name, err)
		}
	})
	return name
}

func serveCmd(apiPort, healthPort int) []string {
	return []string{"serve", "--data", "/data", "--node-id", "svctest",
		"--listen", "127.0.0.1:" + strconv.Itoa(apiPort),
		"--health-listen", "127.0.0.1:" + strconv.Itoa(healthPort)}
}

func TestDockerStartStop(t *testing.T) {
	cli, img := needDocker(t)
	ctx := testCtx(t)
	api, health := freePort(t), freePort(t)
	name := testContainer(t, cli, img, serveCmd(api, health), nil)
	apiAddr := "127.0.0.1:" + strconv.Itoa(api)
	d, err := NewDocker(cli, DockerConfig{Container: name, Ready: milvusReady(apiAddr), StopTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := d.Status(ctx); err != nil || st.State != StateStopped {
		t.Fatalf("created container: %v, %v", st, err)
	}
	if err := CheckDockerRunning(ctx, cli, name); err == nil {
		t.Fatal("CheckDockerRunning passed on a created container")
	}

	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := d.Status(ctx)
	if err != nil || st.State != StateRunning || st.PID == 0 {
		t.Fatalf("after Start: %v (pid %d), %v", st, st.PID, err)
	}
	if err := CheckDockerRunning(ctx, cli, name); err != nil {
		t.Fatalf("CheckDockerRunning: %v", err)
	}
	if err := d.Start(ctx); err != nil {
		t.Fatalf("Start on a running container: %v", err)
	}

	t0 := time.Now()
	if err := d.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("stop took %v", time.Since(t0))
	info, err := cli.ContainerInspect(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Running || info.State.Pid != 0 {
		t.Fatalf("after Stop the engine says %+v", info.State)
	}
	// The engine's pid is a pid of this machine only for a local engine.
	if os.Getenv("DOCKER_HOST") == "" && alive(st.PID) {
		t.Fatalf("server pid %d still alive after Stop", st.PID)
	}
	if st, _ := d.Status(ctx); st.State != StateStopped {
		t.Fatalf("after Stop: %v", st)
	}
	if err := CheckDockerRunning(ctx, cli, name); err == nil || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("CheckDockerRunning on a stopped container: %v", err)
	}
	if err := CheckMilvusGRPC(ctx, apiAddr); err == nil {
		t.Fatal("CheckMilvusGRPC passed after Stop")
	}
	if err := d.Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	// Start again: the data directory in the container survives.
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := CheckMilvusGRPC(ctx, apiAddr); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if err := d.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestDockerHealthcheck(t *testing.T) {
	cli, img := needDocker(t)
	ctx := testCtx(t)
	for _, tc := range []struct {
		name    string
		test    []string
		wantErr string
	}{
		{"healthy", []string{"CMD", "/milvus-ha", "--version"}, ""},
		{"unhealthy", []string{"CMD", "/milvus-ha", "no-such-command"}, "unhealthy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api, health := freePort(t), freePort(t)
			name := testContainer(t, cli, img, serveCmd(api, health), &container.HealthConfig{
				Test: tc.test, Interval: 100 * time.Millisecond, Timeout: 5 * time.Second, Retries: 1,
			})
			// Ready is called (from Start) only once the engine reports
			// healthy.
			readyCalls, early := 0, false
			d, err := NewDocker(cli, DockerConfig{Container: name, StopTimeout: time.Second,
				Ready: func(ctx context.Context) error {
					readyCalls++
					if CheckDockerRunning(ctx, cli, name) != nil {
						early = true
					}
					return nil
				}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Stop(context.Background()) })
			err = d.Start(ctx)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if readyCalls == 0 || early {
					t.Fatalf("Ready called %d times, before healthy: %v", readyCalls, early)
				}
				st, _ := d.Status(ctx)
				if st.State != StateRunning || !strings.Contains(st.Detail, "healthy") {
					t.Fatalf("status = %v", st)
				}
				if err := CheckDockerRunning(ctx, cli, name); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Start = %v, want %q", err, tc.wantErr)
			}
			if st, _ := d.Status(ctx); st.State != StateFailed {
				t.Fatalf("status = %v", st)
			}
			if err := CheckDockerRunning(ctx, cli, name); err == nil || !strings.Contains(err.Error(), "unhealthy") {
				t.Fatalf("CheckDockerRunning = %v", err)
			}
		})
	}
}

// A container whose server exits at once makes Start fail with the exit
// code and the server's own last words.
func TestDockerStartExits(t *testing.T) {
	cli, img := needDocker(t)
	ctx := testCtx(t)
	name := testContainer(t, cli, img, []string{"serve", "--no-such-flag"}, nil)
	// With Ready, Start waits past the moment the engine says running.
	d, err := NewDocker(cli, DockerConfig{Container: name, Ready: milvusReady("127.0.0.1:" + strconv.Itoa(freePort(t)))})
	if err != nil {
		t.Fatal(err)
	}
	err = d.Start(ctx)
	if err == nil || !strings.Contains(err.Error(), "exited (code") || !strings.Contains(err.Error(), "no-such-flag") {
		t.Fatalf("Start = %v", err)
	}
}

// milvusReady is the Ready the keeper passes: Milvus CheckHealth at addr.
func milvusReady(addr string) func(context.Context) error {
	return func(ctx context.Context) error { return CheckMilvusGRPC(ctx, addr) }
}

// Start returns only once Ready passes, and fails with Ready's last error
// when ctx ends first; the engine's "running" is not enough.
func TestDockerStartWaitsReady(t *testing.T) {
	cli, img := needDocker(t)
	ctx := testCtx(t)
	api := freePort(t)
	name := testContainer(t, cli, img, serveCmd(api, freePort(t)), nil)
	var calls atomic.Int32
	var ready atomic.Bool
	d, err := NewDocker(cli, DockerConfig{Container: name, StopTimeout: time.Second, Poll: 10 * time.Millisecond,
		Ready: func(ctx context.Context) error {
			calls.Add(1)
			if !ready.Load() {
				return errors.New("server says not yet")
			}
			return CheckMilvusGRPC(ctx, "127.0.0.1:"+strconv.Itoa(api))
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Stop(context.Background()) })
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	err = d.Start(short)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "not ready: server says not yet") {
		t.Fatalf("Start with Ready failing = %v", err)
	}
	if n := calls.Load(); n < 2 {
		t.Fatalf("Ready called %d times while Start waited; want it polled", n)
	}
	// The container runs already: Start only waits for Ready now.
	ready.Store(true)
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
}

// At keeper start-up a container found running on a non-owner is stopped,
// whether it runs or is paused.
func TestDockerEnsureStopped(t *testing.T) {
	cli, img := needDocker(t)
	for _, pause := range []bool{false, true} {
		t.Run(fmt.Sprintf("paused=%v", pause), func(t *testing.T) {
			ctx := testCtx(t)
			name := testContainer(t, cli, img, serveCmd(freePort(t), freePort(t)), nil)
			// Someone else started it (an operator, a restart policy).
			if err := cli.ContainerStart(ctx, name, container.StartOptions{}); err != nil {
				t.Fatal(err)
			}
			if pause {
				if err := cli.ContainerPause(ctx, name); err != nil {
					t.Fatal(err)
				}
			}
			d, err := NewDocker(cli, DockerConfig{Container: name, StopTimeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			was, err := EnsureStopped(ctx, d)
			if err != nil || !was {
				t.Fatalf("EnsureStopped = %v, %v; want true, nil", was, err)
			}
			info, err := cli.ContainerInspect(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if info.State.Running || info.State.Paused || info.State.Pid != 0 {
				t.Fatalf("after EnsureStopped: %+v", info.State)
			}
			was, err = EnsureStopped(ctx, d)
			if err != nil || was {
				t.Fatalf("second EnsureStopped = %v, %v; want false, nil", was, err)
			}
		})
	}
}

func TestDockerMissingContainer(t *testing.T) {
	cli, _ := needDocker(t)
	ctx := testCtx(t)
	name := "svctest-missing-" + runID()
	d, err := NewDocker(cli, DockerConfig{Container: name})
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Inspect(ctx)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), name) {
		t.Fatalf("Inspect = %v; want ErrNotFound naming %s", err, name)
	}
	if err := d.Start(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Start = %v", err)
	}
	if _, err := d.Status(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Status = %v", err)
	}
	if err := d.Stop(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Stop = %v", err)
	}
	if was, err := EnsureStopped(ctx, d); was || err != nil {
		t.Fatalf("EnsureStopped = %v, %v; want false, nil", was, err)
	}
	if err := CheckDockerRunning(ctx, cli, name); !errors.Is(err, ErrNotFound) {
		t.Fatalf("CheckDockerRunning = %v", err)
	}
}

func TestNewDockerRejects(t *testing.T) {
	for _, cfg := range []DockerConfig{
		{},
		{Container: "x", StopTimeout: -time.Second},
	} {
		if _, err := NewDocker(nil, cfg); err == nil {
			t.Errorf("NewDocker(%+v) accepted", cfg)
		}
	}
}
