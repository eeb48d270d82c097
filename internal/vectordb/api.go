package vectordb

import (
	"log/slog"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/guard"
)

// Mode selects how Open takes the data directory.
type Mode int

const (
	// Primary takes the storage lease (bumping the fencing epoch and sealing
	// the previous owner's log) and serves reads and writes.
	Primary Mode = iota
	// Standby opens the directory read-only while another node owns it,
	// tails the owner's log and keeps every collection and index in memory,
	// ready for Promote.
	Standby
)

// Role is what a DB currently does.
type Role int

const (
	RolePrimary Role = iota // serving reads and writes
	RoleStandby             // read-only, tailing the owner's log
	RoleFenced              // lost the lease: refuses writes and reads (ErrLeaseUnproven) until closed
	RoleFailed              // a write could not be made durable: read-only (while the lease holds) until reopened
)

func (r Role) String() string {
	switch r {
	case RolePrimary:
		return "primary"
	case RoleStandby:
		return "standby"
	case RoleFenced:
		return "fenced"
	case RoleFailed:
		return "failed"
	}
	return "unknown"
}

// Options configure Open. The zero value is usable except for NodeID.
type Options struct {
	// NodeID names this node in the OWNER record (required).
	NodeID string
	// Mode is Primary or Standby.
	Mode Mode
	// Timing is the storage lease timing (guard.PresetTiming); when zero it
	// is derived from LeaseTimeout and HeartbeatInterval, and when those
	// are zero too, the "normal" preset for 100 ms adverts is used.
	Timing            guard.Timing
	LeaseTimeout      time.Duration
	HeartbeatInterval time.Duration
	// CheckpointBytes: a checkpoint is written once this many bytes of log
	// accumulated since the last one (default 256 MiB; negative disables).
	CheckpointBytes int64
	// Logger receives recovery, checkpoint and fencing events.
	Logger *slog.Logger
}

// Metric is a vector similarity metric (Milvus metric_type).
type Metric string

// Metrics. L2 scores are squared Euclidean distances (smaller is better);
// IP and COSINE scores are similarities (larger is better).
const (
	MetricL2     Metric = "L2"
	MetricIP     Metric = "IP"
	MetricCosine Metric = "COSINE"
)

// IndexType is a vector index kind (Milvus index_type).
type IndexType string

// Index types. AUTOINDEX is HNSW with DefaultM / DefaultEfConstruction.
const (
	IndexFLAT IndexType = "FLAT"
	IndexHNSW IndexType = "HNSW"
	IndexAuto IndexType = "AUTOINDEX"
)

// Defaults applied by CreateIndex, as Milvus' autoIndex.params.build.
const (
	DefaultMetric         = MetricCosine
	DefaultM              = 16
	DefaultEfConstruction = 200
	// DefaultEf is the HNSW search beam when a search gives none; the beam
	// is never narrower than TopK+Offset.
	DefaultEf = 64
)

// IndexParams is a CreateIndex request. Empty Type means AUTOINDEX, empty
// Metric means DefaultMetric, zero M / EfConstruction mean the defaults.
type IndexParams struct {
	// Name defaults to the field name.
	Name           string
	Type           IndexType
	Metric         Metric
	M              int
	EfConstruction int
}

// IndexInfo describes one index. Building is incremental: rows not yet in
// the graph are searched exactly, so an index is always usable ("Finished"
// in Milvus terms); IndexedRows trails TotalRows (rows ever written,
// deleted ones included) while the builder catches up.
type IndexInfo struct {
	Name  string
	Field string
	// Params are the resolved parameters (defaults filled in; Type stays
	// AUTOINDEX when that was asked for).
	Params      IndexParams
	IndexedRows int64
	TotalRows   int64
}

// SearchRequest is a k-nearest-neighbour search with one or more queries.
type SearchRequest struct {
	// Field is the vector field; empty picks the only vector field.
	Field string
	// Vectors are the queries, each of the field's dim.
	Vectors [][]float32
	// TopK hits per query after skipping Offset (Milvus limit/offset).
	TopK   int
	Offset int
	// Metric must equal the index's metric; empty means the index's.
	Metric Metric
	// Filter restricts hits to rows matching the expression (Milvus
	// grammar); FilterParams fills its {name} placeholders.
	Filter       string
	FilterParams map[string]any
	// OutputFields to return per hit: field names, dynamic keys, "*" for
	// all fields. The primary key is always returned (in SearchResult.IDs).
	OutputFields []string
	// Ef is the HNSW search beam; 0 means max(DefaultEf, TopK+Offset).
	Ef int
}

// SearchResult holds one query's hits, best first.
type SearchResult struct {
	// IDs is the primary key column of the hits.
	IDs Column
	// Scores: squared distance (L2) or similarity (IP, COSINE).
	Scores []float32
	// Fields holds the requested output fields, one row per hit; dynamic
	// keys come back inside one IsDynamic JSON column named "$meta".
	Fields Batch
}

// QueryRequest selects rows by filter.
type QueryRequest struct {
	// Filter is a Milvus boolean expression; empty matches every row.
	Filter       string
	FilterParams map[string]any
	// OutputFields as in SearchRequest; the primary key is always included.
	OutputFields []string
	// Limit (0 = no limit) and Offset apply in primary-key order.
	Limit  int
	Offset int
}

// CollectionStats are a collection's statistics.
type CollectionStats struct {
	// RowCount is the number of visible (live) rows.
	RowCount int64
}
