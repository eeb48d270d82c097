package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/netlab"
)

const (
	vip      = "198.18.0.100"
	apiAddr  = "127.0.0.1:9700"
	advert   = 100 * time.Millisecond
	hcPeriod = 100 * time.Millisecond // flapping health check interval
)

// node is one keeper host: its namespace, configuration, process and the
// faults currently applied to it.
type node struct {
	name    string
	h       *netlab.Host
	prio    int
	conf    string
	logPath string
	dataDir string // the path the keeper uses (a FUSE mount with -chaos.storage)
	hcFile  string // the health check fails while this file exists
	fs      *faultFS

	mu       sync.Mutex
	proc     *netlab.Process
	frozen   bool // SIGSTOPped by the suite
	starts   int
	crashes  []string // exits the suite did not cause
	slowStop []string // SIGTERM did not end the keeper in time
	// storageExits are clean error exits (status 1) shortly after an
	// injected storage fault: the keeper refuses to start on failing
	// storage, and a supervisor restarts it (as the suite does).
	storageExits []string
	// down holds the times the keeper could not act on its own: frozen
	// or killed and not yet restarted (it cannot remove the VIP then).
	down     []interval
	downFrom time.Duration // start of the current down interval, -1 if up
	logFiles []*os.File
}

// cluster is two keepers (a preferred, b) on one shared directory and a
// client host that talks to the VIP.
type cluster struct {
	t      *testing.T
	lab    *netlab.Lab
	nodes  []*node
	client *netlab.Host
	dir    string // run directory: configs, logs
	shared string // the shared data directory (the real one)
	start  time.Time
	// closing is set by the signal handler's teardown: no keeper starts.
	closing atomic.Bool
}

func newCluster(t *testing.T, dir string, storage bool) *cluster {
	cl := &cluster{
		t: t, dir: dir,
		shared: filepath.Join(dir, "shared"),
		start:  time.Now(),
	}
	// Registered before the lab's Close (NewT): runs after it, so a signal
	// during the test's own cleanup still finds everything (handleSignals).
	t.Cleanup(func() { unregisterCluster(cl) })
	lab := netlab.NewT(t, netlab.Options{StopGrace: 5 * time.Second})
	cl.lab = lab
	if err := os.MkdirAll(cl.shared, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"a", "b"} {
		n := &node{
			name:     name,
			h:        lab.AddHostT(t, name, fmt.Sprintf("198.18.0.%d/24", i+1)),
			prio:     150 - 50*i,
			logPath:  filepath.Join(dir, name+".log"),
			hcFile:   filepath.Join(dir, "unhealthy-"+name),
			dataDir:  cl.shared,
			downFrom: 0, // not started yet
		}
		if storage {
			fs, err := mountFaultFS(cl.shared, filepath.Join(dir, "mnt-"+name))
			if err != nil {
				t.Fatalf("storage layer for %s: %v", name, err)
			}
			n.fs = fs
			n.dataDir = fs.mountpoint
			t.Cleanup(func() {
				start := time.Now()
				if err := fs.unmount(); err != nil {
					t.Errorf("unmounting %s: %v", fs.mountpoint, err)
				}
				t.Logf("unmounted %s in %v", fs.mountpoint, time.Since(start))
			})
		}
		n.conf = cl.writeConfig(n)
		cl.nodes = append(cl.nodes, n)
	}
	cl.client = lab.AddHostT(t, "client", "198.18.0.3/24")
	// Complete now: the signal handler may tear it down (the mounts are
	// registered on their own).
	if err := registerCluster(cl); err != nil {
		t.Fatal(err)
	}
	// Registered after the mounts: runs before them, so the keepers are
	// gone before their storage is unmounted.
	t.Cleanup(cl.stopAll)
	return cl
}

func (cl *cluster) node(name string) *node {
	for _, n := range cl.nodes {
		if n.name == name {
			return n
		}
	}
	panic("no node " + name)
}

func (cl *cluster) other(n *node) *node {
	if n == cl.nodes[0] {
		return cl.nodes[1]
	}
	return cl.nodes[0]
}

// since is the run clock: every recorded time is relative to the start.
func (cl *cluster) since() time.Duration { return time.Since(cl.start) }

func (cl *cluster) writeConfig(n *node) string {
	path := filepath.Join(cl.dir, n.name+".yaml")
	text := fmt.Sprintf(`node: %s
interface: eth0
vip: %s/24
vrid: 51
priority: %d
advert_interval: %s
preempt: true
data_dir: %s
service:
  embedded: {listen: ":19530", health_listen: ":9091"}
checks:
  - {name: flap, script: "/usr/bin/test ! -e %s", interval: %s, timeout: 1s, fall: 1, rise: 1, weight: 0}
api: {listen: "%s"}
`, n.name, vip, n.prio, advert, n.dataDir, n.hcFile, hcPeriod, apiAddr)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		cl.t.Fatal(err)
	}
	return path
}

// startNode starts n's keeper unless it runs. Exits the suite did not ask
// for are recorded as crashes.
func (cl *cluster) startNode(n *node) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc != nil {
		return nil
	}
	if cl.closing.Load() {
		return errShuttingDown
	}
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(logf, "### chaos: start #%d at %v\n", n.starts+1, cl.since())
	cmd := n.h.Command(binary, "run", "--config", n.conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	p, err := n.h.Start(cmd)
	if err != nil {
		logf.Close()
		return err
	}
	if n.frozen || n.downFrom >= 0 {
		n.down = append(n.down, interval{n.downFrom, cl.since()})
	}
	n.proc, n.frozen, n.downFrom = p, false, -1
	n.starts++
	n.logFiles = append(n.logFiles, logf)
	go func() {
		<-p.Done()
		err := p.Wait()
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.proc == p {
			// Not killed or stopped by the suite.
			n.proc = nil
			now := cl.since()
			if n.downFrom < 0 {
				n.downFrom = now
			}
			msg := fmt.Sprintf("%s: keeper exited on its own at %v: %v", n.name, now.Round(time.Millisecond), err)
			var ee *exec.ExitError
			if errors.As(err, &ee) && ee.ExitCode() == 1 && n.fs != nil && n.fs.faultedWithin(2*time.Second) {
				n.storageExits = append(n.storageExits, msg+lastLine(n.logPath))
			} else {
				n.crashes = append(n.crashes, msg+lastLine(n.logPath))
			}
		}
	}()
	return nil
}

// killNode SIGKILLs n's keeper (a crash); a no-op if it is not running.
func (cl *cluster) killNode(n *node) {
	n.mu.Lock()
	p := n.proc
	if p != nil && n.downFrom < 0 {
		n.downFrom = cl.since()
	}
	n.proc, n.frozen = nil, false
	n.mu.Unlock()
	if p != nil {
		_ = p.Kill()
	}
}

// freeze and thaw SIGSTOP / SIGCONT n's keeper.
func (cl *cluster) freeze(n *node) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil || n.frozen {
		return false
	}
	if err := n.proc.Signal(syscall.SIGSTOP); err != nil {
		return false
	}
	n.frozen = true
	n.downFrom = cl.since()
	return true
}

func (cl *cluster) thaw(n *node) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc != nil && n.frozen {
		_ = n.proc.Signal(syscall.SIGCONT)
		n.down = append(n.down, interval{n.downFrom, cl.since()})
		n.downFrom = -1
	}
	n.frozen = false
}

// downIntervals returns when n's keeper was frozen or dead.
func (n *node) downIntervals(now time.Duration) []interval {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := append([]interval(nil), n.down...)
	if n.downFrom >= 0 {
		out = append(out, interval{n.downFrom, now})
	}
	return out
}

// stopAll stops both keepers at once: SIGCONT (a stopped process ignores
// SIGTERM), SIGTERM, and if a keeper has not exited within stopGrace,
// SIGQUIT (the Go runtime writes every goroutine's stack to its log) and
// then SIGKILL. Slow shutdowns are recorded.
func (cl *cluster) stopAll() {
	var wg sync.WaitGroup
	for _, n := range cl.nodes {
		cl.thaw(n)
		n.mu.Lock()
		p := n.proc
		n.proc = nil
		n.mu.Unlock()
		if p == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = p.Signal(syscall.SIGTERM)
			select {
			case <-p.Done():
				return
			case <-time.After(stopGrace):
			}
			_ = p.Signal(syscall.SIGQUIT)
			select {
			case <-p.Done():
			case <-time.After(2 * time.Second):
				_ = p.Kill()
			}
			n.mu.Lock()
			n.slowStop = append(n.slowStop, fmt.Sprintf("%s: keeper still running %v after SIGTERM (goroutine dump in %s)", n.name, stopGrace, n.logPath))
			n.mu.Unlock()
		}()
	}
	wg.Wait()
	for _, n := range cl.nodes {
		n.mu.Lock()
		for _, f := range n.logFiles {
			f.Close()
		}
		n.logFiles = nil
		n.mu.Unlock()
	}
}

// stopGrace is how long a keeper may take to step down and exit.
const stopGrace = 5 * time.Second

type nodeStatus struct {
	Node    string `json:"node"`
	State   string `json:"state"`
	Active  bool   `json:"active"`
	Role    string `json:"role"`
	Blocked string `json:"blocked"`
}

// status asks n's keeper for its status through the CLI, inside n's host.
func (cl *cluster) status(ctx context.Context, n *node) (nodeStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	out, err := n.h.Run(ctx, binary, "status", "--api", apiAddr)
	var st nodeStatus
	if err != nil {
		return st, fmt.Errorf("%v: %s", err, bytes.TrimSpace(out))
	}
	return st, json.Unmarshal(out, &st)
}

// control runs `milvus-ha <verb>` against n's keeper.
func (cl *cluster) control(ctx context.Context, n *node, verb string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := n.h.Run(ctx, binary, verb, "--api", apiAddr)
	if err != nil {
		return fmt.Errorf("%s on %s: %v: %s", verb, n.name, err, bytes.TrimSpace(out))
	}
	return nil
}

// setHealthy makes n's flap check pass or fail.
func (n *node) setHealthy(ok bool) {
	if ok {
		_ = os.Remove(n.hcFile)
		return
	}
	_ = os.WriteFile(n.hcFile, nil, 0o644)
}

// lastLine returns ": <last line of the log>" (the keeper's final error).
func lastLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return ": " + string(lines[len(lines)-1])
}

// exitsUnderStorageFaults returns the clean exits after storage faults.
func (cl *cluster) exitsUnderStorageFaults() []string {
	var out []string
	for _, n := range cl.nodes {
		n.mu.Lock()
		out = append(out, n.storageExits...)
		n.mu.Unlock()
	}
	return out
}

// crashed returns the exits nobody injected.
func (cl *cluster) crashed() []string {
	var out []string
	for _, n := range cl.nodes {
		n.mu.Lock()
		out = append(out, n.crashes...)
		n.mu.Unlock()
	}
	return out
}

var panicLine = regexp.MustCompile(`(?m)^(panic: |fatal error: |WARNING: DATA RACE|SIGSEGV)`)

// logProblems scans the keeper logs for panics and runtime crashes.
func (cl *cluster) logProblems() []string {
	var out []string
	for _, n := range cl.nodes {
		b, err := os.ReadFile(n.logPath)
		if err != nil {
			out = append(out, fmt.Sprintf("%s: reading log: %v", n.name, err))
			continue
		}
		for _, loc := range panicLine.FindAllIndex(b, -1) {
			end := min(loc[0]+400, len(b))
			out = append(out, fmt.Sprintf("%s log: %s", n.name, b[loc[0]:end]))
		}
	}
	return out
}
