package vectordb

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/guard"
)

// waitLease waits until the standby's lease watch reports verdict want.
func waitLease(t *testing.T, b *walBackend, want guard.Verdict) guard.Status {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := b.g.Last()
		if err == nil && st.Verdict == want {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("lease watch never reported %v: last %+v %v", want, st, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func watching(b *walBackend) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stopWatch != nil
}

// Rule (DESIGN.md "Lease"): the standby watches the owner's heartbeat with
// its own clock from the moment it is a standby, not from the moment it is
// told to take over: while the owner lives the watch sees it alive; once
// the owner is silent for the lease timeout the standby already knows it
// before Promote, which then takes the lease (the guard's tests show that
// such an Acquire decides without waiting); as primary the watch is over.
func TestStandbyWatchesLeaseBeforePromote(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a := openDisk(t, dir, "a", Primary)
	mustCreate(t, a, testSchema("c"), IndexParams{Type: IndexFLAT, Metric: MetricL2})
	b := openDisk(t, dir, "b", Standby)
	bb := b.wal.(*walBackend)
	if !watching(bb) {
		t.Fatal("a standby does not watch the lease")
	}
	if st := waitLease(t, bb, guard.Alive); st.Owner.Node != "a" {
		t.Fatalf("watched owner %v", st.Owner)
	}

	a.wal.(*walBackend).stopHB() // the owner dies: its heartbeat stops
	st := waitLease(t, bb, guard.Expired)
	if st.Silence < testTiming.LeaseTimeout || b.Role() != RoleStandby {
		t.Fatalf("before Promote: %+v, role %v", st, b.Role())
	}
	if err := b.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	if b.Role() != RolePrimary || bb.Epoch() != 2 || watching(bb) {
		t.Fatalf("after Promote: role %v, epoch %d, watching %v", b.Role(), bb.Epoch(), watching(bb))
	}
	if _, err := b.Insert(ctx, "c", toBatch([]oRow{randRow(rand.New(rand.NewPCG(1, 1)), 1)})); err != nil {
		t.Fatalf("insert on the new primary: %v", err)
	}
}

// A standby that is closed ends its watch.
func TestStandbyCloseEndsWatch(t *testing.T) {
	dir := t.TempDir()
	b := openDisk(t, dir, "b", Standby)
	bb := b.wal.(*walBackend)
	bb.mu.Lock()
	done := bb.watchDone
	bb.mu.Unlock()
	waitLease(t, bb, guard.Free)
	b.Close()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the lease watch outlived Close")
	}
}
