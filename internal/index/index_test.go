package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
)

// lowRank returns n vectors in d dimensions lying near a random
// rank-r subspace (plus noise), like real embeddings; uniform random data is
// pathological for every graph index and not what they are tuned for.
func lowRank(seed uint64, n, d, r int, noise float32) [][]float32 {
	rng := rand.New(rand.NewPCG(seed, 7))
	basis := make([][]float32, r)
	for i := range basis {
		basis[i] = make([]float32, d)
		for j := range basis[i] {
			basis[i][j] = float32(rng.NormFloat64())
		}
	}
	out := make([][]float32, n)
	for i := range out {
		v := make([]float32, d)
		for k := 0; k < r; k++ {
			z := float32(rng.NormFloat64())
			for j := range v {
				v[j] += z * basis[k][j]
			}
		}
		for j := range v {
			v[j] += noise * float32(rng.NormFloat64())
		}
		out[i] = v
	}
	return out
}

// clustered returns n vectors around c Gaussian centres.
func clustered(seed uint64, n, d, c int) [][]float32 {
	rng := rand.New(rand.NewPCG(seed, 9))
	centres := make([][]float32, c)
	for i := range centres {
		centres[i] = randVec(rng, d)
		for j := range centres[i] {
			centres[i][j] *= 4
		}
	}
	out := make([][]float32, n)
	for i := range out {
		ctr := centres[rng.IntN(c)]
		v := make([]float32, d)
		for j := range v {
			v[j] = ctr[j] + float32(rng.NormFloat64())*0.5
		}
		out[i] = v
	}
	return out
}

func uniform(seed uint64, n, d int) [][]float32 {
	rng := rand.New(rand.NewPCG(seed, 11))
	out := make([][]float32, n)
	for i := range out {
		out[i] = randVec(rng, d)
	}
	return out
}

// oracle is a deliberately naive exact search (scalar kernels, float64
// normalisation, full sort) that the indexes are checked against.
func oracle(data [][]float32, deleted map[uint32]bool, m Metric, q []float32, k int, allow func(uint32) bool) []Result {
	norm := func(v []float32) []float32 {
		var s float64
		for _, x := range v {
			s += float64(x) * float64(x)
		}
		o := make([]float32, len(v))
		for i, x := range v {
			o[i] = float32(float64(x) / math.Sqrt(s))
		}
		return o
	}
	if m == Cosine {
		q = norm(q)
	}
	var all []Result
	for i, v := range data {
		id := uint32(i)
		if deleted[id] || (allow != nil && !allow(id)) {
			continue
		}
		var s float32
		switch m {
		case L2:
			s = l2sqGo(q, v)
		case IP:
			s = dotGo(q, v)
		case Cosine:
			s = dotGo(q, norm(v))
		}
		all = append(all, Result{id, s})
	}
	slices.SortFunc(all, func(a, b Result) int {
		if m == L2 {
			return cmpF(a.Score, b.Score)
		}
		return cmpF(b.Score, a.Score)
	})
	return all[:min(k, len(all))]
}

func cmpF(a, b float32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func recall(got, want []Result) float64 {
	if len(want) == 0 {
		return 1
	}
	in := map[uint32]bool{}
	for _, r := range want {
		in[r.ID] = true
	}
	n := 0
	for _, r := range got {
		if in[r.ID] {
			n++
		}
	}
	return float64(n) / float64(len(want))
}

func build(t testing.TB, kind Kind, m Metric, data [][]float32) Index {
	t.Helper()
	idx, err := New(Config{Kind: kind, Metric: m, Dim: len(data[0]), HNSW: HNSWParams{Seed: 42}})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range data {
		if err := idx.Add(uint32(i), v); err != nil {
			t.Fatal(err)
		}
	}
	return idx
}

func TestHNSWRecall(t *testing.T) {
	cases := []struct {
		name string
		data [][]float32
		m    Metric
		ef   int
	}{
		{"lowrank-L2", lowRank(1, 4000, 48, 8, 0.1), L2, 64},
		{"clustered-L2", clustered(2, 4000, 32, 20), L2, 64},
		{"clustered-IP", clustered(3, 3000, 32, 20), IP, 128},
		{"lowrank-COSINE", lowRank(4, 3000, 32, 8, 0.1), Cosine, 64},
		// Uniform random data has no structure to exploit; a small set
		// and larger ef still reach the bar.
		{"uniform-L2", uniform(5, 2000, 16), L2, 128},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			idx := build(t, KindHNSW, tc.m, tc.data)
			queries := lowRankQueries(tc.data, 100)
			var sum float64
			for _, q := range queries {
				got, err := idx.Search(q, SearchParams{K: 10, Ef: tc.ef})
				if err != nil {
					t.Fatal(err)
				}
				sum += recall(got, oracle(tc.data, nil, tc.m, q, 10, nil))
			}
			if r := sum / float64(len(queries)); r < 0.95 {
				t.Fatalf("recall@10 = %.3f at ef=%d, want ≥ 0.95", r, tc.ef)
			}
		})
	}
}

// lowRankQueries perturbs data points so queries follow the data's
// distribution without being exact hits.
func lowRankQueries(data [][]float32, n int) [][]float32 {
	rng := rand.New(rand.NewPCG(99, 1))
	out := make([][]float32, n)
	for i := range out {
		src := data[rng.IntN(len(data))]
		q := make([]float32, len(src))
		for j := range q {
			q[j] = src[j] + float32(rng.NormFloat64())*0.05
		}
		out[i] = q
	}
	return out
}

// TestFlatExact checks FLAT (single and batched, all metrics, with deletes
// and filters) against the oracle: same ids, same scores.
func TestFlatExact(t *testing.T) {
	data := uniform(6, 9000, 24) // > 2 chunks, not a multiple of the tile
	queries := uniform(7, 13, 24)
	deleted := map[uint32]bool{}
	for i := uint32(0); i < 9000; i += 7 {
		deleted[i] = true
	}
	allow := func(id uint32) bool { return id%3 != 0 }
	for _, m := range []Metric{L2, IP, Cosine} {
		idx := build(t, KindFlat, m, data)
		for id := range deleted {
			if err := idx.Delete(id); err != nil {
				t.Fatal(err)
			}
		}
		for _, filt := range []Filter{nil, FilterFunc(allow)} {
			var allowFn func(uint32) bool
			if filt != nil {
				allowFn = allow
			}
			p := SearchParams{K: 10, Filter: filt}
			batch, err := idx.SearchBatch(queries, p)
			if err != nil {
				t.Fatal(err)
			}
			for i, q := range queries {
				want := oracle(data, deleted, m, q, 10, allowFn)
				one, err := idx.Search(q, p)
				if err != nil {
					t.Fatal(err)
				}
				for name, got := range map[string][]Result{"single": one, "batch": batch[i]} {
					if len(got) != len(want) {
						t.Fatalf("%v %s: %d results, want %d", m, name, len(got), len(want))
					}
					for j := range got {
						if got[j].ID != want[j].ID || !closeEnough(got[j].Score, want[j].Score) {
							t.Fatalf("%v %s q%d rank %d: got %+v want %+v", m, name, i, j, got[j], want[j])
						}
					}
				}
			}
		}
	}
}

func TestDeletesNeverReturned(t *testing.T) {
	data := lowRank(8, 3000, 32, 8, 0.1)
	for _, kind := range []Kind{KindFlat, KindHNSW} {
		idx := build(t, kind, L2, data)
		deleted := map[uint32]bool{}
		rng := rand.New(rand.NewPCG(3, 3))
		for len(deleted) < 1000 {
			id := uint32(rng.IntN(len(data)))
			deleted[id] = true
			if err := idx.Delete(id); err != nil {
				t.Fatal(err)
			}
		}
		if h, ok := idx.(*HNSW); ok { // the entry point too
			e := uint32(h.entry.Load())
			deleted[e] = true
			_ = idx.Delete(e)
		}
		if err := idx.Delete(5000); !errors.Is(err, ErrNotFound) {
			t.Fatalf("delete absent: %v", err)
		}
		var sum float64
		queries := lowRankQueries(data, 50)
		for _, q := range queries {
			got, err := idx.Search(q, SearchParams{K: 10})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range got {
				if deleted[r.ID] {
					t.Fatalf("%v returned deleted id %d", kind, r.ID)
				}
			}
			sum += recall(got, oracle(data, deleted, L2, q, 10, nil))
		}
		if r := sum / float64(len(queries)); r < 0.95 {
			t.Fatalf("%v recall after deletes %.3f", kind, r)
		}
		if st := idx.Stats(); st.Live != int64(len(data)-len(deleted)) || st.Deleted != int64(len(deleted)) {
			t.Fatalf("stats %+v", st)
		}
	}
}

// TestFilteredSearch: a selective filter (1%, brute-force path) must match
// the oracle exactly; a loose one (50%, graph path) must reach the recall
// bar; no result is ever outside the filter.
func TestFilteredSearch(t *testing.T) {
	data := lowRank(10, 6000, 32, 8, 0.1)
	idx := build(t, KindHNSW, L2, data)
	queries := lowRankQueries(data, 50)
	for _, tc := range []struct {
		name  string
		every uint32
		exact bool
	}{{"1pct", 100, true}, {"50pct", 2, false}} {
		allow := func(id uint32) bool { return id%tc.every == 0 }
		bs := NewBitset(len(data))
		for i := uint32(0); i < uint32(len(data)); i++ {
			if allow(i) {
				bs.Set(i)
			}
		}
		if est, want := idx.(*HNSW).estimateAllowed(FilterFunc(allow), int64(len(data))), int64(bs.Count()); est < want/2 || est > want*2 {
			t.Errorf("%s: estimated %d allowed ids, have %d", tc.name, est, want)
		}
		for fname, f := range map[string]Filter{"bitset": bs, "func": FilterFunc(allow)} {
			var sum float64
			for _, q := range queries {
				got, err := idx.Search(q, SearchParams{K: 10, Filter: f})
				if err != nil {
					t.Fatal(err)
				}
				want := oracle(data, nil, L2, q, 10, allow)
				for _, r := range got {
					if !allow(r.ID) {
						t.Fatalf("%s/%s: id %d outside the filter", tc.name, fname, r.ID)
					}
				}
				if tc.exact && !slices.EqualFunc(got, want, func(a, b Result) bool { return a.ID == b.ID }) {
					t.Fatalf("%s/%s: got %v want %v", tc.name, fname, got, want)
				}
				sum += recall(got, want)
			}
			if r := sum / float64(len(queries)); r < 0.95 {
				t.Fatalf("%s/%s recall %.3f", tc.name, fname, r)
			}
		}
	}
}

// TestConcurrentAddSearch runs Adds on several goroutines while others
// search and delete; run with -race. Afterwards the graph must be as good as
// a sequentially built one.
func TestConcurrentAddSearch(t *testing.T) {
	data := lowRank(11, 3000, 16, 6, 0.1)
	idx, err := NewHNSW(16, L2, HNSWParams{M: 8, EfConstruction: 64})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	const writers = 4
	for w := 0; w < writers; w++ {
		wg.Go(func() {
			for i := w; i < len(data); i += writers {
				if err := idx.Add(uint32(i), data[i]); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	stop := make(chan struct{})
	var sg sync.WaitGroup
	for r := 0; r < 2; r++ {
		sg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 1))
			for {
				select {
				case <-stop:
					return
				default:
				}
				q := data[rng.IntN(len(data))]
				if _, err := idx.Search(q, SearchParams{K: 5, Ef: 32}); err != nil {
					t.Error(err)
					return
				}
				if id := uint32(rng.IntN(len(data))); id%50 == 0 {
					_ = idx.Delete(id) // may not be added yet: ErrNotFound is fine
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	sg.Wait()
	deleted := map[uint32]bool{}
	for i := range data {
		if idx.st.isPresent(uint32(i)) && isDeleted(idx.st.chunks()[i>>chunkShift], uint32(i)) {
			deleted[uint32(i)] = true
		}
	}
	var sum float64
	queries := lowRankQueries(data, 50)
	for _, q := range queries {
		got, _ := idx.Search(q, SearchParams{K: 10, Ef: 64})
		sum += recall(got, oracle(data, deleted, L2, q, 10, nil))
	}
	if r := sum / float64(len(queries)); r < 0.95 {
		t.Fatalf("recall after concurrent build %.3f", r)
	}
	if err := idx.checkGraph(idx.entry.Load()); err != nil {
		t.Fatal(err)
	}
}

func TestPersistRoundTrip(t *testing.T) {
	data := lowRank(12, 5000, 24, 6, 0.1) // spans two chunks
	queries := lowRankQueries(data, 30)
	for _, kind := range []Kind{KindFlat, KindHNSW} {
		for _, m := range []Metric{L2, Cosine} {
			idx := build(t, kind, m, data)
			for i := uint32(0); i < 5000; i += 11 {
				_ = idx.Delete(i)
			}
			var buf bytes.Buffer
			n, err := idx.WriteTo(&buf)
			if err != nil || n != int64(buf.Len()) {
				t.Fatalf("WriteTo: n=%d len=%d err=%v", n, buf.Len(), err)
			}
			file := bytes.Clone(buf.Bytes())
			back, err := ReadFrom(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if back.Stats().Live != idx.Stats().Live || back.Metric() != m || back.Dim() != 24 {
				t.Fatalf("stats differ: %+v vs %+v", back.Stats(), idx.Stats())
			}
			for _, q := range queries {
				a, _ := idx.Search(q, SearchParams{K: 10, Ef: 50})
				b, _ := back.Search(q, SearchParams{K: 10, Ef: 50})
				if !slices.Equal(a, b) {
					t.Fatalf("%v %v: results differ after reload\n%v\n%v", kind, m, a, b)
				}
			}
			// Adding after a reload keeps working.
			if err := back.Add(6000, data[0]); err != nil {
				t.Fatal(err)
			}
			// Any flipped byte or truncation is detected.
			for _, off := range []int{3, 20, len(file) / 2, len(file) - 1} {
				bad := bytes.Clone(file)
				bad[off] ^= 0x40
				if _, err := ReadFrom(bytes.NewReader(bad)); !errors.Is(err, ErrCorrupt) {
					t.Fatalf("flip at %d: err %v", off, err)
				}
			}
			if _, err := ReadFrom(bytes.NewReader(file[:len(file)-5])); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("truncated: err %v", err)
			}
		}
	}
}

func TestBadInput(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	for _, kind := range []Kind{KindFlat, KindHNSW} {
		idx, err := New(Config{Kind: kind, Metric: Cosine, Dim: 4})
		if err != nil {
			t.Fatal(err)
		}
		if err := idx.Add(1, []float32{1, 2, 3, 4}); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name string
			err  error
			call func() error
		}{
			{"add short", ErrDimension, func() error { return idx.Add(2, []float32{1, 2, 3}) }},
			{"add nil", ErrDimension, func() error { return idx.Add(2, nil) }},
			{"add NaN", ErrNonFinite, func() error { return idx.Add(2, []float32{1, nan, 3, 4}) }},
			{"add Inf", ErrNonFinite, func() error { return idx.Add(2, []float32{1, 2, inf, 4}) }},
			{"add zero cosine", ErrZeroVector, func() error { return idx.Add(2, []float32{0, 0, 0, 0}) }},
			{"add duplicate", ErrDuplicate, func() error { return idx.Add(1, []float32{1, 1, 1, 1}) }},
			{"add huge id", ErrIDRange, func() error { return idx.Add(math.MaxUint32, []float32{1, 1, 1, 1}) }},
			{"search dim", ErrDimension, func() error { _, err := idx.Search([]float32{1}, SearchParams{K: 1}); return err }},
			{"search NaN", ErrNonFinite, func() error { _, err := idx.Search([]float32{nan, 1, 1, 1}, SearchParams{K: 1}); return err }},
			{"search k=0", ErrBadParam, func() error { _, err := idx.Search([]float32{1, 1, 1, 1}, SearchParams{K: 0}); return err }},
			{"search ef<0", ErrBadParam, func() error { _, err := idx.Search([]float32{1, 1, 1, 1}, SearchParams{K: 1, Ef: -1}); return err }},
			{"batch one bad", ErrNonFinite, func() error {
				_, err := idx.SearchBatch([][]float32{{1, 1, 1, 1}, {inf, 1, 1, 1}}, SearchParams{K: 1})
				return err
			}},
			{"delete absent", ErrNotFound, func() error { return idx.Delete(77) }},
			{"vector absent", ErrNotFound, func() error { _, err := idx.Vector(77); return err }},
		}
		for _, tc := range cases {
			if err := tc.call(); !errors.Is(err, tc.err) {
				t.Errorf("%v %s: err %v, want %v", kind, tc.name, err, tc.err)
			}
		}
		if st := idx.Stats(); st.Live != 1 || st.Rejected < 10 {
			t.Errorf("%v: stats after bad input %+v", kind, st)
		}
		// COSINE scores are similarities in [-1, 1].
		res, err := idx.Search([]float32{2, 4, 6, 8}, SearchParams{K: 3})
		if err != nil || len(res) != 1 || !closeEnough(res[0].Score, 1) {
			t.Errorf("%v cosine self-similarity: %v %v", kind, res, err)
		}
	}
	for _, c := range []Config{
		{Kind: KindHNSW, Metric: L2, Dim: 0},
		{Kind: KindHNSW, Metric: L2, Dim: MaxDim + 1},
		{Kind: KindHNSW, Metric: 9, Dim: 4},
		{Kind: KindHNSW, Metric: L2, Dim: 4, HNSW: HNSWParams{M: 1}},
		{Kind: KindHNSW, Metric: L2, Dim: 4, HNSW: HNSWParams{EfConstruction: -1}},
		{Kind: 7, Metric: L2, Dim: 4},
	} {
		if _, err := New(c); !errors.Is(err, ErrBadParam) {
			t.Errorf("New(%+v): %v", c, err)
		}
	}
	if _, err := ParseMetric("hamming"); !errors.Is(err, ErrBadParam) {
		t.Error("ParseMetric accepted hamming")
	}
	if p, err := ParseHNSWParams(map[string]string{"M": "8", "metric_type": "L2"}); err != nil || p.M != 8 || p.EfConstruction != DefaultEfConstruction {
		t.Errorf("ParseHNSWParams: %+v %v", p, err)
	}
	for _, bad := range []map[string]string{{"M": "x"}, {"M": "1"}, {"efConstruction": "-3"}, {"M": "1000"}} {
		if _, err := ParseHNSWParams(bad); !errors.Is(err, ErrBadParam) {
			t.Errorf("ParseHNSWParams(%v): %v", bad, err)
		}
	}
	if k, err := ParseKind("autoindex"); err != nil || k != KindHNSW {
		t.Errorf("ParseKind(autoindex) = %v, %v", k, err)
	}
}

func TestEmptyAndTiny(t *testing.T) {
	for _, kind := range []Kind{KindFlat, KindHNSW} {
		idx, _ := New(Config{Kind: kind, Metric: L2, Dim: 3})
		if r, err := idx.Search([]float32{1, 2, 3}, SearchParams{K: 5}); err != nil || len(r) != 0 {
			t.Fatalf("%v empty: %v %v", kind, r, err)
		}
		// Sparse ids: the store's row numbers need not be dense, and a
		// far id costs one chunk, not all chunks below it.
		for _, id := range []uint32{9000, 3, 70000, 1 << 30} {
			if err := idx.Add(id, []float32{float32(id % 100000), 0, 0}); err != nil {
				t.Fatal(err)
			}
		}
		if b := idx.Stats().Bytes; b > 64<<20 {
			t.Fatalf("%v: %d bytes for 4 sparse ids", kind, b)
		}
		var buf bytes.Buffer
		if _, err := idx.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		back, err := ReadFrom(&buf)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range []Index{idx, back} {
			r, err := x.Search([]float32{10, 0, 0}, SearchParams{K: 5})
			if err != nil || len(r) != 4 || r[0].ID != 3 || r[0].Score != 49 {
				t.Fatalf("%v sparse: %v %v", kind, r, err)
			}
		}
	}
}

// FuzzReadFrom feeds ReadFrom arbitrary bytes, both as given (almost always
// stopped by the checksum) and with a valid checksum appended, so the
// structural checks behind it are exercised too.
func FuzzReadFrom(f *testing.F) {
	for _, kind := range []Kind{KindFlat, KindHNSW} {
		idx := build(f, kind, L2, lowRank(1, 40, 4, 2, 0.1))
		var buf bytes.Buffer
		if _, err := idx.WriteTo(&buf); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes()[:buf.Len()-4])
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		// Keep allocations small: a header may claim any dimension.
		if len(body) >= 20 && binary.LittleEndian.Uint32(body[16:]) > 64 {
			return
		}
		sealed := binary.LittleEndian.AppendUint32(bytes.Clone(body), crc32.Checksum(body, castagnoli))
		for _, in := range [][]byte{body, sealed} {
			idx, err := ReadFrom(bytes.NewReader(in))
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("error not wrapping ErrCorrupt: %v", err)
				}
				continue
			}
			// Whatever loads must be searchable without panicking.
			q := make([]float32, idx.Dim())
			q[0] = 1
			if _, err := idx.Search(q, SearchParams{K: 3}); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestFlatSearchBatchDuringAdd runs FLAT's batched scan while Adds fill the
// tiles it reads; run with -race. Ids are added in descending order, so a
// tile holds written slots above slots still being written, and the scan
// must read only published ones. The pure-Go kernels are forced because
// the race detector does not see the reads of the assembly ones. Every
// result must be a published id with its exact score.
func TestFlatSearchBatchDuringAdd(t *testing.T) {
	saved := useAVX2
	useAVX2 = false
	t.Cleanup(func() { useAVX2 = saved })
	const n, d = 2 * chunkSize, 16
	data := uniform(21, n, d)
	queries := uniform(22, 5, d)
	for _, m := range []Metric{L2, IP} {
		idx, err := NewFlat(d, m)
		if err != nil {
			t.Fatal(err)
		}
		added := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			defer close(added)
			for i := n - 1; i >= 0; i-- {
				if err := idx.Add(uint32(i), data[i]); err != nil {
					t.Error(err)
					return
				}
				if i%256 == 0 {
					runtime.Gosched()
				}
			}
		})
		for r := range 2 {
			wg.Go(func() {
				for round := 0; ; round++ {
					select {
					case <-added:
						return
					default:
					}
					var p SearchParams
					p.K = 10
					if (round+r)%2 == 1 {
						p.Filter = FilterFunc(func(id uint32) bool { return id%3 != 0 })
					}
					res, err := idx.SearchBatch(queries, p)
					if err != nil {
						t.Error(err)
						return
					}
					for qi, rs := range res {
						for _, x := range rs {
							if !idx.st.isPresent(x.ID) {
								t.Errorf("%v: result %d not added yet", m, x.ID)
								return
							}
							want := oracle([][]float32{data[x.ID]}, nil, m, queries[qi], 1, nil)[0].Score
							if !closeEnough(x.Score, want) {
								t.Errorf("%v: id %d scored %v, want %v", m, x.ID, x.Score, want)
								return
							}
						}
					}
				}
			})
		}
		wg.Wait()
	}
}

// COSINE keeps the vectors as added (Vector returns them bit for bit, so
// the store needs no copy of its own), through a persist round trip, and
// searches by cosine all the same. A version-1 file, whose COSINE vectors
// were normalised, still loads: it says so (Stats.Normalised), keeps
// answering correctly, and keeps saying so after being written back.
func TestCosineKeepsVectorsAsAdded(t *testing.T) {
	data := lowRank(31, 5000, 24, 6, 0.1)
	for i, v := range data { // magnitudes far from 1
		for j := range v {
			v[j] *= float32(1 + i%7*10)
		}
	}
	queries := lowRankQueries(data, 20)
	checkSearch := func(t *testing.T, idx Index) {
		t.Helper()
		for _, q := range queries {
			got, err := idx.Search(q, SearchParams{K: 10, Ef: 200})
			if err != nil {
				t.Fatal(err)
			}
			if r := recall(got, oracle(data, nil, Cosine, q, 10, nil)); r < 0.9 {
				t.Fatalf("recall %.2f", r)
			}
		}
	}
	for _, kind := range []Kind{KindFlat, KindHNSW} {
		t.Run(kind.String(), func(t *testing.T) {
			idx := build(t, kind, Cosine, data)
			var buf bytes.Buffer
			if _, err := idx.WriteTo(&buf); err != nil {
				t.Fatal(err)
			}
			back, err := ReadFrom(&buf)
			if err != nil {
				t.Fatal(err)
			}
			for name, x := range map[string]Index{"built": idx, "reloaded": back} {
				if x.Stats().Normalised {
					t.Fatalf("%s: Normalised", name)
				}
				for _, id := range []uint32{0, 1, 4095, 4096, 4999} {
					if v, err := x.Vector(id); err != nil || !slices.Equal(v, data[id]) {
						t.Fatalf("%s: Vector(%d) = %v, %v; want %v", name, id, v, err, data[id])
					}
				}
				checkSearch(t, x)
			}

			// A version-1 file: what the previous build wrote.
			legacy, err := New(Config{Kind: kind, Metric: Cosine, Dim: 24})
			if err != nil {
				t.Fatal(err)
			}
			switch x := legacy.(type) {
			case *Flat:
				x.st.cosine = false
			case *HNSW:
				x.st.cosine = false
			}
			for i, v := range data {
				if err := legacy.Add(uint32(i), v); err != nil {
					t.Fatal(err)
				}
			}
			buf.Reset()
			if _, err := legacy.WriteTo(&buf); err != nil {
				t.Fatal(err)
			}
			v1 := buf.Bytes()
			binary.LittleEndian.PutUint32(v1[8:], 1)
			v1[14] = 0
			body := v1[:len(v1)-4]
			binary.LittleEndian.PutUint32(v1[len(body):], crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
			old, err := ReadFrom(bytes.NewReader(v1))
			if err != nil {
				t.Fatal(err)
			}
			unit, _ := prepare(data[7], 24, Cosine)
			if v, _ := old.Vector(7); !old.Stats().Normalised || !slices.Equal(v, unit) {
				t.Fatalf("version 1: Normalised %v, Vector(7) %v, want %v", old.Stats().Normalised, v, unit)
			}
			checkSearch(t, old)
			buf.Reset()
			if _, err := old.WriteTo(&buf); err != nil {
				t.Fatal(err)
			}
			again, err := ReadFrom(&buf)
			if err != nil || !again.Stats().Normalised {
				t.Fatalf("version 1 written back: %v, Normalised %v", err, err == nil && again.Stats().Normalised)
			}
			checkSearch(t, again)
		})
	}
}
