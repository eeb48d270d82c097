package vectordb

import "fmt"

// In-memory columnar storage of one collection. Rows are addressed by a
// dense uint32 row id in insertion (= log) order; because the log order is
// the only input, replaying the same log always yields the same row ids,
// which lets a checkpointed index graph refer to rows by id.

const (
	chunkShift = 14 // vectors are stored in chunks of 16384 rows
	chunkRows  = 1 << chunkShift
)

// vecStore holds one vector field in fixed-size chunks, so growing never
// copies (a 1M × 128 field is 512 MB) and a row's slice stays valid forever.
type vecStore struct {
	dim    int
	n      int
	chunks [][]float32
}

func (v *vecStore) row(i uint32) []float32 {
	c := v.chunks[i>>chunkShift]
	off := int(i&(chunkRows-1)) * v.dim
	return c[off : off+v.dim : off+v.dim]
}

// appendFlat appends rows given back to back.
func (v *vecStore) appendFlat(flat []float32) {
	for len(flat) > 0 {
		in := v.n & (chunkRows - 1)
		if in == 0 {
			v.chunks = append(v.chunks, make([]float32, 0, chunkRows*v.dim))
		}
		c := &v.chunks[len(v.chunks)-1]
		room := (chunkRows - in) * v.dim
		take := min(room, len(flat))
		*c = append(*c, flat[:take]...)
		flat = flat[take:]
		v.n += take / v.dim
	}
}

// bitset is a growable set of row ids.
type bitset []uint64

func (b bitset) has(i uint32) bool {
	w := int(i >> 6)
	return w < len(b) && b[w]&(1<<(i&63)) != 0
}

func (b *bitset) set(i uint32) {
	w := int(i >> 6)
	for w >= len(*b) {
		*b = append(*b, 0)
	}
	(*b)[w] |= 1 << (i & 63)
}

func (b bitset) clone() bitset { return append(bitset(nil), b...) }

// fieldStore is one field's values: scalars in a Column (appended to), or
// vectors in a vecStore.
type fieldStore struct {
	f     Field
	col   Column // scalar values, Valid only for nullable fields
	vecs  *vecStore
	index *vindex // vector index, nil if none
}

// vector returns row r of a vector field (caller holds c.mu). A chunk the
// index holds every row of may have been released (see vindex.release);
// its rows are then copied out of the index.
func (fs *fieldStore) vector(r uint32) []float32 {
	if fs.vecs.chunks[r>>chunkShift] != nil {
		return fs.vecs.row(r)
	}
	v, err := fs.index.ann.Vector(r)
	if err != nil {
		// Unreachable: chunks are released only once the index holds
		// every row of them, and only while it exists.
		panic(fmt.Sprintf("vectordb: row %d of field %q is neither stored nor indexed: %v", r, fs.f.Name, err))
	}
	return v
}

func newFieldStore(f Field) *fieldStore {
	fs := &fieldStore{f: f, col: Column{Name: f.Name, Type: f.Type, IsDynamic: f.IsDynamic}}
	if f.Type == TypeFloatVector {
		fs.vecs = &vecStore{dim: f.Dim}
		fs.col.Dim = f.Dim
	}
	return fs
}

// appendColumn appends src (already validated and normalised) to dst.
func appendColumn(dst *Column, src *Column, nullable bool) {
	switch src.Type {
	case TypeBool:
		dst.Bools = append(dst.Bools, src.Bools...)
	case TypeInt8, TypeInt16, TypeInt32, TypeInt64:
		dst.Ints = append(dst.Ints, src.Ints...)
	case TypeFloat:
		dst.Floats = append(dst.Floats, src.Floats...)
	case TypeDouble:
		dst.Doubles = append(dst.Doubles, src.Doubles...)
	case TypeVarChar:
		dst.Strings = append(dst.Strings, src.Strings...)
	case TypeJSON:
		dst.JSON = append(dst.JSON, src.JSON...)
	case TypeArray:
		dst.Arrays = append(dst.Arrays, src.Arrays...)
	}
	if nullable {
		if src.Valid == nil {
			for range src.Len() {
				dst.Valid = append(dst.Valid, true)
			}
		} else {
			dst.Valid = append(dst.Valid, src.Valid...)
		}
	}
}
