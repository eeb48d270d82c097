package vectordb

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// reopen closes db and opens the same directory and log again.
func reopen(t *testing.T, db *DB, l *memLog) *DB {
	t.Helper()
	dir := db.dir
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2, err := openWith(context.Background(), dir, Options{NodeID: "t"}, l.handle(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db2.Close() })
	return db2
}

func TestRecoveryFromLogAndCheckpoints(t *testing.T) {
	ctx := context.Background()
	for _, typ := range []IndexType{IndexFLAT, IndexHNSW} {
		t.Run(string(typ), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 7))
			l := newMemLog()
			db := openMem(t, l, Primary)
			mustCreate(t, db, testSchema("c"), IndexParams{Type: typ, Metric: MetricL2})
			// A second, released collection without index, dropped and
			// re-created: its identity must survive too.
			s2 := testSchema("other")
			if err := db.CreateCollection(ctx, s2); err != nil {
				t.Fatal(err)
			}
			if err := db.DropCollection(ctx, "other"); err != nil {
				t.Fatal(err)
			}
			if err := db.CreateCollection(ctx, s2); err != nil {
				t.Fatal(err)
			}
			info, _ := db.DescribeCollection("other")
			o := oracle{}

			// Log only.
			runWorkload(t, db, "c", o, rng, 80)
			db = reopen(t, db, l)
			checkAgainst(t, db, "c", o, MetricL2, rng)

			// Checkpoint, then more log; twice, so the log is truncated
			// behind the first checkpoint.
			for range 2 {
				if err := db.Checkpoint(ctx); err != nil {
					t.Fatal(err)
				}
				runWorkload(t, db, "c", o, rng, 40)
			}
			if l.base == 0 {
				t.Fatal("log was not truncated behind the older checkpoint")
			}
			db = reopen(t, db, l)
			checkAgainst(t, db, "c", o, MetricL2, rng)
			got, err := db.DescribeCollection("other")
			if err != nil || got.ID != info.ID || got.SchemaVersion != info.SchemaVersion || got.Load != LoadStateNotLoad {
				t.Fatalf("collection identity after recovery: %+v, %v; want %+v", got, err, info)
			}
			if st := db.LoadState("c"); st != LoadStateLoaded {
				t.Fatalf("load state after recovery: %v", st)
			}
			// New auto IDs and collection IDs never reuse old ones.
			if err := db.CreateCollection(ctx, testSchema("third")); err != nil {
				t.Fatal(err)
			}
			if got, _ := db.DescribeCollection("third"); got.ID <= info.ID || got.SchemaVersion <= info.SchemaVersion {
				t.Fatalf("new collection reuses an identity: %+v after %+v", got, info)
			}
		})
	}
}

func TestRecoveryFallsBackToOlderCheckpoint(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(8, 8))
	l := newMemLog()
	db := openMem(t, l, Primary)
	mustCreate(t, db, testSchema("c"), IndexParams{Type: IndexFLAT, Metric: MetricIP})
	o := oracle{}
	for range 2 {
		runWorkload(t, db, "c", o, rng, 40)
		if err := db.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	runWorkload(t, db, "c", o, rng, 20)
	// Flip a byte in the newest snapshot: recovery must notice (CRC) and
	// use the previous checkpoint plus the longer log.
	dir := filepath.Join(db.dir, ckptDir)
	names, _ := manifests(dir)
	m, err := readManifest(filepath.Join(dir, names[0]))
	if err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(dir, m.colls[0][0])
	b, _ := os.ReadFile(snap)
	b[len(b)/2] ^= 0x40
	os.WriteFile(snap, b, 0o644)
	db = reopen(t, db, l)
	checkAgainst(t, db, "c", o, MetricIP, rng)
}

func TestStandbyFollowsAndPromotes(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(9, 9))
	l := newMemLog()
	prim := openMem(t, l, Primary)
	mustCreate(t, prim, testSchema("c"), IndexParams{Type: IndexHNSW, Metric: MetricCosine})
	o := oracle{}
	runWorkload(t, prim, "c", o, rng, 30)
	if err := prim.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	runWorkload(t, prim, "c", o, rng, 30)

	sb, err := openWith(ctx, prim.dir, Options{NodeID: "b", Mode: Standby}, l.handle(false))
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	if _, err := sb.Insert(ctx, "c", toBatch([]oRow{randRow(rng, 1)})); !errorsIs(err, ErrNotPrimary) {
		t.Fatalf("insert on standby: %v, want ErrNotPrimary", err)
	}
	runWorkload(t, prim, "c", o, rng, 30)
	waitApplied(t, sb, prim.applied.Load())
	checkAgainst(t, sb, "c", o, MetricCosine, rng)

	// Takeover: the standby promotes; the old primary is fenced on its
	// next write, and the write is not acknowledged.
	runWorkload(t, prim, "c", o, rng, 10)
	if err := sb.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	if sb.Role() != RolePrimary {
		t.Fatalf("role after promote: %v", sb.Role())
	}
	checkAgainst(t, sb, "c", o, MetricCosine, rng)
	_, err = prim.Insert(ctx, "c", toBatch([]oRow{randRow(rng, 1)}))
	if !errorsIs(err, ErrFenced) || prim.Role() != RoleFenced {
		t.Fatalf("old primary write: %v, role %v; want ErrFenced", err, prim.Role())
	}
	select {
	case <-prim.Fenced():
	default:
		t.Fatal("Fenced() not closed")
	}
	runWorkload(t, sb, "c", o, rng, 30)
	checkAgainst(t, sb, "c", o, MetricCosine, rng)
	// The old primary still serves reads of what it had.
	if _, err := prim.Count(ctx, "c", "", nil); err != nil {
		t.Fatalf("read on fenced node: %v", err)
	}
}

func waitApplied(t *testing.T, db *DB, lsn uint64) {
	t.Helper()
	for db.applied.Load() < lsn {
		runtimeGosched()
	}
}

func TestCheckpointFilesAreEpochScoped(t *testing.T) {
	if e, ok := fileEpoch("coll-3-00000000000000000012-e7.snap.tmp"[:len("coll-3-00000000000000000012-e7.snap")]); !ok || e != 7 {
		t.Fatalf("fileEpoch: %d %v", e, ok)
	}
	if _, ok := fileEpoch("README"); ok {
		t.Fatal("fileEpoch accepted a foreign name")
	}
	if !strings.HasPrefix(manifestName(12, 3), "ckpt-00000000000000000012-e3") {
		t.Fatal(manifestName(12, 3))
	}
}
