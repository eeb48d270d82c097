package index

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// BenchOptions configures RunBench. Zero values take the defaults noted.
type BenchOptions struct {
	// Datasets to run: "fmnist" (Fashion-MNIST 60k×784 from the Debian
	// package dataset-fashion-mnist) and/or "lowrank" (synthetic 100k×128,
	// intrinsic dimension 16 plus 0.1 noise, as in vector-perf.md).
	// Default both.
	Datasets []string
	// FashionMNISTDir holds train-images-idx3-ubyte.gz and
	// t10k-images-idx3-ubyte.gz; default /usr/share/datasets/fashion-mnist.
	FashionMNISTDir string
	LowRankN        int   // default 100000
	Queries         int   // default 1000
	K               int   // default 10
	Efs             []int // default 16 32 64 128 256
	M               int   // default DefaultM
	EfConstruction  int   // default DefaultEfConstruction
	// Python runs the hnswlib baseline (Debian python3-hnswlib); default
	// /usr/bin/python3, "none" skips it.
	Python string
	// Million also builds 1M×128 low-rank with HNSW and reports build time,
	// resident memory, file size and load (cold-recovery) time.
	Million bool
}

func (o *BenchOptions) defaults() {
	if len(o.Datasets) == 0 {
		o.Datasets = []string{"fmnist", "lowrank"}
	}
	if o.FashionMNISTDir == "" {
		o.FashionMNISTDir = "/usr/share/datasets/fashion-mnist"
	}
	if o.LowRankN == 0 {
		o.LowRankN = 100000
	}
	if o.Queries == 0 {
		o.Queries = 1000
	}
	if o.K == 0 {
		o.K = 10
	}
	if len(o.Efs) == 0 {
		o.Efs = []int{16, 32, 64, 128, 256}
	}
	if o.M == 0 {
		o.M = DefaultM
	}
	if o.EfConstruction == 0 {
		o.EfConstruction = DefaultEfConstruction
	}
	if o.Python == "" {
		o.Python = "/usr/bin/python3"
	}
}

// benchData is a base set and queries, each row-major in one slice.
type benchData struct {
	name        string
	dim         int
	base, query []float32
}

func (d *benchData) rows(s []float32) [][]float32 {
	out := make([][]float32, len(s)/d.dim)
	for i := range out {
		out[i] = s[i*d.dim : (i+1)*d.dim : (i+1)*d.dim]
	}
	return out
}

// RunBench measures FLAT and HNSW on the chosen data sets, runs hnswlib on
// the same data and writes a report to w.
func RunBench(ctx context.Context, o BenchOptions, w io.Writer) error {
	o.defaults()
	fmt.Fprintf(w, "milvus-ha index bench: %s/%s, GOMAXPROCS=%d, kernel=%s, k=%d, M=%d, efConstruction=%d\n",
		runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), kernelName(), o.K, o.M, o.EfConstruction)
	for _, name := range o.Datasets {
		var d *benchData
		var err error
		switch name {
		case "fmnist":
			d, err = loadFashionMNIST(o.FashionMNISTDir, o.Queries)
		case "lowrank":
			d = lowRankData(o.LowRankN, 128, 16, o.Queries)
		default:
			err = fmt.Errorf("unknown data set %q (want fmnist or lowrank)", name)
		}
		if err != nil {
			return err
		}
		if err := benchDataset(ctx, o, d, w); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	if o.Million {
		return benchMillion(ctx, o, w)
	}
	return nil
}

func benchDataset(ctx context.Context, o BenchOptions, d *benchData, w io.Writer) error {
	base, queries := d.rows(d.base), d.rows(d.query)
	fmt.Fprintf(w, "\n== %s: %d × %d, %d queries ==\n", d.name, len(base), d.dim, len(queries))

	flat, _ := NewFlat(d.dim, L2)
	for i, v := range base {
		if err := flat.Add(uint32(i), v); err != nil {
			return err
		}
	}
	// Batched FLAT gives the ground truth (tested exact against a naive
	// oracle) and its own throughput.
	const batch = 64
	workers := scanWorkers(flat.st, flat.st.limit.Load())
	truth := make([][]Result, 0, len(queries))
	start, cpu0 := time.Now(), processCPU()
	for i := 0; i < len(queries); i += batch {
		r, err := flat.SearchBatch(queries[i:min(i+batch, len(queries))], SearchParams{K: o.K})
		if err != nil {
			return err
		}
		truth = append(truth, r...)
	}
	batchWall, batchCPU := time.Since(start), processCPU()-cpu0
	nSingle := min(len(queries), 300)
	var flatRecall float64
	start, cpu0 = time.Now(), processCPU()
	for i := 0; i < nSingle; i++ {
		r, err := flat.Search(queries[i], SearchParams{K: o.K})
		if err != nil {
			return err
		}
		flatRecall += recallOf(r, truth[i])
	}
	singleWall, singleCPU := time.Since(start), processCPU()-cpu0
	gb := float64(len(base)*d.dim*4) / 1e9
	// On a shared machine wall time counts other processes; the CPU-time
	// figure is what the same work gives with `workers` cores to itself.
	qps := func(n int, wall, cpu time.Duration) (float64, float64) {
		return float64(n) / wall.Seconds(), float64(n) * float64(workers) / cpu.Seconds()
	}
	sw, sc := qps(nSingle, singleWall, singleCPU)
	bw, bc := qps(len(queries), batchWall, batchCPU)
	fmt.Fprintf(w, "FLAT one query at a time (%d cores): %.0f QPS wall (%.1f GB/s), %.0f QPS by CPU time; recall %.3f\n",
		workers, sw, sw*gb, sc, flatRecall/float64(nSingle))
	fmt.Fprintf(w, "FLAT batched, nq=%d (%d cores): %.0f QPS wall, %.0f QPS by CPU time\n", batch, workers, bw, bc)
	if err := ctx.Err(); err != nil {
		return err
	}

	h, _ := NewHNSW(d.dim, L2, HNSWParams{M: o.M, EfConstruction: o.EfConstruction, Seed: 1})
	ids := make([]uint32, len(base))
	for i := range ids {
		ids[i] = uint32(i)
	}
	start = time.Now()
	if err := h.AddBatch(ids, base); err != nil {
		return err
	}
	build := time.Since(start)
	fmt.Fprintf(w, "HNSW build (%d goroutines): %.1f s (%.0f inserts/s), %.0f MiB\n",
		runtime.GOMAXPROCS(0), build.Seconds(), float64(len(base))/build.Seconds(), float64(h.Stats().Bytes)/(1<<20))

	type point struct{ recall, qps float64 }
	goPts := map[int]point{}
	for _, ef := range o.Efs {
		if err := ctx.Err(); err != nil {
			return err
		}
		var rec float64
		// Best of three passes, timed by thread CPU time (see threadCPU).
		best := time.Duration(math.MaxInt64)
		runtime.LockOSThread()
		for pass := 0; pass < 3; pass++ {
			rec = 0
			c0 := threadCPU()
			for i, q := range queries {
				r, err := h.Search(q, SearchParams{K: o.K, Ef: ef})
				if err != nil {
					runtime.UnlockOSThread()
					return err
				}
				rec += recallOf(r, truth[i])
			}
			best = min(best, threadCPU()-c0)
		}
		runtime.UnlockOSThread()
		goPts[ef] = point{rec / float64(len(queries)), float64(len(queries)) / best.Seconds()}
	}

	libPts := map[int]point{}
	var libBuild float64
	libNote := "skipped"
	if o.Python != "none" {
		res, err := runHnswlib(ctx, o, d)
		if err != nil {
			libNote = "failed: " + err.Error()
		} else {
			libNote = ""
			libBuild = res.build
			for _, p := range res.points {
				var rec float64
				for i := range queries {
					rec += recallIDs(p.labels[i*o.K:(i+1)*o.K], truth[i])
				}
				libPts[p.ef] = point{rec / float64(len(queries)), p.qps}
			}
		}
	}
	if libNote != "" {
		fmt.Fprintf(w, "hnswlib baseline: %s\n", libNote)
	} else {
		fmt.Fprintf(w, "hnswlib build (2 threads): %.1f s (%.0f inserts/s)\n", libBuild, float64(len(base))/libBuild)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "HNSW search: one query at a time on one thread, QPS by thread CPU time, best of 3")
	fmt.Fprintln(tw, "ef\tgo recall@10\tgo QPS\thnswlib recall@10\thnswlib QPS\tratio go/hnswlib\t")
	for _, ef := range o.Efs {
		g, l := goPts[ef], libPts[ef]
		ratio := "-"
		if l.qps > 0 {
			ratio = fmt.Sprintf("%.2f", g.qps/l.qps)
		}
		fmt.Fprintf(tw, "%d\t%.4f\t%.0f\t%.4f\t%.0f\t%s\t\n", ef, g.recall, g.qps, l.recall, l.qps, ratio)
	}
	tw.Flush()
	// The target compares the two at the first ef reaching recall 0.95.
	at := func(pts map[int]point) (int, point) {
		for _, ef := range o.Efs {
			if pts[ef].recall >= 0.95 {
				return ef, pts[ef]
			}
		}
		return 0, point{}
	}
	gef, gp := at(goPts)
	lef, lp := at(libPts)
	if gef > 0 && lef > 0 {
		fmt.Fprintf(w, "at recall ≥ 0.95: go ef=%d %.0f QPS, hnswlib ef=%d %.0f QPS → ratio %.2f\n",
			gef, gp.qps, lef, lp.qps, gp.qps/lp.qps)
	}
	return nil
}

func recallOf(got, truth []Result) float64 {
	ids := make([]uint64, len(got))
	for i, r := range got {
		ids[i] = uint64(r.ID)
	}
	return recallIDs(ids, truth)
}

func recallIDs(got []uint64, truth []Result) float64 {
	if len(truth) == 0 {
		return 1
	}
	n := 0
	for _, t := range truth {
		for _, g := range got {
			if g == uint64(t.ID) {
				n++
				break
			}
		}
	}
	return float64(n) / float64(len(truth))
}

// lowRankData draws vectors x = z·B + 0.1·ε with z ∈ N(0,1)^r, B a fixed
// random r×d Gaussian basis scaled by 1/√r, and ε ∈ N(0,1)^d: intrinsic
// dimension r with noise, which behaves like real embeddings.
func lowRankData(n, d, r, nq int) *benchData {
	rng := rand.New(rand.NewPCG(2024, 16))
	basis := make([]float32, r*d)
	for i := range basis {
		basis[i] = float32(rng.NormFloat64() / float64(sqrtInt(r)))
	}
	gen := func(m int) []float32 {
		out := make([]float32, m*d)
		z := make([]float32, r)
		for i := 0; i < m; i++ {
			v := out[i*d : (i+1)*d]
			for k := range z {
				z[k] = float32(rng.NormFloat64())
			}
			for k, zk := range z {
				b := basis[k*d : (k+1)*d]
				for j := range v {
					v[j] += zk * b[j]
				}
			}
			for j := range v {
				v[j] += 0.1 * float32(rng.NormFloat64())
			}
		}
		return out
	}
	return &benchData{name: fmt.Sprintf("lowrank%d (n=%d)", d, n), dim: d, base: gen(n), query: gen(nq)}
}

func sqrtInt(r int) float64 {
	x := float64(r)
	g := x
	for range 30 {
		g = (g + x/g) / 2
	}
	return g
}

// loadFashionMNIST reads the 60k training images as the base set and the
// first nq test images as queries (ann-benchmarks' fashion-mnist-784).
func loadFashionMNIST(dir string, nq int) (*benchData, error) {
	base, dim, err := readIDXImages(filepath.Join(dir, "train-images-idx3-ubyte.gz"), 0)
	if err != nil {
		return nil, fmt.Errorf("fashion-mnist (apt-get install dataset-fashion-mnist): %w", err)
	}
	query, _, err := readIDXImages(filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), nq)
	if err != nil {
		return nil, err
	}
	return &benchData{name: "fmnist784", dim: dim, base: base, query: query}, nil
}

// readIDXImages parses a gzipped IDX3 file (magic 0x00000803, count, rows,
// cols, then count·rows·cols unsigned bytes) into float32 rows, at most max
// rows if max > 0.
func readIDXImages(path string, max int) ([]float32, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	var hdr [16]byte
	if _, err := io.ReadFull(zr, hdr[:]); err != nil {
		return nil, 0, fmt.Errorf("%s: header: %w", path, err)
	}
	be := binary.BigEndian
	if be.Uint32(hdr[0:]) != 0x803 {
		return nil, 0, fmt.Errorf("%s: not an IDX3 image file (magic %#x)", path, be.Uint32(hdr[0:]))
	}
	n, rows, cols := int(be.Uint32(hdr[4:])), int(be.Uint32(hdr[8:])), int(be.Uint32(hdr[12:]))
	dim := rows * cols
	if n <= 0 || dim <= 0 || dim > MaxDim || n > 1<<24 {
		return nil, 0, fmt.Errorf("%s: bad shape %d×%d×%d", path, n, rows, cols)
	}
	if max > 0 && n > max {
		n = max
	}
	raw := make([]byte, n*dim)
	if _, err := io.ReadFull(zr, raw); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	out := make([]float32, len(raw))
	for i, b := range raw {
		out[i] = float32(b)
	}
	return out, dim, nil
}

// hnswlibScript builds hnswlib (2 threads, like our AddBatch) and times
// each ef with num_threads=1 over all queries: hnswlib's C++ loop with no
// per-query Python overhead, i.e. single-thread one-query-at-a-time, run in
// the calling thread so time.thread_time measures it.
const hnswlibScript = `
import sys, json, time, numpy as np, hnswlib
base_path, query_path, dim, k, M, efc, efs, out = sys.argv[1:9]
dim, k, M, efc = int(dim), int(k), int(M), int(efc)
base = np.fromfile(base_path, dtype=np.float32).reshape(-1, dim)
query = np.fromfile(query_path, dtype=np.float32).reshape(-1, dim)
p = hnswlib.Index(space='l2', dim=dim)
p.init_index(max_elements=len(base), ef_construction=efc, M=M, random_seed=1)
t = time.perf_counter()
p.add_items(base, np.arange(len(base)), num_threads=2)
print(json.dumps({"build": time.perf_counter() - t}), flush=True)
for ef in map(int, efs.split(',')):
    p.set_ef(ef)
    dt = float("inf")
    for _ in range(3):  # best of three, by thread CPU time like the Go side
        t = time.thread_time()
        labels, _ = p.knn_query(query, k=k, num_threads=1)
        dt = min(dt, time.thread_time() - t)
    path = "%s.%d" % (out, ef)
    labels.astype(np.uint64).tofile(path)
    print(json.dumps({"ef": ef, "qps": len(query) / dt, "labels": path}), flush=True)
`

type hnswlibResult struct {
	build  float64
	points []struct {
		ef     int
		qps    float64
		labels []uint64
	}
}

func runHnswlib(ctx context.Context, o BenchOptions, d *benchData) (*hnswlibResult, error) {
	dir, err := os.MkdirTemp("", "milvus-ha-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bp, qp := filepath.Join(dir, "base.f32"), filepath.Join(dir, "query.f32")
	if err := os.WriteFile(bp, f32bytes(d.base), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(qp, f32bytes(d.query), 0o600); err != nil {
		return nil, err
	}
	efs := make([]string, len(o.Efs))
	for i, ef := range o.Efs {
		efs[i] = strconv.Itoa(ef)
	}
	cmd := exec.CommandContext(ctx, o.Python, "-", bp, qp, strconv.Itoa(d.dim), strconv.Itoa(o.K),
		strconv.Itoa(o.M), strconv.Itoa(o.EfConstruction), strings.Join(efs, ","), filepath.Join(dir, "labels"))
	cmd.Stdin = strings.NewReader(hnswlibScript)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	res := &hnswlibResult{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var m struct {
			Build  *float64
			Ef     int
			QPS    float64
			Labels string
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			return nil, fmt.Errorf("hnswlib output %q: %w", line, err)
		}
		if m.Build != nil {
			res.build = *m.Build
			continue
		}
		raw, err := os.ReadFile(m.Labels)
		if err != nil {
			return nil, err
		}
		labels := make([]uint64, len(raw)/8)
		for i := range labels {
			labels[i] = binary.LittleEndian.Uint64(raw[i*8:])
		}
		res.points = append(res.points, struct {
			ef     int
			qps    float64
			labels []uint64
		}{m.Ef, m.QPS, labels})
	}
	if len(res.points) == 0 {
		return nil, errors.New("hnswlib printed no results")
	}
	return res, nil
}

// benchMillion builds 1M×128 low-rank vectors with HNSW and reports what
// the store's cold recovery and memory budget depend on.
func benchMillion(ctx context.Context, o BenchOptions, w io.Writer) error {
	const n = 1_000_000
	d := lowRankData(n, 128, 16, 200)
	base, queries := d.rows(d.base), d.rows(d.query)
	fmt.Fprintf(w, "\n== 1M × 128 (lowrank), HNSW M=%d efConstruction=%d ==\n", o.M, o.EfConstruction)
	h, _ := NewHNSW(128, L2, HNSWParams{M: o.M, EfConstruction: o.EfConstruction, Seed: 1})
	ids := make([]uint32, n)
	for i := range ids {
		ids[i] = uint32(i)
	}
	start := time.Now()
	if err := h.AddBatch(ids, base); err != nil {
		return err
	}
	build := time.Since(start)
	fmt.Fprintf(w, "build (%d goroutines): %.0f s (%.0f inserts/s)\n", runtime.GOMAXPROCS(0), build.Seconds(), n/build.Seconds())
	if err := ctx.Err(); err != nil {
		return err
	}
	// The bench's own copy of the data is dropped before measuring.
	d.base, base = nil, nil
	runtime.GC()
	debug.FreeOSMemory()
	fmt.Fprintf(w, "index memory: %.0f MiB (accounted), process RSS %s\n",
		float64(h.Stats().Bytes)/(1<<20), rss())
	f, err := os.CreateTemp("", "milvus-ha-index-*.bin")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	start = time.Now()
	size, err := h.WriteTo(f)
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "persist: %.0f MiB written+fsynced in %.2f s\n", float64(size)/(1<<20), time.Since(start).Seconds())
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	start = time.Now()
	back, err := ReadFrom(f)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "load (page cache warm, checksum + graph check): %.2f s\n", time.Since(start).Seconds())
	var rec float64
	start = time.Now()
	for _, q := range queries {
		got, err := back.Search(q, SearchParams{K: o.K, Ef: 64})
		if err != nil {
			return err
		}
		want := scanOne(h.st, L2, q, o.K, nil)
		rec += recallOf(got, results(want, o.K, L2))
	}
	fmt.Fprintf(w, "search ef=64 after load: recall@10 %.4f (200 queries, incl. exact check time %.1f s)\n",
		rec/float64(len(queries)), time.Since(start).Seconds())
	return nil
}

func rss() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "VmRSS:"))
		}
	}
	return "unknown"
}
