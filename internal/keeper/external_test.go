package keeper

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/config"
	"github.com/milvus-ha/milvus-ha/internal/guard"
	"github.com/milvus-ha/milvus-ha/internal/service"
)

// fakeDriver is a service driver whose stops can be made to fail.
type fakeDriver struct {
	mu        sync.Mutex
	running   bool
	starts    int
	stops     int
	failStops int   // the next failStops calls to Stop fail
	startErr  error // Start fails with it
}

func (d *fakeDriver) Name() string { return "fake" }
func (d *fakeDriver) Start(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.starts++
	if d.startErr != nil {
		return d.startErr
	}
	d.running = true
	return nil
}
func (d *fakeDriver) Stop(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stops++
	if d.failStops > 0 {
		d.failStops--
		return errors.New("engine unreachable")
	}
	d.running = false
	return nil
}
func (d *fakeDriver) Status(context.Context) (service.Status, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.running {
		return service.Status{State: service.StateRunning}, nil
	}
	return service.Status{State: service.StateStopped}, nil
}
func (d *fakeDriver) isRunning() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.running
}

func newTestExternal(t *testing.T, drv *fakeDriver) (*external, string) {
	t.Helper()
	dir := t.TempDir()
	cfg, _, err := config.ParseYAML("a.yaml", []byte("node: a\ninterface: eth0\nvip: 198.18.0.100/24\nvrid: 51\ndata_dir: "+dir+"\nservice: {exec: {command: [x]}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	timing, _ := Timing(config.TimingSafe, 100*time.Millisecond)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	x, err := newExternal(t.Context(), cfg, timing, log, drv, func(string) {}, func() bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(x.close)
	return x, dir
}

// ownerOf reads OWNER as the peer would.
func ownerOf(t *testing.T, dir string) guard.Owner {
	t.Helper()
	timing, _ := Timing(config.TimingSafe, 100*time.Millisecond)
	g, err := guard.Open(dir, "observer", timing)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	o, err := g.ReadOwner()
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// A service found running on a node that does not hold the lease is
// stopped at start-up.
func TestExternalStopsStrayServiceAtStart(t *testing.T) {
	drv := &fakeDriver{running: true}
	newTestExternal(t, drv)
	if drv.isRunning() || drv.stops != 1 {
		t.Fatalf("stray service not stopped: running %v, stops %d", drv.isRunning(), drv.stops)
	}
}

// The lease is taken before the service starts and released only after a
// confirmed stop; a stop that fails keeps (and renews) the lease, is
// retried, escalates after stopEscalateAfter failures, and releases once
// confirmed.
func TestExternalStopMustBeCertain(t *testing.T) {
	drv := &fakeDriver{}
	x, dir := newTestExternal(t, drv)
	ctx := t.Context()
	if err := x.activate(ctx); err != nil {
		t.Fatal(err)
	}
	if !drv.isRunning() || !x.mayServe() {
		t.Fatalf("after activate: running %v, may serve %v", drv.isRunning(), x.mayServe())
	}
	if o := ownerOf(t, dir); o.Node != "a" || o.State != guard.StateActive {
		t.Fatalf("OWNER %v", o)
	}

	drv.mu.Lock()
	drv.failStops = stopEscalateAfter
	drv.mu.Unlock()
	if err := x.deactivate(ctx); err == nil {
		t.Fatal("deactivate reported success although the stop failed")
	}
	if o := ownerOf(t, dir); o.State != guard.StateActive || !x.mayServe() || !x.busy() {
		t.Fatalf("lease given up with the stop unconfirmed: OWNER %v, may serve %v", o, x.mayServe())
	}
	if err := x.standbyReady(); err == nil {
		t.Fatal("a node with an unconfirmed stop says it could take over")
	}
	if err := x.activate(ctx); err == nil {
		t.Fatal("activated while the previous stop is unconfirmed")
	}
	waitUntil(t, "escalation", func() bool { return x.escalate() })
	waitUntil(t, "release after the stop is confirmed", func() bool { return !x.busy() })
	if o := ownerOf(t, dir); o.State != guard.StateReleased || drv.isRunning() || x.escalate() {
		t.Fatalf("after the confirmed stop: OWNER %v, running %v, escalate %v", o, drv.isRunning(), x.escalate())
	}
	if err := x.standbyReady(); err != nil {
		t.Fatal(err)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A service that does not start while the lease is held is the service's
// failure (the node then stays out, checkPolicy); the lease is released.
func TestExternalStartFailureIsTheService(t *testing.T) {
	drv := &fakeDriver{startErr: errors.New("exit 1 at start")}
	x, dir := newTestExternal(t, drv)
	err := x.activate(t.Context())
	if !errors.Is(err, errServiceFailed) {
		t.Fatalf("activate: %v, want errServiceFailed", err)
	}
	if o := ownerOf(t, dir); o.State != guard.StateReleased {
		t.Fatalf("OWNER after a failed start: %v, want released", o)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := x.activate(ctx); errors.Is(err, errServiceFailed) {
		t.Fatalf("a called-off takeover counted as the service's failure: %v", err)
	}
}
