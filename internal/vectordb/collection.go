package vectordb

import (
	"fmt"
	"slices"
	"sync"
)

// collection is one collection's in-memory state. Mutations happen only
// through apply* (called in log order by the committer or the standby's
// tailer) under mu; readers hold mu.RLock.
type collection struct {
	mu   sync.RWMutex
	info CollectionInfo

	fields  []*fieldStore // schema order; fields[i].f.ID == FirstFieldID+i
	pk      *fieldStore
	rows    int    // rows ever appended (row ids 0..rows-1)
	deleted bitset // tombstoned rows (deleted, replaced or superseded)
	live    int

	pkInt map[int64]uint32 // newest live row of each key
	pkStr map[string]uint32

	lastLSN     uint64   // last log record that changed the collection
	ckptLSN     uint64   // checkpoint holding the collection's files
	ckptFiles   []string // those files
	ckptIndexed int      // indexed rows when they were written
}

// indexedSum is the number of indexed rows over all vector indexes.
func (c *collection) indexedSum() int {
	n := 0
	for _, fs := range c.fields {
		if fs.index != nil {
			n += fs.index.indexedRows()
		}
	}
	return n
}

// indexGrew reports whether the indexes advanced noticeably since the last
// checkpoint, so rewriting the graph saves rebuild work at recovery.
func (c *collection) indexGrew() bool {
	return c.indexedSum() >= c.ckptIndexed+chunkRows
}

func newCollection(info CollectionInfo) *collection {
	c := &collection{info: info}
	for _, f := range info.Schema.Fields {
		fs := newFieldStore(f)
		c.fields = append(c.fields, fs)
		if f.IsPrimary {
			c.pk = fs
		}
	}
	if c.pk.f.Type == TypeInt64 {
		c.pkInt = make(map[int64]uint32)
	} else {
		c.pkStr = make(map[string]uint32)
	}
	return c
}

func (c *collection) field(name string) *fieldStore {
	for _, fs := range c.fields {
		if fs.f.Name == name {
			return fs
		}
	}
	return nil
}

func (c *collection) fieldByID(id int64) *fieldStore {
	i := int(id - FirstFieldID)
	if i < 0 || i >= len(c.fields) {
		return nil
	}
	return c.fields[i]
}

func (c *collection) dynamic() *fieldStore {
	if n := len(c.fields); n > 0 && c.fields[n-1].f.IsDynamic {
		return c.fields[n-1]
	}
	return nil
}

// vectorFields returns the vector fields in schema order.
func (c *collection) vectorFields() []*fieldStore {
	var out []*fieldStore
	for _, fs := range c.fields {
		if fs.f.Type == TypeFloatVector {
			out = append(out, fs)
		}
	}
	return out
}

// tombstone marks row r deleted; reports whether it was live.
func (c *collection) tombstone(r uint32) bool {
	if c.deleted.has(r) {
		return false
	}
	c.deleted.set(r)
	c.live--
	for _, fs := range c.fields {
		if fs.index != nil {
			fs.index.tombstoned(r)
		}
	}
	return true
}

// lookupPK returns the live row holding key i (of column pks).
func (c *collection) lookupPK(pks *Column, i int) (uint32, bool) {
	if c.pkInt != nil {
		r, ok := c.pkInt[pks.Ints[i]]
		return r, ok
	}
	r, ok := c.pkStr[pks.Strings[i]]
	return r, ok
}

// applyInsert appends a normalised batch (one column per schema field, in
// schema order). Every key's previous row is tombstoned, which gives both
// Upsert's replacement and Insert's "newest row wins" visibility.
func (c *collection) applyInsert(cols []Column) error {
	if len(cols) != len(c.fields) {
		return fmt.Errorf("%w: insert record has %d columns, schema has %d fields", ErrInvalidArgument, len(cols), len(c.fields))
	}
	n := cols[c.pk.f.ID-FirstFieldID].Len()
	base := uint32(c.rows)
	for i, fs := range c.fields {
		if fs.vecs != nil {
			fs.vecs.appendFlat(cols[i].Vectors)
		} else {
			appendColumn(&fs.col, &cols[i], fs.f.Nullable)
		}
	}
	c.rows += n
	c.live += n
	pks := &cols[c.pk.f.ID-FirstFieldID]
	for i := range n {
		r := base + uint32(i)
		if old, ok := c.lookupPK(pks, i); ok {
			c.tombstone(old)
		}
		if c.pkInt != nil {
			c.pkInt[pks.Ints[i]] = r
		} else {
			c.pkStr[pks.Strings[i]] = r
		}
	}
	for _, fs := range c.fields {
		if fs.index != nil {
			fs.index.grow()
		}
	}
	return nil
}

// applyDelete tombstones the rows of the given keys; returns how many.
func (c *collection) applyDelete(pks *Column) int64 {
	var n int64
	for i := range pks.Len() {
		r, ok := c.lookupPK(pks, i)
		if !ok {
			continue
		}
		if c.tombstone(r) {
			n++
		}
		if c.pkInt != nil {
			delete(c.pkInt, pks.Ints[i])
		} else {
			delete(c.pkStr, pks.Strings[i])
		}
	}
	return n
}

func sortRows(rows []uint32) { slices.Sort(rows) }
