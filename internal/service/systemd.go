package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

// The systemd driver talks to systemd over D-Bus (go-systemd), not through
// systemctl: a job result comes back as a value rather than as text to
// parse, and there is no process to fork on every check.

// SystemdConfig names the unit the systemd driver controls.
type SystemdConfig struct {
	// Unit is the full unit name, e.g. "milvus.service".
	Unit string
	// Connect opens the connection to systemd; nil means the system bus.
	// It is called again after the connection breaks.
	Connect func(ctx context.Context) (*sdbus.Conn, error)
	// Ready, if set, must return nil before Start returns (the keeper
	// passes the Milvus CheckHealth call at the service address): a
	// Type=simple unit is active as soon as its process is forked, long
	// before the server answers, and the VIP must not move before that.
	Ready func(ctx context.Context) error
	// Poll is how often Start re-reads the unit's state, and calls Ready,
	// while it waits after its start job finished (0 means 50ms).
	Poll   time.Duration
	Logger *slog.Logger
}

// systemdConn is the part of *sdbus.Conn the driver uses.
type systemdConn interface {
	StartUnitContext(ctx context.Context, name, mode string, ch chan<- string) (int, error)
	StopUnitContext(ctx context.Context, name, mode string, ch chan<- string) (int, error)
	GetUnitPropertiesContext(ctx context.Context, unit string) (map[string]any, error)
	GetUnitTypePropertiesContext(ctx context.Context, unit, unitType string) (map[string]any, error)
	Connected() bool
	Close()
}

// Systemd drives a systemd unit: StartUnit/StopUnit jobs in mode
// "replace", then the unit's ActiveState confirms the result.
type Systemd struct {
	cfg     SystemdConfig
	log     *slog.Logger
	connect func(ctx context.Context) (systemdConn, error)

	mu         sync.Mutex
	conn       systemdConn
	warnedKill bool
}

// NewSystemd returns a driver for cfg.Unit; it connects on first use.
func NewSystemd(cfg SystemdConfig) (*Systemd, error) {
	if cfg.Unit == "" || strings.ContainsAny(cfg.Unit, "/ \t\n") || !strings.Contains(cfg.Unit, ".") {
		return nil, fmt.Errorf("systemd service: bad unit name %q (want e.g. milvus.service)", cfg.Unit)
	}
	if cfg.Poll < 0 {
		return nil, errors.New("systemd service: negative poll interval")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Systemd{cfg: cfg, log: log.With("service", "systemd:"+cfg.Unit)}
	s.connect = func(ctx context.Context) (systemdConn, error) {
		if cfg.Connect != nil {
			return cfg.Connect(ctx)
		}
		return sdbus.NewSystemConnectionContext(ctx)
	}
	return s, nil
}

// Name returns "systemd:" and the unit.
func (s *Systemd) Name() string { return "systemd:" + s.cfg.Unit }

func (s *Systemd) connection(ctx context.Context) (systemdConn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil && s.conn.Connected() {
		return s.conn, nil
	}
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
	c, err := s.connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: connect to systemd: %w", s.Name(), err)
	}
	s.conn = c
	return c, nil
}

// Close drops the D-Bus connection.
func (s *Systemd) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}

// unitState is what the driver reads from org.freedesktop.systemd1.Unit.
type unitState struct {
	load, active, sub string
}

func (u unitState) String() string { return u.active + " (" + u.sub + ")" }

func (s *Systemd) unitState(ctx context.Context, c systemdConn) (unitState, error) {
	p, err := c.GetUnitPropertiesContext(ctx, s.cfg.Unit)
	if err != nil {
		return unitState{}, s.wrap("read unit", err)
	}
	u := unitState{load: propString(p, "LoadState"), active: propString(p, "ActiveState"), sub: propString(p, "SubState")}
	if u.load == "not-found" {
		return u, fmt.Errorf("%s: unit %w (LoadState=not-found)", s.Name(), ErrNotFound)
	}
	if u.active == "" {
		return u, fmt.Errorf("%s: unit has no ActiveState", s.Name())
	}
	return u, nil
}

func propString(p map[string]any, k string) string {
	v, _ := p[k].(string)
	return v
}

// wrap names the operation and maps systemd's "no such unit" to ErrNotFound.
func (s *Systemd) wrap(op string, err error) error {
	var de dbus.Error
	if errors.As(err, &de) && (de.Name == "org.freedesktop.systemd1.NoSuchUnit" || de.Name == "org.freedesktop.systemd1.LoadFailed") {
		return fmt.Errorf("%s: %s: unit %w: %v", s.Name(), op, ErrNotFound, err)
	}
	return fmt.Errorf("%s: %s: %w", s.Name(), op, err)
}

// runJob queues a start or stop job and waits for systemd's JobRemoved
// result.
func (s *Systemd) runJob(ctx context.Context, c systemdConn, op string) error {
	// Buffered: go-systemd sends the result even if we stopped waiting.
	ch := make(chan string, 1)
	var err error
	if op == "start" {
		_, err = c.StartUnitContext(ctx, s.cfg.Unit, "replace", ch)
	} else {
		_, err = c.StopUnitContext(ctx, s.cfg.Unit, "replace", ch)
	}
	if err != nil {
		return s.wrap(op, err)
	}
	select {
	case res := <-ch:
		if res != "done" {
			return fmt.Errorf("%s: %s job: %s", s.Name(), op, res)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %s job not finished: %w", s.Name(), op, ctx.Err())
	}
}

// Start runs a start job and returns once the unit is active (for
// Type=notify units, once the server said READY=1) and passes Ready when
// one is set. A unit that fails or stops meanwhile makes Start fail.
func (s *Systemd) Start(ctx context.Context) error {
	c, err := s.connection(ctx)
	if err != nil {
		return err
	}
	s.warnKillMode(ctx, c)
	if err := s.runJob(ctx, c, "start"); err != nil {
		if u, uerr := s.unitState(ctx, c); uerr == nil {
			return fmt.Errorf("%w; unit is %s", err, u)
		}
		return err
	}
	poll := s.cfg.Poll
	if poll == 0 {
		poll = 50 * time.Millisecond
	}
	var why string
	for {
		u, err := s.unitState(ctx, c)
		if err != nil {
			if ctx.Err() != nil && why != "" {
				return fmt.Errorf("%s: still %s: %w", s.Name(), why, ctx.Err())
			}
			return err
		}
		why = u.String()
		switch u.active {
		case "active":
			if s.cfg.Ready == nil {
				return nil
			}
			err := s.cfg.Ready(ctx)
			if err == nil {
				return nil
			}
			why += ", not ready: " + err.Error()
		case "activating", "reloading":
		default:
			return fmt.Errorf("%s: start job done but unit is %s", s.Name(), u)
		}
		t := time.NewTimer(poll)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: still %s: %w", s.Name(), why, ctx.Err())
		}
	}
}

// Stop runs a stop job and returns nil only when the unit is then
// inactive or failed, i.e. systemd has no process of it left.
func (s *Systemd) Stop(ctx context.Context) error {
	c, err := s.connection(ctx)
	if err != nil {
		return err
	}
	if err := s.runJob(ctx, c, "stop"); err != nil {
		return err
	}
	u, err := s.unitState(ctx, c)
	if err != nil {
		return fmt.Errorf("confirm stop: %w", err)
	}
	if u.active != "inactive" && u.active != "failed" {
		return fmt.Errorf("%s: still %s after stop", s.Name(), u)
	}
	return nil
}

// Status maps ActiveState: active, reloading and deactivating (its
// processes still run) are running; activating is starting; failed is
// failed; inactive is stopped.
func (s *Systemd) Status(ctx context.Context) (Status, error) {
	c, err := s.connection(ctx)
	if err != nil {
		return Status{}, err
	}
	u, err := s.unitState(ctx, c)
	if err != nil {
		return Status{}, err
	}
	st := Status{Detail: u.String()}
	switch u.active {
	case "active", "reloading", "deactivating":
		st.State = StateRunning
	case "activating":
		st.State = StateStarting
	case "inactive":
		st.State = StateStopped
	default:
		st.State = StateFailed
	}
	if st.State != StateStopped {
		if p, err := c.GetUnitTypePropertiesContext(ctx, s.cfg.Unit, "Service"); err == nil {
			if pid, ok := p["MainPID"].(uint32); ok {
				st.PID = int(pid)
			}
		}
	}
	return st, nil
}

// warnKillMode warns once when the unit would leave processes behind on
// stop, which would make Stop's nil a half truth.
func (s *Systemd) warnKillMode(ctx context.Context, c systemdConn) {
	s.mu.Lock()
	warned := s.warnedKill
	s.warnedKill = true
	s.mu.Unlock()
	if warned || !strings.HasSuffix(s.cfg.Unit, ".service") {
		return
	}
	p, err := c.GetUnitTypePropertiesContext(ctx, s.cfg.Unit, "Service")
	if err != nil {
		return
	}
	if km := propString(p, "KillMode"); km == "process" || km == "none" {
		s.log.Warn("unit has KillMode=" + km + ": processes it forks survive a stop, so a stopped unit may still write; use control-group or mixed")
	}
}
