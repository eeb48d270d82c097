package expr

import "sort"

// Plan is a parsed, type-checked filter. It is immutable and safe for
// concurrent use.
type Plan struct {
	src    string
	root   pred // nil: matches every row
	fields []Field
	keys   *keyList
}

// Eval reports whether the row matches. A null operand never matches (see
// the package doc for how nulls combine).
func (p *Plan) Eval(r Row) bool {
	return p.root == nil || p.root.eval(r) == tTrue
}

// MatchesAll reports whether the plan accepts every row: the expression
// was empty or folded to true.
func (p *Plan) MatchesAll() bool { return p.root == nil }

// String returns the expression the plan was parsed from.
func (p *Plan) String() string { return p.src }

// Fields returns the fields the plan reads, sorted by name, each once. A
// dynamic key adds the dynamic field ("$meta"). The slice is shared; do
// not modify it.
func (p *Plan) Fields() []Field { return p.fields }

// PrimaryKeys returns the key values when the whole filter is
// "pk in [...]", "pk == x", or an "or" of those, on the field named pk:
// the caller can then use its key index instead of a scan. Values are
// int64 or string, deduplicated, in first-appearance order. ok is false
// for any other shape.
func (p *Plan) PrimaryKeys(pk string) ([]any, bool) {
	if p.keys == nil || p.keys.field != pk {
		return nil, false
	}
	out := make([]any, 0, len(p.keys.vals))
	seenI := map[int64]bool{}
	seenS := map[string]bool{}
	for _, v := range p.keys.vals {
		switch v.k {
		case kInt:
			if !seenI[v.i] {
				seenI[v.i] = true
				out = append(out, v.i)
			}
		case kString:
			if !seenS[v.s] {
				seenS[v.s] = true
				out = append(out, v.s)
			}
		}
	}
	return out, true
}

func sortFields(fs []Field) {
	sort.Slice(fs, func(i, j int) bool { return fs[i].Name < fs[j].Name })
}
