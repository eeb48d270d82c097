package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/netlab"
)

// Options configure a demo run.
type Options struct {
	// Binary is the milvus-ha executable run in each node host (the
	// command uses its own executable; tests pass a fresh build).
	Binary string
	// Out receives the step-by-step narration; nil discards it.
	Out io.Writer
	// SVG is where the timeline plot is written; "" writes none.
	SVG string
	// Quick runs fewer steps with shorter pauses.
	Quick bool
	// KeepGoing continues after a failed expectation instead of stopping.
	KeepGoing bool
	// Workload is the client traffic; nil means a Milvus client.
	Workload Workload
	// StepTimeout bounds each wait for a new VIP owner; 0 means 15 s.
	StepTimeout time.Duration
}

// Result is what a run measured.
type Result struct {
	Steps    []StepResult
	Workload string // the workload's summary
	SVG      string // the plot's path, if written
}

// StepResult is one fault (or recovery) and its effect.
type StepResult struct {
	Fault    string    // what kind: "host loss", "failback", ...
	Action   string    // what the demo did: "a's link down"
	At       time.Time // when it did it
	End      time.Time // end of the step's observation window
	Want     string    // the node that should answer the VIP afterwards
	Owner    string    // the node that did ("" if none in time)
	Answered time.Time // first answer from Owner to a request sent after At
	Stayed   bool      // Owner already answered before the step
	Impact             // on the requests sent between At and End
	Err      error
}

// Lab layout: the lab rules allow 198.18.0.0/15 only.
var (
	addrA      = netip.MustParsePrefix("198.18.0.1/24")
	addrB      = netip.MustParsePrefix("198.18.0.2/24")
	addrClient = netip.MustParsePrefix("198.18.0.3/24")
	vip        = netip.MustParsePrefix("198.18.0.100/24")
)

// measure sets the step's Impact: failed requests and the slowest answer
// over the whole step; the outage is the takeover's (from the action to
// the new owner's first answer) when the service moved, else the longest
// gap over the whole step.
func (r *StepResult) measure(samples []Sample) {
	r.Impact = Measure(samples, r.At, r.End)
	if r.Owner != "" && !r.Stayed {
		o := Measure(samples, r.At, r.Answered)
		r.Outage, r.LastAnswer, r.FirstAnswer, r.Gaps = o.Outage, o.LastAnswer, o.FirstAnswer, o.Gaps
	}
}

// step is one scripted action and the VIP owner expected after it.
type step struct {
	fault, action string
	do            func(ctx context.Context) error
	want          *node
	// check, if set, verifies more once the new owner has settled.
	check func(ctx context.Context, r *StepResult) error
}

// demo is one run's state.
type demo struct {
	opts   Options
	nar    *narrator
	tl     *Timeline
	lab    *netlab.Lab
	client *netlab.Host
	a, b   *node
	dir    string // the demo's temporary directory: configs, logs, shared data
	data   string // the shared data directory, in dir
	settle time.Duration
	poll   *poller
	owner  string // the node that answered after the last step

	mu     sync.Mutex
	events map[string][]event // per node, as polled
}

// Run builds the lab, starts the two nodes, drives the workload through
// the VIP while it injects the faults, prints each step as it happens and
// a summary, writes the plot, and removes everything it made, whether it
// succeeds, fails or ctx is cancelled. The error reports the first failed
// expectation (with KeepGoing, all of them).
func Run(ctx context.Context, opts Options) (*Result, error) {
	if err := Preflight(); err != nil {
		return nil, err
	}
	if opts.Binary == "" {
		return nil, errors.New("demo: no milvus-ha binary given")
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.Workload == nil {
		opts.Workload = &Milvus{}
	}
	if opts.StepTimeout == 0 {
		opts.StepTimeout = 15 * time.Second
	}
	if opts.SVG != "" { // fail now rather than after the whole scenario
		f, err := os.CreateTemp(filepath.Dir(opts.SVG), ".milvus-ha-demo-*")
		if err != nil {
			return nil, fmt.Errorf("demo: cannot write the timeline plot %s: %w", opts.SVG, err)
		}
		f.Close()
		os.Remove(f.Name())
	}
	d := &demo{opts: opts, tl: NewTimeline(time.Now()), settle: 1500 * time.Millisecond, events: map[string][]event{}}
	if opts.Quick {
		d.settle = 700 * time.Millisecond
	}
	d.nar = newNarrator(opts.Out, d.tl.Start, d.resolve()+100*time.Millisecond)
	defer d.nar.close()
	res := &Result{}
	return res, d.run(ctx, res)
}

func (d *demo) run(ctx context.Context, res *Result) (err error) {
	if removed, err := netlab.Sweep(); err != nil {
		d.say(time.Now(), "warning: removing leftovers of earlier runs: %v", err)
	} else if len(removed) > 0 {
		d.say(time.Now(), "removed leftovers of earlier runs: %s", strings.Join(removed, " "))
	}
	if d.dir, err = os.MkdirTemp("", "milvus-ha-demo-"); err != nil {
		return fmt.Errorf("demo: temporary directory: %w", err)
	}
	// Removed after the lab: its keepers write there until they stop.
	defer os.RemoveAll(d.dir)
	if d.lab, err = netlab.New(ctx, netlab.Options{StopGrace: 3 * time.Second}); err != nil {
		return fmt.Errorf("demo: building the lab: %w", err)
	}
	defer func() {
		for _, n := range []*node{d.a, d.b} {
			if n != nil {
				n.stopping.Store(true)
			}
		}
		if cerr := d.lab.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("demo: removing the lab: %w", cerr))
		} else {
			d.say(time.Now(), "lab removed")
		}
	}()
	if err := d.build(ctx); err != nil {
		return err
	}

	pollCtx, stopPoll := context.WithCancel(context.Background())
	pollDone := make(chan struct{})
	go func() {
		defer close(pollDone)
		d.poll.run(pollCtx, []*node{d.a, d.b})
	}()
	defer func() { stopPoll(); <-pollDone }()

	for _, n := range []*node{d.a, d.b} {
		if err := n.start(); err != nil {
			return err
		}
	}
	now := time.Now()
	d.tl.Mark(now, "milvus-ha started on a and b")
	d.say(now, "started milvus-ha on a (priority %d) and b (priority %d)", d.a.priority, d.b.priority)
	tgt := Target{Client: d.client, VIP: vip.Addr(), Nodes: []*netlab.Host{d.a.host, d.b.host},
		Say: func(at time.Time, line string) { d.say(at, "%s", line) }}
	if err := d.opts.Workload.Start(ctx, tgt, d.tl.Record); err != nil {
		return err
	}
	d.say(time.Now(), "client workload: %s", d.opts.Workload.Describe())

	failed := d.scenario(ctx, res)
	if ctx.Err() != nil {
		d.say(time.Now(), "interrupted: cleaning up")
	}

	summary, werr := d.opts.Workload.Stop(context.WithoutCancel(ctx))
	res.Workload = summary
	if werr != nil {
		failed = append(failed, werr)
	}
	// Failed requests are known only once they time out: measure the
	// steps again now that every request has an outcome.
	samples, _, _ := d.tl.Snapshot()
	for i := range res.Steps {
		res.Steps[i].measure(samples)
	}
	d.report(res)
	if d.opts.SVG != "" {
		if err := d.writeSVG(res); err != nil {
			failed = append(failed, err)
		} else {
			res.SVG = d.opts.SVG
		}
	}
	if len(failed) > 0 && ctx.Err() == nil {
		for _, n := range []*node{d.a, d.b} {
			d.printf("\nlast lines of %s's log:\n%s\n", n.name(), indent(n.logTail(15)))
		}
	}
	return errors.Join(failed...)
}

// build adds the hosts, writes the node configs and prepares the poller.
func (d *demo) build(ctx context.Context) error {
	hosts := map[string]*netlab.Host{}
	for _, h := range []struct {
		name string
		addr netip.Prefix
	}{{"a", addrA}, {"b", addrB}, {"client", addrClient}} {
		host, err := d.lab.AddHost(ctx, h.name, h.addr)
		if err != nil {
			return fmt.Errorf("demo: building the lab: %w", err)
		}
		hosts[h.name] = host
	}
	d.client = hosts["client"]
	d.data = filepath.Join(d.dir, "shared")
	if err := os.Mkdir(d.data, 0o755); err != nil {
		return fmt.Errorf("demo: shared directory: %w", err)
	}
	mk := func(name string, prio int) (*node, error) {
		log, flag := nodeFiles(d.dir, name)
		file, text := RenderNodeConfig(NodeSpec{
			Name: name, Priority: prio, VIP: vip, VRID: 51, DataDir: d.data, API: apiListen, CheckFlag: flag,
		})
		conf := filepath.Join(d.dir, file)
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			return nil, fmt.Errorf("demo: config of %s: %w", name, err)
		}
		return &node{host: hosts[name], binary: d.opts.Binary, conf: conf, log: log, flag: flag, api: apiListen, priority: prio,
			exited: func(n *node, err error) {
				d.say(time.Now(), "error: milvus-ha on %s exited unexpectedly (%v); last lines of its log:\n%s", n.name(), err, indent(n.logTail(10)))
			}}, nil
	}
	var err error
	if d.a, err = mk("a", 150); err != nil {
		return err
	}
	if d.b, err = mk("b", 100); err != nil {
		return err
	}
	d.poll = &poller{
		every: 50 * time.Millisecond,
		onTrans: func(node string, t transition) {
			d.tl.NodeState(NodeState{At: t.At, Node: node, State: t.To.String(), Priority: t.Priority})
		},
		onEvent: d.nodeEvent,
		onReach: func(node string, at time.Time, err error) {
			if err != nil {
				d.say(at, "    %s: status API not answering", node)
			} else {
				d.say(at, "    %s: status API answering again", node)
			}
		},
	}
	d.say(time.Now(), "lab %s: hosts a %v, b %v, client %v; VIP %v; shared storage %s",
		d.lab.Prefix(), addrA.Addr(), addrB.Addr(), addrClient.Addr(), vip.Addr(), d.data)
	return nil
}

// apiListen is where each keeper serves its status/control API, on the
// loopback of its own host.
const apiListen = "127.0.0.1:9700"

// nodeEvent narrates one event from a keeper's history.
func (d *demo) nodeEvent(node string, e event) {
	d.mu.Lock()
	d.events[node] = append(d.events[node], e)
	d.mu.Unlock()
	d.say(e.At, "    %s %s: %s", node, e.Kind, e.Detail)
}

// eventsSince returns node's events of kind after t.
func (d *demo) eventsSince(node, kind string, t time.Time) []event {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []event
	for _, e := range d.events[node] {
		if e.Kind == kind && e.At.After(t) {
			out = append(out, e)
		}
	}
	return out
}

// steps is the fault script. Every fault hits a, the preferred node; every
// recovery brings the service back to it (preempt).
func (d *demo) steps() []step {
	a, b := d.a, d.b
	s := []step{
		{fault: "host loss", action: "a's link down", want: b,
			do: func(context.Context) error { return a.host.LinkDown() }},
		{fault: "failback", action: "a's link up", want: a,
			do: func(context.Context) error { return a.host.LinkUp() }},
		{fault: "keeper killed", action: "kill -9 milvus-ha on a", want: b,
			do: func(context.Context) error {
				d.tl.NodeState(NodeState{At: time.Now(), Node: "a", State: "KILLED"})
				return a.kill()
			}},
		{fault: "failback", action: "milvus-ha restarted on a", want: a,
			do: func(context.Context) error { return a.start() }},
	}
	if d.opts.Quick {
		return s
	}
	return append(s,
		step{fault: "planned switchover", action: "milvus-ha switchover on a", want: b,
			do: func(ctx context.Context) error { return a.control(ctx, "switchover") }},
		step{fault: "failback", action: "milvus-ha resume on a", want: a,
			do: func(ctx context.Context) error { return a.control(ctx, "resume") }},
		step{fault: "check fails", action: "a's health check starts failing", want: b,
			do: func(context.Context) error { return a.setCheck(true) }},
		step{fault: "failback", action: "a's health check passes again", want: a,
			do: func(context.Context) error { return a.setCheck(false) }},
		step{fault: "network cut", action: "a and b cut from each other", want: a,
			do:    func(context.Context) error { return d.lab.Cut(a.host, b.host) },
			check: d.checkCut},
		step{fault: "heal", action: "the cut between a and b healed", want: a,
			do:    func(context.Context) error { return d.lab.Heal(a.host, b.host) },
			check: d.checkHealed},
	)
}

// checkCut shows what the storage guard does when the two hosts cannot
// hear each other but share the storage: b misses a's adverts and tries to
// take over, its gate refuses because a's heartbeat still moves, and a
// keeps serving. It fails if b ever became active.
func (d *demo) checkCut(ctx context.Context, r *StepResult) error {
	deadline := time.Now().Add(d.opts.StepTimeout)
	var refused event
	for {
		if err := d.bStayedOut(r.At); err != nil {
			return err
		}
		if rs := d.eventsSince("b", "refused", r.At); len(rs) > 0 {
			refused = rs[0]
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("demo: during the cut: b did not try to take over within %v", d.opts.StepTimeout)
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	// Hold the cut a while longer: b keeps retrying and keeps being refused.
	if err := sleep(ctx, d.settle); err != nil {
		return err
	}
	if err := d.bStayedOut(r.At); err != nil {
		return err
	}
	pb, pa := d.poll.latest("b"), d.poll.latest("a")
	if !pa.st.Active || pa.err != nil {
		return fmt.Errorf("demo: during the cut: a is not active (state %s, poll error %v)", pa.st.State, pa.err)
	}
	samples, _, _ := d.tl.Snapshot()
	var acked, failed int
	for _, s := range samples {
		if s.At.After(r.At) && s.Done().Before(time.Now().Add(-d.resolve())) {
			if s.OK {
				acked++
			} else {
				failed++
			}
		}
	}
	d.say(time.Now(), "during the cut: b never took over: its gate refused %d times, %q (a's heartbeat still moves on the shared storage); b is %s; a stayed active and answered %d %ss through the VIP, %d failed",
		len(d.eventsSince("b", "refused", r.At)), refusalReason(refused.Detail), pb.st.State, acked, d.opts.Workload.Noun(), failed)
	return nil
}

// refusalReason is the gist of a gate refusal: "peer alive on storage: promote: guard: ..." → "peer alive on storage".
func refusalReason(detail string) string {
	if i := strings.Index(detail, ":"); i > 0 {
		return detail[:i]
	}
	return detail
}

// bStayedOut fails if b became MASTER or active since t.
func (d *demo) bStayedOut(t time.Time) error {
	pb := d.poll.latest("b")
	if pb.st.Active {
		return fmt.Errorf("demo: during the cut: b is active too (split brain)")
	}
	for _, tr := range pb.st.Transitions {
		if tr.At.After(t) && tr.To.String() == "MASTER" {
			return fmt.Errorf("demo: during the cut: b became MASTER at t=%+.2fs", tr.At.Sub(d.tl.Start).Seconds())
		}
	}
	return nil
}

// checkHealed waits for b to settle as BACKUP once it hears a again.
func (d *demo) checkHealed(ctx context.Context, r *StepResult) error {
	deadline := time.Now().Add(d.opts.StepTimeout)
	for {
		pb := d.poll.latest("b")
		if pb.err == nil && pb.st.State == "BACKUP" && !pb.st.Active {
			d.say(pb.at, "b is BACKUP again: it hears a's adverts")
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("demo: after the heal: b is %s, not BACKUP, after %v", pb.st.State, d.opts.StepTimeout)
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// errInterrupted is the error of a run whose context ended.
var errInterrupted = errors.New("demo interrupted")

// scenario waits for a to own the VIP, then plays the steps. It returns
// the failed expectations (all of them with KeepGoing, else the first).
func (d *demo) scenario(ctx context.Context, res *Result) []error {
	start := time.Now()
	first, err := d.waitOwner(ctx, d.a, start)
	if ctx.Err() != nil {
		return []error{fmt.Errorf("%w: %w", errInterrupted, ctx.Err())}
	}
	if err != nil {
		return []error{fmt.Errorf("demo: the VIP never came up on a: %w", err)}
	}
	d.owner = "a"
	d.say(first.Done(), "VIP answered by a, the preferred node (%.0f ms after start)", ms(first.Done().Sub(start)))
	if err := sleep(ctx, d.settle); err != nil {
		return []error{fmt.Errorf("%w: %w", errInterrupted, err)}
	}
	var failed []error
	for _, st := range d.steps() {
		r := d.step(ctx, st)
		res.Steps = append(res.Steps, r)
		if ctx.Err() != nil {
			return append(failed, fmt.Errorf("%w: %w", errInterrupted, ctx.Err()))
		}
		if r.Err != nil {
			d.say(time.Now(), "FAILED: %v", r.Err)
			failed = append(failed, r.Err)
			if !d.opts.KeepGoing {
				return failed
			}
		}
	}
	return failed
}

// step plays one step: the action, the wait for the expected owner, the
// narration, a pause for the pair to settle and the step's own check.
func (d *demo) step(ctx context.Context, st step) (r StepResult) {
	r = StepResult{Fault: st.fault, Action: st.action, Want: st.want.name(), At: time.Now()}
	defer func() { r.End = time.Now() }()
	d.tl.Mark(r.At, st.fault+": "+st.action)
	d.say(r.At, "%s: %s", st.fault, st.action)
	if err := st.do(ctx); err != nil {
		r.Err = fmt.Errorf("demo: %s: %w", st.action, err)
		return r
	}
	s, err := d.waitOwner(ctx, st.want, r.At)
	if err != nil {
		r.Err = fmt.Errorf("demo: after %s: %w", st.action, err)
		return r
	}
	r.Owner, r.Answered = s.ServedBy, s.Done()
	// The requests sent before this answer are settled after the
	// workload's timeout; then the outage is known.
	if err := sleep(ctx, time.Until(s.At.Add(d.resolve()))); err != nil {
		r.Err = err
		return r
	}
	samples, _, _ := d.tl.Snapshot()
	r.Stayed = r.Owner == d.owner
	verb := "now"
	if r.Stayed {
		verb = "still"
	}
	d.owner = r.Owner
	d.say(r.Answered, "VIP %s answered by %s, %.0f ms after %s; %s",
		verb, r.Owner, ms(r.Answered.Sub(r.At)), st.action, d.describe(Measure(samples, r.At, r.Answered)))
	if err := sleep(ctx, time.Until(r.Answered.Add(d.settle))); err != nil {
		r.Err = err
		return r
	}
	samples, _, _ = d.tl.Snapshot()
	if r.Err = d.checkStable(samples, r, s.At); r.Err != nil {
		return r
	}
	d.noteStaleVIP(ctx, st.want)
	if st.check != nil {
		r.Err = st.check(ctx, &r)
	}
	return r
}

// noteStaleVIP tells when the VIP address is configured on a node other
// than the owner: after kill -9 nothing removes it (milvus-ha does when it
// starts again), and the client reaches the owner only thanks to the
// owner's gratuitous ARP.
func (d *demo) noteStaleVIP(ctx context.Context, owner *node) {
	for _, n := range []*node{d.a, d.b} {
		if n == owner {
			continue
		}
		out, err := n.host.Run(ctx, "ip", "-o", "-4", "addr", "show", "dev", "eth0")
		if err != nil || !strings.Contains(string(out), " "+vip.Addr().String()+"/") {
			continue
		}
		why := ""
		if n.stopping.Load() {
			why = ": its milvus-ha was killed and could not remove it; " + owner.name() + "'s gratuitous ARP moved the client, and milvus-ha removes it when it starts again"
		}
		d.say(time.Now(), "note: the VIP address is still configured on %s too%s", n.name(), why)
	}
}

// checkStable fails a step if a request sent after the new owner's first
// answered one (sent at first) was answered by another node: a flapping
// VIP.
func (d *demo) checkStable(samples []Sample, r StepResult, first time.Time) error {
	for _, s := range samples {
		if s.OK && s.At.After(first) && s.ServedBy != r.Owner {
			return fmt.Errorf("demo: after %s: %s answered at t=%+.2fs, after %s had taken over",
				r.Action, s.ServedBy, s.Done().Sub(d.tl.Start).Seconds(), r.Owner)
		}
	}
	return nil
}

// resolve is how long after sending a request its outcome is surely
// recorded.
func (d *demo) resolve() time.Duration {
	return d.opts.Workload.RequestTimeout() + 50*time.Millisecond
}

// waitOwner waits for the first answer from want to a request sent at or
// after since.
func (d *demo) waitOwner(ctx context.Context, want *node, since time.Time) (Sample, error) {
	deadline := time.NewTimer(d.opts.StepTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	var (
		i    int
		last Sample
	)
	for {
		var news []Sample
		news, i = d.tl.SamplesFrom(i)
		for _, s := range news {
			if !s.OK || s.At.Before(since) {
				continue
			}
			if s.ServedBy == want.name() {
				return s, nil
			}
			last = s
		}
		select {
		case <-ctx.Done():
			return Sample{}, ctx.Err()
		case <-deadline.C:
			if last.OK {
				return Sample{}, fmt.Errorf("VIP not answered by %s within %v (still answered by %s)", want.name(), d.opts.StepTimeout, last.ServedBy)
			}
			return Sample{}, fmt.Errorf("VIP not answered by %s within %v (no answer at all)", want.name(), d.opts.StepTimeout)
		case <-tick.C:
		}
	}
}

// report prints the summary table.
func (d *demo) report(res *Result) {
	if len(res.Steps) == 0 {
		d.printf("client workload: %s\n", res.Workload)
		return
	}
	d.printf("\n%-20s %-32s %-5s %9s %9s %6s %10s  %s\n", "fault", "action", "owner", "takeover", "outage", "failed", "slowest", "result")
	for _, r := range res.Steps {
		owner, takeover, result := r.Owner, "-", "ok"
		switch {
		case owner == "":
			owner = "-"
		case r.Stayed:
			takeover = "stayed"
		default:
			takeover = fmt.Sprintf("%.0f ms", ms(r.Answered.Sub(r.At)))
		}
		switch {
		case errors.Is(r.Err, context.Canceled):
			result = "interrupted"
		case r.Err != nil:
			result = "FAILED"
		}
		d.printf("%-20s %-32s %-5s %9s %6.0f ms %6d %7.1f ms  %s\n", r.Fault, r.Action, owner, takeover, ms(r.Outage), r.Failed, ms(r.Slowest), result)
	}
	d.printf("takeover: from the action to the first answer from the expected node; outage: the longest time without an answer (last answer before it to first answer after) until then, or during the whole step if the node stayed; failed: %ss that failed or timed out (%v) during the step\n",
		d.opts.Workload.Noun(), d.opts.Workload.RequestTimeout())
	d.printf("client workload: %s\n", res.Workload)
}

func (d *demo) writeSVG(res *Result) error {
	samples, marks, states := d.tl.Snapshot()
	f, err := os.Create(d.opts.SVG)
	if err != nil {
		return fmt.Errorf("demo: timeline plot: %w", err)
	}
	err = WriteSVG(f, Plot{Start: d.tl.Start, Samples: samples, Marks: marks, States: states, Steps: res.Steps, Nodes: []string{"a", "b"}, Noun: d.opts.Workload.Noun()})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("demo: timeline plot: %w", err)
	}
	abs, _ := filepath.Abs(d.opts.SVG)
	d.printf("timeline plot: %s\n", abs)
	return nil
}

// say narrates one line stamped at.
func (d *demo) say(at time.Time, format string, args ...any) {
	d.nar.say(at, fmt.Sprintf(format, args...))
}

// printf prints untimed text after the narration so far.
func (d *demo) printf(format string, args ...any) { d.nar.printf(format, args...) }

func sleep(ctx context.Context, dur time.Duration) error {
	t := time.NewTimer(dur)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// describe says in words what the client saw.
func (d *demo) describe(im Impact) string {
	noun := d.opts.Workload.Noun()
	failed := "no " + noun + " failed"
	if im.Failed == 1 {
		failed = "1 " + noun + " failed"
	} else if im.Failed > 1 {
		failed = fmt.Sprintf("%d %ss failed", im.Failed, noun)
	}
	if len(im.Gaps) == 0 {
		return fmt.Sprintf("no outage (longest gap between answers %.0f ms), %s, slowest answer %.1f ms", ms(im.Outage), failed, ms(im.Slowest))
	}
	if im.FirstAnswer.IsZero() {
		return fmt.Sprintf("outage of %.0f ms and counting: no answer since t=%+.2fs, %s", ms(im.Outage), d.rel(im.LastAnswer), failed)
	}
	return fmt.Sprintf("outage %.0f ms (last answer before at t=%+.2fs, first after at t=%+.2fs), %s",
		ms(im.Outage), d.rel(im.LastAnswer), d.rel(im.FirstAnswer), failed)
}

// rel is t in seconds since the demo's start.
func (d *demo) rel(t time.Time) float64 { return t.Sub(d.tl.Start).Seconds() }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func indent(s string) string { return "    " + strings.ReplaceAll(s, "\n", "\n    ") }
