package expr

import "testing"

func TestSmoke(t *testing.T) {
	row := mapRow{100: int64(5), 101: int64(30), 102: 1.5, 104: "alice", 105: true,
		106: mustJSON(`{"a":{"b":3},"tags":["x","y"]}`), 199: mustJSON(`{"color":"red","n":2}`),
		107: ArrayValue{Strings: []string{"p", "q"}}}
	for _, e := range []string{
		"id == 5", "10 < age < 40", "age * 2 + 1 > 10", "name like 'al%'", "meta[\"a\"][\"b\"] == 3",
		"color == 'red'", "n in [1,2]", "array_contains(tags, 'q')", "json_contains(meta[\"tags\"], 'x')",
		"not (id == 6) && flag", "$meta[\"n\"] >= 2.0", "exists meta[\"a\"]", "meta[\"zz\"] != 1",
	} {
		p, err := Parse(e, testSchema())
		if err != nil {
			t.Fatalf("%s: %v", e, err)
		}
		if !p.Eval(row) {
			t.Errorf("%s: false", e)
		}
	}
}
