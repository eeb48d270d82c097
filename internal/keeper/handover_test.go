package keeper

import (
	"context"
	"sync"
	"testing"
)

// handingService is a fakeService whose handOver step blocks until step
// is closed, and whose release records what the peer's beacon said then.
type handingService struct {
	fakeService
	step      chan struct{}
	dir, self string

	mu         sync.Mutex
	handOvers  int
	releasedAt *beacon // the peer's beacon when release was called
	stops      int
}

func (s *handingService) handOver(context.Context) (func(), error) {
	s.mu.Lock()
	s.handOvers++
	s.mu.Unlock()
	<-s.step
	return func() {
		b, _, _ := readPeerBeacon(s.dir, s.self)
		s.mu.Lock()
		s.releasedAt = &b
		s.mu.Unlock()
	}, nil
}

func (s *handingService) deactivate(ctx context.Context) error {
	s.mu.Lock()
	s.stops++
	s.mu.Unlock()
	return s.fakeService.deactivate(ctx)
}

// handoverKeeper is an active test keeper whose peer b is a ready standby
// with a real beacon file in the shared directory.
func handoverKeeper(t *testing.T) (*Keeper, *handingService, *beaconFile) {
	t.Helper()
	k, sp := testKeeper(t, "")
	dir := t.TempDir()
	k.cfg.Keeper.DataDir = dir
	makeMaster(k, sp)
	svc := &handingService{step: make(chan struct{}), dir: dir, self: "a"}
	svc.active = true
	k.svc = svc
	peer, err := openBeacon(dir, "b")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.close() })
	for range 2 { // a beacon proves life by moving
		if err := peer.write(true, ""); err != nil {
			t.Fatal(err)
		}
		k.tickBeacon()
	}
	if ready, why := k.peerReady(); !ready {
		t.Fatalf("peer not ready: %s", why)
	}
	return k, svc, peer
}

// Held calls are handed back only once the peer's beacon says it serves at
// the VIP, and the ordinary step-down follows.
func TestHandOverReleasesWhenThePeerServes(t *testing.T) {
	k, svc, peer := handoverKeeper(t)
	close(svc.step)
	done := make(chan struct{})
	go func() {
		defer close(done)
		k.HandOver(context.Background())
	}()
	// The peer takes over: active first, then serving.
	if err := peer.write(false, beaconActive); err != nil {
		t.Fatal(err)
	}
	if err := peer.write(false, beaconServing); err != nil {
		t.Fatal(err)
	}
	<-done
	svc.mu.Lock()
	at := svc.releasedAt
	svc.mu.Unlock()
	if at == nil || at.Why != beaconServing {
		t.Fatalf("held calls released when the peer's beacon was %+v, want %q", at, beaconServing)
	}
	k.LeftMaster(context.Background())
	if svc.stops != 1 || k.isActive() {
		t.Fatalf("after LeftMaster: deactivate called %d times, active %v", svc.stops, k.isActive())
	}
}

// A service step that does not end (hung storage) does not keep the VIP:
// HandOver gives up after its bound, and LeftMaster waits for the step
// before it stops the service.
func TestHandOverBoundedWhenTheStepHangs(t *testing.T) {
	k, svc, _ := handoverKeeper(t)
	k.HandOver(context.Background()) // returns after handoverStep
	svc.mu.Lock()
	n, released := svc.handOvers, svc.releasedAt
	svc.mu.Unlock()
	if n != 1 || released != nil {
		t.Fatalf("handOver calls %d, released %v; want 1, not released", n, released)
	}
	left := make(chan struct{})
	go func() {
		defer close(left)
		k.LeftMaster(context.Background())
	}()
	close(svc.step) // the storage answers again
	<-left
	svc.mu.Lock()
	defer svc.mu.Unlock()
	if svc.releasedAt == nil || svc.stops != 1 {
		t.Fatalf("after LeftMaster: released %v, deactivate %d; want the held calls released, then one stop", svc.releasedAt, svc.stops)
	}
}

// Without a peer up to take over, nothing is held.
func TestHandOverNeedsThePeer(t *testing.T) {
	k, sp := testKeeper(t, "")
	makeMaster(k, sp)
	svc := &handingService{step: make(chan struct{})}
	k.svc = svc
	k.HandOver(context.Background())
	if svc.handOvers != 0 {
		t.Fatalf("handOver called %d times with no peer", svc.handOvers)
	}
}

// A backup that cannot write to the shared storage is held out until it
// can again: preempting would only stop the peer's service each time its
// own gate refused (test/ha TestStorageLoss).
func TestBackupHeldOutWhileStorageFails(t *testing.T) {
	k, sp := testKeeper(t, "")
	dir := t.TempDir()
	k.cfg.Keeper.DataDir = dir
	good := k.beacon
	bad, err := openBeacon(dir, "a")
	if err != nil {
		t.Fatal(err)
	}
	bad.close() // writes fail from now on
	k.beacon = bad
	k.writeBeacon()
	k.evaluate(t.Context())
	if !sp.inhibits[reasonChecks] {
		t.Fatalf("backup with failing storage not held out: %+v (hold %q)", sp.inhibits, k.checkWhy)
	}
	k.beacon = good
	k.writeBeacon()
	k.evaluate(t.Context())
	if sp.inhibits[reasonChecks] {
		t.Fatalf("backup still held out once its storage works: %q", k.checkWhy)
	}
}
