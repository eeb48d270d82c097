package index

import (
	"fmt"
	"io"
	"strings"
)

// Index is what the store uses: FLAT and HNSW both implement it. All methods
// are safe for concurrent use; Add and Delete may run concurrently with each
// other and with searches.
type Index interface {
	// Dim is the vector dimension.
	Dim() int
	// Metric is the similarity the index ranks by.
	Metric() Metric
	// Add stores v under id (the store's dense row number). v is copied
	// (and normalised for COSINE). Each id may be added once.
	Add(id uint32, v []float32) error
	// Delete tombstones id: it is never returned again.
	Delete(id uint32) error
	// Has reports whether id was added (deleted or not): Vector(id) then
	// succeeds.
	Has(id uint32) bool
	// Search returns up to p.K results, best first.
	Search(q []float32, p SearchParams) ([]Result, error)
	// SearchBatch answers several queries; FLAT shares one pass over the
	// data between them.
	SearchBatch(qs [][]float32, p SearchParams) ([][]Result, error)
	// Vector returns a copy of the vector of id as it was added (except
	// when Stats().Normalised), so the store need not keep its own copy.
	Vector(id uint32) ([]float32, error)
	// Stats reports sizes and counters.
	Stats() Stats
	// WriteTo writes the whole index in the binary format described in
	// doc.go. Adds and deletes wait while it runs; searches do not.
	WriteTo(w io.Writer) (int64, error)
}

// Kind names an index type.
type Kind uint8

// Index kinds. AUTOINDEX is HNSW with DefaultM and DefaultEfConstruction.
const (
	KindFlat Kind = iota + 1
	KindHNSW
)

func (k Kind) String() string {
	switch k {
	case KindFlat:
		return "FLAT"
	case KindHNSW:
		return "HNSW"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// ParseKind accepts Milvus index_type names: FLAT, HNSW and AUTOINDEX
// (which maps to HNSW).
func ParseKind(s string) (Kind, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "FLAT":
		return KindFlat, nil
	case "HNSW", "AUTOINDEX":
		return KindHNSW, nil
	}
	return 0, fmt.Errorf("%w: index type %q (want FLAT, HNSW or AUTOINDEX)", ErrBadParam, s)
}

// Config describes an index to build with New.
type Config struct {
	Kind   Kind
	Metric Metric
	Dim    int
	// HNSW only; zero values take the defaults.
	HNSW HNSWParams
}

// New builds an empty index.
func New(c Config) (Index, error) {
	switch c.Kind {
	case KindFlat:
		return NewFlat(c.Dim, c.Metric)
	case KindHNSW:
		return NewHNSW(c.Dim, c.Metric, c.HNSW)
	}
	return nil, fmt.Errorf("%w: kind %v", ErrBadParam, c.Kind)
}

// SearchParams are per-search options.
type SearchParams struct {
	// K is the number of results wanted (≥ 1).
	K int
	// Ef is HNSW's candidate list size (Milvus search param "ef"); 0 takes
	// DefaultEf(K). Values below K are raised to K. FLAT ignores it.
	Ef int
	// Filter, if not nil, restricts results to the ids it allows.
	Filter Filter
}

// maxK bounds K (Milvus caps topk at 16384).
const maxK = 16384

func (p SearchParams) check() error {
	if p.K < 1 || p.K > maxK {
		return fmt.Errorf("%w: k=%d (want 1..%d)", ErrBadParam, p.K, maxK)
	}
	if p.Ef < 0 || p.Ef > 1<<20 {
		return fmt.Errorf("%w: ef=%d", ErrBadParam, p.Ef)
	}
	return nil
}

// Stats describes an index.
type Stats struct {
	Kind    Kind
	Live    int64  // searchable vectors
	Deleted int64  // tombstoned vectors still held
	Limit   uint32 // 1 + highest id added
	Bytes   int64  // memory held by vectors, links and bitmaps
	// Rejected counts Add and Search calls refused for bad input.
	Rejected uint64
	// Normalised: a COSINE index read from a version-1 file, which holds
	// normalised vectors, so Vector does not return them as added.
	Normalised bool
}

func checkDim(dim int) error {
	if dim < 1 || dim > MaxDim {
		return fmt.Errorf("%w: dim=%d (want 1..%d)", ErrBadParam, dim, MaxDim)
	}
	return nil
}

func checkMetric(m Metric) error {
	if !m.valid() {
		return fmt.Errorf("%w: metric %v", ErrBadParam, m)
	}
	return nil
}
