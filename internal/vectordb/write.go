package vectordb

import (
	"context"
	"fmt"
)

// Insert appends rows and returns their primary keys (generated ones for
// an AutoID key). Keys are not deduplicated: a key inserted twice keeps only
// its newest row visible, like an upsert. Returns once the rows are durable.
func (db *DB) Insert(ctx context.Context, coll string, b *Batch) (Column, error) {
	return db.write(ctx, coll, b, false)
}

// Upsert inserts rows, replacing every existing row with the same key. The
// key column is required even for AutoID collections.
func (db *DB) Upsert(ctx context.Context, coll string, b *Batch) (Column, error) {
	return db.write(ctx, coll, b, true)
}

func (db *DB) write(ctx context.Context, coll string, b *Batch, upsert bool) (Column, error) {
	if err := db.writable(); err != nil {
		return Column{}, err
	}
	c, err := db.lookup(coll)
	if err != nil {
		return Column{}, err
	}
	// The schema never changes after creation, so no lock is needed to read it.
	if b != nil && b.SchemaVersion != 0 && b.SchemaVersion != c.info.SchemaVersion {
		return Column{}, fmt.Errorf("%w: collection %q: schema version %d, current is %d", ErrSchemaMismatch, coll, b.SchemaVersion, c.info.SchemaVersion)
	}
	cols, err := normalizeBatch(&c.info.Schema, b, upsert, db.genIDs)
	if err != nil {
		return Column{}, err
	}
	if _, err := db.submit(ctx, &record{op: opInsert, coll: c.info.ID, cols: cols, upsert: upsert}); err != nil {
		return Column{}, err
	}
	pk := cols[c.pk.f.ID-FirstFieldID]
	pk.Valid = nil
	return pk, nil
}

// Delete removes every row matching filter (non-empty) and returns how many
// rows it removed.
func (db *DB) Delete(ctx context.Context, coll, filter string, params map[string]any) (int64, error) {
	if err := db.writable(); err != nil {
		return 0, err
	}
	c, err := db.lookup(coll)
	if err != nil {
		return 0, err
	}
	if filter == "" {
		return 0, fmt.Errorf("%w: delete needs a filter expression", ErrInvalidArgument)
	}
	plan, err := c.compileFilter(filter, params)
	if err != nil {
		return 0, err
	}
	c.mu.RLock()
	pks := c.keysOf(c.selectRows(plan))
	c.mu.RUnlock()
	if pks.Len() == 0 {
		return 0, nil
	}
	return db.deleteKeys(ctx, c, pks)
}

// DeleteByPK removes every row whose key is in pks and returns how many.
func (db *DB) DeleteByPK(ctx context.Context, coll string, pks Column) (int64, error) {
	if err := db.writable(); err != nil {
		return 0, err
	}
	c, err := db.lookup(coll)
	if err != nil {
		return 0, err
	}
	if err := c.checkKeys(&pks); err != nil {
		return 0, err
	}
	if pks.Len() == 0 {
		return 0, nil
	}
	return db.deleteKeys(ctx, c, pks)
}

func (db *DB) deleteKeys(ctx context.Context, c *collection, pks Column) (int64, error) {
	pks.Valid = nil
	p, err := db.submit(ctx, &record{op: opDelete, coll: c.info.ID, pks: pks})
	if err != nil {
		return 0, err
	}
	return p.n, nil
}

// checkKeys validates a key column against the primary key field.
func (c *collection) checkKeys(pks *Column) error {
	f := &c.pk.f
	if pks.Type != f.Type {
		return fmt.Errorf("%w: primary key %q is %s, keys given are %s", ErrTypeMismatch, f.Name, f.Type, pks.Type)
	}
	if pks.Valid != nil {
		for i, v := range pks.Valid {
			if !v {
				return fmt.Errorf("%w: key %d is null", ErrInvalidArgument, i)
			}
		}
	}
	return nil
}

// keysOf returns the keys of the given rows (caller holds mu).
func (c *collection) keysOf(rows []uint32) Column {
	out := Column{Name: c.pk.f.Name, Type: c.pk.f.Type}
	for _, r := range rows {
		if c.pkInt != nil {
			out.Ints = append(out.Ints, c.pk.col.Ints[r])
		} else {
			out.Strings = append(out.Strings, c.pk.col.Strings[r])
		}
	}
	return out
}
