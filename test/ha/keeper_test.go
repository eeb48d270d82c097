package ha

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/milvus-io/milvus/client/v2/column"
	"github.com/milvus-io/milvus/client/v2/milvusclient"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/milvus-ha/milvus-ha/internal/netlab"
)

var binary string

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "milvus-ha-ha-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "milvus-ha")
	// Built in the product's own module, not this test module.
	build := exec.Command("go", "build", "-o", binary, "./cmd/milvus-ha")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building milvus-ha: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

const (
	vip     = "198.18.0.100"
	coll    = "ha"
	dim     = 8
	advert  = "100ms"
	apiAddr = "127.0.0.1:9700"
)

// cluster is two keepers (a preferred, b) on one shared directory, and a
// client host that talks to the VIP.
type cluster struct {
	t       *testing.T
	lab     *netlab.Lab
	a, b, c *netlab.Host
	dir     string
	// data is where each keeper (and its server) finds the shared
	// directory: the same path on both, unless a test mounts it per host.
	data  map[*netlab.Host]string
	conf  map[*netlab.Host]string // each keeper's config file, from configure
	procs map[*netlab.Host]*netlab.Process
}

func newCluster(t *testing.T) *cluster {
	lab := netlab.NewT(t, netlab.Options{StopGrace: 5 * time.Second})
	cl := &cluster{
		t: t, lab: lab,
		a:     lab.AddHostT(t, "a", "198.18.0.1/24"),
		b:     lab.AddHostT(t, "b", "198.18.0.2/24"),
		c:     lab.AddHostT(t, "c", "198.18.0.3/24"),
		dir:   t.TempDir(),
		conf:  map[*netlab.Host]string{},
		procs: map[*netlab.Host]*netlab.Process{},
	}
	shared := filepath.Join(cl.dir, "data")
	if err := os.MkdirAll(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	cl.data = map[*netlab.Host]string{cl.a: shared, cl.b: shared}
	return cl
}

// prio is the priority of h in every test pair: a preferred.
func (cl *cluster) prio(h *netlab.Host) int {
	if h == cl.b {
		return 100
	}
	return 150
}

// start starts h's keeper with the config configure wrote.
func (cl *cluster) start(h *netlab.Host) {
	conf := cl.conf[h]
	if conf == "" {
		cl.t.Fatalf("no config for %s's keeper: configure first", h.Name())
	}
	cl.procs[h] = h.StartT(cl.t, "keeper", h.Command(binary, "run", "--config", conf), conf+".log")
}

// startPair starts a's keeper, waits until a is active, then starts b's.
func (cl *cluster) startPair() {
	cl.start(cl.a)
	cl.waitActive(cl.a, 30*time.Second)
	cl.start(cl.b)
}

// nodeStatus is the summary of a keeper's status.
type nodeStatus struct {
	Node    string `json:"node"`
	State   string `json:"state"`
	Active  bool   `json:"active"`
	Role    string `json:"role"`
	Blocked string `json:"blocked"`
	Master  string `json:"master"`
}

// stopping: the node left MASTER but still runs its service (the lease
// goes once the stop is confirmed).
func (st nodeStatus) stopping() bool { return !st.Active && st.Role == "primary" }

// keeperStatus is the part of a keeper's status these tests read.
type keeperStatus struct {
	nodeStatus
	Hold   string `json:"hold"`
	Events []struct {
		Kind   string `json:"kind"`
		Detail string `json:"detail"`
	} `json:"events"`
	Peer struct {
		Ready bool   `json:"ready"`
		Why   string `json:"why"`
	} `json:"peer"`
	Checks []struct {
		Name, State, Detail string
		Running             bool
	} `json:"checks"`
}

// status asks h's keeper for its status through the CLI, inside h.
func (cl *cluster) status(h *netlab.Host) (keeperStatus, error) {
	ctx, cancel := context.WithTimeout(cl.t.Context(), 3*time.Second)
	defer cancel()
	var st keeperStatus
	out, err := h.Run(ctx, binary, "status", "--api", apiAddr)
	if err != nil {
		return st, fmt.Errorf("status of %s: %w: %s", h.Name(), err, out)
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return st, fmt.Errorf("status of %s: %w: %s", h.Name(), err, out)
	}
	return st, nil
}

// keeperStatus is h's keeper's status; the test fails where there is none.
func (cl *cluster) keeperStatus(h *netlab.Host) keeperStatus {
	cl.t.Helper()
	st, err := cl.status(h)
	if err != nil {
		cl.t.Fatal(err)
	}
	return st
}

func (cl *cluster) control(h *netlab.Host, verb string) {
	ctx, cancel := context.WithTimeout(cl.t.Context(), 5*time.Second)
	defer cancel()
	if out, err := h.Run(ctx, binary, verb, "--api", apiAddr); err != nil {
		cl.t.Fatalf("%s on %s: %v: %s", verb, h.Name(), err, out)
	}
}

// waitActive waits until h is the active node and the VIP is on it.
func (cl *cluster) waitActive(h *netlab.Host, within time.Duration) {
	t := cl.t
	t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		st, err := cl.status(h)
		if err == nil && st.Active && st.State == "MASTER" {
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			mac, err := cl.c.WhoHas(ctx, netipMust(vip))
			cancel()
			if err == nil && mac.String() == h.MAC().String() {
				return
			}
		}
		last = fmt.Sprintf("%+v %v", st.nodeStatus, err)
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s not active within %v (last status: %s)", h.Name(), within, last)
}

// client connects to the VIP from the client host. The dialer creates its
// sockets inside the client's namespace; reconnects back off briefly so the
// client follows a failover quickly.
func (cl *cluster) client() *milvusclient.Client {
	t := cl.t
	dial := func(ctx context.Context, addr string) (net.Conn, error) {
		var conn net.Conn
		err := cl.c.Do(func() error {
			var err error
			conn, err = (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
			return err
		})
		return conn, err
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	c, err := milvusclient.New(ctx, &milvusclient.ClientConfig{
		Address: vip + ":19530",
		DialOptions: []grpc.DialOption{
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithContextDialer(dial),
			grpc.WithConnectParams(grpc.ConnectParams{
				Backoff:           backoff.Config{BaseDelay: 20 * time.Millisecond, Multiplier: 1.5, MaxDelay: 200 * time.Millisecond},
				MinConnectTimeout: time.Second,
			}),
		},
	})
	if err != nil {
		t.Fatalf("connecting to the VIP: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// writer inserts rows with increasing keys through the VIP and remembers
// every acknowledged key.
type writer struct {
	mu    sync.Mutex
	acked []int64
	fails int
	next  int64
}

func (w *writer) run(ctx context.Context, c *milvusclient.Client) {
	r := rand.New(rand.NewPCG(1, 2))
	for ctx.Err() == nil {
		w.mu.Lock()
		id := w.next
		w.next++
		w.mu.Unlock()
		vec := make([]float32, dim)
		for i := range vec {
			vec[i] = r.Float32()
		}
		ictx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := c.Insert(ictx, milvusclient.NewColumnBasedInsertOption(coll).
			WithInt64Column("id", []int64{id}).
			WithFloatVectorColumn("vec", dim, [][]float32{vec}))
		cancel()
		w.mu.Lock()
		if err == nil {
			w.acked = append(w.acked, id)
		} else {
			w.fails++
		}
		w.mu.Unlock()
		if err != nil {
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func (w *writer) snapshot() (acked []int64, fails int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]int64(nil), w.acked...), w.fails
}

// waitProgress waits until n more inserts are acknowledged.
func (w *writer) waitProgress(t *testing.T, n int, within time.Duration) {
	t.Helper()
	a0, _ := w.snapshot()
	waitFor(t, within, fmt.Sprintf("%d more acknowledged writes", n), func() bool {
		a, _ := w.snapshot()
		return len(a) >= len(a0)+n
	})
}

// checkAcked asserts every acknowledged key is readable through the VIP.
func checkAcked(t *testing.T, c *milvusclient.Client, acked []int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	have := map[int64]bool{}
	for from := 0; from < len(acked); from += 1000 {
		ids := acked[from:min(from+1000, len(acked))]
		var rs milvusclient.ResultSet
		var err error
		for try := 0; try < 50; try++ {
			rs, err = c.Query(ctx, milvusclient.NewQueryOption(coll).WithIDs(column.NewColumnInt64("id", ids)).WithOutputFields("id"))
			if err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("query acknowledged ids: %v", err)
		}
		col := rs.GetColumn("id")
		for i := 0; i < col.Len(); i++ {
			v, _ := col.GetAsInt64(i)
			have[v] = true
		}
	}
	lost := 0
	for _, id := range acked {
		if !have[id] {
			lost++
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged writes lost", lost, len(acked))
	}
	t.Logf("all %d acknowledged writes present", len(acked))
}

// load is a writer through the VIP, from the client host, into the test
// collection, and the checks that no acknowledged write is lost.
type load struct {
	cl   *cluster
	c    *milvusclient.Client
	w    *writer
	stop func() // stops the writer and waits for it
}

// startLoad connects to the VIP, creates and loads the test collection,
// and writes into it until finish or the end of the test; it returns once
// the first writes are acknowledged.
func (cl *cluster) startLoad() *load {
	t := cl.t
	t.Helper()
	c := cl.client()
	createCollection(t, c)
	wctx, cancel := context.WithCancel(t.Context())
	w := &writer{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); w.run(wctx, c) }()
	stop := func() { cancel(); wg.Wait() }
	t.Cleanup(stop)
	w.waitProgress(t, 20, 20*time.Second)
	return &load{cl: cl, c: c, w: w, stop: stop}
}

// step logs and applies a fault, waits until owner is active and writes
// go on, and checks that every acknowledged write is present.
func (l *load) step(name string, fault func(), owner *netlab.Host) {
	t := l.cl.t
	t.Helper()
	t.Logf("fault: %s", name)
	fault()
	l.cl.waitActive(owner, 30*time.Second)
	l.w.waitProgress(t, 20, 30*time.Second)
	l.check("after " + name)
}

// check asserts that every write acknowledged so far is readable.
func (l *load) check(when string) {
	l.cl.t.Helper()
	acked, fails := l.w.snapshot()
	l.cl.t.Logf("%s: %d acknowledged, %d failed attempts", when, len(acked), fails)
	checkAcked(l.cl.t, l.c, acked)
}

// finish stops the writer and checks every acknowledged write.
func (l *load) finish() {
	l.cl.t.Helper()
	l.stop()
	l.check("total")
}

// One pair, a writer through the VIP, and a sequence of faults: host loss,
// failback, keeper kill -9, a planned switchover, pause/resume, and a cut
// between the two hosts with storage reachable. After each: every
// acknowledged write is present.
func TestKeeperFailover(t *testing.T) {
	cl := newCluster(t)
	cl.configure(cl.embeddedConfig)
	cl.startPair()
	time.Sleep(time.Second) // b opens its warm standby
	l := cl.startLoad()

	l.step("host loss of a", func() { must(t, cl.a.LinkDown()) }, cl.b)
	l.step("a back (failback, preempt)", func() { must(t, cl.a.LinkUp()) }, cl.a)
	l.step("keeper on a killed", func() { must(t, cl.procs[cl.a].Kill()) }, cl.b)
	l.step("keeper on a restarted (failback)", func() { cl.start(cl.a) }, cl.a)
	// As an operator would, once a sees b ready: right after a failback b
	// may still be stepping down, and a switchover then gets a 409.
	l.step("planned switchover a -> b", func() { cl.waitPeerReady(cl.a); cl.control(cl.a, "switchover") }, cl.b)
	l.step("resume a (failback)", func() { cl.control(cl.a, "resume") }, cl.a)

	// Cut between a and b only; storage stays reachable. b must not take
	// over: a's heartbeat still moves on the shared storage.
	t.Log("fault: network cut between a and b")
	must(t, cl.lab.Cut(cl.a, cl.b))
	time.Sleep(3 * time.Second)
	sb := cl.keeperStatus(cl.b)
	if sb.Active {
		t.Fatalf("b became active while a's heartbeat moves: %+v", sb.nodeStatus)
	}
	sa, err := cl.status(cl.a)
	if err != nil || !sa.Active {
		t.Fatalf("a not active during the cut: %+v %v", sa.nodeStatus, err)
	}
	t.Logf("b during the cut: state %s, blocked %q", sb.State, sb.Blocked)
	l.w.waitProgress(t, 20, 10*time.Second)
	must(t, cl.lab.Heal(cl.a, cl.b))

	l.finish()
}

func netipMust(s string) netip.Addr { return netip.MustParseAddr(s) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
