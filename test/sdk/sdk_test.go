package sdk

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"sort"
	"strings"
	"testing"

	"github.com/milvus-io/milvus/client/v2/column"
	"github.com/milvus-io/milvus/client/v2/entity"
	"github.com/milvus-io/milvus/client/v2/index"
	"github.com/milvus-io/milvus/client/v2/milvusclient"
)

func randVecs(r *rand.Rand, n, dim int) [][]float32 {
	out := make([][]float32, n)
	for i := range out {
		v := make([]float32, dim)
		for j := range v {
			v[j] = r.Float32()*2 - 1
		}
		out[i] = v
	}
	return out
}

func TestQuickSetup(t *testing.T) {
	s := startServer(t, "")
	c := s.client(t, nil)
	ctx := ctxT(t)
	const dim = 8
	if err := c.CreateCollection(ctx, milvusclient.SimpleCreateCollectionOptions("quick", dim)); err != nil {
		t.Fatal(err)
	}
	// Quick setup must have created the index and loaded the collection.
	st, err := c.GetLoadState(ctx, milvusclient.NewGetLoadStateOption("quick"))
	if err != nil || st.State != entity.LoadStateLoaded {
		t.Fatalf("load state %v, %v; want loaded", st.State, err)
	}
	idx, err := c.DescribeIndex(ctx, milvusclient.NewDescribeIndexOption("quick", "vector"))
	if err != nil {
		t.Fatal(err)
	}
	if got := idx.Params()["metric_type"]; got != "COSINE" {
		t.Errorf("quick setup metric %q, want COSINE", got)
	}
	vecs := randVecs(rand.New(rand.NewSource(1)), 100, dim)
	tags := make([]string, len(vecs))
	for i := range tags {
		tags[i] = fmt.Sprintf("t%d", i%5)
	}
	res, err := c.Insert(ctx, milvusclient.NewColumnBasedInsertOption("quick").
		WithFloatVectorColumn("vector", dim, vecs).
		WithVarcharColumn("tag", tags)) // dynamic field
	if err != nil {
		t.Fatal(err)
	}
	if res.InsertCount != 100 || res.IDs.Len() != 100 {
		t.Fatalf("insert count %d ids %d", res.InsertCount, res.IDs.Len())
	}
	want, _ := res.IDs.GetAsInt64(42)
	rs, err := c.Search(ctx, milvusclient.NewSearchOption("quick", 3, []entity.Vector{entity.FloatVector(vecs[42])}).
		WithOutputFields("tag"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].ResultCount != 3 {
		t.Fatalf("results %+v", rs)
	}
	got, _ := rs[0].IDs.GetAsInt64(0)
	if got != want || math.Abs(float64(rs[0].Scores[0])-1) > 1e-5 {
		t.Fatalf("top hit %d score %v, want %d with cosine 1", got, rs[0].Scores[0], want)
	}
	tag, err := rs[0].GetColumn("tag").GetAsString(0)
	if err != nil || tag != "t2" {
		t.Fatalf("dynamic field tag = %q, %v; want t2", tag, err)
	}
}

// row is the test's own copy of an inserted entity, for the oracle.
type row struct {
	id    int64
	vec   []float32
	title string
	meta  map[string]any
	color string // dynamic
}

func l2(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return s
}

const explicitDim = 16

func explicitSchema(name string) *entity.Schema {
	return entity.NewSchema().WithName(name).WithDynamicFieldEnabled(true).
		WithField(entity.NewField().WithName("id").WithDataType(entity.FieldTypeInt64).WithIsPrimaryKey(true)).
		WithField(entity.NewField().WithName("vec").WithDataType(entity.FieldTypeFloatVector).WithDim(explicitDim)).
		WithField(entity.NewField().WithName("title").WithDataType(entity.FieldTypeVarChar).WithMaxLength(64)).
		WithField(entity.NewField().WithName("meta").WithDataType(entity.FieldTypeJSON))
}

func makeRows(r *rand.Rand, from, n int) []row {
	colors := []string{"red", "green", "blue"}
	vecs := randVecs(r, n, explicitDim)
	out := make([]row, n)
	for i := range out {
		id := int64(from + i)
		out[i] = row{
			id: id, vec: vecs[i], title: fmt.Sprintf("doc-%d", id),
			meta:  map[string]any{"rank": float64(id % 10), "even": id%2 == 0},
			color: colors[id%3],
		}
	}
	return out
}

func insertRows(t *testing.T, c *milvusclient.Client, coll string, rows []row, upsert bool) {
	t.Helper()
	ids := make([]int64, len(rows))
	vecs := make([][]float32, len(rows))
	titles := make([]string, len(rows))
	metas := make([][]byte, len(rows))
	colors := make([]string, len(rows))
	for i, r := range rows {
		ids[i], vecs[i], titles[i], colors[i] = r.id, r.vec, r.title, r.color
		metas[i], _ = json.Marshal(r.meta)
	}
	opt := milvusclient.NewColumnBasedInsertOption(coll).
		WithInt64Column("id", ids).
		WithFloatVectorColumn("vec", explicitDim, vecs).
		WithVarcharColumn("title", titles).
		WithColumns(column.NewColumnJSONBytes("meta", metas)).
		WithVarcharColumn("color", colors)
	ctx := ctxT(t)
	if upsert {
		res, err := c.Upsert(ctx, opt)
		if err != nil {
			t.Fatal(err)
		}
		if res.UpsertCount != int64(len(rows)) {
			t.Fatalf("upsert count %d", res.UpsertCount)
		}
		return
	}
	res, err := c.Insert(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	if res.InsertCount != int64(len(rows)) {
		t.Fatalf("insert count %d", res.InsertCount)
	}
}

// TestExplicitSchemaWorkflow runs the full client workflow on a schema
// with int64 key, float vector, varchar, JSON and a dynamic field, and
// checks every search against a brute-force oracle.
func TestExplicitSchemaWorkflow(t *testing.T) {
	s := startServer(t, "")
	c := s.client(t, nil)
	ctx := ctxT(t)
	const coll = "docs"
	if err := c.CreateCollection(ctx, milvusclient.NewCreateCollectionOption(coll, explicitSchema(coll))); err != nil {
		t.Fatal(err)
	}
	has, err := c.HasCollection(ctx, milvusclient.NewHasCollectionOption(coll))
	if err != nil || !has {
		t.Fatalf("has %v %v", has, err)
	}
	if has, err := c.HasCollection(ctx, milvusclient.NewHasCollectionOption("nope")); err != nil || has {
		t.Fatalf("has(nope) %v %v", has, err)
	}
	names, err := c.ListCollections(ctx, milvusclient.NewListCollectionOption())
	if err != nil || len(names) != 1 || names[0] != coll {
		t.Fatalf("list %v %v", names, err)
	}
	desc, err := c.DescribeCollection(ctx, milvusclient.NewDescribeCollectionOption(coll))
	if err != nil {
		t.Fatal(err)
	}
	if desc.Name != coll || !desc.Schema.EnableDynamicField || len(desc.Schema.Fields) < 4 {
		t.Fatalf("describe %+v", desc.Schema)
	}

	r := rand.New(rand.NewSource(7))
	rows := makeRows(r, 1, 600)
	insertRows(t, c, coll, rows[:300], false)
	insertRows(t, c, coll, rows[300:], false)
	ft, err := c.Flush(ctx, milvusclient.NewFlushOption(coll))
	if err != nil {
		t.Fatal(err)
	}
	if err := ft.Await(ctx); err != nil {
		t.Fatal(err)
	}
	it, err := c.CreateIndex(ctx, milvusclient.NewCreateIndexOption(coll, "vec", index.NewHNSWIndex(entity.L2, 16, 200)))
	if err != nil {
		t.Fatal(err)
	}
	if err := it.Await(ctx); err != nil {
		t.Fatal(err)
	}
	idx, err := c.DescribeIndex(ctx, milvusclient.NewDescribeIndexOption(coll, "vec"))
	if err != nil {
		t.Fatal(err)
	}
	if p := idx.Params(); p["index_type"] != "HNSW" || p["metric_type"] != "L2" || p["M"] != "16" {
		t.Fatalf("index params %v", p)
	}
	lt, err := c.LoadCollection(ctx, milvusclient.NewLoadCollectionOption(coll))
	if err != nil {
		t.Fatal(err)
	}
	if err := lt.Await(ctx); err != nil {
		t.Fatal(err)
	}
	stats, err := c.GetCollectionStats(ctx, milvusclient.NewGetCollectionStatsOption(coll))
	if err != nil || stats["row_count"] != "600" {
		t.Fatalf("stats %v %v", stats, err)
	}

	live := map[int64]row{}
	for _, r := range rows {
		live[r.id] = r
	}
	checkSearch(t, c, coll, live, r)
	checkQueries(t, c, coll, live)

	// Delete by ids and by filter.
	del, err := c.Delete(ctx, milvusclient.NewDeleteOption(coll).WithInt64IDs("id", []int64{1, 2, 3, 9999}))
	if err != nil {
		t.Fatal(err)
	}
	if del.DeleteCount != 3 {
		t.Errorf("delete by ids removed %d, want 3", del.DeleteCount)
	}
	delete(live, 1)
	delete(live, 2)
	delete(live, 3)
	del, err = c.Delete(ctx, milvusclient.NewDeleteOption(coll).WithExpr(`color == "blue" and id < 100`))
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for id, r := range live {
		if r.color == "blue" && id < 100 {
			delete(live, id)
			want++
		}
	}
	if del.DeleteCount != int64(want) {
		t.Errorf("delete by filter removed %d, want %d", del.DeleteCount, want)
	}
	// Upsert: 20 existing rows change, 10 new ones appear.
	up := makeRows(r, 590, 30)
	for i := range up {
		up[i].title = "upserted"
		live[up[i].id] = up[i]
	}
	insertRows(t, c, coll, up, true)
	checkCount(t, c, coll, "", len(live))
	rs, err := c.Query(ctx, milvusclient.NewQueryOption(coll).WithFilter(`title == "upserted"`).WithOutputFields("id"))
	if err != nil || rs.ResultCount != 30 {
		t.Fatalf("upserted rows %d, %v; want 30", rs.ResultCount, err)
	}
	checkSearch(t, c, coll, live, r)

	if err := c.ReleaseCollection(ctx, milvusclient.NewReleaseCollectionOption(coll)); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.GetLoadState(ctx, milvusclient.NewGetLoadStateOption(coll)); st.State != entity.LoadStateNotLoad {
		t.Errorf("after release: %v", st.State)
	}
	if _, err := c.Query(ctx, milvusclient.NewQueryOption(coll).WithFilter("id > 0").WithLimit(1)); err == nil ||
		!strings.Contains(err.Error(), "not loaded") {
		t.Errorf("query on released collection: %v, want not loaded", err)
	}
	if err := c.DropCollection(ctx, milvusclient.NewDropCollectionOption(coll)); err != nil {
		t.Fatal(err)
	}
	if has, _ := c.HasCollection(ctx, milvusclient.NewHasCollectionOption(coll)); has {
		t.Fatal("collection survives drop")
	}
}

// oracle returns the k nearest live rows to q (L2) that pass keep.
func oracle(live map[int64]row, q []float32, k int, keep func(row) bool) []row {
	var cand []row
	for _, r := range live {
		if keep(r) {
			cand = append(cand, r)
		}
	}
	sort.Slice(cand, func(i, j int) bool {
		di, dj := l2(cand[i].vec, q), l2(cand[j].vec, q)
		if di != dj {
			return di < dj
		}
		return cand[i].id < cand[j].id
	})
	if len(cand) > k {
		cand = cand[:k]
	}
	return cand
}

func checkSearch(t *testing.T, c *milvusclient.Client, coll string, live map[int64]row, r *rand.Rand) {
	t.Helper()
	ctx := ctxT(t)
	queries := randVecs(r, 3, explicitDim)
	cases := []struct {
		filter string
		keep   func(row) bool
	}{
		{"", func(row) bool { return true }},
		{`id > 200 and title like "doc-3%"`, func(r row) bool { return r.id > 200 && strings.HasPrefix(r.title, "doc-3") }},
		{`color in ["red", "green"]`, func(r row) bool { return r.color == "red" || r.color == "green" }},
		{`meta["rank"] >= 5`, func(r row) bool { return r.meta["rank"].(float64) >= 5 }},
	}
	const k = 10
	for _, tc := range cases {
		vs := make([]entity.Vector, len(queries))
		for i, q := range queries {
			vs[i] = entity.FloatVector(q)
		}
		// ef well above the collection size makes HNSW exhaustive, so
		// the oracle comparison is exact.
		rs, err := c.Search(ctx, milvusclient.NewSearchOption(coll, k, vs).
			WithANNSField("vec").WithFilter(tc.filter).
			WithOutputFields("title", "meta", "color").
			WithAnnParam(index.NewHNSWAnnParam(2048)))
		if err != nil {
			t.Fatalf("search %q: %v", tc.filter, err)
		}
		if len(rs) != len(queries) {
			t.Fatalf("search %q: %d result sets for %d queries", tc.filter, len(rs), len(queries))
		}
		for qi, q := range queries {
			want := oracle(live, q, k, tc.keep)
			got := rs[qi]
			if got.ResultCount != len(want) {
				t.Fatalf("search %q q%d: %d hits, oracle %d", tc.filter, qi, got.ResultCount, len(want))
			}
			for i, w := range want {
				id, _ := got.IDs.GetAsInt64(i)
				if id != w.id {
					t.Fatalf("search %q q%d hit %d: id %d, oracle %d", tc.filter, qi, i, id, w.id)
				}
				if d := l2(w.vec, q); math.Abs(float64(got.Scores[i])-d) > 1e-4*math.Max(1, d) {
					t.Errorf("search %q q%d hit %d: distance %v, oracle %v", tc.filter, qi, i, got.Scores[i], d)
				}
				title, _ := got.GetColumn("title").GetAsString(i)
				color, _ := got.GetColumn("color").GetAsString(i)
				if title != w.title || color != w.color {
					t.Errorf("search %q hit %d: title %q color %q, want %q %q", tc.filter, i, title, color, w.title, w.color)
				}
				mv, _ := got.GetColumn("meta").Get(i)
				var meta map[string]any
				if b, ok := mv.([]byte); !ok || json.Unmarshal(b, &meta) != nil || meta["rank"] != w.meta["rank"] {
					t.Errorf("search %q hit %d: meta %v, want %v", tc.filter, i, mv, w.meta)
				}
			}
		}
	}
	// Offset skips the first hits.
	q := queries[0]
	want := oracle(live, q, 8, func(row) bool { return true })
	rs, err := c.Search(ctx, milvusclient.NewSearchOption(coll, 5, []entity.Vector{entity.FloatVector(q)}).
		WithOffset(3).WithAnnParam(index.NewHNSWAnnParam(2048)))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if id, _ := rs[0].IDs.GetAsInt64(i); id != want[3+i].id {
			t.Fatalf("offset search hit %d: %d, want %d", i, id, want[3+i].id)
		}
	}
}

func checkCount(t *testing.T, c *milvusclient.Client, coll, filter string, want int) {
	t.Helper()
	rs, err := c.Query(ctxT(t), milvusclient.NewQueryOption(coll).WithFilter(filter).WithOutputFields("count(*)"))
	if err != nil {
		t.Fatalf("count(*) %q: %v", filter, err)
	}
	n, err := rs.GetColumn("count(*)").GetAsInt64(0)
	if err != nil || n != int64(want) {
		t.Fatalf("count(*) %q = %d (%v), want %d", filter, n, err, want)
	}
}

func checkQueries(t *testing.T, c *milvusclient.Client, coll string, live map[int64]row) {
	t.Helper()
	ctx := ctxT(t)
	cases := []struct {
		filter string
		keep   func(row) bool
	}{
		{`id in [5, 7, 11, 100000]`, func(r row) bool { return r.id == 5 || r.id == 7 || r.id == 11 }},
		{`id >= 10 and id < 20`, func(r row) bool { return r.id >= 10 && r.id < 20 }},
		{`title like "doc-12%"`, func(r row) bool { return strings.HasPrefix(r.title, "doc-12") }},
		{`meta["even"] == true and color == "red"`, func(r row) bool { return r.meta["even"] == true && r.color == "red" }},
		{`not (id > 10) or color != "green"`, func(r row) bool { return !(r.id > 10) || r.color != "green" }},
	}
	for _, tc := range cases {
		var want []int64
		for id, r := range live {
			if tc.keep(r) {
				want = append(want, id)
			}
		}
		sort.Slice(want, func(i, j int) bool { return want[i] < want[j] })
		rs, err := c.Query(ctx, milvusclient.NewQueryOption(coll).WithFilter(tc.filter).WithOutputFields("title", "color"))
		if err != nil {
			t.Fatalf("query %q: %v", tc.filter, err)
		}
		if rs.ResultCount != len(want) {
			t.Fatalf("query %q: %d rows, want %d", tc.filter, rs.ResultCount, len(want))
		}
		got := make([]int64, rs.ResultCount)
		for i := range got {
			got[i], _ = rs.GetColumn("id").GetAsInt64(i)
			title, _ := rs.GetColumn("title").GetAsString(i)
			color, _ := rs.GetColumn("color").GetAsString(i)
			if w := live[got[i]]; title != w.title || color != w.color {
				t.Errorf("query %q row %d: %q %q, want %q %q", tc.filter, got[i], title, color, w.title, w.color)
			}
		}
		sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("query %q: ids %v, want %v", tc.filter, got, want)
		}
		checkCount(t, c, coll, tc.filter, len(want))
	}
	checkCount(t, c, coll, "", len(live))

	// Limit and offset page in primary-key order.
	rs, err := c.Query(ctx, milvusclient.NewQueryOption(coll).WithFilter("id > 0").WithLimit(5).WithOffset(10).WithOutputFields("id"))
	if err != nil || rs.ResultCount != 5 {
		t.Fatalf("paged query %d %v", rs.ResultCount, err)
	}
	if id, _ := rs.GetColumn("id").GetAsInt64(0); id != 11 {
		t.Errorf("paged query starts at %d, want 11", id)
	}

	// Get by ids returns the vectors too.
	rs, err = c.Get(ctx, milvusclient.NewQueryOption(coll).WithIDs(column.NewColumnInt64("id", []int64{42, 43})).WithOutputFields("vec", "title"))
	if err != nil || rs.ResultCount != 2 {
		t.Fatalf("get %d %v", rs.ResultCount, err)
	}
	for i := 0; i < 2; i++ {
		id, _ := rs.GetColumn("id").GetAsInt64(i)
		v, _ := rs.GetColumn("vec").Get(i)
		fv, ok := v.(entity.FloatVector)
		if !ok || len(fv) != explicitDim || fv[0] != live[id].vec[0] {
			t.Errorf("get id %d: vector %v", id, v)
		}
	}

	// Template parameters.
	rs, err = c.Query(ctx, milvusclient.NewQueryOption(coll).WithFilter("id in {ids}").
		WithTemplateParam("ids", []int64{8, 9}).WithOutputFields("id"))
	if err != nil || rs.ResultCount != 2 {
		t.Fatalf("template query %d %v", rs.ResultCount, err)
	}
}

// TestRecreateWithDifferentSchema drops a collection and re-creates the
// name with another schema behind the SDK's back: the SDK's cached schema
// is stale and must be refreshed through code 109.
func TestRecreateWithDifferentSchema(t *testing.T) {
	s := startServer(t, "")
	c := s.client(t, nil)
	other := s.client(t, nil) // drops and re-creates behind c's back
	ctx := ctxT(t)
	const coll = "morph"
	mk := func(dim int, extra bool) *entity.Schema {
		sch := entity.NewSchema().WithName(coll).
			WithField(entity.NewField().WithName("id").WithDataType(entity.FieldTypeInt64).WithIsPrimaryKey(true)).
			WithField(entity.NewField().WithName("v").WithDataType(entity.FieldTypeFloatVector).WithDim(int64(dim)))
		if extra {
			sch.WithField(entity.NewField().WithName("n").WithDataType(entity.FieldTypeInt64))
		}
		return sch
	}
	insert := func(cl *milvusclient.Client, dim int, extra bool) error {
		opt := milvusclient.NewColumnBasedInsertOption(coll).
			WithInt64Column("id", []int64{1, 2}).
			WithFloatVectorColumn("v", dim, randVecs(rand.New(rand.NewSource(1)), 2, dim))
		if extra {
			opt.WithInt64Column("n", []int64{10, 20})
		}
		_, err := cl.Insert(ctx, opt)
		return err
	}
	if err := other.CreateCollection(ctx, milvusclient.NewCreateCollectionOption(coll, mk(4, false))); err != nil {
		t.Fatal(err)
	}
	if err := insert(c, 4, false); err != nil { // fills c's cache
		t.Fatal(err)
	}
	// Same shape, new incarnation: only the server can tell the cache is
	// stale (schema_timestamp), by answering 109.
	if err := other.DropCollection(ctx, milvusclient.NewDropCollectionOption(coll)); err != nil {
		t.Fatal(err)
	}
	if err := other.CreateCollection(ctx, milvusclient.NewCreateCollectionOption(coll, mk(4, false))); err != nil {
		t.Fatal(err)
	}
	before := s.metric(t, "milvus_ha_api_errors_total", `method="Insert"`, `code="109"`)
	if err := insert(c, 4, false); err != nil {
		t.Fatalf("insert after re-create: %v", err)
	}
	if after := s.metric(t, "milvus_ha_api_errors_total", `method="Insert"`, `code="109"`); after != before+1 {
		t.Errorf("schema mismatch answers %v -> %v, want exactly one 109", before, after)
	}
	// Different dim and an extra field.
	if err := other.DropCollection(ctx, milvusclient.NewDropCollectionOption(coll)); err != nil {
		t.Fatal(err)
	}
	if err := other.CreateCollection(ctx, milvusclient.NewCreateCollectionOption(coll, mk(8, true))); err != nil {
		t.Fatal(err)
	}
	if err := insert(c, 8, true); err != nil {
		t.Fatalf("insert with the new schema: %v", err)
	}
	stats, err := c.GetCollectionStats(ctx, milvusclient.NewGetCollectionStatsOption(coll))
	if err != nil || stats["row_count"] != "2" {
		t.Fatalf("stats %v %v", stats, err)
	}
}
