package vectordb

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// The oracle: a plain map of key → row that every operation is checked
// against. Rows are generated randomly; filters come with a Go predicate.

type oRow struct {
	id    int64
	vec   []float32
	age   int64
	score float64
	name  string
	tags  []int64
	opt   *int64 // nullable
	color string // dynamic key
}

const testDim = 8

func testSchema(name string) Schema {
	return Schema{
		Name: name, EnableDynamic: true,
		Fields: []Field{
			{Name: "id", Type: TypeInt64, IsPrimary: true},
			{Name: "vec", Type: TypeFloatVector, Dim: testDim},
			{Name: "age", Type: TypeInt32},
			{Name: "score", Type: TypeDouble},
			{Name: "name", Type: TypeVarChar, MaxLength: 32},
			{Name: "tags", Type: TypeArray, ElementType: TypeInt64, MaxCapacity: 8},
			{Name: "opt", Type: TypeInt64, Nullable: true},
		},
	}
}

var colors = []string{"red", "green", "blue"}

func randRow(rng *rand.Rand, id int64) oRow {
	r := oRow{id: id, vec: make([]float32, testDim), age: rng.Int64N(100), score: rng.Float64() * 10,
		name: fmt.Sprintf("n%03d", rng.IntN(500)), color: colors[rng.IntN(3)]}
	for i := range r.vec {
		r.vec[i] = float32(rng.NormFloat64())
	}
	for range rng.IntN(4) {
		r.tags = append(r.tags, rng.Int64N(10))
	}
	if rng.IntN(3) > 0 {
		v := rng.Int64N(50)
		r.opt = &v
	}
	return r
}

func toBatch(rows []oRow) *Batch {
	id := Column{Name: "id", Type: TypeInt64}
	vec := Column{Name: "vec", Type: TypeFloatVector, Dim: testDim}
	age := Column{Name: "age", Type: TypeInt32}
	score := Column{Name: "score", Type: TypeDouble}
	name := Column{Name: "name", Type: TypeVarChar}
	tags := Column{Name: "tags", Type: TypeArray}
	opt := Column{Name: "opt", Type: TypeInt64}
	dyn := Column{Name: "", Type: TypeJSON, IsDynamic: true}
	for _, r := range rows {
		id.Ints = append(id.Ints, r.id)
		vec.Vectors = append(vec.Vectors, r.vec...)
		age.Ints = append(age.Ints, r.age)
		score.Doubles = append(score.Doubles, r.score)
		name.Strings = append(name.Strings, r.name)
		tags.Arrays = append(tags.Arrays, Column{Type: TypeInt64, Ints: append([]int64{}, r.tags...)})
		if r.opt != nil {
			opt.Ints = append(opt.Ints, *r.opt)
			opt.Valid = append(opt.Valid, true)
		} else {
			opt.Ints = append(opt.Ints, 0)
			opt.Valid = append(opt.Valid, false)
		}
		dyn.JSON = append(dyn.JSON, []byte(fmt.Sprintf(`{"color":%q,"n":%d}`, r.color, r.id%7)))
	}
	return &Batch{Columns: []Column{vec, id, age, score, name, tags, opt, dyn}}
}

type oracle map[int64]oRow

// filterCases pair a Milvus expression with its meaning.
var filterCases = []struct {
	expr string
	fn   func(r oRow) bool
}{
	{"", func(oRow) bool { return true }},
	{"age > 50", func(r oRow) bool { return r.age > 50 }},
	{"age >= 10 and age < 20", func(r oRow) bool { return r.age >= 10 && r.age < 20 }},
	{"10 <= age < 30 or score > 9.5", func(r oRow) bool { return r.age >= 10 && r.age < 30 || r.score > 9.5 }},
	{"not (age < 90)", func(r oRow) bool { return r.age >= 90 }},
	{`name like "n1%"`, func(r oRow) bool { return strings.HasPrefix(r.name, "n1") }},
	{`name in ["n001", "n002", "n003", "n100"]`, func(r oRow) bool { return slices.Contains([]string{"n001", "n002", "n003", "n100"}, r.name) }},
	{"id in [1, 2, 3, 5, 8, 13, 21, 34]", func(r oRow) bool { return slices.Contains([]int64{1, 2, 3, 5, 8, 13, 21, 34}, r.id) }},
	{"array_contains(tags, 3)", func(r oRow) bool { return slices.Contains(r.tags, 3) }},
	{`color == "red"`, func(r oRow) bool { return r.color == "red" }},
	{`$meta["color"] != "blue" and age % 2 == 0`, func(r oRow) bool { return r.color != "blue" && r.age%2 == 0 }},
	{"opt > 25", func(r oRow) bool { return r.opt != nil && *r.opt > 25 }},
	{"age + 5 > score * 10", func(r oRow) bool { return float64(r.age+5) > r.score*10 }},
}

func (o oracle) sorted(fn func(oRow) bool) []oRow {
	var out []oRow
	for _, r := range o {
		if fn(r) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b oRow) int { return cmp.Compare(a.id, b.id) })
	return out
}

func (o oracle) search(m Metric, q []float32, k int, fn func(oRow) bool) []oRow {
	rows := o.sorted(fn)
	slices.SortStableFunc(rows, func(a, b oRow) int {
		sa, sb := score(m, q, a.vec), score(m, q, b.vec)
		if m == MetricL2 {
			return cmp.Compare(sa, sb)
		}
		return cmp.Compare(sb, sa)
	})
	return rows[:min(k, len(rows))]
}

func mustCreate(t *testing.T, db *DB, s Schema, ip IndexParams) {
	t.Helper()
	ctx := context.Background()
	if err := db.CreateCollection(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateIndex(ctx, s.Name, "vec", ip); err != nil {
		t.Fatal(err)
	}
	if err := db.Load(ctx, s.Name); err != nil {
		t.Fatal(err)
	}
}

// checkAgainst compares every read path with the oracle.
func checkAgainst(t *testing.T, db *DB, coll string, o oracle, m Metric, rng *rand.Rand) {
	t.Helper()
	ctx := context.Background()
	n, err := db.Count(ctx, coll, "", nil)
	if err != nil || n != int64(len(o)) {
		t.Fatalf("count(*) = %d, %v; oracle has %d", n, err, len(o))
	}
	for _, fc := range filterCases {
		want := o.sorted(fc.fn)
		q := QueryRequest{Filter: fc.expr, OutputFields: []string{"age", "name", "opt", "color"}}
		if fc.expr == "" {
			q.Limit = 1 << 30
		}
		b, err := db.Query(ctx, coll, q)
		if err != nil {
			t.Fatalf("query %q: %v", fc.expr, err)
		}
		ids := b.Column("id").Ints
		if len(ids) != len(want) {
			t.Fatalf("query %q: %d rows, oracle %d", fc.expr, len(ids), len(want))
		}
		for i, r := range want {
			if ids[i] != r.id || b.Column("age").Ints[i] != r.age || b.Column("name").Strings[i] != r.name {
				t.Fatalf("query %q row %d: got id %d, want %+v", fc.expr, i, ids[i], r)
			}
			opt := b.Column("opt")
			if (r.opt == nil) == opt.Valid[i] || r.opt != nil && opt.Ints[i] != *r.opt {
				t.Fatalf("query %q row %d: opt mismatch", fc.expr, i)
			}
			var dyn map[string]any
			if err := json.Unmarshal(b.Column(DynamicField).JSON[i], &dyn); err != nil || dyn["color"] != r.color || len(dyn) != 1 {
				t.Fatalf("query %q row %d: dynamic %s, want only color=%s", fc.expr, i, b.Column(DynamicField).JSON[i], r.color)
			}
		}
		if c, err := db.Count(ctx, coll, fc.expr, nil); err != nil || c != int64(len(want)) {
			t.Fatalf("count %q = %d, %v; want %d", fc.expr, c, err, len(want))
		}
		// Search with the same filter, two queries at once, with offset.
		qs := [][]float32{randRow(rng, 0).vec, randRow(rng, 0).vec}
		res, err := db.Search(ctx, coll, SearchRequest{Vectors: qs, TopK: 5, Offset: 2, Filter: fc.expr, OutputFields: []string{"score"}})
		if err != nil {
			t.Fatalf("search %q: %v", fc.expr, err)
		}
		for qi, q := range qs {
			exp := o.search(m, q, 7, fc.fn)
			exp = window(exp, 2, 5)
			got := res[qi]
			if len(got.IDs.Ints) != len(exp) {
				t.Fatalf("search %q: %d hits, oracle %d", fc.expr, len(got.IDs.Ints), len(exp))
			}
			for i, r := range exp {
				s := score(m, q, r.vec)
				if got.IDs.Ints[i] != r.id && math.Abs(float64(got.Scores[i]-s)) > 1e-4 {
					t.Fatalf("search %q hit %d: id %d score %v, oracle id %d score %v", fc.expr, i, got.IDs.Ints[i], got.Scores[i], r.id, s)
				}
				if math.Abs(float64(got.Scores[i]-s)) > 1e-4*max(1, math.Abs(float64(s))) {
					t.Fatalf("search %q hit %d: score %v, oracle %v", fc.expr, i, got.Scores[i], s)
				}
				if got.Fields.Column("score").Doubles[i] != o[got.IDs.Ints[i]].score {
					t.Fatalf("search %q hit %d: output field does not belong to the hit", fc.expr, i)
				}
			}
		}
	}
	// A small page of an unfiltered query (the bounded-selection path).
	all := o.sorted(func(oRow) bool { return true })
	page, err := db.Query(ctx, coll, QueryRequest{Limit: 5, Offset: 3})
	if err != nil {
		t.Fatal(err)
	}
	want := window(all, 3, 5)
	if got := page.Column("id").Ints; len(got) != len(want) {
		t.Fatalf("query page: %v, want %d rows", got, len(want))
	}
	for i, r := range want {
		if page.Column("id").Ints[i] != r.id {
			t.Fatalf("query page row %d: id %d, want %d", i, page.Column("id").Ints[i], r.id)
		}
	}
	// Get returns exactly the live keys asked for.
	keys := Column{Name: "id", Type: TypeInt64, Ints: []int64{-1}}
	for id := range o {
		if len(keys.Ints) < 20 {
			keys.Ints = append(keys.Ints, id)
		}
	}
	b, err := db.Get(ctx, coll, keys, []string{"vec", "tags"})
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Column("id").Ints; !slices.Equal(got, keys.Ints[1:]) {
		t.Fatalf("get: %v, want %v", got, keys.Ints[1:])
	}
	for i, id := range b.Column("id").Ints {
		if !slices.Equal(b.Column("vec").Vectors[i*testDim:(i+1)*testDim], o[id].vec) ||
			!slices.Equal(b.Column("tags").Arrays[i].Ints, o[id].tags) {
			t.Fatalf("get %d: wrong vector or tags", id)
		}
	}
}

// runWorkload applies random writes to db and the oracle alike.
func runWorkload(t *testing.T, db *DB, coll string, o oracle, rng *rand.Rand, steps int) {
	t.Helper()
	ctx := context.Background()
	for range steps {
		switch op := rng.IntN(10); {
		case op < 5: // insert, possibly with keys that exist
			var rows []oRow
			for range 1 + rng.IntN(40) {
				rows = append(rows, randRow(rng, rng.Int64N(400)))
			}
			ids, err := db.Insert(ctx, coll, toBatch(rows))
			if err != nil {
				t.Fatal(err)
			}
			if len(ids.Ints) != len(rows) {
				t.Fatalf("insert returned %d keys for %d rows", len(ids.Ints), len(rows))
			}
			for _, r := range rows {
				o[r.id] = r
			}
		case op < 7:
			var rows []oRow
			for range 1 + rng.IntN(10) {
				rows = append(rows, randRow(rng, rng.Int64N(400)))
			}
			if _, err := db.Upsert(ctx, coll, toBatch(rows)); err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				o[r.id] = r
			}
		case op < 9:
			keys := Column{Name: "id", Type: TypeInt64}
			want := 0
			seen := map[int64]bool{}
			for range 1 + rng.IntN(10) {
				k := rng.Int64N(400)
				keys.Ints = append(keys.Ints, k)
				if _, ok := o[k]; ok && !seen[k] {
					want++
				}
				seen[k] = true
			}
			n, err := db.DeleteByPK(ctx, coll, keys)
			if err != nil || n != int64(want) {
				t.Fatalf("delete by key: %d, %v; want %d", n, err, want)
			}
			for k := range seen {
				delete(o, k)
			}
		default:
			fc := filterCases[1+rng.IntN(len(filterCases)-1)]
			doomed := o.sorted(fc.fn)
			if len(doomed) > len(o)/4 { // keep the collection from emptying
				continue
			}
			n, err := db.Delete(ctx, coll, fc.expr, nil)
			if err != nil || n != int64(len(doomed)) {
				t.Fatalf("delete %q: %d, %v; want %d", fc.expr, n, err, len(doomed))
			}
			for _, r := range doomed {
				delete(o, r.id)
			}
		}
	}
}

func openMem(t *testing.T, l *memLog, mode Mode) *DB {
	t.Helper()
	db, err := openWith(context.Background(), t.TempDir(), Options{NodeID: "t", Mode: mode}, l.handle(mode == Primary))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestOracle(t *testing.T) {
	for _, m := range []Metric{MetricL2, MetricIP, MetricCosine} {
		for _, typ := range []IndexType{IndexFLAT, IndexHNSW} {
			t.Run(string(m)+"/"+string(typ), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(1, uint64(len(m))))
				db := openMem(t, newMemLog(), Primary)
				mustCreate(t, db, testSchema("c"), IndexParams{Type: typ, Metric: m})
				o := oracle{}
				for range 4 {
					runWorkload(t, db, "c", o, rng, 60)
					checkAgainst(t, db, "c", o, m, rng)
				}
			})
		}
	}
}
