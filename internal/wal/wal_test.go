package wal

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestAppendReplayAcrossEpochs(t *testing.T) {
	dir := t.TempDir()
	f := &fakeFence{}
	w := openP(t, dir, 1, f, Options{})
	if w.Report().NextLSN != 1 || len(w.Report().Sealed) != 0 {
		t.Fatalf("fresh report %+v", w.Report())
	}
	const n = 200
	var wg sync.WaitGroup
	lsns := make([]uint64, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lsn, err := w.Append(ctxT(t), payload(uint64(i), 100+i))
			if err != nil {
				t.Error(err)
			}
			lsns[i] = lsn
		}()
	}
	wg.Wait()
	seen := map[uint64]bool{}
	for _, l := range lsns {
		if l < 1 || l > n || seen[l] {
			t.Fatalf("bad or duplicate LSN %d", l)
		}
		seen[l] = true
	}
	if w.LastLSN() != n {
		t.Fatalf("LastLSN %d", w.LastLSN())
	}
	ids, err := replayIDs(t, w, 1)
	if err != nil || len(ids) != n {
		t.Fatalf("replay: %d records, %v", len(ids), err)
	}
	for i, l := range lsns {
		if ids[l] != uint64(i) {
			t.Fatalf("LSN %d holds id %d, want %d", l, ids[l], i)
		}
	}
	st := w.Stats()
	if st.Appends != n || st.Batches == 0 || st.Batches > n {
		t.Fatalf("stats %+v", st)
	}
	w.Close()
	if _, err := w.Append(ctxT(t), payload(1, 10)); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}

	// Epoch 2 seals epoch 1 and continues the LSN sequence.
	w2 := openP(t, dir, 2, f, Options{})
	r := w2.Report()
	if len(r.Sealed) != 1 || r.Sealed[0].Epoch != 1 || r.Sealed[0].EndLSN != n || len(r.Cut) != 0 || r.NextLSN != n+1 {
		t.Fatalf("report %+v", r)
	}
	if l, err := w2.Append(ctxT(t), payload(1000, 50)); err != nil || l != n+1 {
		t.Fatalf("append in epoch 2: %d %v", l, err)
	}
	ids, err = replayIDs(t, w2, 150)
	if err != nil || len(ids) != n-150+2 || ids[n+1] != 1000 {
		t.Fatalf("replay from 150: %d %v", len(ids), err)
	}
	// An older epoch can no longer open the log.
	if _, err := OpenPrimary(dir, 1, f, Options{}); !errors.Is(err, ErrFenced) {
		t.Fatalf("open older epoch: %v", err)
	}
	// A fence that fails refuses the open.
	if _, err := OpenPrimary(dir, 3, &fakeFence{err: errTestNotOwner}, Options{}); !errors.Is(err, ErrFenced) {
		t.Fatalf("open without ownership: %v", err)
	}
}

func TestRotationAndTruncate(t *testing.T) {
	dir := t.TempDir()
	f := &fakeFence{}
	opt := Options{SegmentSize: 4096}
	w := openP(t, dir, 1, f, opt)
	for i := range 100 {
		if _, err := w.Append(ctxT(t), payload(uint64(i), 300)); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	w = openP(t, dir, 2, f, opt)
	for i := 100; i < 200; i++ {
		if _, err := w.Append(ctxT(t), payload(uint64(i), 300)); err != nil {
			t.Fatal(err)
		}
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if len(segs) < 10 || w.Stats().Rotations < 5 {
		t.Fatalf("%d segments, stats %+v", len(segs), w.Stats())
	}
	removed, err := w.TruncateBefore(150)
	if err != nil || removed == 0 {
		t.Fatalf("truncate: %d %v", removed, err)
	}
	ids, err := replayIDs(t, w, 150)
	if err != nil || len(ids) != 51 {
		t.Fatalf("replay after truncate: %d %v", len(ids), err)
	}
	for l, id := range ids {
		if id != l-1 {
			t.Fatalf("LSN %d id %d", l, id)
		}
	}
	if _, err := replayIDs(t, w, 1); !errors.Is(err, ErrGap) {
		t.Fatalf("replay of truncated records: %v", err)
	}
	// Seal segments survive truncation; the log still reopens cleanly.
	for _, e := range []uint64{1, 2} {
		if _, err := os.Stat(filepath.Join(dir, SegmentName(e, 0))); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	w3 := openP(t, dir, 3, f, opt)
	if ids, err := replayIDs(t, w3, 150); err != nil || len(ids) != 51 {
		t.Fatalf("replay in epoch 3: %d %v", len(ids), err)
	}
	if r := w3.Report(); len(r.Sealed) != 1 || r.Sealed[0].EndLSN != 200 {
		t.Fatalf("report %+v", r)
	}
}

// lastSegment returns the newest data segment of epoch.
func lastSegment(t *testing.T, dir string, epoch uint64) string {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(dir, SegmentName(epoch, 0)[:21]+"*.log"))
	if len(segs) < 2 {
		t.Fatalf("epoch %d has %d segments", epoch, len(segs))
	}
	return segs[len(segs)-1]
}

// writeEpoch1 appends n records one at a time (one batch each) in epoch 1
// and returns the file offset of each record.
func writeEpoch1(t *testing.T, dir string, n int) []int64 {
	t.Helper()
	w := openP(t, dir, 1, &fakeFence{}, Options{})
	for i := range n {
		if _, err := w.Append(ctxT(t), payload(uint64(i), 200)); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	return dataOffsets(t, lastSegment(t, dir, 1))
}

// dataOffsets lists the offsets of the data records of a segment.
func dataOffsets(t *testing.T, path string) []int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	var sc scanner
	sc.reset(f, path, HeaderSize, fi.Size())
	var offs []int64
	for {
		rec, at, err := sc.next()
		if err != nil {
			return offs
		}
		if rec.typ == typeData {
			offs = append(offs, at)
		}
	}
}

func flip(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := []byte{0}
	f.ReadAt(b, off)
	b[0] ^= 0x04
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// A torn record at the very end of the last (unsealed) segment is cut by
// the seal and reported; all earlier records survive.
func TestTornTailIsCutAndReported(t *testing.T) {
	dir := t.TempDir()
	offs := writeEpoch1(t, dir, 10)
	seg := lastSegment(t, dir, 1)
	if err := os.Truncate(seg, offs[9]+RecordHeaderSize+50); err != nil { // mid-record
		t.Fatal(err)
	}
	w := openP(t, dir, 2, &fakeFence{}, Options{})
	r := w.Report()
	if len(r.Cut) != 1 || r.Cut[0].Path != seg || r.Cut[0].Offset != offs[9] || r.Cut[0].Bytes != RecordHeaderSize+50 {
		t.Fatalf("report %+v", r)
	}
	ids, err := replayIDs(t, w, 1)
	if err != nil || len(ids) != 9 || r.NextLSN != 10 {
		t.Fatalf("replay: %d %v, next %d", len(ids), err, r.NextLSN)
	}
}

// A bit flip in the last record of the unsealed segment looks exactly like a
// torn write: cut and reported.
func TestBitFlipAtUnsealedTailIsCut(t *testing.T) {
	dir := t.TempDir()
	offs := writeEpoch1(t, dir, 10)
	seg := lastSegment(t, dir, 1)
	flip(t, seg, offs[9]+RecordHeaderSize+7)
	w := openP(t, dir, 2, &fakeFence{}, Options{})
	if r := w.Report(); len(r.Cut) != 1 || r.Cut[0].Offset != offs[9] {
		t.Fatalf("report %+v", r)
	}
	if ids, err := replayIDs(t, w, 1); err != nil || len(ids) != 9 {
		t.Fatalf("replay: %d %v", len(ids), err)
	}
}

// Damage followed by valid records in the unsealed segment is not a torn
// tail: the seal is refused with the location.
func TestBitFlipBeforeValidRecordsRefusesSeal(t *testing.T) {
	dir := t.TempDir()
	offs := writeEpoch1(t, dir, 10)
	seg := lastSegment(t, dir, 1)
	flip(t, seg, offs[4]+RecordHeaderSize+7)
	_, err := OpenPrimary(dir, 2, &fakeFence{}, Options{})
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Path != seg || ce.Offset != offs[4] {
		t.Fatalf("err %v", err)
	}
}

// A bit flip inside a sealed region is a hard error naming file and offset,
// never silent loss.
func TestBitFlipInSealedMiddleIsAnError(t *testing.T) {
	dir := t.TempDir()
	offs := writeEpoch1(t, dir, 10)
	seg := lastSegment(t, dir, 1)
	w := openP(t, dir, 2, &fakeFence{}, Options{}) // seals epoch 1
	flip(t, seg, offs[5]+RecordHeaderSize+3)
	_, err := replayIDs(t, w, 1)
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Path != seg || ce.Offset != offs[5] || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("replay: %v", err)
	}
	if want := "corrupt WAL at " + seg + ":"; !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("message %q", err)
	}
	w.Close()
	// Also the flipped last record of a sealed region: still inside the seal.
	dir2 := t.TempDir()
	offs = writeEpoch1(t, dir2, 10)
	seg = lastSegment(t, dir2, 1)
	w = openP(t, dir2, 2, &fakeFence{}, Options{})
	flip(t, seg, offs[9]+1)
	if _, err := replayIDs(t, w, 1); !errors.As(err, &ce) || ce.Offset != offs[9] {
		t.Fatalf("replay: %v", err)
	}
	// A later owner refuses to read it as well.
	w.Close()
	w3, err := OpenPrimary(dir2, 3, &fakeFence{}, Options{})
	if err != nil {
		t.Fatal(err) // epoch 2 is the one it seals; epoch 1's damage shows at replay
	}
	defer w3.Close()
	if _, err := replayIDs(t, w3, 1); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("replay in epoch 3: %v", err)
	}
}

// A write or sync error breaks the WAL for writing; reads keep working.
func TestFenceFailureFailsBatchAndStopsWrites(t *testing.T) {
	dir := t.TempDir()
	f := &fakeFence{}
	w := openP(t, dir, 1, f, Options{})
	if _, err := w.Append(ctxT(t), payload(1, 64)); err != nil {
		t.Fatal(err)
	}
	f.set(errTestNotOwner)
	if _, err := w.Append(ctxT(t), payload(2, 64)); !errors.Is(err, ErrFenced) || !errors.Is(err, errTestNotOwner) {
		t.Fatalf("append after losing ownership: %v", err)
	}
	f.set(nil)
	if _, err := w.Append(ctxT(t), payload(3, 64)); !errors.Is(err, ErrFenced) {
		t.Fatalf("append after fencing: %v", err)
	}
	if !errors.Is(w.Err(), ErrFenced) || w.Stats().Fenced == 0 {
		t.Fatalf("err %v stats %+v", w.Err(), w.Stats())
	}
	if ids, err := replayIDs(t, w, 1); err != nil || len(ids) != 1 {
		t.Fatalf("replay: %d %v", len(ids), err)
	}
	if _, err := w.Append(ctxT(t), make([]byte, MaxPayload+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized: %v", err)
	}
}

// A stale writer of epoch 2 publishes its seal segment after epoch 3's
// owner listed the log (it was paused between acquiring and sealing). It was
// fenced before acknowledging anything; recovery ignores the whole epoch.
func TestLatePublishedEpochIsIgnored(t *testing.T) {
	dir := t.TempDir()
	writeEpoch1(t, dir, 5)
	w3 := openP(t, dir, 3, &fakeFence{}, Options{})
	if _, err := w3.Append(ctxT(t), payload(300, 64)); err != nil {
		t.Fatal(err)
	}
	// Epoch 2's seal segment, claiming a different end for epoch 1.
	content := segHeader{epoch: 2, seq: 0, base: 4}.encode()
	content = appendRecord(content, typeSeal, flagBatchEnd, 0, encodeSeals([]Seal{{Epoch: 1, Seq: 1, Length: HeaderSize, RawLength: HeaderSize, EndLSN: 3}}))
	f, err := publish(dir, SegmentName(2, 0), content)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	ids, err := replayIDs(t, w3, 1)
	if err != nil || len(ids) != 6 || ids[6] != 300 {
		t.Fatalf("replay: %v %v", ids, err)
	}
	w3.Close()
	w4 := openP(t, dir, 4, &fakeFence{}, Options{})
	if r := w4.Report(); len(r.Sealed) != 1 || r.Sealed[0].Epoch != 3 {
		t.Fatalf("report %+v", r)
	}
	if ids, err := replayIDs(t, w4, 1); err != nil || len(ids) != 6 {
		t.Fatalf("replay in epoch 4: %v %v", ids, err)
	}
}

// A standby that fell behind a truncation gets ErrGap (reload from the
// checkpoint), not a corruption error.
func TestTailerBehindTruncationGetsGap(t *testing.T) {
	dir := t.TempDir()
	opt := Options{SegmentSize: 4096}
	w := openP(t, dir, 1, &fakeFence{}, opt)
	tl, _ := OpenTailer(dir, 1, opt)
	defer tl.Close()
	n := 0
	apply := func(uint64, []byte) error { n++; return nil }
	for i := range 5 {
		if _, err := w.Append(ctxT(t), payload(uint64(i), 300)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tl.Poll(apply); err != nil {
		t.Fatal(err)
	}
	for i := 5; i < 100; i++ {
		if _, err := w.Append(ctxT(t), payload(uint64(i), 300)); err != nil {
			t.Fatal(err)
		}
	}
	if removed, err := w.TruncateBefore(90); err != nil || removed == 0 {
		t.Fatalf("truncate: %d %v", removed, err)
	}
	if _, err := tl.Poll(apply); !errors.Is(err, ErrGap) {
		t.Fatalf("poll after truncation: %v (applied %d)", err, n)
	}
	tl.Close()
	if _, err := tl.Poll(apply); !errors.Is(err, ErrClosed) {
		t.Fatalf("poll after close: %v", err)
	}
}

// Reopening the log in the same epoch (same process, after Close) resumes
// after the last whole batch.
func TestResumeSameEpoch(t *testing.T) {
	dir := t.TempDir()
	f := &fakeFence{}
	w := openP(t, dir, 1, f, Options{})
	for i := range 5 {
		if _, err := w.Append(ctxT(t), payload(uint64(i), 100)); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	w = openP(t, dir, 1, f, Options{})
	if l, err := w.Append(ctxT(t), payload(5, 100)); err != nil || l != 6 {
		t.Fatalf("append after resume: %d %v", l, err)
	}
	if ids, err := replayIDs(t, w, 1); err != nil || len(ids) != 6 {
		t.Fatalf("replay: %v %v", ids, err)
	}
}

// A withdrawn append (context ended before its batch) is never in the log;
// one that returned an LSN always is.
func TestCancelledAppend(t *testing.T) {
	dir := t.TempDir()
	w := openP(t, dir, 1, &fakeFence{}, Options{})
	var mu sync.Mutex
	ok := map[uint64]bool{}
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithCancel(context.Background())
			if i%2 == 0 {
				cancel()
			}
			defer cancel()
			if _, err := w.Append(ctx, payload(uint64(i), 64)); err == nil {
				mu.Lock()
				ok[uint64(i)] = true
				mu.Unlock()
			} else if !errors.Is(err, context.Canceled) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	ids, err := replayIDs(t, w, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != len(ok) {
		t.Fatalf("%d records in the log, %d acknowledged", len(ids), len(ok))
	}
	for _, id := range ids {
		if !ok[id] {
			t.Fatalf("withdrawn id %d is in the log", id)
		}
	}
}
