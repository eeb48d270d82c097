package keeper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/config"
	"github.com/milvus-ha/milvus-ha/internal/guard"
	"github.com/milvus-ha/milvus-ha/internal/milvusapi"
	"github.com/milvus-ha/milvus-ha/internal/service"
	"github.com/milvus-ha/milvus-ha/internal/vectordb"
)

// protected is the service the keeper keeps alive on exactly one node,
// with its storage lease. The gate calls activate before the VIP is added
// and deactivate after it is removed.
type protected interface {
	// activate takes the lease and brings the service up; nil means it
	// serves. On error nothing serves and the lease is not held (unless a
	// stop could not be confirmed, see deactivate). The error wraps
	// errServiceFailed when the service itself did not start (not the
	// lease, not a cancelled takeover).
	activate(ctx context.Context) error
	// deactivate stops the service, then releases the lease. An error
	// means the stop is not certain: the lease is kept (and renewed) and
	// the stop retried in the background until it is.
	deactivate(ctx context.Context) error
	// standbyReady is nil when this node could take over now.
	standbyReady() error
	// busy is true while the service may run here (active, or a stop not
	// yet confirmed): the watchdog stays armed.
	busy() bool
	// mayServe is true while the lease is valid: the watchdog is petted.
	mayServe() bool
	// escalate is true when a stop failed so often that only a host reset
	// (an unpetted watchdog) can end the service.
	escalate() bool
	// check is the keeper's own check of the service while active.
	check(ctx context.Context) error
	// handOver starts a planned step-down while the VIP is still here, so
	// that the peer can take over at once: the embedded service holds new
	// client calls, lets those in flight finish and closes the store; an
	// external one is stopped. Either way the lease is released. release
	// hands held calls back to their clients, to be retried at the VIP
	// (call it once the peer serves there); deactivate follows as usual.
	// An error means nothing is held and the lease may still be held (the
	// service does not serve, or its stop is not certain): the ordinary
	// step-down follows.
	handOver(ctx context.Context) (release func(), err error)
	role() string
	lease() leaseInfo
	close()
}

// errServiceFailed marks an activation that failed because the service
// did not start here: the node then stays out for a while (checkPolicy).
var errServiceFailed = errors.New("the service failed")

// leaseInfo is the storage lease as /status shows it.
type leaseInfo struct {
	Epoch    uint64        `json:"epoch,omitempty"`
	Holder   string        `json:"holder,omitempty"` // OWNER's node
	State    string        `json:"state,omitempty"`  // OWNER's state
	ValidFor time.Duration `json:"valid_for_ns,omitempty"`
	Verdict  string        `json:"verdict,omitempty"` // this node's observation of the holder
}

// embedded is the in-process vector server: a warm-standby store promoted
// in place (the store takes the lease itself through the guard and fences
// its own writes), and the Milvus API served while primary.
type embedded struct {
	cfg     *config.Config
	timing  guard.Timing
	log     *slog.Logger
	version string
	lost    func(why string)
	// peerStopping: the peer says it is stepping down (handover wait).
	peerStopping func() bool

	mu      sync.Mutex
	db      *vectordb.DB // standby or primary; nil while reopening
	api     *apiServer
	unwatch context.CancelFunc
}

func newEmbedded(ctx context.Context, cfg *config.Config, timing guard.Timing, log *slog.Logger, version string, lost func(string), peerStopping func() bool) (*embedded, error) {
	e := &embedded{cfg: cfg, timing: timing, log: log, version: version, lost: lost, peerStopping: peerStopping}
	db, err := e.openStandby(ctx)
	if err != nil {
		return nil, err
	}
	e.db = db
	return e, nil
}

func (e *embedded) openStandby(ctx context.Context) (*vectordb.DB, error) {
	db, err := vectordb.Open(ctx, e.cfg.Keeper.DataDir, vectordb.Options{
		NodeID: e.cfg.Keeper.Node,
		Mode:   vectordb.Standby,
		Timing: e.timing,
		Logger: e.log,
	})
	if err != nil {
		return nil, fmt.Errorf("keeper: opening %s as standby: %w", e.cfg.Keeper.DataDir, err)
	}
	return db, nil
}

// activate promotes the store (lease, epoch, seal) and serves the API.
func (e *embedded) activate(ctx context.Context) error {
	e.mu.Lock()
	db := e.db
	e.mu.Unlock()
	if db == nil {
		return errors.New("store not open")
	}
	pctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	err := retryHandover(pctx, e.timing, e.peerStopping, func(ctx context.Context) error { return db.Promote(ctx) })
	if err != nil {
		if errors.Is(err, guard.ErrPeerAlive) {
			return err
		}
		return fmt.Errorf("promote failed: %w", err)
	}
	api, err := startAPI(e.cfg.Keeper.Service, db, e.version, e.log)
	if err != nil {
		// We hold the lease but cannot serve: give it back at once.
		e.demote(ctx)
		return fmt.Errorf("%w: %w", errServiceFailed, err)
	}
	wctx, unwatch := context.WithCancel(context.Background())
	e.mu.Lock()
	e.api, e.unwatch = api, unwatch
	e.mu.Unlock()
	go func() {
		select {
		case <-db.Fenced():
			if wctx.Err() == nil {
				e.lost("store fenced: " + db.Role().String())
			}
		case <-wctx.Done():
		}
	}()
	return nil
}

// handOver holds the API's calls, waits for those in flight, and closes
// the primary store (which releases the lease); the API stays up, holding,
// until release and then deactivate.
func (e *embedded) handOver(ctx context.Context) (func(), error) {
	e.mu.Lock()
	api, db, unwatch := e.api, e.db, e.unwatch
	serving := api != nil && db != nil && db.Role() == vectordb.RolePrimary
	if serving {
		e.db, e.unwatch = nil, nil
	}
	e.mu.Unlock()
	if !serving {
		return nil, errors.New("the embedded store is not serving")
	}
	if unwatch != nil {
		unwatch() // closing the store is no fencing
	}
	ctx, cancel := context.WithTimeout(ctx, handoverDrain)
	defer cancel()
	if err := api.srv.Hold(ctx); err != nil {
		e.log.Warn("handover: calls still in flight when the store closes; they fail", "err", err)
	}
	db.Close()
	return api.srv.Release, nil
}

func (e *embedded) deactivate(ctx context.Context) error {
	e.demote(ctx)
	return nil
}

// demote stops the API and closes the primary (which releases the lease),
// then reopens the store as a standby.
func (e *embedded) demote(ctx context.Context) {
	e.mu.Lock()
	api, db, unwatch := e.api, e.db, e.unwatch
	e.api, e.db, e.unwatch = nil, nil, nil
	e.mu.Unlock()
	if unwatch != nil {
		unwatch()
	}
	if api != nil {
		api.Stop()
	}
	if db != nil {
		db.Close()
	}
	ndb, err := e.openStandby(ctx)
	if err != nil {
		e.log.Error("reopening the store as standby failed; will retry", "err", err)
		go e.reopenLater()
		return
	}
	e.mu.Lock()
	e.db = ndb
	e.mu.Unlock()
}

func (e *embedded) reopenLater() {
	for {
		time.Sleep(e.timing.LeaseTimeout)
		db, err := e.openStandby(context.Background())
		if err == nil {
			e.mu.Lock()
			e.db = db
			e.mu.Unlock()
			return
		}
		e.log.Error("reopening the store as standby", "err", err)
	}
}

func (e *embedded) currentDB() *vectordb.DB {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.db
}

func (e *embedded) standbyReady() error {
	db := e.currentDB()
	switch {
	case db == nil:
		return errors.New("store not open")
	case db.Role() != vectordb.RoleStandby:
		return fmt.Errorf("store is %s", db.Role())
	}
	return nil
}

func (e *embedded) busy() bool {
	db := e.currentDB()
	return db != nil && db.Role() == vectordb.RolePrimary
}

func (e *embedded) mayServe() bool { return e.busy() }

func (e *embedded) escalate() bool { return false }

// check: the store is primary and the Milvus API answers CheckHealth.
func (e *embedded) check(ctx context.Context) error {
	db := e.currentDB()
	if db == nil || db.Role() != vectordb.RolePrimary {
		role := "closed"
		if db != nil {
			role = db.Role().String()
		}
		return fmt.Errorf("store is %s, not primary", role)
	}
	return service.CheckMilvusGRPC(ctx, dialAddr(e.cfg.Keeper.Service.Listen))
}

func (e *embedded) role() string {
	if db := e.currentDB(); db != nil {
		return db.Role().String()
	}
	return "closed"
}

func (e *embedded) lease() leaseInfo { return leaseInfo{} }

func (e *embedded) close() {
	e.mu.Lock()
	api, db := e.api, e.db
	e.api, e.db = nil, nil
	e.mu.Unlock()
	if api != nil {
		api.Stop()
	}
	if db != nil {
		db.Close()
	}
}

// dialAddr turns a listen address into one to dial on this host: an
// unspecified host (":19530", "0.0.0.0:19530", "[::]:19530") means loopback.
func dialAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}

// retryHandover runs take (a lease acquisition) and, while it fails with
// ErrPeerAlive, tries again for up to a lease timeout, and for as long as
// the peer's beacon says it is stepping down: when VRRP moves mastership
// on purpose (priority-0 advert, preemption) the old master is still
// stopping its service and releases the lease when done, and waiting for
// that is much cheaper than refusing and retrying through the inhibit
// (which can make the two nodes take turns starting and stopping). A peer
// that keeps its lease without stepping down (network cut between the
// hosts with storage reachable) gets a refusal after a lease timeout.
//
// It tries every handoverPoll rather than every lease poll: the old master
// releases the lease a few milliseconds into its step-down, and each
// millisecond waited here is a millisecond without service.
func retryHandover(ctx context.Context, t guard.Timing, peerStopping func() bool, take func(context.Context) error) error {
	deadline := time.Now().Add(t.LeaseTimeout)
	poll := min(handoverPoll, t.PollInterval)
	for {
		err := take(ctx)
		if err == nil || !errors.Is(err, guard.ErrPeerAlive) || time.Now().After(deadline) && !peerStopping() {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(poll):
		}
	}
}

// handoverPoll is how often a gate retries a lease the peer still holds
// (a read of two small records, or a standby store's failed promote).
const handoverPoll = 5 * time.Millisecond

// apiServer is the Milvus API while this node is active.
type apiServer struct {
	srv    *milvusapi.Server
	cancel context.CancelFunc
	done   chan struct{}
}

func startAPI(svc config.Service, db *vectordb.DB, version string, log *slog.Logger) (*apiServer, error) {
	ln, err := net.Listen("tcp", svc.Listen)
	if err != nil {
		return nil, fmt.Errorf("keeper: API listen %s: %w", svc.Listen, err)
	}
	var hln net.Listener
	if svc.HealthListen != "" {
		if hln, err = net.Listen("tcp", svc.HealthListen); err != nil {
			ln.Close()
			return nil, fmt.Errorf("keeper: health listen %s: %w", svc.HealthListen, err)
		}
	}
	srv := milvusapi.New(db, milvusapi.Options{Version: version, Logger: log})
	ctx, cancel := context.WithCancel(context.Background())
	a := &apiServer{srv: srv, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(a.done)
		var wg sync.WaitGroup
		if hln != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = srv.ServeHealth(ctx, hln)
			}()
		}
		if err := srv.Serve(ctx, ln); err != nil && ctx.Err() == nil {
			log.Error("Milvus API stopped", "err", err)
		}
		wg.Wait()
	}()
	return a, nil
}

// Stop stops serving and waits for the listeners to close.
func (a *apiServer) Stop() {
	a.cancel()
	<-a.done
}
