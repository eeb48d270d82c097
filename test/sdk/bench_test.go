package sdk

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/milvus-io/milvus/client/v2/entity"
	"github.com/milvus-io/milvus/client/v2/index"
	"github.com/milvus-io/milvus/client/v2/milvusclient"
	"google.golang.org/protobuf/proto"

	"github.com/milvus-ha/milvus-ha/internal/milvusapi"
	"github.com/milvus-ha/milvus-ha/internal/vectordb"
)

// BenchmarkAPI measures what the wire costs: k=10 searches on 128-d
// vectors through the official SDK over gRPC to a `milvus-ha serve`
// process, beside the same search called in-process (the MilvusService
// implementation without the wire, and the store alone), at concurrency
// 1, 4 and 16; and insert throughput through the SDK at batch 1,000.
//
//	cd test/sdk && go test -run '^$' -bench BenchmarkAPI -benchtime 3000x
//
// Each search sub-benchmark reports qps, p50-µs and p99-µs.
func BenchmarkAPI(b *testing.B) {
	const (
		dim   = 128
		rows  = 20_000
		batch = 1_000
		k     = 10
	)
	r := rand.New(rand.NewSource(42))
	vecs := randVecs(r, rows, dim)
	queries := randVecs(r, 256, dim)
	ctx := context.Background()

	s := startServer(b, "")
	c := s.client(b, nil)
	sch := entity.NewSchema().WithName("bench").
		WithField(entity.NewField().WithName("id").WithDataType(entity.FieldTypeInt64).WithIsPrimaryKey(true).WithIsAutoID(true)).
		WithField(entity.NewField().WithName("v").WithDataType(entity.FieldTypeFloatVector).WithDim(dim))
	if err := c.CreateCollection(ctx, milvusclient.NewCreateCollectionOption("bench", sch)); err != nil {
		b.Fatal(err)
	}
	it, err := c.CreateIndex(ctx, milvusclient.NewCreateIndexOption("bench", "v", index.NewHNSWIndex(entity.L2, 16, 200)))
	if err != nil {
		b.Fatal(err)
	}
	if err := it.Await(ctx); err != nil {
		b.Fatal(err)
	}

	b.Run("insert/batch=1000", func(b *testing.B) {
		// Inserts go to a separate collection so the search data stays fixed.
		name := fmt.Sprintf("ins%d", b.N)
		if err := c.CreateCollection(ctx, milvusclient.NewCreateCollectionOption(name, sch.WithName(name))); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			from := (i * batch) % rows
			if _, err := c.Insert(ctx, milvusclient.NewColumnBasedInsertOption(name).WithFloatVectorColumn("v", dim, vecs[from:from+batch])); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "rows/s")
	})
	sch.WithName("bench")

	for from := 0; from < rows; from += batch {
		if _, err := c.Insert(ctx, milvusclient.NewColumnBasedInsertOption("bench").WithFloatVectorColumn("v", dim, vecs[from:from+batch])); err != nil {
			b.Fatal(err)
		}
	}
	lt, err := c.LoadCollection(ctx, milvusclient.NewLoadCollectionOption("bench"))
	if err != nil {
		b.Fatal(err)
	}
	if err := lt.Await(ctx); err != nil {
		b.Fatal(err)
	}
	waitIndexed(b, c, "bench", "v", rows)

	// The same data in-process.
	db, err := vectordb.Open(ctx, b.TempDir(), vectordb.Options{NodeID: "bench", LeaseTimeout: 10 * time.Second, HeartbeatInterval: 500 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.CreateCollection(ctx, vectordb.Schema{Name: "bench", AutoID: true, Fields: []vectordb.Field{
		{Name: "id", Type: vectordb.TypeInt64, IsPrimary: true, AutoID: true},
		{Name: "v", Type: vectordb.TypeFloatVector, Dim: dim},
	}}); err != nil {
		b.Fatal(err)
	}
	if err := db.CreateIndex(ctx, "bench", "v", vectordb.IndexParams{Type: vectordb.IndexHNSW, Metric: vectordb.MetricL2, M: 16, EfConstruction: 200}); err != nil {
		b.Fatal(err)
	}
	for from := 0; from < rows; from += batch {
		flat := make([]float32, 0, batch*dim)
		for _, v := range vecs[from : from+batch] {
			flat = append(flat, v...)
		}
		if _, err := db.Insert(ctx, "bench", &vectordb.Batch{Columns: []vectordb.Column{{Name: "v", Type: vectordb.TypeFloatVector, Dim: dim, Vectors: flat}}}); err != nil {
			b.Fatal(err)
		}
	}
	if err := db.Load(ctx, "bench"); err != nil {
		b.Fatal(err)
	}
	for {
		infos, err := db.DescribeIndex("bench", "v")
		if err != nil {
			b.Fatal(err)
		}
		if infos[0].IndexedRows >= rows {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	svc := milvusapi.New(db, milvusapi.Options{}).MilvusService()

	searchers := map[string]func(q []float32) error{
		"grpc-sdk": func(q []float32) error {
			_, err := c.Search(ctx, milvusclient.NewSearchOption("bench", k, []entity.Vector{entity.FloatVector(q)}))
			return err
		},
		"inproc-service": func(q []float32) error {
			resp, err := svc.Search(ctx, searchRequest(q, k))
			if err == nil && resp.GetStatus().GetCode() != 0 {
				err = fmt.Errorf("%s", resp.GetStatus().GetReason())
			}
			return err
		},
		"inproc-store": func(q []float32) error {
			_, err := db.Search(ctx, "bench", vectordb.SearchRequest{Field: "v", Vectors: [][]float32{q}, TopK: k})
			return err
		},
	}
	for _, path := range []string{"grpc-sdk", "inproc-service", "inproc-store"} {
		for _, conc := range []int{1, 4, 16} {
			b.Run(fmt.Sprintf("search/%s/c=%d", path, conc), func(b *testing.B) {
				runConcurrent(b, conc, queries, searchers[path])
			})
		}
	}
}

// searchRequest is the request the SDK sends for one k-NN query.
func searchRequest(q []float32, k int) *milvuspb.SearchRequest {
	b := make([]byte, 4*len(q))
	for i, f := range q {
		u := math.Float32bits(f)
		b[4*i], b[4*i+1], b[4*i+2], b[4*i+3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
	}
	pg, _ := proto.Marshal(&commonpb.PlaceholderGroup{Placeholders: []*commonpb.PlaceholderValue{
		{Tag: "$0", Type: commonpb.PlaceholderType_FloatVector, Values: [][]byte{b}}}})
	return &milvuspb.SearchRequest{
		CollectionName: "bench", Nq: 1, DslType: commonpb.DslType_BoolExprV1,
		SearchInput: &milvuspb.SearchRequest_PlaceholderGroup{PlaceholderGroup: pg},
		SearchParams: []*commonpb.KeyValuePair{
			{Key: "anns_field", Value: ""}, {Key: "topk", Value: fmt.Sprint(k)}, {Key: "offset", Value: "0"},
			{Key: "metric_type", Value: ""}, {Key: "round_decimal", Value: "-1"}, {Key: "ignore_growing", Value: "false"},
			{Key: "params", Value: "{}"},
		},
	}
}

// runConcurrent runs b.N calls spread over conc goroutines and reports
// throughput and latency percentiles.
func runConcurrent(b *testing.B, conc int, queries [][]float32, call func([]float32) error) {
	lat := make([]time.Duration, b.N)
	var wg sync.WaitGroup
	var errOnce sync.Once
	var firstErr error
	b.ResetTimer()
	for g := 0; g < conc; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < b.N; i += conc {
				t0 := time.Now()
				if err := call(queries[i%len(queries)]); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				lat[i] = time.Since(t0)
			}
		}(g)
	}
	wg.Wait()
	b.StopTimer()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "qps")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(0, "ns/op")
}

func waitIndexed(b *testing.B, c *milvusclient.Client, coll, idx string, rows int64) {
	for {
		d, err := c.DescribeIndex(context.Background(), milvusclient.NewDescribeIndexOption(coll, idx))
		if err != nil {
			b.Fatal(err)
		}
		if d.IndexedRows >= rows {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
