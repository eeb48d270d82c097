package ha

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/milvus-ha/milvus-ha/internal/netlab"
)

// This file drives keepers whose protected service is a Docker container:
// the project's own image (packaging/Dockerfile, a static binary on an
// empty image) running `milvus-ha serve`, one container per host, both on
// the shared directory. The keeper controls it through the Engine API
// (internal/service's docker driver); the test sets up and inspects
// through the docker CLI, so that this module needs no Docker client of
// its own. The scenario (managedFailover) is shared with the systemd test.
//
// Each container must serve inside its lab host's network namespace,
// where the keeper adds the VIP. Docker's "host" network is the engine's
// namespace, not the lab host's, and Docker cannot run a container in a
// namespace given by path. It can share the namespace of another
// container ("container:ID"), and the engine takes that namespace from
// /proc/PID/ns/net of the other container's main process. So each host
// gets a holder container (network "none", no Docker network created)
// whose main process joins the lab host's namespace and then waits; the
// service container joins the holder's network, and so the lab host's.
// Only the holder needs CAP_SYS_ADMIN (for setns); the service container
// runs as an operator would run it.

// holdSource is the holder's program: setns on the main thread (which is
// the thread /proc/PID/ns/net reports), then wait for the stop signal.
// The syscall package has no SYS_SETNS; the number is filled in from
// x/sys for this machine's architecture, which the image is built for.
const holdSource = `package main

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
)

// Locked in init, main runs on the process's main thread.
func init() { runtime.LockOSThread() }

func main() {
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if _, _, e := syscall.Syscall(%d, f.Fd(), syscall.CLONE_NEWNET, 0); e != 0 { // setns
		fmt.Fprintln(os.Stderr, "setns:", e)
		os.Exit(1)
	}
	f.Close()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
}
`

// runTool runs a command-line tool (docker, systemctl) and returns its
// trimmed standard output; a failure's error includes its standard error.
func runTool(ctx context.Context, name string, args ...string) (string, error) {
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

func mustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := runTool(t.Context(), name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// needDocker skips the test, with the reason, where no Docker engine
// answers.
func needDocker(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("needs a Docker engine: the docker CLI is not in PATH")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	v, err := runTool(ctx, "docker", "version", "--format", "{{.Server.Version}}")
	if err != nil {
		t.Skipf("needs a Docker engine: none answers: %v", err)
	}
	t.Logf("Docker engine %s", v)
}

// buildImage builds an image from a Dockerfile and files (name in the
// context → path here) and removes it when the test ends, by its per-run
// tag: identical builds (the same binary, another run at the same time)
// share one id, which the engine refuses to remove while other tags name
// it; untagging deletes the image once the last tag is gone.
func buildImage(t *testing.T, tag, dockerfile string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, src := range files {
		if err := os.Link(src, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	idFile := filepath.Join(t.TempDir(), "id")
	mustRun(t, "docker", "build", "--quiet", "--iidfile", idFile, "--tag", tag, dir)
	b, err := os.ReadFile(idFile)
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(string(b))
	t.Cleanup(func() {
		if _, err := runTool(context.Background(), "docker", "image", "rm", tag); err != nil {
			t.Errorf("remove image %s: %v", tag, err)
		}
	})
	return id
}

// goBuild builds a static binary (CGO_ENABLED=0: the images have no libc).
func goBuild(t *testing.T, dir, pkg, out string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "go", "build", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
}

// dockerImages builds the service image (packaging/Dockerfile around a
// static milvus-ha) and the holder image; both are removed at the end.
func dockerImages(t *testing.T, run string) (serviceImage, holdImage string) {
	t.Helper()
	bin := t.TempDir()
	goBuild(t, "../..", "./cmd/milvus-ha", filepath.Join(bin, "milvus-ha"))
	df, err := os.ReadFile("../../packaging/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	serviceImage = buildImage(t, "milvus-ha-hatest:"+run, string(df), map[string]string{"milvus-ha": filepath.Join(bin, "milvus-ha")})

	src := t.TempDir()
	for name, text := range map[string]string{"main.go": fmt.Sprintf(holdSource, unix.SYS_SETNS), "go.mod": "module hold\n\ngo 1.21\n"} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	goBuild(t, src, ".", filepath.Join(bin, "hold"))
	holdImage = buildImage(t, "milvus-ha-hatest-hold:"+run,
		"FROM scratch\nCOPY hold /hold\nENTRYPOINT [\"/hold\", \"/netns\"]\n",
		map[string]string{"hold": filepath.Join(bin, "hold")})
	return serviceImage, holdImage
}

// removeContainer removes a container by id when the test ends (before
// the lab closes: cleanups run last-registered first).
func removeContainer(t *testing.T, id string) {
	t.Cleanup(func() {
		if _, err := runTool(context.Background(), "docker", "rm", "--force", "--volumes", id); err != nil {
			t.Errorf("remove container %s: %v", id, err)
		}
	})
}

// nsIno is the inode of a network namespace file.
func nsIno(path string) (uint64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Sys().(*syscall.Stat_t).Ino, nil
}

// dockerServers is the id of each lab host's service container.
type dockerServers map[*netlab.Host]string

// newDockerServers creates each host's holder (started, inside the
// host's namespace) and service container (created, not started: the
// keeper starts it), named after the lab, and configures the keepers to
// protect them.
func (cl *cluster) newDockerServers(serviceImage, holdImage string) dockerServers {
	t := cl.t
	t.Helper()
	d := dockerServers{}
	for _, h := range []*netlab.Host{cl.a, cl.b} {
		nsPath := "/run/netns/" + h.NetNS()
		want, err := nsIno(nsPath)
		if err != nil {
			t.Fatal(err)
		}
		holder := mustRun(t, "docker", "run", "--detach", "--name", h.NetNS()+"-net",
			"--network", "none", "--cap-add", "SYS_ADMIN",
			"--mount", "type=bind,source="+nsPath+",target=/netns,readonly", holdImage)
		removeContainer(t, holder)
		// The holder must be inside h before any container joins it.
		waitFor(t, 10*time.Second, "holder of "+h.Name()+" in its namespace", func() bool {
			pid, err := runTool(t.Context(), "docker", "inspect", "--format", "{{.State.Pid}}", holder)
			if err != nil || pid == "0" {
				return false
			}
			got, err := nsIno("/proc/" + pid + "/ns/net")
			return err == nil && got == want
		})
		name := h.NetNS()
		create := []string{"create", "--name", name, "--network", "container:" + holder,
			"--mount", "type=bind,source=" + cl.data[h] + ",target=/data", serviceImage}
		service := mustRun(t, "docker", append(create, serveArgs(h, "/data/db")...)...)
		removeContainer(t, service)
		d[h] = service
	}
	// Registered after the removals, so it runs before them.
	t.Cleanup(func() { d.logOnFailure(t) })
	cl.configure(func(h *netlab.Host) keeperConfig {
		return keeperConfig{kind: "docker", dataDir: cl.data[h],
			service: fmt.Sprintf("  docker: {container: %s, address: %q}", h.NetNS(), serviceAddr)}
	})
	return d
}

// logOnFailure logs each service container's output (of all its runs,
// with timestamps) when the test failed: the keeper's log only has the
// exit code of a container that ended, not why.
func (d dockerServers) logOnFailure(t *testing.T) {
	if !t.Failed() {
		return
	}
	for h, id := range d {
		// The server logs to standard error, which docker logs replays
		// on its own.
		out, err := exec.Command("docker", "logs", "--timestamps", id).CombinedOutput()
		if err != nil {
			t.Logf("logs of %s's container: %v: %s", h.Name(), err, out)
			continue
		}
		t.Logf("logs of %s's container (all runs):\n%s", h.Name(), out)
	}
}

func (d dockerServers) startStray(t *testing.T, h *netlab.Host) {
	mustRun(t, "docker", "start", d[h])
}

func (d dockerServers) pid(t *testing.T, h *netlab.Host) int {
	t.Helper()
	out := mustRun(t, "docker", "inspect", "--format", "{{.State.Pid}}", d[h])
	pid, err := strconv.Atoi(out)
	if err != nil {
		t.Fatalf("pid of %s's container: %q: %v", h.Name(), out, err)
	}
	return pid
}

// serviceCheckOK waits until h's keeper reports its own service check
// (the driver says running, and Milvus at the service address answers
// CheckHealth) running and passing.
func (cl *cluster) serviceCheckOK(h *netlab.Host) {
	t := cl.t
	t.Helper()
	var last string
	waitFor(t, 10*time.Second, h.Name()+"'s service check ok", func() bool {
		st, err := cl.status(h)
		if err != nil {
			last = err.Error()
			return false
		}
		for _, c := range st.Checks {
			if c.Name == "service" {
				last = fmt.Sprintf("%+v", c)
				return c.Running && c.State == "ok"
			}
		}
		last = fmt.Sprintf("no service check in %+v", st.Checks)
		return false
	})
	t.Logf("%s: service check %s", h.Name(), last)
}

// managedServers are the protected servers of a pair, one per lab host,
// each started and stopped by its host's keeper but not its child (a
// container, a systemd unit).
type managedServers interface {
	// startStray starts h's server as an operator would, behind its
	// keeper's back.
	startStray(t *testing.T, h *netlab.Host)
	// pid is the pid of h's running server, 0 when it does not run.
	pid(t *testing.T, h *netlab.Host) int
}

// managedFailover is the scenario of the docker and systemd tests, with
// the keepers configured to protect srv: a server found running on a node
// that does not hold the lease is stopped when its keeper starts; the
// keeper starts its server on becoming active (and checks it: the driver
// says running, Milvus at 127.0.0.1:19530 in the host's namespace answers
// CheckHealth) and stops it on stepping down (preempted, host loss); the
// server outlives a killed keeper and is stopped by the restarted one.
// After each step every acknowledged write is present.
func (cl *cluster) managedFailover(srv managedServers) {
	t := cl.t
	running := func(h *netlab.Host) int {
		t.Helper()
		var pid int
		waitFor(t, 10*time.Second, h.Name()+"'s server running", func() bool { pid = srv.pid(t, h); return pid != 0 })
		return pid
	}
	stopped := func(h *netlab.Host, pid int) {
		t.Helper()
		waitFor(t, 20*time.Second, h.Name()+"'s server stopped", func() bool { return srv.pid(t, h) == 0 })
		waitGone(t, pid, time.Second)
	}

	// Someone (an operator, a restart policy) started b's server while
	// no keeper ran there; b's keeper stops it before anything else, then,
	// alone, becomes active and starts it again.
	srv.startStray(t, cl.b)
	stray := running(cl.b)
	cl.start(cl.b)
	waitGone(t, stray, 30*time.Second)
	t.Logf("stray server on b (pid %d) stopped by b's keeper at start-up", stray)
	cl.waitActive(cl.b, 30*time.Second)
	sb := running(cl.b)
	cl.serviceCheckOK(cl.b)

	// a, preferred, preempts: b stops its server, a starts its own.
	cl.start(cl.a)
	cl.waitActive(cl.a, 30*time.Second)
	stopped(cl.b, sb)
	sa := running(cl.a)
	cl.serviceCheckOK(cl.a)

	l := cl.startLoad()
	// A load step, with a longer bound on the takeover, and the new
	// owner's own service check passing before the writes are awaited.
	step := func(name string, fault func(), owner *netlab.Host) {
		t.Helper()
		l.step(name, func() {
			fault()
			cl.waitActive(owner, 60*time.Second)
			cl.serviceCheckOK(owner)
		}, owner)
	}

	step("host loss of a", func() { must(t, cl.a.LinkDown()) }, cl.b)
	stopped(cl.a, sa)
	sb = running(cl.b)
	step("a back (failback, preempt)", func() { must(t, cl.a.LinkUp()) }, cl.a)
	stopped(cl.b, sb)
	sa = running(cl.a)

	// kill -9 of a's keeper: unlike an exec child, the server is not the
	// keeper's child and keeps running (here the served store's own lease
	// keeps b's server from writing beside it; a server that does not
	// fence itself needs the watchdog). The restarted keeper finds it
	// running without holding the lease and stops it first.
	must(t, cl.procs[cl.a].Kill())
	time.Sleep(2 * time.Second)
	if !alive(sa) {
		t.Fatalf("a's server (pid %d) ended with its keeper; the restart below would prove nothing", sa)
	}
	step("keeper on a restarted", func() { cl.start(cl.a) }, cl.a)
	waitGone(t, sa, time.Second)

	l.finish()
}

// The docker driver through the keeper (managedFailover), with the
// project's image running `milvus-ha serve` in each lab host's namespace.
func TestDockerFailover(t *testing.T) {
	needDocker(t)
	cl := newCluster(t)
	// The lab's per-run prefix names the images and containers too.
	serviceImage, holdImage := dockerImages(t, cl.lab.Prefix())
	cl.managedFailover(cl.newDockerServers(serviceImage, holdImage))
}
