package vectordb

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/milvus-ha/milvus-ha/internal/index"
)

// buildBatch is how many rows the builder adds per round.
const buildBatch = 2048

// vindex is a vector index on one field. Rows enter the ANN index in the
// background (HNSW inserts are far slower than durable appends); rows
// [0, indexed) are in it, rows from indexed on are searched exactly, so a
// search always covers every row.
type vindex struct {
	params  IndexParams
	ann     index.Index
	indexed atomic.Uint32

	// originals: ann.Vector returns rows as inserted (false only for a
	// COSINE index from a version-1 checkpoint, which holds them
	// normalised), so the collection may drop its own copy.
	originals bool

	wake     chan struct{}
	quit     chan struct{}
	done     sync.WaitGroup
	stopping atomic.Bool
	log      *slog.Logger
}

func indexMetric(m Metric) index.Metric {
	switch m {
	case MetricL2:
		return index.L2
	case MetricIP:
		return index.IP
	}
	return index.Cosine
}

func newVindex(p IndexParams, dim int, ann index.Index, log *slog.Logger) (*vindex, error) {
	if ann == nil {
		cfg := index.Config{Kind: index.KindHNSW, Metric: indexMetric(p.Metric), Dim: dim,
			HNSW: index.HNSWParams{M: p.M, EfConstruction: p.EfConstruction}}
		if p.Type == IndexFLAT {
			cfg.Kind = index.KindFlat
		}
		var err error
		if ann, err = index.New(cfg); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
		}
	}
	return &vindex{params: p, ann: ann, originals: !ann.Stats().Normalised,
		wake: make(chan struct{}, 1), quit: make(chan struct{}), log: log}, nil
}

func (v *vindex) indexedRows() int { return int(v.indexed.Load()) }

// grow tells the builder that rows were appended.
func (v *vindex) grow() {
	select {
	case v.wake <- struct{}{}:
	default:
	}
}

// start runs the builder for the index on fs of c.
func (v *vindex) start(c *collection, fs *fieldStore) {
	v.done.Add(1)
	go func() {
		defer v.done.Done()
		for {
			for v.buildOnce(c, fs) {
				select {
				case <-v.quit:
					return
				default:
				}
			}
			select {
			case <-v.wake:
			case <-v.quit:
				return
			}
		}
	}()
	v.grow()
}

func (v *vindex) stop() {
	v.stopping.Store(true)
	close(v.quit)
	v.done.Wait()
}

// buildOnce adds the next batch of rows; reports whether it did anything.
func (v *vindex) buildOnce(c *collection, fs *fieldStore) bool {
	c.mu.RLock()
	lo := v.indexed.Load()
	hi := min(uint32(c.rows), lo+buildBatch)
	ids := make([]uint32, 0, hi-lo)
	vecs := make([][]float32, 0, hi-lo)
	for r := lo; r < hi; r++ {
		ids = append(ids, r)
		// Row slices point into chunks that never move or change.
		vecs = append(vecs, fs.vecs.row(r))
	}
	c.mu.RUnlock()
	if lo == hi {
		return false
	}
	v.add(ids, vecs)
	if v.stopping.Load() {
		return false
	}
	c.mu.RLock()
	for r := lo; r < hi; r++ {
		if c.deleted.has(r) {
			_ = v.ann.Delete(r)
		}
	}
	v.indexed.Store(hi)
	c.mu.RUnlock()
	v.release(c, fs)
	return true
}

// holdsChunk reports whether the index can stand in for the collection's
// chunk k: it returns rows as inserted and holds every row of the chunk. A
// row it refused (a zero vector has no COSINE direction) keeps the chunk.
func (v *vindex) holdsChunk(k int) bool {
	if !v.originals {
		return false
	}
	for r := uint32(k) << chunkShift; r < uint32(k+1)<<chunkShift; r++ {
		if !v.ann.Has(r) {
			return false
		}
	}
	return true
}

// release frees the collection's copy of every full chunk the index now
// holds, so vectors live in memory once (the index's copy, for every
// metric: the index keeps COSINE vectors as inserted too). Readers reach
// them through fieldStore.vector.
func (v *vindex) release(c *collection, fs *fieldStore) {
	if !v.originals {
		return
	}
	full := int(v.indexed.Load()) >> chunkShift
	c.mu.Lock()
	defer c.mu.Unlock()
	if fs.index != v {
		return
	}
	for k := range min(full, len(fs.vecs.chunks)) {
		if fs.vecs.chunks[k] != nil && v.holdsChunk(k) {
			fs.vecs.chunks[k] = nil
		}
	}
}

// restore copies released chunks back out of the index (before the index
// goes away). Caller holds c.mu.
func (v *vindex) restore(fs *fieldStore) error {
	for k, ch := range fs.vecs.chunks {
		if ch != nil {
			continue
		}
		ch = make([]float32, 0, chunkRows*fs.f.Dim)
		for r := uint32(k) << chunkShift; r < uint32(k+1)<<chunkShift; r++ {
			vec, err := v.ann.Vector(r)
			if err != nil {
				return fmt.Errorf("restoring row %d of %q from its index: %w", r, fs.f.Name, err)
			}
			ch = append(ch, vec...)
		}
		fs.vecs.chunks[k] = ch
	}
	return nil
}

// add inserts rows into the ANN index on every core, checking between
// rows whether the index is being stopped, so Close and DropIndex never
// wait for a whole batch of (slow) HNSW inserts.
func (v *vindex) add(ids []uint32, vecs [][]float32) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(ids)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ids) || v.stopping.Load() {
					return
				}
				err := v.ann.Add(ids[i], vecs[i])
				if err != nil && !errors.Is(err, index.ErrDuplicate) {
					// A row the index cannot hold (a zero vector has no
					// COSINE direction) stays stored and readable (its
					// chunk is not released); only ANN search misses it.
					v.log.Warn("vector index refused a row", "index", v.params.Name, "row", ids[i], "err", err)
				}
			}
		})
	}
	wg.Wait()
}

// tombstoned is called under c.mu (write) when row r is deleted.
func (v *vindex) tombstoned(r uint32) {
	if r < v.indexed.Load() {
		_ = v.ann.Delete(r)
	}
}

// search returns, per query, the k best live, allowed rows (caller holds
// c.mu.RLock). Several queries share one ANN call, which lets FLAT scan
// the data once for all of them.
func (v *vindex) search(c *collection, fs *fieldStore, qs [][]float32, k, ef int, allow *bitset) ([][]hit, error) {
	idx := v.indexed.Load()
	out := make([][]hit, len(qs))
	for i, q := range qs {
		out[i] = exactSearch(c, fs, v.params.Metric, q, k, allow, idx, uint32(c.rows))
	}
	if idx == 0 {
		return out, nil
	}
	p := index.SearchParams{K: k, Ef: ef}
	// The ANN part may only return rows below idx: rows the builder adds
	// meanwhile may be deleted rows it has not yet tombstoned, and they are
	// covered by the exact part anyway. With every row indexed and no
	// filter, nothing can be added during the search (appends wait for our
	// lock), and the index's own tombstones equal ours.
	if allow != nil || idx < uint32(c.rows) {
		p.Filter = annFilter(c, allow, idx)
	}
	// The builder may be adding rows meanwhile: the index reads only rows
	// whose Add completed, batched or not.
	res, err := v.ann.SearchBatch(qs, p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	m := v.params.Metric
	for i, rs := range res {
		hits := out[i]
		for _, r := range rs {
			hits = append(hits, hit{row: r.ID, score: r.Score})
		}
		slices.SortFunc(hits, func(a, b hit) int {
			switch {
			case better(m, a.score, b.score):
				return -1
			case better(m, b.score, a.score):
				return 1
			}
			return int(a.row) - int(b.row)
		})
		out[i] = hits[:min(k, len(hits))]
	}
	return out, nil
}

func (c *collection) applyCreateIndex(field string, p IndexParams, log *slog.Logger) error {
	fs := c.field(field)
	if fs == nil {
		return fmt.Errorf("%w: %q", ErrFieldNotFound, field)
	}
	if fs.index != nil {
		return fmt.Errorf("%w: field %q", ErrIndexConflict, field)
	}
	v, err := newVindex(p, fs.f.Dim, nil, log)
	if err != nil {
		return err
	}
	fs.index = v
	v.start(c, fs)
	return nil
}

func (c *collection) applyDropIndex(field string) error {
	fs := c.field(field)
	if fs == nil || fs.index == nil {
		return fmt.Errorf("%w: field %q", ErrIndexNotFound, field)
	}
	ix := fs.index
	// The builder takes c.mu; stop it without holding the lock.
	c.mu.Unlock()
	ix.stop()
	c.mu.Lock()
	if err := ix.restore(fs); err != nil {
		return err
	}
	fs.index = nil
	return nil
}

// close stops the index builders of a dropped collection.
func (c *collection) close() {
	c.mu.Lock()
	var ixs []*vindex
	for _, fs := range c.fields {
		if fs.index != nil {
			ixs = append(ixs, fs.index)
			fs.index = nil
		}
	}
	c.mu.Unlock()
	for _, ix := range ixs {
		ix.stop()
	}
}

// annFilter returns the rows below idx that are live and allowed, as the
// index's Bitset (whose exact population count lets HNSW choose between
// graph search and brute force).
func annFilter(c *collection, allow *bitset, idx uint32) index.Bitset {
	words := int(idx+63) / 64
	bs := make(index.Bitset, words)
	for w := range bs {
		var x uint64
		if allow != nil {
			if w < len(*allow) {
				x = (*allow)[w]
			}
		} else {
			x = ^uint64(0)
			if w < len(c.deleted) {
				x &^= c.deleted[w]
			}
		}
		bs[w] = x
	}
	if rem := idx % 64; rem != 0 {
		bs[words-1] &= 1<<rem - 1
	}
	return bs
}
