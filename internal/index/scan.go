package index

import (
	"math/bits"
	"runtime"
	"sync"
)

// Exhaustive scans, used by FLAT and by HNSW's brute-force path for
// selective filters. Distances are "smaller is better" for every metric.

// parallelMinFloats is the collection size (in float32s, 4 MiB) above which a
// scan is split across cores: below it the goroutine hand-off costs more
// than the memory bandwidth a second core adds.
const parallelMinFloats = 1 << 20

// tileBytes sizes the block of base vectors a batched scan keeps hot in L2
// while every query of the batch is compared against it.
const tileBytes = 256 << 10

func scanWorkers(st *store, limit uint32) int {
	w := runtime.GOMAXPROCS(0)
	if w < 2 || int64(limit)*int64(st.dim) < parallelMinFloats {
		return 1
	}
	if nc := int((limit + chunkMask) >> chunkShift); w > nc {
		w = nc
	}
	return w
}

// splitChunks runs f over [0,nchunks) split into n contiguous ranges and
// returns their results in order.
func splitChunks[T any](nchunks, n int, f func(lo, hi int) T) []T {
	out := make([]T, n)
	if n == 1 {
		out[0] = f(0, nchunks)
		return out
	}
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		lo, hi := nchunks*i/n, nchunks*(i+1)/n
		wg.Go(func() { out[i] = f(lo, hi) })
	}
	wg.Wait()
	return out
}

func distFunc(m Metric) func(a, b []float32) float32 {
	if m == L2 {
		return l2sq
	}
	return func(a, b []float32) float32 { return -dot(a, b) }
}

// scanOne returns the k nearest live ids to q that filter allows (nil: all).
func scanOne(st *store, m Metric, q []float32, k int, filter Filter) []item {
	if bs, ok := filter.(Bitset); ok {
		return scanBitset(st, m, q, k, bs)
	}
	t := st.chunks()
	limit := st.limit.Load()
	nchunks := int((limit + chunkMask) >> chunkShift)
	if nchunks > len(t) {
		nchunks = len(t)
	}
	dist := distFunc(m)
	d := st.dim
	cos := st.cosine
	parts := splitChunks(nchunks, scanWorkers(st, limit), func(lo, hi int) maxHeap {
		h := make(maxHeap, 0, k+1)
		for ci := lo; ci < hi; ci++ {
			c := t[ci]
			if c == nil {
				continue
			}
			base := uint32(ci) << chunkShift
			for w := 0; w < chunkWords; w++ {
				mask := liveMask(c, w)
				for mask != 0 {
					b := bits.TrailingZeros64(mask)
					mask &= mask - 1
					j := w*64 + b
					id := base + uint32(j)
					if filter != nil && !filter.Allows(id) {
						continue
					}
					dd := dist(q, c.vecs[j*d:(j+1)*d:(j+1)*d])
					if cos {
						dd *= c.norms[j]
					}
					h.offer(item{dd, id}, k)
				}
			}
		}
		return h
	})
	return mergeHeaps(parts, k)
}

// scanBitset visits only the ids set in bs, so a selective filter costs in
// proportion to what it allows (plus one word test per 64 ids).
func scanBitset(st *store, m Metric, q []float32, k int, bs Bitset) []item {
	t := st.chunks()
	limit := st.limit.Load()
	dist := distFunc(m)
	d := st.dim
	h := make(maxHeap, 0, k+1)
	words := int((limit + 63) / 64)
	if words > len(bs) {
		words = len(bs)
	}
	for w := 0; w < words; w++ {
		f := bs[w]
		if f == 0 {
			continue
		}
		ci := w >> (chunkShift - 6)
		if ci >= len(t) {
			break
		}
		c := t[ci]
		if c == nil {
			continue
		}
		cw := w & (chunkWords - 1)
		mask := f & liveMask(c, cw)
		for mask != 0 {
			b := bits.TrailingZeros64(mask)
			mask &= mask - 1
			j := cw*64 + b
			dd := dist(q, c.vecs[j*d:(j+1)*d:(j+1)*d])
			if st.cosine {
				dd *= c.norms[j]
			}
			h.offer(item{dd, uint32(w*64 + b)}, k)
		}
	}
	return h
}

func mergeHeaps(parts []maxHeap, k int) []item {
	if len(parts) == 1 {
		return parts[0]
	}
	h := parts[0]
	for _, p := range parts[1:] {
		for _, it := range p {
			h.offer(it, k)
		}
	}
	return h
}

// scanBatch answers several queries in one pass over the data: each tile of
// base vectors is loaded from memory once and compared, while it sits in
// cache, against all queries (four at a time by the distBatch4 kernel). The
// L2 distance uses ‖x‖² − 2q·x (+‖q‖² added at the end) with the stored
// norms so that the kernel is a pure dot product.
func scanBatch(st *store, m Metric, qs [][]float32, k int, filter Filter) [][]item {
	d := st.dim
	nq := len(qs)
	groups := (nq + 3) / 4
	qbuf := make([]float32, groups*4*d) // padded with zero queries
	qnorm := make([]float32, nq)
	for i, q := range qs {
		copy(qbuf[i*d:], q)
		qnorm[i] = dot(q, q)
	}
	t := st.chunks()
	limit := st.limit.Load()
	nchunks := int((limit + chunkMask) >> chunkShift)
	if nchunks > len(t) {
		nchunks = len(t)
	}
	tile := tileBytes / (4 * d)
	tile = max(16, min(tile, chunkSize)) &^ 1
	isL2, cos := m == L2, st.cosine
	bw, scale := float32(0), float32(-1)
	if isL2 {
		bw, scale = 1, -2
	}
	parts := splitChunks(nchunks, scanWorkers(st, limit), func(lo, hi int) []maxHeap {
		heaps := make([]maxHeap, nq)
		for i := range heaps {
			heaps[i] = make(maxHeap, 0, k+1)
		}
		out := make([]float32, 4*tile)
		ok := make([]bool, tile)
		pres := make([]bool, tile)
		for ci := lo; ci < hi; ci++ {
			c := t[ci]
			if c == nil {
				continue
			}
			base := uint32(ci) << chunkShift
			for ts := 0; ts < chunkSize; ts += tile {
				if base+uint32(ts) >= limit {
					break
				}
				tn := min(tile, chunkSize-ts, int(limit-base)-ts)
				all, any := tileMask(c, base, ts, tn, filter, pres, ok)
				if !any {
					continue
				}
				for g := 0; g < groups; g++ {
					q4 := qbuf[g*4*d : (g+1)*4*d]
					if all {
						distBatch4(q4, d, c.vecs[ts*d:(ts+tn)*d], tn, c.norms[ts:ts+tn], bw, scale, out, tile)
					} else {
						// Only published slots are read: an Add may be
						// writing the others right now. out[j] of an
						// unread slot is stale, and ok[j] is false there.
						for s, e := nextRun(pres[:tn], 0); s < tn; s, e = nextRun(pres[:tn], e) {
							distBatch4(q4, d, c.vecs[(ts+s)*d:(ts+e)*d], e-s, c.norms[ts+s:ts+e], bw, scale, out[s:], tile)
						}
					}
					for qi := 0; qi < 4 && g*4+qi < nq; qi++ {
						h := &heaps[g*4+qi]
						row := out[qi*tile : qi*tile+tn]
						nrm := c.norms[ts : ts+tn]
						for j, dd := range row {
							if !all && !ok[j] {
								continue
							}
							if cos {
								dd *= nrm[j]
							}
							if len(*h) == k && dd >= (*h)[0].dist {
								continue
							}
							h.offer(item{dd, base + uint32(ts+j)}, k)
						}
					}
				}
			}
		}
		return heaps
	})
	res := make([][]item, nq)
	for i := range res {
		hs := make([]maxHeap, len(parts))
		for p := range parts {
			hs[p] = parts[p][i]
		}
		res[i] = mergeHeaps(hs, k)
		if isL2 {
			for j := range res[i] {
				res[i][j].dist += qnorm[i]
			}
		}
	}
	return res
}

// tileMask fills, for the tn ids from base+ts, pres[j] (published: its
// vector is fully written, so it may be read) and ok[j] (published, live
// and allowed), from one load of the present bit each, so ok implies pres.
// It reports whether all of them are ok (so the caller can skip both) and
// whether any is.
func tileMask(c *chunk, base uint32, ts, tn int, filter Filter, pres, ok []bool) (all, any bool) {
	all, any = true, false
	for j := 0; j < tn; j++ {
		p := ts + j
		bit := uint64(1) << (p & 63)
		pr := c.present[p>>6].Load()&bit != 0
		live := pr && c.deleted[p>>6].Load()&bit == 0
		if live && filter != nil {
			live = filter.Allows(base + uint32(p))
		}
		pres[j], ok[j] = pr, live
		all = all && live
		any = any || live
	}
	return all, any
}

// nextRun returns the next run [s, e) of published slots at or after from
// (s = len(pres) if there is none).
func nextRun(pres []bool, from int) (s, e int) {
	s = from
	for s < len(pres) && !pres[s] {
		s++
	}
	e = s
	for e < len(pres) && pres[e] {
		e++
	}
	return s, e
}
