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
	// Workload is the client traffic; nil means a Probe.
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

// step is one scripted action and the VIP owner expected after it.
type step struct {
	fault, action string
	do            func() error
	want          *node
}

// demo is one run's state.
type demo struct {
	opts   Options
	nar    *narrator
	tl     *Timeline
	lab    *netlab.Lab
	client *netlab.Host
	a, b   *node
	dir    string
	settle time.Duration
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
		opts.Workload = &Probe{}
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
	d := &demo{opts: opts, tl: NewTimeline(time.Now()), settle: 1500 * time.Millisecond}
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
	if d.dir, err = os.MkdirTemp("", "milvus-ha-demo-"); err != nil {
		return fmt.Errorf("demo: shared directory: %w", err)
	}
	defer os.RemoveAll(d.dir)
	if err := d.build(ctx); err != nil {
		return err
	}

	stateCtx, stopStates := context.WithCancel(context.Background())
	statesDone := make(chan struct{})
	go func() {
		defer close(statesDone)
		followStates(stateCtx, filepath.Join(d.dir, "events.log"), func(s NodeState) {
			d.tl.NodeState(s)
			d.say(s.At, "    %s is %s (priority %d)", s.Node, s.State, s.Priority)
		})
	}()
	defer func() { stopStates(); <-statesDone }()

	for _, n := range []*node{d.a, d.b} {
		if err := n.start(); err != nil {
			return err
		}
	}
	now := time.Now()
	d.tl.Mark(now, "milvus-ha started on a and b")
	d.say(now, "started milvus-ha on a (priority %d) and b (priority %d)", d.a.priority, d.b.priority)
	tgt := Target{Client: d.client, VIP: vip.Addr(), Nodes: []*netlab.Host{d.a.host, d.b.host}}
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
		r := &res.Steps[i]
		r.Impact = Measure(samples, r.At, r.End)
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

// build adds the hosts and writes the node configs and hook.
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
	notify := filepath.Join(d.dir, "notify.sh")
	if err := os.WriteFile(notify, []byte(notifyScript(filepath.Join(d.dir, "events.log"))), 0o755); err != nil {
		return fmt.Errorf("demo: notify hook: %w", err)
	}
	mk := func(name string, prio int) (*node, error) {
		log, flag := nodeFiles(d.dir, name)
		file, text := RenderNodeConfig(NodeSpec{
			Name: name, Priority: prio, VIP: vip, DataDir: d.dir,
			CheckFlag: flag, Notify: notify + " " + name,
		})
		conf := filepath.Join(d.dir, file)
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			return nil, fmt.Errorf("demo: config of %s: %w", name, err)
		}
		return &node{host: hosts[name], binary: d.opts.Binary, conf: conf, log: log, flag: flag, priority: prio,
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
	d.say(time.Now(), "lab %s: hosts a %v, b %v, client %v; VIP %v; shared directory %s",
		d.lab.Prefix(), addrA.Addr(), addrB.Addr(), addrClient.Addr(), vip.Addr(), d.dir)
	return nil
}

// steps is the fault script. Every fault hits a, the preferred node; every
// recovery brings the VIP back to it (preempt).
func (d *demo) steps() []step {
	a, b := d.a, d.b
	s := []step{
		{"host loss", "a's link down", a.host.LinkDown, b},
		{"failback", "a's link up", a.host.LinkUp, a},
		{"keeper killed", "kill -9 milvus-ha on a", func() error {
			d.tl.NodeState(NodeState{At: time.Now(), Node: "a", State: "KILLED"})
			return a.kill()
		}, b},
		{"failback", "milvus-ha restarted on a", a.start, a},
	}
	if d.opts.Quick {
		return s
	}
	return append(s,
		step{"service check fails", "a's check script starts failing", func() error { return a.setCheck(true) }, b},
		step{"failback", "a's check script passes again", func() error { return a.setCheck(false) }, a},
	)
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
// narration, and a pause for the pair to settle.
func (d *demo) step(ctx context.Context, st step) (r StepResult) {
	r = StepResult{Fault: st.fault, Action: st.action, Want: st.want.name(), At: time.Now()}
	defer func() { r.End = time.Now() }()
	d.tl.Mark(r.At, st.fault+": "+st.action)
	d.say(r.At, "%s: %s", st.fault, st.action)
	if err := st.do(); err != nil {
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
	d.say(r.Answered, "VIP now answered by %s, %.0f ms after %s (%s)",
		r.Owner, ms(r.Answered.Sub(r.At)), st.action, describe(Measure(samples, r.At, s.At)))
	if err := sleep(ctx, time.Until(r.Answered.Add(d.settle))); err != nil {
		r.Err = err
		return r
	}
	samples, _, _ = d.tl.Snapshot()
	if r.Err = d.checkStable(samples, r, s.At); r.Err == nil {
		d.noteStaleVIP(ctx, st.want)
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
		if owner == "" {
			owner = "-"
		} else {
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
	d.printf("takeover: from the fault to the first answer from the new owner; outage: time requests failed (probe timeout %v)\n", d.opts.Workload.RequestTimeout())
	d.printf("client workload: %s\n", res.Workload)
}

func (d *demo) writeSVG(res *Result) error {
	samples, marks, states := d.tl.Snapshot()
	f, err := os.Create(d.opts.SVG)
	if err != nil {
		return fmt.Errorf("demo: timeline plot: %w", err)
	}
	err = WriteSVG(f, Plot{Start: d.tl.Start, Samples: samples, Marks: marks, States: states, Steps: res.Steps, Nodes: []string{"a", "b"}})
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
func describe(im Impact) string {
	if im.Failed == 0 {
		return fmt.Sprintf("no request failed; slowest answer %.1f ms", ms(im.Slowest))
	}
	plural := "s"
	if im.Failed == 1 {
		plural = ""
	}
	return fmt.Sprintf("outage %.0f ms: %d request%s failed", ms(im.Outage), im.Failed, plural)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func indent(s string) string { return "    " + strings.ReplaceAll(s, "\n", "\n    ") }
