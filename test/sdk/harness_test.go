package sdk

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/milvus-io/milvus/client/v2/milvusclient"
)

// binary is the milvus-ha executable built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "milvus-ha-sdk-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "milvus-ha")
	build := exec.Command("go", "build", "-o", binary, "./cmd/milvus-ha")
	build.Dir = filepath.Join("..", "..")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building milvus-ha:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is one running `milvus-ha serve` child process.
type server struct {
	t       testing.TB
	dataDir string
	auth    string
	cmd     *exec.Cmd
	addr    string // gRPC + REST host:port
	health  string // /healthz + /metrics host:port
	exited  chan struct{}
	logMu   sync.Mutex
	log     strings.Builder
}

var servingLine = regexp.MustCompile(`msg=serving api=(\S+) health=(\S+)`)

// startServer starts a server on a fresh temporary data directory.
func startServer(t testing.TB, auth string) *server {
	t.Helper()
	s := &server{t: t, dataDir: t.TempDir(), auth: auth}
	s.start()
	t.Cleanup(s.stop)
	return s
}

// start launches the process on s.dataDir and waits until it listens.
func (s *server) start() {
	s.t.Helper()
	args := []string{"serve", "--data", s.dataDir, "--listen", "127.0.0.1:0", "--health-listen", "127.0.0.1:0"}
	if s.auth != "" {
		args = append(args, "--auth", s.auth)
	}
	cmd := exec.Command(binary, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	ready := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			s.logMu.Lock()
			s.log.WriteString(line + "\n")
			s.logMu.Unlock()
			if m := servingLine.FindStringSubmatch(line); m != nil {
				ready <- [2]string{m[1], m[2]}
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(s.exited) }()
	select {
	case a := <-ready:
		s.addr, s.health = a[0], a[1]
	case <-s.exited:
		s.t.Fatalf("milvus-ha serve exited before serving:\n%s", s.output())
	case <-time.After(2 * time.Minute):
		s.t.Fatalf("milvus-ha serve did not start:\n%s", s.output())
	}
}

func (s *server) output() string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.log.String()
}

// kill stops the process with SIGKILL (a crash) and waits for it.
func (s *server) kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// stop stops the process with SIGTERM, falling back to SIGKILL.
func (s *server) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
	if s.t.Failed() {
		s.t.Logf("server log:\n%s", s.output())
	}
}

// client connects the official SDK to s.
func (s *server) client(t testing.TB, cfg *milvusclient.ClientConfig) *milvusclient.Client {
	t.Helper()
	if cfg == nil {
		cfg = &milvusclient.ClientConfig{}
	}
	cfg.Address = s.addr
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := milvusclient.New(ctx, cfg)
	if err != nil {
		t.Fatalf("connect: %v\nserver log:\n%s", err, s.output())
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// metric returns the value of one sample of the /metrics page, or 0.
func (s *server) metric(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + s.health + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var sum float64
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, name) {
			continue
		}
		ok := true
		for _, l := range labels {
			if !strings.Contains(line, l) {
				ok = false
			}
		}
		if !ok {
			continue
		}
		var v float64
		if _, err := fmt.Sscanf(line[strings.LastIndexByte(line, ' ')+1:], "%g", &v); err == nil {
			sum += v
		}
	}
	return sum
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
