package vectordb

import (
	"context"
	"io"
	"os"
	"strconv"
	"testing"
)

// BenchmarkDurableInsert measures acknowledged (fdatasync'ed) 128-d inserts
// with 4 concurrent writers, batches of 100 and 1000.
func BenchmarkDurableInsert(b *testing.B) {
	for _, batch := range []int{100, 1000} {
		b.Run("batch="+strconv.Itoa(batch), func(b *testing.B) {
			r, err := benchInsert(context.Background(), b.TempDir()+"/db", Options{NodeID: "b", Timing: benchTiming, Logger: discardLogger()},
				128, batch, 4, max(b.N, 4*batch))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(r.VectorsPerSec, "vectors/s")
		})
	}
}

// TestRunBenchSmall runs the whole store benchmark on a small size, so the
// bench command's path is exercised in CI; VECTORDB_BENCH_ROWS scales it.
func TestRunBenchSmall(t *testing.T) {
	rows := 20_000
	if s := os.Getenv("VECTORDB_BENCH_ROWS"); s != "" {
		rows, _ = strconv.Atoi(s)
	}
	out := io.Discard
	if testing.Verbose() {
		out = os.Stdout
	}
	_, err := RunBench(context.Background(), BenchOptions{Dir: t.TempDir(), InsertVectors: 20_000, RecoveryRows: rows}, out)
	if err != nil {
		t.Fatal(err)
	}
}
