package vectordb

import "fmt"

// vindex is a vector index on one field.
type vindex struct {
	params IndexParams
}

func (v *vindex) indexedRows() int { return 0 }

// grow tells the index that rows were appended (caller holds c.mu).
func (v *vindex) grow(c *collection, fs *fieldStore) {}

// search returns the k best live, allowed rows (caller holds c.mu.RLock).
func (v *vindex) search(c *collection, fs *fieldStore, q []float32, k, ef int, allow *bitset) []hit {
	return exactSearch(c, fs, v.params.Metric, q, k, allow, 0, uint32(c.rows))
}

func (c *collection) applyCreateIndex(field string, p IndexParams) error {
	fs := c.field(field)
	if fs == nil {
		return fmt.Errorf("%w: %q", ErrFieldNotFound, field)
	}
	if fs.index != nil {
		return fmt.Errorf("%w: field %q", ErrIndexConflict, field)
	}
	fs.index = &vindex{params: p}
	return nil
}

func (c *collection) applyDropIndex(field string) error {
	fs := c.field(field)
	if fs == nil || fs.index == nil {
		return fmt.Errorf("%w: field %q", ErrIndexNotFound, field)
	}
	fs.index = nil
	return nil
}

// close releases index resources of a dropped collection.
func (c *collection) close() {}
