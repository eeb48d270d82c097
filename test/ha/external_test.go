package ha

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/milvus-io/milvus/client/v2/entity"
	"github.com/milvus-io/milvus/client/v2/index"
	"github.com/milvus-io/milvus/client/v2/milvusclient"

	"github.com/milvus-ha/milvus-ha/internal/netlab"
)

// This file drives keepers whose protected service is external: the exec
// driver runs `milvus-ha serve` as the keeper's child on each host, both
// on one shared directory. The keeper holds its own lease (data_dir); the
// served store keeps its data (and its own lease) in data_dir/db.

// prio is the priority of h in every test pair: a preferred.
func (cl *cluster) prio(h *netlab.Host) int {
	if h == cl.b {
		return 100
	}
	return 150
}

// execConfig writes h's config with the exec driver and returns its path.
// extra is appended verbatim (checks, watchdog).
func (cl *cluster) execConfig(h *netlab.Host, dataDir, extra string) string {
	path := filepath.Join(cl.dir, h.Name()+"-exec.yaml")
	db := filepath.Join(dataDir, "db")
	text := fmt.Sprintf(`node: %s
interface: eth0
vip: %s/24
vrid: 51
priority: %d
advert_interval: %s
data_dir: %s
service:
  exec:
    command: [%q, serve, --data, %q, --node-id, %s, --listen, ":19530", --health-listen, ":9091", --lease-timeout, 500ms, --heartbeat, 100ms]
    address: "127.0.0.1:19530"
api: {listen: "%s"}
%s`, h.Name(), vip, cl.prio(h), advert, dataDir, binary, db, h.Name(), apiAddr, extra)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		cl.t.Fatal(err)
	}
	return path
}

// startConfig starts a keeper on h with the config at conf.
func (cl *cluster) startConfig(h *netlab.Host, conf string) {
	cl.procs[h] = h.StartT(cl.t, "keeper", h.Command(binary, "run", "--config", conf), conf+".log")
}

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

// startWriter runs a writer through c until the test ends.
func startWriter(t *testing.T, c *milvusclient.Client) (*writer, func()) {
	wctx, stop := context.WithCancel(t.Context())
	w := &writer{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); w.run(wctx, c) }()
	done := func() { stop(); wg.Wait() }
	t.Cleanup(done)
	return w, done
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
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if !alive(pid) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("process %d still alive after %v", pid, within)
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
	data := filepath.Join(cl.dir, "data")
	wd := func(h *netlab.Host) string { return filepath.Join(cl.dir, "watchdog-"+h.Name()) }
	for _, h := range []*netlab.Host{cl.a, cl.b} {
		if err := os.WriteFile(wd(h), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	conf := map[*netlab.Host]string{}
	for _, h := range []*netlab.Host{cl.a, cl.b} {
		conf[h] = cl.execConfig(h, data, "watchdog: "+wd(h)+"\n")
	}
	cl.startConfig(cl.a, conf[cl.a])
	cl.waitActive(cl.a, 30*time.Second)
	cl.startConfig(cl.b, conf[cl.b])
	c := cl.client()
	createCollection(t, c)
	w, stopWriter := startWriter(t, c)
	w.waitProgress(t, 20, 20*time.Second)

	// The watchdog is written while a is active; b's is never opened.
	s0 := fileSize(t, wd(cl.a))
	time.Sleep(500 * time.Millisecond)
	if s1 := fileSize(t, wd(cl.a)); s1 <= s0 {
		t.Fatalf("watchdog of the active node not petted: size %d -> %d", s0, s1)
	}
	if s := fileSize(t, wd(cl.b)); s != 0 {
		t.Fatalf("the standby opened its watchdog: %d bytes", s)
	}

	step := func(name string, fault func(), owner *netlab.Host) {
		t.Helper()
		t.Logf("fault: %s", name)
		fault()
		cl.waitActive(owner, 30*time.Second)
		w.waitProgress(t, 20, 30*time.Second)
		acked, fails := w.snapshot()
		t.Logf("after %s: %d acknowledged, %d failed attempts", name, len(acked), fails)
		checkAcked(t, c, acked)
	}

	child := cl.servicePID(cl.a)
	step("host loss of a", func() { must(t, cl.a.LinkDown()) }, cl.b)
	// a stepped down: its service stopped, its watchdog magic-closed.
	waitGone(t, child, 10*time.Second)
	waitFor(t, 10*time.Second, "a's watchdog disarmed", func() bool {
		b, _ := os.ReadFile(wd(cl.a))
		return bytes.HasSuffix(b, []byte("V"))
	})
	step("a back (failback, preempt)", func() { must(t, cl.a.LinkUp()) }, cl.a)

	child = cl.servicePID(cl.a)
	step("keeper on a killed", func() { must(t, cl.procs[cl.a].Kill()) }, cl.b)
	// The exec child dies with its keeper (Pdeathsig), before b can take over.
	waitGone(t, child, 5*time.Second)
	step("keeper on a restarted (failback)", func() { cl.startConfig(cl.a, conf[cl.a]) }, cl.a)

	// A hung keeper: its watchdog is no longer petted. The child is
	// stopped too, standing in for the host reset the real device would
	// cause; b takes over once both leases expire.
	child = cl.servicePID(cl.a)
	keeperA := cl.procs[cl.a].PID()
	step("keeper and service on a hung (SIGSTOP)", func() {
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
	step("a wakes up (failback)", func() {}, cl.a)

	step("planned switchover a -> b", func() { cl.control(cl.a, "switchover") }, cl.b)
	step("resume a (failback)", func() { cl.control(cl.a, "resume") }, cl.a)

	stopWriter()
	acked, fails := w.snapshot()
	t.Logf("total: %d acknowledged, %d failed attempts", len(acked), fails)
	checkAcked(t, c, acked)
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
