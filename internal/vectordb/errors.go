package vectordb

import "errors"

// Error kinds. Every error returned by this package wraps exactly one of
// these (test with errors.Is); the message after the kind says precisely what
// is wrong, e.g.
//
//	dim mismatch: vector field "emb": dim 3, schema says 8
//
// The Milvus API layer maps kinds to Milvus status codes; the store itself
// knows nothing about codes. A request that fails validation writes nothing.
var (
	// ErrCollectionNotFound: no collection of that name (Milvus 100).
	ErrCollectionNotFound = errors.New("collection not found")
	// ErrCollectionExists: CreateCollection with a name in use and a
	// different schema (an identical schema succeeds, as in Milvus).
	ErrCollectionExists = errors.New("collection already exists")
	// ErrInvalidSchema: the schema given to CreateCollection is unusable.
	ErrInvalidSchema = errors.New("invalid schema")
	// ErrSchemaMismatch: a write carried a SchemaVersion that is not the
	// collection's current one (dropped and re-created; Milvus 109).
	ErrSchemaMismatch = errors.New("collection schema mismatch")
	// ErrFieldNotFound: a column, output field or search field names no
	// field of the schema (and the collection has no dynamic field).
	ErrFieldNotFound = errors.New("field not found")
	// ErrTypeMismatch: a column's type differs from its field's type, or a
	// dynamic-field row is not a JSON object.
	ErrTypeMismatch = errors.New("type mismatch")
	// ErrDimMismatch: a vector's length differs from the field's dim.
	ErrDimMismatch = errors.New("dim mismatch")
	// ErrVarcharTooLong: a VarChar value exceeds the field's MaxLength.
	ErrVarcharTooLong = errors.New("varchar too long")
	// ErrMissingPrimaryKey: a write without the primary key column while
	// the key is not auto-generated.
	ErrMissingPrimaryKey = errors.New("missing primary key")
	// ErrMissingField: a write without a column for a non-nullable field.
	ErrMissingField = errors.New("missing field")
	// ErrNaN: a vector or float value holds NaN or ±Inf.
	ErrNaN = errors.New("NaN or Inf in vector")
	// ErrInvalidArgument: any other malformed request (row counts differ,
	// topk out of range, bad JSON, unknown metric, ...).
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrFilter: the filter expression does not parse or does not type
	// check; the message carries the position and what was expected.
	ErrFilter = errors.New("invalid filter expression")
	// ErrIndexNotFound: no index with that name / on that field (Milvus 700).
	ErrIndexNotFound = errors.New("index not found")
	// ErrIndexConflict: the field already has an index with other params.
	ErrIndexConflict = errors.New("index already exists with different params")
	// ErrMetricMismatch: a search metric that is not the index's metric.
	ErrMetricMismatch = errors.New("metric type mismatch")
	// ErrNotLoaded: Search/Query/Get on a released collection (Milvus 101).
	ErrNotLoaded = errors.New("collection not loaded")
	// ErrNotPrimary: a write on a DB opened as standby (not promoted).
	ErrNotPrimary = errors.New("not primary: read-only standby")
	// ErrFenced: another node took the storage lease; this DB refuses all
	// further writes. The keeper must step down.
	ErrFenced = errors.New("fenced: storage lease lost")
	// ErrLeaseUnproven: a read on a node that has been primary while it
	// cannot prove that it still holds the storage lease (no recent
	// renewal, or a pause since: SIGSTOP, VM freeze, host suspend). The
	// peer may have taken over and written since, so the answer could be
	// stale; nothing was read. Retry, through the VIP: a node that still
	// holds the lease serves again after its next renewal.
	ErrLeaseUnproven = errors.New("storage lease unproven: refusing a possibly stale read")
	// ErrStorage: the write could not be made durable (disk full, read-only
	// or failing directory). Nothing of the write is visible; the DB stays
	// readable, and refuses writes until it is reopened.
	ErrStorage = errors.New("storage failure")
	// ErrClosed: the DB was closed.
	ErrClosed = errors.New("database closed")
)
