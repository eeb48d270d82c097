package vectordb

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
)

// CountField is the output field name of Milvus' count(*).
const CountField = "count(*)"

// outputSpec is a resolved list of output fields.
type outputSpec struct {
	fields  []*fieldStore // non-dynamic fields, in request order
	dynAll  bool          // the whole dynamic object
	dynKeys []string      // only these dynamic keys
}

func (c *collection) resolveOutput(names []string, withPK bool) (outputSpec, error) {
	var sp outputSpec
	has := map[*fieldStore]bool{}
	add := func(fs *fieldStore) {
		if fs.f.IsDynamic {
			sp.dynAll = true
			return
		}
		if !has[fs] {
			has[fs] = true
			sp.fields = append(sp.fields, fs)
		}
	}
	if withPK {
		add(c.pk)
	}
	dyn := c.dynamic()
	for _, n := range names {
		switch {
		case n == "*":
			for _, fs := range c.fields {
				add(fs)
			}
		case c.field(n) != nil:
			add(c.field(n))
		case n == CountField:
			return sp, fmt.Errorf("%w: %s cannot be combined with other output fields", ErrInvalidArgument, CountField)
		case dyn != nil && validName(n):
			if !slices.Contains(sp.dynKeys, n) {
				sp.dynKeys = append(sp.dynKeys, n)
			}
		default:
			return sp, fmt.Errorf("%w: output field %q is not in collection %q", ErrFieldNotFound, n, c.info.Schema.Name)
		}
	}
	if sp.dynAll {
		sp.dynKeys = nil
	}
	return sp, nil
}

// gather copies the given rows' output fields into a Batch (caller holds mu).
func (c *collection) gather(rows []uint32, sp outputSpec) (Batch, error) {
	var b Batch
	for _, fs := range sp.fields {
		b.Columns = append(b.Columns, gatherColumn(fs, rows))
	}
	if dyn := c.dynamic(); dyn != nil && (sp.dynAll || len(sp.dynKeys) > 0) {
		col := Column{Name: DynamicField, Type: TypeJSON, IsDynamic: true, JSON: make([][]byte, len(rows))}
		for i, r := range rows {
			raw := dyn.col.JSON[r]
			if sp.dynAll {
				col.JSON[i] = raw
				continue
			}
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(raw, &obj); err != nil {
				return b, fmt.Errorf("%w: stored dynamic data of row %d: %w", errCorrupt, r, err)
			}
			sel := make(map[string]json.RawMessage, len(sp.dynKeys))
			for _, k := range sp.dynKeys {
				if v, ok := obj[k]; ok {
					sel[k] = v
				}
			}
			out, err := json.Marshal(sel)
			if err != nil {
				return b, err
			}
			col.JSON[i] = out
		}
		b.Columns = append(b.Columns, col)
	}
	return b, nil
}

func gatherColumn(fs *fieldStore, rows []uint32) Column {
	src := &fs.col
	out := Column{Name: fs.f.Name, Type: fs.f.Type, Dim: fs.f.Dim}
	n := len(rows)
	if src.Valid != nil {
		out.Valid = make([]bool, n)
		for i, r := range rows {
			out.Valid[i] = src.Valid[r]
		}
	}
	switch fs.f.Type {
	case TypeBool:
		out.Bools = make([]bool, n)
		for i, r := range rows {
			out.Bools[i] = src.Bools[r]
		}
	case TypeInt8, TypeInt16, TypeInt32, TypeInt64:
		out.Ints = make([]int64, n)
		for i, r := range rows {
			out.Ints[i] = src.Ints[r]
		}
	case TypeFloat:
		out.Floats = make([]float32, n)
		for i, r := range rows {
			out.Floats[i] = src.Floats[r]
		}
	case TypeDouble:
		out.Doubles = make([]float64, n)
		for i, r := range rows {
			out.Doubles[i] = src.Doubles[r]
		}
	case TypeVarChar:
		out.Strings = make([]string, n)
		for i, r := range rows {
			out.Strings[i] = src.Strings[r]
		}
	case TypeJSON:
		out.JSON = make([][]byte, n)
		for i, r := range rows {
			out.JSON[i] = src.JSON[r]
		}
	case TypeArray:
		out.Arrays = make([]Column, n)
		for i, r := range rows {
			out.Arrays[i] = src.Arrays[r]
		}
	case TypeFloatVector:
		out.Vectors = make([]float32, 0, n*fs.f.Dim)
		for _, r := range rows {
			out.Vectors = append(out.Vectors, fs.vector(r)...)
		}
	}
	return out
}

// leased is a log backend whose writes rest on a storage lease
// (walBackend; the in-memory log of tests has none).
type leased interface {
	// awaitServe is nil while the lease is proven held; cheap enough for
	// every read (guard.Guard.AwaitServe: an atomic load and a clock read).
	// A window that only lapsed (a late heartbeat) waits for the guard's
	// next tick to revalidate the lease, up to a lease timeout or ctx.
	awaitServe(ctx context.Context) error
}

// mayRead refuses reads that could be stale: on a node that has been
// primary (primary, fenced or failed) they need the lease proven now. A
// primary paused past its lease (SIGSTOP, VM freeze) may have been
// replaced by a peer that wrote since; its own data may be old. A standby
// is stale by nature and not asked (the keeper serves no API there).
func (db *DB) mayRead(ctx context.Context) error {
	if Role(db.role.Load()) == RoleStandby {
		return nil
	}
	l, ok := db.wal.(leased)
	if !ok {
		return nil
	}
	if err := l.awaitServe(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrLeaseUnproven, err)
	}
	return nil
}

// readable returns the loaded collection, if the DB may answer reads.
func (db *DB) readable(ctx context.Context, coll string) (*collection, error) {
	if db.closed.Load() {
		return nil, ErrClosed
	}
	if err := db.mayRead(ctx); err != nil {
		return nil, err
	}
	c, err := db.lookup(coll)
	if err != nil {
		return nil, err
	}
	c.mu.RLock()
	st := c.info.Load
	c.mu.RUnlock()
	if st != LoadStateLoaded {
		return nil, fmt.Errorf("%w: %q", ErrNotLoaded, coll)
	}
	return c, nil
}

// Get returns the live rows with the given keys, in the order of pks
// (missing keys are skipped), with the primary key and outputFields.
func (db *DB) Get(ctx context.Context, coll string, pks Column, outputFields []string) (*Batch, error) {
	c, err := db.readable(ctx, coll)
	if err != nil {
		return nil, err
	}
	if err := c.checkKeys(&pks); err != nil {
		return nil, err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	sp, err := c.resolveOutput(outputFields, true)
	if err != nil {
		return nil, err
	}
	var rows []uint32
	for i := range pks.Len() {
		if r, ok := c.lookupPK(&pks, i); ok {
			rows = append(rows, r)
		}
	}
	b, err := c.gather(rows, sp)
	return &b, err
}

// Query returns the rows matching the request, in primary-key order, with
// the primary key and the output fields. OutputFields ["count(*)"] returns
// one Int64 column "count(*)" holding the number of matching rows. As in
// Milvus, an empty filter needs a Limit (count(*) excepted).
func (db *DB) Query(ctx context.Context, coll string, q QueryRequest) (*Batch, error) {
	if len(q.OutputFields) == 1 && q.OutputFields[0] == CountField {
		n, err := db.Count(ctx, coll, q.Filter, q.FilterParams)
		if err != nil {
			return nil, err
		}
		return &Batch{Columns: []Column{{Name: CountField, Type: TypeInt64, Ints: []int64{n}}}}, nil
	}
	c, err := db.readable(ctx, coll)
	if err != nil {
		return nil, err
	}
	if q.Limit < 0 || q.Offset < 0 {
		return nil, fmt.Errorf("%w: limit %d / offset %d must not be negative", ErrInvalidArgument, q.Limit, q.Offset)
	}
	if q.Filter == "" && q.Limit == 0 {
		return nil, fmt.Errorf("%w: a query without filter needs a limit", ErrInvalidArgument)
	}
	plan, err := c.compileFilter(q.Filter, q.FilterParams)
	if err != nil {
		return nil, err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	sp, err := c.resolveOutput(q.OutputFields, true)
	if err != nil {
		return nil, err
	}
	rows := c.selectRows(plan)
	if q.Limit > 0 {
		rows = c.firstByPK(rows, q.Offset+q.Limit)
	} else {
		c.sortByPK(rows)
	}
	rows = window(rows, q.Offset, q.Limit)
	b, err := c.gather(rows, sp)
	return &b, err
}

// window applies offset and limit (0 = unlimited).
func window[T any](s []T, offset, limit int) []T {
	if offset >= len(s) {
		return s[:0]
	}
	s = s[offset:]
	if limit > 0 && limit < len(s) {
		s = s[:limit]
	}
	return s
}

func (c *collection) sortByPK(rows []uint32) {
	if c.pkInt != nil {
		k := c.pk.col.Ints
		slices.SortFunc(rows, func(a, b uint32) int { return cmp.Compare(k[a], k[b]) })
		return
	}
	k := c.pk.col.Strings
	slices.SortFunc(rows, func(a, b uint32) int { return cmp.Compare(k[a], k[b]) })
}

// firstByPK returns the n rows with the smallest keys, in key order,
// without sorting everything when n is small next to len(rows).
func (c *collection) firstByPK(rows []uint32, n int) []uint32 {
	if n >= len(rows)/8 {
		c.sortByPK(rows)
		return rows[:min(n, len(rows))]
	}
	less := func(a, b uint32) bool { return c.pk.col.Strings[a] < c.pk.col.Strings[b] }
	if c.pkInt != nil {
		less = func(a, b uint32) bool { return c.pk.col.Ints[a] < c.pk.col.Ints[b] }
	}
	// top holds the n smallest so far, sorted; the scan mostly rejects.
	top := make([]uint32, 0, n+1)
	for _, r := range rows {
		if len(top) == n && !less(r, top[n-1]) {
			continue
		}
		i, _ := slices.BinarySearchFunc(top, r, func(a, b uint32) int {
			if less(a, b) {
				return -1
			}
			return 1
		})
		top = slices.Insert(top, i, r)
		if len(top) > n {
			top = top[:n]
		}
	}
	return top
}

// Count returns the number of rows matching filter (empty: all), i.e.
// Milvus' count(*).
func (db *DB) Count(ctx context.Context, coll, filter string, params map[string]any) (int64, error) {
	c, err := db.readable(ctx, coll)
	if err != nil {
		return 0, err
	}
	plan, err := c.compileFilter(filter, params)
	if err != nil {
		return 0, err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if plan.MatchesAll() {
		return int64(c.live), nil
	}
	return int64(len(c.selectRows(plan))), nil
}
