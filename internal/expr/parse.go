package expr

import (
	"fmt"
	"math"
	"strings"
)

// stype is the static type of a parsed node.
type stype uint8

const (
	sInt    stype = iota + 1 // integer value
	sFloat                   // floating-point value (or any number)
	sString                  // string value
	sBool                    // bool value
	sJSON                    // JSON path: type known only per row
	sDoc                     // a whole JSON field, no path
	sArray                   // a whole Array field
	sList                    // a constant list
	sPred                    // a condition
)

// node is a parsed, type-checked sub-expression together with its
// compiled evaluator.
type node struct {
	pos, end int
	t        stype
	op       operand // value nodes
	p        pred    // sPred
	c        *value  // folded constant (with op set too)
	list     []value // sList
	col      *colRef // a bare column reference
	keys     *keyList
}

// colRef is a field reference, possibly with a JSON path or array index.
type colRef struct {
	f     Field
	json  *jsonPath // JSON field (path may be empty for the whole field)
	index int       // Array element index, -1 for the whole array
}

// keyList records that a condition is exactly "field in/== constants",
// for Plan.PrimaryKeys.
type keyList struct {
	field string
	vals  []value
}

const maxDepth = 200

type parser struct {
	src    string
	lex    lexer
	tok    token
	prev   token
	r      Resolver
	tmpl   map[string]any
	depth  int
	fields map[string]Field
}

// Parse compiles a Milvus boolean filter expression against a schema. An
// empty (or blank) expression gives a plan that matches every row. Errors
// are *Error.
func Parse(expr string, r Resolver) (*Plan, error) {
	return ParseTemplate(expr, r, nil)
}

// ParseTemplate is Parse with values for {name} placeholders, as Milvus'
// expr_template_values carries them. Values may be bool, string, any Go
// integer or float type, or slices ([]any, []int64, []string, ...) of them.
func ParseTemplate(expr string, r Resolver, values map[string]any) (*Plan, error) {
	p := &parser{src: expr, lex: lexer{src: expr}, r: r, tmpl: values, fields: map[string]Field{}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	plan := &Plan{src: expr}
	if p.tok.kind == tokEOF {
		return plan, nil
	}
	n, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, p.errf(p.tok.pos, "expected 'and', 'or' or end of expression, found %s", p.tok.describe())
	}
	if err := p.toPred(n); err != nil {
		return nil, err
	}
	plan.root = n.p
	if c, ok := n.p.(constPred); ok && c.t == tTrue {
		plan.root = nil
	}
	plan.keys = n.keys
	for _, f := range p.fields {
		plan.fields = append(plan.fields, f)
	}
	sortFields(plan.fields)
	return plan, nil
}

func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of expression"
	case tokString:
		return "string " + t.text
	}
	return fmt.Sprintf("%q", t.text)
}

// unsupportedOp explains an operator of the full Milvus grammar that this
// package does not implement.
func (p *parser) unsupportedOp(t token) *Error {
	if t.text == "=" {
		return p.errf(t.pos, "unexpected \"=\"; use \"==\" to compare")
	}
	return p.errf(t.pos, "operator %q is not supported", t.text)
}

func (p *parser) errf(pos int, format string, args ...any) *Error {
	return newError(p.src, pos, format, args...)
}

func (p *parser) advance() *Error {
	p.prev = p.tok
	t, err := p.lex.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) expect(k tokKind, what string) *Error {
	if p.tok.kind != k {
		return p.errf(p.tok.pos, "expected %s, found %s", what, p.tok.describe())
	}
	return p.advance()
}

func (p *parser) enter() *Error {
	p.depth++
	if p.depth > maxDepth {
		return p.errf(p.tok.pos, "expression nested too deeply (more than %d levels)", maxDepth)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// text returns the source of a node, for messages.
func (p *parser) text(n *node) string { return p.src[n.pos:n.end] }

// describe names a node for messages: `Int64 field "age"`, `string "x"`.
func (p *parser) describe(n *node) string {
	switch {
	case n.col != nil && n.col.json != nil:
		return "JSON value " + p.text(n)
	case n.col != nil && n.col.index >= 0:
		return fmt.Sprintf("%s element %s", n.col.f.Elem, p.text(n))
	case n.col != nil:
		return fmt.Sprintf("%s field %q", n.col.f.Type, n.col.f.Name)
	case n.c != nil:
		switch n.c.k {
		case kInt:
			return "integer " + p.text(n)
		case kFloat:
			return "float " + p.text(n)
		case kString:
			return "string " + p.text(n)
		case kBool:
			return "bool " + p.text(n)
		}
	case n.t == sList:
		return "list " + p.text(n)
	case n.t == sPred:
		return "condition " + p.text(n)
	}
	return "expression " + p.text(n)
}

// ---- boolean structure ----

func (p *parser) parseOr() (*node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	l, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.tok.kind == tokOr {
		if err := p.toPred(l); err != nil {
			return nil, err
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		if err := p.toPred(r); err != nil {
			return nil, err
		}
		n := &node{pos: l.pos, end: r.end, t: sPred, p: orPred{l.p, r.p}}
		if lc, ok := l.p.(constPred); ok {
			if rc, ok := r.p.(constPred); ok {
				n.p = constPred{or(lc.t, rc.t)}
			}
		}
		if l.keys != nil && r.keys != nil && l.keys.field == r.keys.field {
			n.keys = &keyList{field: l.keys.field, vals: append(append([]value(nil), l.keys.vals...), r.keys.vals...)}
		}
		l = n
	}
	return l, nil
}

func (p *parser) parseAnd() (*node, error) {
	l, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	for p.tok.kind == tokAnd {
		if err := p.toPred(l); err != nil {
			return nil, err
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		if err := p.toPred(r); err != nil {
			return nil, err
		}
		n := &node{pos: l.pos, end: r.end, t: sPred, p: andPred{l.p, r.p}}
		if lc, ok := l.p.(constPred); ok {
			if rc, ok := r.p.(constPred); ok {
				n.p = constPred{and(lc.t, rc.t)}
			}
		}
		l = n
	}
	return l, nil
}

// parseNot handles prefix not. Unlike Plan.g4, where not binds tighter than
// comparisons (so "not a > 1" is a type error there), not applies to the
// whole predicate that follows, as the reference grammar reads.
func (p *parser) parseNot() (*node, error) {
	if p.tok.kind != tokNot {
		return p.parsePredicate()
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	pos := p.tok.pos
	if err := p.advance(); err != nil {
		return nil, err
	}
	x, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	if err := p.toPred(x); err != nil {
		return nil, err
	}
	n := &node{pos: pos, end: x.end, t: sPred, p: notPred{x.p}}
	if c, ok := x.p.(constPred); ok {
		n.p = constPred{c.t.not()}
	}
	return n, nil
}

// toPred turns a node into a condition in place, or explains why it is
// not one.
func (p *parser) toPred(n *node) error {
	switch {
	case n.t == sPred:
		return nil
	case n.c != nil && n.c.k == kBool:
		n.p = constPred{triOf(n.c.b)}
	case n.col != nil && n.t == sBool && n.col.index < 0:
		n.p = boolFieldPred{n.col.f.ID}
	case n.t == sBool:
		n.p = truthPred{n.op}
	default:
		return p.errf(n.pos, "expected a condition, found %s", p.describe(n))
	}
	n.t = sPred
	return nil
}

// ---- predicates ----

func isCmp(k tokKind) bool { return k >= tokEQ && k <= tokGE }

func cmpOf(k tokKind) cmpOp { return cmpOp(k - tokEQ) }

func (p *parser) parsePredicate() (*node, error) {
	if p.tok.kind == tokExists {
		return p.parseExists()
	}
	l, err := p.parseAdditive()
	if err != nil {
		return nil, err
	}
	switch {
	case isCmp(p.tok.kind):
		opTok := p.tok
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.parseAdditive()
		if err != nil {
			return nil, err
		}
		if isCmp(p.tok.kind) {
			return p.parseRange(l, opTok, r)
		}
		return p.compare(l, cmpOf(opTok.kind), opTok, r)
	case p.tok.kind == tokIn:
		return p.parseIn(l, false)
	case p.tok.kind == tokNot:
		notTok := p.tok
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tokIn {
			return nil, p.errf(notTok.pos, "expected 'in' after 'not', found %s", p.tok.describe())
		}
		return p.parseIn(l, true)
	case p.tok.kind == tokLike:
		return p.parseLike(l)
	case p.tok.kind == tokIs:
		return p.parseIsNull(l)
	case p.tok.kind == tokUnsupported:
		return nil, p.unsupportedOp(p.tok)
	}
	return l, nil
}

// valueNode checks that n can be compared or computed with.
func (p *parser) valueNode(n *node) error {
	switch n.t {
	case sPred:
		return p.errf(n.pos, "expected a value, found %s", p.describe(n))
	case sList:
		return p.errf(n.pos, "a list is only allowed after 'in' or in contains functions")
	case sArray:
		return p.errf(n.pos, "Array field %q cannot be compared directly; use array_contains or an index such as %s[0]", n.col.f.Name, n.col.f.Name)
	case sDoc:
		return p.errf(n.pos, "JSON field %q cannot be compared directly; use a key such as %s[\"key\"]", n.col.f.Name, n.col.f.Name)
	}
	return nil
}

// category groups static types that compare with each other.
func category(t stype) stype {
	if t == sInt {
		return sFloat
	}
	return t
}

func (p *parser) checkComparable(l *node, op cmpOp, opTok token, r *node) error {
	for _, n := range []*node{l, r} {
		if err := p.valueNode(n); err != nil {
			return err
		}
	}
	cl, cr := category(l.t), category(r.t)
	if cl != sJSON && cr != sJSON && cl != cr {
		return p.errf(opTok.pos, "cannot compare %s with %s", p.describe(l), p.describe(r))
	}
	if op.ordering() && (l.t == sBool || r.t == sBool) {
		return p.errf(opTok.pos, "operator %s is not defined on bool values", op)
	}
	return nil
}

// roundFloat32 rounds a constant compared with a Float (float32) column the
// way Milvus casts it, so "f == 0.1" finds the stored float32(0.1).
func roundFloat32(col *node, c value) value {
	if col.col != nil && col.col.json == nil && ((col.col.index < 0 && col.col.f.Type == Float) || (col.col.index >= 0 && col.col.f.Elem == Float)) && c.isNumber() {
		return floatVal(float64(float32(c.num())))
	}
	return c
}

func (p *parser) compare(l *node, op cmpOp, opTok token, r *node) (*node, error) {
	if err := p.checkComparable(l, op, opTok, r); err != nil {
		return nil, err
	}
	n := &node{pos: l.pos, end: r.end, t: sPred}
	if l.c != nil && r.c != nil {
		n.p = constPred{compare(op, *l.c, *r.c)}
		return n, nil
	}
	col, c := l, r
	if l.c != nil {
		col, c, op = r, l, op.flip()
	}
	if c.c != nil {
		cv := roundFloat32(col, *c.c)
		if col.col != nil && col.col.json == nil && col.col.index < 0 {
			f := col.col.f
			switch {
			case f.Type.isInteger() && cv.k == kInt:
				n.p = cmpIntConst{f.ID, op, cv.i}
			case f.Type.isInteger():
				n.p = cmpFloatConst{f.ID, op, cv.num(), true}
			case f.Type.isFloat():
				n.p = cmpFloatConst{f.ID, op, cv.num(), false}
			case f.Type == VarChar:
				n.p = cmpStrConst{f.ID, op, cv.s}
			}
			if op == opEQ && (f.Type.isInteger() || f.Type == VarChar) && cv.k != kFloat {
				n.keys = &keyList{field: f.Name, vals: []value{cv}}
			}
		}
		if n.p == nil {
			n.p = p.cmpOperands(op, col, &node{t: c.t, op: constOperand{cv}})
		}
		return n, nil
	}
	n.p = p.cmpOperands(op, l, r)
	return n, nil
}

// cmpOperands picks the numeric comparison when one side is statically a
// number: the other side is then a number or a JSON value, and a JSON
// non-number is unequal either way.
func (p *parser) cmpOperands(op cmpOp, l, r *node) pred {
	ln, lok := l.op.(numeric)
	rn, rok := r.op.(numeric)
	if lok && rok && (l.t == sInt || l.t == sFloat || r.t == sInt || r.t == sFloat) {
		return cmpNum{op, ln, rn}
	}
	return cmpPred{op, l.op, r.op}
}

// parseRange handles "lo < x <= hi" and "hi > x >= lo" after the first
// comparison has been read.
func (p *parser) parseRange(lo *node, op1Tok token, x *node) (*node, error) {
	op2Tok := p.tok
	if err := p.advance(); err != nil {
		return nil, err
	}
	hi, err := p.parseAdditive()
	if err != nil {
		return nil, err
	}
	op1, op2 := cmpOf(op1Tok.kind), cmpOf(op2Tok.kind)
	less := func(o cmpOp) bool { return o == opLT || o == opLE }
	greater := func(o cmpOp) bool { return o == opGT || o == opGE }
	if !(less(op1) && less(op2)) && !(greater(op1) && greater(op2)) {
		return nil, p.errf(op2Tok.pos, "comparisons cannot be chained except as a range (a < x < b or a > x > b); use 'and'")
	}
	if x.col == nil {
		return nil, p.errf(x.pos, "the middle of a range must be a field, found %s", p.describe(x))
	}
	if err := p.checkComparable(lo, op1, op1Tok, x); err != nil {
		return nil, err
	}
	if err := p.checkComparable(x, op2, op2Tok, hi); err != nil {
		return nil, err
	}
	for _, b := range []*node{lo, hi} {
		if b.c == nil {
			return nil, p.errf(b.pos, "range bounds must be constants, found %s", p.describe(b))
		}
	}
	loInc, hiInc := op1 == opLE, op2 == opLE
	if greater(op1) {
		lo, hi = hi, lo
		loInc, hiInc = op2 == opGE, op1 == opGE
	}
	lv, hv := roundFloat32(x, *lo.c), roundFloat32(x, *hi.c)
	if loInc && hiInc {
		if compare(opGT, lv, hv) == tTrue {
			return nil, p.errf(lo.pos, "invalid range: lower bound %s is greater than upper bound %s", p.text(lo), p.text(hi))
		}
	} else if compare(opGE, lv, hv) == tTrue {
		return nil, p.errf(lo.pos, "invalid range: lower bound %s is not less than upper bound %s", p.text(lo), p.text(hi))
	}
	start, end := op1Tok.pos, hi.end
	if lo.pos < start {
		start = lo.pos
	}
	if hi.pos < start {
		start, end = hi.pos, lo.end
	}
	n := &node{pos: start, end: end, t: sPred}
	f := x.col.f
	direct := x.col.json == nil && x.col.index < 0
	switch {
	case direct && f.Type.isInteger() && lv.k == kInt && hv.k == kInt:
		a, b := lv.i, hv.i
		// Exclusive integer bounds become inclusive ones; the range check
		// above guarantees a < b here, so the adjustment cannot overflow.
		if !loInc {
			a++
		}
		if !hiInc {
			b--
		}
		n.p = rangeInt{f.ID, a, b}
	case direct && f.Type.isFloat():
		n.p = rangeFloat{f.ID, lv.num(), hv.num(), loInc, hiInc}
	default:
		n.p = rangePred{x.op, lv, hv, loInc, hiInc}
	}
	return n, nil
}

// columnOnly checks that n is a plain column reference usable by in, like
// and is null.
func (p *parser) columnOnly(n *node, what string) error {
	if n.col == nil {
		return p.errf(n.pos, "%s needs a field on its left, found %s", what, p.describe(n))
	}
	return nil
}

func (p *parser) parseIn(x *node, negate bool) (*node, error) {
	if err := p.advance(); err != nil {
		return nil, err
	}
	if err := p.columnOnly(x, "'in'"); err != nil {
		return nil, err
	}
	if err := p.valueNode(x); err != nil {
		return nil, err
	}
	l, err := p.parseAdditive()
	if err != nil {
		return nil, err
	}
	if l.t != sList {
		return nil, p.errf(l.pos, "expected a list after 'in', found %s", p.describe(l))
	}
	vals := make([]value, len(l.list))
	for i, v := range l.list {
		cv, ok := castTo(x, v)
		if !ok {
			return nil, p.errf(l.pos, "value %s in list cannot be compared with %s", describeValue(v), p.describe(x))
		}
		vals[i] = cv
	}
	n := &node{pos: x.pos, end: l.end, t: sPred}
	f := x.col.f
	direct := x.col.json == nil && x.col.index < 0
	switch {
	case direct && f.Type.isInteger():
		set := make(map[int64]struct{}, len(vals))
		for _, v := range vals {
			set[v.i] = struct{}{}
		}
		n.p = inInt{f.ID, set}
	case direct && f.Type == VarChar:
		set := make(map[string]struct{}, len(vals))
		for _, v := range vals {
			set[v.s] = struct{}{}
		}
		n.p = inStr{f.ID, set}
	default:
		n.p = inPred{x.op, newValueSet(vals)}
	}
	if direct && (f.Type.isInteger() || f.Type == VarChar) && !negate {
		n.keys = &keyList{field: f.Name, vals: vals}
	}
	if negate {
		n.p = notPred{n.p}
	}
	return n, nil
}

// castTo converts a list constant to the static type of x, or reports that
// it cannot be compared.
func castTo(x *node, v value) (value, bool) {
	switch x.t {
	case sInt:
		return v, v.k == kInt
	case sFloat:
		return roundFloat32(x, v), v.isNumber()
	case sString:
		return v, v.k == kString
	case sBool:
		return v, v.k == kBool
	case sJSON:
		return v, v.k != kOther
	}
	return v, false
}

func describeValue(v value) string {
	switch v.k {
	case kInt:
		return fmt.Sprint(v.i)
	case kFloat:
		return fmt.Sprint(v.f)
	case kString:
		return fmt.Sprintf("%q", v.s)
	case kBool:
		return fmt.Sprint(v.b)
	}
	return "list"
}

func (p *parser) parseLike(x *node) (*node, error) {
	if err := p.advance(); err != nil {
		return nil, err
	}
	if err := p.columnOnly(x, "'like'"); err != nil {
		return nil, err
	}
	if err := p.valueNode(x); err != nil {
		return nil, err
	}
	if x.t != sString && x.t != sJSON {
		return nil, p.errf(x.pos, "'like' needs a VarChar field, a VarChar array element or a JSON value, found %s", p.describe(x))
	}
	if p.tok.kind != tokString {
		return nil, p.errf(p.tok.pos, "expected a string pattern after 'like', found %s", p.tok.describe())
	}
	m := compileLike(p.tok.s)
	end := p.tok.end
	if err := p.advance(); err != nil {
		return nil, err
	}
	n := &node{pos: x.pos, end: end, t: sPred}
	if x.t == sString && x.col.index < 0 {
		n.p = &likeStr{x.col.f.ID, m}
	} else {
		n.p = &likePred{x.op, m}
	}
	return n, nil
}

func (p *parser) parseIsNull(x *node) (*node, error) {
	isTok := p.tok
	if err := p.advance(); err != nil {
		return nil, err
	}
	negate := false
	if p.tok.kind == tokNot {
		negate = true
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	end := p.tok.end
	if err := p.expect(tokNull, "'null'"); err != nil {
		return nil, err
	}
	if err := p.columnOnly(x, "'is null'"); err != nil {
		return nil, err
	}
	n := &node{pos: x.pos, end: end, t: sPred}
	switch {
	case x.col.index >= 0:
		return nil, p.errf(isTok.pos, "'is null' is not supported on array elements")
	case x.col.json != nil && len(x.col.json.path) > 0:
		// As in Milvus: a JSON key is null when it is absent (or JSON null).
		n.p = existsPred{x.col.json}
		if !negate {
			n.p = notPred{n.p}
		}
		return n, nil
	}
	n.p = nullPred{x.col.f}
	if !x.col.f.Nullable {
		// Never null (the dynamic field is an empty document at worst).
		n.p = constPred{triOf(negate)}
		return n, nil
	}
	if negate {
		n.p = notPred{n.p}
	}
	return n, nil
}

func (p *parser) parseExists() (*node, error) {
	pos := p.tok.pos
	if err := p.advance(); err != nil {
		return nil, err
	}
	x, err := p.parsePrimary()
	if err != nil {
		return nil, err
	}
	if x.col == nil || x.col.json == nil || len(x.col.json.path) == 0 {
		return nil, p.errf(x.pos, "'exists' needs a JSON key such as meta[\"key\"], found %s", p.describe(x))
	}
	return &node{pos: pos, end: x.end, t: sPred, p: existsPred{x.col.json}}, nil
}

// ---- arithmetic ----

func (p *parser) parseAdditive() (*node, error) {
	l, err := p.parseMul()
	if err != nil {
		return nil, err
	}
	for p.tok.kind == tokPlus || p.tok.kind == tokMinus {
		opTok := p.tok
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.parseMul()
		if err != nil {
			return nil, err
		}
		op := opAdd
		if opTok.kind == tokMinus {
			op = opSub
		}
		if l, err = p.arith(l, op, opTok, r); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func (p *parser) parseMul() (*node, error) {
	l, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for p.tok.kind == tokStar || p.tok.kind == tokSlash || p.tok.kind == tokPercent {
		opTok := p.tok
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		op := map[tokKind]arithOp{tokStar: opMul, tokSlash: opDiv, tokPercent: opMod}[opTok.kind]
		if l, err = p.arith(l, op, opTok, r); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func (p *parser) checkNumeric(n *node, opText string) error {
	if err := p.valueNode(n); err != nil {
		return err
	}
	if n.t != sInt && n.t != sFloat && n.t != sJSON {
		return p.errf(n.pos, "arithmetic operator %s needs numbers, found %s", opText, p.describe(n))
	}
	return nil
}

func (p *parser) arith(l *node, op arithOp, opTok token, r *node) (*node, error) {
	for _, n := range []*node{l, r} {
		if err := p.checkNumeric(n, opTok.text); err != nil {
			return nil, err
		}
	}
	if op == opMod && (l.t == sFloat || r.t == sFloat) {
		return nil, p.errf(opTok.pos, "operator %% needs integer operands")
	}
	t := sInt
	if l.t != sInt || r.t != sInt {
		t = sFloat
	}
	n := &node{pos: l.pos, end: r.end, t: t}
	if l.c != nil && r.c != nil {
		v := arithApply(op, *l.c, *r.c)
		if v.k == kMissing {
			return nil, p.errf(opTok.pos, "division by zero")
		}
		n.c, n.op = &v, constOperand{v}
		return n, nil
	}
	if (op == opDiv || op == opMod) && r.c != nil && r.t == sInt && r.c.i == 0 {
		return nil, p.errf(opTok.pos, "division by zero")
	}
	n.op = arith{op, l.op.(numeric), r.op.(numeric)}
	return n, nil
}

func (p *parser) parseUnary() (*node, error) {
	if p.tok.kind != tokMinus && p.tok.kind != tokPlus {
		return p.parsePower()
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	opTok := p.tok
	if err := p.advance(); err != nil {
		return nil, err
	}
	x, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	if err := p.checkNumeric(x, opTok.text); err != nil {
		return nil, err
	}
	if opTok.kind == tokPlus {
		x.pos = opTok.pos
		return x, nil
	}
	zero := &node{pos: opTok.pos, end: opTok.end, t: sInt, op: constOperand{intVal(0)}}
	zero.c = &value{k: kInt}
	n, err := p.arith(zero, opSub, opTok, x)
	if err != nil {
		return nil, err
	}
	if n.c != nil && x.c != nil && x.c.k == kFloat {
		// -0.0 stays a float.
		v := floatVal(-x.c.f)
		n.c, n.op = &v, constOperand{v}
	}
	return n, nil
}

// parsePower handles **, which Milvus only folds between constants.
func (p *parser) parsePower() (*node, error) {
	base, err := p.parsePrimary()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokPow {
		return base, nil
	}
	opTok := p.tok
	if err := p.advance(); err != nil {
		return nil, err
	}
	exp, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for _, n := range []*node{base, exp} {
		if err := p.checkNumeric(n, "**"); err != nil {
			return nil, err
		}
		if n.c == nil {
			return nil, p.errf(opTok.pos, "operator ** applies only to constants")
		}
	}
	v := floatVal(math.Pow(base.c.num(), exp.c.num()))
	return &node{pos: base.pos, end: exp.end, t: sFloat, c: &v, op: constOperand{v}}, nil
}

// ---- primaries ----

func constNode(t token, v value) *node {
	n := &node{pos: t.pos, end: t.end, c: &v, op: constOperand{v}}
	switch v.k {
	case kInt:
		n.t = sInt
	case kFloat:
		n.t = sFloat
	case kString:
		n.t = sString
	case kBool:
		n.t = sBool
	}
	return n
}

func (p *parser) parsePrimary() (*node, error) {
	t := p.tok
	switch t.kind {
	case tokInt, tokFloat, tokString, tokTrue, tokFalse:
		if err := p.advance(); err != nil {
			return nil, err
		}
		switch t.kind {
		case tokInt:
			return constNode(t, intVal(t.i)), nil
		case tokFloat:
			return constNode(t, floatVal(t.f)), nil
		case tokString:
			return constNode(t, strVal(t.s)), nil
		}
		return constNode(t, boolVal(t.kind == tokTrue)), nil
	case tokIdent:
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind == tokLParen {
			return p.parseCall(t)
		}
		if (t.text == "iso" || t.text == "ISO") && p.tok.kind == tokString {
			return nil, p.errf(t.pos, "ISO timestamp comparisons are not supported")
		}
		return p.parseColumn(t)
	case tokLParen:
		if err := p.advance(); err != nil {
			return nil, err
		}
		n, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		end := p.tok.end
		if err := p.expect(tokRParen, "')'"); err != nil {
			return nil, err
		}
		n.pos, n.end = t.pos, end
		return n, nil
	case tokLBrack:
		return p.parseList()
	case tokLBrace:
		return p.parseTemplate()
	case tokUnsupported:
		return nil, p.unsupportedOp(t)
	}
	return nil, p.errf(t.pos, "expected a field, a value or '(', found %s", t.describe())
}

func (p *parser) parseList() (*node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	start := p.tok.pos
	if err := p.advance(); err != nil {
		return nil, err
	}
	n := &node{pos: start, t: sList, list: []value{}}
	for p.tok.kind != tokRBrack {
		e, err := p.parseAdditive()
		if err != nil {
			return nil, err
		}
		switch {
		case e.t == sList:
			n.list = append(n.list, value{k: kOther, a: e.list})
		case e.c != nil:
			n.list = append(n.list, *e.c)
		default:
			return nil, p.errf(e.pos, "list elements must be constants, found %s", p.describe(e))
		}
		if p.tok.kind != tokComma {
			break
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	n.end = p.tok.end
	if err := p.expect(tokRBrack, "',' or ']'"); err != nil {
		return nil, err
	}
	return n, nil
}

func (p *parser) parseTemplate() (*node, error) {
	start := p.tok.pos
	if err := p.advance(); err != nil {
		return nil, err
	}
	name := p.tok
	if err := p.expect(tokIdent, "a template variable name"); err != nil {
		return nil, err
	}
	end := p.tok.end
	if err := p.expect(tokRBrace, "'}'"); err != nil {
		return nil, err
	}
	x, ok := p.tmpl[name.text]
	if !ok {
		return nil, p.errf(start, "template variable {%s} has no value", name.text)
	}
	v, err := goValue(x, 0)
	if err != nil {
		return nil, p.errf(start, "template variable {%s}: %v", name.text, err)
	}
	tok := token{pos: start, end: end}
	if v.k == kOther {
		return &node{pos: start, end: end, t: sList, list: v.a.([]value)}, nil
	}
	return constNode(tok, v), nil
}

// parseColumn resolves a field name and an optional [..] path written
// directly after it (no space, as Milvus' lexer requires).
func (p *parser) parseColumn(t token) (*node, error) {
	name := t.text
	f, ok := p.r.Field(name)
	var path []pathSeg
	if !ok {
		dyn, hasDyn := p.r.Dynamic()
		if !hasDyn {
			return nil, p.errf(t.pos, "unknown field %q", name)
		}
		f = dyn
		path = append(path, pathKey(name))
	}
	switch {
	case f.Type == FloatVector || f.Type == BinaryVector || f.Type >= 100:
		return nil, p.errf(t.pos, "vector field %q cannot be used in a filter", name)
	case !f.Type.isScalar() && f.Type != JSON && f.Type != Array:
		return nil, p.errf(t.pos, "field %q of type %s cannot be used in a filter", name, f.Type)
	case f.Type == Array && !f.Elem.isScalar():
		return nil, p.errf(t.pos, "Array field %q has unsupported element type %s", name, f.Elem)
	}
	p.fields[f.Name] = f
	n := &node{pos: t.pos, end: t.end, col: &colRef{f: f, index: -1}}
	for p.tok.kind == tokLBrack && p.tok.pos == p.prev.end {
		if err := p.advance(); err != nil {
			return nil, err
		}
		seg := p.tok
		switch {
		case seg.kind == tokString && f.Type == JSON:
			path = append(path, pathKey(seg.s))
		case seg.kind == tokInt && seg.i >= 0 && f.Type == JSON:
			path = append(path, pathIndex(seg.i))
		case seg.kind == tokInt && seg.i >= 0 && f.Type == Array && n.col.index < 0:
			if seg.i > math.MaxInt32 {
				return nil, p.errf(seg.pos, "array index %d out of range", seg.i)
			}
			n.col.index = int(seg.i)
		case f.Type == Array && n.col.index >= 0:
			return nil, p.errf(seg.pos, "Array element %s cannot be indexed further", p.src[t.pos:n.end])
		case f.Type == Array:
			return nil, p.errf(seg.pos, "Array field %q can only be indexed by a non-negative integer, found %s", name, seg.describe())
		case f.Type == JSON:
			return nil, p.errf(seg.pos, "expected a quoted key or a non-negative integer index, found %s", seg.describe())
		default:
			return nil, p.errf(seg.pos-1, "%s field %q cannot be indexed with []", f.Type, name)
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		n.end = p.tok.end
		if err := p.expect(tokRBrack, "']'"); err != nil {
			return nil, err
		}
	}
	switch {
	case f.Type == JSON:
		n.col.json = &jsonPath{id: f.ID, path: path, nullable: f.Nullable}
		n.op = n.col.json
		n.t = sJSON
		if len(path) == 0 {
			n.t = sDoc
		}
	case f.Type == Array && n.col.index >= 0:
		n.op = arrayElem{f.ID, n.col.index, f.Elem}
		n.t = staticType(f.Elem)
	case f.Type == Array:
		n.t = sArray
	default:
		n.t = staticType(f.Type)
		switch {
		case f.Type.isInteger():
			n.op = intField{f.ID}
		case f.Type.isFloat():
			n.op = floatField{f.ID}
		case f.Type == Bool:
			n.op = boolField{f.ID}
		default:
			n.op = strField{f.ID}
		}
	}
	return n, nil
}

func staticType(t Type) stype {
	switch {
	case t.isInteger():
		return sInt
	case t.isFloat():
		return sFloat
	case t == Bool:
		return sBool
	}
	return sString
}

// unsupportedFuncs are Milvus filter functions this package rejects by
// name, so users learn it is the server, not their spelling.
var unsupportedFuncs = []string{
	"text_match", "phrase_match", "random_sample", "element_filter",
	"match_all", "match_any", "match_least", "match_most", "match_exact",
	"st_equals", "st_touches", "st_overlaps", "st_crosses", "st_contains",
	"st_intersects", "st_within", "st_dwithin", "st_isvalid",
}

func funcName(s string) (string, bool) {
	l := strings.ToLower(s)
	if s != l && s != strings.ToUpper(s) {
		return "", false
	}
	return l, true
}

func (p *parser) parseCall(name token) (*node, error) {
	fn, ok := funcName(name.text)
	if !ok {
		return nil, p.errf(name.pos, "unknown function %q", name.text)
	}
	var mode containsMode
	switch fn {
	case "array_contains", "json_contains":
		mode = containsOne
	case "array_contains_all", "json_contains_all":
		mode = containsAll
	case "array_contains_any", "json_contains_any":
		mode = containsAny
	case "array_length":
		return p.parseArrayLength(name)
	default:
		for _, u := range unsupportedFuncs {
			if fn == u {
				return nil, p.errf(name.pos, "function %s is not supported", name.text)
			}
		}
		return nil, p.errf(name.pos, "unknown function %q", name.text)
	}
	if err := p.advance(); err != nil { // (
		return nil, err
	}
	x, err := p.parseAdditive()
	if err != nil {
		return nil, err
	}
	if err := p.expect(tokComma, "','"); err != nil {
		return nil, err
	}
	arg, err := p.parseAdditive()
	if err != nil {
		return nil, err
	}
	end := p.tok.end
	if err := p.expect(tokRParen, "')'"); err != nil {
		return nil, err
	}
	c := &containsPred{mode: mode}
	switch {
	case x.col != nil && x.col.json != nil:
		c.json = x.col.json
	case x.col != nil && x.t == sArray:
		c.arrayID, c.elem = x.col.f.ID, x.col.f.Elem
	default:
		return nil, p.errf(x.pos, "%s needs an Array field or a JSON value, found %s", fn, p.describe(x))
	}
	var want []value
	switch {
	case mode == containsOne && arg.c != nil:
		want = []value{*arg.c}
	case mode == containsOne && arg.t == sList && c.json != nil:
		want = []value{{k: kOther, a: arg.list}}
	case mode != containsOne && arg.t == sList:
		want = arg.list
	case mode == containsOne:
		return nil, p.errf(arg.pos, "%s needs a constant as its second argument, found %s", fn, p.describe(arg))
	default:
		return nil, p.errf(arg.pos, "%s needs a list as its second argument, found %s", fn, p.describe(arg))
	}
	if c.json == nil {
		elem := &node{t: staticType(c.elem), col: &colRef{f: x.col.f, index: 0}}
		for i, v := range want {
			cv, ok := castTo(elem, v)
			if !ok {
				return nil, p.errf(arg.pos, "%s: value %s does not match the element type %s of Array field %q", fn, describeValue(v), c.elem, x.col.f.Name)
			}
			want[i] = cv
		}
	}
	c.want = want
	c.set = newValueSet(want)
	return &node{pos: name.pos, end: end, t: sPred, p: c}, nil
}

func (p *parser) parseArrayLength(name token) (*node, error) {
	if err := p.advance(); err != nil { // (
		return nil, err
	}
	x, err := p.parseAdditive()
	if err != nil {
		return nil, err
	}
	end := p.tok.end
	if err := p.expect(tokRParen, "')'"); err != nil {
		return nil, err
	}
	n := &node{pos: name.pos, end: end, t: sInt}
	switch {
	case x.col != nil && x.col.json != nil:
		n.op = arrayLength{json: x.col.json}
	case x.col != nil && x.t == sArray:
		n.op = arrayLength{arrayID: x.col.f.ID, elem: x.col.f.Elem}
	default:
		return nil, p.errf(x.pos, "array_length needs an Array field or a JSON value, found %s", p.describe(x))
	}
	return n, nil
}

// goValue converts a template value supplied by the caller.
func goValue(x any, depth int) (value, error) {
	if depth > 8 {
		return value{}, fmt.Errorf("lists nested too deeply")
	}
	switch t := x.(type) {
	case bool:
		return boolVal(t), nil
	case string:
		return strVal(t), nil
	case int:
		return intVal(int64(t)), nil
	case int8:
		return intVal(int64(t)), nil
	case int16:
		return intVal(int64(t)), nil
	case int32:
		return intVal(int64(t)), nil
	case int64:
		return intVal(t), nil
	case float32:
		return floatVal(float64(t)), nil
	case float64:
		return floatVal(t), nil
	case []any:
		out := make([]value, len(t))
		for i, e := range t {
			v, err := goValue(e, depth+1)
			if err != nil {
				return value{}, err
			}
			out[i] = v
		}
		return value{k: kOther, a: out}, nil
	case []int64:
		return listOf(t, func(e int64) value { return intVal(e) }), nil
	case []int32:
		return listOf(t, func(e int32) value { return intVal(int64(e)) }), nil
	case []int:
		return listOf(t, func(e int) value { return intVal(int64(e)) }), nil
	case []float64:
		return listOf(t, floatVal), nil
	case []float32:
		return listOf(t, func(e float32) value { return floatVal(float64(e)) }), nil
	case []string:
		return listOf(t, strVal), nil
	case []bool:
		return listOf(t, boolVal), nil
	}
	return value{}, fmt.Errorf("unsupported value type %T", x)
}

func listOf[T any](l []T, conv func(T) value) value {
	out := make([]value, len(l))
	for i, e := range l {
		out[i] = conv(e)
	}
	return value{k: kOther, a: out}
}
