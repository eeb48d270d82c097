package vectordb

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

const releaseDim, releaseRows = 4, 2*chunkRows + 100

// releaseFixture is a collection "r" of releaseRows rows (key = row) with a
// vector field "v" indexed as ip; row zeroRow (if ≥ 0) is a zero vector.
// It returns the vectors inserted.
func releaseFixture(t *testing.T, db *DB, ip IndexParams, zeroRow int) []float32 {
	t.Helper()
	ctx := context.Background()
	if err := db.CreateCollection(ctx, Schema{Name: "r", Fields: []Field{
		{Name: "id", Type: TypeInt64, IsPrimary: true},
		{Name: "v", Type: TypeFloatVector, Dim: releaseDim},
	}}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateIndex(ctx, "r", "v", ip); err != nil {
		t.Fatal(err)
	}
	if err := db.Load(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 3))
	want := make([]float32, 0, releaseRows*releaseDim)
	for done := 0; done < releaseRows; done += 1000 {
		b := &Batch{Columns: []Column{{Name: "id", Type: TypeInt64}, {Name: "v", Type: TypeFloatVector, Dim: releaseDim}}}
		for i := done; i < min(releaseRows, done+1000); i++ {
			b.Columns[0].Ints = append(b.Columns[0].Ints, int64(i))
			for range releaseDim {
				x := rng.Float32()*4 + 0.5 // norms far from 1
				if i == zeroRow {
					x = 0
				}
				b.Columns[1].Vectors = append(b.Columns[1].Vectors, x)
			}
		}
		want = append(want, b.Columns[1].Vectors...)
		if _, err := db.Insert(ctx, "r", b); err != nil {
			t.Fatal(err)
		}
	}
	return want
}

func waitIndexed(t *testing.T, db *DB) {
	t.Helper()
	for {
		ix, err := db.DescribeIndex("r", "")
		if err != nil {
			t.Fatal(err)
		}
		if ix[0].IndexedRows == releaseRows {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkReleased reads every vector back exactly, finds row 5 by search,
// and counts the chunks the collection no longer holds itself.
func checkReleased(t *testing.T, db *DB, want []float32, released int) {
	t.Helper()
	ctx := context.Background()
	keys := Column{Type: TypeInt64}
	for i := range int64(releaseRows) {
		keys.Ints = append(keys.Ints, i)
	}
	b, err := db.Get(ctx, "r", keys, []string{"v"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(b.Column("v").Vectors, want) {
		t.Fatal("vectors read back differ")
	}
	res, err := db.Search(ctx, "r", SearchRequest{Vectors: [][]float32{want[5*releaseDim : 6*releaseDim]}, TopK: 1})
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

// TestReleasedChunks: full chunks the index holds live only in the index,
// for every metric (COSINE indexes keep the vectors as inserted too);
// reads, checkpoints and recovery must not notice. A chunk with a row the
// index refused (a zero vector under COSINE) stays.
func TestReleasedChunks(t *testing.T) {
	for _, tc := range []struct {
		name     string
		metric   Metric
		zeroRow  int
		released int
	}{
		{"L2", MetricL2, -1, 2},
		{"COSINE", MetricCosine, -1, 2},
		{"COSINE with a zero vector in chunk 1", MetricCosine, chunkRows + 7, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newMemLog()
			db := openMem(t, l, Primary)
			want := releaseFixture(t, db, IndexParams{Type: IndexFLAT, Metric: tc.metric}, tc.zeroRow)
			waitIndexed(t, db)
			checkReleased(t, db, want, tc.released)
			if err := db.Checkpoint(context.Background()); err != nil {
				t.Fatal(err)
			}
			db = reopen(t, db, l)
			checkReleased(t, db, want, tc.released) // loaded without keeping the covered chunks
		})
	}
}

// TestDropIndexRestoresChunks: dropping the index copies the released
// chunks back out of it, and a new index releases them again.
func TestDropIndexRestoresChunks(t *testing.T) {
	ctx := context.Background()
	l := newMemLog()
	db := openMem(t, l, Primary)
	want := releaseFixture(t, db, IndexParams{Type: IndexFLAT, Metric: MetricL2}, -1)
	waitIndexed(t, db)
	checkReleased(t, db, want, 2)
	if err := db.Release(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	if err := db.DropIndex(ctx, "r", "v"); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateIndex(ctx, "r", "v", IndexParams{Type: IndexHNSW, Metric: MetricCosine}); err != nil {
		t.Fatal(err)
	}
	if err := db.Load(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	waitIndexed(t, db)
	checkReleased(t, db, want, 2)
	if err := db.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	db = reopen(t, db, l)
	checkReleased(t, db, want, 2)
}
