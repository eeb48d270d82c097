package vectordb

import (
	"context"
	"fmt"
	"math"
	"strings"
)

// MaxTopK bounds TopK+Offset, as Milvus' quota does.
const MaxTopK = 16384

// hit is one search candidate: a row and its Milvus score.
type hit struct {
	row   uint32
	score float32
}

// better reports whether score a ranks before b under metric m.
func better(m Metric, a, b float32) bool {
	if m == MetricL2 {
		return a < b
	}
	return a > b
}

// Search runs one k-NN search per query vector.
func (db *DB) Search(ctx context.Context, coll string, req SearchRequest) ([]SearchResult, error) {
	c, err := db.readable(ctx, coll)
	if err != nil {
		return nil, err
	}
	fs, err := c.searchField(req.Field)
	if err != nil {
		return nil, err
	}
	if req.TopK < 1 || req.Offset < 0 || req.TopK+req.Offset > MaxTopK {
		return nil, fmt.Errorf("%w: topk %d and offset %d: need topk >= 1, offset >= 0, topk+offset <= %d", ErrInvalidArgument, req.TopK, req.Offset, MaxTopK)
	}
	if len(req.Vectors) == 0 {
		return nil, fmt.Errorf("%w: no query vectors", ErrInvalidArgument)
	}
	for i, q := range req.Vectors {
		if len(q) != fs.f.Dim {
			return nil, fmt.Errorf("%w: query vector %d for field %q: dim %d, schema says %d", ErrDimMismatch, i, fs.f.Name, len(q), fs.f.Dim)
		}
		for j, x := range q {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return nil, fmt.Errorf("%w: query vector %d, element %d is %v", ErrNaN, i, j, x)
			}
		}
	}
	plan, err := c.compileFilter(req.Filter, req.FilterParams)
	if err != nil {
		return nil, err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	ix := fs.index
	if ix == nil {
		return nil, fmt.Errorf("%w: vector field %q has no index", ErrIndexNotFound, fs.f.Name)
	}
	if req.Metric != "" && !strings.EqualFold(string(req.Metric), string(ix.params.Metric)) {
		return nil, fmt.Errorf("%w: search asks for %s, index %q on %q uses %s", ErrMetricMismatch, req.Metric, ix.params.Name, fs.f.Name, ix.params.Metric)
	}
	sp, err := c.resolveOutput(req.OutputFields, false)
	if err != nil {
		return nil, err
	}
	var allow *bitset
	if !plan.MatchesAll() {
		var bs bitset
		for _, r := range c.selectRows(plan) {
			bs.set(r)
		}
		allow = &bs
	}
	k := req.TopK + req.Offset
	ef := max(req.Ef, DefaultEf, k)
	all, err := ix.search(c, fs, req.Vectors, k, ef, allow)
	if err != nil {
		return nil, err
	}
	out := make([]SearchResult, len(req.Vectors))
	for i, hits := range all {
		hits = window(hits, req.Offset, req.TopK)
		rows := make([]uint32, len(hits))
		res := SearchResult{Scores: make([]float32, len(hits))}
		for j, h := range hits {
			rows[j], res.Scores[j] = h.row, h.score
		}
		res.IDs = gatherColumn(c.pk, rows)
		if res.Fields, err = c.gather(rows, sp); err != nil {
			return nil, err
		}
		out[i] = res
	}
	return out, nil
}

// searchField picks the vector field to search.
func (c *collection) searchField(name string) (*fieldStore, error) {
	if name == "" {
		vf := c.vectorFields()
		if len(vf) != 1 {
			return nil, fmt.Errorf("%w: collection %q has %d vector fields; name the one to search", ErrInvalidArgument, c.info.Schema.Name, len(vf))
		}
		return vf[0], nil
	}
	fs := c.field(name)
	if fs == nil {
		return nil, fmt.Errorf("%w: collection %q has no field %q", ErrFieldNotFound, c.info.Schema.Name, name)
	}
	if fs.f.Type != TypeFloatVector {
		return nil, fmt.Errorf("%w: field %q is %s, not a vector field", ErrTypeMismatch, name, fs.f.Type)
	}
	return fs, nil
}

// score computes the Milvus score of row vector x for query q.
func score(m Metric, q, x []float32) float32 {
	switch m {
	case MetricL2:
		var s float32
		for i, a := range q {
			d := a - x[i]
			s += d * d
		}
		return s
	case MetricIP:
		var s float32
		for i, a := range q {
			s += a * x[i]
		}
		return s
	}
	var d, nq, nx float64
	for i, a := range q {
		d += float64(a) * float64(x[i])
		nq += float64(a) * float64(a)
		nx += float64(x[i]) * float64(x[i])
	}
	if nq == 0 || nx == 0 {
		return 0
	}
	return float32(d / math.Sqrt(nq*nx))
}

// exactSearch scans rows [from, to) that are live and allowed, keeping the
// k best (caller holds c.mu).
func exactSearch(c *collection, fs *fieldStore, m Metric, q []float32, k int, allow *bitset, from, to uint32) []hit {
	top := make([]hit, 0, k+1)
	for r := from; r < to; r++ {
		if c.deleted.has(r) || allow != nil && !allow.has(r) {
			continue
		}
		s := score(m, q, fs.vecs.row(r))
		if len(top) == k && !better(m, s, top[k-1].score) {
			continue
		}
		// Insertion into the sorted list; k is small next to the scan.
		i := len(top)
		top = append(top, hit{})
		for i > 0 && better(m, s, top[i-1].score) {
			top[i] = top[i-1]
			i--
		}
		top[i] = hit{row: r, score: s}
		if len(top) > k {
			top = top[:k]
		}
	}
	return top
}
