package vectordb

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/guard"
)

// BenchOptions configure RunBench, the store's part of `milvus-ha bench
// store`: durable insert throughput, recovery time and promote time.
type BenchOptions struct {
	// Dir is the data directory to use; empty means a fresh temporary one
	// (removed afterwards).
	Dir string
	// Dim is the vector dimension (default 128).
	Dim int
	// InsertVectors is how many vectors each insert run writes (default
	// 200,000); BatchSizes the rows per Insert call (default 100, 1000);
	// Writers the concurrent clients (default 4).
	InsertVectors int
	BatchSizes    []int
	Writers       int
	// RecoveryRows sizes the recovery / promote run (default 1,000,000;
	// negative skips it). RecoveryIndex is its index (default HNSW) and
	// RecoveryMetric the index's metric (default L2).
	RecoveryRows   int
	RecoveryIndex  IndexType
	RecoveryMetric Metric
	// DropCaches makes the recovery cold (drops the page cache; root only).
	DropCaches bool
}

// InsertBench is one insert run.
type InsertBench struct {
	Batch, Writers, Vectors int
	Seconds                 float64
	VectorsPerSec           float64
}

// BenchResult is what RunBench measured.
type BenchResult struct {
	Dim    int
	Insert []InsertBench
	// The recovery run: rows, index build time (background builder), time
	// to write a checkpoint, time to open the directory again (checkpoint
	// load + log replay), resident memory afterwards, and the time a warm
	// standby took to Promote.
	RecoveryRows      int
	RecoveryIndex     IndexType
	RecoveryMetric    Metric
	BuildSeconds      float64
	CheckpointSeconds float64
	RecoverySeconds   float64
	RecoveryCold      bool
	RSSBytes          int64
	PromoteSeconds    float64
	PromoteTailRows   int
}

// benchTiming is a long lease (10 s): the bench saturates the CPUs and
// the disk, on machines that may be shared, and its takeovers are clean
// handovers (Close releases the lease), so the length costs nothing.
var benchTiming = func() guard.Timing {
	t, _ := guard.PresetTiming(guard.PresetSafe, time.Second)
	return t
}()

func benchSchema(name string, dim int) Schema {
	return Schema{Name: name, Fields: []Field{
		{Name: "id", Type: TypeInt64, IsPrimary: true, AutoID: true},
		{Name: "vec", Type: TypeFloatVector, Dim: dim},
	}}
}

// benchBatch makes n random rows (low-rank-ish: uniform is enough for
// write and recovery costs).
func benchBatch(rng *rand.Rand, n, dim int) *Batch {
	v := make([]float32, n*dim)
	for i := range v {
		v[i] = rng.Float32()*2 - 1
	}
	return &Batch{Columns: []Column{{Name: "vec", Type: TypeFloatVector, Dim: dim, Vectors: v}}}
}

// RunBench runs the store benchmarks and prints a report to out.
func RunBench(ctx context.Context, o BenchOptions, out io.Writer) (BenchResult, error) {
	var res BenchResult
	if o.Dim == 0 {
		o.Dim = 128
	}
	if o.InsertVectors == 0 {
		o.InsertVectors = 200_000
	}
	if len(o.BatchSizes) == 0 {
		o.BatchSizes = []int{100, 1000}
	}
	if o.Writers == 0 {
		o.Writers = 4
	}
	if o.RecoveryRows == 0 {
		o.RecoveryRows = 1_000_000
	}
	if o.RecoveryIndex == "" {
		o.RecoveryIndex = IndexHNSW
	}
	if o.RecoveryMetric == "" {
		o.RecoveryMetric = MetricL2
	}
	res.Dim = o.Dim
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "vectordb-bench-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	// Warnings and errors (a lost lease, say) still reach stderr.
	quiet := Options{NodeID: "bench-a", Timing: benchTiming,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	fmt.Fprintf(out, "store benchmark in %s (GOMAXPROCS %d)\n", dir, runtime.GOMAXPROCS(0))

	for i, bs := range o.BatchSizes {
		for _, writers := range []int{1, o.Writers} {
			r, err := benchInsert(ctx, fmt.Sprintf("%s/insert-%d-%d", dir, i, writers), quiet, o.Dim, bs, writers, o.InsertVectors)
			if err != nil {
				return res, err
			}
			res.Insert = append(res.Insert, r)
			fmt.Fprintf(out, "durable insert  %dd  batch %5d  writers %d: %9.0f vectors/s  (%d vectors in %.2fs)\n",
				o.Dim, bs, writers, r.VectorsPerSec, r.Vectors, r.Seconds)
		}
	}
	if o.RecoveryRows > 0 {
		if err := benchRecovery(ctx, dir+"/recovery", quiet, o, &res, out); err != nil {
			return res, err
		}
	}
	fmt.Fprintln(out)
	res.writeTable(out)
	return res, nil
}

// Targets of issue 3 (recovery and memory are stated for 1M × 128, HNSW
// M=16).
const (
	targetInsertPerSec  = 50_000
	targetRecoverySecs  = 10
	targetPromoteSecs   = 0.1
	targetRSSBytes      = 1 << 30
	targetRecoveryRows  = 1_000_000
	targetRecoveryLabel = "1M×128"
)

// writeTable prints the results with the targets beside them. Recovery
// time and memory are judged only at the targets' size; smaller runs show
// the memory scaled linearly to 1M rows as a hint.
func (r BenchResult) writeTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "store\tresult\ttarget (issue 3)\tmet\n")
	verdict := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "NO"
	}
	for _, in := range r.Insert {
		fmt.Fprintf(tw, "durable insert %dd, batch %d, %d writer(s)\t%.0f vectors/s\t≥ %d vectors/s\t%s\n",
			r.Dim, in.Batch, in.Writers, in.VectorsPerSec, targetInsertPerSec, verdict(in.VectorsPerSec >= targetInsertPerSec))
	}
	if r.RecoveryRows > 0 {
		atSize := r.RecoveryRows >= targetRecoveryRows && r.Dim == 128
		// judge gives the verdict, or why the run cannot be judged.
		judge := func(ok bool, whyNot string) string {
			switch {
			case !atSize:
				return "n/a (run at " + targetRecoveryLabel + ": --million)"
			case whyNot != "":
				return "n/a (" + whyNot + ")"
			}
			return verdict(ok)
		}
		set := fmt.Sprintf("%d×%d %s %s", r.RecoveryRows, r.Dim, r.RecoveryIndex, r.RecoveryMetric)
		fmt.Fprintf(tw, "index build, %s (background)\t%.1f s\t-\t\n", set, r.BuildSeconds)
		fmt.Fprintf(tw, "checkpoint write\t%.2f s\t-\t\n", r.CheckpointSeconds)
		cache := "warm page cache"
		if r.RecoveryCold {
			cache = "cold page cache"
		}
		fmt.Fprintf(tw, "recovery (%s)\t%.2f s\t≤ %d s cold at %s\t%s\n", cache, r.RecoverySeconds,
			targetRecoverySecs, targetRecoveryLabel, judge(r.RecoverySeconds <= targetRecoverySecs, map[bool]string{false: "warm: --cold"}[r.RecoveryCold]))
		mem := fmt.Sprintf("%d MiB", r.RSSBytes>>20)
		if !atSize {
			mem += fmt.Sprintf(" (≈ %d MiB per 1M rows)", r.RSSBytes*targetRecoveryRows/int64(r.RecoveryRows)>>20)
		}
		fmt.Fprintf(tw, "resident memory after recovery\t%s\t≤ 1 GiB at %s, HNSW M=16\t%s\n", mem, targetRecoveryLabel,
			judge(r.RSSBytes <= targetRSSBytes, map[bool]string{true: "target is for HNSW"}[r.RecoveryIndex == IndexFLAT]))
		fmt.Fprintf(tw, "promote, warm standby (%d-row tail)\t%.1f ms\t≤ %.0f ms\t%s\n", r.PromoteTailRows,
			r.PromoteSeconds*1000, targetPromoteSecs*1000, verdict(r.PromoteSeconds <= targetPromoteSecs))
	}
	tw.Flush()
}

func benchInsert(ctx context.Context, dir string, opts Options, dim, batch, writers, total int) (InsertBench, error) {
	r := InsertBench{Batch: batch, Writers: writers}
	db, err := Open(ctx, dir, opts)
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	defer db.Close()
	if err := db.CreateCollection(ctx, benchSchema("bench", dim)); err != nil {
		return r, err
	}
	// Pre-generate the batches so the clock measures the store only.
	per := total / writers / batch
	batches := make([][]*Batch, writers)
	for w := range batches {
		rng := rand.New(rand.NewPCG(uint64(w), 1))
		for range per {
			batches[w] = append(batches[w], benchBatch(rng, batch, dim))
		}
	}
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	start := time.Now()
	for w := range writers {
		wg.Go(func() {
			for _, b := range batches[w] {
				if _, err := db.Insert(ctx, "bench", b); err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	wg.Wait()
	r.Seconds = time.Since(start).Seconds()
	if p := firstErr.Load(); p != nil {
		return r, *p
	}
	r.Vectors = per * writers * batch
	r.VectorsPerSec = float64(r.Vectors) / r.Seconds
	return r, nil
}

func benchRecovery(ctx context.Context, dir string, opts Options, o BenchOptions, res *BenchResult, out io.Writer) error {
	defer os.RemoveAll(dir)
	n := o.RecoveryRows
	res.RecoveryRows, res.RecoveryIndex, res.RecoveryMetric = n, o.RecoveryIndex, o.RecoveryMetric
	db, err := Open(ctx, dir, opts)
	if err != nil {
		return err
	}
	defer func() { db.Close() }()
	if err := db.CreateCollection(ctx, benchSchema("rec", o.Dim)); err != nil {
		return err
	}
	if err := db.CreateIndex(ctx, "rec", "vec", IndexParams{Type: o.RecoveryIndex, Metric: o.RecoveryMetric}); err != nil {
		return err
	}
	if err := db.Load(ctx, "rec"); err != nil {
		return err
	}
	start := time.Now()
	rng := rand.New(rand.NewPCG(42, 42))
	for done := 0; done < n; done += 1000 {
		if _, err := db.Insert(ctx, "rec", benchBatch(rng, min(1000, n-done), o.Dim)); err != nil {
			return err
		}
	}
	for {
		ix, err := db.DescribeIndex("rec", "")
		if err != nil {
			return err
		}
		if ix[0].IndexedRows >= int64(n) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	res.BuildSeconds = time.Since(start).Seconds()
	fmt.Fprintf(out, "recovery set    %d × %dd, %s %s index built in %.1fs\n", n, o.Dim, o.RecoveryIndex, o.RecoveryMetric, res.BuildSeconds)
	start = time.Now()
	if err := db.Checkpoint(ctx); err != nil {
		return err
	}
	res.CheckpointSeconds = time.Since(start).Seconds()
	// A tail of log after the checkpoint, as a crash would leave it.
	for range 10 {
		if _, err := db.Insert(ctx, "rec", benchBatch(rng, 1000, o.Dim)); err != nil {
			return err
		}
	}
	db.Close()
	runtime.GC()
	debug.FreeOSMemory()
	if o.DropCaches {
		res.RecoveryCold = dropCaches() == nil
	}
	base := rssBytes()
	start = time.Now()
	db, err = Open(ctx, dir, opts)
	if err != nil {
		return err
	}
	res.RecoverySeconds = time.Since(start).Seconds()
	runtime.GC()
	res.RSSBytes = rssBytes() - base
	cnt, err := db.Count(ctx, "rec", "", nil)
	if err != nil || cnt != int64(n+10_000) {
		return fmt.Errorf("after recovery: %d rows, %v; want %d", cnt, err, n+10_000)
	}
	fmt.Fprintf(out, "checkpoint      %.2fs\n", res.CheckpointSeconds)
	fmt.Fprintf(out, "recovery        %.2fs (%s page cache), resident memory %d MiB\n", res.RecoverySeconds,
		map[bool]string{true: "cold", false: "warm"}[res.RecoveryCold], res.RSSBytes>>20)

	// Warm standby: it follows the primary; the primary writes a little
	// more and hands over; Promote applies only the unread tail.
	sbOpts := opts
	sbOpts.NodeID, sbOpts.Mode = "bench-b", Standby
	sb, err := Open(ctx, dir, sbOpts)
	if err != nil {
		return err
	}
	defer sb.Close()
	res.PromoteTailRows = 5000
	for range 5 {
		if _, err := db.Insert(ctx, "rec", benchBatch(rng, 1000, o.Dim)); err != nil {
			return err
		}
	}
	db.Close()
	start = time.Now()
	if err := sb.Promote(ctx); err != nil {
		return err
	}
	res.PromoteSeconds = time.Since(start).Seconds()
	if cnt, err := sb.Count(ctx, "rec", "", nil); err != nil || cnt != int64(n+15_000) {
		return fmt.Errorf("after promote: %d rows, %v; want %d", cnt, err, n+15_000)
	}
	fmt.Fprintf(out, "promote         %.1f ms (warm standby, last %d rows written just before the handover)\n",
		res.PromoteSeconds*1000, res.PromoteTailRows)
	return nil
}

// rssBytes is the process's resident set size (0 if unknown).
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func dropCaches() error {
	return os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0o200)
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
