package index

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"
)

// searchScratch is the per-search state, pooled: hnswlib's visited list
// (a generation-stamped array instead of a map, so resetting it is one
// increment) and the two heaps.
type searchScratch struct {
	marks []uint16
	gen   uint16
	cand  minHeap
	top   maxHeap
	out   []item
	// One expansion's unvisited neighbours, their vectors and distances.
	ids  []uint32
	ptrs []*float32
	ds   []float32
}

func (h *HNSW) getScratch() *searchScratch {
	s, _ := h.scratch.Get().(*searchScratch)
	if s == nil {
		s = &searchScratch{}
	}
	return s
}

func (s *searchScratch) reset(limit uint32) {
	s.gen++
	if s.gen == 0 {
		clear(s.marks)
		s.gen = 1
	}
	if int(limit) > len(s.marks) {
		s.grow(limit)
	}
	s.cand = s.cand[:0]
	s.top = s.top[:0]
}

func (s *searchScratch) grow(n uint32) {
	m := make([]uint16, max(int(n), 2*len(s.marks), 1024))
	copy(m, s.marks)
	s.marks = m
}

// visit marks id and reports whether this is its first visit.
func (s *searchScratch) visit(id uint32) bool {
	if int(id) >= len(s.marks) {
		s.grow(id + 1)
	}
	if s.marks[id] == s.gen {
		return false
	}
	s.marks[id] = s.gen
	return true
}

// sorted returns the kept results, closest first, in s.out.
func (s *searchScratch) sorted() []item {
	s.out = append(s.out[:0], s.top...)
	sortItems(s.out)
	return s.out
}

// tab returns a chunk table that covers id: a node linked after the caller
// loaded t may live in a newer chunk.
func (h *HNSW) tab(t []*chunk, id uint32) []*chunk {
	if int(id>>chunkShift) < len(t) {
		return t
	}
	return h.st.chunks()
}

// searchLayer is hnswlib's searchBaseLayer: best-first expansion from ep
// keeping the ef closest allowed nodes in s.top. Nodes that are deleted
// (when excludeDeleted) or refused by filter are still expanded — they keep
// the graph connected — but never enter s.top, and the search only stops
// once s.top holds ef allowed nodes and the next candidate is farther than
// all of them. So a filter never makes the search return fewer than ef
// results while ef allowed nodes are reachable: the search simply walks
// further (this is the "ef grows until enough allowed results" policy).
func (h *HNSW) searchLayer(t []*chunk, q []float32, ep uint32, epDist float32, ef, level int,
	s *searchScratch, filter Filter, excludeDeleted bool) {
	s.reset(h.st.limit.Load())
	allowed := func(t []*chunk, id uint32) bool {
		if excludeDeleted && isDeleted(t[id>>chunkShift], id) {
			return false
		}
		return filter == nil || filter.Allows(id)
	}
	s.visit(ep)
	s.cand.push(item{epDist, ep})
	lower := float32(math.Inf(1))
	if allowed(t, ep) {
		s.top.push(item{epDist, ep})
		lower = epDist
	}
	plain := filter == nil && !excludeDeleted
	ip := h.metric != L2
	if cap(s.ids) < h.m0 {
		s.ids, s.ptrs, s.ds = make([]uint32, 0, h.m0), make([]*float32, 0, h.m0), make([]float32, h.m0)
	}
	for len(s.cand) > 0 {
		c := s.cand.pop()
		if c.dist > lower && len(s.top) >= ef {
			break
		}
		l := h.links(t, c.id, level)
		n := atomic.LoadUint32(&l[0])
		ids, ptrs := s.ids[:0], s.ptrs[:0]
		for i := uint32(1); i <= n; i++ {
			nb := atomic.LoadUint32(&l[i])
			if !s.visit(nb) {
				continue
			}
			t = h.tab(t, nb)
			ids = append(ids, nb)
			ptrs = append(ptrs, &h.st.vec(t, nb)[0])
		}
		ds := s.ds[:len(ids)]
		distMany(q, ptrs, ds, ip)
		h.st.rescale(t, ids, ds)
		for j, nb := range ids {
			d := ds[j]
			if len(s.top) < ef || d < lower {
				s.cand.push(item{d, nb})
				if plain || allowed(t, nb) {
					s.top.push(item{d, nb})
					if len(s.top) > ef {
						s.top.pop()
					}
					lower = s.top.top()
				}
			}
		}
	}
}

// bruteForceFactor sets the filtered-search policy (see doc.go): with n
// nodes and a filter passing a of them, a graph search expands about
// ef·n/a nodes of ~bruteForceFactor distance computations each... more
// simply, its cost grows like c·ef/p (p = a/n) while the exhaustive scan
// of the allowed ids costs a; brute force wins when a² < c·ef·n. c = 20
// fits the measured cost of one expansion (≈ 20 distance computations).
const bruteForceFactor = 20

// sampleSize is how many live ids are probed to estimate the selectivity of
// a filter that cannot count itself.
const sampleSize = 512

// counter is implemented by filters that know how many ids they allow
// (Bitset).
type counter interface{ Count() int }

// estimateAllowed returns about how many live ids f allows.
func (h *HNSW) estimateAllowed(f Filter, live int64) int64 {
	if c, ok := f.(counter); ok {
		return min(int64(c.Count()), live)
	}
	limit := h.st.limit.Load()
	if limit == 0 {
		return 0
	}
	t := h.st.chunks()
	seen, pass := 0, 0
	// Probe pseudo-random ids (a multiplicative hash of 0..sampleSize-1):
	// an even stride could alias with filters like id%5 == 0.
	for i := uint64(0); i < sampleSize; i++ {
		id := uint32(i * 0x9E3779B97F4A7C15 >> 32 % uint64(limit))
		c := t[id>>chunkShift]
		if c == nil || liveMask(c, int(id&chunkMask)>>6)&(1<<(id&63)) == 0 {
			continue
		}
		seen++
		if f.Allows(id) {
			pass++
		}
	}
	if seen == 0 {
		return 0
	}
	return live * int64(pass) / int64(seen)
}

// Search implements Index.
func (h *HNSW) Search(q []float32, p SearchParams) ([]Result, error) {
	if err := p.check(); err != nil {
		h.rejected.Add(1)
		return nil, err
	}
	pq, err := prepare(q, h.st.dim, h.metric)
	if err != nil {
		h.rejected.Add(1)
		return nil, err
	}
	return results(h.search(pq, p), p.K, h.metric), nil
}

// SearchBatch implements Index; queries are spread over the cores.
func (h *HNSW) SearchBatch(qs [][]float32, p SearchParams) ([][]Result, error) {
	if err := p.check(); err != nil {
		h.rejected.Add(1)
		return nil, err
	}
	pqs := make([][]float32, len(qs))
	for i, q := range qs {
		pq, err := prepare(q, h.st.dim, h.metric)
		if err != nil {
			h.rejected.Add(1)
			return nil, err
		}
		pqs[i] = pq
	}
	out := make([][]Result, len(qs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(qs)) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(qs); i = int(next.Add(1) - 1) {
				out[i] = results(h.search(pqs[i], p), p.K, h.metric)
			}
		})
	}
	wg.Wait()
	return out, nil
}

// search picks brute force or graph search per the filter policy.
func (h *HNSW) search(q []float32, p SearchParams) []item {
	k := p.K
	ef := p.Ef
	if ef == 0 {
		ef = DefaultEf(k)
	}
	ef = max(ef, k)
	live, dead := h.st.live.Load(), h.st.dead.Load()
	if live == 0 {
		return nil
	}
	allowed := live
	if p.Filter != nil {
		allowed = h.estimateAllowed(p.Filter, live)
	}
	n := live + dead
	if float64(allowed)*float64(allowed) < bruteForceFactor*float64(ef)*float64(n) {
		return scanOne(h.st, h.metric, q, k, p.Filter)
	}
	res := h.graphSearch(q, ef, p.Filter, dead > 0)
	if len(res) < k && allowed >= int64(k) {
		// The reachable part of the graph held fewer than k allowed nodes
		// (a filter estimate that was too high, or nodes cut off by
		// pruning): exhaustive search is the only correct answer.
		return scanOne(h.st, h.metric, q, k, p.Filter)
	}
	return res
}

// graphSearch is hnswlib's searchKnn: greedy descent through the upper
// layers, then searchLayer with ef on layer 0.
func (h *HNSW) graphSearch(q []float32, ef int, filter Filter, excludeDeleted bool) []item {
	e := h.entry.Load()
	if e == noEntry {
		return nil
	}
	t := h.st.chunks()
	cur := uint32(e)
	t = h.tab(t, cur)
	curDist := h.qdist(t, q, cur)
	for lc := int(e >> 32); lc > 0; lc-- {
		cur, curDist = h.greedy(t, q, cur, curDist, lc)
	}
	s := h.getScratch()
	defer h.scratch.Put(s)
	h.searchLayer(h.tab(h.st.chunks(), cur), q, cur, curDist, ef, 0, s, filter, excludeDeleted)
	return append([]item(nil), s.top...)
}
