package expr

import (
	"errors"
	"math/rand"
	"testing"
)

// FuzzParse: Parse never panics, every failure is an *Error inside the
// input, and every accepted plan evaluates random rows without panicking.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`id == 5`, `10 < age < 20`, `age * 2 + 1 > 10`, `name like "a%b_"`, `meta["a"]["b"] in [1, "x", true]`,
		`color == 'red' or not exists k1`, `array_contains_all(nums, [1, 2])`, `json_contains(meta["l"], [1, [2]])`,
		`opt is not null and tags[0] like '%x%'`, `array_length(meta["l"]) > age % 3`, `-(age) / 2 ** 3 < score`,
		`(flag || !flag) && True`, `name == "\u00e9\x41\101\n"`, `r'\d' == name`, `{v} == 1`, `id in [1,]`,
	} {
		f.Add(s)
	}
	rng := rand.New(rand.NewSource(2))
	rows := make([]mapRow, 16)
	for i := range rows {
		rows[i] = oGenRow(rng).mapRow()
	}
	rows = append(rows, mapRow{}, mapRow{106: "not an object", 199: []any{1.0}, 107: ArrayValue{}, 108: ArrayValue{}})
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseTemplate(s, testSchema(), map[string]any{"v": int64(1)})
		if err != nil {
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			if fe.Pos < 0 || fe.Pos > len(s) {
				t.Fatalf("error position %d outside input of %d bytes", fe.Pos, len(s))
			}
			return
		}
		for _, r := range rows {
			p.Eval(r)
		}
		p.Fields()
		p.PrimaryKeys("id")
	})
}
