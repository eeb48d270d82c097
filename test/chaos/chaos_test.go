package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestChaos runs the fault-injection suite: two keepers on shared storage,
// SDK clients through the VIP, -chaos.faults randomized faults in cycles
// of one to three, then the checks (no acknowledged write lost, porcupine
// on the key -> value history, never two writers on disk, the VIP on one
// host at a time, no crash nobody injected).
func TestChaos(t *testing.T) {
	seed := *flagSeed
	if seed == 0 {
		seed = time.Now().UnixNano() % 1e9
	}
	t.Logf("chaos seed %d (replay with -chaos.seed=%d)", seed, seed)
	storage := *flagStorage
	if storage {
		if _, err := os.Stat("/dev/fuse"); err != nil {
			t.Logf("storage faults off: /dev/fuse: %v", err)
			storage = false
		}
	}
	dir := t.TempDir()
	if *flagKeep {
		var err error
		if dir, err = os.MkdirTemp("", "milvus-ha-chaos-run"); err != nil {
			t.Fatal(err)
		}
		t.Logf("run directory kept: %s", dir)
	}
	cl := newCluster(t, dir, storage)
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range cl.nodes {
				t.Logf("keeper log of %s: %s", n.name, n.logPath)
			}
		}
	})
	ctx := t.Context()
	a, b := cl.nodes[0], cl.nodes[1]
	must(t, cl.startNode(a))
	waitActive(t, cl, a, 60*time.Second)
	t.Logf("%v: a active", cl.since().Round(time.Millisecond))
	must(t, cl.startNode(b))

	// The VIP sampler, then the clients.
	vs := newVIPSampler(cl.since, cl.nodes)
	sctx, stopSampler := context.WithCancel(ctx)
	var bg sync.WaitGroup
	bg.Add(1)
	go func() {
		defer bg.Done()
		if err := vs.run(sctx); err != nil {
			t.Error(err)
		}
	}()
	defer func() { stopSampler(); bg.Wait() }()

	setup, err := newClient(ctx, cl.client)
	must(t, err)
	defer setup.Close(context.Background())
	must(t, createCollection(ctx, setup))
	t.Logf("%v: collection ready", cl.since().Round(time.Millisecond))

	rnd := rand.New(rand.NewPCG(uint64(seed), 0))
	salt := fmt.Sprintf("v%06d", rnd.IntN(1e6))
	hist := &history{}
	var setID atomic.Int64
	wctx, stopClients := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := 0; i < *flagClients; i++ {
		c, err := newClient(ctx, cl.client)
		must(t, err)
		defer c.Close(context.Background())
		w := &client{id: i, c: c, rnd: rand.New(rand.NewPCG(uint64(seed), uint64(i+1))), keys: *flagKeys,
			salt: salt, since: cl.since, hist: hist, setID: &setID}
		wg.Add(1)
		go func() { defer wg.Done(); w.run(wctx) }()
	}
	stopped := false
	stopAllClients := func() {
		if !stopped {
			stopped = true
			stopClients()
			wg.Wait()
		}
	}
	defer stopAllClients()
	waitWrites(t, hist, cl.since(), 60*time.Second)
	t.Logf("%v: clients writing", cl.since().Round(time.Millisecond))

	// The fault loop.
	inj := &injector{cl: cl, vip: vs, hist: hist}
	kinds := allKinds(storage)
	rep := &runReport{Seed: seed, Clients: *flagClients, Storage: storage, VIPWindow: *flagWindow}
	injected := 0
	// A run that would outlive the test's -timeout stops injecting early, so
	// that the checkers still run and the report is written.
	stopBy, bounded := t.Deadline()
	stopBy = stopBy.Add(-5 * time.Minute)
	for cycleNo := 1; injected < *flagFaults && ctx.Err() == nil; cycleNo++ {
		if bounded && time.Now().After(stopBy) {
			t.Logf("stopping after %d faults: the test deadline is near (run longer with a larger -timeout, or -timeout 0)", injected)
			break
		}
		faults := planCycle(rnd, kinds, cycleNo)
		settle := time.Duration(100+rnd.IntN(400)) * time.Millisecond
		c := &cycle{Faults: faults, Start: cl.since()}
		var fw sync.WaitGroup
		for _, f := range faults {
			fw.Add(1)
			go func() { defer fw.Done(); inj.run(ctx, f) }()
		}
		fw.Wait()
		for _, e := range inj.healAll() {
			t.Logf("cycle %d: heal: %s", cycleNo, e)
		}
		c.Healed = cl.since()
		injected += len(faults)
		rep.Cycles = append(rep.Cycles, c)
		if d, ok := waitRecovery(hist, c.Healed, 60*time.Second); ok {
			c.Recovered = d
		} else {
			msg := fmt.Sprintf("cycle %d (%s): no acknowledged write within 60 s of healing", cycleNo, describe(faults))
			rep.Stuck = append(rep.Stuck, msg)
			t.Error(msg)
			break
		}
		if cycleNo%10 == 0 {
			t.Logf("%d faults injected in %d cycles, %v", injected, cycleNo, cl.since().Round(time.Second))
		}
		time.Sleep(settle)
	}
	// Let the clients run a moment on the healed pair, then stop them.
	time.Sleep(time.Second)
	stopAllClients()
	inj.bg.Wait() // reads sent to a frozen primary
	rep.Duration = cl.since()
	rep.Direct = [3]int64{inj.direct.answered.Load(), inj.direct.refused.Load(), inj.direct.cut.Load()}
	t.Logf("%v: clients stopped", cl.since().Round(time.Millisecond))

	// Final reads of every key, through the VIP, as history operations.
	final, err := newClient(ctx, cl.client)
	must(t, err)
	defer final.Close(context.Background())
	ops := hist.snapshot()
	keys := finalKeys(ops, *flagKeys)
	fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	call := cl.since()
	vals, err := readAll(fctx, final, keys)
	cancel()
	if err != nil {
		t.Fatalf("final read: %v", err)
	}
	ret := cl.since()
	for _, k := range keys {
		ops = append(ops, op{Client: 999, Kind: opGet, Key: k, Value: vals[k], Call: call, Return: ret, Outcome: ok, Final: true})
	}
	stopSampler()
	bg.Wait()
	cl.stopAll()
	rep.Ops = ops
	t.Logf("%v: final reads done, keepers stopped", cl.since().Round(time.Millisecond))

	// Checks.
	rep.Lost, rep.Unexpected = setCheck(ops, vals)
	rep.Lin = checkLinearizable(ops, 30*time.Second, dir)
	t.Logf("%v: porcupine done", cl.since().Round(time.Millisecond))
	var logs []string
	for _, n := range cl.nodes {
		logs = append(logs, n.logPath)
	}
	tw, err := checkTwoWriters(cl.shared, logs, cl.start, ops, salt, len(salt)+len("-00-000000000"))
	if err != nil {
		t.Errorf("two-writer check: %v", err)
	}
	rep.TW = tw
	vipCheck(rep, vs, cl, ret)
	if n, errs, last := vs.health(); errs > 0 || n == 0 {
		t.Errorf("VIP sampler: %d rounds, %d failed reads (last: %v)", n, errs, last)
	} else {
		t.Logf("VIP sampler: %d rounds (one per %v)", n, (rep.Duration / time.Duration(n)).Round(time.Millisecond))
	}
	rep.Crashes = append(cl.crashed(), cl.logProblems()...)
	rep.StorageExits = cl.exitsUnderStorageFaults()
	unavailability(ops, rep.Cycles)
	t.Logf("%v: checks done", cl.since().Round(time.Millisecond))

	md := rep.markdown()
	t.Log("\n" + md)
	if *flagReport != "" {
		if err := rep.write(*flagReport); err != nil {
			t.Error(err)
		}
	} else if err := rep.write(filepath.Join(dir, "report.md")); err != nil {
		t.Error(err)
	}
	if len(rep.Lost) > 0 {
		t.Errorf("%d acknowledged writes lost", len(rep.Lost))
	}
	if len(rep.Unexpected) > 0 {
		t.Errorf("%d values nobody wrote", len(rep.Unexpected))
	}
	if len(rep.Lin.Violations) > 0 {
		t.Errorf("porcupine: %d keys not linearizable: %v (%s)", len(rep.Lin.Violations), rep.Lin.Violations, rep.Lin.Visual)
	}
	if len(rep.TW.Intervals) > 0 || len(rep.TW.Problems) > 0 {
		t.Errorf("two writers: %d intervals, problems: %v", len(rep.TW.Intervals), rep.TW.Problems)
	}
	if rep.VIPOver > 0 {
		t.Errorf("VIP held by both hosts, both keepers running, for up to %v (%d times over %v)", rep.VIPMax, rep.VIPOver, rep.VIPWindow)
	}
	if len(rep.Crashes) > 0 {
		t.Errorf("keeper crashes nobody injected: %v", rep.Crashes)
	}
	if injected < *flagFaults {
		t.Errorf("only %d of %d faults injected", injected, *flagFaults)
	}
}

func describe(fs []*fault) string {
	s := ""
	for i, f := range fs {
		if i > 0 {
			s += " + "
		}
		s += fmt.Sprintf("%s(%s)", f.Kind, f.Host)
	}
	return s
}

// finalKeys is every key of the key -> value workload and every set key
// anyone tried to insert.
func finalKeys(ops []op, kv int) []int64 {
	keys := make([]int64, 0, kv)
	for k := 0; k < kv; k++ {
		keys = append(keys, int64(k))
	}
	seen := map[int64]bool{}
	for _, o := range ops {
		if o.Key >= setBase && !seen[o.Key] {
			seen[o.Key] = true
			keys = append(keys, o.Key)
		}
	}
	return keys
}

// setCheck: every acknowledged insert of the set workload (each key
// written once, never deleted) is present at the end with its value, and
// no key holds a value nobody tried to write.
func setCheck(ops []op, final map[int64]string) (lost, unexpected []string) {
	written := map[string]bool{}
	for _, o := range ops {
		if o.Kind == opInsert || o.Kind == opUpsert {
			written[o.Value] = true
		}
	}
	for _, o := range ops {
		if o.Key >= setBase && o.Kind == opInsert && o.Outcome == ok && final[o.Key] != o.Value {
			lost = append(lost, fmt.Sprintf("key %d value %s acknowledged at %v, final value %q", o.Key, o.Value, o.Return, final[o.Key]))
		}
	}
	var keys []int64
	for k := range final {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	for _, k := range keys {
		if v := final[k]; v != "" && !written[v] {
			unexpected = append(unexpected, fmt.Sprintf("key %d holds %q", k, v))
		}
	}
	return lost, unexpected
}

// vipCheck measures when both hosts held the VIP. Overlap while one
// keeper was frozen or dead (plus the window after it came back) is
// reported apart: a stopped process cannot remove an address.
func vipCheck(rep *runReport, vs *vipSampler, cl *cluster, end time.Duration) {
	a, b := cl.nodes[0], cl.nodes[1]
	both := intersect(vs.held(a.name, end), vs.held(b.name, end))
	var excuse []interval
	for _, n := range cl.nodes {
		for _, d := range n.downIntervals(end) {
			excuse = append(excuse, interval{d.From, d.To + rep.VIPWindow})
		}
	}
	sort.Slice(excuse, func(i, j int) bool { return excuse[i].From < excuse[j].From })
	for _, iv := range both {
		rep.VIPFrozen = max(rep.VIPFrozen, iv.len())
	}
	for _, iv := range subtract(both, excuse) {
		rep.VIPMax = max(rep.VIPMax, iv.len())
		if iv.len() > rep.VIPWindow {
			rep.VIPOver++
			rep.VIPIntervals = append(rep.VIPIntervals, fmt.Sprintf("both hosts held the VIP from %v to %v (%v)",
				iv.From.Round(time.Millisecond), iv.To.Round(time.Millisecond), iv.len().Round(time.Millisecond)))
		}
	}
}

// waitActive waits until n reports itself active.
func waitActive(t *testing.T, cl *cluster, n *node, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		st, err := cl.status(t.Context(), n)
		if err == nil && st.Active {
			return
		}
		last = fmt.Sprintf("%+v %v", st, err)
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s not active within %v (last status: %s)", n.name, within, last)
}

// waitWrites waits for the first acknowledged write called after from.
func waitWrites(t *testing.T, h *history, from time.Duration, within time.Duration) {
	t.Helper()
	if _, ok := waitRecovery(h, from, within); !ok {
		t.Fatalf("no acknowledged write within %v", within)
	}
}

// waitRecovery waits until a write called after from was acknowledged.
func waitRecovery(h *history, from time.Duration, within time.Duration) (time.Duration, bool) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if c := time.Duration(h.lastWrite.Load()); c > from {
			return c, true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0, false
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
