package vectordb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// DB is an open data directory: the collections, their indexes, the log and
// the storage lease. All methods are safe for concurrent use.
type DB struct {
	dir  string
	opts Options
	log  *slog.Logger
	wal  logBackend

	// ddl serialises catalog changes (create/drop/index/load) from
	// validation to apply, so a DDL never races another DDL.
	ddl sync.Mutex

	mu     sync.RWMutex // guards the catalog below
	colls  map[string]*collection
	byID   map[int64]*collection
	nextID int64  // next collection ID
	lastTS uint64 // last hybrid timestamp handed out

	autoID atomic.Int64 // last generated auto ID

	role      atomic.Int32 // Role
	fenced    chan struct{}
	fenceOnce sync.Once

	commits  chan *pending
	stop     context.CancelFunc // stops the committer or tailer
	loop     sync.WaitGroup     // the committer or tailer
	bg       sync.WaitGroup     // checkpoint writer, lease watcher
	done     chan struct{}      // closed by Close
	promoted chan struct{}      // closed when a standby becomes primary
	closed   atomic.Bool

	promoteMu sync.Mutex
	enqMu     sync.RWMutex

	applied atomic.Uint64 // LSN of the last applied record
	// split gathers a split write's entries during replay (recovery,
	// tailer, promote; never two at once).
	split splitWrite

	ckptLSN   atomic.Uint64 // LSN of the newest checkpoint
	ckptMu    sync.Mutex    // held while a checkpoint is written
	sinceCkpt int64         // log bytes appended since the last checkpoint (committer only)
}

// pending is one record waiting for the committer.
type pending struct {
	rec *record
	buf []byte // the encoded record
	// entries, instead of buf, are the log entries of a split write
	// (split.go): committed alone, as one atomic batch.
	entries [][]byte
	done    chan struct{}
	err     error
	n       int64 // rows removed by a delete
	ckpt    bool  // a Checkpoint request, not a record
}

// size is the log bytes p adds.
func (p *pending) size() int {
	n := len(p.buf)
	for _, e := range p.entries {
		n += len(e)
	}
	return n
}

// newDB builds a DB around a log backend; recovery and the committer are
// started by the caller.
func newDB(dir string, opts Options, wal logBackend) *DB {
	lg := opts.Logger
	if lg == nil {
		lg = slog.Default()
	}
	db := &DB{
		dir: dir, opts: opts, log: lg.With("component", "vectordb"), wal: wal,
		colls: map[string]*collection{}, byID: map[int64]*collection{},
		nextID: 1, fenced: make(chan struct{}), done: make(chan struct{}), promoted: make(chan struct{}),
		commits: make(chan *pending, 1024),
	}
	db.autoID.Store(int64(hybridTS(time.Now(), 0)))
	return db
}

// start launches the committer (primary) or the tailer (standby).
func (db *DB) start(mode Mode) {
	ctx, cancel := context.WithCancel(context.Background())
	db.stop = cancel
	db.loop.Add(1)
	if mode == Primary {
		db.role.Store(int32(RolePrimary))
		go db.commitLoop(ctx)
		return
	}
	db.role.Store(int32(RoleStandby))
	go db.tailLoop(ctx)
}

// hybridTS is a Milvus-style timestamp: physical milliseconds << 18 | logical.
func hybridTS(t time.Time, logical uint64) uint64 {
	return uint64(t.UnixMilli())<<18 | logical&(1<<18-1)
}

// nextTS returns a hybrid timestamp larger than any handed out before.
func (db *DB) nextTS() uint64 {
	db.mu.Lock()
	defer db.mu.Unlock()
	ts := max(hybridTS(time.Now(), 0), db.lastTS+1)
	db.lastTS = ts
	return ts
}

// genIDs hands out n fresh auto IDs.
func (db *DB) genIDs(n int) []int64 {
	last := db.autoID.Add(int64(n))
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = last - int64(n) + 1 + int64(i)
	}
	return ids
}

// Close stops the background work, releases the lease (primary) and closes
// files. Acknowledged writes are already durable; Close adds nothing to them.
func (db *DB) Close() error {
	if !db.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(db.done)
	// A barrier: enqueue holds enqMu for reading, so once the write lock is
	// taken no enqueue is in flight, and every later one sees closed.
	db.enqMu.Lock()
	//lint:ignore SA2001 the empty critical section is the barrier
	db.enqMu.Unlock()
	db.stop()
	db.loop.Wait()
	db.bg.Wait()
	db.failPending(ErrClosed)
	db.closeCollections()
	return db.wal.Close()
}

// Role reports what the DB currently does.
func (db *DB) Role() Role { return Role(db.role.Load()) }

// Fenced is closed when the DB stops being primary for a reason of its own
// (lease lost, storage failure), so the keeper can step down.
func (db *DB) Fenced() <-chan struct{} { return db.fenced }

// fail moves a primary to a read-only role after a failed commit.
func (db *DB) fail(role Role, err error) {
	db.role.CompareAndSwap(int32(RolePrimary), int32(role))
	db.fenceOnce.Do(func() {
		db.log.Error("refusing further writes", "role", role.String(), "err", err)
		close(db.fenced)
	})
}

// writable returns the error a write gets in the current role.
func (db *DB) writable() error {
	if db.closed.Load() {
		return ErrClosed
	}
	switch Role(db.role.Load()) {
	case RolePrimary:
		return nil
	case RoleStandby:
		return ErrNotPrimary
	case RoleFenced:
		return ErrFenced
	}
	return fmt.Errorf("%w: an earlier write failed; reopen the database", ErrStorage)
}

// submit hands a record to the committer and waits until it is durable
// and applied (or failed).
func (db *DB) submit(ctx context.Context, rec *record) (*pending, error) {
	if err := db.writable(); err != nil {
		return nil, err
	}
	p := &pending{rec: rec, done: make(chan struct{})}
	if buf := rec.encode(nil); len(buf) <= maxRecordBytes {
		p.buf = buf
	} else {
		size := len(buf)
		buf = nil // garbage before the chunks take as much again
		var err error
		if p.entries, err = splitEntries(rec, size); err != nil {
			return nil, err
		}
	}
	if err := db.enqueue(ctx, p); err != nil {
		return nil, err
	}
	// Once queued the outcome is decided by the committer; waiting for it
	// even if ctx ends keeps "error returned" meaning "not applied".
	<-p.done
	return p, p.err
}

// enqueue hands p to the committer. Close waits for enqueue calls in
// flight (enqMu) before it fails whatever is left in the queue, so no
// pending is ever stranded.
func (db *DB) enqueue(ctx context.Context, p *pending) error {
	db.enqMu.RLock()
	defer db.enqMu.RUnlock()
	if db.closed.Load() {
		return ErrClosed
	}
	select {
	case db.commits <- p:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-db.done:
		return ErrClosed
	}
}

// commitLoop is the single committer: it takes every queued record, makes
// them durable with one log append (group commit), applies them in log
// order and acknowledges them. A split write is committed alone.
func (db *DB) commitLoop(ctx context.Context) {
	defer db.loop.Done()
	var group []*pending
	for {
		group = group[:0]
		select {
		case p := <-db.commits:
			group = append(group, p)
		case <-ctx.Done():
			return
		}
		size := group[0].size()
		var next *pending
	drain:
		for group[0].entries == nil {
			select {
			case p := <-db.commits:
				if p.entries != nil || size+len(p.buf) > maxGroupBytes {
					next = p
					break drain
				}
				group = append(group, p)
				size += len(p.buf)
			default:
				break drain
			}
		}
		var ckpts []*pending
		recs := group[:0]
		for _, p := range group {
			if p.ckpt {
				ckpts = append(ckpts, p)
				continue
			}
			recs = append(recs, p)
			db.sinceCkpt += int64(p.size())
		}
		if len(recs) > 0 {
			db.commitGroup(recs)
		}
		limit := db.opts.CheckpointBytes
		if limit == 0 {
			limit = DefaultCheckpointBytes
		}
		if len(ckpts) > 0 || limit > 0 && db.sinceCkpt >= limit {
			db.startCheckpoint(ckpts)
		}
		if next != nil {
			// Too big to join the group: committed on its own.
			db.sinceCkpt += int64(next.size())
			db.commitGroup([]*pending{next})
		}
	}
}

// DefaultCheckpointBytes is Options.CheckpointBytes' default.
const DefaultCheckpointBytes = 256 << 20

// startCheckpoint captures the state (on the committer) and writes it in
// the background; one checkpoint runs at a time.
func (db *DB) startCheckpoint(waiters []*pending) {
	finish := func(err error) {
		for _, p := range waiters {
			p.err = err
			close(p.done)
		}
	}
	if err := db.writable(); err != nil {
		finish(err)
		return
	}
	if len(waiters) > 0 {
		db.ckptMu.Lock() // an explicit request waits for a running checkpoint
	} else if !db.ckptMu.TryLock() {
		return
	}
	db.sinceCkpt = 0
	job := db.captureCheckpoint()
	db.bg.Add(1)
	go func() {
		defer db.bg.Done()
		defer db.ckptMu.Unlock()
		err := db.writeCheckpoint(job)
		if err != nil {
			db.log.Error("checkpoint failed", "lsn", job.lsn, "err", err)
		} else {
			db.log.Info("checkpoint written", "lsn", job.lsn)
		}
		finish(err)
	}()
}

// commitGroup logs a group of records as one entry, or a split write as its
// entries, in one atomic append; then applies and acknowledges them.
func (db *DB) commitGroup(group []*pending) {
	if err := db.writable(); err != nil {
		for _, p := range group {
			p.err = err
			close(p.done)
		}
		return
	}
	entries := group[0].entries
	if entries == nil {
		bufs := make([][]byte, len(group))
		for i, p := range group {
			bufs[i] = p.buf
		}
		entries = [][]byte{encodeGroup(bufs)}
	}
	// Once the group is handed to the log its outcome must be awaited
	// (not abandoned on Close): hence no cancellable context. A split
	// write is applied whole, as one record, at its last entry's LSN.
	lsn, err := db.wal.Append(context.Background(), entries)
	if err != nil {
		if errors.Is(err, ErrFenced) {
			db.fail(RoleFenced, err)
			err = fmt.Errorf("%w: %w", ErrFenced, err)
		} else {
			db.fail(RoleFailed, err)
			err = fmt.Errorf("%w: %w", ErrStorage, err)
		}
		for _, p := range group {
			p.err = err
			close(p.done)
		}
		return
	}
	for _, p := range group {
		p.n, p.err = db.apply(lsn, p.rec)
	}
	db.applied.Store(lsn)
	for _, p := range group {
		close(p.done)
	}
}

// failPending fails records still queued when the DB closes.
func (db *DB) failPending(err error) {
	for {
		select {
		case p := <-db.commits:
			p.err = err
			close(p.done)
		default:
			return
		}
	}
}

// lookup returns the named collection.
func (db *DB) lookup(name string) (*collection, error) {
	db.mu.RLock()
	c := db.colls[name]
	db.mu.RUnlock()
	if c == nil {
		return nil, fmt.Errorf("%w: %q", ErrCollectionNotFound, name)
	}
	return c, nil
}

// apply executes a durable record against memory: one record, or the row
// chunks of one split write (inserts or deletes of one collection), which
// it applies under one lock of the collection so that no reader sees part
// of the write. It is the only mutator and runs in log order (committer,
// recovery, tailer). Errors only reach the submitter; the record stays in
// the log and replays to the same error.
func (db *DB) apply(lsn uint64, rs ...*record) (int64, error) {
	r := rs[0]
	if r.op == opCreateCollection {
		db.mu.Lock()
		defer db.mu.Unlock()
		if old := db.colls[r.info.Schema.Name]; old != nil {
			return 0, fmt.Errorf("%w: %q", ErrCollectionExists, r.info.Schema.Name)
		}
		c := newCollection(r.info)
		c.lastLSN = lsn
		db.colls[r.info.Schema.Name] = c
		db.byID[r.coll] = c
		db.nextID = max(db.nextID, r.coll+1)
		db.lastTS = max(db.lastTS, r.info.SchemaVersion)
		return 0, nil
	}
	db.mu.RLock()
	c := db.byID[r.coll]
	db.mu.RUnlock()
	if c == nil {
		return 0, fmt.Errorf("%w: id %d (dropped)", ErrCollectionNotFound, r.coll)
	}
	c.mu.Lock()
	c.lastLSN = lsn
	c.mu.Unlock()
	switch r.op {
	case opDropCollection:
		db.mu.Lock()
		delete(db.byID, r.coll)
		if db.colls[c.info.Schema.Name] == c {
			delete(db.colls, c.info.Schema.Name)
		}
		db.mu.Unlock()
		c.close()
		return 0, nil
	case opInsert:
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, r := range rs {
			if err := c.applyInsert(r.cols); err != nil {
				return 0, err
			}
			if c.pk.f.AutoID {
				ids := r.cols[c.pk.f.ID-FirstFieldID].Ints
				if m := slices.Max(ids); m > db.autoID.Load() {
					db.autoID.Store(m)
				}
			}
		}
		return 0, nil
	case opDelete:
		c.mu.Lock()
		defer c.mu.Unlock()
		var n int64
		for _, r := range rs {
			n += c.applyDelete(&r.pks)
		}
		return n, nil
	case opCreateIndex:
		c.mu.Lock()
		defer c.mu.Unlock()
		return 0, c.applyCreateIndex(r.field, r.index, db.log)
	case opDropIndex:
		c.mu.Lock()
		defer c.mu.Unlock()
		return 0, c.applyDropIndex(r.field)
	case opSetLoad:
		c.mu.Lock()
		defer c.mu.Unlock()
		c.info.Load = r.load
		return 0, nil
	}
	return 0, fmt.Errorf("%w: op %d", errCorrupt, r.op)
}

// Promote turns a standby into the primary: takes the lease (bumping the
// epoch, sealing the old owner's log), applies the unread tail of the log
// and starts accepting writes.
func (db *DB) Promote(ctx context.Context) error {
	db.promoteMu.Lock()
	defer db.promoteMu.Unlock()
	if db.closed.Load() {
		return ErrClosed
	}
	if db.Role() != RoleStandby {
		return fmt.Errorf("%w: promote: role is %s", ErrInvalidArgument, db.Role())
	}
	// Stop tailing first: after Promote the log's tail is ours to write.
	db.stop()
	db.loop.Wait()
	if err := db.wal.Promote(ctx, db.replayOne); err != nil {
		// Still a standby: resume tailing from what was applied (a fresh
		// tailer, whatever state the failed attempt left behind).
		if rerr := db.wal.Replay(db.applied.Load(), db.replayOne); rerr != nil {
			db.log.Error("standby: resuming the log after a failed promote", "err", rerr)
		}
		db.start(Standby)
		return fmt.Errorf("promote: %w", err)
	}
	db.start(Primary)
	close(db.promoted)
	db.log.Info("promoted to primary", "lsn", db.applied.Load())
	return nil
}

// replayOne applies a log entry during recovery or tailing. A record that
// failed when first applied fails the same way again; that is not a
// recovery error. The entries of a split write are gathered and applied
// together at the last one, which is when applied moves: a replay that
// starts over begins at the write's first entry.
func (db *DB) replayOne(lsn uint64, entry []byte) error {
	if lsn <= db.applied.Load() {
		return nil
	}
	bufs, err := splitGroup(entry)
	if err != nil {
		return fmt.Errorf("log entry %d: %w", lsn, err)
	}
	recs := make([]*record, len(bufs))
	for i, b := range bufs {
		if recs[i], err = decodeRecord(b); err != nil {
			return fmt.Errorf("log entry %d, record %d: %w", lsn, i, err)
		}
	}
	if n := len(recs); n > 0 && recs[n-1].op == opPart {
		whole, err := db.split.add(lsn, recs)
		if err != nil {
			return fmt.Errorf("log entry %d: %w", lsn, err)
		}
		if whole != nil {
			_, _ = db.apply(lsn, whole...)
			db.applied.Store(lsn)
		}
		return nil
	}
	if db.split.pending() {
		return fmt.Errorf("log entry %d: %w: a split write ends before its last part", lsn, errCorrupt)
	}
	for _, r := range recs {
		_, _ = db.apply(lsn, r)
	}
	db.applied.Store(lsn)
	return nil
}

// tailLoop keeps a standby's memory in step with the owner's log.
func (db *DB) tailLoop(ctx context.Context) {
	defer db.loop.Done()
	for ctx.Err() == nil {
		err := db.wal.Tail(ctx, db.replayOne)
		if errors.Is(err, errLogGap) && ctx.Err() == nil {
			// The primary truncated the log past what this standby read
			// (it was stopped for long): start over from the checkpoint.
			db.log.Warn("standby fell behind the log; reloading from the checkpoint", "err", err)
			db.closeCollections()
			err = db.recover()
		}
		if err != nil && ctx.Err() == nil {
			db.log.Error("standby: tailing the log", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

// closeCollections stops every index builder.
func (db *DB) closeCollections() {
	db.mu.Lock()
	colls := db.byID
	db.byID, db.colls = map[int64]*collection{}, map[string]*collection{}
	db.mu.Unlock()
	for _, c := range colls {
		c.close()
	}
}
