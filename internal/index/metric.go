package index

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Metric is the similarity a vector field is searched by, as Milvus names it.
type Metric uint8

// Metrics. Scores are returned the way Milvus returns them: L2 is the squared
// Euclidean distance (smaller is closer), IP the inner product and COSINE the
// cosine similarity (larger is closer).
const (
	L2 Metric = iota + 1
	IP
	Cosine
)

func (m Metric) String() string {
	switch m {
	case L2:
		return "L2"
	case IP:
		return "IP"
	case Cosine:
		return "COSINE"
	}
	return fmt.Sprintf("Metric(%d)", uint8(m))
}

// ParseMetric accepts Milvus metric names, case-insensitively.
func ParseMetric(s string) (Metric, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "L2":
		return L2, nil
	case "IP":
		return IP, nil
	case "COSINE":
		return Cosine, nil
	}
	return 0, fmt.Errorf("%w: metric %q (want L2, IP or COSINE)", ErrBadParam, s)
}

func (m Metric) valid() bool { return m >= L2 && m <= Cosine }

// score converts the internal distance (smaller is better for every metric;
// IP and COSINE are stored negated) into what Milvus returns.
func (m Metric) score(dist float32) float32 {
	if m == L2 {
		return dist
	}
	return -dist
}

// Errors returned by the package. They are wrapped with the detail (which
// id, which dimension), so test with errors.Is.
var (
	ErrDimension  = errors.New("index: vector dimension mismatch")
	ErrNonFinite  = errors.New("index: vector contains NaN or Inf")
	ErrZeroVector = errors.New("index: zero vector has no COSINE direction")
	ErrDuplicate  = errors.New("index: id already added")
	ErrNotFound   = errors.New("index: id not present")
	ErrIDRange    = errors.New("index: id out of range")
	ErrBadParam   = errors.New("index: bad parameter")
	ErrCorrupt    = errors.New("index: corrupt index file")
)

// MaxDim is the largest dimension Milvus allows for a float vector field.
const MaxDim = 32768

// maxID bounds ids so chunk arithmetic never overflows and a bogus row
// number cannot make the index allocate gigabytes.
const maxID = 1<<31 - 1

// checkVector validates v for an index of dimension dim.
func checkVector(v []float32, dim int) error {
	if len(v) != dim {
		return fmt.Errorf("%w: got %d, want %d", ErrDimension, len(v), dim)
	}
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("%w: element %d is %v", ErrNonFinite, i, x)
		}
	}
	return nil
}

// prepare validates v and returns the form the index computes with: a
// normalised copy for COSINE, v itself otherwise (never modified).
func prepare(v []float32, dim int, m Metric) ([]float32, error) {
	if err := checkVector(v, dim); err != nil {
		return nil, err
	}
	if m != Cosine {
		return v, nil
	}
	n := math.Sqrt(float64(dot(v, v)))
	if n == 0 || math.IsInf(n, 0) {
		return nil, fmt.Errorf("%w: norm is %v", ErrZeroVector, n)
	}
	out := make([]float32, dim)
	inv := 1 / n
	for i, x := range v {
		out[i] = float32(float64(x) * inv)
	}
	return out, nil
}
