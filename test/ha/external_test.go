package ha

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/milvus-io/milvus/client/v2/entity"
	"github.com/milvus-io/milvus/client/v2/index"
	"github.com/milvus-io/milvus/client/v2/milvusclient"

	"github.com/milvus-ha/milvus-ha/internal/netlab"
)

// This file drives keepers whose protected service is external: the exec
// driver runs `milvus-ha serve` as the keeper's child on each host
// (execConfig), both on one shared directory.

// createCollection makes the test collection through c and loads it.
func createCollection(t *testing.T, c *milvusclient.Client) {
	t.Helper()
	ctx := t.Context()
	schema := entity.NewSchema().WithName(coll).
		WithField(entity.NewField().WithName("id").WithDataType(entity.FieldTypeInt64).WithIsPrimaryKey(true)).
		WithField(entity.NewField().WithName("vec").WithDataType(entity.FieldTypeFloatVector).WithDim(dim))
	if err := c.CreateCollection(ctx, milvusclient.NewCreateCollectionOption(coll, schema)); err != nil {
		t.Fatalf("create collection: %v", err)
	}
	it, err := c.CreateIndex(ctx, milvusclient.NewCreateIndexOption(coll, "vec", index.NewAutoIndex(entity.L2)))
	if err != nil {
		t.Fatalf("create index: %v", err)
	}
	if err := it.Await(ctx); err != nil {
		t.Fatalf("index: %v", err)
	}
	lt, err := c.LoadCollection(ctx, milvusclient.NewLoadCollectionOption(coll))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if err := lt.Await(ctx); err != nil {
		t.Fatalf("load: %v", err)
	}
}

// children lists the child PIDs of pid (all threads).
func children(pid int) []int {
	var out []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, s := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(s); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// servicePID is the pid of the keeper's exec child on h.
func (cl *cluster) servicePID(h *netlab.Host) int {
	cl.t.Helper()
	for range 50 {
		if c := children(cl.procs[h].PID()); len(c) == 1 {
			return c[0]
		}
		time.Sleep(100 * time.Millisecond)
	}
	cl.t.Fatalf("no single service child under the keeper on %s: %v", h.Name(), children(cl.procs[h].PID()))
	return 0
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// A zombie has exited; it cannot write any more.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}

func waitGone(t *testing.T, pid int, within time.Duration) {
	t.Helper()
	waitFor(t, within, fmt.Sprintf("process %d gone", pid), func() bool { return !alive(pid) })
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// The exec driver: `milvus-ha serve` as the protected child on both hosts.
// Host loss, failback, keeper kill -9 (the child dies with it), a hung
// keeper (SIGSTOP: the watchdog file stops being written), switchover and
// resume; after each, every acknowledged write is present.
func TestExecFailover(t *testing.T) {
	cl := newCluster(t)
	wd := func(h *netlab.Host) string { return filepath.Join(cl.dir, "watchdog-"+h.Name()) }
	for _, h := range []*netlab.Host{cl.a, cl.b} {
		if err := os.WriteFile(wd(h), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cl.configure(func(h *netlab.Host) keeperConfig {
		k := cl.execConfig(h)
		k.extra = "watchdog: " + wd(h) + "\n"
		return k
	})
	cl.startPair()
	l := cl.startLoad()

	// The watchdog is written while a is active; b's is never opened.
	s0 := fileSize(t, wd(cl.a))
	time.Sleep(500 * time.Millisecond)
	if s1 := fileSize(t, wd(cl.a)); s1 <= s0 {
		t.Fatalf("watchdog of the active node not petted: size %d -> %d", s0, s1)
	}
	if s := fileSize(t, wd(cl.b)); s != 0 {
		t.Fatalf("the standby opened its watchdog: %d bytes", s)
	}

	child := cl.servicePID(cl.a)
	l.step("host loss of a", func() { must(t, cl.a.LinkDown()) }, cl.b)
	// a stepped down: its service stopped, its watchdog magic-closed.
	waitGone(t, child, 10*time.Second)
	waitFor(t, 10*time.Second, "a's watchdog disarmed", func() bool {
		b, _ := os.ReadFile(wd(cl.a))
		return bytes.HasSuffix(b, []byte("V"))
	})
	l.step("a back (failback, preempt)", func() { must(t, cl.a.LinkUp()) }, cl.a)

	child = cl.servicePID(cl.a)
	l.step("keeper on a killed", func() { must(t, cl.procs[cl.a].Kill()) }, cl.b)
	// The exec child dies with its keeper (Pdeathsig), before b can take over.
	waitGone(t, child, 5*time.Second)
	l.step("keeper on a restarted (failback)", func() { cl.start(cl.a) }, cl.a)

	// A hung keeper: its watchdog is no longer petted. The child is
	// stopped too, standing in for the host reset the real device would
	// cause; b takes over once both leases expire.
	child = cl.servicePID(cl.a)
	keeperA := cl.procs[cl.a].PID()
	l.step("keeper and service on a hung (SIGSTOP)", func() {
		must(t, syscall.Kill(keeperA, syscall.SIGSTOP))
		must(t, syscall.Kill(child, syscall.SIGSTOP))
	}, cl.b)
	h0 := fileSize(t, wd(cl.a))
	time.Sleep(time.Second)
	if h1 := fileSize(t, wd(cl.a)); h1 != h0 {
		t.Fatalf("watchdog written while the keeper was stopped: %d -> %d", h0, h1)
	}
	must(t, syscall.Kill(child, syscall.SIGCONT))
	must(t, syscall.Kill(keeperA, syscall.SIGCONT))
	// On waking a finds its lease gone: it kills the service and steps
	// down, disarming the watchdog; then, preferred, it takes over again
	// once b handed over cleanly.
	waitGone(t, child, 10*time.Second)
	waitFor(t, 10*time.Second, "a's watchdog disarmed after the pause", func() bool {
		b, _ := os.ReadFile(wd(cl.a))
		return len(b) > int(h0) && bytes.Contains(b[h0:], []byte("V"))
	})
	l.step("a wakes up (failback)", func() {}, cl.a)

	// As an operator would, once a sees b ready: right after a failback b
	// may still be stepping down, and a switchover then gets a 409.
	l.step("planned switchover a -> b", func() { cl.waitPeerReady(cl.a); cl.control(cl.a, "switchover") }, cl.b)
	l.step("resume a (failback)", func() { cl.control(cl.a, "resume") }, cl.a)

	l.finish()
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v", what, within)
}
