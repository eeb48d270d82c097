package expr

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// benchCols is a columnar segment as a store keeps it; cursor is the Row
// over it. Reusing one *cursor for a scan keeps Eval allocation-free.
type benchCols struct {
	id, age []int64
	score   []float64
	name    []string
	flag    []bool
	meta    []any // decoded JSON per row
	dyn     []any
	tags    []ArrayValue
	optOK   []bool
}

type cursor struct {
	c *benchCols
	i int
}

func (r *cursor) Int(id int64) (int64, bool) {
	switch id {
	case 100:
		return r.c.id[r.i], true
	case 101:
		return r.c.age[r.i], true
	case 109:
		return r.c.age[r.i], r.c.optOK[r.i]
	}
	return 0, false
}
func (r *cursor) Float(id int64) (float64, bool) { return r.c.score[r.i], id == 102 }
func (r *cursor) Bool(id int64) (bool, bool)     { return r.c.flag[r.i], id == 105 }
func (r *cursor) String(id int64) (string, bool) { return r.c.name[r.i], id == 104 }
func (r *cursor) JSON(id int64) (any, bool) {
	if id == 106 {
		return r.c.meta[r.i], true
	}
	return r.c.dyn[r.i], id == 199
}
func (r *cursor) Array(id int64) (ArrayValue, bool) { return r.c.tags[r.i], id == 107 }

const benchRows = 100_000

func newBenchCols() *benchCols {
	rng := rand.New(rand.NewSource(3))
	c := &benchCols{}
	colors := []string{"red", "green", "blue", "black"}
	for i := 0; i < benchRows; i++ {
		c.id = append(c.id, int64(i))
		c.age = append(c.age, int64(rng.Intn(100)))
		c.score = append(c.score, rng.Float64())
		c.name = append(c.name, fmt.Sprintf("user_%d", rng.Intn(100000)))
		c.flag = append(c.flag, rng.Intn(2) == 0)
		c.meta = append(c.meta, map[string]any{"n": float64(rng.Intn(10)), "user": map[string]any{"city": colors[rng.Intn(4)]}})
		c.dyn = append(c.dyn, map[string]any{"color": colors[rng.Intn(4)]})
		c.tags = append(c.tags, ArrayValue{Strings: []string{colors[rng.Intn(4)], colors[rng.Intn(4)]}})
		c.optOK = append(c.optOK, rng.Intn(4) > 0)
	}
	return c
}

func BenchmarkEval(b *testing.B) {
	cols := newBenchCols()
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = fmt.Sprint(i * 997)
	}
	names := make([]string, 50)
	for i := range names {
		names[i] = fmt.Sprintf("%q", fmt.Sprintf("user_%d", i*31))
	}
	cases := []struct{ name, expr string }{
		{"int_cmp", `age > 50`},
		{"range_and", `10 < age < 60 and score < 0.5`},
		{"pk_in_100", `id in [` + strings.Join(ids, ",") + `]`},
		{"str_in_50", `name in [` + strings.Join(names, ",") + `]`},
		{"like_prefix", `name like "user_1%"`},
		{"like_infix", `name like "%42%"`},
		{"like_general", `name like "user_%4_"`},
		{"arith", `age * 2 + 1 > 101`},
		{"json_path", `meta["user"]["city"] == "red"`},
		{"json_num", `meta["n"] >= 5`},
		{"dynamic_in", `color in ["red", "blue"]`},
		{"array_contains", `array_contains(tags, "red")`},
		{"nullable", `opt is not null and opt > 10`},
		{"mixed", `(age >= 18 and age < 65 and flag) or (name like "user_9%" and not (score > 0.9))`},
	}
	for _, tc := range cases {
		p, err := Parse(tc.expr, testSchema())
		if err != nil {
			b.Fatalf("%s: %v", tc.expr, err)
		}
		b.Run(tc.name, func(b *testing.B) {
			cur := &cursor{c: cols}
			hits := 0
			b.ReportAllocs()
			for b.Loop() {
				hits = 0
				for i := 0; i < benchRows; i++ {
					cur.i = i
					if p.Eval(cur) {
						hits++
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchRows, "ns/row")
			if hits == 0 || hits == benchRows {
				b.Fatalf("%s matched %d of %d rows: benchmark filter is degenerate", tc.expr, hits, benchRows)
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	const e = `(age >= 18 and age < 65 and flag) or (name like "user_9%" and not (score > 0.9)) or meta["user"]["city"] in ["red", "blue"]`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(e, testSchema()); err != nil {
			b.Fatal(err)
		}
	}
}
