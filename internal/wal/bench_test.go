package wal

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/guard"
)

// BenchmarkAppend measures durable group-commit throughput: each op is one
// acknowledged Append (write + fdatasync shared by the batch + OWNER pread
// through a real guard). A 51,200-byte payload is a batch of 100 128-d
// float32 vectors; 512,000 bytes is 1,000. vectors/s counts 128-d vectors
// made durable per second.
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{51_200, 512_000} {
		for _, writers := range []int{1, 8, 64} {
			b.Run(fmt.Sprintf("payload=%dKB/writers=%d", size/1024, writers), func(b *testing.B) {
				data := b.TempDir()
				g, err := guard.Open(data, "bench", guard.Timing{HeartbeatInterval: time.Second, LeaseTimeout: time.Hour,
					SafetyMargin: time.Minute, PollInterval: time.Second})
				if err != nil {
					b.Fatal(err)
				}
				defer g.Close()
				e, err := g.Acquire(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				w, err := OpenPrimary(data+"/wal", e, g, Options{})
				if err != nil {
					b.Fatal(err)
				}
				defer w.Close()
				p := payload(1, size)
				b.SetBytes(int64(size))
				b.ResetTimer()
				var wg sync.WaitGroup
				per := (b.N + writers - 1) / writers
				for i := range writers {
					n := min(per, b.N-i*per)
					wg.Add(1)
					go func() {
						defer wg.Done()
						for range n {
							if _, err := w.Append(context.Background(), p); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				b.StopTimer()
				sec := b.Elapsed().Seconds()
				b.ReportMetric(float64(b.N)*float64(size/512)/sec, "vectors/s")
				st := w.Stats()
				b.ReportMetric(float64(st.Appends)/float64(max(st.Batches, 1)), "records/sync")
			})
		}
	}
}
