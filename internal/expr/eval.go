package expr

import (
	"math"
	"strconv"
)

// operand computes a value from a row.
type operand interface {
	value(r Row) value
}

// pred computes a predicate outcome from a row.
type pred interface {
	eval(r Row) tri
}

// numeric is an operand whose static type is a number (or a JSON value
// used as one). numVal avoids building a value: k is kInt (i holds the
// number), kFloat (f), kNull or kMissing (not a number).
type numeric interface {
	operand
	numVal(r Row) (i int64, f float64, k kind)
}

func numOf(v value) (int64, float64, kind) {
	switch v.k {
	case kInt, kFloat, kNull:
		return v.i, v.f, v.k
	}
	return 0, 0, kMissing
}

// ---- operands ----

type constOperand struct{ v value }

func (c constOperand) value(Row) value { return c.v }

func (c constOperand) numVal(Row) (int64, float64, kind) { return numOf(c.v) }

type intField struct{ id int64 }

func (f intField) value(r Row) value {
	v, ok := r.Int(f.id)
	if !ok {
		return value{k: kNull}
	}
	return intVal(v)
}

func (f intField) numVal(r Row) (int64, float64, kind) {
	v, ok := r.Int(f.id)
	if !ok {
		return 0, 0, kNull
	}
	return v, 0, kInt
}

type floatField struct{ id int64 }

func (f floatField) value(r Row) value {
	v, ok := r.Float(f.id)
	if !ok {
		return value{k: kNull}
	}
	return floatVal(v)
}

func (f floatField) numVal(r Row) (int64, float64, kind) {
	v, ok := r.Float(f.id)
	if !ok {
		return 0, 0, kNull
	}
	return 0, v, kFloat
}

type boolField struct{ id int64 }

func (f boolField) value(r Row) value {
	v, ok := r.Bool(f.id)
	if !ok {
		return value{k: kNull}
	}
	return boolVal(v)
}

type strField struct{ id int64 }

func (f strField) value(r Row) value {
	v, ok := r.String(f.id)
	if !ok {
		return value{k: kNull}
	}
	return strVal(v)
}

// pathSeg is one [..] step of a JSON path. JSON pointer semantics: a key
// that is a decimal number also indexes arrays, an index also looks up the
// key of the same spelling in objects.
type pathSeg struct {
	key string
	idx int // -1 when key is not an array index
}

// jsonPath reads a JSON field (or $meta) and walks a path into it.
type jsonPath struct {
	id   int64
	path []pathSeg
	// nullable: Row's ok=false is SQL null. Otherwise (the dynamic field,
	// non-nullable JSON fields) it is an empty document: keys are missing.
	nullable bool
}

// lookup returns the raw JSON value at the path; present is false for a
// missing key, and null is true when the column itself is null.
func (j *jsonPath) lookup(r Row) (x any, present, null bool) {
	x, ok := r.JSON(j.id)
	if !ok {
		return nil, false, j.nullable
	}
	for _, s := range j.path {
		switch t := x.(type) {
		case map[string]any:
			if x, ok = t[s.key]; !ok {
				return nil, false, false
			}
		case []any:
			if s.idx < 0 || s.idx >= len(t) {
				return nil, false, false
			}
			x = t[s.idx]
		default:
			return nil, false, false
		}
	}
	return x, true, false
}

func (j *jsonPath) value(r Row) value {
	x, present, null := j.lookup(r)
	switch {
	case null:
		return value{k: kNull}
	case !present:
		return value{k: kMissing}
	}
	return fromJSON(x)
}

func (j *jsonPath) numVal(r Row) (int64, float64, kind) {
	x, present, null := j.lookup(r)
	switch {
	case null:
		return 0, 0, kNull
	case !present:
		return 0, 0, kMissing
	}
	if f, ok := x.(float64); ok {
		return 0, f, kFloat
	}
	return numOf(fromJSON(x))
}

// arrayElem is arr[i] on an Array field.
type arrayElem struct {
	id   int64
	idx  int
	elem Type
}

func (a arrayElem) value(r Row) value {
	v, ok := r.Array(a.id)
	if !ok {
		return value{k: kNull}
	}
	if a.idx >= arrayLen(v, a.elem) {
		return value{k: kMissing}
	}
	return arrayAt(v, a.elem, a.idx)
}

func (a arrayElem) numVal(r Row) (int64, float64, kind) { return numOf(a.value(r)) }

// arrayLength is array_length(field) for Array fields and JSON arrays.
type arrayLength struct {
	arrayID int64
	elem    Type
	json    *jsonPath // set for JSON
}

func (a arrayLength) value(r Row) value {
	if a.json != nil {
		x, present, null := a.json.lookup(r)
		if null {
			return value{k: kNull}
		}
		if l, ok := x.([]any); ok && present {
			return intVal(int64(len(l)))
		}
		return value{k: kMissing}
	}
	v, ok := r.Array(a.arrayID)
	if !ok {
		return value{k: kNull}
	}
	return intVal(int64(arrayLen(v, a.elem)))
}

func (a arrayLength) numVal(r Row) (int64, float64, kind) { return numOf(a.value(r)) }

func arrayLen(v ArrayValue, elem Type) int {
	switch {
	case elem.isInteger():
		return len(v.Ints)
	case elem.isFloat():
		return len(v.Floats)
	case elem == Bool:
		return len(v.Bools)
	}
	return len(v.Strings)
}

type arithOp uint8

const (
	opAdd arithOp = iota
	opSub
	opMul
	opDiv
	opMod
)

type arith struct {
	op   arithOp
	l, r numeric
}

func (a arith) value(r Row) value {
	i, f, k := a.numVal(r)
	return value{k: k, i: i, f: f}
}

func (a arith) numVal(r Row) (int64, float64, kind) {
	li, lf, lk := a.l.numVal(r)
	ri, rf, rk := a.r.numVal(r)
	return arithNum(a.op, li, lf, lk, ri, rf, rk)
}

// arithApply computes l op r on values (constant folding).
func arithApply(op arithOp, l, r value) value {
	li, lf, lk := numOf(l)
	ri, rf, rk := numOf(r)
	i, f, k := arithNum(op, li, lf, lk, ri, rf, rk)
	return value{k: k, i: i, f: f}
}

// arithNum computes l op r. Two integers stay integers (wrapping, with
// truncating division as in Milvus' C++ core); anything else numeric is
// float64. A null operand gives null; a non-number or integer division by
// zero gives "missing", which no comparison but != matches.
func arithNum(op arithOp, li int64, lf float64, lk kind, ri int64, rf float64, rk kind) (int64, float64, kind) {
	if lk == kNull || rk == kNull {
		return 0, 0, kNull
	}
	if lk == kMissing || rk == kMissing {
		return 0, 0, kMissing
	}
	if op == opMod {
		a, ok1 := value{k: lk, i: li, f: lf}.asInt()
		b, ok2 := value{k: rk, i: ri, f: rf}.asInt()
		switch {
		case !ok1 || !ok2 || b == 0:
			return 0, 0, kMissing
		case b == -1:
			return 0, 0, kInt
		}
		return a % b, 0, kInt
	}
	if lk == kInt && rk == kInt {
		switch op {
		case opAdd:
			return li + ri, 0, kInt
		case opSub:
			return li - ri, 0, kInt
		case opMul:
			return li * ri, 0, kInt
		}
		switch ri {
		case 0:
			return 0, 0, kMissing
		case -1:
			return -li, 0, kInt
		}
		return li / ri, 0, kInt
	}
	if lk == kInt {
		lf = float64(li)
	}
	if rk == kInt {
		rf = float64(ri)
	}
	switch op {
	case opAdd:
		return 0, lf + rf, kFloat
	case opSub:
		return 0, lf - rf, kFloat
	case opMul:
		return 0, lf * rf, kFloat
	}
	return 0, lf / rf, kFloat
}

// ---- predicates ----

type constPred struct{ t tri }

func (c constPred) eval(Row) tri { return c.t }

type andPred struct{ l, r pred }

func (p andPred) eval(r Row) tri {
	l := p.l.eval(r)
	if l == tFalse {
		return tFalse
	}
	return and(l, p.r.eval(r))
}

type orPred struct{ l, r pred }

func (p orPred) eval(r Row) tri {
	l := p.l.eval(r)
	if l == tTrue {
		return tTrue
	}
	return or(l, p.r.eval(r))
}

type notPred struct{ p pred }

func (p notPred) eval(r Row) tri { return p.p.eval(r).not() }

// cmpPred is the general comparison of two operands.
type cmpPred struct {
	op   cmpOp
	l, r operand
}

func (p cmpPred) eval(r Row) tri { return compare(p.op, p.l.value(r), p.r.value(r)) }

// cmpNum compares two numeric operands, at least one of them statically
// a number, so a non-number on the other side is simply unequal.
type cmpNum struct {
	op   cmpOp
	l, r numeric
}

func (p cmpNum) eval(r Row) tri {
	li, lf, lk := p.l.numVal(r)
	ri, rf, rk := p.r.numVal(r)
	switch {
	case lk == kNull || rk == kNull:
		return tNull
	case lk == kMissing || rk == kMissing:
		return triOf(p.op == opNE)
	case lk == kInt && rk == kInt:
		return triOf(cmpOrdered(p.op, li, ri))
	}
	if lk == kInt {
		lf = float64(li)
	}
	if rk == kInt {
		rf = float64(ri)
	}
	return triOf(cmpOrdered(p.op, lf, rf))
}

// Fast paths: a typed field against a constant.

type cmpIntConst struct {
	id int64
	op cmpOp
	c  int64
}

func (p cmpIntConst) eval(r Row) tri {
	v, ok := r.Int(p.id)
	if !ok {
		return tNull
	}
	return triOf(cmpOrdered(p.op, v, p.c))
}

type cmpFloatConst struct {
	id    int64
	op    cmpOp
	c     float64
	isInt bool // the field is an integer field
}

func (p cmpFloatConst) eval(r Row) tri {
	var v float64
	if p.isInt {
		i, ok := r.Int(p.id)
		if !ok {
			return tNull
		}
		v = float64(i)
	} else {
		f, ok := r.Float(p.id)
		if !ok {
			return tNull
		}
		v = f
	}
	return triOf(cmpOrdered(p.op, v, p.c))
}

type cmpStrConst struct {
	id int64
	op cmpOp
	c  string
}

func (p cmpStrConst) eval(r Row) tri {
	v, ok := r.String(p.id)
	if !ok {
		return tNull
	}
	return triOf(cmpOrdered(p.op, v, p.c))
}

// rangePred is lo <(=) x <(=) hi with constant bounds.
type rangePred struct {
	x            operand
	lo, hi       value
	loInc, hiInc bool
}

func (p rangePred) eval(r Row) tri {
	v := p.x.value(r)
	lop, hop := opGT, opLT
	if p.loInc {
		lop = opGE
	}
	if p.hiInc {
		hop = opLE
	}
	return and(compare(lop, v, p.lo), compare(hop, v, p.hi))
}

type rangeInt struct {
	id     int64
	lo, hi int64 // inclusive, after adjusting exclusive integer bounds
}

func (p rangeInt) eval(r Row) tri {
	v, ok := r.Int(p.id)
	if !ok {
		return tNull
	}
	return triOf(v >= p.lo && v <= p.hi)
}

type rangeFloat struct {
	id           int64
	lo, hi       float64
	loInc, hiInc bool
}

func (p rangeFloat) eval(r Row) tri {
	v, ok := r.Float(p.id)
	if !ok {
		return tNull
	}
	okLo := v > p.lo || (p.loInc && v == p.lo)
	okHi := v < p.hi || (p.hiInc && v == p.hi)
	return triOf(okLo && okHi)
}

// valueSet is the constant list of an in / contains expression. Integral
// numbers live in ints, other numbers in floats, so 3 and 3.0 are the same
// element.
type valueSet struct {
	ints     map[int64]struct{}
	floats   map[float64]struct{}
	strs     map[string]struct{}
	hasTrue  bool
	hasFalse bool
	lists    []value // nested lists (json_contains_any with lists)
}

func newValueSet(vals []value) *valueSet {
	s := &valueSet{}
	for _, v := range vals {
		if s.has(v) {
			continue
		}
		if i, ok := v.asInt(); ok {
			if s.ints == nil {
				s.ints = make(map[int64]struct{})
			}
			s.ints[i] = struct{}{}
			continue
		}
		switch v.k {
		case kFloat:
			if s.floats == nil {
				s.floats = make(map[float64]struct{})
			}
			s.floats[v.f] = struct{}{}
		case kString:
			if s.strs == nil {
				s.strs = make(map[string]struct{})
			}
			s.strs[v.s] = struct{}{}
		case kBool:
			if v.b {
				s.hasTrue = true
			} else {
				s.hasFalse = true
			}
		case kOther:
			s.lists = append(s.lists, v)
		}
	}
	return s
}

func (s *valueSet) has(v value) bool {
	if i, ok := v.asInt(); ok {
		_, found := s.ints[i]
		return found
	}
	switch v.k {
	case kFloat:
		_, found := s.floats[v.f]
		return found
	case kString:
		_, found := s.strs[v.s]
		return found
	case kBool:
		return (v.b && s.hasTrue) || (!v.b && s.hasFalse)
	}
	return false
}

// hasJSON reports whether a raw JSON element is in the set.
func (s *valueSet) hasJSON(x any) bool {
	if l, ok := x.([]any); ok {
		for _, c := range s.lists {
			if equalJSON(l, c) {
				return true
			}
		}
		return false
	}
	return s.has(fromJSON(x))
}

// inPred is x in [...]; negation is a notPred around it.
type inPred struct {
	x   operand
	set *valueSet
}

func (p inPred) eval(r Row) tri {
	v := p.x.value(r)
	if v.k == kNull {
		return tNull
	}
	return triOf(p.set.has(v))
}

type inInt struct {
	id  int64
	set map[int64]struct{}
}

func (p inInt) eval(r Row) tri {
	v, ok := r.Int(p.id)
	if !ok {
		return tNull
	}
	_, found := p.set[v]
	return triOf(found)
}

type inStr struct {
	id  int64
	set map[string]struct{}
}

func (p inStr) eval(r Row) tri {
	v, ok := r.String(p.id)
	if !ok {
		return tNull
	}
	_, found := p.set[v]
	return triOf(found)
}

type likePred struct {
	x operand
	m matcher
}

func (p *likePred) eval(r Row) tri {
	v := p.x.value(r)
	switch v.k {
	case kNull:
		return tNull
	case kString:
		return triOf(p.m.match(v.s))
	}
	return tFalse
}

type likeStr struct {
	id int64
	m  matcher
}

func (p *likeStr) eval(r Row) tri {
	v, ok := r.String(p.id)
	if !ok {
		return tNull
	}
	return triOf(p.m.match(v))
}

// nullPred is "x is null" on a nullable field.
type nullPred struct {
	f Field
}

func (p nullPred) eval(r Row) tri {
	var ok bool
	switch {
	case p.f.Type.isInteger():
		_, ok = r.Int(p.f.ID)
	case p.f.Type.isFloat():
		_, ok = r.Float(p.f.ID)
	case p.f.Type == Bool:
		_, ok = r.Bool(p.f.ID)
	case p.f.Type == VarChar:
		_, ok = r.String(p.f.ID)
	case p.f.Type == JSON:
		_, ok = r.JSON(p.f.ID)
	case p.f.Type == Array:
		_, ok = r.Array(p.f.ID)
	}
	return triOf(!ok)
}

// existsPred is "exists path" / "path is not null": the key is present and
// not JSON null.
type existsPred struct{ j *jsonPath }

func (p existsPred) eval(r Row) tri {
	x, present, null := p.j.lookup(r)
	if null {
		return tNull
	}
	return triOf(present && x != nil)
}

type containsMode uint8

const (
	containsOne containsMode = iota
	containsAll
	containsAny
)

// containsPred is array_contains / json_contains and their _all / _any
// forms.
type containsPred struct {
	mode containsMode
	set  *valueSet // the wanted elements, for contains and contains_any
	want []value   // the wanted elements, for contains_all
	// Either an Array field ...
	arrayID int64
	elem    Type
	// ... or a JSON path holding an array.
	json *jsonPath
}

func (p *containsPred) eval(r Row) tri {
	if p.json != nil {
		x, present, null := p.json.lookup(r)
		if null {
			return tNull
		}
		l, ok := x.([]any)
		if !present || !ok {
			return tFalse
		}
		return triOf(p.matchJSON(l))
	}
	v, ok := r.Array(p.arrayID)
	if !ok {
		return tNull
	}
	return triOf(p.matchArray(v))
}

func (p *containsPred) matchJSON(l []any) bool {
	if p.mode == containsAll {
		for _, w := range p.want {
			found := false
			for _, x := range l {
				if equalJSON(x, w) {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	}
	for _, x := range l {
		if p.set.hasJSON(x) {
			return true
		}
	}
	return false
}

func (p *containsPred) matchArray(v ArrayValue) bool {
	n := arrayLen(v, p.elem)
	if p.mode == containsAll {
		for _, w := range p.want {
			found := false
			for i := 0; i < n && !found; i++ {
				found = compare(opEQ, arrayAt(v, p.elem, i), w) == tTrue
			}
			if !found {
				return false
			}
		}
		return true
	}
	for i := 0; i < n; i++ {
		if p.set.has(arrayAt(v, p.elem, i)) {
			return true
		}
	}
	return false
}

func arrayAt(v ArrayValue, elem Type, i int) value {
	switch {
	case elem.isInteger():
		return intVal(v.Ints[i])
	case elem.isFloat():
		return floatVal(v.Floats[i])
	case elem == Bool:
		return boolVal(v.Bools[i])
	}
	return strVal(v.Strings[i])
}

// boolFieldPred is a bare Bool field used as a condition.
type boolFieldPred struct{ id int64 }

func (p boolFieldPred) eval(r Row) tri {
	v, ok := r.Bool(p.id)
	if !ok {
		return tNull
	}
	return triOf(v)
}

// truthPred is a Bool-typed operand (JSON path, array element) used as a
// condition: it matches when the value is true.
type truthPred struct{ x operand }

func (p truthPred) eval(r Row) tri {
	v := p.x.value(r)
	if v.k == kNull {
		return tNull
	}
	return triOf(v.k == kBool && v.b)
}

func pathKey(s string) pathSeg {
	idx := -1
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && strconv.Itoa(n) == s {
		idx = n
	}
	return pathSeg{key: s, idx: idx}
}

func pathIndex(i int64) pathSeg {
	idx := -1
	if i <= math.MaxInt32 {
		idx = int(i)
	}
	return pathSeg{key: strconv.FormatInt(i, 10), idx: idx}
}
