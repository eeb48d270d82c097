package index

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// HNSW defaults. M=16 / efConstruction=200 are hnswlib's and Milvus'
// customary values: recall@10 ≥ 0.95 at ef 64 on real-like data (see
// vector-perf.md) with 1M×128 fitting in well under 1 GiB.
const (
	DefaultM              = 16
	DefaultEfConstruction = 200
	// defaultMinEf is the ef a search uses when the caller gives none:
	// max(K, 64) — below 64 recall on harder data drops quickly.
	defaultMinEf = 64
)

// DefaultEf is the ef used when SearchParams.Ef is 0.
func DefaultEf(k int) int { return max(k, defaultMinEf) }

// HNSWParams are the build parameters (Milvus index params "M",
// "efConstruction"). Zero values take the defaults.
type HNSWParams struct {
	M              int // neighbours per node on layers ≥ 1 (2M on layer 0); 2..100
	EfConstruction int // candidate list size while inserting; ≥ M
	Seed           uint64
}

func (p HNSWParams) withDefaults() (HNSWParams, error) {
	if p.M == 0 {
		p.M = DefaultM
	}
	if p.EfConstruction == 0 {
		p.EfConstruction = DefaultEfConstruction
	}
	if p.M < 2 || p.M > 100 {
		return p, fmt.Errorf("%w: M=%d (want 2..100)", ErrBadParam, p.M)
	}
	if p.EfConstruction < 1 || p.EfConstruction > 1<<16 {
		return p, fmt.Errorf("%w: efConstruction=%d", ErrBadParam, p.EfConstruction)
	}
	p.EfConstruction = max(p.EfConstruction, p.M)
	return p, nil
}

// maxLevel caps the random level; with mL = 1/ln(16) level 16 has
// probability 16^-16, so the cap never binds in practice.
const maxLevel = 16

// lockStripes is the number of mutexes guarding neighbour-list writes; node
// id i uses stripe i%lockStripes. Writers never hold two stripes at once.
const lockStripes = 1 << 12

// noEntry marks an empty graph in HNSW.entry.
const noEntry = math.MaxUint64

// HNSW is a hierarchical navigable small world graph (Malkov & Yashunin,
// following hnswlib): Add inserts concurrently with other Adds and with
// searches; deleted nodes stay in the graph for navigation.
type HNSW struct {
	st     *store
	metric Metric
	m, m0  int
	efc    int
	ml     float64
	seed   uint64

	writeMu sync.RWMutex  // Add/Delete share it; WriteTo takes it alone
	locks   []sync.Mutex  // neighbour-list write locks, striped
	topMu   sync.Mutex    // held by an Add that raises the top level
	entry   atomic.Uint64 // level<<32 | id of the entry point, or noEntry

	rngMu sync.Mutex
	rng   *rand.Rand

	scratch  sync.Pool // *searchScratch
	rejected atomic.Uint64
}

// NewHNSW returns an empty HNSW index.
func NewHNSW(dim int, m Metric, p HNSWParams) (*HNSW, error) {
	if err := checkDim(dim); err != nil {
		return nil, err
	}
	if err := checkMetric(m); err != nil {
		return nil, err
	}
	p, err := p.withDefaults()
	if err != nil {
		return nil, err
	}
	h := &HNSW{
		st:     newStore(dim, 2*p.M, m),
		metric: m,
		m:      p.M,
		m0:     2 * p.M,
		efc:    p.EfConstruction,
		ml:     1 / math.Log(float64(p.M)),
		seed:   p.Seed,
		locks:  make([]sync.Mutex, lockStripes),
		rng:    rand.New(rand.NewPCG(p.Seed, 0x9e3779b97f4a7c15)),
	}
	h.entry.Store(noEntry)
	return h, nil
}

// Dim implements Index.
func (h *HNSW) Dim() int { return h.st.dim }

// Metric implements Index.
func (h *HNSW) Metric() Metric { return h.metric }

// Params returns the build parameters.
func (h *HNSW) Params() HNSWParams {
	return HNSWParams{M: h.m, EfConstruction: h.efc, Seed: h.seed}
}

// qdist is the distance from q (a prepared query: normalised for COSINE)
// to node id.
func (h *HNSW) qdist(t []*chunk, q []float32, id uint32) float32 {
	x := h.st.vec(t, id)
	if h.metric == L2 {
		return l2sq(q, x)
	}
	d := -dot(q, x)
	if h.st.cosine {
		d = scaled(t, id, d)
	}
	return d
}

// pairDist is the distance between nodes a and b.
func (h *HNSW) pairDist(t []*chunk, a, b uint32) float32 {
	d := h.qdist(t, h.st.vec(t, a), b)
	if h.st.cosine {
		d = scaled(t, a, d) // a was not normalised either
	}
	return d
}

func (h *HNSW) randomLevel() int {
	h.rngMu.Lock()
	u := h.rng.Float64()
	h.rngMu.Unlock()
	l := int(-math.Log(1-u) * h.ml)
	return min(l, maxLevel)
}

// links returns the neighbour list of id at level: element 0 is the count,
// then up to m0 (level 0) or m ids. Entries are read and written with
// atomics: a reader may see a list mid-update, but every entry it sees is a
// valid, fully inserted node, which is all the search needs.
func (h *HNSW) links(t []*chunk, id uint32, level int) []uint32 {
	c := t[id>>chunkShift]
	i := int(id & chunkMask)
	if level == 0 {
		off := i * (h.m0 + 1)
		return c.links0[off : off+h.m0+1 : off+h.m0+1]
	}
	off := (level - 1) * (h.m + 1)
	return c.upper[i][off : off+h.m+1 : off+h.m+1]
}

func (h *HNSW) lock(id uint32) *sync.Mutex { return &h.locks[id%lockStripes] }

// Add implements Index (hnswlib's addPoint).
func (h *HNSW) Add(id uint32, v []float32) error {
	p, err := prepare(v, h.st.dim, h.metric)
	if err != nil {
		h.rejected.Add(1)
		return err
	}
	h.writeMu.RLock()
	defer h.writeMu.RUnlock()
	c, err := h.st.claim(id)
	if err != nil {
		h.rejected.Add(1)
		return err
	}
	h.st.write(c, id, h.st.stored(v, p))
	level := h.randomLevel()
	ci := id & chunkMask
	c.level[ci] = uint8(level)
	if level > 0 {
		c.upper[ci] = make([]uint32, level*(h.m+1))
	}
	h.insert(id, level, p)
	h.st.publish(c, id)
	return nil
}

// insert links node id, whose prepared vector is p, into the graph.
func (h *HNSW) insert(id uint32, level int, p []float32) {
	e := h.entry.Load()
	if e == noEntry || int(e>>32) < level {
		// This node may become the new top: serialise with other such
		// inserts (rare: probability 1/M per level).
		h.topMu.Lock()
		defer h.topMu.Unlock()
		e = h.entry.Load()
		if e == noEntry {
			h.entry.Store(uint64(level)<<32 | uint64(id))
			return
		}
	}
	top := int(e >> 32)
	cur := uint32(e)
	t := h.st.chunks()
	// The stored copy, except under cosine, where it is not normalised.
	q := h.st.vec(t, id)
	if h.st.cosine {
		q = p
	}
	curDist := h.qdist(t, q, cur)
	for lc := top; lc > level; lc-- {
		cur, curDist = h.greedy(t, q, cur, curDist, lc)
	}
	s := h.getScratch()
	defer h.scratch.Put(s)
	for lc := min(level, top); lc >= 0; lc-- {
		h.searchLayer(t, q, cur, curDist, h.efc, lc, s, nil, false)
		t = h.st.chunks() // the candidates may be newer than t
		// A concurrent insert may already have linked this node, so the
		// search can meet it: never link a node to itself.
		cands := slices.DeleteFunc(s.sorted(), func(it item) bool { return it.id == id })
		if len(cands) == 0 {
			continue
		}
		sel := h.heuristic(t, cands, h.m)
		h.connect(id, sel, lc)
		cur, curDist = sel[0].id, sel[0].dist
	}
	if level > top {
		h.entry.Store(uint64(level)<<32 | uint64(id))
	}
}

// greedy walks layer lc towards q (search with ef = 1).
func (h *HNSW) greedy(t []*chunk, q []float32, cur uint32, curDist float32, lc int) (uint32, float32) {
	t = h.tab(t, cur)
	var ids [100]uint32
	var ptrs [100]*float32
	var ds [100]float32
	for changed := true; changed; {
		changed = false
		l := h.links(t, cur, lc)
		n := int(atomic.LoadUint32(&l[0]))
		for i := 0; i < n; i++ {
			nb := atomic.LoadUint32(&l[i+1])
			t = h.tab(t, nb)
			ids[i], ptrs[i] = nb, &h.st.vec(t, nb)[0]
		}
		distMany(q, ptrs[:n], ds[:n], h.metric != L2)
		h.st.rescale(t, ids[:n], ds[:n])
		for i, d := range ds[:n] {
			if d < curDist {
				cur, curDist, changed = ids[i], d, true
			}
		}
	}
	return cur, curDist
}

// heuristic is hnswlib's getNeighborsByHeuristic2: walking candidates
// closest first, keep one only if it is closer to the base than to every
// neighbour already kept, so links spread in different directions instead
// of clustering around one side. cands must be sorted by distance to the
// base; the kept prefix is written in place and returned.
func (h *HNSW) heuristic(t []*chunk, cands []item, m int) []item {
	if len(cands) <= m {
		return cands
	}
	n := 0
	for _, c := range cands {
		if n >= m {
			break
		}
		good := true
		for _, r := range cands[:n] {
			if h.pairDist(t, c.id, r.id) < c.dist {
				good = false
				break
			}
		}
		if good {
			cands[n] = c
			n++
		}
	}
	return cands[:n]
}

// connect sets id's links at lc to sel and adds the reverse links, pruning
// a full neighbour list with the same heuristic (hnswlib's
// mutuallyConnectNewElement).
func (h *HNSW) connect(id uint32, sel []item, lc int) {
	t := h.st.chunks()
	mu := h.lock(id)
	mu.Lock()
	l := h.links(t, id, lc)
	for i, it := range sel {
		atomic.StoreUint32(&l[i+1], it.id)
	}
	atomic.StoreUint32(&l[0], uint32(len(sel)))
	mu.Unlock()

	mmax := h.m
	if lc == 0 {
		mmax = h.m0
	}
	var buf [2*100 + 1]item
	for _, it := range sel {
		nb := it.id
		mu := h.lock(nb)
		mu.Lock()
		nl := h.links(t, nb, lc)
		n := int(nl[0])
		dup := false
		for i := 1; i <= n; i++ {
			if nl[i] == id {
				dup = true
				break
			}
		}
		switch {
		case dup:
		case n < mmax:
			atomic.StoreUint32(&nl[n+1], id)
			atomic.StoreUint32(&nl[0], uint32(n+1))
		default:
			// The list may name nodes newer than t.
			t2 := h.st.chunks()
			cands := append(buf[:0], item{it.dist, id})
			for i := 1; i <= n; i++ {
				cands = append(cands, item{h.pairDist(t2, nb, nl[i]), nl[i]})
			}
			sortItems(cands)
			keep := h.heuristic(t2, cands, mmax)
			for i, k := range keep {
				atomic.StoreUint32(&nl[i+1], k.id)
			}
			atomic.StoreUint32(&nl[0], uint32(len(keep)))
		}
		mu.Unlock()
	}
}

// Delete implements Index: the node is tombstoned, keeps its links and
// still routes searches, but is never returned.
func (h *HNSW) Delete(id uint32) error {
	h.writeMu.RLock()
	defer h.writeMu.RUnlock()
	return h.st.remove(id)
}

// Has implements Index.
func (h *HNSW) Has(id uint32) bool { return h.st.isPresent(id) }

// Vector implements Index.
func (h *HNSW) Vector(id uint32) ([]float32, error) { return h.st.vector(id) }

// Stats implements Index.
func (h *HNSW) Stats() Stats {
	return Stats{
		Kind:       KindHNSW,
		Live:       h.st.live.Load(),
		Deleted:    h.st.dead.Load(),
		Limit:      h.st.limit.Load(),
		Bytes:      h.st.bytes() + int64(len(h.locks))*8,
		Rejected:   h.rejected.Load(),
		Normalised: h.metric == Cosine && !h.st.cosine,
	}
}

// AddBatch inserts vectors[i] under ids[i] using all cores; it is a
// convenience for rebuilds and benchmarks (the result equals sequential
// Adds up to insertion order). It stops at the first error.
func (h *HNSW) AddBatch(ids []uint32, vectors [][]float32) error {
	if len(ids) != len(vectors) {
		return fmt.Errorf("%w: %d ids for %d vectors", ErrBadParam, len(ids), len(vectors))
	}
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ids) {
					return
				}
				if err := h.Add(ids[i], vectors[i]); err != nil {
					errOnce.Do(func() { firstErr = err })
					next.Store(int64(len(ids)))
					return
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}

// ParseHNSWParams reads the Milvus index params of an HNSW (or AUTOINDEX)
// index: "M" and "efConstruction", given as decimal strings as clients
// send them. Absent keys take the defaults; other keys are left to the
// caller (Milvus also carries metric_type and index_type in the same map).
func ParseHNSWParams(params map[string]string) (HNSWParams, error) {
	var p HNSWParams
	for key, dst := range map[string]*int{"M": &p.M, "efConstruction": &p.EfConstruction} {
		s, ok := params[key]
		if !ok {
			continue
		}
		v, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || v <= 0 {
			return p, fmt.Errorf("%w: %s=%q", ErrBadParam, key, s)
		}
		*dst = v
	}
	return p.withDefaults()
}
