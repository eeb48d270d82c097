package vectordb

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// CreateCollection creates a collection. Field IDs are assigned; when
// EnableDynamic is set the "$meta" field is appended. Creating an existing
// collection with an identical schema succeeds (Milvus behaviour).
func (db *DB) CreateCollection(ctx context.Context, s Schema) error {
	ns, err := normalizeSchema(s)
	if err != nil {
		return err
	}
	db.ddl.Lock()
	defer db.ddl.Unlock()
	if c, err := db.lookup(ns.Name); err == nil {
		c.mu.RLock()
		same := sameSchema(c.info.Schema, ns)
		c.mu.RUnlock()
		if same {
			return nil
		}
		return fmt.Errorf("%w: %q with a different schema", ErrCollectionExists, ns.Name)
	}
	db.mu.RLock()
	id := db.nextID
	db.mu.RUnlock()
	ts := db.nextTS()
	info := CollectionInfo{
		ID: id, Schema: ns, SchemaVersion: ts,
		CreatedAt: time.UnixMilli(int64(ts >> 18)), Load: LoadStateNotLoad,
	}
	_, err = db.submit(ctx, &record{op: opCreateCollection, coll: id, info: info})
	return err
}

// DropCollection drops a collection with its data and indexes. Dropping a
// missing collection succeeds, as in Milvus.
func (db *DB) DropCollection(ctx context.Context, name string) error {
	db.ddl.Lock()
	defer db.ddl.Unlock()
	c, err := db.lookup(name)
	if err != nil {
		return nil
	}
	_, err = db.submit(ctx, &record{op: opDropCollection, coll: c.info.ID})
	return err
}

// HasCollection reports whether the collection exists.
func (db *DB) HasCollection(name string) bool {
	_, err := db.lookup(name)
	return err == nil
}

// DescribeCollection returns the collection's schema and identity.
func (db *DB) DescribeCollection(name string) (CollectionInfo, error) {
	c, err := db.lookup(name)
	if err != nil {
		return CollectionInfo{}, err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	info := c.info
	info.Schema.Fields = slices.Clone(info.Schema.Fields)
	return info, nil
}

// ListCollections returns the collection names, sorted.
func (db *DB) ListCollections() []string {
	db.mu.RLock()
	defer db.mu.RUnlock()
	names := make([]string, 0, len(db.colls))
	for n := range db.colls {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// resolveIndexParams fills defaults and validates p for field f.
func resolveIndexParams(f *Field, p IndexParams) (IndexParams, error) {
	if f.Type != TypeFloatVector {
		return p, fmt.Errorf("%w: field %q is %s; only FloatVector fields can be indexed", ErrInvalidArgument, f.Name, f.Type)
	}
	if p.Name == "" {
		p.Name = f.Name
	}
	p.Type = IndexType(strings.ToUpper(string(p.Type)))
	if p.Type == "" {
		p.Type = IndexAuto
	}
	p.Metric = Metric(strings.ToUpper(string(p.Metric)))
	if p.Metric == "" {
		p.Metric = DefaultMetric
	}
	switch p.Metric {
	case MetricL2, MetricIP, MetricCosine:
	default:
		return p, fmt.Errorf("%w: metric %q (want L2, IP or COSINE)", ErrInvalidArgument, p.Metric)
	}
	switch p.Type {
	case IndexFLAT:
		p.M, p.EfConstruction = 0, 0
	case IndexHNSW, IndexAuto:
		if p.M == 0 {
			p.M = DefaultM
		}
		if p.EfConstruction == 0 {
			p.EfConstruction = DefaultEfConstruction
		}
		if p.M < 2 || p.M > 100 {
			return p, fmt.Errorf("%w: HNSW M %d out of range 2..100", ErrInvalidArgument, p.M)
		}
		if p.EfConstruction < 1 || p.EfConstruction > 1<<16 {
			return p, fmt.Errorf("%w: HNSW efConstruction %d out of range 1..65536", ErrInvalidArgument, p.EfConstruction)
		}
	default:
		return p, fmt.Errorf("%w: index type %q (want FLAT, HNSW or AUTOINDEX)", ErrInvalidArgument, p.Type)
	}
	return p, nil
}

// CreateIndex creates a vector index on field. Creating the same index again
// succeeds; other params on an indexed field give ErrIndexConflict.
func (db *DB) CreateIndex(ctx context.Context, coll, field string, p IndexParams) error {
	db.ddl.Lock()
	defer db.ddl.Unlock()
	c, err := db.lookup(coll)
	if err != nil {
		return err
	}
	c.mu.RLock()
	fs := c.field(field)
	var existing *IndexParams
	if fs != nil && fs.index != nil {
		existing = &fs.index.params
	}
	c.mu.RUnlock()
	if fs == nil {
		return fmt.Errorf("%w: collection %q has no field %q", ErrFieldNotFound, coll, field)
	}
	rp, err := resolveIndexParams(&fs.f, p)
	if err != nil {
		return err
	}
	if existing != nil {
		if *existing == rp {
			return nil
		}
		return fmt.Errorf("%w: field %q has index %q (%s, %s)", ErrIndexConflict, field, existing.Name, existing.Type, existing.Metric)
	}
	_, err = db.submit(ctx, &record{op: opCreateIndex, coll: c.info.ID, field: field, index: rp})
	return err
}

// DescribeIndex returns the collection's indexes, or only the one named
// indexName (matching index or field name). No match: ErrIndexNotFound.
func (db *DB) DescribeIndex(coll, indexName string) ([]IndexInfo, error) {
	c, err := db.lookup(coll)
	if err != nil {
		return nil, err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []IndexInfo
	for _, fs := range c.fields {
		ix := fs.index
		if ix == nil || indexName != "" && indexName != ix.params.Name && indexName != fs.f.Name {
			continue
		}
		out = append(out, IndexInfo{
			Name: ix.params.Name, Field: fs.f.Name, Params: ix.params,
			IndexedRows: int64(ix.indexedRows()), TotalRows: int64(c.rows),
		})
	}
	if len(out) == 0 {
		if indexName == "" {
			return nil, fmt.Errorf("%w: collection %q has no index", ErrIndexNotFound, coll)
		}
		return nil, fmt.Errorf("%w: collection %q has no index %q", ErrIndexNotFound, coll, indexName)
	}
	return out, nil
}

// DropIndex drops the index named indexName (or on the field of that name).
// Milvus refuses this on a loaded collection; so does the store.
func (db *DB) DropIndex(ctx context.Context, coll, indexName string) error {
	db.ddl.Lock()
	defer db.ddl.Unlock()
	c, err := db.lookup(coll)
	if err != nil {
		return err
	}
	c.mu.RLock()
	var field string
	for _, fs := range c.fields {
		if fs.index != nil && (indexName == "" || indexName == fs.index.params.Name || indexName == fs.f.Name) {
			field = fs.f.Name
		}
	}
	loaded := c.info.Load == LoadStateLoaded
	c.mu.RUnlock()
	if field == "" {
		return fmt.Errorf("%w: collection %q has no index %q", ErrIndexNotFound, coll, indexName)
	}
	if loaded {
		return fmt.Errorf("%w: collection %q is loaded; release it before dropping index %q", ErrInvalidArgument, coll, indexName)
	}
	_, err = db.submit(ctx, &record{op: opDropIndex, coll: c.info.ID, field: field})
	return err
}

// Load marks the collection loaded (every vector field needs an index). The
// state is persisted and survives restarts.
func (db *DB) Load(ctx context.Context, coll string) error {
	return db.setLoad(ctx, coll, LoadStateLoaded)
}

// Release marks the collection released.
func (db *DB) Release(ctx context.Context, coll string) error {
	return db.setLoad(ctx, coll, LoadStateNotLoad)
}

func (db *DB) setLoad(ctx context.Context, coll string, st LoadState) error {
	db.ddl.Lock()
	defer db.ddl.Unlock()
	c, err := db.lookup(coll)
	if err != nil {
		return err
	}
	c.mu.RLock()
	cur := c.info.Load
	var missing string
	for _, fs := range c.vectorFields() {
		if fs.index == nil && missing == "" {
			missing = fs.f.Name
		}
	}
	c.mu.RUnlock()
	if cur == st {
		return nil
	}
	if st == LoadStateLoaded && missing != "" {
		return fmt.Errorf("%w: collection %q: vector field %q has no index; create one before loading", ErrIndexNotFound, coll, missing)
	}
	_, err = db.submit(ctx, &record{op: opSetLoad, coll: c.info.ID, load: st})
	return err
}

// LoadState returns the persisted load state (LoadStateNotExist if the
// collection does not exist).
func (db *DB) LoadState(coll string) LoadState {
	c, err := db.lookup(coll)
	if err != nil {
		return LoadStateNotExist
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.info.Load
}

// Stats returns the collection's statistics.
func (db *DB) Stats(coll string) (CollectionStats, error) {
	c, err := db.lookup(coll)
	if err != nil {
		return CollectionStats{}, err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return CollectionStats{RowCount: int64(c.live)}, nil
}

// Flush is a no-op besides checking that the collections exist: every
// acknowledged write is already durable.
func (db *DB) Flush(ctx context.Context, colls ...string) error {
	for _, n := range colls {
		if _, err := db.lookup(n); err != nil {
			return err
		}
	}
	return nil
}
