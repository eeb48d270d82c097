package failbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/netlab"
)

// Run measures every scenario on a milvus-ha pair and, when keepalived is
// installed, the recipe's baseline, and writes the table to w. Repetitions
// alternate between the two rigs so that load changes on the machine hit
// both alike; P4 runs last, on the milvus-ha pair alone.
func Run(ctx context.Context, o Options, w io.Writer) (*Report, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("failbench: needs root (network namespaces)")
	}
	rep := &Report{Reps: o.Reps, Interval: o.Interval}
	switch o.Keepalived {
	case "none":
		rep.Notes = append(rep.Notes, "recipe baseline disabled (--keepalived none)")
	case "":
		if path, err := exec.LookPath("keepalived"); err != nil {
			rep.Notes = append(rep.Notes, "recipe baseline skipped: keepalived not installed")
			o.Keepalived = "none"
		} else {
			o.Keepalived = path
		}
	}
	if removed, err := netlab.Sweep(); err != nil {
		o.Logger.Warn("sweeping old labs", "err", err)
	} else if len(removed) > 0 {
		o.Logger.Info("swept labs of dead runs", "namespaces", removed)
	}

	var (
		pr, px *pair
		err    error
	)
	if o.runs(HostLoss) || o.runs(PowerLoss) || o.runs(KeeperCrash) || o.runs(Switchover) || o.Rows > 0 {
		o.Logger.Info("starting the milvus-ha pair")
		if pr, err = newPair(ctx, &o, false); err != nil {
			return nil, fmt.Errorf("failbench: milvus-ha pair: %w", err)
		}
		pr.keep = o.Keep
		defer pr.close()
	}
	if o.runs(ServiceCrash) {
		o.Logger.Info("starting the milvus-ha pair with the exec driver")
		if px, err = newPair(ctx, &o, true); err != nil {
			return nil, fmt.Errorf("failbench: milvus-ha exec pair: %w", err)
		}
		px.keep = o.Keep
		if o.Keep {
			rep.Notes = append(rep.Notes, "exec pair logs kept in "+px.dir)
		}
		defer px.close()
	}
	var rc *recipeRig
	if o.Keepalived != "none" && (o.runs(HostLoss) || o.runs(PowerLoss) || o.runs(ServiceCrash)) {
		o.Logger.Info("starting the recipe pair")
		if rc, err = newRecipe(ctx, &o); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			o.Logger.Error("recipe pair did not come up", "err", err)
			rep.Notes = append(rep.Notes, "recipe baseline failed to start: "+err.Error())
		} else {
			if rc.keep = o.Keep; o.Keep {
				rep.Notes = append(rep.Notes, "recipe logs kept in "+rc.dir)
			}
			defer func() {
				if rc != nil {
					rc.close()
				}
			}()
		}
	}

	m := &meter{o: &o, rep: rep, nextID: 1}
	for i := 1; i <= o.Reps; i++ {
		if pr != nil {
			if err := m.pairRep(ctx, pr, i); err != nil {
				pr.keep = true
				return nil, fmt.Errorf("%w (keeper logs in %s)", err, pr.dir)
			}
		}
		if px != nil {
			if err := m.execRep(ctx, px, i); err != nil {
				px.keep = true
				return nil, fmt.Errorf("%w (keeper logs in %s)", err, px.dir)
			}
		}
		if rc != nil {
			if err := m.recipeRep(ctx, rc, i); err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				o.Logger.Error("recipe pair broken; no more recipe samples", "err", err, "logs", rc.dir)
				rep.Notes = append(rep.Notes, fmt.Sprintf("recipe pair broken after repetition %d: %v (logs in %s)", i, err, rc.dir))
				rc.keep = true
				rc.close()
				rc = nil
			}
		}
	}
	if rc != nil {
		if o.runs(HostLoss) {
			if err := m.recipeLinkDown(ctx, rc); err != nil && ctx.Err() != nil {
				return nil, ctx.Err()
			}
		}
		rc.close()
		rc = nil
	}
	if px != nil {
		px.close()
	}
	if o.Rows > 0 {
		if err := m.p4(ctx, pr); err != nil {
			pr.keep = true
			return nil, fmt.Errorf("%w (keeper logs in %s)", err, pr.dir)
		}
	}
	if pr != nil {
		if err := m.finalCount(ctx, pr); err != nil {
			return nil, err
		}
		if pr.keep {
			rep.Notes = append(rep.Notes, "keeper logs kept in "+pr.dir)
		}
	}
	rep.Gap = Percentile(m.gaps, 0.5)
	return rep, rep.Write(w)
}

// meter runs the measurements and files them in the report.
type meter struct {
	o      *Options
	rep    *Report
	gaps   []time.Duration
	nextID int64 // primary keys stay unique across workloads
	calls  int64
	acked  int64
}

// outcome is one measured event.
type outcome struct {
	t0, end   time.Time
	outage    time.Duration
	recovered time.Time
	failed    int
	vipAt     time.Time
	stalls    int // gaps between successes above stallGap
}

// startWorkload starts the retrying client against a rig and waits until it
// is served steadily.
func (m *meter) startWorkload(ctx context.Context, c *client) (*workload, error) {
	w := startWorkload(c, workloadColl, workloadDim, m.o.Interval, m.o.CallTimeout, m.nextID, m.o.Logger)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := w.waitSuccesses(wctx, time.Now(), 50); err != nil {
		m.stopWorkload(w)
		return nil, err
	}
	return w, nil
}

func (m *meter) stopWorkload(w *workload) (calls, acked int64) {
	w.stop()
	calls, acked, _ = w.stats()
	m.nextID += calls + 1
	return calls, acked
}

// event injects one fault and measures the client's unavailability. to is
// the host that should serve afterwards; up waits until it does.
func (m *meter) event(ctx context.Context, rl *rigLab, w *workload, to *netlab.Host,
	fault func() error, up func(context.Context) error, limit time.Duration) (outcome, error) {
	var oc outcome
	// Steady before the fault, at a random phase of the advert cycle.
	if err := w.waitSuccesses(ctx, time.Now(), 20); err != nil {
		return oc, err
	}
	if err := sleep(ctx, rand.N(advert)); err != nil {
		return oc, err
	}
	if held, err := rl.holds(to); err != nil || held {
		return oc, fmt.Errorf("%s held the VIP before the fault (%v): rig not in its starting state", to.Name(), err)
	}
	wctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	vctx, stopWatch := context.WithCancel(wctx)
	vipAt := rl.watchVIP(vctx, to)
	oc.t0 = time.Now()
	m.gaps = append(m.gaps, w.gaps(oc.t0.Add(-time.Second), oc.t0)...)
	if err := fault(); err != nil {
		stopWatch()
		return oc, fmt.Errorf("fault: %w", err)
	}
	err := up(wctx)
	if err == nil {
		err = w.waitSuccesses(wctx, time.Now(), 1)
	}
	if err == nil {
		// A hiccup may trail the takeover (the old node's demote, a client
		// reconnect): keep watching a little longer.
		err = sleep(ctx, 300*time.Millisecond)
	}
	stopWatch()
	oc.vipAt = vipAt()
	oc.end = time.Now()
	successes, failed := w.snapshot(oc.t0, oc.end)
	oc.failed = failed
	if err != nil {
		return oc, err
	}
	gap, rec, ok := Outage(successes, oc.t0, oc.end)
	if !ok {
		return oc, errors.New("no success on both sides of the fault")
	}
	oc.outage, oc.recovered = gap, rec
	oc.stalls = stalls(successes, oc.t0, oc.end, stallGap)
	return oc, nil
}

// file records an outcome (or the error that replaced it) in the report.
func (m *meter) file(sc Scenario, sys System, oc outcome, ph Phases, err error) {
	res := m.rep.Result(sc, sys)
	if err != nil {
		res.Missed++
		res.Note = err.Error()
		m.o.Logger.Error("not measured", "scenario", sc, "system", sys, "err", err)
		return
	}
	if !oc.vipAt.IsZero() {
		ph.VIP = oc.vipAt.Sub(oc.t0)
		if oc.recovered.After(oc.vipAt) {
			ph.Client = oc.recovered.Sub(oc.vipAt)
		}
	}
	res.Samples = append(res.Samples, oc.outage)
	res.Failed = append(res.Failed, oc.failed)
	res.Phases = append(res.Phases, ph)
	if oc.stalls > 1 {
		res.Repeated++
	}
	m.o.Logger.Info("measured", "scenario", sc, "system", sys, "unavailable", short(oc.outage), "failed_calls", oc.failed,
		"vip", short(ph.VIP), "detect", short(ph.Detect), "gate", short(ph.Gate), "client", short(ph.Client), "old_down", short(ph.OldDown), "refused", ph.Refused, "interruptions", oc.stalls)
}

// pairEvent measures one failover of the milvus-ha pair towards to and
// files it with its phases from to's keeper history.
func (m *meter) pairEvent(ctx context.Context, pr *pair, w *workload, sc Scenario, to *netlab.Host, fault func() error) (time.Time, error) {
	oc, err := m.event(ctx, pr.rigLab, w, to, fault, func(ctx context.Context) error {
		return pr.waitActive(ctx, to, time.Minute)
	}, 60*time.Second)
	var ph Phases
	var promoted time.Time
	if err == nil {
		at, took, refused, ok := pr.promoteAfter(ctx, to, oc.t0)
		if ok {
			promoted = at
			ph.Gate = took
			ph.Detect = at.Add(-took).Sub(oc.t0)
		}
		ph.Refused = refused
		if at, ok := pr.leaseFreedAfter(ctx, pr.other(to), oc.t0); ok {
			ph.OldDown = at.Sub(oc.t0)
		}
	}
	m.file(sc, MilvusHA, oc, ph, err)
	return promoted, err
}

// pairRep runs one repetition of P1, P1', P2, P3 and resume on the pair,
// restoring a as the active node after each.
func (m *meter) pairRep(ctx context.Context, pr *pair, i int) error {
	m.o.Logger.Info("milvus-ha repetition", "rep", i)
	w, err := m.startWorkload(ctx, pr.client)
	if err != nil {
		return fmt.Errorf("failbench: milvus-ha workload: %w", err)
	}
	defer func() {
		c, a := m.stopWorkload(w)
		m.calls, m.acked = m.calls+c, m.acked+a
	}()
	restore := func(why string, steps ...func() error) error {
		for _, s := range steps {
			if err := s(); err != nil {
				return fmt.Errorf("failbench: restoring after %s: %w (logs in %s)", why, err, pr.dir)
			}
		}
		if err := pr.waitReady(ctx, pr.a, 3*time.Minute); err != nil {
			pr.keep = true
			return fmt.Errorf("failbench: restoring after %s: %w (logs in %s)", why, err, pr.dir)
		}
		return nil
	}
	a, b := pr.a, pr.b
	startA := func() error { return pr.start(a) }

	if m.o.runs(HostLoss) {
		_, _ = m.pairEvent(ctx, pr, w, HostLoss, b, a.LinkDown)
		if err := restore("host loss", a.LinkUp); err != nil {
			return err
		}
	}
	if m.o.runs(PowerLoss) {
		_, _ = m.pairEvent(ctx, pr, w, PowerLoss, b, func() error {
			freeze(pr.procs[a])
			err := a.LinkDown()
			_ = pr.procs[a].Kill()
			return err
		})
		if err := restore("power loss", func() error { return pr.dropVIP(a) }, a.LinkUp, startA); err != nil {
			return err
		}
	}
	if m.o.runs(KeeperCrash) {
		_, _ = m.pairEvent(ctx, pr, w, KeeperCrash, b, pr.procs[a].Kill)
		if err := restore("keeper kill", startA); err != nil {
			return err
		}
	}
	if !m.o.runs(Switchover) {
		return nil
	}
	if _, err := m.pairEvent(ctx, pr, w, Switchover, b, func() error { return pr.control(ctx, a, "switchover") }); err == nil {
		// a is held out until resume: no ready standby to wait for.
		if err := pr.waitActive(ctx, b, time.Minute); err != nil {
			return fmt.Errorf("failbench: after switchover: %w", err)
		}
	}
	_, _ = m.pairEvent(ctx, pr, w, Resume, a, func() error { return pr.control(ctx, a, "resume") })
	return restore("resume")
}

// execRep runs one P2 on the exec pair: kill -9 of the active keeper's
// child server; the keeper, alive, hands over to the ready standby. The
// pair runs without preemption, so the crashed node's keeper is restarted
// (it holds itself out after its service failed) as the new standby and
// the next repetition fails the service the other way. With ExecPreempt
// the crashed node must stay out for failbackWatch although it has the
// higher priority; then its keeper is restarted and preempts back.
func (m *meter) execRep(ctx context.Context, px *pair, i int) error {
	m.o.Logger.Info("milvus-ha exec repetition", "rep", i)
	w, err := m.startWorkload(ctx, px.client)
	if err != nil {
		return fmt.Errorf("failbench: milvus-ha exec workload: %w", err)
	}
	defer m.stopWorkload(w)
	from := px.a
	if st, err := px.status(ctx, px.b); err == nil && st.Active {
		from = px.b
	}
	to := px.other(from)
	if err := px.waitReady(ctx, from, time.Minute); err != nil {
		return err
	}
	pid, err := px.servicePID(ctx, from)
	if err != nil {
		return err
	}
	_, err = m.pairEvent(ctx, px, w, ServiceCrash, to, func() error { return syscall.Kill(pid, syscall.SIGKILL) })
	if err == nil && m.o.ExecPreempt {
		if err := m.watchFailback(ctx, px, from, to); err != nil {
			return err
		}
	}
	if err := px.procs[from].Stop(); err != nil {
		return err
	}
	if err := px.start(from); err != nil {
		return err
	}
	// Usually to serves now (a preempts back with ExecPreempt), but on a
	// loaded machine a keeper may lose its lease and hand over again: the
	// next repetition crashes whichever node is active.
	return px.waitEitherReady(ctx, time.Minute)
}

// watchFailback checks that from, whose service just crashed, does not
// take the VIP back from to within failbackWatch, and notes the result.
func (m *meter) watchFailback(ctx context.Context, px *pair, from, to *netlab.Host) error {
	res := m.rep.Result(ServiceCrash, MilvusHA)
	deadline := time.Now().Add(failbackWatch)
	for time.Now().Before(deadline) {
		held, err := px.holds(from)
		if err != nil {
			return err
		}
		if held {
			res.Failbacks++
			m.o.Logger.Error("failback after a service crash", "node", from.Name())
			return nil
		}
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			return err
		}
	}
	if st, err := px.status(ctx, to); err != nil || !st.Active {
		res.Failbacks++
		m.o.Logger.Error("the standby did not keep the service after a crash", "node", to.Name(), "err", err)
		return nil
	}
	res.StayedOut++
	return nil
}

// recipeRep runs one repetition of P1' and P2 on the recipe rig.
func (m *meter) recipeRep(ctx context.Context, rc *recipeRig, i int) error {
	m.o.Logger.Info("recipe repetition", "rep", i)
	// Its master's server may have fenced itself while the other rigs ran
	// (a 500 ms lease on a loaded machine): start from the recipe's
	// starting point every time.
	if err := rc.reset(ctx); err != nil {
		return err
	}
	w, err := m.startWorkload(ctx, rc.client)
	if err != nil {
		return fmt.Errorf("failbench: recipe workload: %w", err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			m.stopWorkload(w)
			stopped = true
		}
	}
	defer stop()
	a, b := rc.a, rc.b
	up := func(ctx context.Context) error {
		for {
			if held, err := rc.holds(b); err != nil || held {
				return err
			}
			if err := sleep(ctx, 5*time.Millisecond); err != nil {
				return fmt.Errorf("the backup never took the VIP: %w", err)
			}
		}
	}
	measure := func(sc Scenario, fault func() error) error {
		oc, err := m.event(ctx, rc.rigLab, w, b, fault, up, 60*time.Second)
		if err != nil {
			err = fmt.Errorf("%w; b's server: %s", err, rc.lastServeLine())
		}
		m.file(sc, Recipe, oc, Phases{}, err)
		// The workload pauses while the rig is reset (its failures there
		// are no measurement).
		stop()
		if err := rc.reset(ctx); err != nil {
			return err
		}
		if w, err = m.startWorkload(ctx, rc.client); err != nil {
			return err
		}
		stopped = false
		return nil
	}
	if !m.o.runs(PowerLoss) {
		return measure(ServiceCrash, rc.serveA.Kill)
	}
	if err := measure(PowerLoss, func() error {
		for _, p := range []*netlab.Process{rc.ka[a], rc.serveA} {
			freeze(p)
		}
		err := a.LinkDown()
		for _, p := range []*netlab.Process{rc.ka[a], rc.serveA} {
			_ = p.Kill()
		}
		return err
	}); err != nil || !m.o.runs(ServiceCrash) {
		return err
	}
	return measure(ServiceCrash, rc.serveA.Kill)
}

// recipeLinkDown runs the recipe's P1 (link down, a's processes alive)
// once: a's server keeps the shared store, so b's cold-started server
// cannot take it over.
func (m *meter) recipeLinkDown(ctx context.Context, rc *recipeRig) error {
	_ = os.Truncate(rc.files.logPath("b"), 0) // the note quotes this run's line
	w, err := m.startWorkload(ctx, rc.client)
	if err != nil {
		return err
	}
	defer m.stopWorkload(w)
	oc, err := m.event(ctx, rc.rigLab, w, rc.b, rc.a.LinkDown, func(ctx context.Context) error {
		return w.waitSuccesses(ctx, time.Now(), 1)
	}, m.o.RecipeLinkDownWait)
	if err == nil {
		m.file(HostLoss, Recipe, oc, Phases{}, nil)
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	res := m.rep.Result(HostLoss, Recipe)
	res.Missed++
	res.Note = fmt.Sprintf("Run once: no insert succeeded through the VIP for %v after a's link went down (VIP on b after %s). "+
		"a's server, alive behind its dead link, keeps the shared store's lease, so b's cold-started server cannot open it: %q. "+
		"With real Milvus instead of the stand-in both servers would write the shared db directory.",
		m.o.RecipeLinkDownWait, vipCell(oc), rc.lastServeLine())
	return nil
}

func vipCell(oc outcome) string {
	if oc.vipAt.IsZero() {
		return "never"
	}
	return short(oc.vipAt.Sub(oc.t0))
}

// p4 loads the P4 data set through the VIP, then measures switchovers
// with it in the store: the client's unavailability and both directions'
// promote times from the keepers' history.
func (m *meter) p4(ctx context.Context, pr *pair) error {
	o := m.o
	c := pr.client
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err := c.retry(cctx, 10*time.Second, func(ctx context.Context) error { return c.createCollection(ctx, bigColl, o.Dim) })
	cancel()
	if err != nil {
		return err
	}
	o.Logger.Info("loading the P4 data set", "rows", o.Rows, "dim", o.Dim, "batch", o.Batch)
	r := rand.New(rand.NewPCG(42, 42))
	start := time.Now()
	for off := 0; off < o.Rows; off += o.Batch {
		ids := make([]int64, min(o.Batch, o.Rows-off))
		for i := range ids {
			ids[i] = int64(off + i)
		}
		lctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		err := c.retry(lctx, 2*time.Minute, func(ctx context.Context) error { return c.insert(ctx, bigColl, o.Dim, ids, r) })
		cancel()
		if err != nil {
			return fmt.Errorf("failbench: loading P4 rows %d..: %w", off, err)
		}
		if (off/o.Batch)%10 == 0 {
			o.Logger.Info("loading", "rows", off+len(ids), "elapsed", time.Since(start).Round(time.Second))
		}
	}
	m.rep.Rows, m.rep.Dim, m.rep.LoadTime = o.Rows, o.Dim, time.Since(start)
	o.Logger.Info("loaded", "rows", o.Rows, "took", m.rep.LoadTime.Round(time.Millisecond))

	// A standby that is still applying the log would make its promote
	// look slow: wait until its keeper is idle, with no client running.
	settle := func(h *netlab.Host) error {
		ictx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		return waitIdle(ictx, pr.keeperPID(h))
	}
	prom := m.rep.Result(Promote, MilvusHA)
	addPromote := func(h *netlab.Host, t0, at time.Time, err error) {
		if err != nil || at.IsZero() {
			prom.Missed++
			return
		}
		opened, sealTail, ok := pr.storeOpened(h, t0)
		if !ok || opened.After(at) {
			prom.Missed++
			prom.Note = "the store's \"log open for writing\" line was not found in the keeper's log"
			return
		}
		prom.Samples = append(prom.Samples, at.Sub(opened)+sealTail)
	}
	for i := 1; i <= o.Reps; i++ {
		o.Logger.Info("P4 repetition", "rep", i)
		if err := settle(pr.b); err != nil {
			return err
		}
		w, err := m.startWorkload(ctx, c)
		if err != nil {
			return err
		}
		t0 := time.Now()
		at, err := m.pairEvent(ctx, pr, w, BigSwitchover, pr.b, func() error { return pr.control(ctx, pr.a, "switchover") })
		cl, ack := m.stopWorkload(w)
		m.calls, m.acked = m.calls+cl, m.acked+ack
		addPromote(pr.b, t0, at, err)
		if err := pr.waitActive(ctx, pr.b, 5*time.Minute); err != nil {
			return err
		}
		if err := settle(pr.a); err != nil {
			return err
		}
		// Back to a (no client: only its promote time counts here).
		t0 = time.Now()
		at = time.Time{}
		err = pr.control(ctx, pr.a, "resume")
		if err == nil {
			err = pr.waitReady(ctx, pr.a, 5*time.Minute)
		}
		if err == nil {
			at, _, _, _ = pr.promoteAfter(ctx, pr.a, t0)
		}
		addPromote(pr.a, t0, at, err)
		if err != nil {
			return err
		}
	}
	return nil
}

// finalCount checks, through the VIP, that the pair holds at least every
// acknowledged insert of the workload.
func (m *meter) finalCount(ctx context.Context, pr *pair) error {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var n int64
	err := pr.client.retry(cctx, 5*time.Second, func(ctx context.Context) error {
		var err error
		n, err = pr.client.count(ctx, workloadColl)
		return err
	})
	if err != nil {
		return err
	}
	m.rep.Calls, m.rep.Acked, m.rep.Stored = m.calls, m.acked, n
	return nil
}
