package vectordb

import (
	"context"
	"errors"
)

var errNotImplemented = errors.New("vectordb: not implemented yet")

// DB is an open data directory: the collections, their indexes, the log and
// the storage lease. All methods are safe for concurrent use.
type DB struct{}

// Open opens (creating if needed) the data directory dir. As Primary it
// takes the storage lease, recovers from the newest checkpoint plus the log
// and serves; as Standby it recovers the same way, then keeps tailing the
// owner's log until Promote.
func Open(ctx context.Context, dir string, opts Options) (*DB, error) {
	return nil, errNotImplemented
}

// Close stops the background work, releases the lease (primary) and closes
// files. Acknowledged writes are already durable; Close adds nothing to them.
func (db *DB) Close() error { return errNotImplemented }

// Role reports what the DB currently does.
func (db *DB) Role() Role { return RoleFailed }

// Fenced is closed when the DB stops being primary for a reason of its own
// (lease lost, storage failure), so the keeper can step down.
func (db *DB) Fenced() <-chan struct{} { return nil }

// Promote turns a standby into the primary: takes the lease (bumping the
// epoch, sealing the old owner's log), applies the unread tail of the log
// and starts accepting writes.
func (db *DB) Promote(ctx context.Context) error { return errNotImplemented }

// CreateCollection creates a collection. Field IDs are assigned; when
// EnableDynamic is set the "$meta" field is appended. Creating an existing
// collection with an identical schema succeeds (Milvus behaviour).
func (db *DB) CreateCollection(ctx context.Context, s Schema) error { return errNotImplemented }

// DropCollection drops a collection with its data and indexes. Dropping a
// missing collection succeeds, as in Milvus.
func (db *DB) DropCollection(ctx context.Context, name string) error { return errNotImplemented }

// HasCollection reports whether the collection exists.
func (db *DB) HasCollection(name string) bool { return false }

// DescribeCollection returns the collection's schema and identity.
func (db *DB) DescribeCollection(name string) (CollectionInfo, error) {
	return CollectionInfo{}, errNotImplemented
}

// ListCollections returns the collection names, sorted.
func (db *DB) ListCollections() []string { return nil }

// CreateIndex creates a vector index on field. Creating the same index again
// succeeds; other params on an indexed field give ErrIndexConflict.
func (db *DB) CreateIndex(ctx context.Context, coll, field string, p IndexParams) error {
	return errNotImplemented
}

// DescribeIndex returns the collection's indexes, or only the one named
// indexName (matching index or field name). No match: ErrIndexNotFound.
func (db *DB) DescribeIndex(coll, indexName string) ([]IndexInfo, error) {
	return nil, errNotImplemented
}

// DropIndex drops the index named indexName (or on the field of that name).
// Milvus refuses this on a loaded collection; so does the store.
func (db *DB) DropIndex(ctx context.Context, coll, indexName string) error {
	return errNotImplemented
}

// Load marks the collection loaded (every vector field needs an index). The
// state is persisted and survives restarts.
func (db *DB) Load(ctx context.Context, coll string) error { return errNotImplemented }

// Release marks the collection released.
func (db *DB) Release(ctx context.Context, coll string) error { return errNotImplemented }

// LoadState returns the persisted load state (LoadStateNotExist if the
// collection does not exist).
func (db *DB) LoadState(coll string) LoadState { return LoadStateNotExist }

// Insert appends rows and returns their primary keys (generated ones for
// an AutoID key). Keys are not deduplicated: a key inserted twice keeps only
// its newest row visible, like an upsert. Returns once the rows are durable.
func (db *DB) Insert(ctx context.Context, coll string, b *Batch) (Column, error) {
	return Column{}, errNotImplemented
}

// Upsert inserts rows, replacing every existing row with the same key. The
// key column is required even for AutoID collections.
func (db *DB) Upsert(ctx context.Context, coll string, b *Batch) (Column, error) {
	return Column{}, errNotImplemented
}

// Delete removes every row matching filter (non-empty) and returns how many
// rows it removed.
func (db *DB) Delete(ctx context.Context, coll, filter string, params map[string]any) (int64, error) {
	return 0, errNotImplemented
}

// DeleteByPK removes every row whose key is in pks and returns how many.
func (db *DB) DeleteByPK(ctx context.Context, coll string, pks Column) (int64, error) {
	return 0, errNotImplemented
}

// Get returns the rows with the given keys, in the order of pks (missing
// keys are skipped).
func (db *DB) Get(ctx context.Context, coll string, pks Column, outputFields []string) (*Batch, error) {
	return nil, errNotImplemented
}

// Query returns the rows matching the request, in primary-key order.
func (db *DB) Query(ctx context.Context, coll string, q QueryRequest) (*Batch, error) {
	return nil, errNotImplemented
}

// Count returns the number of rows matching filter (empty: all), i.e.
// Milvus' count(*).
func (db *DB) Count(ctx context.Context, coll, filter string, params map[string]any) (int64, error) {
	return 0, errNotImplemented
}

// Search runs one k-NN search per query vector.
func (db *DB) Search(ctx context.Context, coll string, req SearchRequest) ([]SearchResult, error) {
	return nil, errNotImplemented
}

// Stats returns the collection's statistics.
func (db *DB) Stats(coll string) (CollectionStats, error) {
	return CollectionStats{}, errNotImplemented
}

// Flush is a no-op besides checking that the collections exist: every
// acknowledged write is already durable.
func (db *DB) Flush(ctx context.Context, colls ...string) error { return errNotImplemented }
