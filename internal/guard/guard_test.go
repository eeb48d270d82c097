package guard

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// shortTiming keeps lease waits short; tests never assert on durations.
var shortTiming = Timing{HeartbeatInterval: 20 * ms, LeaseTimeout: 80 * ms, SafetyMargin: 20 * ms, PollInterval: 10 * ms}

// relaxedTiming tolerates a loaded machine: nothing expires by accident.
var relaxedTiming = Timing{HeartbeatInterval: 20 * ms, LeaseTimeout: 10 * time.Second, SafetyMargin: time.Second, PollInterval: 10 * ms}

func open(t *testing.T, dir, node string, tm Timing, opts ...Option) *Guard {
	t.Helper()
	g, err := Open(dir, node, tm, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// mustAcquire takes the lease for g; the test cannot go on without it.
func mustAcquire(t *testing.T, g *Guard) {
	t.Helper()
	if _, err := g.Acquire(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

// heartbeat runs g's heartbeat loop until the test ends.
func heartbeat(t *testing.T, g *Guard) {
	ctx, cancel := context.WithCancel(ctxT(t))
	t.Cleanup(cancel)
	go g.Heartbeat(ctx)
}

// frozenClock simulates a process that does not run between two of its
// own steps: its view of time does not advance.
type frozenClock struct{ v atomic.Int64 }

func (c *frozenClock) now() time.Duration { return time.Duration(c.v.Load()) }

func TestAcquireEmptyDirectory(t *testing.T) {
	dir := t.TempDir()
	// No heartbeat runs here: a slow heartbeat keeps MayServe's pause
	// detection (2 heartbeat intervals) from firing on a loaded machine.
	g := open(t, dir, "a", Timing{HeartbeatInterval: 2 * time.Second, LeaseTimeout: 10 * time.Second, SafetyMargin: time.Second, PollInterval: 10 * ms})
	st, err := g.Observe()
	if err != nil || st.Verdict != Free || st.Owner.State != StateNone {
		t.Fatalf("fresh directory: %+v %v", st, err)
	}
	e, err := g.Acquire(ctxT(t))
	if err != nil || e != 1 {
		t.Fatalf("acquire: %d %v", e, err)
	}
	if err := g.StillOwner(); err != nil {
		t.Fatal(err)
	}
	if err := g.MayServe(); err != nil {
		t.Fatal(err)
	}
	if e2, err := g.Acquire(ctxT(t)); err != nil || e2 != 1 {
		t.Fatalf("re-acquire while holding: %d %v", e2, err)
	}
	o, err := g.ReadOwner()
	if err != nil || o != (Owner{Epoch: 1, Node: "a", State: StateActive}) {
		t.Fatalf("OWNER %+v %v", o, err)
	}
	if g.ValidUntil().IsZero() {
		t.Fatal("ValidUntil zero while holding")
	}
}

// Rule: a node never takes over while the other node's heartbeat moves.
func TestAcquireRefusedWhilePeerAlive(t *testing.T) {
	dir := t.TempDir()
	a := open(t, dir, "a", relaxedTiming)
	b := open(t, dir, "b", relaxedTiming)
	mustAcquire(t, a)
	heartbeat(t, a)
	_, err := b.Acquire(ctxT(t))
	var pa *PeerAliveError
	if !errors.Is(err, ErrPeerAlive) || !errors.As(err, &pa) || pa.Owner.Node != "a" || pa.Owner.Epoch != 1 {
		t.Fatalf("acquire by b: %v", err)
	}
	if err := a.StillOwner(); err != nil {
		t.Fatalf("a lost the lease: %v", err)
	}
}

// Rule: the lease expires when the heartbeat has not moved for the lease
// timeout; the taker bumps the epoch; the stalled holder is fenced by the
// OWNER re-read even though its own clock says its lease is still valid.
func TestTakeoverAfterStall(t *testing.T) {
	dir := t.TempDir()
	var clk frozenClock
	a := open(t, dir, "a", shortTiming, WithClock(clk.now))
	b := open(t, dir, "b", shortTiming)
	mustAcquire(t, a)
	// a never runs its heartbeat loop and its clock never moves: a pause.
	e, err := b.Acquire(ctxT(t))
	if err != nil || e != 2 {
		t.Fatalf("takeover: %d %v", e, err)
	}
	if err := a.MayServe(); err != nil {
		t.Fatalf("a's frozen clock should still claim the lease: %v", err)
	}
	err = a.StillOwner()
	if !errors.Is(err, ErrNotOwner) {
		t.Fatalf("stalled holder after takeover: %v", err)
	}
	select {
	case <-a.Lost():
	default:
		t.Fatal("Lost not closed after a foreign OWNER was seen")
	}
	if _, ok := a.Held(); ok {
		t.Fatal("a still holds")
	}
	// a's late release must not overwrite b's OWNER.
	if err := a.Release(ctxT(t)); err == nil {
		t.Fatal("release by a fenced holder succeeded")
	}
	if o, _ := b.ReadOwner(); o != (Owner{Epoch: 2, Node: "b", State: StateActive}) {
		t.Fatalf("OWNER %v", o)
	}
}

// Rule: a released OWNER may be taken at once (no lease wait: the peer's
// heartbeat was moving right up to the release).
func TestReleaseHandover(t *testing.T) {
	dir := t.TempDir()
	a := open(t, dir, "a", relaxedTiming)
	b := open(t, dir, "b", relaxedTiming)
	mustAcquire(t, a)
	heartbeat(t, a)
	if _, err := b.Acquire(ctxT(t)); !errors.Is(err, ErrPeerAlive) {
		t.Fatalf("before release: %v", err)
	}
	if err := a.Release(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if err := a.StillOwner(); !errors.Is(err, ErrReleased) {
		t.Fatalf("after release: %v", err)
	}
	// relaxedTiming's lease is 10 s; a takeover through expiry would hit
	// this context's deadline.
	ctx2, cancel2 := context.WithTimeout(ctxT(t), 5*time.Second)
	defer cancel2()
	e, err := b.Acquire(ctx2)
	if err != nil || e != 2 {
		t.Fatalf("acquire after release: %d %v", e, err)
	}
}

// Rule: the holder's lease ends at its deadline even without a heartbeat
// loop, and the keeper is told (callback + channel).
func TestLostFiresWithoutHeartbeat(t *testing.T) {
	dir := t.TempDir()
	lost := make(chan error, 1)
	a := open(t, dir, "a", shortTiming, WithOnLost(func(err error) { lost <- err }))
	mustAcquire(t, a)
	select {
	case err := <-lost:
		if !errors.Is(err, ErrLeaseExpired) {
			t.Fatalf("lost: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("OnLost never called")
	}
	<-a.Lost()
	if err := a.MayServe(); !errors.Is(err, ErrLeaseExpired) {
		t.Fatalf("MayServe: %v", err)
	}
	if err := a.StillOwner(); !errors.Is(err, ErrLeaseExpired) {
		t.Fatalf("StillOwner: %v", err)
	}
	if a.Stats().Lost != 1 {
		t.Fatalf("stats %+v", a.Stats())
	}
}

func TestHeartbeatRenewsAndDetectsTakeover(t *testing.T) {
	dir := t.TempDir()
	lost := make(chan error, 1)
	a := open(t, dir, "a", relaxedTiming, WithOnLost(func(err error) { lost <- err }))
	mustAcquire(t, a)
	done := make(chan error, 1)
	go func() { done <- a.Heartbeat(ctxT(t)) }()
	for a.Stats().Renewals < 5 {
		time.Sleep(5 * ms)
	}
	hb, err := DecodeHeartbeat(mustRead(t, filepath.Join(dir, HeartbeatFile)))
	if err != nil || hb.Epoch != 1 || hb.Node != "a" || hb.Counter < 5 {
		t.Fatalf("heartbeat %+v %v", hb, err)
	}
	// Another node takes over behind a's back (as after a network cut in
	// which a kept running but b saw a's storage path stall).
	rec := EncodeOwner(Owner{Epoch: 2, Node: "b", State: StateActive})
	if err := os.WriteFile(filepath.Join(dir, OwnerFile), rec[:], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrNotOwner) {
		t.Fatalf("heartbeat loop ended with %v", err)
	}
	if err := <-lost; !errors.Is(err, ErrNotOwner) {
		t.Fatalf("OnLost: %v", err)
	}
}

// Two nodes acquiring at once on a fresh directory never share an epoch.
func TestConcurrentAcquireDistinctEpochs(t *testing.T) {
	for round := 0; round < 20; round++ {
		dir := t.TempDir()
		const n = 4
		var wg sync.WaitGroup
		epochs := make([]uint64, n)
		errs := make([]error, n)
		for i := range n {
			g := open(t, dir, string(rune('a'+i)), shortTiming)
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), shortTiming.LeaseTimeout/2)
				defer cancel()
				epochs[i], errs[i] = g.Acquire(ctx)
			}()
		}
		wg.Wait()
		seen := map[uint64]bool{}
		wins := 0
		for i := range n {
			if errs[i] != nil {
				continue
			}
			wins++
			if seen[epochs[i]] {
				t.Fatalf("round %d: epoch %d taken twice: %v %v", round, epochs[i], epochs, errs)
			}
			seen[epochs[i]] = true
		}
		if wins == 0 {
			t.Fatalf("round %d: nobody acquired: %v", round, errs)
		}
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, id := range []string{"", string(make([]byte, NodeIDMax+1)), "a\x00b"} {
		if _, err := Open(dir, id, relaxedTiming); !errors.Is(err, ErrBadNodeID) {
			t.Errorf("node %q: %v", id, err)
		}
	}
	if _, err := Open(dir, "a", Timing{}); !errors.Is(err, ErrBadTiming) {
		t.Errorf("zero timing: %v", err)
	}
	if _, err := Open(filepath.Join(dir, "missing"), "a", relaxedTiming); err == nil {
		t.Error("missing directory accepted")
	}
	g := open(t, dir, "a", relaxedTiming)
	if err := os.WriteFile(filepath.Join(dir, OwnerFile), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Observe(); !errors.Is(err, ErrCorruptRecord) {
		t.Errorf("garbage OWNER: %v", err)
	}
	if _, err := g.Acquire(ctxT(t)); !errors.Is(err, ErrCorruptRecord) {
		t.Errorf("acquire over garbage OWNER: %v", err)
	}
	if err := g.Release(ctxT(t)); !errors.Is(err, ErrNotHolding) {
		t.Errorf("release without lease: %v", err)
	}
	if err := g.StillOwner(); !errors.Is(err, ErrNotHolding) {
		t.Errorf("StillOwner without lease: %v", err)
	}
}

func TestRecordRoundTripAndCorruption(t *testing.T) {
	o := Owner{Epoch: 1<<40 + 5, Node: "node-a.example", State: StateReleased}
	b := EncodeOwner(o)
	got, err := DecodeOwner(b[:])
	if err != nil || got != o {
		t.Fatalf("%+v %v", got, err)
	}
	for i := range b {
		c := b
		c[i] ^= 0x10
		if _, err := DecodeOwner(c[:]); !errors.Is(err, ErrCorruptRecord) {
			t.Fatalf("flip at byte %d accepted: %v", i, err)
		}
	}
	if _, err := DecodeHeartbeat(b[:]); !errors.Is(err, ErrCorruptRecord) {
		t.Fatal("OWNER decoded as HEARTBEAT")
	}
	h := Heartbeat{Epoch: 9, Node: "b", Counter: 12345}
	hb := EncodeHeartbeat(h)
	if got, err := DecodeHeartbeat(hb[:]); err != nil || got != h {
		t.Fatalf("%+v %v", got, err)
	}
	if got, err := DecodeOwner(nil); err != nil || got.State != StateNone || !got.Free() {
		t.Fatalf("empty: %+v %v", got, err)
	}
}

func FuzzDecodeOwner(f *testing.F) {
	b := EncodeOwner(Owner{Epoch: 3, Node: "a", State: StateActive})
	f.Add(b[:])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := DecodeOwner(data)
		if err != nil || len(data) == 0 {
			return
		}
		if re := EncodeOwner(o); string(re[:]) != string(data) {
			t.Fatalf("accepted %x, re-encodes to %x", data, re)
		}
	})
}

func TestMeasureSync(t *testing.T) {
	dir := t.TempDir()
	l, err := MeasureSync(dir, 5)
	if err != nil || l.Samples != 5 || l.Max < l.P50 || l.P50 <= 0 {
		t.Fatalf("%+v %v", l, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("probe left %d files", len(ents))
	}
	if _, err := MeasureSync(filepath.Join(dir, "missing"), 5); err == nil {
		t.Fatal("missing directory accepted")
	}
}

// stuckRenewal wraps g's renewal I/O: the first renewal signals entered and
// then waits for release before doing its I/O, as a renewal blocked on
// slow storage would; its I/O error is sent on result.
type stuckRenewal struct {
	entered, release chan struct{}
	result           chan error
	finished         atomic.Bool
}

func holdFirstRenewal(g *Guard) *stuckRenewal {
	s := &stuckRenewal{entered: make(chan struct{}), release: make(chan struct{}), result: make(chan error, 1)}
	real := g.renewIO
	var first atomic.Bool
	g.renewIO = func(epoch uint64) error {
		if first.Swap(true) {
			return real(epoch)
		}
		close(s.entered)
		<-s.release
		err := real(epoch)
		s.finished.Store(true)
		s.result <- err
		return err
	}
	return s
}

// letMisbehave gives a call that should be blocked (but may not be) the
// chance to return. The assertions never depend on it: a correct guard
// passes however long it is.
func letMisbehave() { time.Sleep(50 * ms) }

// Heartbeat returns only after its renewal finished, so a Release or Close
// right after it never races with a HEARTBEAT write.
func TestHeartbeatWaitsForRenewal(t *testing.T) {
	g := open(t, t.TempDir(), "a", relaxedTiming)
	stuck := holdFirstRenewal(g)
	mustAcquire(t, g)
	ctx, cancel := context.WithCancel(ctxT(t))
	var finishedAtReturn atomic.Bool
	done := make(chan error, 1)
	go func() {
		err := g.Heartbeat(ctx)
		finishedAtReturn.Store(stuck.finished.Load())
		done <- err
	}()
	<-stuck.entered
	cancel()
	letMisbehave()
	close(stuck.release)
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("heartbeat: %v", err)
	}
	if !finishedAtReturn.Load() {
		t.Fatal("Heartbeat returned while its renewal was still in I/O")
	}
	if err := <-stuck.result; err != nil {
		t.Fatalf("renewal: %v", err)
	}
}

// Close waits for a renewal in I/O before it closes the files under it, and
// ends Heartbeat.
func TestCloseWaitsForRenewal(t *testing.T) {
	g := open(t, t.TempDir(), "a", relaxedTiming)
	stuck := holdFirstRenewal(g)
	mustAcquire(t, g)
	done := make(chan error, 1)
	go func() { done <- g.Heartbeat(ctxT(t)) }()
	<-stuck.entered
	closed := make(chan error, 1)
	go func() { closed <- g.Close() }()
	letMisbehave()
	close(stuck.release)
	if err := <-stuck.result; err != nil {
		t.Fatalf("renewal ran on closed files: %v", err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("heartbeat after Close: %v", err)
	}
	if s := g.Stats(); s.RenewalErrors != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// Rule 5 with the renewal stuck in I/O: the lease timer still ends the lease
// at its deadline (Lost, OnLost, MayServe), Close waiting for that renewal
// does not hold the timer back, and Heartbeat reports the loss without
// waiting for the renewal.
func TestLeaseEndsWhileRenewalStuck(t *testing.T) {
	lost := make(chan error, 1)
	g := open(t, t.TempDir(), "a", shortTiming, WithOnLost(func(err error) { lost <- err }))
	stuck := holdFirstRenewal(g)
	mustAcquire(t, g)
	done := make(chan error, 1)
	go func() { done <- g.Heartbeat(ctxT(t)) }()
	<-stuck.entered
	closed := make(chan error, 1)
	go func() { closed <- g.Close() }()
	if err := <-lost; !errors.Is(err, ErrLeaseExpired) {
		t.Fatalf("lost: %v", err)
	}
	<-g.Lost()
	if err := g.MayServe(); !errors.Is(err, ErrLeaseExpired) {
		t.Fatalf("MayServe: %v", err)
	}
	// Heartbeat ends (on the lost lease, or on Close at its next tick)
	// while the renewal is still stuck.
	if err := <-done; !errors.Is(err, ErrLeaseExpired) && !errors.Is(err, ErrClosed) {
		t.Fatalf("heartbeat: %v", err)
	}
	if stuck.finished.Load() {
		t.Fatal("renewal finished before it was released")
	}
	close(stuck.release)
	<-stuck.result
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
}

// stepClock advances by step at every reading: the guard's view of time
// moves only as far as it looks, whatever the machine's load. step 0 freezes
// it.
type stepClock struct{ v, step atomic.Int64 }

func (c *stepClock) now() time.Duration { return time.Duration(c.v.Add(c.step.Load())) }

// watch runs g.Watch until the test ends.
func watch(t *testing.T, g *Guard) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Watch(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) && !errors.Is(err, ErrClosed) {
			t.Errorf("Watch: %v", err)
		}
	})
}

// waitWatched waits until b's Watch reports verdict want.
func waitWatched(t *testing.T, g *Guard, want Verdict) Status {
	t.Helper()
	ctx := ctxT(t)
	for {
		if st, err := g.Last(); err == nil && st.Verdict == want {
			return st
		} else if ctx.Err() != nil {
			t.Fatalf("Watch never reported %v: last %+v %v", want, st, err)
		}
		time.Sleep(ms)
	}
}

// Rule (DESIGN.md "Lease"): the standby watches the heartbeat all along, so
// when it is told to take over a holder that died long ago it takes the
// lease at once. b's clock is frozen before Acquire: any wait would last
// forever, so success shows the decision came from the watch's history.
func TestWatchedStandbyTakesDeadLeaseAtOnce(t *testing.T) {
	dir := t.TempDir()
	a := open(t, dir, "a", shortTiming)
	mustAcquire(t, a)
	a.Close() // kill -9: no release, no more heartbeats
	var clk stepClock
	clk.step.Store(int64(ms))
	b := open(t, dir, "b", shortTiming, WithClock(clk.now))
	watch(t, b)
	st := waitWatched(t, b, Expired)
	if st.Owner != active(1, "a") || st.Silence < shortTiming.LeaseTimeout {
		t.Fatalf("watched: %+v", st)
	}
	clk.step.Store(0)
	e, err := b.Acquire(ctxT(t))
	if err != nil || e != 2 {
		t.Fatalf("acquire after a watched expiry: %d %v", e, err)
	}
	if o, _ := b.ReadOwner(); o != active(2, "b") {
		t.Fatalf("OWNER %v", o)
	}
}

// Rule: only fresh observation counts. A watch whose clock jumped (a paused
// process) restarts its silence window: with the clock then frozen, Acquire
// never decides; once time runs again it takes the lease after a full
// window.
func TestPausedWatchRestartsWindow(t *testing.T) {
	dir := t.TempDir()
	a := open(t, dir, "a", shortTiming)
	mustAcquire(t, a)
	a.Close()
	var clk stepClock
	clk.step.Store(int64(ms))
	b := open(t, dir, "b", shortTiming, WithClock(clk.now))
	watch(t, b)
	waitWatched(t, b, Expired)
	clk.step.Store(0)
	clk.v.Add(int64(time.Second)) // paused for a second, then frozen
	ctx, cancel := context.WithTimeout(ctxT(t), 200*ms)
	_, err := b.Acquire(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("acquire right after a pause: %v", err)
	}
	if st, _ := b.Last(); st.Verdict != Unknown || st.Silence != 0 {
		t.Fatalf("watch after a pause: %+v", st)
	}
	if o, _ := b.ReadOwner(); o != active(1, "a") {
		t.Fatalf("OWNER %v", o)
	}
	clk.step.Store(int64(ms))
	if e, err := b.Acquire(ctxT(t)); err != nil || e != 2 {
		t.Fatalf("acquire once time runs again: %d %v", e, err)
	}
}

// Rule: the watch's history never lets a standby take a live holder's
// lease: a change it saw before Acquire does not refuse by itself, but the
// next one, seen during Acquire, does.
func TestWatchedStandbyRefusesLiveHolder(t *testing.T) {
	dir := t.TempDir()
	a := open(t, dir, "a", relaxedTiming)
	mustAcquire(t, a)
	heartbeat(t, a)
	b := open(t, dir, "b", relaxedTiming)
	watch(t, b)
	waitWatched(t, b, Alive)
	_, err := b.Acquire(ctxT(t))
	var pa *PeerAliveError
	if !errors.As(err, &pa) || pa.Owner != active(1, "a") {
		t.Fatalf("acquire by b: %v", err)
	}
	if err := a.StillOwner(); err != nil {
		t.Fatalf("a lost the lease: %v", err)
	}
	if s := b.Stats(); s.WatchErrors != 0 || s.Acquired != 0 {
		t.Fatalf("b stats %+v", s)
	}
}

// Watch reads nothing while this node holds the lease and ends when the
// guard is closed.
func TestWatchIdlesWhileHoldingAndEndsAtClose(t *testing.T) {
	dir := t.TempDir()
	g, err := Open(dir, "a", relaxedTiming)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Watch(context.Background()) }()
	waitWatched(t, g, Free)
	mustAcquire(t, g)
	time.Sleep(5 * relaxedTiming.PollInterval) // Watch ticks, and must not read
	if st, _ := g.Last(); st.Owner.State != StateNone || st.Holding {
		t.Fatalf("Watch read while holding: %+v", st)
	}
	g.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("Watch after Close: %v", err)
	}
}
