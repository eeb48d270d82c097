package index

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// heapInput returns n items with many equal distances (ties), signed
// zeros and infinities, as the scans and the graph search produce them.
func heapInput(rng *rand.Rand, n int) []item {
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1))}
	s := make([]item, n)
	for i := range s {
		d := float32(rng.IntN(20)) - 5
		if rng.IntN(8) == 0 {
			d = special[rng.IntN(len(special))]
		}
		s[i] = item{dist: d, id: uint32(i)}
	}
	return s
}

// TestHeapOrder checks that each heap pops in its order and returns the
// very items pushed (a distance keeps its sign, even a zero's).
func TestHeapOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 70 {
		in := heapInput(rng, n)
		var lo minHeap
		var hi maxHeap
		for _, it := range in {
			lo.push(it)
			hi.push(it)
		}
		var gotLo, gotHi []item
		for len(lo) > 0 {
			gotLo = append(gotLo, lo.pop())
		}
		for len(hi) > 0 {
			top := hi.top()
			it := hi.pop()
			if math.Float32bits(it.dist) != math.Float32bits(top) {
				t.Fatalf("n=%d: top was %v, pop returned %v", n, top, it.dist)
			}
			gotHi = append(gotHi, it)
		}
		if !slices.IsSortedFunc(gotLo, func(a, b item) int { return cmpF(a.dist, b.dist) }) {
			t.Fatalf("n=%d: minHeap popped %v", n, gotLo)
		}
		if !slices.IsSortedFunc(gotHi, func(a, b item) int { return cmpF(b.dist, a.dist) }) {
			t.Fatalf("n=%d: maxHeap popped %v", n, gotHi)
		}
		for _, got := range [][]item{gotLo, gotHi} {
			if !sameItems(got, in) {
				t.Fatalf("n=%d: popped %v, pushed %v", n, got, in)
			}
		}
	}
}

// TestHeapOfferKeepsKBest checks the bounded top-k used by every scan:
// offer keeps the k smallest distances.
func TestHeapOfferKeepsKBest(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, k := range []int{1, 2, 5, 10, 64} {
		in := heapInput(rng, 300)
		h := make(maxHeap, 0, k+1)
		for _, it := range in {
			h.offer(it, k)
		}
		want := slices.Clone(in)
		slices.SortStableFunc(want, func(a, b item) int { return cmpF(a.dist, b.dist) })
		got := slices.Clone([]item(h))
		slices.SortStableFunc(got, func(a, b item) int { return cmpF(a.dist, b.dist) })
		if len(got) != k {
			t.Fatalf("k=%d: kept %d items", k, len(got))
		}
		for i := range got {
			if got[i].dist != want[i].dist {
				t.Fatalf("k=%d: kept distances %v, want the %d smallest of %v", k, got, k, want)
			}
		}
	}
}

// sameItems reports whether a and b hold the same items, bit for bit,
// in any order.
func sameItems(a, b []item) bool {
	key := func(it item) uint64 { return uint64(math.Float32bits(it.dist))<<32 | uint64(it.id) }
	ka, kb := make([]uint64, len(a)), make([]uint64, len(b))
	for i := range a {
		ka[i] = key(a[i])
	}
	for i := range b {
		kb[i] = key(b[i])
	}
	slices.Sort(ka)
	slices.Sort(kb)
	return slices.Equal(ka, kb)
}
