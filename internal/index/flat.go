package index

import (
	"sync"
	"sync/atomic"
)

// Flat is the exact index: every search scans all live vectors.
type Flat struct {
	st       *store
	metric   Metric
	writeMu  sync.RWMutex // Add/Delete share it; WriteTo takes it alone
	rejected atomic.Uint64
}

// NewFlat returns an empty FLAT index.
func NewFlat(dim int, m Metric) (*Flat, error) {
	if err := checkDim(dim); err != nil {
		return nil, err
	}
	if err := checkMetric(m); err != nil {
		return nil, err
	}
	return &Flat{st: newStore(dim, 0, m), metric: m}, nil
}

// Dim implements Index.
func (f *Flat) Dim() int { return f.st.dim }

// Metric implements Index.
func (f *Flat) Metric() Metric { return f.metric }

// Add implements Index.
func (f *Flat) Add(id uint32, v []float32) error {
	p, err := prepare(v, f.st.dim, f.metric)
	if err != nil {
		f.rejected.Add(1)
		return err
	}
	f.writeMu.RLock()
	defer f.writeMu.RUnlock()
	c, err := f.st.claim(id)
	if err != nil {
		f.rejected.Add(1)
		return err
	}
	f.st.write(c, id, f.st.stored(v, p))
	f.st.publish(c, id)
	return nil
}

// Delete implements Index.
func (f *Flat) Delete(id uint32) error {
	f.writeMu.RLock()
	defer f.writeMu.RUnlock()
	return f.st.remove(id)
}

// Has implements Index.
func (f *Flat) Has(id uint32) bool { return f.st.isPresent(id) }

// Vector implements Index.
func (f *Flat) Vector(id uint32) ([]float32, error) { return f.st.vector(id) }

// Search implements Index. Large collections are scanned by all cores.
func (f *Flat) Search(q []float32, p SearchParams) ([]Result, error) {
	if err := p.check(); err != nil {
		f.rejected.Add(1)
		return nil, err
	}
	pq, err := prepare(q, f.st.dim, f.metric)
	if err != nil {
		f.rejected.Add(1)
		return nil, err
	}
	return results(scanOne(f.st, f.metric, pq, p.K, p.Filter), p.K, f.metric), nil
}

// SearchBatch implements Index with one blocked pass over the data for all
// queries.
func (f *Flat) SearchBatch(qs [][]float32, p SearchParams) ([][]Result, error) {
	if err := p.check(); err != nil {
		f.rejected.Add(1)
		return nil, err
	}
	pqs := make([][]float32, len(qs))
	for i, q := range qs {
		pq, err := prepare(q, f.st.dim, f.metric)
		if err != nil {
			f.rejected.Add(1)
			return nil, err
		}
		pqs[i] = pq
	}
	if len(qs) == 1 {
		r, err := f.Search(qs[0], p)
		return [][]Result{r}, err
	}
	items := scanBatch(f.st, f.metric, pqs, p.K, p.Filter)
	out := make([][]Result, len(items))
	for i, it := range items {
		out[i] = results(it, p.K, f.metric)
	}
	return out, nil
}

// Stats implements Index.
func (f *Flat) Stats() Stats {
	return Stats{
		Kind:       KindFlat,
		Live:       f.st.live.Load(),
		Deleted:    f.st.dead.Load(),
		Limit:      f.st.limit.Load(),
		Bytes:      f.st.bytes(),
		Rejected:   f.rejected.Load(),
		Normalised: f.metric == Cosine && !f.st.cosine,
	}
}
