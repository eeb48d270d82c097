package speaker

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/config"
	"github.com/milvus-ha/milvus-ha/internal/netif"
	"github.com/milvus-ha/milvus-ha/internal/vrrp"
)

// Gate lets the owner of an instance (the keeper) put its own steps around
// the VIP. BecomeMaster runs after the state machine decided to take over and
// after its first advert (so that a live lower-priority master yields and
// frees what the gate needs), but before the VIPs are added and announced.
// An error keeps the instance out of MASTER: it is inhibited (priority-0
// adverts, FAULT) until the gate's owner calls Inhibit(GateReason, false).
// LeftMaster runs after the VIPs are gone.
//
// Both run on their own goroutine, one call at a time and in order, while
// the VRRP loop goes on: stopping or starting a service can take seconds,
// and a loop waiting for it would neither read the peer's adverts nor send
// its own (the peer then sees a silent master, and this node acts later on
// a backlog of stale packets). While BecomeMaster runs the instance
// advertises as master without the VIPs; if it leaves MASTER meanwhile, the
// call's context is cancelled and a late success is undone by LeftMaster.
type Gate interface {
	BecomeMaster(ctx context.Context) error
	LeftMaster(ctx context.Context)
}

// Handover is an optional Gate extension for a planned move of the
// clients. When MASTER is left, the speaker stops announcing the VIPs but
// keeps them on the interface while HandOver runs (on the gate goroutine,
// like LeftMaster), so that the service can still talk to its clients on
// the connections they made to the VIPs: it may hold their calls until the
// peer serves and then send them there. When HandOver returns the VIPs are
// removed and LeftMaster follows. HandOver must return at once when there
// is nothing to hand over (a failed service, a lost lease), and soon in any
// case: the peer that takes over adds the VIPs too, and the two hosts hold
// them both until it returns.
type Handover interface {
	HandOver(ctx context.Context)
}

// Transition is one state change, as the status API and logs report it.
type Transition struct {
	At       time.Time
	From, To vrrp.State
	Priority uint8
	Reason   string
}

// Options tune an Instance beyond its configuration.
type Options struct {
	Logger  *slog.Logger
	Metrics *Metrics // nil: no metrics
	Gate    Gate     // nil: become master at once
	// Scripts are the vrrp_script definitions track_script refers to.
	Scripts map[string]*config.Script
	// OnTransition, if set, is called from the instance's loop after each
	// state change has been carried out; it must not block.
	OnTransition func(Transition)
	// SoleBackup: the instance is one of a pair, so as backup it takes over
	// at once on the master's priority-0 advert (vrrp.Config.SoleBackup).
	SoleBackup bool
}

// Instance runs one VRRP instance: it owns the state machine and does its
// I/O. All machine access happens on the goroutine running Run; other
// goroutines talk to it through the cmds channel.
type Instance struct {
	cfg    *config.Instance
	opts   Options
	log    *slog.Logger
	m      *vrrp.Machine
	expect vrrp.Expect
	conn   *netif.Conn
	vips   []netif.VIP
	addrs  []netip.Addr
	hooks  *hookQueue

	cmds chan func(now time.Time) []vrrp.Action

	mu      sync.Mutex
	status  vrrp.Status
	history []Transition

	announce    context.CancelFunc // stops the GARP/NA bursts of this MASTER period
	announceCtx context.Context
	announceWG  sync.WaitGroup
	frameSender *netif.FrameSender
	// holding: the VIPs were added (MASTER entered past the gate), so
	// leaving MASTER must remove them and tell the gate.
	holding bool
	// gateCall is the Gate method running, if any; entering is the MASTER
	// transition waiting for BecomeMaster (carried out on its success).
	gateCall *gateCall
	entering *vrrp.ActionStateChange
	// frames are the GARP/NA frames, built before they are first needed so
	// that a takeover does not wait for netlink and /proc reads.
	frames [][]byte
	// linkDown: our own interface has no carrier. Adverts are then not
	// sent: a unicast one would wait in the neighbour queue and reach the
	// peer as a stale priority 0 when the link returns.
	linkDown bool
	rejects  rejectLog
}

// gateCall is one Gate method running on its own goroutine.
type gateCall struct {
	kind   gateKind
	cancel context.CancelFunc
	done   chan error // receives the result once (nil but for BecomeMaster)
}

// gateKind names the Gate method of a gateCall.
type gateKind int

const (
	gateEnter    gateKind = iota // BecomeMaster
	gateHandOver                 // Handover.HandOver, the VIPs still here
	gateLeave                    // LeftMaster, the VIPs gone
)

// historyLen bounds the transitions kept for Status.
const historyLen = 32

// New checks inst and prepares (but does not start) an instance: it removes
// VIPs an earlier run left behind and opens the VRRP socket on the
// instance's interface. Call it in the network
// namespace the instance should run in.
func New(inst *config.Instance, opts Options) (*Instance, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	log := opts.Logger.With("instance", inst.Name)
	if len(inst.VIPs) == 0 {
		return nil, fmt.Errorf("speaker: instance %s has no virtual addresses", inst.Name)
	}
	fam := netif.IPv4
	if inst.VIPs[0].Prefix.Addr().Is6() {
		fam = netif.IPv6
	}
	conn, err := netif.Listen(inst.Interface, fam, netif.Options{Src: inst.SrcIP, Peers: inst.UnicastPeers})
	if err != nil {
		return nil, fmt.Errorf("speaker: instance %s: %w", inst.Name, err)
	}
	in := &Instance{cfg: inst, opts: opts, log: log, conn: conn, cmds: make(chan func(time.Time) []vrrp.Action)}
	for _, v := range inst.VIPs {
		dev := v.Dev
		if dev == "" {
			dev = inst.Interface
		}
		in.vips = append(in.vips, netif.VIP{Prefix: v.Prefix, Dev: dev, Label: v.Label})
		in.addrs = append(in.addrs, v.Prefix.Addr())
	}
	// VIPs left behind by a crashed run go first, before anything that
	// could block (the keeper opens the shared storage after this): a host
	// must never answer for a VIP it does not hold.
	if removed, err := netif.RemoveLeftoverVIPs(in.vips); err != nil {
		log.Warn("could not remove leftover VIPs", "err", err)
	} else if len(removed) > 0 {
		log.Info("removed VIPs left behind by an earlier run", "vips", fmt.Sprint(removed))
	}
	in.m, err = vrrp.NewMachine(vrrp.Config{
		Version:          inst.Version,
		Priority:         uint8(inst.Priority),
		AdvertInterval:   inst.Advert,
		StartMaster:      inst.State == config.StateMaster,
		Nopreempt:        inst.Nopreempt,
		PreemptDelay:     inst.PreemptDelay,
		Addr:             conn.Src(),
		DownTimerAdverts: inst.DownTimerAdverts,
		SoleBackup:       opts.SoleBackup,
	})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("speaker: instance %s: %w", inst.Name, err)
	}
	in.expect = vrrp.Expect{
		VRID:           uint8(inst.VRID),
		Version:        inst.Version,
		AdvertInterval: inst.Advert,
		Addrs:          in.addrs,
		Unicast:        len(inst.UnicastPeers) > 0,
	}
	if inst.AuthType == config.AuthPass && inst.Version == 2 {
		in.expect.AuthType, in.expect.Auth = vrrp.AuthPass, vrrp.PassAuth(inst.AuthPass)
	}
	if inst.CheckUnicastSrc {
		in.expect.Peers = inst.UnicastPeers
	}
	in.hooks = newHookQueue(inst, log)
	in.rejects = rejectLog{log: log, metrics: opts.Metrics, instance: inst.Name, last: map[vrrp.Reason]time.Time{}}
	in.status = in.m.Status()
	return in, nil
}

// Name is the instance's configured name.
func (in *Instance) Name() string { return in.cfg.Name }

// Status returns the machine's last state and the recent transitions.
func (in *Instance) Status() (vrrp.Status, []Transition) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.status, append([]Transition(nil), in.history...)
}

// Close releases an instance that will not be run; Run closes its own.
func (in *Instance) Close() error { return in.conn.Close() }

// Run runs the instance until ctx ends, then shuts it down the keepalived
// way: a master sends priority 0 and removes its VIPs; STOP hooks run.
func (in *Instance) Run(ctx context.Context) error {
	defer in.Close()
	fs, err := netif.OpenFrameSender(in.cfg.Interface)
	if err != nil {
		return fmt.Errorf("speaker: instance %s: %w", in.cfg.Name, err)
	}
	in.frameSender = fs
	defer fs.Close()
	if in.frames, err = netif.AnnounceFrames(in.cfg.Interface, in.addrs); err != nil {
		in.log.Warn("cannot build gratuitous ARP/NA frames yet", "err", err)
	}

	recvCtx, stopRecv := context.WithCancel(context.Background())
	packets := make(chan netif.Received, 16)
	go in.receive(recvCtx, packets)
	defer stopRecv()

	tracks, err := in.startTracks(ctx)
	if err != nil {
		return err
	}

	timer, err := netif.NewTimer()
	if err != nil {
		return fmt.Errorf("speaker: instance %s: %w", in.cfg.Name, err)
	}
	defer timer.Close()
	in.apply(ctx, in.m.Start(time.Now()))
	for {
		if d := in.m.Deadline(); !d.IsZero() {
			timer.Reset(time.Until(d))
		} else {
			timer.Stop()
		}
		select {
		case <-ctx.Done():
			in.shutdown()
			return nil
		case now := <-timer.C:
			in.apply(ctx, in.m.Tick(now))
		case r := <-packets:
			in.apply(ctx, in.handlePacket(r))
		case t := <-tracks:
			if t.name == "interface "+in.cfg.Interface {
				in.linkDown = !t.ok
				if t.ok {
					in.frames = nil // the MAC or forwarding may have changed
				}
			}
			in.apply(ctx, in.m.SetTrack(t.name, t.weight, t.ok, time.Now()))
		case cmd := <-in.cmds:
			in.apply(ctx, cmd(time.Now()))
		case err := <-in.gateDone():
			in.apply(ctx, in.gateFinished(ctx, err))
		}
	}
}

// do runs fn on the instance's loop and waits for it to be carried out.
func (in *Instance) do(ctx context.Context, fn func(m *vrrp.Machine, now time.Time) []vrrp.Action) error {
	done := make(chan struct{})
	cmd := func(now time.Time) []vrrp.Action {
		defer close(done)
		return fn(in.m, now)
	}
	select {
	case in.cmds <- cmd:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Resign makes a master hand over at once (priority-0 advert).
func (in *Instance) Resign(ctx context.Context, reason string) error {
	return in.do(ctx, func(m *vrrp.Machine, now time.Time) []vrrp.Action { return m.Resign(reason, now) })
}

// Inhibit holds the instance out of MASTER (on) or lifts the hold.
func (in *Instance) Inhibit(ctx context.Context, reason string, on bool) error {
	return in.do(ctx, func(m *vrrp.Machine, now time.Time) []vrrp.Action { return m.Inhibit(reason, on, now) })
}

// Track sets the result of a check its owner runs itself (the keeper's
// native checks) with track_script semantics: weight 0 failing means FAULT,
// otherwise the weight moves the effective priority.
func (in *Instance) Track(ctx context.Context, name string, weight int, ok bool) error {
	return in.do(ctx, func(m *vrrp.Machine, now time.Time) []vrrp.Action { return m.SetTrack(name, weight, ok, now) })
}

// receive reads packets until ctx ends; the loop validates them.
func (in *Instance) receive(ctx context.Context, out chan<- netif.Received) {
	for {
		r, err := in.conn.Recv(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			in.log.Warn("VRRP receive failed", "err", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		select {
		case out <- r:
		case <-ctx.Done():
			return
		}
	}
}

// handlePacket parses and checks a packet; rejected ones are counted and
// logged (rate-limited) and, as in keepalived, treated as never received.
func (in *Instance) handlePacket(r netif.Received) []vrrp.Action {
	p, err := vrrp.Parse(r.Payload, r.Src, r.Dst)
	if err == nil {
		err = in.expect.Check(p, r.Src, r.Dst, r.TTL)
	}
	if err != nil {
		in.rejects.note(err, r.Src)
		return nil
	}
	in.opts.Metrics.received(in.cfg.Name)
	return in.m.Receive(p, r.Src, time.Now())
}

// apply carries out the machine's actions in order. Entering MASTER is
// special: the gate runs after our first advert (which makes a live
// lower-priority master yield and release the storage lease) and before the
// VIPs are added, so the transition is carried out when the gate says yes
// (gateFinished); if it refuses, the instance is inhibited, and the
// priority-0 adverts of that hand the election back at once.
func (in *Instance) apply(ctx context.Context, acts []vrrp.Action) {
	for _, act := range acts {
		switch a := act.(type) {
		case vrrp.ActionSendAdvert:
			in.sendAdvert(a.Priority)
		case vrrp.ActionStateChange:
			if a.To == vrrp.StateMaster && in.opts.Gate != nil {
				in.entering = &a
				in.nextGateCall(ctx)
				continue
			}
			if a.From == vrrp.StateMaster && in.entering != nil {
				// Left MASTER before the gate said yes: stop asking.
				in.entering = nil
				if in.gateCall != nil && in.gateCall.kind == gateEnter {
					in.gateCall.cancel()
				}
			}
			in.changeState(ctx, a)
		case vrrp.ActionLowerPriorityMaster:
			in.log.Info("advert from a lower-priority router that thinks it is master: forcing new election",
				"from", a.From, "priority", a.Priority)
			if in.holding { // no VIPs to announce while the gate is still deciding
				in.announceOnce()
			}
		}
	}
	in.mu.Lock()
	in.status = in.m.Status()
	in.mu.Unlock()
}

// GateReason is the inhibit reason used when the gate refuses MASTER; the
// gate's owner lifts it with Inhibit(GateReason, false).
const GateReason = "gate refused master"

// startGate runs a Gate method on its own goroutine; its result arrives on
// the loop through gateDone.
func (in *Instance) startGate(ctx context.Context, kind gateKind) {
	ctx, cancel := context.WithCancel(ctx)
	c := &gateCall{kind: kind, cancel: cancel, done: make(chan error, 1)}
	in.gateCall = c
	go func() {
		switch kind {
		case gateEnter:
			c.done <- in.opts.Gate.BecomeMaster(ctx)
			return
		case gateHandOver:
			in.opts.Gate.(Handover).HandOver(ctx)
		case gateLeave:
			in.opts.Gate.LeftMaster(ctx)
		}
		c.done <- nil
	}()
}

// nextGateCall asks the gate about a pending MASTER transition unless a
// call (a LeftMaster still stopping the service) is running: calls never
// overlap.
func (in *Instance) nextGateCall(ctx context.Context) {
	if in.gateCall == nil && in.entering != nil {
		in.startGate(ctx, gateEnter)
	}
}

// gateDone is the running gate call's result channel (nil, never ready,
// when none runs).
func (in *Instance) gateDone() <-chan error {
	if in.gateCall == nil {
		return nil
	}
	return in.gateCall.done
}

// gateFinished handles the end of the running gate call.
func (in *Instance) gateFinished(ctx context.Context, err error) []vrrp.Action {
	c := in.gateCall
	in.gateCall = nil
	c.cancel()
	var acts []vrrp.Action
	switch {
	case c.kind == gateHandOver:
		in.removeVIPs()
		in.startGate(ctx, gateLeave)
	case c.kind == gateLeave:
	case in.entering == nil:
		// MASTER was left while the gate was deciding: give back what it
		// took.
		if err == nil {
			in.startGate(ctx, gateLeave)
		}
	case err == nil:
		change := *in.entering
		in.entering = nil
		in.changeState(ctx, change)
	default:
		in.entering = nil
		in.log.Warn("not taking over: gate refused", "err", err)
		acts = in.m.Inhibit(GateReason, true, time.Now())
	}
	in.nextGateCall(ctx)
	return acts
}

func (in *Instance) sendAdvert(prio uint8) {
	if in.linkDown {
		in.log.Debug("advert not sent: interface down", "priority", prio)
		return
	}
	p := vrrp.Packet{
		Version:        in.cfg.Version,
		VRID:           uint8(in.cfg.VRID),
		Priority:       prio,
		AuthType:       in.expect.AuthType,
		Auth:           in.expect.Auth,
		AdvertInterval: in.cfg.Advert,
		Addrs:          in.addrs,
	}
	for _, dst := range in.conn.Destinations() {
		b, err := p.Marshal(in.conn.Src(), dst)
		if err == nil {
			err = in.conn.Send(b, dst)
		}
		if err != nil {
			in.log.Warn("advert not sent", "dst", dst, "err", err)
			continue
		}
		in.opts.Metrics.sent(in.cfg.Name)
	}
}

// changeState carries out a transition: VIPs, announcements, hooks, logs.
func (in *Instance) changeState(ctx context.Context, c vrrp.ActionStateChange) {
	if c.From == vrrp.StateMaster && in.holding {
		in.holding = false
		in.stopAnnounce()
		// None runs: holding means BecomeMaster returned.
		if _, ok := in.opts.Gate.(Handover); ok {
			in.startGate(ctx, gateHandOver)
		} else {
			in.removeVIPs()
			if in.opts.Gate != nil {
				in.startGate(ctx, gateLeave)
			}
		}
	}
	if c.To == vrrp.StateMaster {
		in.holding = true
		for _, v := range in.vips {
			if err := netif.AddVIP(v); err != nil {
				in.log.Error("could not add VIP", "vip", v, "err", err)
			}
		}
		in.startAnnounce()
	}
	in.log.Info("transition", "from", c.From.String(), "to", c.To.String(), "priority", c.Priority, "reason", c.Reason)
	t := Transition{At: time.Now(), From: c.From, To: c.To, Priority: c.Priority, Reason: c.Reason}
	in.mu.Lock()
	in.history = append(in.history, t)
	if len(in.history) > historyLen {
		in.history = in.history[len(in.history)-historyLen:]
	}
	in.mu.Unlock()
	in.opts.Metrics.transition(in.cfg.Name, c.To)
	in.hooks.notify(c.To, c.Priority)
	if in.opts.OnTransition != nil {
		in.opts.OnTransition(t)
	}
}

func (in *Instance) removeVIPs() {
	for _, v := range in.vips {
		if err := netif.DelVIP(v); err != nil {
			in.log.Error("could not remove VIP", "vip", v, "err", err)
		}
	}
}

func (in *Instance) announceConfig() netif.AnnounceConfig {
	g := in.cfg.GARP
	ac := netif.AnnounceConfig{Delay: g.MasterDelay, Repeat: g.MasterRepeat, Refresh: g.MasterRefresh,
		RefreshRepeat: g.MasterRefreshRepeat, Interval: g.Interval}
	if in.addrs[0].Is6() {
		ac.Interval = g.NAInterval
	}
	return ac
}

// startAnnounce runs keepalived's GARP/NA schedule until MASTER is left.
func (in *Instance) startAnnounce() {
	in.runAnnouncer(in.announceConfig())
}

// announceOnce sends one lower-priority burst (keepalived
// garp_lower_prio_repeat) to pull traffic back after a split brain.
func (in *Instance) announceOnce() {
	g := in.cfg.GARP
	in.runAnnouncer(netif.AnnounceConfig{Repeat: g.LowerPrioRepeat, Delay: g.LowerPrioDelay, RefreshRepeat: 1})
}

// announceFrames returns the GARP/NA frames, built on first use (nil if
// they cannot be built now).
func (in *Instance) announceFrames() [][]byte {
	if in.frames == nil {
		frames, err := netif.AnnounceFrames(in.cfg.Interface, in.addrs)
		if err != nil {
			in.log.Warn("cannot build gratuitous ARP/NA frames", "err", err)
			return nil
		}
		in.frames = frames
	}
	return in.frames
}

func (in *Instance) runAnnouncer(ac netif.AnnounceConfig) {
	frames := in.announceFrames()
	if frames == nil {
		return
	}
	if in.announce == nil {
		ctx, cancel := context.WithCancel(context.Background())
		in.announce = cancel
		in.announceCtx = ctx
	}
	a := &netif.Announcer{Config: ac, Sender: in.frameSender, Frames: frames, Logger: in.log}
	// The burst starts here, before the transition is reported: the claim
	// follows the VIP at once (keepalived's reaction), and a peer handing
	// its clients over releases them when it hears of it, so they must
	// reach this host by then.
	a.SendFirst()
	in.announceWG.Add(1)
	go func(ctx context.Context) {
		defer in.announceWG.Done()
		if err := a.Run(ctx); err != nil {
			in.log.Warn("announcer stopped", "err", err)
		}
	}(in.announceCtx)
}

func (in *Instance) stopAnnounce() {
	if in.announce != nil {
		in.announce()
		in.announceWG.Wait()
		in.announce, in.announceCtx = nil, nil
	}
}

// shutdown: priority 0 if master, VIPs removed, STOP hooks (bounded).
func (in *Instance) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	in.apply(ctx, in.m.Shutdown(time.Now()))
	for in.gateCall != nil { // the owner's service is stopped before Run returns
		in.apply(ctx, in.gateFinished(ctx, <-in.gateCall.done))
	}
	in.hooks.close(2 * time.Second)
}
