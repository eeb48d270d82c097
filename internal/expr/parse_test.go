package expr

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		expr   string
		fields []string // names Plan.Fields reports
	}{
		{``, nil},
		{`  `, nil},
		{`id == 5`, []string{"id"}},
		{`5 == id`, []string{"id"}},
		{`id != -5`, []string{"id"}},
		{`age >= 0x10 AND age < 0o20 OR age <= 0b1`, []string{"age"}},
		{`age == 017`, []string{"age"}},
		{`10 < age < 20`, []string{"age"}},
		{`20 >= age > 10`, []string{"age"}},
		{`1.5 <= score <= 2.5`, []string{"score"}},
		{`id in [1, 2, 3,]`, []string{"id"}},
		{`id not in []`, []string{"id"}},
		{`name IN ["a", 'b']`, []string{"name"}},
		{`name like "ab%" or name LIKE '%ab' or name like "%ab%" or name like "a_b"`, []string{"name"}},
		{`not (id == 1) and !(id == 2) && NOT id == 3 || id == 4`, []string{"id"}},
		{`meta["a"]["b"] == 1 and meta['c'][0] > 2.5`, []string{"meta"}},
		{`color == "red"`, []string{"$meta"}},
		{`$meta["color"] == "red"`, []string{"$meta"}},
		{`color["deep"][1] like "x%"`, []string{"$meta"}},
		{`array_contains(tags, "a") and ARRAY_CONTAINS_ALL(nums, [1, 2]) and array_contains_any(nums, [3])`, []string{"nums", "tags"}},
		{`json_contains(meta["l"], [1, 2]) and json_contains_all(meta, ["x"]) and json_contains_any(meta["l"], [1, "a", true])`, []string{"meta"}},
		{`age * 2 + 1 > 10`, []string{"age"}},
		{`(age + score) / 2 < score - 1`, []string{"age", "score"}},
		{`age % 7 == 0 and meta["n"] % 2 == 1`, []string{"age", "meta"}},
		{`-age < 3 and +age > -3`, []string{"age"}},
		{`age < 2 ** 10`, []string{"age"}},
		{`opt is null or opt IS NOT NULL or meta["x"] is null`, []string{"meta", "opt"}},
		{`exists meta["a"] and EXISTS color`, []string{"$meta", "meta"}},
		{`flag and not flag == false`, []string{"flag"}},
		{`flag == True or flag != FALSE`, []string{"flag"}},
		{`tags[0] == "x" and nums[2] > 1 and tags[1] like "a%"`, []string{"nums", "tags"}},
		{`array_length(tags) > 2 and array_length(meta["l"]) == 0`, []string{"meta", "tags"}},
		{`name == "tab\there" or name == 'it\'s' or name == "\u00e9" or name == r"a\b"`, []string{"name"}},
		{"age > 1\n\tand age < 5", []string{"age"}},
		{`true`, nil},
		{`1 < 2`, nil},
		{`pk in ["a", "b"]`, []string{"pk"}},
		{`f32 == 0.1`, []string{"f32"}},
		{`age > score`, []string{"age", "score"}},
	}
	for _, tt := range tests {
		p, err := Parse(tt.expr, testSchema())
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.expr, err)
			continue
		}
		var got []string
		for _, f := range p.Fields() {
			got = append(got, f.Name)
		}
		if !reflect.DeepEqual(got, tt.fields) {
			t.Errorf("Parse(%q).Fields() = %v, want %v", tt.expr, got, tt.fields)
		}
		if p.String() != tt.expr {
			t.Errorf("String() = %q", p.String())
		}
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct{ expr, err string }{
		// syntax
		{`id == 5 and`, `filter: 1:12: expected a field, a value or '(', found end of expression`},
		{`(id == 5 and age > 1`, `filter: 1:21: expected ')', found end of expression`},
		{`(id == 5 and age > 1 name == "x")`, `filter: 1:22: expected ')', found "name"`},
		{`age > 1 )`, `filter: 1:9: expected 'and', 'or' or end of expression, found ")"`},
		{`age > 1 And age < 3`, `filter: 1:9: expected 'and', 'or' or end of expression, found "And"`},
		{`id in [1,2`, `filter: 1:11: expected ',' or ']', found end of expression`},
		{`age is nul`, `filter: 1:8: expected 'null', found "nul"`},
		{`age not like "a"`, `filter: 1:5: expected 'in' after 'not', found "like"`},
		{`name like 3`, `filter: 1:11: expected a string pattern after 'like', found "3"`},
		{`'abc`, `filter: 1:1: unterminated string`},
		{`@`, `filter: 1:1: unexpected character '@'`},
		{`$metax == 1`, `filter: 1:1: unexpected "$metax"`},
		{`age > 12abc`, `filter: 1:7: invalid number "12a"`},
		{`age == 08`, `filter: 1:8: invalid integer literal 08`},
		{`age > 1e999`, `filter: 1:7: float literal 1e999 out of range`},
		{`9223372036854775808 > age`, `filter: 1:1: integer literal 9223372036854775808 out of int64 range`},
		{"age > 1 and\nname == \"x", `filter: 2:9: unterminated string`},
		{`name == "\x4"`, `filter: 1:10: invalid escape sequence "\\x4"`},
		{`name == "\400"`, `filter: 1:10: invalid escape sequence "\\400"`},
		{`name == "\uD800"`, `filter: 1:10: invalid escape sequence "\\uD800"`},
		// unsupported parts of the Milvus grammar
		{`age = 3`, `filter: 1:5: unexpected "="; use "==" to compare`},
		{`age =~ "x"`, `filter: 1:5: operator "=~" is not supported`},
		{`age & 1 == 0`, `filter: 1:5: operator "&" is not supported`},
		{`text_match(name, "x")`, `filter: 1:1: function text_match is not supported`},
		{`foo(name)`, `filter: 1:1: unknown function "foo"`},
		{`Array_Contains(tags, "a")`, `filter: 1:1: unknown function "Array_Contains"`},
		{`ts > ISO "2024-01-01T00:00:00Z"`, `filter: 1:6: ISO timestamp comparisons are not supported`},
		{`age ** 2 > 3`, `filter: 1:5: operator ** applies only to constants`},
		{`{x} == 1`, `filter: 1:1: template variable {x} has no value`},
		// schema binding
		{`vec == 1`, `filter: 1:1: vector field "vec" cannot be used in a filter`},
		{`age[0] == 1`, `filter: 1:4: Int32 field "age" cannot be indexed with []`},
		{`tags["x"] == 1`, `filter: 1:6: Array field "tags" can only be indexed by a non-negative integer, found string "x"`},
		{`tags[0][1] == "a"`, `filter: 1:9: Array element tags[0] cannot be indexed further`},
		{`meta[x] == 1`, `filter: 1:6: expected a quoted key or a non-negative integer index, found "x"`},
		// types
		{`age == "x"`, `filter: 1:5: cannot compare Int32 field "age" with string "x"`},
		{`"x" < score`, `filter: 1:5: cannot compare string "x" with Double field "score"`},
		{`name == 1`, `filter: 1:6: cannot compare VarChar field "name" with integer 1`},
		{`flag == 1`, `filter: 1:6: cannot compare Bool field "flag" with integer 1`},
		{`flag < true`, `filter: 1:6: operator < is not defined on bool values`},
		{`age like "a%"`, `filter: 1:1: 'like' needs a VarChar field, a VarChar array element or a JSON value, found Int32 field "age"`},
		{`"abc" like "a%"`, `filter: 1:1: 'like' needs a field on its left, found string "abc"`},
		{`name + 1 > 2`, `filter: 1:1: arithmetic operator + needs numbers, found VarChar field "name"`},
		{`age + "1" > 2`, `filter: 1:7: arithmetic operator + needs numbers, found string "1"`},
		{`age % 1.5 > 0`, `filter: 1:5: operator % needs integer operands`},
		{`age / 0 > 1`, `filter: 1:5: division by zero`},
		{`age > 1 / 0`, `filter: 1:9: division by zero`},
		{`tags == 1`, `filter: 1:1: Array field "tags" cannot be compared directly; use array_contains or an index such as tags[0]`},
		{`meta == 1`, `filter: 1:1: JSON field "meta" cannot be compared directly; use a key such as meta["key"]`},
		{`age`, `filter: 1:1: expected a condition, found Int32 field "age"`},
		{`not age`, `filter: 1:5: expected a condition, found Int32 field "age"`},
		{`color`, `filter: 1:1: expected a condition, found JSON value color`},
		{`(age > 1) == true`, `filter: 1:1: expected a value, found condition (age > 1)`},
		{`age > 1 and 5`, `filter: 1:13: expected a condition, found integer 5`},
		{`age == [1]`, `filter: 1:8: a list is only allowed after 'in' or in contains functions`},
		// in
		{`id in 5`, `filter: 1:7: expected a list after 'in', found integer 5`},
		{`id in [1, "a"]`, `filter: 1:7: value "a" in list cannot be compared with Int64 field "id"`},
		{`id in [1.5]`, `filter: 1:7: value 1.5 in list cannot be compared with Int64 field "id"`},
		{`age in [age]`, `filter: 1:9: list elements must be constants, found Int32 field "age"`},
		{`age + 1 in [1]`, `filter: 1:1: 'in' needs a field on its left, found expression age + 1`},
		{`meta["a"] in [[1]]`, `filter: 1:14: value list in list cannot be compared with JSON value meta["a"]`},
		// ranges
		{`10 < age < 5`, `filter: 1:1: invalid range: lower bound 10 is not less than upper bound 5`},
		{`5 <= age <= 4`, `filter: 1:1: invalid range: lower bound 5 is greater than upper bound 4`},
		{`5 > age > 5`, `filter: 1:11: invalid range: lower bound 5 is not less than upper bound 5`},
		{`1 < age + 1 < 3`, `filter: 1:5: the middle of a range must be a field, found expression age + 1`},
		{`1 < age < score`, `filter: 1:11: range bounds must be constants, found Double field "score"`},
		{`a < b == c`, `filter: 1:7: comparisons cannot be chained except as a range (a < x < b or a > x > b); use 'and'`},
		{`1 < age > 3`, `filter: 1:9: comparisons cannot be chained except as a range (a < x < b or a > x > b); use 'and'`},
		// functions, exists, null
		{`exists age`, `filter: 1:8: 'exists' needs a JSON key such as meta["key"], found Int32 field "age"`},
		{`exists meta`, `filter: 1:8: 'exists' needs a JSON key such as meta["key"], found JSON value meta`},
		{`array_contains(age, 1)`, `filter: 1:16: array_contains needs an Array field or a JSON value, found Int32 field "age"`},
		{`array_contains(nums, "a")`, `filter: 1:22: array_contains: value "a" does not match the element type Int64 of Array field "nums"`},
		{`array_contains_all(nums, 1)`, `filter: 1:26: array_contains_all needs a list as its second argument, found integer 1`},
		{`array_contains(tags "a")`, `filter: 1:21: expected ',', found string "a"`},
		{`json_contains(meta, age)`, `filter: 1:21: json_contains needs a constant as its second argument, found Int32 field "age"`},
		{`array_length(age) > 1`, `filter: 1:14: array_length needs an Array field or a JSON value, found Int32 field "age"`},
		{`tags[0] is null`, `filter: 1:9: 'is null' is not supported on array elements`},
		{`age + 1 is null`, `filter: 1:1: 'is null' needs a field on its left, found expression age + 1`},
	}
	for _, tt := range tests {
		_, err := Parse(tt.expr, testSchema())
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want %s", tt.expr, tt.err)
			continue
		}
		var fe *Error
		if !errors.As(err, &fe) {
			t.Errorf("Parse(%q) error %T is not *Error", tt.expr, err)
		}
		if err.Error() != tt.err {
			t.Errorf("Parse(%q)\n got  %s\n want %s", tt.expr, err, tt.err)
		}
	}
}

func TestParseUnknownFieldWithoutDynamic(t *testing.T) {
	s := testSchema()
	s.DynamicField = Field{}
	_, err := Parse(`age > 1 and colour == "red"`, s)
	want := &Error{Pos: 12, Line: 1, Col: 13, Msg: `unknown field "colour"`}
	if !reflect.DeepEqual(err, want) {
		t.Fatalf("got %#v, want %#v", err, want)
	}
	if _, err := Parse(`$meta["a"] == 1`, s); err == nil || err.Error() != `filter: 1:1: unknown field "$meta"` {
		t.Fatalf("$meta without dynamic field: %v", err)
	}
}

func TestParseDepthLimit(t *testing.T) {
	deep := ""
	for i := 0; i < 300; i++ {
		deep += "("
	}
	_, err := Parse(deep+"age > 1", testSchema())
	if err == nil || err.Error() != "filter: 1:201: expression nested too deeply (more than 200 levels)" {
		t.Fatalf("got %v", err)
	}
	long := "age > 1"
	for i := 0; i < 1000; i++ {
		long += " and age > 1"
	}
	if _, err := Parse(long, testSchema()); err != nil {
		t.Fatalf("long flat chain: %v", err)
	}
}

func TestPrimaryKeys(t *testing.T) {
	tests := []struct {
		expr string
		pk   string
		want []any
		ok   bool
	}{
		{`id in [3, 1, 3]`, "id", []any{int64(3), int64(1)}, true},
		{`id == 7`, "id", []any{int64(7)}, true},
		{`7 == id`, "id", []any{int64(7)}, true},
		{`id == 1 or id in [2, 1] or id == 3`, "id", []any{int64(1), int64(2), int64(3)}, true},
		{`(id == 1)`, "id", []any{int64(1)}, true},
		{`pk in ["a", "b"]`, "pk", []any{"a", "b"}, true},
		{`id in []`, "id", []any{}, true},
		{`id in [1]`, "pk", nil, false},
		{`id not in [1]`, "id", nil, false},
		{`id == 1 and age > 2`, "id", nil, false},
		{`id == 1 or age == 2`, "id", nil, false},
		{`id > 1`, "id", nil, false},
		{`id == 1.0`, "id", nil, false},
		{``, "id", nil, false},
	}
	for _, tt := range tests {
		p, err := Parse(tt.expr, testSchema())
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.expr, err)
		}
		got, ok := p.PrimaryKeys(tt.pk)
		if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("PrimaryKeys(%q, %s) = %v, %v; want %v, %v", tt.expr, tt.pk, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseTemplate(t *testing.T) {
	vals := map[string]any{"ids": []int64{1, 2}, "min": 3, "name": "bob", "l": []any{"a", 1.5}}
	p, err := ParseTemplate(`id in {ids} and age > {min} and name == {name} and meta["k"] in {l}`, testSchema(), vals)
	if err != nil {
		t.Fatal(err)
	}
	row := mapRow{100: int64(2), 101: int64(4), 104: "bob", 106: mustJSON(`{"k":1.5}`)}
	if !p.Eval(row) {
		t.Fatal("template plan does not match")
	}
	if _, err := ParseTemplate(`id == {x}`, testSchema(), map[string]any{"x": struct{}{}}); err == nil ||
		err.Error() != "filter: 1:7: template variable {x}: unsupported value type struct {}" {
		t.Fatalf("got %v", err)
	}
}
