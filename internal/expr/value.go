package expr

import (
	"encoding/json"
	"math"
	"strconv"
)

// kind classifies a runtime value.
type kind uint8

const (
	// kMissing: a JSON key that is absent, an array index out of range, or
	// an arithmetic result that does not exist (non-number operand,
	// integer division by zero). Comparisons on it are false, except !=.
	kMissing kind = iota
	// kNull: SQL null from a nullable field. Predicates on it are
	// "unknown" (see tri).
	kNull
	kInt
	kFloat
	kString
	kBool
	// kOther: a JSON object, array or null; a is the decoded value.
	kOther
)

// value is a runtime scalar. It is passed by value so evaluation does not
// allocate.
type value struct {
	k kind
	b bool
	i int64
	f float64
	s string
	a any
}

func intVal(i int64) value     { return value{k: kInt, i: i} }
func floatVal(f float64) value { return value{k: kFloat, f: f} }
func strVal(s string) value    { return value{k: kString, s: s} }
func boolVal(b bool) value     { return value{k: kBool, b: b} }

func (v value) isNumber() bool { return v.k == kInt || v.k == kFloat }

func (v value) num() float64 {
	if v.k == kInt {
		return float64(v.i)
	}
	return v.f
}

// asInt returns v as an exact int64 when it is an integral number.
func (v value) asInt() (int64, bool) {
	switch v.k {
	case kInt:
		return v.i, true
	case kFloat:
		if v.f == math.Trunc(v.f) && v.f >= -maxInt64Float && v.f < maxInt64Float {
			return int64(v.f), true
		}
	}
	return 0, false
}

// fromJSON converts one decoded JSON value. Objects, arrays and null stay
// opaque (kOther).
func fromJSON(x any) value {
	switch t := x.(type) {
	case string:
		return strVal(t)
	case float64:
		return floatVal(t)
	case bool:
		return boolVal(t)
	case json.Number:
		if i, err := strconv.ParseInt(string(t), 10, 64); err == nil {
			return intVal(i)
		}
		if f, err := strconv.ParseFloat(string(t), 64); err == nil {
			return floatVal(f)
		}
		return value{k: kMissing}
	case int64:
		return intVal(t)
	case int:
		return intVal(int64(t))
	}
	return value{k: kOther, a: x}
}

// cmpOp is a comparison operator.
type cmpOp uint8

const (
	opEQ cmpOp = iota
	opNE
	opLT
	opLE
	opGT
	opGE
)

var cmpOpText = [...]string{"==", "!=", "<", "<=", ">", ">="}

func (o cmpOp) String() string { return cmpOpText[o] }

// flip returns the operator with its operands swapped (a < b == b > a).
func (o cmpOp) flip() cmpOp {
	switch o {
	case opLT:
		return opGT
	case opLE:
		return opGE
	case opGT:
		return opLT
	case opGE:
		return opLE
	}
	return o
}

func (o cmpOp) ordering() bool { return o >= opLT }

// cmpOrdered applies o with Go's operators, so a float NaN compares false
// (true for !=), as IEEE and Milvus do.
func cmpOrdered[T int64 | float64 | string](o cmpOp, a, b T) bool {
	switch o {
	case opEQ:
		return a == b
	case opNE:
		return a != b
	case opLT:
		return a < b
	case opLE:
		return a <= b
	case opGT:
		return a > b
	}
	return a >= b
}

// compare applies o to two runtime values. Values of different kinds (only
// possible through JSON) are unequal and unordered: every operator but !=
// is false, as Milvus' JSON comparisons are.
func compare(o cmpOp, a, b value) tri {
	if a.k == kNull || b.k == kNull {
		return tNull
	}
	switch {
	case a.k == kInt && b.k == kInt:
		return triOf(cmpOrdered(o, a.i, b.i))
	case a.isNumber() && b.isNumber():
		return triOf(cmpOrdered(o, a.num(), b.num()))
	case a.k == kString && b.k == kString:
		return triOf(cmpOrdered(o, a.s, b.s))
	case a.k == kBool && b.k == kBool:
		switch o {
		case opEQ:
			return triOf(a.b == b.b)
		case opNE:
			return triOf(a.b != b.b)
		}
		return tFalse
	}
	return triOf(o == opNE)
}

// equalJSON reports whether a JSON element equals a constant (numbers
// compare numerically; lists element-wise).
func equalJSON(x any, c value) bool {
	v := fromJSON(x)
	if c.k == kOther {
		cl, ok := c.a.([]value)
		xl, ok2 := x.([]any)
		if !ok || !ok2 || len(cl) != len(xl) {
			return false
		}
		for i := range cl {
			if !equalJSON(xl[i], cl[i]) {
				return false
			}
		}
		return true
	}
	return compare(opEQ, v, c) == tTrue
}

// tri is a predicate outcome with Milvus' null handling: every result is a
// (match, valid) pair, match is false when not valid.
type tri uint8

const (
	tFalse tri = iota // valid, no match
	tTrue             // valid, match
	tNull             // not valid (a null operand): no match
)

func triOf(b bool) tri {
	if b {
		return tTrue
	}
	return tFalse
}

// not flips valid results only; a null stays null (Milvus ANDs the flipped
// bitmap with the validity bitmap).
func (t tri) not() tri {
	switch t {
	case tTrue:
		return tFalse
	case tFalse:
		return tTrue
	}
	return tNull
}

// Milvus combines and/or as match = l op r, valid = lvalid || rvalid.
func and(l, r tri) tri {
	if l == tTrue && r == tTrue {
		return tTrue
	}
	if l == tNull && r == tNull {
		return tNull
	}
	return tFalse
}

func or(l, r tri) tri {
	if l == tTrue || r == tTrue {
		return tTrue
	}
	if l == tNull && r == tNull {
		return tNull
	}
	return tFalse
}
