package expr

import (
	"cmp"
	"fmt"
	"math/rand"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// This file checks Plan.Eval against an oracle: the test generates a random
// typed expression tree, renders it as filter text for Parse, and
// evaluates the tree itself with a deliberately naive model of Milvus'
// semantics: every result is a (match, valid) pair combined exactly as
// Milvus combines its result and validity bitmaps.

type oRes struct{ m, v bool }

func oNot(a oRes) oRes    { return oRes{!a.m && a.v, a.v} }
func oAnd(a, b oRes) oRes { return oRes{a.m && b.m, a.v || b.v} }
func oOr(a, b oRes) oRes  { return oRes{a.m || b.m, a.v || b.v} }

// oRow is one generated row; nil opt means null, absent meta keys are
// missing.
type oRow struct {
	id, age int64
	score   float64
	name    string
	flag    bool
	opt     *int64
	meta    map[string]any // JSON field "meta"
	dyn     map[string]any // dynamic keys
	tags    []string
	nums    []int64
}

func (r *oRow) mapRow() mapRow {
	m := mapRow{100: r.id, 101: r.age, 102: r.score, 104: r.name, 105: r.flag,
		106: r.meta, 199: r.dyn, 107: ArrayValue{Strings: r.tags}, 108: ArrayValue{Ints: r.nums}}
	if r.opt != nil {
		m[109] = *r.opt
	}
	return m
}

var (
	oStrings = []string{"", "a", "ab", "ba", "abc", "b_a", "a%b", `q"t`, `s\l`, "é"}
	oKeys    = []string{"a", "b", "s"}
	oDynKeys = []string{"k1", "k2"}
)

func oJSONScalar(rng *rand.Rand) any {
	switch rng.Intn(6) {
	case 0:
		return float64(rng.Intn(7) - 3)
	case 1:
		return float64(rng.Intn(7)-3) + 0.5
	case 2:
		return oStrings[rng.Intn(len(oStrings))]
	case 3:
		return rng.Intn(2) == 0
	case 4:
		return nil
	}
	return []any{float64(rng.Intn(3)), "a"}
}

func oGenRow(rng *rand.Rand) *oRow {
	r := &oRow{
		id: int64(rng.Intn(10)), age: int64(rng.Intn(10) - 2), score: float64(rng.Intn(9)-4) / 2,
		name: oStrings[rng.Intn(len(oStrings))], flag: rng.Intn(2) == 0,
		meta: map[string]any{}, dyn: map[string]any{},
	}
	if rng.Intn(3) > 0 {
		v := int64(rng.Intn(6) - 2)
		r.opt = &v
	}
	for _, k := range oKeys {
		if rng.Intn(4) > 0 {
			r.meta[k] = oJSONScalar(rng)
		}
	}
	for _, k := range oDynKeys {
		if rng.Intn(4) > 0 {
			r.dyn[k] = oJSONScalar(rng)
		}
	}
	for i := rng.Intn(4); i > 0; i-- {
		r.tags = append(r.tags, oStrings[rng.Intn(4)])
	}
	for i := rng.Intn(4); i > 0; i-- {
		r.nums = append(r.nums, int64(rng.Intn(5)))
	}
	return r
}

// Oracle values: nil = SQL null, oMissing = absent/mismatched JSON,
// int64, float64, string, bool, or oOther (JSON null/list).
type oMissingT struct{}
type oOtherT struct{}

var (
	oMissing = oMissingT{}
	oOther   = oOtherT{}
)

func oFromJSON(x any, ok bool) any {
	if !ok {
		return oMissing
	}
	switch x.(type) {
	case float64, string, bool:
		return x
	}
	return oOther
}

// oCmp compares per Milvus: null -> invalid; numbers numerically; same
// kinds by value; anything else unequal and unordered.
func oCmp(op string, a, b any) oRes {
	if a == nil || b == nil {
		return oRes{}
	}
	c, ok := 0, false
	switch x := a.(type) {
	case int64:
		switch y := b.(type) {
		case int64:
			c, ok = cmp.Compare(x, y), true
		case float64:
			return oRes{oFloatOp(op, float64(x), y), true}
		}
	case float64:
		switch y := b.(type) {
		case int64:
			return oRes{oFloatOp(op, x, float64(y)), true}
		case float64:
			return oRes{oFloatOp(op, x, y), true}
		}
	case string:
		if y, isStr := b.(string); isStr {
			c, ok = strings.Compare(x, y), true
		}
	case bool:
		if y, isBool := b.(bool); isBool && (op == "==" || op == "!=") {
			return oRes{(x == y) == (op == "=="), true}
		}
	}
	if !ok {
		return oRes{op == "!=", true}
	}
	switch op {
	case "==":
		return oRes{c == 0, true}
	case "!=":
		return oRes{c != 0, true}
	case "<":
		return oRes{c < 0, true}
	case "<=":
		return oRes{c <= 0, true}
	case ">":
		return oRes{c > 0, true}
	}
	return oRes{c >= 0, true}
}

func oFloatOp(op string, a, b float64) bool {
	switch op {
	case "==":
		return a == b
	case "!=":
		return a != b
	case "<":
		return a < b
	case "<=":
		return a <= b
	case ">":
		return a > b
	}
	return a >= b
}

// ---- generated trees ----

type oVal interface {
	src() string
	val(r *oRow) any
}

type oPred interface {
	src() string
	eval(r *oRow) oRes
}

type oConst struct{ v any }

func (c oConst) src() string {
	switch x := c.v.(type) {
	case string:
		if strings.ContainsAny(x, `"\`) {
			return strconv.Quote(x)
		}
		return "'" + x + "'"
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64) + map[bool]string{true: ".0"}[x == float64(int64(x))]
	}
	return fmt.Sprint(c.v)
}
func (c oConst) val(*oRow) any { return c.v }

type oField struct {
	name string
	get  func(r *oRow) any
}

func (f oField) src() string     { return f.name }
func (f oField) val(r *oRow) any { return f.get(r) }
func oInt(name string, get func(r *oRow) int64) oField {
	return oField{name, func(r *oRow) any { return get(r) }}
}

func oJSONKey(key string) oField {
	return oField{`meta["` + key + `"]`, func(r *oRow) any { x, ok := r.meta[key]; return oFromJSON(x, ok) }}
}

func oDynKey(key string) oField {
	return oField{key, func(r *oRow) any { x, ok := r.dyn[key]; return oFromJSON(x, ok) }}
}

type oArith struct {
	op   string
	l, r oVal
}

func (a oArith) src() string { return "(" + a.l.src() + " " + a.op + " " + a.r.src() + ")" }
func (a oArith) val(row *oRow) any {
	l, r := a.l.val(row), a.r.val(row)
	if l == nil || r == nil {
		return nil
	}
	num := func(x any) (float64, bool) {
		switch t := x.(type) {
		case int64:
			return float64(t), true
		case float64:
			return t, true
		}
		return 0, false
	}
	lf, ok1 := num(l)
	rf, ok2 := num(r)
	if !ok1 || !ok2 {
		return oMissing
	}
	li, lInt := l.(int64)
	ri, rInt := r.(int64)
	if a.op == "%" {
		if lf != float64(int64(lf)) || rf != float64(int64(rf)) || rf == 0 {
			return oMissing
		}
		return int64(lf) % int64(rf)
	}
	if lInt && rInt {
		switch a.op {
		case "+":
			return li + ri
		case "-":
			return li - ri
		case "*":
			return li * ri
		}
		if ri == 0 {
			return oMissing
		}
		return li / ri
	}
	switch a.op {
	case "+":
		return lf + rf
	case "-":
		return lf - rf
	case "*":
		return lf * rf
	}
	return lf / rf
}

type oCmpP struct {
	op   string
	l, r oVal
}

func (c oCmpP) src() string       { return c.l.src() + " " + c.op + " " + c.r.src() }
func (c oCmpP) eval(r *oRow) oRes { return oCmp(c.op, c.l.val(r), c.r.val(r)) }

type oRange struct {
	lo, hi     int64
	loOp, hiOp string
	x          oVal
}

func (g oRange) src() string {
	return fmt.Sprintf("%d %s %s %s %d", g.lo, g.loOp, g.x.src(), g.hiOp, g.hi)
}
func (g oRange) eval(r *oRow) oRes {
	v := g.x.val(r)
	loOp := map[string]string{"<": ">", "<=": ">="}[g.loOp]
	return oAnd(oCmp(loOp, v, g.lo), oCmp(g.hiOp, v, g.hi))
}

type oIn struct {
	x    oVal
	list []any
	not  bool
}

func (g oIn) src() string {
	parts := make([]string, len(g.list))
	for i, v := range g.list {
		parts[i] = oConst{v}.src()
	}
	kw := " in "
	if g.not {
		kw = " not in "
	}
	return g.x.src() + kw + "[" + strings.Join(parts, ", ") + "]"
}
func (g oIn) eval(r *oRow) oRes {
	v := g.x.val(r)
	res := oRes{}
	if v != nil {
		res.v = true
		for _, c := range g.list {
			if oCmp("==", v, c).m {
				res.m = true
			}
		}
	}
	if g.not {
		return oNot(res)
	}
	return res
}

type oLike struct {
	x       oVal
	pattern string
}

func (g oLike) src() string { return g.x.src() + " like " + strconv.Quote(g.pattern) }
func (g oLike) eval(r *oRow) oRes {
	v := g.x.val(r)
	if v == nil {
		return oRes{}
	}
	s, ok := v.(string)
	if !ok {
		return oRes{false, true}
	}
	var re strings.Builder
	re.WriteString(`(?s)^`)
	pat := []rune(g.pattern)
	for i := 0; i < len(pat); i++ {
		switch c := pat[i]; {
		case c == '\\' && i+1 < len(pat):
			i++
			re.WriteString(regexp.QuoteMeta(string(pat[i])))
		case c == '%':
			re.WriteString(".*")
		case c == '_':
			re.WriteString(".")
		default:
			re.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	re.WriteString("$")
	return oRes{regexp.MustCompile(re.String()).MatchString(s), true}
}

type oIsNull struct {
	x   oVal
	not bool
}

func (g oIsNull) src() string {
	if g.not {
		return g.x.src() + " is not null"
	}
	return g.x.src() + " is null"
}
func (g oIsNull) eval(r *oRow) oRes {
	v := g.x.val(r)
	null := v == nil || v == oMissing || v == oOther && oIsJSONNull(g, r)
	return oRes{null != g.not, true}
}

// oIsJSONNull tells JSON null from a JSON list (both oOther).
func oIsJSONNull(g oIsNull, r *oRow) bool {
	f := g.x.(oField)
	for _, k := range oKeys {
		if f.name == `meta["`+k+`"]` {
			return r.meta[k] == nil
		}
	}
	return false
}

type oContains struct {
	fn   string
	nums []int64
}

func (g oContains) src() string {
	parts := make([]string, len(g.nums))
	for i, n := range g.nums {
		parts[i] = fmt.Sprint(n)
	}
	if g.fn == "array_contains" {
		return fmt.Sprintf("array_contains(nums, %d)", g.nums[0])
	}
	return g.fn + "(nums, [" + strings.Join(parts, ", ") + "])"
}
func (g oContains) eval(r *oRow) oRes {
	has := func(n int64) bool {
		for _, x := range r.nums {
			if x == n {
				return true
			}
		}
		return false
	}
	switch g.fn {
	case "array_contains_all":
		for _, n := range g.nums {
			if !has(n) {
				return oRes{false, true}
			}
		}
		return oRes{true, true}
	}
	for _, n := range g.nums {
		if has(n) {
			return oRes{true, true}
		}
	}
	return oRes{false, true}
}

type oTagContains struct{ s string }

func (g oTagContains) src() string { return "ARRAY_CONTAINS(tags, " + oConst{g.s}.src() + ")" }
func (g oTagContains) eval(r *oRow) oRes {
	for _, t := range r.tags {
		if t == g.s {
			return oRes{true, true}
		}
	}
	return oRes{false, true}
}

type oFlag struct{}

func (oFlag) src() string       { return "flag" }
func (oFlag) eval(r *oRow) oRes { return oRes{r.flag, true} }

type oLogic struct {
	op   string // and, or
	kw   string
	l, r oPred
}

func (g oLogic) src() string { return "(" + g.l.src() + " " + g.kw + " " + g.r.src() + ")" }
func (g oLogic) eval(r *oRow) oRes {
	if g.op == "and" {
		return oAnd(g.l.eval(r), g.r.eval(r))
	}
	return oOr(g.l.eval(r), g.r.eval(r))
}

type oNotP struct {
	kw string
	x  oPred
}

func (g oNotP) src() string       { return g.kw + "(" + g.x.src() + ")" }
func (g oNotP) eval(r *oRow) oRes { return oNot(g.x.eval(r)) }

// ---- generators ----

var oCmpOps = []string{"==", "!=", "<", "<=", ">", ">="}

func oNumVal(rng *rand.Rand, depth int) oVal {
	switch n := rng.Intn(9); {
	case n == 0:
		return oInt("id", func(r *oRow) int64 { return r.id })
	case n == 1:
		return oInt("age", func(r *oRow) int64 { return r.age })
	case n == 2:
		return oField{"score", func(r *oRow) any { return r.score }}
	case n == 3:
		return oField{"opt", func(r *oRow) any {
			if r.opt == nil {
				return nil
			}
			return *r.opt
		}}
	case n == 4:
		return oJSONKey(oKeys[rng.Intn(len(oKeys))])
	case n == 5:
		return oDynKey(oDynKeys[rng.Intn(len(oDynKeys))])
	case n == 6 && depth > 0:
		ops := []string{"+", "-", "*", "/", "%"}
		op := ops[rng.Intn(len(ops))]
		l := oNumVal(rng, depth-1)
		var r oVal
		if op == "/" || op == "%" {
			// Non-zero integer constant divisors; % needs integer operands,
			// so its left side is an integer field or JSON value.
			r = oConst{int64(rng.Intn(3) + 1)}
			if op == "%" {
				l = []oVal{oInt("age", func(r *oRow) int64 { return r.age }), oJSONKey("a"), oDynKey("k1")}[rng.Intn(3)]
			}
		} else {
			r = oNumVal(rng, depth-1)
		}
		return oArith{op, l, r}
	case n == 7:
		return oConst{float64(rng.Intn(7)-3) + 0.5}
	}
	return oConst{int64(rng.Intn(9) - 3)}
}

func oIsConst(v oVal) bool { _, ok := v.(oConst); return ok }

func oGenPred(rng *rand.Rand, depth int) oPred {
	if depth > 0 && rng.Intn(3) == 0 {
		switch rng.Intn(3) {
		case 0:
			return oNotP{[]string{"not ", "NOT ", "!"}[rng.Intn(3)], oGenPred(rng, depth-1)}
		case 1:
			return oLogic{"and", []string{"and", "AND", "&&"}[rng.Intn(3)], oGenPred(rng, depth-1), oGenPred(rng, depth-1)}
		}
		return oLogic{"or", []string{"or", "OR", "||"}[rng.Intn(3)], oGenPred(rng, depth-1), oGenPred(rng, depth-1)}
	}
	switch rng.Intn(11) {
	case 0, 1:
		l, r := oNumVal(rng, 2), oNumVal(rng, 2)
		for oIsConst(l) && oIsConst(r) {
			l = oNumVal(rng, 2)
		}
		return oCmpP{oCmpOps[rng.Intn(6)], l, r}
	case 2:
		var x oVal = oField{"name", func(r *oRow) any { return r.name }}
		if rng.Intn(2) == 0 {
			x = oJSONKey(oKeys[rng.Intn(len(oKeys))])
		}
		return oCmpP{oCmpOps[rng.Intn(6)], x, oConst{oStrings[rng.Intn(len(oStrings))]}}
	case 3:
		lo := int64(rng.Intn(6) - 3)
		hi := lo + 1 + int64(rng.Intn(4))
		x := []oVal{oInt("age", func(r *oRow) int64 { return r.age }), oJSONKey("a"), oField{"score", func(r *oRow) any { return r.score }}}[rng.Intn(3)]
		return oRange{lo: lo, hi: hi, loOp: []string{"<", "<="}[rng.Intn(2)], hiOp: []string{"<", "<="}[rng.Intn(2)], x: x}
	case 4:
		var list []any
		var x oVal
		switch rng.Intn(3) {
		case 0:
			x = oInt("id", func(r *oRow) int64 { return r.id })
			for i := rng.Intn(4); i > 0; i-- {
				list = append(list, int64(rng.Intn(10)))
			}
		case 1:
			x = oField{"name", func(r *oRow) any { return r.name }}
			for i := rng.Intn(4); i > 0; i-- {
				list = append(list, oStrings[rng.Intn(len(oStrings))])
			}
		default:
			x = oDynKey(oDynKeys[rng.Intn(len(oDynKeys))])
			for i := rng.Intn(4); i > 0; i-- {
				list = append(list, oJSONScalarConst(rng))
			}
		}
		return oIn{x, list, rng.Intn(2) == 0}
	case 5:
		var p strings.Builder
		for i := rng.Intn(5); i > 0; i-- {
			p.WriteString([]string{"a", "b", "%", "_", `\%`, `\_`, "é"}[rng.Intn(7)])
		}
		var x oVal = oField{"name", func(r *oRow) any { return r.name }}
		if rng.Intn(3) == 0 {
			x = oJSONKey("s")
		}
		return oLike{x, p.String()}
	case 6:
		x := []oVal{oField{"opt", func(r *oRow) any {
			if r.opt == nil {
				return nil
			}
			return *r.opt
		}}, oJSONKey(oKeys[rng.Intn(len(oKeys))])}[rng.Intn(2)]
		return oIsNull{x, rng.Intn(2) == 0}
	case 7:
		fn := []string{"array_contains", "array_contains_all", "array_contains_any"}[rng.Intn(3)]
		nums := []int64{int64(rng.Intn(5))}
		for i := rng.Intn(3); i > 0 && fn != "array_contains"; i-- {
			nums = append(nums, int64(rng.Intn(5)))
		}
		return oContains{fn, nums}
	case 8:
		return oTagContains{oStrings[rng.Intn(4)]}
	case 9:
		return oFlag{}
	}
	l := oNumVal(rng, 1)
	for oIsConst(l) {
		l = oNumVal(rng, 1)
	}
	return oCmpP{oCmpOps[rng.Intn(6)], oConst{int64(rng.Intn(5) - 2)}, l}
}

func oJSONScalarConst(rng *rand.Rand) any {
	switch rng.Intn(4) {
	case 0:
		return int64(rng.Intn(5) - 2)
	case 1:
		return float64(rng.Intn(5)-2) + 0.5
	case 2:
		return rng.Intn(2) == 0
	}
	return oStrings[rng.Intn(len(oStrings))]
}

func TestEvalMatchesOracle(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	rows := make([]*oRow, 64)
	for i := range rows {
		rows[i] = oGenRow(rng)
	}
	const exprs = 3000
	matched := 0
	for i := 0; i < exprs; i++ {
		g := oGenPred(rng, 3)
		src := g.src()
		p, err := Parse(src, testSchema())
		if err != nil {
			t.Fatalf("Parse(%s): %v", src, err)
		}
		for _, r := range rows {
			want := g.eval(r).m
			if got := p.Eval(r.mapRow()); got != want {
				t.Fatalf("Eval(%s) = %v, oracle %v\nrow %+v opt=%v", src, got, want, *r, r.opt)
			}
			if want {
				matched++
			}
		}
	}
	// Guard against a generator whose expressions are all trivially
	// false (or true): both outcomes must be common.
	total := exprs * len(rows)
	if matched < total/10 || matched > total*9/10 {
		t.Fatalf("unbalanced oracle: %d of %d evaluations matched", matched, total)
	}
}
