package vectordb

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/guard"
)

// testTiming is a lease short enough for quick takeovers in tests and long
// enough (1.2 s serve window) that a loaded machine never misses it.
var testTiming = guard.Timing{HeartbeatInterval: 100 * time.Millisecond, LeaseTimeout: 1500 * time.Millisecond,
	SafetyMargin: 300 * time.Millisecond, PollInterval: 50 * time.Millisecond}

func openDisk(t *testing.T, dir, node string, mode Mode) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := Open(ctx, dir, Options{NodeID: node, Mode: mode, Timing: testTiming})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestDurableRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(11, 11))
	db := openDisk(t, dir, "a", Primary)
	mustCreate(t, db, testSchema("c"), IndexParams{Type: IndexHNSW, Metric: MetricL2})
	o := oracle{}
	runWorkload(t, db, "c", o, rng, 60)
	db.Close()
	db = openDisk(t, dir, "a", Primary)
	checkAgainst(t, db, "c", o, MetricL2, rng)
	runWorkload(t, db, "c", o, rng, 30)
	if err := db.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	runWorkload(t, db, "c", o, rng, 30)
	if err := db.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	runWorkload(t, db, "c", o, rng, 30)
	db.Close()
	db = openDisk(t, dir, "b", Primary) // another node takes over the directory
	checkAgainst(t, db, "c", o, MetricL2, rng)
}

func TestWarmStandbyOnDisk(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(12, 12))
	a := openDisk(t, dir, "a", Primary)
	mustCreate(t, a, testSchema("c"), IndexParams{Type: IndexFLAT, Metric: MetricIP})
	o := oracle{}
	runWorkload(t, a, "c", o, rng, 40)
	if err := a.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	runWorkload(t, a, "c", o, rng, 20)

	b := openDisk(t, dir, "b", Standby)
	runWorkload(t, a, "c", o, rng, 40)
	// The standby applies every batch once a later one (or the idle
	// marker) follows it.
	deadline := time.Now().Add(20 * time.Second)
	for b.applied.Load() < a.applied.Load() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	checkAgainst(t, b, "c", o, MetricIP, rng)

	// While a heartbeats, the standby cannot take over.
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	err := b.Promote(pctx)
	cancel()
	if !errorsIs(err, guard.ErrPeerAlive) {
		t.Fatalf("promote while the primary is alive: %v", err)
	}
	if b.Role() != RoleStandby {
		t.Fatalf("role after refused promote: %v", b.Role())
	}

	// Stall a's heartbeat (a paused process): b takes over once the lease
	// expires; a's next write is refused and never appears.
	runWorkload(t, a, "c", o, rng, 20)
	a.wal.(*walBackend).stopHB()
	for {
		err := b.Promote(ctx)
		if err == nil {
			break
		}
		if !errorsIs(err, guard.ErrPeerAlive) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // the keeper retries likewise
	}
	if _, err := a.Insert(ctx, "c", toBatch([]oRow{randRow(rng, 999_999)})); !errorsIs(err, ErrFenced) {
		t.Fatalf("write on the deposed primary: %v", err)
	}
	checkAgainst(t, b, "c", o, MetricIP, rng)
	runWorkload(t, b, "c", o, rng, 20)
	b.Close()
	a.Close()
	c := openDisk(t, dir, "c", Primary)
	checkAgainst(t, c, "c", o, MetricIP, rng)
	if n, _ := c.Count(ctx, "c", "id == 999999", nil); n != 0 {
		t.Fatal("a record written after the seal became visible")
	}
}

var errPeerAlive = guard.ErrPeerAlive

func TestStandbyOnEmptyDirectory(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	sb := openDisk(t, dir, "b", Standby)
	if got := sb.ListCollections(); len(got) != 0 {
		t.Fatalf("collections in an empty directory: %v", got)
	}
	if err := sb.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, sb, testSchema("c"), IndexParams{})
	info, err := sb.DescribeIndex("c", "")
	if err != nil || info[0].Params.Type != IndexAuto || info[0].Params.Metric != MetricCosine || info[0].Params.M != DefaultM {
		t.Fatalf("AUTOINDEX defaults: %+v, %v", info, err)
	}
}
