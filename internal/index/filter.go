package index

import "math/bits"

// Filter restricts a search to the ids it allows. It is called from the
// searching goroutine(s) and must be safe for concurrent use.
type Filter interface {
	Allows(id uint32) bool
}

// FilterFunc adapts a function to Filter.
type FilterFunc func(id uint32) bool

// Allows reports whether f allows id.
func (f FilterFunc) Allows(id uint32) bool { return f(id) }

// Bitset is a Filter over the ids whose bit is set. Prefer it to FilterFunc
// when the store can build one: its population count is exact, which is what
// the HNSW index uses to pick between graph search and brute force, and a
// selective Bitset is scanned by its set bits only.
type Bitset []uint64

// NewBitset returns an empty set able to hold ids below n.
func NewBitset(n int) Bitset { return make(Bitset, (n+63)/64) }

// Set adds id; ids beyond the set's size are ignored.
func (b Bitset) Set(id uint32) {
	if w := int(id >> 6); w < len(b) {
		b[w] |= 1 << (id & 63)
	}
}

// Allows reports whether id is in the set.
func (b Bitset) Allows(id uint32) bool {
	w := int(id >> 6)
	return w < len(b) && b[w]&(1<<(id&63)) != 0
}

// Count returns the number of ids in the set.
func (b Bitset) Count() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}
