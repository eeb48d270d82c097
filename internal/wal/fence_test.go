package wal

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/guard"
)

// testTiming: a holder with a running heartbeat survives a 340 ms stall of
// the (loaded, shared) test machine; a stalled holder is taken over after
// 400 ms. Stalled holders use a frozen clock, so they never notice.
var testTiming = guard.Timing{HeartbeatInterval: 10 * time.Millisecond, LeaseTimeout: 400 * time.Millisecond,
	SafetyMargin: 50 * time.Millisecond, PollInterval: 10 * time.Millisecond}

type frozenClock struct{ v atomic.Int64 }

func (c *frozenClock) now() time.Duration { return time.Duration(c.v.Load()) }

func openGuard(t *testing.T, dir, node string, opts ...guard.Option) *guard.Guard {
	t.Helper()
	g, err := guard.Open(dir, node, testTiming, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// acquire takes the lease without renewing it (for a holder that will
// stall: give it a frozen clock).
func acquire(t *testing.T, g *guard.Guard) uint64 {
	t.Helper()
	e, err := g.Acquire(ctxT(t))
	if err != nil {
		t.Fatalf("acquire by %s: %v", g.Node(), err)
	}
	return e
}

// acquireHB takes the lease and keeps it renewed until the test ends.
func acquireHB(t *testing.T, g *guard.Guard) uint64 {
	t.Helper()
	e := acquire(t, g)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); g.Heartbeat(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

// appendN appends ids concurrently and returns the ids acknowledged.
func appendN(t *testing.T, w *WAL, ids []uint64, size int) map[uint64]bool {
	t.Helper()
	var mu sync.Mutex
	acked := map[uint64]bool{}
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := w.Append(ctxT(t), payload(id, size)); err == nil {
				mu.Lock()
				acked[id] = true
				mu.Unlock()
			} else {
				t.Errorf("append %d: %v", id, err)
			}
		}()
	}
	wg.Wait()
	return acked
}

func idRange(lo, hi uint64) []uint64 {
	var r []uint64
	for i := lo; i < hi; i++ {
		r = append(r, i)
	}
	return r
}

func idSet(t *testing.T, w *WAL) map[uint64]bool {
	t.Helper()
	ids, err := replayIDs(t, w, 1)
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	s := map[uint64]bool{}
	for _, id := range ids {
		if s[id] {
			t.Fatalf("id %d replayed twice", id)
		}
		s[id] = true
	}
	return s
}

// fileContains reports whether any file of dir holds payload(id).
func fileContains(t *testing.T, dir string, id uint64, size int) bool {
	segs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	p := payload(id, size)
	for _, s := range segs {
		b, _ := os.ReadFile(s)
		if bytes.Contains(b, p) {
			return true
		}
	}
	return false
}

// The primary is paused (its heartbeat stops and its clock stands still, so
// it believes its lease is valid); the standby takes over, bumps the epoch
// and seals. The old primary's next commit reaches the disk but is refused
// (ErrFenced) and never appears in recovery; nothing acknowledged is lost.
func TestFencingStalledPrimary(t *testing.T) {
	data := t.TempDir()
	walDir := filepath.Join(data, "wal")
	var clk frozenClock
	a := openGuard(t, data, "a", guard.WithClock(clk.now))
	wA := openP(t, walDir, acquire(t, a), a, Options{})
	ackedA := appendN(t, wA, idRange(0, 40), 300)
	if len(ackedA) != 40 {
		t.Fatalf("acked %d of 40", len(ackedA))
	}

	b := openGuard(t, data, "b")
	eB := acquireHB(t, b) // waits out a's silent heartbeat on b's clock
	if eB != 2 {
		t.Fatalf("epoch %d", eB)
	}
	wB := openP(t, walDir, eB, b, Options{})
	if r := wB.Report(); len(r.Sealed) != 1 || r.Sealed[0].Epoch != 1 || r.Sealed[0].EndLSN != 40 {
		t.Fatalf("seal %+v", r)
	}

	// a wakes up and commits.
	if err := a.MayServe(); err != nil {
		t.Fatalf("a's frozen clock should still claim the lease: %v", err)
	}
	_, err := wA.Append(ctxT(t), payload(1000, 300))
	if !errors.Is(err, ErrFenced) || !errors.Is(err, guard.ErrNotOwner) {
		t.Fatalf("commit by the old primary: %v", err)
	}
	if !fileContains(t, walDir, 1000, 300) {
		t.Fatal("the refused batch should be on disk (written and synced before the check)")
	}
	if _, err := wA.Append(ctxT(t), payload(1001, 300)); !errors.Is(err, ErrFenced) {
		t.Fatalf("second commit by the old primary: %v", err)
	}

	ackedB := appendN(t, wB, idRange(2000, 2020), 300)
	got := idSet(t, wB)
	for id := range ackedA {
		if !got[id] {
			t.Fatalf("acknowledged id %d lost", id)
		}
	}
	for id := range ackedB {
		if !got[id] {
			t.Fatalf("acknowledged id %d lost", id)
		}
	}
	if got[1000] || got[1001] {
		t.Fatal("a record written after the seal appears in recovery")
	}
	if len(got) != len(ackedA)+len(ackedB) {
		t.Fatalf("%d records, want %d", len(got), len(ackedA)+len(ackedB))
	}

	// Planned handover back to a (fresh process: new guard, real clock).
	wB.Close()
	if err := b.Release(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	a2 := openGuard(t, data, "a")
	w3 := openP(t, walDir, acquireHB(t, a2), a2, Options{})
	got3 := idSet(t, w3)
	if len(got3) != len(got) || got3[1000] {
		t.Fatalf("epoch 3 recovery: %d records (epoch 2 saw %d)", len(got3), len(got))
	}
}

// The critical interleaving: the old primary's batch is synced, then the
// takeover and seal happen, then the old primary checks OWNER. The batch is
// refused (not acknowledged) although it lies inside the seal: recovery may
// show it whole, which is allowed for an unacknowledged write.
func TestFencingTakeoverBetweenSyncAndCheck(t *testing.T) {
	data := t.TempDir()
	walDir := filepath.Join(data, "wal")
	var clk frozenClock
	a := openGuard(t, data, "a", guard.WithClock(clk.now))
	fa := &hookFence{g: a}
	wA := openP(t, walDir, acquire(t, a), fa, Options{})
	ackedA := appendN(t, wA, idRange(0, 10), 100)

	b := openGuard(t, data, "b")
	var wB *WAL
	fa.storeHook(func() {
		wB = openP(t, walDir, acquireHB(t, b), b, Options{})
	})
	if _, err := wA.Append(ctxT(t), payload(500, 100)); !errors.Is(err, ErrFenced) {
		t.Fatalf("append racing the takeover: %v", err)
	}
	got := idSet(t, wB)
	for id := range ackedA {
		if !got[id] {
			t.Fatalf("acknowledged id %d lost", id)
		}
	}
	if !got[500] {
		t.Fatal("the synced batch should lie inside the seal")
	}
}

type hookFence struct {
	g    *guard.Guard
	hook atomic.Pointer[func()]
}

func (h *hookFence) StillOwner() error {
	if f := h.hook.Swap(nil); f != nil {
		(*f)()
	}
	return h.g.StillOwner()
}

func (h *hookFence) storeHook(f func()) { h.hook.Store(&f) }

// Standby: the tailer sees the primary's appends; Promote applies only the
// unread tail and continues the LSN sequence.
func TestTailerFollowsAndPromotes(t *testing.T) {
	data := t.TempDir()
	walDir := filepath.Join(data, "wal")
	var clk frozenClock
	a := openGuard(t, data, "a", guard.WithClock(clk.now))
	wA := openP(t, walDir, acquire(t, a), a, Options{})
	hbCtx, stopHB := context.WithCancel(context.Background())
	defer stopHB()
	go a.Heartbeat(hbCtx) // a frozen clock never lapses, and the heartbeat moves

	tl, err := OpenTailer(walDir, 1, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	applied := map[uint64]uint64{} // lsn -> id
	var last uint64
	apply := func(lsn uint64, p []byte) error {
		if lsn != last+1 {
			t.Fatalf("tailer applied LSN %d after %d", lsn, last)
		}
		last = lsn
		id, err := checkPayload(p)
		if err != nil {
			t.Fatal(err)
		}
		applied[lsn] = id
		return nil
	}
	acked := appendN(t, wA, idRange(0, 50), 500)
	waitApplied(t, tl, apply, func() bool { return len(applied) == len(acked) })
	for _, id := range applied {
		if !acked[id] {
			t.Fatalf("tailer applied unacknowledged id %d", id)
		}
	}

	// More writes the standby has not read, then the primary dies.
	for _, id := range idRange(50, 60) {
		if _, err := wA.Append(ctxT(t), payload(id, 500)); err != nil {
			t.Fatal(err)
		}
	}
	stopHB()
	wA.Close()

	b := openGuard(t, data, "b")
	eB := acquireHB(t, b)
	before := len(applied)
	wB, err := tl.Promote(eB, b, apply)
	if err != nil {
		t.Fatal(err)
	}
	defer wB.Close()
	if len(applied)-before != 10 || len(applied) != 60 {
		t.Fatalf("promote applied %d records (total %d), want the 10 unread", len(applied)-before, len(applied))
	}
	if l, err := wB.Append(ctxT(t), payload(99, 10)); err != nil || l != 61 {
		t.Fatalf("append after promote: %d %v", l, err)
	}
}

func waitApplied(t *testing.T, tl *Tailer, fn ApplyFunc, done func() bool) Progress {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		p, err := tl.Poll(fn)
		if err != nil {
			t.Fatal(err)
		}
		if done() {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("tailer stuck at %+v", p)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// A third node tailing across a takeover sees every acknowledged record of
// both epochs, in order, and none of the fenced writer's late batch.
func TestTailerCrossesTakeover(t *testing.T) {
	data := t.TempDir()
	walDir := filepath.Join(data, "wal")
	var clk frozenClock
	a := openGuard(t, data, "a", guard.WithClock(clk.now))
	wA := openP(t, walDir, acquire(t, a), a, Options{SegmentSize: 8192})
	tl, _ := OpenTailer(walDir, 1, Options{})
	defer tl.Close()
	got := map[uint64]bool{}
	var last uint64
	apply := func(lsn uint64, p []byte) error {
		if lsn != last+1 {
			t.Fatalf("LSN %d after %d", lsn, last)
		}
		last = lsn
		id, _ := checkPayload(p)
		got[id] = true
		return nil
	}
	ackedA := appendN(t, wA, idRange(0, 30), 700)
	tl.Poll(apply)
	b := openGuard(t, data, "b")
	wB := openP(t, walDir, acquireHB(t, b), b, Options{SegmentSize: 8192})
	if _, err := wA.Append(ctxT(t), payload(1000, 700)); !errors.Is(err, ErrFenced) {
		t.Fatal(err)
	}
	ackedB := appendN(t, wB, idRange(2000, 2030), 700)
	p := waitApplied(t, tl, apply, func() bool { return len(got) >= len(ackedA)+len(ackedB) })
	if p.Epoch != 2 || p.Epochs != 1 {
		t.Fatalf("progress %+v", p)
	}
	for id := range ackedA {
		if !got[id] {
			t.Fatalf("id %d missing", id)
		}
	}
	if got[1000] || len(got) != len(ackedA)+len(ackedB) {
		t.Fatalf("tailer applied %d records, fenced one: %v", len(got), got[1000])
	}
}

// Live mode holds back the newest batch: a batch the tailer read that ends
// up past the seal (a fenced writer's last) is dropped, not applied.
func TestTailerDropsHeldBatchPastSeal(t *testing.T) {
	dir := t.TempDir()
	w := openP(t, dir, 1, &fakeFence{}, Options{})
	for i := range 3 {
		if _, err := w.Append(ctxT(t), payload(uint64(i), 64)); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	seg := lastSegment(t, dir, 1)
	fi, _ := os.Stat(seg)
	sealAt := fi.Size()
	// The zombie's batch: LSN 4, complete, never acknowledged, no marker after.
	f, _ := os.OpenFile(seg, os.O_RDWR, 0)
	z := appendRecord(nil, typeData, flagBatchEnd, 4, payload(99, 64))
	f.WriteAt(z, sealAt)
	f.Close()

	tl, _ := OpenTailer(dir, 1, Options{})
	defer tl.Close()
	var ids []uint64
	apply := func(lsn uint64, p []byte) error { id, _ := checkPayload(p); ids = append(ids, id); return nil }
	if _, err := tl.Poll(apply); err != nil || len(ids) != 3 {
		t.Fatalf("live poll: %v %v", ids, err)
	}
	// The successor seals epoch 1 before the zombie's batch.
	content := segHeader{epoch: 2, seq: 0, base: 4}.encode()
	content = appendRecord(content, typeSeal, flagBatchEnd, 0, encodeSeals([]Seal{{Epoch: 1, Seq: 1, Length: sealAt, RawLength: sealAt + int64(len(z)), EndLSN: 3}}))
	nf, err := publish(dir, SegmentName(2, 0), content)
	if err != nil {
		t.Fatal(err)
	}
	nf.Close()
	p, err := tl.Poll(apply)
	if err != nil || len(ids) != 3 || p.Epoch != 2 || p.NextLSN != 4 {
		t.Fatalf("after seal: ids %v progress %+v err %v", ids, p, err)
	}
	// Epoch 2 writes LSN 4 for real; the tailer applies it.
	w2 := openP(t, dir, 2, &fakeFence{}, Options{})
	if l, err := w2.Append(ctxT(t), payload(7, 64)); err != nil || l != 4 {
		t.Fatalf("%d %v", l, err)
	}
	waitApplied(t, tl, apply, func() bool { return len(ids) == 4 })
	if ids[3] != 7 {
		t.Fatalf("ids %v", ids)
	}
}
