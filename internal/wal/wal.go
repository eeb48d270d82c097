package wal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
)

// Fence is the ownership check the WAL runs after every fdatasync.
// *guard.Guard implements it.
type Fence interface {
	// StillOwner returns nil only if this node still owns the epoch the
	// WAL was opened with (a fresh read of the shared OWNER record).
	StillOwner() error
}

// Options tune a WAL. The zero value is usable.
type Options struct {
	// SegmentSize is the size at which a new segment is started (default
	// 64 MiB). A batch never spans segments: one larger than SegmentSize
	// gets a segment of its own, that much longer.
	SegmentSize int64
	// MaxBatchBytes bounds one group commit (default 16 MiB), except that
	// one AppendBatch is never divided: a larger one is committed alone.
	// It also bounds the writer's buffer (a larger batch is written in
	// several pwrites before its one fdatasync).
	MaxBatchBytes int
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.SegmentSize <= 0 {
		o.SegmentSize = 64 << 20
	}
	if o.MaxBatchBytes <= 0 {
		o.MaxBatchBytes = 16 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Report says what opening the log found and did.
type Report struct {
	Epoch   uint64 // the epoch this WAL writes
	Sealed  []Seal // seals written by this open (earlier epochs it sealed)
	Cut     []Cut  // torn tails left out by those seals
	NextLSN uint64 // LSN the first Append gets
}

// Stats are cumulative counters.
type Stats struct {
	Appends   uint64 // acknowledged records
	Batches   uint64 // group commits (one write + one fdatasync each)
	Bytes     uint64 // bytes written, framing included
	Fenced    uint64 // records refused with ErrFenced
	Failed    uint64 // records failed by an I/O error
	Rotations uint64 // segments started
	Truncated uint64 // segments removed by TruncateBefore
	Cancelled uint64 // records withdrawn before being written
	MaxBatch  uint64 // most records in one group commit
	Markers   uint64 // idle markers written for tailers
}

// request is one Append or AppendBatch: its payloads go into one group
// commit, in order, with consecutive LSNs.
type request struct {
	payloads [][]byte
	size     int          // framed bytes
	state    atomic.Int32 // 0 queued, 1 taken by the writer, 2 withdrawn
	lsn      uint64       // LSN of the first payload
	err      error
	done     chan struct{}
}

// WAL is the primary's log for one epoch. Append is safe for concurrent
// use; all callers share group commits.
type WAL struct {
	dir   string
	epoch uint64
	fence Fence
	opt   Options
	log   *slog.Logger

	mu     sync.Mutex
	queue  []*request
	err    error // terminal: ErrFenced, ErrBroken, ErrClosed
	wake   chan struct{}
	closed chan struct{}
	exited chan struct{}

	// Writer-owned; acked* also read under ackMu by Replay.
	f        *os.File
	seq      uint64
	off      int64
	next     uint64
	buf      []byte
	ackMu    sync.Mutex
	ackedPos position
	acked    uint64

	report Report
	stats  struct {
		appends, batches, bytes, fenced, failed, rotations, truncated, cancelled, maxBatch, markers atomic.Uint64
	}
}

// OpenPrimary opens the log in dir (the shared data directory's "wal"
// subdirectory by convention, created if missing) for writing under epoch,
// which the caller has just acquired (guard.Acquire). It seals every
// earlier epoch that is not sealed yet (normally the previous owner's):
// syncs its last segment, finds the end of its last whole batch, and
// publishes this epoch's segment 0 whose first record holds those seals.
// It fails with ErrFenced if fence fails or a newer epoch exists.
func OpenPrimary(dir string, epoch uint64, fence Fence, opt Options) (*WAL, error) {
	return openPrimary(dir, epoch, fence, opt, nil)
}

func openPrimary(dir string, epoch uint64, fence Fence, opt Options, hint *sealHint) (*WAL, error) {
	opt = opt.withDefaults()
	if epoch == 0 {
		return nil, fmt.Errorf("wal: epoch 0 is never owned")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	if err := fence.StillOwner(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFenced, err)
	}
	removeTemps(dir)
	v, err := loadView(dir, 0)
	if err != nil {
		return nil, err
	}
	w := &WAL{dir: dir, epoch: epoch, fence: fence, opt: opt, log: opt.Logger,
		wake: make(chan struct{}, 1), closed: make(chan struct{}), exited: make(chan struct{})}
	w.report.Epoch = epoch
	if n := len(v.groups); n > 0 && v.groups[n-1].epoch > epoch {
		return nil, fmt.Errorf("%w: epoch %d exists in the log, this node holds %d", ErrFenced, v.groups[n-1].epoch, epoch)
	}
	if g, _ := v.group(epoch); g != nil {
		err = w.resume(g)
	} else {
		err = w.seal(v, hint)
	}
	if err != nil {
		return nil, err
	}
	if err := fence.StillOwner(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFenced, err)
	}
	w.report.NextLSN = w.next
	w.acked = w.next - 1
	go w.run()
	return w, nil
}

func removeTemps(dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// seal seals the unsealed earlier epochs and publishes segment 0.
func (w *WAL) seal(v *view, hint *sealHint) error {
	var seals []Seal
	var endLSN uint64
	for i := range v.groups {
		g := &v.groups[i]
		s, sealed := v.seals[g.epoch]
		if !sealed {
			var cut *Cut
			var err error
			var h *sealHint
			if hint != nil && hint.pos.epoch == g.epoch {
				h = hint
			}
			s, cut, err = sealGroup(g, h)
			if err != nil {
				return err
			}
			seals = append(seals, s)
			if cut != nil {
				w.report.Cut = append(w.report.Cut, *cut)
				w.log.Warn("wal: torn tail cut by seal", "cut", cut.String())
			}
		}
		endLSN = s.EndLSN
	}
	w.next = endLSN + 1
	content := segHeader{epoch: w.epoch, seq: 0, base: w.next}.encode()
	content = appendRecord(content, typeSeal, flagBatchEnd, 0, encodeSeals(seals))
	f, err := publish(w.dir, SegmentName(w.epoch, 0), content)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%w: another writer created epoch %d's log: %w", ErrFenced, w.epoch, err)
		}
		return err
	}
	w.f, w.seq, w.off = f, 0, int64(len(content))
	w.ackedPos = position{epoch: w.epoch, seq: 0, off: w.off}
	w.report.Sealed = seals
	for _, s := range seals {
		w.log.Info("wal: sealed epoch", "epoch", s.Epoch, "segment", SegmentName(s.Epoch, s.Seq),
			"length", s.Length, "raw_length", s.RawLength, "end_lsn", s.EndLSN)
	}
	return nil
}

// resume reopens this epoch's own log (same process, after Close): its
// unacknowledged tail, if any, is truncated; writing continues in a new
// segment.
func (w *WAL) resume(g *group) error {
	s, cut, err := sealGroup(g, nil)
	if err != nil {
		return err
	}
	last := g.last()
	f, err := os.OpenFile(last.path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	if cut != nil {
		if err := f.Truncate(s.Length); err != nil {
			f.Close()
			return fmt.Errorf("wal: %w", err)
		}
		if err := fdatasync(f); err != nil {
			f.Close()
			return err
		}
		w.report.Cut = append(w.report.Cut, *cut)
	}
	w.f, w.seq, w.off, w.next = f, last.seq, s.Length, s.EndLSN+1
	w.ackedPos = position{epoch: w.epoch, seq: last.seq, off: s.Length}
	return nil
}

// Report returns what OpenPrimary found and did.
func (w *WAL) Report() Report { return w.report }

// Epoch is the epoch this WAL writes.
func (w *WAL) Epoch() uint64 { return w.epoch }

// LastLSN is the LSN of the last acknowledged record (NextLSN-1 at open).
func (w *WAL) LastLSN() uint64 {
	w.ackMu.Lock()
	defer w.ackMu.Unlock()
	return w.acked
}

// Err returns the terminal error (ErrFenced, ErrBroken, ErrClosed), or nil
// while the WAL accepts writes.
func (w *WAL) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Append writes payload durably and returns its LSN: AppendBatch of one
// payload.
func (w *WAL) Append(ctx context.Context, payload []byte) (uint64, error) {
	return w.AppendBatch(ctx, [][]byte{payload})
}

// AppendBatch writes payloads durably as one atomic batch and returns the
// LSN of the first; the others follow densely. It returns only after the
// batch's group commit was written, fdatasync'ed, and the fence check that
// followed confirmed this node still owns the epoch. The payloads go into
// one group commit, consecutive and in order, whatever their total size
// (each at most MaxPayload): every reader (Replay, recovery, Tailer) sees
// all of them or none. On ErrFenced or ErrBroken nothing of the batch is
// acknowledged and it may or may not be in the file, whole or torn
// (recovery decides by the seal, and never keeps part of it); the WAL
// refuses all later writes. If ctx ends before the batch is taken into a
// group commit it is withdrawn whole; after that, AppendBatch waits for the
// outcome.
func (w *WAL) AppendBatch(ctx context.Context, payloads [][]byte) (uint64, error) {
	if len(payloads) == 0 {
		return 0, fmt.Errorf("wal: empty batch")
	}
	size := 0
	for i, p := range payloads {
		if len(p) > MaxPayload {
			return 0, fmt.Errorf("%w: payload %d of %d: %d bytes, limit %d", ErrTooLarge, i, len(payloads), len(p), MaxPayload)
		}
		size += RecordHeaderSize + len(p)
	}
	r := &request{payloads: payloads, size: size, done: make(chan struct{})}
	w.mu.Lock()
	if w.err != nil {
		w.mu.Unlock()
		return 0, w.err
	}
	w.queue = append(w.queue, r)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	select {
	case <-r.done:
		return r.lsn, r.err
	case <-ctx.Done():
		if r.state.CompareAndSwap(0, 2) {
			w.stats.cancelled.Add(uint64(len(payloads)))
			return 0, fmt.Errorf("wal: append withdrawn: %w", ctx.Err())
		}
		<-r.done
		return r.lsn, r.err
	}
}

func (w *WAL) run() {
	defer close(w.exited)
	var batch []*request
	for {
		select {
		case <-w.closed:
			return
		case <-w.wake:
		}
		for {
			batch = w.take(batch[:0])
			if len(batch) == 0 {
				break
			}
			if !w.commit(batch) {
				return
			}
		}
	}
}

// take moves up to MaxBatchBytes of queued requests into batch (a larger
// request alone: it is never divided).
func (w *WAL) take(batch []*request) []*request {
	w.mu.Lock()
	defer w.mu.Unlock()
	size, i := 0, 0
	for ; i < len(w.queue); i++ {
		r := w.queue[i]
		if len(batch) > 0 && size+r.size > w.opt.MaxBatchBytes {
			break
		}
		if r.state.CompareAndSwap(0, 1) {
			batch = append(batch, r)
			size += r.size
		}
	}
	n := copy(w.queue, w.queue[i:])
	clear(w.queue[n:])
	w.queue = w.queue[:n]
	return batch
}

// commit writes, syncs and fence-checks one group commit. Its records are
// contiguous and only the last carries the batch-end flag, so readers
// take the group, and so every AppendBatch in it, whole or not at all. It
// returns false when the WAL stopped accepting writes.
func (w *WAL) commit(batch []*request) bool {
	size, records := 0, 0
	for _, r := range batch {
		size += r.size
		records += len(r.payloads)
	}
	if w.off > HeaderSize && w.off+int64(size) > w.opt.SegmentSize || w.seq == 0 {
		if err := w.rotate(); err != nil {
			w.fail(batch, fmt.Errorf("%w: %w", ErrBroken, err), &w.stats.failed)
			return false
		}
	}
	if err := w.write(batch, records); err != nil {
		w.fail(batch, fmt.Errorf("%w: %w", ErrBroken, err), &w.stats.failed)
		return false
	}
	if err := fdatasync(w.f); err != nil {
		w.fail(batch, fmt.Errorf("%w: %w", ErrBroken, err), &w.stats.failed)
		return false
	}
	// The batch is durable. Acknowledge it only if nobody took the epoch
	// over before this point: if OWNER still shows ours now, a successor's
	// OWNER write (and so its seal, which follows it) comes later and
	// includes this batch.
	if err := w.fence.StillOwner(); err != nil {
		w.fail(batch, fmt.Errorf("%w: %w", ErrFenced, err), &w.stats.fenced)
		return false
	}
	w.off += int64(size)
	w.next += uint64(records)
	w.ackMu.Lock()
	w.acked = w.next - 1
	w.ackedPos = position{epoch: w.epoch, seq: w.seq, off: w.off}
	w.ackMu.Unlock()
	w.stats.batches.Add(1)
	w.stats.appends.Add(uint64(records))
	w.stats.bytes.Add(uint64(size))
	if uint64(records) > w.stats.maxBatch.Load() {
		w.stats.maxBatch.Store(uint64(records))
	}
	for _, r := range batch {
		close(r.done)
	}
	w.mu.Lock()
	idle := len(w.queue) == 0
	w.mu.Unlock()
	if idle {
		w.writeMarker()
	}
	return true
}

// write encodes the group commit's records at w.off, the last one flagged
// as the batch end, and assigns the requests their LSNs. The buffer is
// written out whenever it holds MaxBatchBytes, so an oversized batch does
// not need a buffer of its size; a crash between those writes leaves a
// batch without its end, which every reader drops.
func (w *WAL) write(batch []*request, records int) error {
	buf, off, lsn := w.buf[:0], w.off, w.next
	flush := func() error {
		if _, err := w.f.WriteAt(buf, off); err != nil {
			return fmt.Errorf("write %s: %w", w.f.Name(), err)
		}
		off += int64(len(buf))
		buf = buf[:0]
		return nil
	}
	for _, r := range batch {
		r.lsn = lsn
		for _, p := range r.payloads {
			flags := byte(0)
			if lsn == w.next+uint64(records)-1 {
				flags = flagBatchEnd
			}
			buf = appendRecord(buf, typeData, flags, lsn, p)
			lsn++
			if len(buf) >= w.opt.MaxBatchBytes {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	err := flush()
	w.buf = buf
	return err
}

// writeMarker tells tailers that the last batch was acknowledged (they
// hold the newest batch back until something follows it). It is not
// synced: if lost, the next batch carries the same information.
func (w *WAL) writeMarker() {
	m := appendRecord(w.buf[:0], typeMarker, flagBatchEnd, w.next-1, nil)
	if _, err := w.f.WriteAt(m, w.off); err != nil {
		w.log.Warn("wal: marker write failed", "err", err)
		return
	}
	w.off += int64(len(m))
	w.stats.markers.Add(1)
}

// rotate publishes the next segment (header only) and switches to it.
func (w *WAL) rotate() error {
	seq := w.seq + 1
	f, err := publish(w.dir, SegmentName(w.epoch, seq), segHeader{epoch: w.epoch, seq: seq, base: w.next}.encode())
	if err != nil {
		return err
	}
	w.f.Close()
	w.f, w.seq, w.off = f, seq, HeaderSize
	w.stats.rotations.Add(1)
	return nil
}

// fail ends the WAL for writing with err and fails batch and the queue.
func (w *WAL) fail(batch []*request, err error, counter *atomic.Uint64) {
	w.log.Error("wal: log closed for writing", "epoch", w.epoch, "err", err)
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	queue := w.queue
	w.queue = nil
	w.mu.Unlock()
	for _, r := range append(batch, queue...) {
		if r.state.Load() == 2 {
			continue
		}
		r.err = err
		counter.Add(uint64(len(r.payloads)))
		close(r.done)
	}
}

// Close stops the writer; queued appends fail with ErrClosed. It writes
// nothing (the next owner seals the log as it is).
func (w *WAL) Close() error {
	w.mu.Lock()
	if w.err == nil {
		w.err = ErrClosed
	}
	select {
	case <-w.closed:
		w.mu.Unlock()
		return nil
	default:
	}
	close(w.closed)
	queue := w.queue
	w.queue = nil
	w.mu.Unlock()
	<-w.exited
	for _, r := range queue {
		if r.state.CompareAndSwap(0, 2) {
			r.err = ErrClosed
			close(r.done)
		}
	}
	return w.f.Close()
}

// Replay calls fn for every acknowledged record with LSN >= from, in order:
// every earlier epoch up to its seal, then this epoch up to the last
// acknowledged batch. Call it before serving (records appended meanwhile
// are not included past the point reached at the call).
func (w *WAL) Replay(from uint64, fn ApplyFunc) error {
	w.ackMu.Lock()
	stop := w.ackedPos
	w.ackMu.Unlock()
	v, err := loadView(w.dir, 0)
	if err != nil {
		return err
	}
	c := cursor{from: from}
	defer c.close()
	return c.advance(v, false, &stop, fn)
}

// TruncateBefore removes whole data segments all of whose records have an
// LSN below lsn (a checkpoint covers them), oldest first, never the segment
// being written and never a seal segment (they are tiny and keep later
// recovery from reading a stale writer's leftovers). Segments past a seal
// that sort before the first kept segment go too. It returns how many
// files it removed.
func (w *WAL) TruncateBefore(lsn uint64) (int, error) {
	v, err := loadView(w.dir, 0)
	if err != nil {
		return 0, err
	}
	type cand struct {
		s    segment
		live bool
		base uint64
	}
	var cands []cand
	for _, g := range v.groups {
		seal, sealed := v.seals[g.epoch]
		for _, s := range g.segs {
			if s.seq == 0 {
				continue
			}
			live := !sealed || s.seq <= seal.Seq
			c := cand{s: s, live: live}
			if live {
				h, err := readSegHeader(s)
				if err != nil {
					return 0, err
				}
				c.base = h.base
			}
			cands = append(cands, c)
		}
	}
	// Keep from the last live segment whose base <= lsn: everything before
	// it holds only LSNs < its base <= lsn.
	keep := -1
	for i, c := range cands {
		if c.live && c.base <= lsn {
			keep = i
		}
	}
	w.ackMu.Lock()
	cur := w.ackedPos
	w.ackMu.Unlock()
	removed := 0
	for _, c := range cands[:max(keep, 0)] {
		if c.s.epoch == w.epoch && c.s.seq >= cur.seq {
			break
		}
		if err := os.Remove(c.s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return removed, fmt.Errorf("wal: %w", err)
		}
		removed++
		w.stats.truncated.Add(1)
	}
	if removed > 0 {
		return removed, syncDir(w.dir)
	}
	return 0, nil
}

// Stats returns the counters.
func (w *WAL) Stats() Stats {
	return Stats{
		Appends: w.stats.appends.Load(), Batches: w.stats.batches.Load(), Bytes: w.stats.bytes.Load(),
		Fenced: w.stats.fenced.Load(), Failed: w.stats.failed.Load(), Rotations: w.stats.rotations.Load(),
		Truncated: w.stats.truncated.Load(), Cancelled: w.stats.cancelled.Load(), MaxBatch: w.stats.maxBatch.Load(),
		Markers: w.stats.markers.Load(),
	}
}
