package index

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
)

// Vectors and per-node graph data live in fixed-size chunks of chunkSize
// consecutive ids. Chunks never move once allocated, so readers only load
// the chunk table (an atomic pointer, copied on growth) and need no lock,
// and growth never copies vectors: the peak memory of a growing index is its
// size plus one chunk, not twice its size as with a doubling slice.
const (
	chunkShift = 12
	chunkSize  = 1 << chunkShift
	chunkMask  = chunkSize - 1
	chunkWords = chunkSize / 64
)

type chunk struct {
	vecs []float32 // chunkSize*dim, row-major
	// norms holds squared norms (the batched L2 scan's bias), or under
	// store.cosine the inverse norms 1/‖x‖.
	norms []float32

	claimed [chunkWords]atomicU64 // id reserved by an Add (duplicate detection)
	present [chunkWords]atomicU64 // vector written and searchable
	deleted [chunkWords]atomicU64 // tombstones

	// HNSW only (nil for FLAT).
	links0 []uint32   // chunkSize*(m0+1): per node [count, neighbours...]
	level  []uint8    // top layer of each node
	upper  [][]uint32 // per node: level*(m+1) entries for layers 1..level, nil if level 0
}

// store is the vector storage shared by FLAT and HNSW.
type store struct {
	dim int
	m0  int // layer-0 neighbour capacity; 0 for FLAT
	// cosine: a COSINE index holding the vectors as added, with norms =
	// 1/‖x‖, so that a distance from a normalised query q̂ is −q̂·x/‖x‖
	// (scaled). False for L2 and IP, and for a COSINE index read from a
	// version-1 file, which holds normalised vectors (−q̂·x̂ as for IP).
	cosine bool
	growMu sync.Mutex
	table  atomic.Pointer[[]*chunk]
	limit  atomic.Uint32 // 1 + highest id ever claimed
	live   atomic.Int64  // present and not deleted
	dead   atomic.Int64  // present and deleted
}

func newStore(dim, m0 int, m Metric) *store {
	s := &store{dim: dim, m0: m0, cosine: m == Cosine}
	s.table.Store(&[]*chunk{})
	return s
}

func (s *store) chunks() []*chunk { return *s.table.Load() }

// ensure makes the chunk holding id exist and returns the table. Only that
// chunk is allocated: entries for chunks no id has reached stay nil, so a
// sparse id costs one chunk, not every chunk below it.
func (s *store) ensure(id uint32) []*chunk {
	t := s.chunks()
	ci := int(id >> chunkShift)
	if ci < len(t) && t[ci] != nil {
		return t
	}
	s.growMu.Lock()
	defer s.growMu.Unlock()
	t = s.chunks()
	if ci < len(t) && t[ci] != nil {
		return t
	}
	nt := make([]*chunk, max(len(t), ci+1))
	copy(nt, t)
	nt[ci] = s.newChunk()
	s.table.Store(&nt)
	return nt
}

func (s *store) newChunk() *chunk {
	c := &chunk{
		vecs:  make([]float32, chunkSize*s.dim),
		norms: make([]float32, chunkSize),
	}
	if s.m0 > 0 {
		c.links0 = make([]uint32, chunkSize*(s.m0+1))
		c.level = make([]uint8, chunkSize)
		c.upper = make([][]uint32, chunkSize)
	}
	return c
}

// claim reserves id for one Add; a second claim of the same id fails.
func (s *store) claim(id uint32) (*chunk, error) {
	if id > maxID {
		return nil, fmt.Errorf("%w: %d > %d", ErrIDRange, id, maxID)
	}
	t := s.ensure(id)
	c := t[id>>chunkShift]
	bit := uint64(1) << (id & 63)
	if c.claimed[(id&chunkMask)>>6].Or(bit)&bit != 0 {
		return nil, fmt.Errorf("%w: %d", ErrDuplicate, id)
	}
	for {
		l := s.limit.Load()
		if id < l || s.limit.CompareAndSwap(l, id+1) {
			break
		}
	}
	return c, nil
}

// write copies v into the claimed slot of id.
func (s *store) write(c *chunk, id uint32, v []float32) {
	off := int(id&chunkMask) * s.dim
	copy(c.vecs[off:off+s.dim], v)
	c.norms[id&chunkMask] = s.norm(v)
}

// stored is what an Add keeps of v, given its prepared form p: v as added
// under cosine, else p (v itself for L2 and IP, normalised for a COSINE
// index read from a version-1 file).
func (s *store) stored(v, p []float32) []float32 {
	if s.cosine {
		return v
	}
	return p
}

// norm is what norms holds for v.
func (s *store) norm(v []float32) float32 {
	n := dot(v, v)
	if s.cosine && n > 0 { // 0: an empty slot (a present COSINE vector is never zero)
		return float32(1 / math.Sqrt(float64(n)))
	}
	return n
}

// scaled turns −q̂·x, the raw distance from a normalised query to id, into
// the COSINE distance −q̂·x/‖x‖ (only under cosine).
func scaled(t []*chunk, id uint32, d float32) float32 {
	return d * t[id>>chunkShift].norms[id&chunkMask]
}

// rescale applies scaled to the distances ds of ids.
func (s *store) rescale(t []*chunk, ids []uint32, ds []float32) {
	if !s.cosine {
		return
	}
	for i, id := range ids {
		ds[i] = scaled(t, id, ds[i])
	}
}

// publish makes id visible to scans.
func (s *store) publish(c *chunk, id uint32) {
	c.present[(id&chunkMask)>>6].Or(1 << (id & 63))
	s.live.Add(1)
}

// vec returns the stored vector of id (which must be claimed).
func (s *store) vec(t []*chunk, id uint32) []float32 {
	off := int(id&chunkMask) * s.dim
	return t[id>>chunkShift].vecs[off : off+s.dim : off+s.dim]
}

// isPresent reports whether id has been added (deleted or not).
func (s *store) isPresent(id uint32) bool {
	t := s.chunks()
	ci := int(id >> chunkShift)
	if ci >= len(t) || t[ci] == nil {
		return false
	}
	return t[ci].present[(id&chunkMask)>>6].Load()&(1<<(id&63)) != 0
}

// isDeleted reports whether id carries a tombstone.
func isDeleted(c *chunk, id uint32) bool {
	return c.deleted[(id&chunkMask)>>6].Load()&(1<<(id&63)) != 0
}

// remove tombstones id. Deleting an absent id is an error; deleting twice is
// a no-op, so replaying a delete from a log is harmless.
func (s *store) remove(id uint32) error {
	if !s.isPresent(id) {
		return fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	c := s.chunks()[id>>chunkShift]
	bit := uint64(1) << (id & 63)
	if c.deleted[(id&chunkMask)>>6].Or(bit)&bit == 0 {
		s.live.Add(-1)
		s.dead.Add(1)
	}
	return nil
}

// vector returns a copy of the stored vector of id: as added, or
// normalised for a COSINE index read from a version-1 file.
func (s *store) vector(id uint32) ([]float32, error) {
	if !s.isPresent(id) {
		return nil, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	return append([]float32(nil), s.vec(s.chunks(), id)...), nil
}

// liveMask returns the 64-bit word of ids base..base+63 that are present and
// not deleted.
func liveMask(c *chunk, w int) uint64 {
	return c.present[w].Load() &^ c.deleted[w].Load()
}

// bytes is the memory held by the chunks (vectors, norms, bitmaps, links).
func (s *store) bytes() int64 {
	var n int64
	for _, c := range s.chunks() {
		if c == nil {
			continue
		}
		n += int64(cap(c.vecs))*4 + int64(cap(c.norms))*4 + 3*chunkWords*8
		n += int64(cap(c.links0))*4 + int64(cap(c.level)) + int64(cap(c.upper))*24
		for _, u := range c.upper {
			n += int64(cap(u)) * 4
		}
	}
	return n
}

type atomicU64 = atomic.Uint64
