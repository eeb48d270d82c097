package vectordb

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestReleasedChunks: with an L2 index, full chunks live only in the index;
// reads, checkpoints, recovery and DropIndex must not notice.
func TestReleasedChunks(t *testing.T) {
	ctx := context.Background()
	l := newMemLog()
	db := openMem(t, l, Primary)
	const dim, n = 4, 2*chunkRows + 100
	if err := db.CreateCollection(ctx, Schema{Name: "r", Fields: []Field{
		{Name: "id", Type: TypeInt64, IsPrimary: true},
		{Name: "v", Type: TypeFloatVector, Dim: dim},
	}}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateIndex(ctx, "r", "v", IndexParams{Type: IndexFLAT, Metric: MetricL2}); err != nil {
		t.Fatal(err)
	}
	if err := db.Load(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 3))
	want := make([]float32, 0, n*dim)
	for done := 0; done < n; done += 1000 {
		b := &Batch{Columns: []Column{{Name: "id", Type: TypeInt64}, {Name: "v", Type: TypeFloatVector, Dim: dim}}}
		for i := done; i < min(n, done+1000); i++ {
			b.Columns[0].Ints = append(b.Columns[0].Ints, int64(i))
			for range dim {
				b.Columns[1].Vectors = append(b.Columns[1].Vectors, rng.Float32())
			}
		}
		want = append(want, b.Columns[1].Vectors...)
		if _, err := db.Insert(ctx, "r", b); err != nil {
			t.Fatal(err)
		}
	}
	waitIndexed := func(db *DB) {
		for {
			ix, err := db.DescribeIndex("r", "")
			if err != nil {
				t.Fatal(err)
			}
			if ix[0].IndexedRows == n {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	check := func(db *DB, released int) {
		t.Helper()
		keys := Column{Type: TypeInt64}
		for i := range int64(n) {
			keys.Ints = append(keys.Ints, i)
		}
		b, err := db.Get(ctx, "r", keys, []string{"v"})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(b.Column("v").Vectors, want) {
			t.Fatal("vectors read back differ")
		}
		res, err := db.Search(ctx, "r", SearchRequest{Vectors: [][]float32{want[5*dim : 6*dim]}, TopK: 1})
		if err != nil || res[0].IDs.Ints[0] != 5 {
			t.Fatalf("search for row 5: %+v, %v", res, err)
		}
		c, _ := db.lookup("r")
		c.mu.RLock()
		nilChunks := 0
		for _, ch := range c.field("v").vecs.chunks {
			if ch == nil {
				nilChunks++
			}
		}
		c.mu.RUnlock()
		if nilChunks != released {
			t.Fatalf("%d chunks released, want %d", nilChunks, released)
		}
	}
	waitIndexed(db)
	check(db, 2)
	if err := db.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	db = reopen(t, db, l)
	check(db, 2) // loaded without keeping the covered chunks
	if err := db.Release(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	if err := db.DropIndex(ctx, "r", "v"); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateIndex(ctx, "r", "v", IndexParams{Type: IndexFLAT, Metric: MetricCosine}); err != nil {
		t.Fatal(err)
	}
	if err := db.Load(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	waitIndexed(db)
	check(db, 0) // restored when the L2 index went; COSINE keeps its own copy
	if err := db.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	db = reopen(t, db, l)
	check(db, 0)
}
