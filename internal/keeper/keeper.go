package keeper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/milvus-ha/milvus-ha/internal/config"
	"github.com/milvus-ha/milvus-ha/internal/guard"
	"github.com/milvus-ha/milvus-ha/internal/service"
	"github.com/milvus-ha/milvus-ha/internal/speaker"
	"github.com/milvus-ha/milvus-ha/internal/vrrp"
)

// vrrpInstance is what the keeper needs of its VRRP speaker
// (*speaker.Instance); unit tests of the control API use a fake.
type vrrpInstance interface {
	Run(ctx context.Context) error
	Close() error
	Status() (vrrp.Status, []speaker.Transition)
	Inhibit(ctx context.Context, reason string, on bool) error
	Track(ctx context.Context, name string, weight int, ok bool) error
}

// Keeper runs one node of an HA pair: a VRRP instance whose gate takes the
// storage lease and brings the protected service up before the VIP is
// added, and takes it down (then releases the lease) after the VIP is gone.
type Keeper struct {
	cfg     *config.Config
	inst    *config.Instance
	log     *slog.Logger
	reg     *prometheus.Registry
	timing  guard.Timing
	metrics *metrics

	speaker vrrpInstance
	svc     protected
	ext     *external // svc, for the external kinds
	checks  []*checkDef
	beacon  *beaconFile

	evalMu sync.Mutex // serialises evaluate

	mu           sync.Mutex
	active       bool
	activating   bool
	serving      bool // MASTER past the gate: the VIP is here
	leaving      bool // HandOver or LeftMaster is stopping the service
	paused       bool
	blocked      string // why the gate last refused ("peer alive on storage: ...")
	policy       checkPolicy
	checkHold    bool   // the check inhibit is on
	checkWhy     string // the policy's last reason
	peers        peerWatch
	peerErr      string
	beaconErr    error // the last write of this node's beacon
	wd           *watchdog
	wdPets       uint64
	stopServices context.CancelFunc // stops the service checks
	handoff      *handoff           // begun by a switchover, for HandOver
	stepping     *handoff           // a handover's step still running, for LeftMaster
	events       []Event
}

// Event is one entry of the keeper's history (status API, `milvus-ha history`).
type Event struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"` // start, transition, promote, demote, refused, fenced, check, handover, switchover, pause, resume, watchdog
	Detail string    `json:"detail"`
}

const historyLen = 64

// The inhibit reasons the keeper sets.
const (
	reasonSwitchover = "planned switchover (POST /resume to rejoin)"
	reasonChecks     = "health checks"
)

// serviceHold is how long a node whose service failed stays out after
// handing over (see checkPolicy).
const serviceHold = 60 * time.Second

// leasePoll bounds how often the storage lease is read (guard.Timing's
// PollInterval) by the standby's watch and a takeover.
const leasePoll = 10 * time.Millisecond

// Options tune a Keeper.
type Options struct {
	Logger  *slog.Logger
	Version string // reported by the Milvus API
}

// New checks a native configuration with a keeper section and prepares the
// node: the embedded store opens as a warm standby, or, for an external
// service, the lease files are opened and a service found running is
// stopped (this node is not the owner); then the VRRP socket opens.
// Nothing is served until Run.
func New(ctx context.Context, cfg *config.Config, opts Options) (*Keeper, error) {
	if cfg.Keeper == nil {
		return nil, errors.New("keeper: the configuration has no keeper section (a keepalived.conf runs the VRRP speaker alone)")
	}
	if len(cfg.Instances) != 1 {
		return nil, fmt.Errorf("keeper: want exactly one VRRP instance, have %d", len(cfg.Instances))
	}
	if err := checkControlListen(cfg.Keeper.API); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	k := &Keeper{
		cfg:  cfg,
		inst: cfg.Instances[0],
		log:  opts.Logger.With("node", cfg.Keeper.Node),
		reg:  prometheus.NewRegistry(),
	}
	timing, err := Timing(cfg.Keeper.Timing, k.inst.Advert)
	if err != nil {
		return nil, fmt.Errorf("keeper: %w", err)
	}
	// A gate that meets the old master's last heartbeat waits one lease
	// poll for the next read (guard.Acquire): every handover pays it, so
	// read often. The reads are two small records.
	timing.PollInterval = min(timing.PollInterval, leasePoll)
	k.timing = timing
	k.policy.serviceHold = serviceHold
	k.peers.stale = max(k.inst.MasterDownInterval(), timing.LeaseTimeout)
	k.metrics = newMetrics(k.reg, k)
	if k.checks, err = k.buildChecks(); err != nil {
		return nil, err
	}
	// The speaker first: it removes a crashed run's VIPs before the service
	// touches the shared storage, which may hang.
	if k.speaker, err = speaker.New(k.inst, speaker.Options{
		Logger:       k.log,
		Metrics:      speaker.NewMetrics(k.reg),
		Gate:         k,
		Scripts:      cfg.Scripts,
		OnTransition: k.onTransition,
		// A keeper runs one node of a pair: nobody else could take over
		// on a priority-0 advert, so the peer's skew is dead time.
		SoleBackup: true,
	}); err != nil {
		return nil, err
	}
	if cfg.Keeper.Service.Kind == config.ServiceEmbedded {
		k.svc, err = newEmbedded(ctx, cfg, timing, k.log, opts.Version, k.lost, k.peerStopping)
	} else {
		k.svc, err = k.newExternal(ctx)
	}
	if err != nil {
		k.speaker.Close()
		return nil, err
	}
	if k.beacon, err = openBeacon(cfg.Keeper.DataDir, cfg.Keeper.Node); err != nil {
		k.svc.close()
		k.speaker.Close()
		return nil, err
	}
	return k, nil
}

func (k *Keeper) newExternal(ctx context.Context) (*external, error) {
	var x *external
	drv, err := newDriver(k.cfg, k.log, func(ex service.Exit) {
		if x != nil && !ex.Stopped {
			x.serviceExited(ex)
			k.serviceFailed("exited: " + ex.String())
		}
	})
	if err != nil {
		return nil, err
	}
	x, err = newExternal(ctx, k.cfg, k.timing, k.log, drv, k.lost, k.peerStopping)
	if err != nil {
		return nil, err
	}
	k.ext = x
	return x, nil
}

// Timing derives the lease timing from the configured preset and advert
// interval (see guard.PresetTiming).
func Timing(preset config.Timing, advert time.Duration) (guard.Timing, error) {
	return guard.PresetTiming(string(preset), advert)
}

// Run runs the node until ctx ends; then it steps down cleanly (the VIP
// goes first, then the service, then the lease).
func (k *Keeper) Run(ctx context.Context) error {
	ctl, err := k.startControl()
	if err != nil {
		k.speaker.Close()
		k.shutdown()
		return err
	}
	defer ctl.Close()
	k.record("start", fmt.Sprintf("node %s, VIP %v, priority %d, service %s, lease %v", k.cfg.Keeper.Node,
		k.inst.VIPs[0].Prefix, k.inst.Priority, k.cfg.Keeper.Service.Kind, k.timing.LeaseTimeout))
	stopNodeChecks := k.startChecks(ctx, false)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		k.tick(ctx)
	}()
	err = k.speaker.Run(ctx)
	stopNodeChecks()
	wg.Wait()
	k.shutdown()
	return err
}

// shutdown closes what Run leaves: the service (already stopped by the
// speaker's shutdown if this node was master), the beacon, the watchdog.
func (k *Keeper) shutdown() {
	if k.svc.busy() {
		k.log.Error("exiting while the service stop is not confirmed; the watchdog (if any) stays armed")
	}
	k.mu.Lock()
	wd := k.wd
	k.wd = nil
	k.mu.Unlock()
	if wd != nil {
		if k.svc.busy() {
			_ = wd.abandon()
		} else {
			_ = wd.disarm()
		}
	}
	k.svc.close()
	_ = k.beacon.close()
}

// tick runs the periodic work, in three loops so that storage I/O that
// hangs (the beacon, the lease observation) never delays the watchdog or
// the check policy: the standby beacon (written when ready, the peer's
// read), the check policy (hold-downs expire) and the watchdog, and for an
// external service the lease observation.
func (k *Keeper) tick(ctx context.Context) {
	every := func(d time.Duration, fn func()) func() {
		return func() {
			t := time.NewTicker(d)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					fn()
				}
			}
		}
	}
	var wg sync.WaitGroup
	wg.Go(every(k.timing.HeartbeatInterval, k.tickBeacon))
	if k.ext != nil {
		wg.Go(every(k.timing.PollInterval, k.ext.observe))
	}
	every(k.timing.HeartbeatInterval, func() {
		k.tickWatchdog()
		k.evaluate(ctx)
	})()
	wg.Wait()
}

// tickWatchdog pets the watchdog while the lease is valid, and disarms it
// once the service is down and this node is not (becoming) active.
func (k *Keeper) tickWatchdog() {
	k.mu.Lock()
	wd, active := k.wd, k.active || k.activating
	k.mu.Unlock()
	if wd == nil {
		return
	}
	busy := k.svc.busy()
	switch {
	case !active && !busy:
		k.mu.Lock()
		k.wd = nil
		k.mu.Unlock()
		if err := wd.disarm(); err != nil {
			k.log.Warn("watchdog", "err", err)
		}
	case k.svc.mayServe() && !k.svc.escalate():
		if err := wd.pet(); err != nil {
			k.log.Error("watchdog", "err", err)
			return
		}
		k.mu.Lock()
		k.wdPets++
		k.mu.Unlock()
	}
}

func (k *Keeper) tickBeacon() {
	now := time.Now()
	k.writeBeacon()
	b, ok, err := readPeerBeacon(k.cfg.Keeper.DataDir, k.cfg.Keeper.Node)
	k.mu.Lock()
	defer k.mu.Unlock()
	if err != nil {
		k.peerErr = err.Error()
		k.metrics.beaconErrors.Inc()
		return
	}
	k.peerErr = ""
	k.peers.observe(now, b, ok)
}

// writeBeacon rewrites this node's beacon with its current state; a
// change the peer waits for (stopping, serving) is written at once.
func (k *Keeper) writeBeacon() {
	vs, _ := k.speaker.Status()
	k.mu.Lock()
	why := ""
	switch {
	case k.leaving:
		why = beaconStopping
	case k.serving:
		why = beaconServing
	case k.active || k.activating || vs.State == vrrp.StateMaster:
		why = beaconActive // MASTER before the gate runs, too
	case k.paused:
		why = "paused"
	case k.checkHold:
		why = k.checkWhy
	case vs.State != vrrp.StateBackup:
		why = "VRRP " + vs.State.String()
	}
	k.mu.Unlock()
	if why == "" {
		if err := k.svc.standbyReady(); err != nil {
			why = err.Error()
		}
	}
	err := k.beacon.write(why == "", why)
	if err != nil {
		k.log.Warn("standby beacon not written", "err", err)
	}
	k.mu.Lock()
	k.beaconErr = err
	k.mu.Unlock()
}

// standbyFailure is why this node, a backup, could not take over now (its
// standby is not ready, or it cannot write to the shared storage), as a
// node failure that holds it out (checkPolicy) until it is healthy again:
// a node that cannot serve must not preempt, which would only stop the
// peer's service each time its gate refuses. Nil while active, taking
// over or stepping down. k.mu held; ready is svc.standbyReady().
func (k *Keeper) standbyFailureLocked(ready error) *failure {
	if k.active || k.activating || k.leaving {
		return nil
	}
	if ready == nil && k.beaconErr != nil {
		ready = fmt.Errorf("shared storage not writable: %w", k.beaconErr)
	}
	if ready == nil {
		return nil
	}
	return &failure{Check: "standby", Detail: ready.Error()}
}

// evaluate runs the check policy and applies its verdict: the check
// inhibit on or off (on an active node: hand over at once).
func (k *Keeper) evaluate(ctx context.Context) {
	k.evalMu.Lock()
	defer k.evalMu.Unlock()
	now := time.Now()
	standby := k.svc.standbyReady()
	k.mu.Lock()
	ready, _ := k.peers.ready(now)
	alive := k.peerErr == "" && k.peers.alive(now)
	failing := k.failingLocked()
	if f := k.standbyFailureLocked(standby); f != nil {
		failing = append(failing, *f)
	}
	v := k.policy.decide(now, checkView{Active: k.active, Paused: k.paused, PeerReady: ready, PeerAlive: alive, Failing: failing})
	was, whyWas := k.checkHold, k.checkWhy
	k.checkHold, k.checkWhy = v.Inhibit, v.Reason
	active := k.active
	k.mu.Unlock()
	if v.Inhibit != was {
		if v.Inhibit && active {
			k.metrics.handovers.Inc()
			k.record("handover", v.Reason)
		} else if v.Inhibit {
			k.record("hold", v.Reason)
		} else {
			k.record("hold", "lifted: "+whyWas)
		}
		if err := k.speaker.Inhibit(ctx, reasonChecks, v.Inhibit); err != nil && ctx.Err() == nil {
			k.log.Error("could not apply the check hold", "err", err)
		}
	} else if v.Stay && v.Reason != whyWas {
		k.record("check", v.Reason)
	}
}

// BecomeMaster is the speaker's gate: (watchdog armed,) lease taken and
// the service up, in that order. Only then may the VIP be added.
func (k *Keeper) BecomeMaster(ctx context.Context) error {
	k.mu.Lock()
	paused := k.paused
	if !paused {
		k.activating = true
	}
	k.mu.Unlock()
	if paused {
		return k.refuse("paused for maintenance")
	}
	defer func() {
		k.mu.Lock()
		k.activating = false
		k.mu.Unlock()
	}()
	if path := k.cfg.Keeper.Watchdog; path != "" {
		k.mu.Lock()
		wd := k.wd
		k.mu.Unlock()
		if wd == nil {
			wd, err := openWatchdog(path, k.timing.ServeWindow())
			if err != nil {
				return k.refuse(err.Error())
			}
			if wd.timeout >= k.timing.LeaseTimeout {
				k.log.Warn("the watchdog timeout exceeds the lease timeout: a hung keeper's service may outlive its lease by the difference",
					"watchdog_timeout", wd.timeout, "lease_timeout", k.timing.LeaseTimeout)
			}
			k.mu.Lock()
			k.wd = wd
			k.mu.Unlock()
			k.record("watchdog", "armed: "+path)
		}
	}
	start := time.Now()
	if err := k.svc.activate(ctx); err != nil {
		if errors.Is(err, guard.ErrPeerAlive) {
			return k.refuse("peer alive on storage: " + err.Error())
		}
		if errors.Is(err, errServiceFailed) {
			// The service failed here: stay out while the peer serves
			// (checkPolicy), rather than preempt again after the refusal
			// and stop the peer's service each time.
			k.mu.Lock()
			k.policy.serviceFailed(time.Now(), "did not start: "+err.Error())
			k.mu.Unlock()
			k.evaluate(context.Background())
		}
		return k.refuse(err.Error())
	}
	stop := k.startChecks(context.Background(), true)
	k.mu.Lock()
	k.active, k.blocked, k.stopServices = true, "", stop
	k.mu.Unlock()
	k.metrics.promoteSeconds.Observe(time.Since(start).Seconds())
	k.record("promote", fmt.Sprintf("lease taken and %s serving in %v", k.cfg.Keeper.Service.Kind, time.Since(start).Round(time.Millisecond)))
	return nil
}

// refuse records why the gate said no and arranges a retry: the inhibit is
// lifted after a lease timeout, so the VRRP instance goes back to BACKUP and
// tries again after its down timer unless the peer advertises.
func (k *Keeper) refuse(why string) error {
	k.mu.Lock()
	k.blocked = why
	k.mu.Unlock()
	k.record("refused", why)
	k.metrics.refusals.Inc()
	go func() {
		time.Sleep(k.timing.LeaseTimeout)
		k.mu.Lock()
		paused := k.paused
		k.mu.Unlock()
		if !paused {
			_ = k.speaker.Inhibit(context.Background(), speaker.GateReason, false)
		}
	}()
	return errors.New(why)
}

// HandOver runs when this node leaves MASTER, the VIP still here. On a
// planned move (the peer is a ready standby or already taking over) the
// service gives the lease up while the VIP stays: the embedded one holds
// new client calls, lets those in flight finish and closes the store; an
// external one is stopped. The peer's gate takes the lease at once. Held
// calls go back to their clients, to be retried at the VIP, as soon as the
// peer's beacon says it serves there: a retrying client sees a slow call,
// not a failed one. Otherwise it returns at once. The service's step is
// bounded (handoverStep): on hung storage the VIP must still go. LeftMaster
// follows either way, after the VIP is gone. A switchover begins the
// handover before it resigns, so that the peer finds the lease free.
func (k *Keeper) HandOver(ctx context.Context) {
	k.mu.Lock()
	h := k.handoff
	k.handoff = nil
	k.mu.Unlock()
	if h == nil {
		var err error
		if h, err = k.beginHandOver(); err != nil {
			k.log.Info("not handing clients over", "reason", err)
			return
		}
	}
	if err := h.wait(ctx, k.handoverStep()); err != nil {
		k.log.Warn("not handing clients over", "reason", err)
		k.mu.Lock()
		k.stepping = h // LeftMaster waits for it
		k.mu.Unlock()
		return
	}
	waited := k.waitPeerServing(ctx, h.peer, h.start.Add(h.free+handoverOverlap))
	h.release()
	took := time.Since(h.start).Round(time.Millisecond)
	if waited == nil {
		k.record("handover", fmt.Sprintf("clients handed over to %s in %v (lease released after %v)", h.peer.Node, took, h.free.Round(time.Millisecond)))
	} else {
		k.record("handover", fmt.Sprintf("clients released after %v without a sign that %s serves: %v", took, h.peer.Node, waited))
	}
}

// handoff is a planned handover under way: the service's step (hold the
// clients, release the lease) runs on its own goroutine until done.
type handoff struct {
	peer  beacon    // the peer's beacon when it began
	start time.Time // when it began
	done  chan struct{}
	// Set before done is closed:
	release func() // hands the held calls back (nil after an error)
	err     error
	free    time.Duration // start → lease released
}

// wait waits up to bound (from the start) for the service's step; nil
// once the lease is released and the clients are held.
func (h *handoff) wait(ctx context.Context, bound time.Duration) error {
	t := time.NewTimer(time.Until(h.start.Add(bound)))
	defer t.Stop()
	select {
	case <-h.done:
		return h.err
	case <-t.C:
		return fmt.Errorf("the service has not given the lease up after %v", bound)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// finish waits for the service's step without bound and hands back the
// calls it held. LeftMaster calls it after a handover gave up waiting.
func (h *handoff) finish() {
	<-h.done
	if h.release != nil {
		h.release()
	}
}

// handoverStep bounds the service's step of a handover: the drain, then
// closing the store (or stopping an external service) and the release.
func (k *Keeper) handoverStep() time.Duration { return handoverDrain + k.timing.LeaseTimeout }

// beginHandOver stops this node's service checks, tells the peer that it
// steps down and, if the peer is up to take over, starts the service's
// step of the handover.
func (k *Keeper) beginHandOver() (*handoff, error) {
	k.leave()
	if !k.peerTakesOver() {
		return nil, errors.New("the peer is not ready to take over")
	}
	k.mu.Lock()
	peer := k.peers.last
	k.mu.Unlock()
	h := &handoff{peer: peer, start: time.Now(), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		// Not the caller's context: the step must run to its end (a stop
		// must be confirmed); it bounds its own waits.
		h.release, h.err = k.svc.handOver(context.Background())
		h.free = time.Since(h.start)
	}()
	return h, nil
}

// peerTakesOver says whether the peer is up to take over now: VRRP says
// it is master (it preempts), or its beacon, read afresh (the periodic read
// may be a heartbeat old), says it is a ready standby or active.
func (k *Keeper) peerTakesOver() bool {
	if vs, _ := k.speaker.Status(); vs.State == vrrp.StateBackup && vs.Master.IsValid() && vs.MasterPriority > 0 {
		return true
	}
	read := make(chan struct{})
	go func() {
		defer close(read)
		b, ok, err := readPeerBeacon(k.cfg.Keeper.DataDir, k.cfg.Keeper.Node)
		if err == nil {
			k.mu.Lock()
			k.peers.observe(time.Now(), b, ok)
			k.mu.Unlock()
		}
	}()
	select {
	case <-read:
	case <-time.After(peerReadMax): // storage slow: decide on the last read
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.peerErr == "" && k.peers.up(time.Now())
}

// peerReadMax bounds the fresh read of the peer's beacon at a handover.
const peerReadMax = 50 * time.Millisecond

// Bounds of a planned handover: how long calls in flight may take to
// finish before the store closes under them, how long this node keeps the
// VIP after it released the lease while it waits for the peer to serve,
// and how often the peer's beacon is read meanwhile.
//
// handoverOverlap bounds the time both hosts may hold the VIP: the peer
// adds it only once it holds the lease, so waiting at most this long after
// the release keeps the overlap inside the announcement window (200 ms,
// checked by test/chaos) even when this node's storage is too slow to show
// the peer's beacon in time. A peer slower than that to serve (an external
// service's cold start, a loaded host) finds the VIP gone and the held
// calls handed back: clients retry a moment early, never at two servers.
const (
	handoverDrain   = time.Second
	handoverOverlap = 150 * time.Millisecond
	beaconPoll      = 2 * time.Millisecond
)

// waitPeerServing waits until the peer's beacon, rewritten since from was
// read, says it serves at the VIP. It gives up when the beacon says the
// peer no longer takes over, when it stops moving, or at deadline; a read
// of the beacon that storage holds past the deadline is not waited for.
func (k *Keeper) waitPeerServing(ctx context.Context, from beacon, deadline time.Time) error {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	type read struct {
		b   beacon
		ok  bool
		err error
	}
	reads := make(chan read, 1)
	t := time.NewTicker(beaconPoll)
	defer t.Stop()
	w := peerWatch{stale: k.peers.stale}
	w.observe(time.Now(), from, true)
	for {
		go func() {
			b, ok, err := readPeerBeacon(k.cfg.Keeper.DataDir, k.cfg.Keeper.Node)
			reads <- read{b, ok, err}
		}()
		var r read
		select {
		case r = <-reads:
		case <-ctx.Done():
			return ctx.Err()
		}
		b, ok, err := r.b, r.ok, r.err
		now := time.Now()
		if err == nil {
			w.observe(now, b, ok)
		}
		switch {
		case w.moved && w.last.Why == beaconServing:
			return nil
		case w.moved && !w.up(now):
			return fmt.Errorf("%s is not taking over: %s", w.last.Node, w.last.Why)
		case now.Sub(w.changed) > w.stale:
			return fmt.Errorf("the beacon of %s has not moved for %v", from.Node, now.Sub(w.changed).Round(time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// leave marks the node as no longer active (stopping), stops the service
// checks and tells the peer: its gate waits for our release while it sees
// us stopping, instead of refusing after a lease timeout.
func (k *Keeper) leave() {
	k.mu.Lock()
	stop, was := k.stopServices, k.leaving
	k.active, k.stopServices, k.leaving = false, nil, true
	k.mu.Unlock()
	if !was {
		go k.writeBeacon() // not on this goroutine: the storage may be what failed
	}
	if stop != nil {
		stop()
	}
}

// LeftMaster runs after the VIP was removed: stop the service checks, then
// the service, then release the lease.
func (k *Keeper) LeftMaster(ctx context.Context) {
	k.leave()
	k.mu.Lock()
	h := k.stepping
	k.stepping = nil
	k.mu.Unlock()
	if h != nil {
		h.finish()
	}
	defer func() {
		k.mu.Lock()
		k.leaving = false
		k.mu.Unlock()
	}()
	if err := k.svc.deactivate(ctx); err != nil {
		k.metrics.stopFailures.Inc()
		k.record("stop-failed", err.Error()+"; keeping the lease and retrying")
	} else {
		k.record("demote", "left MASTER: service stopped, lease released")
	}
	k.tickWatchdog()
}

// peerStopping says whether the peer's beacon, fresh, says it is stepping
// down (it left MASTER and is stopping its service).
func (k *Keeper) peerStopping() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	p := k.peers
	return p.moved && p.last.Why == beaconStopping && time.Since(p.changed) <= p.stale
}

// lost is called when the service lost the right to serve on its own
// (lease lost, store fenced): the VIP must go before the peer takes over.
func (k *Keeper) lost(why string) {
	if !k.isActive() {
		return
	}
	k.record("fenced", why)
	k.log.Error("stepping down", "reason", why)
	_ = k.speaker.Inhibit(context.Background(), speaker.GateReason, true)
	k.refuse(why)
}

func (k *Keeper) onTransition(t speaker.Transition) {
	if t.To == vrrp.StateMaster || t.From == vrrp.StateMaster {
		k.mu.Lock()
		k.serving = t.To == vrrp.StateMaster
		k.mu.Unlock()
		if t.To == vrrp.StateMaster {
			// A peer handing its clients over waits for this.
			go k.writeBeacon()
		}
	}
	k.record("transition", fmt.Sprintf("%s -> %s (priority %d): %s", t.From, t.To, t.Priority, t.Reason))
}

func (k *Keeper) record(kind, detail string) {
	k.mu.Lock()
	k.events = append(k.events, Event{At: time.Now(), Kind: kind, Detail: detail})
	if len(k.events) > historyLen {
		k.events = k.events[len(k.events)-historyLen:]
	}
	k.mu.Unlock()
	k.log.Info(kind, "detail", detail)
}
