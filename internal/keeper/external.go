package keeper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/config"
	"github.com/milvus-ha/milvus-ha/internal/guard"
	"github.com/milvus-ha/milvus-ha/internal/service"
)

// Bounds of the external service's steps. Start blocks the speaker's gate
// (no VIP before the service is up); a Milvus container may take a minute
// to report healthy.
const (
	startTimeout = 2 * time.Minute
	// stopGrace is added to the driver's own stop timeout before a Stop is
	// counted as failed.
	stopGrace = 5 * time.Second
	// stopEscalateAfter failed stops (while the lease is still held and
	// renewed) end the watchdog's petting: with a watchdog the host then
	// resets, which is the only certain stop left.
	stopEscalateAfter = 3
	// stopRetryMax bounds the delay between two stop attempts.
	stopRetryMax = 10 * time.Second
	// readyInterval is how often a starting exec child's address is probed.
	readyInterval = 5 * time.Millisecond
)

// external is a service the keeper starts and stops through a driver
// (docker, exec, systemd). It knows nothing of the lease, so the keeper is
// its fence (DESIGN.md): the keeper takes the lease itself, starts the
// service only while holding it, keeps renewing it until a stop is
// certain, and stops the service at once when the lease is lost.
type external struct {
	timing  guard.Timing
	log     *slog.Logger
	g       *guard.Guard
	drv     service.Driver
	address string // Milvus gRPC address, "" if not configured
	// lost tells the keeper that the lease ended under a running service.
	lost func(why string)
	// peerStopping: the peer says it is stepping down (handover wait).
	peerStopping func() bool

	mu           sync.Mutex
	hbCancel     context.CancelFunc
	hbDone       chan struct{}
	running      bool // Start was called and no Stop confirmed since
	stopPending  bool // a failed Stop is being retried in the background
	stopFailures int
	exited       string // an exit of the service the driver reported while running
	observed     guard.Status
	observeErr   error
	stopWatch    context.CancelFunc
	watchDone    chan struct{}
}

func newExternal(ctx context.Context, cfg *config.Config, timing guard.Timing, log *slog.Logger, drv service.Driver, lost func(string), peerStopping func() bool) (*external, error) {
	x := &external{timing: timing, log: log, drv: drv, address: cfg.Keeper.Service.Address, lost: lost, peerStopping: peerStopping}
	g, err := guard.Open(cfg.Keeper.DataDir, cfg.Keeper.Node, timing, guard.WithLogger(log), guard.WithOnLost(x.leaseLost))
	if err != nil {
		return nil, fmt.Errorf("keeper: %w", err)
	}
	x.g = g
	// Not the owner yet: whatever runs was started by someone else (an
	// earlier keeper, an operator, a container restart policy) and is not
	// fenced by us. Stop it before anything else.
	sctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	was, err := service.EnsureStopped(sctx, drv)
	if err != nil {
		g.Close()
		return nil, fmt.Errorf("keeper: %w", err)
	}
	if was {
		log.Warn("the service was running on a node that does not hold the lease; stopped it", "service", drv.Name())
	}
	// Watch the lease from now on, so that a takeover decides from the
	// holder's history instead of starting a lease-timeout wait. The watch
	// idles while this node holds the lease and starts a fresh window
	// whenever it is a standby again.
	wctx, stop := context.WithCancel(context.Background())
	x.stopWatch, x.watchDone = stop, make(chan struct{})
	go func() {
		defer close(x.watchDone)
		_ = g.Watch(wctx)
	}()
	return x, nil
}

// newDriver builds the driver for an external service kind.
func newDriver(cfg *config.Config, log *slog.Logger, onExit func(service.Exit)) (service.Driver, error) {
	s := cfg.Keeper.Service
	// With an address, every driver's Start waits until Milvus answers
	// CheckHealth there: the gate waits on it before the VIP moves (a
	// container or unit is "running" long before its server answers).
	var ready func(ctx context.Context) error
	if s.Address != "" {
		ready = func(ctx context.Context) error { return service.CheckMilvusGRPC(ctx, s.Address) }
	}
	switch s.Kind {
	case config.ServiceExec:
		// Poll the probe often (a refused local connection costs
		// microseconds).
		ec := service.ExecConfig{Args: s.Command, Logger: log, OnExit: onExit, Ready: ready, ReadyInterval: readyInterval}
		switch s.Restart {
		case "on-failure":
			ec.Restart = service.RestartPolicy{Mode: service.RestartOnFailure}
		case "always":
			// A clean exit of an HA service is a failure too; the keeper
			// hands over on any exit when a standby is ready, so the
			// policy only matters when no standby is.
			ec.Restart = service.RestartPolicy{Mode: service.RestartOnFailure, MaxRestarts: -1}
		}
		return service.NewExec(ec)
	case config.ServiceDocker:
		cli, err := service.NewDockerClient()
		if err != nil {
			return nil, fmt.Errorf("keeper: docker: %w", err)
		}
		return service.NewDocker(cli, service.DockerConfig{Container: s.Container, Ready: ready, Logger: log})
	case config.ServiceSystemd:
		return service.NewSystemd(service.SystemdConfig{Unit: s.Unit, Ready: ready, Logger: log})
	}
	return nil, fmt.Errorf("keeper: service kind %q has no driver", s.Kind)
}

// activate: lease (waiting briefly for a handing-over peer to release it),
// heartbeat, then the service.
func (x *external) activate(ctx context.Context) error {
	x.mu.Lock()
	pending := x.stopPending
	x.mu.Unlock()
	if pending {
		return errors.New("the previous stop of the service is not confirmed yet")
	}
	actx, cancel := context.WithTimeout(ctx, startTimeout)
	err := retryHandover(actx, x.timing, x.peerStopping, func(ctx context.Context) error {
		_, err := x.g.Acquire(ctx)
		return err
	})
	cancel()
	if err != nil {
		return err
	}
	hctx, hcancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := x.g.Heartbeat(hctx); err != nil && hctx.Err() == nil {
			x.log.Error("lease heartbeat ended", "err", err)
		}
	}()
	x.mu.Lock()
	x.hbCancel, x.hbDone, x.running, x.exited = hcancel, done, true, ""
	x.mu.Unlock()

	sctx, cancel := context.WithTimeout(ctx, startTimeout)
	err = x.drv.Start(sctx)
	cancel()
	if err != nil {
		// The service's own failure, unless the lease ended under it (the
		// keeper stopped it) or the takeover was called off.
		if ctx.Err() == nil && x.g.MayServe() == nil {
			err = fmt.Errorf("%w: %w", errServiceFailed, err)
		}
		serr := x.deactivate(ctx)
		return errors.Join(fmt.Errorf("start %s: %w", x.drv.Name(), err), serr)
	}
	return nil
}

// handOver stops the service and releases the lease while the VIP is
// still here: the keeper cannot hold an external service's clients, but
// until the peer serves (at most handoverOverlap after the release), their
// new connections are refused here at once rather than lost on a VIP
// nobody holds, so they retry at once.
func (x *external) handOver(ctx context.Context) (func(), error) {
	if err := x.deactivate(ctx); err != nil {
		return nil, err
	}
	return func() {}, nil
}

// deactivate stops the service and releases the lease, in that order; the
// lease is released only after the driver confirmed the stop.
func (x *external) deactivate(ctx context.Context) error {
	x.mu.Lock()
	running, pending := x.running, x.stopPending
	x.mu.Unlock()
	if pending {
		return errors.New("a stop of the service is already being retried")
	}
	if !running {
		x.release(ctx)
		return nil
	}
	if err := x.stopOnce(ctx); err != nil {
		x.mu.Lock()
		x.stopPending = true
		x.mu.Unlock()
		go x.retryStop()
		return err
	}
	x.release(ctx)
	return nil
}

func (x *external) stopOnce(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(ctx, service.DefaultStopTimeout+stopGrace)
	defer cancel()
	err := x.drv.Stop(sctx)
	x.mu.Lock()
	defer x.mu.Unlock()
	if err != nil {
		x.stopFailures++
		x.log.Error("service stop not confirmed: keeping the storage lease", "service", x.drv.Name(), "failures", x.stopFailures, "err", err)
		return fmt.Errorf("stop %s: %w", x.drv.Name(), err)
	}
	x.running, x.stopFailures = false, 0
	return nil
}

// retryStop keeps trying until the stop is certain, then releases.
func (x *external) retryStop() {
	delay := time.Second
	for {
		time.Sleep(delay)
		if err := x.stopOnce(context.Background()); err == nil {
			break
		}
		delay = min(2*delay, stopRetryMax)
	}
	x.release(context.Background())
	x.mu.Lock()
	x.stopPending = false
	x.mu.Unlock()
	x.log.Info("service stop confirmed; lease released", "service", x.drv.Name())
}

// release ends the heartbeat and hands the lease back.
func (x *external) release(ctx context.Context) {
	x.mu.Lock()
	cancel, done := x.hbCancel, x.hbDone
	x.hbCancel, x.hbDone = nil, nil
	x.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
	if err := x.g.Release(ctx); err != nil && !errors.Is(err, guard.ErrNotHolding) {
		// Lost already (expired or taken over): nothing to hand back.
		x.log.Info("lease not released", "err", err)
	}
}

// leaseLost runs (guard's goroutine) when the held lease ended on its own:
// the peer may take over SafetyMargin from now, so the service is killed
// at once (a stop whose context has ended escalates to SIGKILL / the
// engine's kill), then the keeper steps down; deactivate confirms the stop.
func (x *external) leaseLost(err error) {
	x.mu.Lock()
	running := x.running
	x.mu.Unlock()
	if running {
		ctx, cancel := context.WithTimeout(context.Background(), x.timing.SafetyMargin/2)
		if serr := x.drv.Stop(ctx); serr == nil {
			x.mu.Lock()
			x.running = false
			x.mu.Unlock()
		}
		cancel()
	}
	x.lost("storage lease lost: " + err.Error())
}

// serviceExited records an exit of the service that nobody asked for.
func (x *external) serviceExited(ex service.Exit) {
	if ex.Stopped {
		return
	}
	x.mu.Lock()
	x.exited = ex.String()
	x.mu.Unlock()
}

func (x *external) standbyReady() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	switch {
	case x.stopPending:
		return errors.New("a stop of the service is not confirmed")
	case x.running:
		return errors.New("the service runs here")
	case x.observeErr != nil:
		return fmt.Errorf("cannot read the lease: %w", x.observeErr)
	}
	return nil
}

func (x *external) busy() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.running || x.stopPending || x.hbCancel != nil
}

func (x *external) mayServe() bool { return x.g.MayServe() == nil }

func (x *external) escalate() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.stopPending && x.stopFailures >= stopEscalateAfter
}

// check: the driver reports the service running (and it did not exit
// since the last check), and Milvus answers CheckHealth when an address
// is configured.
func (x *external) check(ctx context.Context) error {
	x.mu.Lock()
	exited := x.exited
	x.exited = ""
	x.mu.Unlock()
	if exited != "" {
		return fmt.Errorf("%s exited: %s", x.drv.Name(), exited)
	}
	st, err := x.drv.Status(ctx)
	if err != nil {
		return err
	}
	if st.State != service.StateRunning {
		return fmt.Errorf("%s is %s", x.drv.Name(), st)
	}
	if x.address != "" {
		return service.CheckMilvusGRPC(ctx, x.address)
	}
	return nil
}

// observe takes the lease watch's latest observation for the status.
func (x *external) observe() {
	st, err := x.g.Last()
	x.mu.Lock()
	x.observed, x.observeErr = st, err
	x.mu.Unlock()
}

func (x *external) role() string {
	x.mu.Lock()
	defer x.mu.Unlock()
	switch {
	case x.stopPending:
		return "stopping"
	case x.running:
		return "primary"
	}
	return "standby"
}

func (x *external) lease() leaseInfo {
	if epoch, held := x.g.Held(); held {
		return leaseInfo{Epoch: epoch, Holder: x.g.Node(), State: "active", ValidFor: max(time.Until(x.g.ValidUntil()), 0), Verdict: "held by this node"}
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.observeErr != nil {
		return leaseInfo{Verdict: "cannot read the lease: " + x.observeErr.Error()}
	}
	o := x.observed
	return leaseInfo{Epoch: o.Owner.Epoch, Holder: o.Owner.Node, State: o.Owner.State.String(), Verdict: o.Verdict.String()}
}

func (x *external) close() {
	x.stopWatch()
	<-x.watchDone
	x.g.Close()
}
