package vectordb

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// withRecordLimit lowers maxRecordBytes for one test, so that a few hundred
// rows make a split write.
func withRecordLimit(t *testing.T, n int) {
	old := maxRecordBytes
	maxRecordBytes = n
	t.Cleanup(func() { maxRecordBytes = old })
}

// upsertRows upserts rows with keys [from, to) and records them in o.
func upsertRows(t *testing.T, db *DB, o oracle, rng *rand.Rand, from, to int64) error {
	t.Helper()
	var rows []oRow
	for id := from; id < to; id++ {
		rows = append(rows, randRow(rng, id))
	}
	ids, err := db.Upsert(context.Background(), "c", toBatch(rows))
	if err != nil {
		return err
	}
	if len(ids.Ints) != len(rows) {
		t.Fatalf("upsert returned %d keys for %d rows", len(ids.Ints), len(rows))
	}
	for _, r := range rows {
		o[r.id] = r
	}
	return nil
}

// A write above the record limit is logged as several entries in one
// append and is all-or-nothing: acknowledged, it is whole on the primary, a
// standby and after reopening; refused by the log (disk failure, fenced),
// nothing of it is anywhere. Deletes of many keys split the same way.
func TestSplitWrite(t *testing.T) {
	withRecordLimit(t, 4<<10)
	for _, tc := range []struct {
		name    string
		fail    func(l *memLog) // makes the log refuse the write; nil: it succeeds
		wantErr error
	}{
		{name: "acknowledged"},
		{name: "storage failure", fail: func(l *memLog) { l.failErr = errors.New("input/output error") }, wantErr: ErrStorage},
		{name: "fenced", fail: func(l *memLog) { l.handle(true) }, wantErr: ErrFenced},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(21, 21))
			l := newMemLog()
			db := openMem(t, l, Primary)
			mustCreate(t, db, testSchema("c"), IndexParams{Type: IndexFLAT, Metric: MetricL2})
			sb := openMem(t, l, Standby)
			o := oracle{}
			if err := upsertRows(t, db, o, rng, 0, 40); err != nil {
				t.Fatal(err)
			}
			entries, appends := len(l.recs), l.appends
			if tc.fail != nil {
				tc.fail(l)
			}
			// 300 rows, 20 of them replacing existing keys.
			err := upsertRows(t, db, o, rng, 20, 320)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("split write: %v, want %v", err, tc.wantErr)
			}
			if err == nil && (l.appends != appends+1 || len(l.recs) < entries+3) {
				t.Fatalf("split write: %d appends of %d entries, want one of several", l.appends-appends, len(l.recs)-entries)
			}
			if err != nil && len(l.recs) != entries {
				t.Fatalf("refused split write left %d entries in the log", len(l.recs)-entries)
			}
			l.failErr = nil
			checkAgainst(t, db, "c", o, MetricL2, rng)
			waitApplied(t, sb, uint64(len(l.recs)))
			checkAgainst(t, sb, "c", o, MetricL2, rng)
			db = reopen(t, db, l)
			checkAgainst(t, db, "c", o, MetricL2, rng)

			// Delete 3000 keys (most absent): a split delete counts the
			// rows of all its parts.
			keys := Column{Name: "id", Type: TypeInt64}
			for k := range int64(3000) {
				keys.Ints = append(keys.Ints, k)
			}
			entries = len(l.recs)
			n, err := db.DeleteByPK(ctx, "c", keys)
			if err != nil || n != int64(len(o)) || len(l.recs) < entries+2 {
				t.Fatalf("split delete: %d rows, %v, %d entries; want %d rows in several entries", n, err, len(l.recs)-entries, len(o))
			}
			clear(o)
			if err := upsertRows(t, db, o, rng, 5000, 5300); err != nil {
				t.Fatal(err)
			}
			checkAgainst(t, db, "c", o, MetricL2, rng)
			waitApplied(t, sb, uint64(len(l.recs)))
			checkAgainst(t, sb, "c", o, MetricL2, rng)
			db = reopen(t, db, l)
			checkAgainst(t, db, "c", o, MetricL2, rng)
		})
	}
}

// Readers on the primary and on a standby only ever see whole split
// writes: every count is a multiple of the write's size.
func TestSplitWriteNeverSeenInPart(t *testing.T) {
	withRecordLimit(t, 4<<10)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(22, 22))
	l := newMemLog()
	db := openMem(t, l, Primary)
	mustCreate(t, db, testSchema("c"), IndexParams{Type: IndexFLAT, Metric: MetricIP})
	sb := openMem(t, l, Standby)
	const per = 300
	stop := make(chan struct{})
	errs := make(chan error, 2)
	for _, r := range []*DB{db, sb} {
		go func() {
			reads := 0
			for {
				select {
				case <-stop:
					if reads == 0 {
						errs <- errors.New("no read ran")
					}
					errs <- nil
					return
				default:
				}
				if n, err := r.Count(ctx, "c", "", nil); err == nil {
					reads++
					if n%per != 0 {
						errs <- fmt.Errorf("%v sees %d rows: part of a %d-row write", r.Role(), n, per)
						return
					}
				}
			}
		}()
	}
	o := oracle{}
	for w := range int64(10) {
		if err := upsertRows(t, db, o, rng, w*per, (w+1)*per); err != nil {
			t.Fatal(err)
		}
	}
	waitApplied(t, sb, db.applied.Load())
	close(stop)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if len(l.recs) <= l.appends {
		t.Fatalf("%d entries in %d appends: no write was split", len(l.recs), l.appends)
	}
	checkAgainst(t, sb, "c", o, MetricIP, rng)
}

// A single row above the record limit cannot be logged: the write fails
// with the row's index and size, and nothing is written.
func TestSplitRowTooLarge(t *testing.T) {
	withRecordLimit(t, 4<<10)
	rng := rand.New(rand.NewPCG(23, 23))
	l := newMemLog()
	db := openMem(t, l, Primary)
	mustCreate(t, db, testSchema("c"), IndexParams{Type: IndexFLAT, Metric: MetricL2})
	var rows []oRow
	for id := range int64(50) {
		rows = append(rows, randRow(rng, id))
	}
	b := toBatch(rows)
	b.Column("").JSON[7] = fmt.Appendf(nil, `{"color":%q}`, strings.Repeat("x", 5000))
	entries := len(l.recs)
	_, err := db.Insert(context.Background(), "c", b)
	if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "row 7 encodes to") || len(l.recs) != entries {
		t.Fatalf("insert with a row above the limit: %v, %d entries written", err, len(l.recs)-entries)
	}
}

// On disk: split writes before and after a checkpoint reach the standby
// whole and survive its promotion; a split write whose last entry never
// reached the disk vanishes whole at recovery.
func TestSplitWriteOnDisk(t *testing.T) {
	withRecordLimit(t, 4<<10)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(24, 24))
	dir := t.TempDir()
	a := openDisk(t, dir, "a", Primary)
	mustCreate(t, a, testSchema("c"), IndexParams{Type: IndexFLAT, Metric: MetricL2})
	b := openDisk(t, dir, "b", Standby)
	o := oracle{}
	if err := upsertRows(t, a, o, rng, 0, 300); err != nil {
		t.Fatal(err)
	}
	if err := a.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if err := upsertRows(t, a, o, rng, 200, 500); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for b.applied.Load() < a.applied.Load() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	checkAgainst(t, b, "c", o, MetricL2, rng)
	if err := upsertRows(t, a, o, rng, 500, 800); err != nil {
		t.Fatal(err)
	}
	a.Close() // hands the lease over: b takes over at once
	if err := b.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	checkAgainst(t, b, "c", o, MetricL2, rng)

	// b's next split write is torn by a crash.
	if err := upsertRows(t, b, oracle{}, rng, 800, 1100); err != nil {
		t.Fatal(err)
	}
	b.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, walDir, "*.log"))
	last := segs[len(segs)-1]
	fi, err := os.Stat(last)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(last, fi.Size()-100); err != nil { // inside the last entry
		t.Fatal(err)
	}
	c := openDisk(t, dir, "c", Primary)
	checkAgainst(t, c, "c", o, MetricL2, rng)
}
