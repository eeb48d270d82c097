package keeper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/milvus-ha/milvus-ha/internal/config"
	"github.com/milvus-ha/milvus-ha/internal/guard"
	"github.com/milvus-ha/milvus-ha/internal/milvusapi"
	"github.com/milvus-ha/milvus-ha/internal/speaker"
	"github.com/milvus-ha/milvus-ha/internal/vectordb"
)

// Keeper runs one node of an HA pair with the embedded vector server: a
// VRRP instance whose gate promotes the warm-standby store and starts the
// Milvus API before the VIP is added, and demotes it after the VIP is gone.
type Keeper struct {
	cfg     *config.Config
	inst    *config.Instance
	log     *slog.Logger
	reg     *prometheus.Registry
	version string
	timing  guard.Timing

	speaker *speaker.Instance
	metrics *metrics

	mu       sync.Mutex
	db       *vectordb.DB // standby or primary; nil while reopening
	api      *apiServer   // running while active
	active   bool
	paused   bool
	blocked  string // why the gate last refused ("peer alive on storage: ...")
	lastPeer time.Time
	events   []Event
}

// Event is one entry of the keeper's history (status API, `milvus-ha history`).
type Event struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"` // transition, promote, demote, refused, fenced, switchover, pause, resume
	Detail string    `json:"detail"`
}

const historyLen = 64

// Options tune a Keeper.
type Options struct {
	Logger  *slog.Logger
	Version string // reported by the Milvus API
}

// New checks a native configuration with a keeper section and prepares the
// node: it opens the store as a warm standby and the VRRP socket. Nothing
// is served until Run.
func New(ctx context.Context, cfg *config.Config, opts Options) (*Keeper, error) {
	if cfg.Keeper == nil {
		return nil, errors.New("keeper: the configuration has no keeper section (a keepalived.conf runs the VRRP speaker alone)")
	}
	if len(cfg.Instances) != 1 {
		return nil, fmt.Errorf("keeper: want exactly one VRRP instance, have %d", len(cfg.Instances))
	}
	if cfg.Keeper.Service.Kind != config.ServiceEmbedded {
		return nil, fmt.Errorf("keeper: service %q is not supported by this build's keeper yet (embedded only)", cfg.Keeper.Service.Kind)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	k := &Keeper{
		cfg:     cfg,
		inst:    cfg.Instances[0],
		log:     opts.Logger.With("node", cfg.Keeper.Node),
		reg:     prometheus.NewRegistry(),
		version: opts.Version,
	}
	timing, err := Timing(cfg.Keeper.Timing, k.inst.Advert)
	if err != nil {
		return nil, fmt.Errorf("keeper: %w", err)
	}
	k.timing = timing
	k.metrics = newMetrics(k.reg, k)
	db, err := k.openStandby(ctx)
	if err != nil {
		return nil, err
	}
	k.db = db
	sp, err := speaker.New(k.inst, speaker.Options{
		Logger:       k.log,
		Metrics:      speaker.NewMetrics(k.reg),
		Gate:         k,
		Scripts:      cfg.Scripts,
		OnTransition: k.onTransition,
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	k.speaker = sp
	return k, nil
}

// Timing derives the lease timing from the configured preset and advert
// interval (see guard.PresetTiming).
func Timing(preset config.Timing, advert time.Duration) (guard.Timing, error) {
	return guard.PresetTiming(string(preset), advert)
}

func (k *Keeper) openStandby(ctx context.Context) (*vectordb.DB, error) {
	// A standby tails the owner's log directory; on a fresh data directory
	// nobody has created it yet, and the tailer treats a missing directory
	// as an error rather than as an empty log.
	if err := os.MkdirAll(filepath.Join(k.cfg.Keeper.DataDir, "wal"), 0o755); err != nil {
		return nil, fmt.Errorf("keeper: %w", err)
	}
	db, err := vectordb.Open(ctx, k.cfg.Keeper.DataDir, vectordb.Options{
		NodeID:            k.cfg.Keeper.Node,
		Mode:              vectordb.Standby,
		LeaseTimeout:      k.timing.LeaseTimeout,
		HeartbeatInterval: k.timing.HeartbeatInterval,
		Logger:            k.log,
	})
	if err != nil {
		return nil, fmt.Errorf("keeper: opening %s as standby: %w", k.cfg.Keeper.DataDir, err)
	}
	return db, nil
}

// Run runs the node until ctx ends; then it steps down cleanly (the VIP
// goes first, then the service, then the lease).
func (k *Keeper) Run(ctx context.Context) error {
	ctl, err := k.startControl(ctx)
	if err != nil {
		k.speaker.Close()
		k.closeDB()
		return err
	}
	defer ctl.Close()
	k.record("start", fmt.Sprintf("node %s, VIP %v, priority %d, lease %v", k.cfg.Keeper.Node, k.inst.VIPs[0].Prefix, k.inst.Priority, k.timing.LeaseTimeout))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		k.watchFence(ctx)
	}()
	err = k.speaker.Run(ctx)
	wg.Wait()
	k.closeDB()
	return err
}

func (k *Keeper) closeDB() {
	k.mu.Lock()
	db := k.db
	k.db = nil
	k.mu.Unlock()
	if db != nil {
		db.Close()
	}
}

// BecomeMaster is the speaker's gate: take the lease and promote the store
// (which seals the previous epoch's log), then serve the API. Only then may
// the VIP be added.
func (k *Keeper) BecomeMaster(ctx context.Context) error {
	k.mu.Lock()
	paused, db := k.paused, k.db
	k.mu.Unlock()
	if paused {
		return k.refuse("paused for maintenance")
	}
	if db == nil {
		return k.refuse("store not open")
	}
	start := time.Now()
	pctx, cancel := context.WithTimeout(ctx, 2*k.timing.LeaseTimeout+time.Second)
	defer cancel()
	if err := db.Promote(pctx); err != nil {
		if errors.Is(err, guard.ErrPeerAlive) {
			return k.refuse("peer alive on storage: " + err.Error())
		}
		return k.refuse("promote failed: " + err.Error())
	}
	api, err := k.startAPI(db)
	if err != nil {
		// We hold the lease but cannot serve: give it back at once.
		k.demote(ctx, "API could not start: "+err.Error())
		return k.refuse(err.Error())
	}
	k.mu.Lock()
	k.api, k.active, k.blocked = api, true, ""
	k.mu.Unlock()
	k.metrics.promoteSeconds.Observe(time.Since(start).Seconds())
	k.record("promote", fmt.Sprintf("store promoted and API serving in %v", time.Since(start).Round(time.Millisecond)))
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

// LeftMaster runs after the VIP was removed: stop the API, then demote the
// store (closing the primary releases the lease) and reopen it as standby.
func (k *Keeper) LeftMaster(ctx context.Context) {
	k.demote(ctx, "left MASTER")
}

func (k *Keeper) demote(ctx context.Context, why string) {
	k.mu.Lock()
	api, db := k.api, k.db
	k.api, k.active, k.db = nil, false, nil
	k.mu.Unlock()
	if api != nil {
		api.Stop()
	}
	if db != nil {
		db.Close()
	}
	ndb, err := k.openStandby(ctx)
	if err != nil {
		k.log.Error("reopening the store as standby failed; will retry", "err", err)
		go k.reopenLater()
	}
	k.mu.Lock()
	if ndb != nil {
		k.db = ndb
	}
	k.mu.Unlock()
	k.record("demote", why)
}

func (k *Keeper) reopenLater() {
	for {
		time.Sleep(k.timing.LeaseTimeout)
		db, err := k.openStandby(context.Background())
		if err == nil {
			k.mu.Lock()
			k.db = db
			k.mu.Unlock()
			return
		}
		k.log.Error("reopening the store as standby", "err", err)
	}
}

// watchFence steps down when the store stops being primary on its own
// (lease lost, storage failed): the VIP must go before the peer's takeover.
func (k *Keeper) watchFence(ctx context.Context) {
	t := time.NewTicker(k.timing.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		k.mu.Lock()
		db, active := k.db, k.active
		k.mu.Unlock()
		if !active || db == nil {
			continue
		}
		select {
		case <-db.Fenced():
		default:
			continue
		}
		why := "store fenced: " + db.Role().String()
		k.record("fenced", why)
		k.log.Error("stepping down", "reason", why)
		_ = k.speaker.Inhibit(ctx, speaker.GateReason, true)
		k.refuse(why)
	}
}

func (k *Keeper) onTransition(t speaker.Transition) {
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

// apiServer is the Milvus API while this node is active.
type apiServer struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (k *Keeper) startAPI(db *vectordb.DB) (*apiServer, error) {
	svc := k.cfg.Keeper.Service
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
	srv := milvusapi.New(db, milvusapi.Options{Version: k.version, Logger: k.log})
	ctx, cancel := context.WithCancel(context.Background())
	a := &apiServer{cancel: cancel, done: make(chan struct{})}
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
			k.log.Error("Milvus API stopped", "err", err)
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
