package vectordb

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestBadInput(t *testing.T) {
	ctx := context.Background()
	l := newMemLog()
	db := openMem(t, l, Primary)
	mustCreate(t, db, testSchema("c"), IndexParams{Type: IndexHNSW, Metric: MetricL2})
	good := func() *Batch { return toBatch([]oRow{{id: 1, vec: make([]float32, testDim), name: "x"}}) }
	if _, err := db.Insert(ctx, "c", good()); err != nil {
		t.Fatal(err)
	}
	// mutate returns a good batch changed by f.
	mutate := func(f func(b *Batch)) *Batch { b := good(); f(b); return b }
	col := func(b *Batch, name string) *Column {
		if name == "" {
			return &b.Columns[len(b.Columns)-1]
		}
		return b.Column(name)
	}
	info, _ := db.DescribeCollection("c")

	writes := []struct {
		name string
		coll string
		b    *Batch
		kind error
		msg  string
	}{
		{"unknown collection", "nope", good(), ErrCollectionNotFound, `"nope"`},
		{"wrong dim", "c", mutate(func(b *Batch) { c := col(b, "vec"); c.Dim, c.Vectors = 3, c.Vectors[:3] }), ErrDimMismatch, `vector field "vec": dim 3, schema says 8`},
		{"NaN", "c", mutate(func(b *Batch) { col(b, "vec").Vectors[5] = float32(math.NaN()) }), ErrNaN, `vector field "vec": row 0, element 5 is NaN`},
		{"Inf", "c", mutate(func(b *Batch) { col(b, "vec").Vectors[0] = float32(math.Inf(1)) }), ErrNaN, "+Inf"},
		{"NaN double", "c", mutate(func(b *Batch) { col(b, "score").Doubles[0] = math.NaN() }), ErrNaN, `field "score"`},
		{"unknown field", "c", mutate(func(b *Batch) { col(b, "age").Name = "agee" }), ErrFieldNotFound, `no field "agee"`},
		{"type mismatch", "c", mutate(func(b *Batch) { c := col(b, "age"); c.Type, c.Strings, c.Ints = TypeVarChar, []string{"1"}, nil }), ErrTypeMismatch, `field "age" is Int32, column holds VarChar`},
		{"int32 overflow", "c", mutate(func(b *Batch) { col(b, "age").Ints[0] = 1 << 40 }), ErrInvalidArgument, "out of Int32 range"},
		{"varchar too long", "c", mutate(func(b *Batch) { col(b, "name").Strings[0] = strings.Repeat("y", 33) }), ErrVarcharTooLong, "33 bytes, max_length is 32"},
		{"missing pk", "c", mutate(func(b *Batch) { b.Columns = b.Columns[:1]; b.Columns = append(b.Columns, good().Columns[2:]...) }), ErrMissingPrimaryKey, `primary key "id"`},
		{"missing field", "c", mutate(func(b *Batch) { b.Columns = append(b.Columns[:2], b.Columns[3:]...) }), ErrMissingField, `field "age"`},
		{"row counts differ", "c", mutate(func(b *Batch) { col(b, "age").Ints = []int64{1, 2} }), ErrInvalidArgument, "has 2 rows"},
		{"null in non-nullable", "c", mutate(func(b *Batch) { col(b, "age").Valid = []bool{false} }), ErrInvalidArgument, "not nullable"},
		{"dynamic not an object", "c", mutate(func(b *Batch) { col(b, "").JSON[0] = []byte(`[1]`) }), ErrTypeMismatch, "not a JSON object"},
		{"bad JSON", "c", mutate(func(b *Batch) { col(b, "").JSON[0] = []byte(`{"a":`) }), ErrInvalidArgument, "not valid JSON"},
		{"array too long", "c", mutate(func(b *Batch) { col(b, "tags").Arrays[0].Ints = make([]int64, 9) }), ErrInvalidArgument, "max_capacity is 8"},
		{"array element type", "c", mutate(func(b *Batch) { col(b, "tags").Arrays[0] = Column{Type: TypeVarChar, Strings: []string{"a"}} }), ErrTypeMismatch, "array of VarChar"},
		{"stale schema", "c", mutate(func(b *Batch) { b.SchemaVersion = info.SchemaVersion - 1 }), ErrSchemaMismatch, "schema version"},
		{"empty", "c", &Batch{}, ErrInvalidArgument, "no columns"},
	}
	before := l.base + uint64(len(l.recs))
	for _, tc := range writes {
		t.Run(tc.name, func(t *testing.T) {
			for _, op := range []func(context.Context, string, *Batch) (Column, error){db.Insert, db.Upsert} {
				_, err := op(ctx, tc.coll, tc.b)
				if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("got %v; want %v containing %q", err, tc.kind, tc.msg)
				}
			}
		})
	}
	reads := []struct {
		name string
		err  error
		kind error
		msg  string
	}{
		{"bad filter", func() error { _, err := db.Query(ctx, "c", QueryRequest{Filter: "age >"}); return err }(), ErrFilter, "1:6"},
		{"filter on unknown type", func() error { _, err := db.Count(ctx, "c", `name > 3`, nil); return err }(), ErrFilter, "filter"},
		{"delete bad filter", func() error { _, err := db.Delete(ctx, "c", "id in [1,", nil); return err }(), ErrFilter, "filter"},
		{"delete empty filter", func() error { _, err := db.Delete(ctx, "c", "", nil); return err }(), ErrInvalidArgument, "needs a filter"},
		{"delete wrong key type", func() error {
			_, err := db.DeleteByPK(ctx, "c", Column{Type: TypeVarChar, Strings: []string{"1"}})
			return err
		}(), ErrTypeMismatch, `primary key "id" is Int64`},
		{"search dim", func() error {
			_, err := db.Search(ctx, "c", SearchRequest{Vectors: [][]float32{{1, 2}}, TopK: 1})
			return err
		}(), ErrDimMismatch, "dim 2, schema says 8"},
		{"search NaN", func() error {
			q := make([]float32, testDim)
			q[1] = float32(math.NaN())
			_, err := db.Search(ctx, "c", SearchRequest{Vectors: [][]float32{q}, TopK: 1})
			return err
		}(), ErrNaN, "element 1"},
		{"search metric", func() error {
			_, err := db.Search(ctx, "c", SearchRequest{Vectors: [][]float32{make([]float32, testDim)}, TopK: 1, Metric: MetricIP})
			return err
		}(), ErrMetricMismatch, "uses L2"},
		{"search topk", func() error {
			_, err := db.Search(ctx, "c", SearchRequest{Vectors: [][]float32{make([]float32, testDim)}, TopK: 0})
			return err
		}(), ErrInvalidArgument, "topk"},
		{"search field", func() error {
			_, err := db.Search(ctx, "c", SearchRequest{Field: "age", Vectors: [][]float32{make([]float32, testDim)}, TopK: 1})
			return err
		}(), ErrTypeMismatch, "not a vector field"},
		{"output field", func() error {
			_, err := db.Query(ctx, "c", QueryRequest{Filter: "id > 0", OutputFields: []string{"no such"}})
			return err
		}(), ErrFieldNotFound, `"no such"`},
		{"query without limit", func() error { _, err := db.Query(ctx, "c", QueryRequest{}); return err }(), ErrInvalidArgument, "needs a limit"},
		{"index missing field", db.CreateIndex(ctx, "c", "nope", IndexParams{}), ErrFieldNotFound, `"nope"`},
		{"index scalar", db.CreateIndex(ctx, "c", "age", IndexParams{}), ErrInvalidArgument, "only FloatVector"},
		{"index conflict", db.CreateIndex(ctx, "c", "vec", IndexParams{Type: IndexFLAT}), ErrIndexConflict, `"vec"`},
		{"index metric", db.CreateIndex(ctx, "c", "vec", IndexParams{Metric: "HAMMING"}), ErrInvalidArgument, "HAMMING"},
		{"drop index while loaded", db.DropIndex(ctx, "c", "vec"), ErrInvalidArgument, "release it"},
		{"describe missing index", func() error { _, err := db.DescribeIndex("c", "zz"); return err }(), ErrIndexNotFound, `"zz"`},
		{"schema clash", db.CreateCollection(ctx, Schema{Name: "c", Fields: []Field{{Name: "id", Type: TypeInt64, IsPrimary: true}, {Name: "v", Type: TypeFloatVector, Dim: 2}}}), ErrCollectionExists, `"c"`},
	}
	for _, tc := range reads {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, tc.kind) || !strings.Contains(tc.err.Error(), tc.msg) {
				t.Fatalf("got %v; want %v containing %q", tc.err, tc.kind, tc.msg)
			}
		})
	}
	if after := l.base + uint64(len(l.recs)); after != before {
		t.Fatalf("bad requests wrote %d log entries", after-before)
	}
	if n, _ := db.Count(ctx, "c", "", nil); n != 1 {
		t.Fatalf("count after bad requests: %d", n)
	}
	if err := db.Release(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Count(ctx, "c", "", nil); !errors.Is(err, ErrNotLoaded) {
		t.Fatalf("count on released collection: %v", err)
	}
}

func TestBadSchemas(t *testing.T) {
	db := openMem(t, newMemLog(), Primary)
	pk := Field{Name: "id", Type: TypeInt64, IsPrimary: true}
	vec := Field{Name: "v", Type: TypeFloatVector, Dim: 4}
	for _, tc := range []struct {
		s   Schema
		msg string
	}{
		{Schema{Name: "1abc", Fields: []Field{pk, vec}}, "invalid collection name"},
		{Schema{Name: "a", Fields: []Field{vec}}, "no primary key"},
		{Schema{Name: "a", Fields: []Field{pk}}, "no vector field"},
		{Schema{Name: "a", Fields: []Field{pk, pk, vec}}, `duplicate field name "id"`},
		{Schema{Name: "a", Fields: []Field{pk, {Name: "v", Type: TypeFloatVector, Dim: 40000}}}, "dim 40000 out of range"},
		{Schema{Name: "a", Fields: []Field{{Name: "id", Type: TypeDouble, IsPrimary: true}, vec}}, "must be Int64 or VarChar"},
		{Schema{Name: "a", Fields: []Field{{Name: "id", Type: TypeVarChar, IsPrimary: true, MaxLength: 8, AutoID: true}, vec}}, "auto ID needs an Int64"},
		{Schema{Name: "a", Fields: []Field{pk, vec, {Name: "s", Type: TypeVarChar}}}, "max_length 0"},
		{Schema{Name: "a", Fields: []Field{pk, vec, {Name: "arr", Type: TypeArray, ElementType: TypeJSON}}}, "element type JSON"},
		{Schema{Name: "a", Fields: []Field{pk, vec, {Name: "$meta", Type: TypeJSON}}}, `invalid field name "$meta"`},
		{Schema{Name: "a", Fields: []Field{pk, vec, {Name: "x", Type: DataType(77)}}}, "unsupported data type"},
	} {
		err := db.CreateCollection(context.Background(), tc.s)
		if !errors.Is(err, ErrInvalidSchema) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%+v: got %v, want ErrInvalidSchema containing %q", tc.s, err, tc.msg)
		}
	}
	if len(db.ListCollections()) != 0 {
		t.Fatal("a bad schema created a collection")
	}
}
