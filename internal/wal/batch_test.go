package wal

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// batchID names member j of a batch of n payloads: the batch and its size
// can be told from any member, so a reader can check it got all of them.
func batchID(b uint64, n, j int) uint64 { return 1<<63 | uint64(n)<<48 | b<<8 | uint64(j) }

// batchOf returns the batch, size and index of a batchID (ok false for an
// id of a single Append).
func batchOf(id uint64) (b uint64, n, j int, ok bool) {
	return id >> 8 & (1<<40 - 1), int(id >> 48 & 0x7fff), int(id & 0xff), id&(1<<63) != 0
}

// batchPayloads makes the payloads of batch b, one per size.
func batchPayloads(b uint64, sizes []int) [][]byte {
	ps := make([][]byte, len(sizes))
	for j, s := range sizes {
		ps[j] = payload(batchID(b, len(sizes), j), s)
	}
	return ps
}

// checkBatches fails unless every batch with a member in ids (LSN → id) is
// there whole, in order, at consecutive LSNs.
func checkBatches(t *testing.T, ids map[uint64]uint64) {
	t.Helper()
	for lsn, id := range ids {
		b, n, j, ok := batchOf(id)
		if !ok {
			continue
		}
		first := lsn - uint64(j)
		for k := range n {
			if got := ids[first+uint64(k)]; got != batchID(b, n, k) {
				t.Fatalf("batch %d: LSN %d holds %#x, want member %d of %d (a member is at LSN %d)", b, first+uint64(k), got, k, n, lsn)
			}
		}
	}
}

// diskRecord is a data record as found in a segment.
type diskRecord struct {
	seg      string
	lsn      uint64
	batchEnd bool
}

// dataRecords lists the data records of every data segment of dir in log
// order (whole, verifying records only).
func dataRecords(t *testing.T, dir string) []diskRecord {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	var out []diskRecord
	for _, path := range segs {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := f.Stat()
		var sc scanner
		sc.reset(f, path, HeaderSize, fi.Size())
		for {
			rec, _, err := sc.next()
			if err != nil {
				break
			}
			if rec.typ == typeData {
				out = append(out, diskRecord{seg: filepath.Base(path), lsn: rec.lsn, batchEnd: rec.batchEnd()})
			}
		}
		f.Close()
	}
	return out
}

// AppendBatch: one group commit per batch whatever its size, one segment,
// the batch-end flag on its last record only, dense LSNs; a refused batch
// writes nothing.
func TestAppendBatch(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opt     Options
		sizes   []int // the batch, after one single Append
		fenced  bool
		wantErr error
	}{
		{name: "one payload", sizes: []int{100}},
		{name: "several payloads", sizes: []int{100, 2000, 16, 300}},
		{name: "above MaxBatchBytes", opt: Options{MaxBatchBytes: 4096}, sizes: repeat(12, 1000)},
		{name: "above SegmentSize", opt: Options{SegmentSize: 4096}, sizes: repeat(12, 1000)},
		{name: "a payload above MaxPayload", sizes: []int{100, MaxPayload + 1}, wantErr: ErrTooLarge},
		{name: "empty", sizes: nil, wantErr: errors.New("any")},
		{name: "fenced after its sync", sizes: []int{100, 200, 300}, fenced: true, wantErr: ErrFenced},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			f := &fakeFence{}
			w := openP(t, dir, 1, f, tc.opt)
			if _, err := w.Append(ctxT(t), payload(1, 64)); err != nil {
				t.Fatal(err)
			}
			before := w.Stats()
			if tc.fenced {
				f.set(errTestNotOwner)
			}
			first, err := w.AppendBatch(ctxT(t), batchPayloads(7, tc.sizes))
			if tc.wantErr != nil {
				if err == nil || tc.wantErr == ErrTooLarge && !errors.Is(err, ErrTooLarge) || tc.fenced && !errors.Is(err, ErrFenced) {
					t.Fatalf("AppendBatch: %v, want %v", err, tc.wantErr)
				}
				if ids, err := replayIDs(t, w, 1); err != nil || len(ids) != 1 || w.LastLSN() != 1 {
					t.Fatalf("after a refused batch: replay %v %v, last LSN %d", ids, err, w.LastLSN())
				}
				return
			}
			if err != nil || first != 2 || w.LastLSN() != uint64(1+len(tc.sizes)) {
				t.Fatalf("AppendBatch: first LSN %d, last %d, %v", first, w.LastLSN(), err)
			}
			st := w.Stats()
			if st.Batches != before.Batches+1 || st.Appends != before.Appends+uint64(len(tc.sizes)) || st.MaxBatch != uint64(len(tc.sizes)) {
				t.Fatalf("one batch of %d records: stats %+v, before %+v", len(tc.sizes), st, before)
			}
			ids, err := replayIDs(t, w, 1)
			if err != nil || len(ids) != 1+len(tc.sizes) {
				t.Fatalf("replay: %d records, %v", len(ids), err)
			}
			checkBatches(t, ids)
			recs := dataRecords(t, dir)
			batch := recs[1:]
			for i, r := range batch {
				if r.seg != batch[0].seg || r.batchEnd != (i == len(batch)-1) || r.lsn != first+uint64(i) {
					t.Fatalf("record %d of the batch: %+v (first %+v)", i, r, batch[0])
				}
			}
			if tc.opt.SegmentSize > 0 && batch[0].seg == recs[0].seg {
				t.Fatalf("the batch does not fit after the first record, yet shares its segment %s", recs[0].seg)
			}
		})
	}
}

func repeat(n, size int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = size
	}
	return s
}

// Concurrent batches and single appends share group commits, but a batch's
// records are never interleaved with anyone else's, in the file or in a
// replay, even when batches cross MaxBatchBytes and segment boundaries.
func TestAppendBatchNeverInterleaved(t *testing.T) {
	dir := t.TempDir()
	w := openP(t, dir, 1, &fakeFence{}, Options{SegmentSize: 16 << 10, MaxBatchBytes: 8 << 10})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 9))
			for i := range 30 {
				var err error
				if g%4 == 0 {
					_, err = w.Append(ctxT(t), payload(uint64(g*1000+i), 64+r.IntN(500)))
				} else {
					sizes := make([]int, 1+r.IntN(12))
					for k := range sizes {
						sizes[k] = 16 + r.IntN(1500)
					}
					_, err = w.AppendBatch(ctxT(t), batchPayloads(uint64(g*1000+i), sizes))
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	ids, err := replayIDs(t, w, 1)
	if err != nil || len(ids) != int(w.LastLSN()) {
		t.Fatalf("replay: %d records of %d, %v", len(ids), w.LastLSN(), err)
	}
	checkBatches(t, ids)
	// In the file, a batch end never falls inside a batch, and a batch
	// never spans segments.
	recs := dataRecords(t, dir)
	for i, r := range recs {
		b, n, j, ok := batchOf(ids[r.lsn])
		if !ok || j == n-1 {
			continue
		}
		if r.batchEnd || recs[i+1].seg != r.seg {
			t.Fatalf("batch %d, member %d of %d at LSN %d: batch end %v, next record in %s, this in %s", b, j, n, r.lsn, r.batchEnd, recs[i+1].seg, r.seg)
		}
	}
	if st := w.Stats(); st.Batches >= st.Appends || st.Rotations < 3 {
		t.Fatalf("stats %+v: want shared group commits and rotations", st)
	}
}

// tornBatchLog writes three single appends, then one batch of five
// 300-byte payloads (LSNs 4..8), then damages the batch with cut. It returns
// the segment and the offsets of the batch's records.
func tornBatchLog(t *testing.T, dir string, cut func(t *testing.T, seg string, offs []int64)) (string, []int64) {
	t.Helper()
	w := openP(t, dir, 1, &fakeFence{}, Options{})
	for i := range 3 {
		if _, err := w.Append(ctxT(t), payload(uint64(i), 300)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.AppendBatch(ctxT(t), batchPayloads(9, repeat(5, 300))); err != nil {
		t.Fatal(err)
	}
	w.Close()
	seg := lastSegment(t, dir, 1)
	offs := dataOffsets(t, seg)[3:]
	cut(t, seg, offs)
	return seg, offs
}

func truncateAt(off func(offs []int64) int64) func(*testing.T, string, []int64) {
	return func(t *testing.T, seg string, offs []int64) {
		if err := os.Truncate(seg, off(offs)); err != nil {
			t.Fatal(err)
		}
	}
}

// A batch cut anywhere before its end vanishes whole: the tailer never
// delivers any of it, the seal cuts it from its first record, and replay
// and later epochs go on from the LSN before it. Damage followed by the
// batch's own end record is not a torn tail: the seal is refused.
func TestTornBatchVanishes(t *testing.T) {
	const recSize = RecordHeaderSize + 300
	for _, tc := range []struct {
		name    string
		cut     func(*testing.T, string, []int64)
		corrupt bool // the seal must refuse: the batch's end verifies
	}{
		{name: "inside the first record's header", cut: truncateAt(func(o []int64) int64 { return o[0] + 7 })},
		{name: "after two whole records", cut: truncateAt(func(o []int64) int64 { return o[2] })},
		{name: "inside the third record", cut: truncateAt(func(o []int64) int64 { return o[2] + 150 })},
		{name: "one byte short of the end", cut: truncateAt(func(o []int64) int64 { return o[4] + recSize - 1 })},
		{name: "middle lost, end missing", cut: func(t *testing.T, seg string, o []int64) {
			// Persisted out of order: record 1 is damaged, records 2 and 3
			// verify, the end record never reached the disk.
			flip(t, seg, o[1]+RecordHeaderSize+9)
			truncateAt(func(o []int64) int64 { return o[4] + 40 })(t, seg, o)
		}},
		{name: "middle damaged, end present", corrupt: true, cut: func(t *testing.T, seg string, o []int64) {
			flip(t, seg, o[1]+RecordHeaderSize+9)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tl, _ := OpenTailer(dir, 1, Options{})
			defer tl.Close()
			var got []uint64
			apply := func(lsn uint64, p []byte) error {
				id, err := checkPayload(p)
				if err != nil || lsn != uint64(len(got))+1 {
					return fmt.Errorf("LSN %d after %d: %v", lsn, len(got), err)
				}
				got = append(got, id)
				return nil
			}
			seg, offs := tornBatchLog(t, dir, tc.cut)
			// The third single is held back unless an idle marker follows
			// it (the batch was maybe queued before the writer went idle).
			for range 2 {
				if _, err := tl.Poll(apply); err != nil || len(got) < 2 || len(got) > 3 {
					t.Fatalf("live poll of the torn log: %d records %v, %v", len(got), got, err)
				}
			}
			w, err := OpenPrimary(dir, 2, &fakeFence{}, Options{})
			if tc.corrupt {
				var ce *CorruptError
				if !errors.As(err, &ce) || ce.Path != seg || ce.Offset != offs[1] {
					t.Fatalf("seal over damage before the batch's end: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			r := w.Report()
			if len(r.Cut) != 1 || r.Cut[0].Path != seg || r.Cut[0].Offset != offs[0] || r.NextLSN != 4 {
				t.Fatalf("report %+v, want the cut at the batch's first record (%d)", r, offs[0])
			}
			if ids, err := replayIDs(t, w, 1); err != nil || len(ids) != 3 {
				t.Fatalf("replay: %v %v", ids, err)
			}
			if p, err := tl.Poll(apply); err != nil || len(got) != 3 || p.Epoch != 2 || p.NextLSN != 4 {
				t.Fatalf("poll after the seal: %v, %+v, %v", got, p, err)
			}
			// The LSNs of the lost batch go to the next one, which the
			// tailer delivers whole.
			if first, err := w.AppendBatch(ctxT(t), batchPayloads(10, repeat(3, 100))); err != nil || first != 4 {
				t.Fatalf("batch in epoch 2: %d %v", first, err)
			}
			waitApplied(t, tl, apply, func() bool { return len(got) == 6 })
			checkBatches(t, map[uint64]uint64{4: got[3], 5: got[4], 6: got[5]})
		})
	}
}

// The tailer delivers nothing of a batch while it is being written, and all
// of it in one Poll once a later batch end (here the idle marker) proves it
// acknowledged.
func TestTailerWaitsForWholeBatch(t *testing.T) {
	dir := t.TempDir()
	w := openP(t, dir, 1, &fakeFence{}, Options{})
	for i := range 2 {
		if _, err := w.Append(ctxT(t), payload(uint64(i), 100)); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	seg := lastSegment(t, dir, 1)
	tl, _ := OpenTailer(dir, 1, Options{})
	defer tl.Close()
	var got []uint64
	apply := func(lsn uint64, p []byte) error {
		id, _ := checkPayload(p)
		got = append(got, id)
		return nil
	}
	if _, err := tl.Poll(apply); err != nil || len(got) != 2 {
		t.Fatalf("first poll: %v %v", got, err)
	}
	// The writer's next group commit (LSNs 3..6), as a slow pwrite lands it.
	f, err := os.OpenFile(seg, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ps := batchPayloads(3, repeat(4, 200))
	var batch []byte
	for j, p := range ps {
		flags := byte(0)
		if j == len(ps)-1 {
			flags = flagBatchEnd
		}
		batch = appendRecord(batch, typeData, flags, uint64(3+j), p)
	}
	written := 0
	for _, upto := range []int{10, RecordHeaderSize + 200, 2*(RecordHeaderSize+200) + 5, len(batch) - 1, len(batch)} {
		if _, err := f.Write(batch[written:upto]); err != nil {
			t.Fatal(err)
		}
		written = upto
		if _, err := tl.Poll(apply); err != nil || len(got) != 2 {
			t.Fatalf("%d of %d bytes of the batch written: tailer delivered %d records, %v", written, len(batch), len(got), err)
		}
	}
	if _, err := f.Write(appendRecord(nil, typeMarker, flagBatchEnd, 6, nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := tl.Poll(apply); err != nil || len(got) != 6 {
		t.Fatalf("after the marker: %v, %v", got, err)
	}
	checkBatches(t, map[uint64]uint64{3: got[2], 4: got[3], 5: got[4], 6: got[5]})
}
