package expr

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestEvalSemantics(t *testing.T) {
	row := mapRow{
		100: int64(5), 101: int64(30), 102: 2.5, 103: float64(float32(0.1)), 104: "alice",
		105: true,
		106: mustJSON(`{"a":{"b":3},"l":[1,2,[3,4]],"s":"x_y%z","f":1.5,"t":true,"nul":null,"n7":7}`),
		107: ArrayValue{Strings: []string{"red", "blue"}},
		108: ArrayValue{Ints: []int64{1, 2, 3}},
		// 109 (opt) is null; 199 is the dynamic field
		199: mustJSON(`{"color":"red","n":2,"big":9007199254740993}`),
	}
	tests := []struct {
		expr string
		want bool
	}{
		{`id == 5`, true},
		{`id != 5`, false},
		{`id > 4.5`, true},
		{`id < 5.0`, false},
		{`4 < id < 6 and 5 <= id <= 5 and not (5 < id < 9)`, true},
		{`6 > id >= 5`, true},
		{`2.5 <= score < 2.6`, true},
		{`f32 == 0.1`, true}, // constant rounded to float32 as Milvus does
		{`f32 > 0.1`, false},
		{`age * 2 + 1 > 60 and age * 2 + 1 < 62`, true},
		{`age / 7 == 4`, true}, // integer division truncates
		{`age / 7.0 > 4.2`, true},
		{`age % 7 == 2`, true},
		{`-age == -30 and -(age) + 30 == 0`, true},
		{`age - score == 27.5`, true},
		{`2 ** 5 == 32`, true},
		{`name == "alice" and name >= "al" and name < "b"`, true},
		{`name like "al%"`, true},
		{`name like "%ce"`, true},
		{`name like "%lic%"`, true},
		{`name like "a_ice"`, true},
		{`name like "a%e"`, true},
		{`name like "%"`, true},
		{`name like "alice"`, true},
		{`name like "alic"`, false},
		{`name like "_"`, false},
		{`meta["s"] like "x\\_y\\%z"`, true}, // escaped wildcards are literal
		{`meta["s"] like "x\\%%"`, false},
		{`name in ["bob", "alice"]`, true},
		{`name not in ["bob", "alice"]`, false},
		{`id in [1, 2, 5]`, true},
		{`flag`, true},
		{`not flag`, false},
		{`flag == false`, false},
		// JSON paths and numbers
		{`meta["a"]["b"] == 3`, true},
		{`meta["a"]["b"] == 3.0`, true},
		{`meta["a"]["b"] in [1, 3]`, true},
		{`meta["f"] in [1.5]`, true},
		{`meta["f"] > 1`, true},
		{`meta["l"][1] == 2`, true},
		{`meta["l"]["1"] == 2`, true}, // JSON pointer: a numeric key indexes arrays
		{`meta["t"] == true`, true},
		{`meta["s"] == "x_y%z"`, true},
		{`meta["n7"] % 4 == 3`, true},
		{`meta["n7"] / 2 == 3.5`, true}, // float64-decoded JSON numbers divide as floats
		// missing keys and type mismatches: false, except !=
		{`meta["zz"] == 1`, false},
		{`meta["zz"] != 1`, true},
		{`meta["zz"] < 1 or meta["zz"] >= 1`, false},
		{`meta["s"] > 1`, false},
		{`meta["s"] != 1`, true},
		{`meta["a"]["b"]["c"] == 1`, false},
		{`meta["zz"] in [1]`, false},
		{`meta["zz"] not in [1]`, true},
		{`meta["zz"] + 1 > 0`, false},
		{`meta["zz"] + 1 != 0`, true},
		{`meta["nul"] == 1`, false},
		{`meta["zz"] like "%"`, false},
		// exists / is null on JSON
		{`exists meta["a"]`, true},
		{`exists meta["nul"]`, false},
		{`exists meta["zz"]`, false},
		{`meta["zz"] is null and meta["nul"] is null and meta["a"] is not null`, true},
		// dynamic fields
		{`color == "red"`, true},
		{`$meta["color"] == "red"`, true},
		{`n + 1 == 3`, true},
		{`nothing == 1`, false},
		{`nothing != 1`, true},
		// arrays
		{`array_contains(tags, "blue")`, true},
		{`array_contains(tags, "green")`, false},
		{`array_contains_all(nums, [3, 1])`, true},
		{`array_contains_all(nums, [3, 4])`, false},
		{`array_contains_all(nums, [])`, true},
		{`array_contains_any(nums, [9, 2])`, true},
		{`array_contains_any(nums, [])`, false},
		{`tags[1] == "blue" and nums[0] < 2 and tags[0] like "r%"`, true},
		{`tags[5] == "x"`, false},
		{`tags[5] != "x"`, true},
		{`array_length(nums) == 3 and array_length(meta["l"]) == 3`, true},
		{`array_length(meta["s"]) >= 0`, false},
		{`json_contains(meta["l"], 2)`, true},
		{`json_contains(meta["l"], 2.0)`, true},
		{`json_contains(meta["l"], [3, 4])`, true},
		{`json_contains(meta["l"], [4, 3])`, false},
		{`json_contains_all(meta["l"], [1, [3, 4]])`, true},
		{`json_contains_any(meta["l"], ["q", [3, 4]])`, true},
		{`json_contains(meta["s"], "x")`, false},
		{`json_contains(meta["zz"], 1)`, false},
		// nulls (opt is a null nullable field): Milvus keeps (match, valid)
		{`opt is null`, true},
		{`opt is not null`, false},
		{`opt == 1`, false},
		{`opt != 1`, false},
		{`not (opt == 1)`, false},
		{`opt in [1]`, false},
		{`opt not in [1]`, false},
		{`opt == 1 or id == 5`, true},
		{`not (opt == 1 or opt == 2)`, false},
		{`not (opt == 1 and id == 5)`, true}, // valid = valid(l) || valid(r), as Milvus
		{`opt + 1 > 0`, false},
		{`1 < opt < 5`, false},
		// constants
		{`true`, true},
		{`false`, false},
		{`1 < 2 and not false`, true},
		{`"a" == "b"`, false},
	}
	for _, tt := range tests {
		p, err := Parse(tt.expr, testSchema())
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.expr, err)
			continue
		}
		if got := p.Eval(row); got != tt.want {
			t.Errorf("Eval(%q) = %v, want %v", tt.expr, got, tt.want)
		}
	}
}

func TestEvalRowWithoutJSON(t *testing.T) {
	s := testSchema()
	s.Fields = append(s.Fields, Field{Name: "nj", ID: 120, Type: JSON, Nullable: true})
	empty := mapRow{} // no dynamic data, meta and nj absent
	tests := []struct {
		expr string
		want bool
	}{
		{`color != "red"`, true}, // $meta is never null: keys are just missing
		{`not exists color`, true},
		{`color is null`, true},
		{`meta["a"] != 1`, true},
		{`nj["a"] != 1`, false}, // a null nullable JSON field is unknown
		{`not exists nj["a"]`, false},
		{`nj is null`, true},
		{`meta is null or $meta is null or age is null`, false},
		{`meta is not null and $meta is not null`, true},
	}
	for _, tt := range tests {
		p, err := Parse(tt.expr, s)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Eval(empty); got != tt.want {
			t.Errorf("Eval(%q) on empty row = %v, want %v", tt.expr, got, tt.want)
		}
	}
}

// TestEvalNaN: a NaN stored in a float field compares false under every
// operator but !=, as IEEE and Milvus' C++ core compare it, on each
// comparison path (field against constant, range, two numeric operands, a
// JSON number against the field).
func TestEvalNaN(t *testing.T) {
	row := mapRow{102: math.NaN(), 103: math.NaN(), 199: mustJSON(`{"n":1}`)}
	tests := []struct {
		expr string
		want bool
	}{
		{`score == 1.5`, false},
		{`score < 1.5 or score <= 1.5 or score > 1.5 or score >= 1.5`, false},
		{`score != 1.5`, true},
		{`0 < score < 2`, false},
		{`score == f32 or score < f32 or score >= f32`, false},
		{`score != f32`, true},
		{`score + 1 > 0 or score + 1 <= 0`, false},
		{`n < score or n >= score`, false},
		{`n != score`, true},
	}
	for _, tt := range tests {
		p, err := Parse(tt.expr, testSchema())
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.expr, err)
		}
		if got := p.Eval(row); got != tt.want {
			t.Errorf("Eval(%q) with NaN = %v, want %v", tt.expr, got, tt.want)
		}
	}
}

func TestEvalJSONNumber(t *testing.T) {
	d := json.NewDecoder(strings.NewReader(`{"n":7,"f":7.5,"big":9007199254740993}`))
	d.UseNumber()
	var doc any
	if err := d.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	row := mapRow{199: doc}
	for _, e := range []string{`n / 2 == 3`, `f / 2 == 3.75`, `big == 9007199254740993`, `big != 9007199254740992`, `n in [7]`} {
		p, err := Parse(e, testSchema())
		if err != nil {
			t.Fatal(err)
		}
		if !p.Eval(row) {
			t.Errorf("%s: false", e)
		}
	}
}

func TestMatcher(t *testing.T) {
	tests := []struct {
		pattern string
		kind    likeKind
		yes, no []string
	}{
		{"abc", likeEqual, []string{"abc"}, []string{"ab", "abcd", ""}},
		{"", likeEqual, []string{""}, []string{"a"}},
		{"ab%", likePrefix, []string{"ab", "abz"}, []string{"a", "zab"}},
		{"%", likePrefix, []string{"", "x"}, nil},
		{"%%", likePrefix, []string{"", "x"}, nil},
		{"%ab", likeSuffix, []string{"ab", "zab"}, []string{"abz"}},
		{"%ab%", likeContains, []string{"ab", "zabz"}, []string{"a b"}},
		{"a_c", likeGeneral, []string{"abc", "aéc"}, []string{"ac", "abbc"}},
		{"a%b%c", likeGeneral, []string{"abc", "aXbYc", "abbbc", "acbc"}, []string{"acb", "ab"}},
		{"%a_", likeGeneral, []string{"ab", "xxab", "aab"}, []string{"a", "ba"}},
		{"__", likeGeneral, []string{"ab", "éé"}, []string{"a", "abc"}},
		{`50\%`, likeEqual, []string{"50%"}, []string{"50", "500"}},
		{`a\_%`, likePrefix, []string{"a_", "a_b"}, []string{"ab"}},
		{`%\\`, likeSuffix, []string{`a\`}, []string{"a"}},
		{"%a%a%a%", likeGeneral, []string{"aaa", "xaxaxax"}, []string{"aa"}},
	}
	for _, tt := range tests {
		m := compileLike(tt.pattern)
		if m.kind != tt.kind {
			t.Errorf("compileLike(%q).kind = %d, want %d", tt.pattern, m.kind, tt.kind)
		}
		for _, s := range tt.yes {
			if !m.match(s) {
				t.Errorf("%q like %q = false", s, tt.pattern)
			}
		}
		for _, s := range tt.no {
			if m.match(s) {
				t.Errorf("%q like %q = true", s, tt.pattern)
			}
		}
	}
}
