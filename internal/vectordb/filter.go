package vectordb

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/milvus-ha/milvus-ha/internal/expr"
)

// rowFilter reports whether row r matches (caller holds c.mu).
type rowFilter func(r uint32) bool

// resolver maps the schema for the expression parser. Field IDs are the
// schema's, so rowView finds the column by ID arithmetic.
func (c *collection) resolver() *expr.Schema {
	s := &expr.Schema{}
	for _, fs := range c.fields {
		ef := expr.Field{Name: fs.f.Name, ID: fs.f.ID, Type: expr.Type(fs.f.Type), Elem: expr.Type(fs.f.ElementType), Nullable: fs.f.Nullable}
		if fs.f.IsDynamic {
			s.DynamicField = ef
			continue
		}
		s.Fields = append(s.Fields, ef)
	}
	return s
}

// compileFilter parses a filter against the collection's schema.
func (c *collection) compileFilter(src string, params map[string]any) (*expr.Plan, error) {
	p, err := expr.ParseTemplate(src, c.resolver(), params)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFilter, err)
	}
	return p, nil
}

// selectRows returns the live rows matching p in row order (caller holds
// c.mu). A filter that is only "pk in [...]" uses the key index.
func (c *collection) selectRows(p *expr.Plan) []uint32 {
	if p != nil {
		if keys, ok := p.PrimaryKeys(c.pk.f.Name); ok {
			var rows []uint32
			for _, k := range keys {
				var r uint32
				var found bool
				switch v := k.(type) {
				case int64:
					r, found = c.pkInt[v]
				case string:
					r, found = c.pkStr[v]
				}
				if found && !c.deleted.has(r) {
					rows = append(rows, r)
				}
			}
			sortRows(rows)
			return rows
		}
	}
	match := c.matcher(p)
	rows := make([]uint32, 0, c.live)
	for r := range uint32(c.rows) {
		if !c.deleted.has(r) && (match == nil || match(r)) {
			rows = append(rows, r)
		}
	}
	return rows
}

// matcher returns a row predicate for p, nil when p matches everything.
// The returned function is not safe for concurrent use.
func (c *collection) matcher(p *expr.Plan) rowFilter {
	if p == nil || p.MatchesAll() {
		return nil
	}
	rv := &rowView{c: c}
	return func(r uint32) bool {
		rv.row = r
		return p.Eval(rv)
	}
}

// rowView exposes one stored row to expr.Plan.Eval. The decoded JSON of
// the last field read is cached, since a filter often reads several keys.
type rowView struct {
	c   *collection
	row uint32

	jsonID  int64
	jsonRow uint32
	jsonOK  bool
	jsonVal any
}

func (v *rowView) col(id int64) (*Column, bool) {
	fs := v.c.fieldByID(id)
	if fs == nil {
		return nil, false
	}
	if fs.col.Valid != nil && !fs.col.Valid[v.row] {
		return nil, false
	}
	return &fs.col, true
}

func (v *rowView) Int(id int64) (int64, bool) {
	c, ok := v.col(id)
	if !ok || c.Ints == nil {
		return 0, false
	}
	return c.Ints[v.row], true
}

func (v *rowView) Float(id int64) (float64, bool) {
	c, ok := v.col(id)
	if !ok {
		return 0, false
	}
	switch c.Type {
	case TypeFloat:
		return float64(c.Floats[v.row]), true
	case TypeDouble:
		return c.Doubles[v.row], true
	}
	return 0, false
}

func (v *rowView) Bool(id int64) (bool, bool) {
	c, ok := v.col(id)
	if !ok || c.Type != TypeBool {
		return false, false
	}
	return c.Bools[v.row], true
}

func (v *rowView) String(id int64) (string, bool) {
	c, ok := v.col(id)
	if !ok || c.Type != TypeVarChar {
		return "", false
	}
	return c.Strings[v.row], true
}

func (v *rowView) JSON(id int64) (any, bool) {
	if v.jsonVal != nil && v.jsonID == id && v.jsonRow == v.row {
		return v.jsonVal, v.jsonOK
	}
	c, ok := v.col(id)
	if !ok || c.Type != TypeJSON {
		return nil, false
	}
	val, err := decodeJSON(c.JSON[v.row])
	v.jsonID, v.jsonRow, v.jsonVal, v.jsonOK = id, v.row, val, err == nil
	if err != nil {
		return nil, false
	}
	return val, true
}

func (v *rowView) Array(id int64) (expr.ArrayValue, bool) {
	c, ok := v.col(id)
	if !ok || c.Type != TypeArray {
		return expr.ArrayValue{}, false
	}
	a := &c.Arrays[v.row]
	out := expr.ArrayValue{Ints: a.Ints, Bools: a.Bools, Strings: a.Strings, Floats: a.Doubles}
	if a.Type == TypeFloat {
		out.Floats = make([]float64, len(a.Floats))
		for i, f := range a.Floats {
			out.Floats[i] = float64(f)
		}
	}
	return out, true
}

// decodeJSON decodes a stored document, keeping numbers exact.
func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}
