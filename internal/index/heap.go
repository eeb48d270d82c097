package index

import "slices"

// Result is one search hit: the internal id and the score Milvus would
// return for the index's metric (see Metric).
type Result struct {
	ID    uint32
	Score float32
}

type item struct {
	dist float32
	id   uint32
}

// maxHeap keeps the best (smallest dist) items seen; its root is the worst
// kept, so the admission test is one comparison.
type maxHeap []item

func (h maxHeap) top() float32 { return h[0].dist }

func (h *maxHeap) push(it item) {
	s := append(*h, it)
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p].dist >= it.dist {
			break
		}
		s[i] = s[p]
		i = p
	}
	s[i] = it
	*h = s
}

// pop removes and returns the root.
func (h *maxHeap) pop() item {
	s := *h
	r := s[0]
	n := len(s) - 1
	s[0] = s[n]
	*h = s[:n]
	if n > 0 {
		h.siftDown()
	}
	return r
}

// offer keeps it if it is among the k best so far.
func (h *maxHeap) offer(it item, k int) {
	if len(*h) < k {
		h.push(it)
	} else if it.dist < (*h)[0].dist {
		(*h)[0] = it
		h.siftDown()
	}
}

// siftDown restores the order after the root was replaced.
func (h maxHeap) siftDown() {
	n := len(h)
	it := h[0]
	i := 0
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && h[c+1].dist > h[c].dist {
			c++
		}
		if it.dist >= h[c].dist {
			break
		}
		h[i] = h[c]
		i = c
	}
	h[i] = it
}

// minHeap is the candidate queue of the graph search (closest first). It
// is a maxHeap of negated distances, so one implementation serves both:
// negation reverses every comparison exactly (a NaN compares false either
// way), and pop negates back, so the items come out as they were pushed.
// Its elements hold the negated distances: read them only through pop.
type minHeap []item

func (h *minHeap) push(it item) {
	it.dist = -it.dist
	(*maxHeap)(h).push(it)
}

func (h *minHeap) pop() item {
	it := (*maxHeap)(h).pop()
	it.dist = -it.dist
	return it
}

// sortItems orders by distance, ties by id, so results are deterministic.
func sortItems(s []item) {
	slices.SortFunc(s, func(a, b item) int {
		switch {
		case a.dist < b.dist:
			return -1
		case a.dist > b.dist:
			return 1
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
}

// results converts the k best items into Milvus-ordered results.
func results(s []item, k int, m Metric) []Result {
	sortItems(s)
	if len(s) > k {
		s = s[:k]
	}
	out := make([]Result, len(s))
	for i, it := range s {
		d := it.dist
		if m == L2 && d < 0 { // rounding of the ‖q‖²+‖x‖²−2q·x form
			d = 0
		}
		out[i] = Result{ID: it.id, Score: m.score(d)}
	}
	return out
}
