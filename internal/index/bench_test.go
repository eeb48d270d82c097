package index

import (
	"sync"
	"testing"
)

var benchOnce struct {
	sync.Once
	d    *benchData
	h    *HNSW
	flat *Flat
}

// benchSetup builds the 20k×128 low-rank set once per process.
func benchSetup(b *testing.B) (*benchData, *HNSW, *Flat) {
	benchOnce.Do(func() {
		d := lowRankData(20000, 128, 16, 256)
		h, _ := NewHNSW(d.dim, L2, HNSWParams{Seed: 1})
		f, _ := NewFlat(d.dim, L2)
		base := d.rows(d.base)
		ids := make([]uint32, len(base))
		for i := range ids {
			ids[i] = uint32(i)
			if err := f.Add(uint32(i), base[i]); err != nil {
				panic(err)
			}
		}
		if err := h.AddBatch(ids, base); err != nil {
			panic(err)
		}
		benchOnce.d, benchOnce.h, benchOnce.flat = d, h, f
	})
	return benchOnce.d, benchOnce.h, benchOnce.flat
}

func benchSearch(b *testing.B, idx Index, p SearchParams) {
	d, _, _ := benchSetup(b)
	qs := d.rows(d.query)
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := idx.Search(qs[i%len(qs)], p); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkHNSWSearchEf32(b *testing.B) {
	_, h, _ := benchSetup(b)
	benchSearch(b, h, SearchParams{K: 10, Ef: 32})
}

func BenchmarkHNSWSearchEf128(b *testing.B) {
	_, h, _ := benchSetup(b)
	benchSearch(b, h, SearchParams{K: 10, Ef: 128})
}

func BenchmarkFlatSearch(b *testing.B) {
	_, _, f := benchSetup(b)
	benchSearch(b, f, SearchParams{K: 10})
}

func BenchmarkFlatSearchBatch64(b *testing.B) {
	d, _, f := benchSetup(b)
	qs := d.rows(d.query)[:64]
	b.ResetTimer()
	for b.Loop() {
		if _, err := f.SearchBatch(qs, SearchParams{K: 10}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(64*b.N)/b.Elapsed().Seconds(), "queries/s")
}

func BenchmarkHNSWAdd(b *testing.B) {
	d := lowRankData(b.N, 64, 16, 1)
	base := d.rows(d.base)
	h, _ := NewHNSW(64, L2, HNSWParams{})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := h.Add(uint32(i), base[i]); err != nil {
			b.Fatal(err)
		}
	}
}
