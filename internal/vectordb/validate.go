package vectordb

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
)

func validName(s string) bool {
	if s == "" || len(s) > maxNameLen {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && (r >= '0' && r <= '9' || r == '$'):
		default:
			return false
		}
	}
	return true
}

func scalarType(t DataType) bool {
	switch t {
	case TypeBool, TypeInt8, TypeInt16, TypeInt32, TypeInt64, TypeFloat, TypeDouble, TypeVarChar:
		return true
	}
	return false
}

// normalizeSchema validates s and returns the stored form: field IDs
// assigned, AutoID mirrored between schema and key, "$meta" appended when
// dynamic fields are enabled.
func normalizeSchema(s Schema) (Schema, error) {
	bad := func(format string, args ...any) (Schema, error) {
		return Schema{}, fmt.Errorf("%w: collection %q: %s", ErrInvalidSchema, s.Name, fmt.Sprintf(format, args...))
	}
	if !validName(s.Name) {
		return bad("invalid collection name (letters, digits and _, not starting with a digit, at most %d bytes)", maxNameLen)
	}
	if len(s.Fields) == 0 || len(s.Fields) > MaxFields {
		return bad("needs 1..%d fields, has %d", MaxFields, len(s.Fields))
	}
	out := Schema{Name: s.Name, Description: s.Description, EnableDynamic: s.EnableDynamic}
	seen := map[string]bool{}
	var pk *Field
	vectors := 0
	for i, f := range s.Fields {
		if f.IsDynamic {
			return bad("field %q: dynamic field is added by the store, use EnableDynamic", f.Name)
		}
		if !validName(f.Name) || f.Name == DynamicField {
			return bad("invalid field name %q", f.Name)
		}
		if seen[f.Name] {
			return bad("duplicate field name %q", f.Name)
		}
		seen[f.Name] = true
		f.ID = FirstFieldID + int64(i)
		switch {
		case scalarType(f.Type), f.Type == TypeJSON:
		case f.Type == TypeFloatVector:
			if f.Dim < 1 || f.Dim > MaxDim {
				return bad("vector field %q: dim %d out of range 1..%d", f.Name, f.Dim, MaxDim)
			}
			if f.Nullable {
				return bad("vector field %q cannot be nullable", f.Name)
			}
			vectors++
		case f.Type == TypeArray:
			if !scalarType(f.ElementType) {
				return bad("array field %q: element type %s not supported", f.Name, f.ElementType)
			}
			if f.MaxCapacity == 0 {
				f.MaxCapacity = defaultMaxArray
			}
			if f.MaxCapacity < 1 || f.MaxCapacity > MaxArrayCap {
				return bad("array field %q: max_capacity %d out of range 1..%d", f.Name, f.MaxCapacity, MaxArrayCap)
			}
		default:
			return bad("field %q: unsupported data type %s", f.Name, f.Type)
		}
		if f.Type == TypeVarChar || f.Type == TypeArray && f.ElementType == TypeVarChar {
			if f.MaxLength < 1 || f.MaxLength > MaxVarCharLen {
				return bad("varchar field %q: max_length %d out of range 1..%d", f.Name, f.MaxLength, MaxVarCharLen)
			}
		}
		if f.IsPrimary {
			if pk != nil {
				return bad("two primary keys: %q and %q", pk.Name, f.Name)
			}
			if f.Type != TypeInt64 && f.Type != TypeVarChar {
				return bad("primary key %q must be Int64 or VarChar, not %s", f.Name, f.Type)
			}
			if f.Nullable {
				return bad("primary key %q cannot be nullable", f.Name)
			}
			f.AutoID = f.AutoID || s.AutoID
			if f.AutoID && f.Type != TypeInt64 {
				return bad("auto ID needs an Int64 primary key, %q is %s", f.Name, f.Type)
			}
		} else if f.AutoID {
			return bad("field %q: auto ID is only for the primary key", f.Name)
		}
		out.Fields = append(out.Fields, f)
		if f.IsPrimary {
			pk = &out.Fields[len(out.Fields)-1]
		}
	}
	if pk == nil {
		return bad("no primary key field")
	}
	if vectors == 0 {
		return bad("no vector field")
	}
	out.AutoID = pk.AutoID
	if s.EnableDynamic {
		out.Fields = append(out.Fields, Field{
			ID: FirstFieldID + int64(len(out.Fields)), Name: DynamicField, Type: TypeJSON, IsDynamic: true,
			Description: "dynamic field",
		})
	}
	return out, nil
}

func sameSchema(a, b Schema) bool {
	if a.Name != b.Name || a.Description != b.Description || a.AutoID != b.AutoID ||
		a.EnableDynamic != b.EnableDynamic || len(a.Fields) != len(b.Fields) {
		return false
	}
	for i := range a.Fields {
		if a.Fields[i] != b.Fields[i] {
			return false
		}
	}
	return true
}

func intRange(t DataType) (int64, int64) {
	switch t {
	case TypeInt8:
		return math.MinInt8, math.MaxInt8
	case TypeInt16:
		return math.MinInt16, math.MaxInt16
	case TypeInt32:
		return math.MinInt32, math.MaxInt32
	}
	return math.MinInt64, math.MaxInt64
}

// checkValues validates the values of column c (n rows) against field f.
// what names the field in messages.
func checkValues(f *Field, c *Column, what string) error {
	n := c.Len()
	if c.Valid != nil {
		if len(c.Valid) != n {
			return fmt.Errorf("%w: %s: %d validity flags for %d rows", ErrInvalidArgument, what, len(c.Valid), n)
		}
		if !f.Nullable {
			for i, v := range c.Valid {
				if !v {
					return fmt.Errorf("%w: %s: row %d is null but the field is not nullable", ErrInvalidArgument, what, i)
				}
			}
		}
	}
	valid := func(i int) bool { return c.Valid == nil || c.Valid[i] }
	switch f.Type {
	case TypeInt8, TypeInt16, TypeInt32:
		lo, hi := intRange(f.Type)
		for i, v := range c.Ints {
			if valid(i) && (v < lo || v > hi) {
				return fmt.Errorf("%w: %s: row %d: %d out of %s range", ErrInvalidArgument, what, i, v, f.Type)
			}
		}
	case TypeFloat:
		for i, v := range c.Floats {
			if valid(i) && (math.IsNaN(float64(v)) || math.IsInf(float64(v), 0)) {
				return fmt.Errorf("%w: %s: row %d is %v", ErrNaN, what, i, v)
			}
		}
	case TypeDouble:
		for i, v := range c.Doubles {
			if valid(i) && (math.IsNaN(v) || math.IsInf(v, 0)) {
				return fmt.Errorf("%w: %s: row %d is %v", ErrNaN, what, i, v)
			}
		}
	case TypeVarChar:
		for i, v := range c.Strings {
			if valid(i) && len(v) > f.MaxLength {
				return fmt.Errorf("%w: %s: row %d has %d bytes, max_length is %d", ErrVarcharTooLong, what, i, len(v), f.MaxLength)
			}
		}
	case TypeJSON:
		for i, v := range c.JSON {
			if !valid(i) {
				continue
			}
			if !json.Valid(v) {
				return fmt.Errorf("%w: %s: row %d is not valid JSON", ErrInvalidArgument, what, i)
			}
			if f.IsDynamic && !isJSONObject(v) {
				return fmt.Errorf("%w: %s: row %d is not a JSON object", ErrTypeMismatch, what, i)
			}
		}
	case TypeArray:
		ef := Field{Name: f.Name, Type: f.ElementType, MaxLength: f.MaxLength}
		for i := range c.Arrays {
			if !valid(i) {
				continue
			}
			a := &c.Arrays[i]
			if a.Type != f.ElementType || a.Valid != nil {
				return fmt.Errorf("%w: %s: row %d: array of %s, field holds %s", ErrTypeMismatch, what, i, a.Type, f.ElementType)
			}
			if a.Len() > f.MaxCapacity {
				return fmt.Errorf("%w: %s: row %d has %d elements, max_capacity is %d", ErrInvalidArgument, what, i, a.Len(), f.MaxCapacity)
			}
			if err := checkValues(&ef, a, fmt.Sprintf("%s row %d", what, i)); err != nil {
				return err
			}
		}
	case TypeFloatVector:
		if c.Dim != f.Dim {
			return fmt.Errorf("%w: vector field %q: dim %d, schema says %d", ErrDimMismatch, f.Name, c.Dim, f.Dim)
		}
		if len(c.Vectors)%f.Dim != 0 {
			return fmt.Errorf("%w: vector field %q: %d floats is not a multiple of dim %d", ErrDimMismatch, f.Name, len(c.Vectors), f.Dim)
		}
		for i, v := range c.Vectors {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("%w: vector field %q: row %d, element %d is %v", ErrNaN, f.Name, i/f.Dim, i%f.Dim, v)
			}
		}
	}
	return nil
}

func isJSONObject(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

// nullColumn returns n null rows for a nullable field.
func nullColumn(f *Field, n int) Column {
	c := Column{Name: f.Name, Type: f.Type, Valid: make([]bool, n)}
	switch f.Type {
	case TypeBool:
		c.Bools = make([]bool, n)
	case TypeInt8, TypeInt16, TypeInt32, TypeInt64:
		c.Ints = make([]int64, n)
	case TypeFloat:
		c.Floats = make([]float32, n)
	case TypeDouble:
		c.Doubles = make([]float64, n)
	case TypeVarChar:
		c.Strings = make([]string, n)
	case TypeJSON:
		c.JSON = make([][]byte, n)
	case TypeArray:
		c.Arrays = make([]Column, n)
		for i := range c.Arrays {
			c.Arrays[i] = Column{Type: f.ElementType}
		}
	}
	return c
}

var emptyObject = []byte("{}")

// normalizeBatch validates a write against the schema and returns one
// column per schema field in schema order. keys are generated by genIDs for
// an AutoID key on Insert; Upsert must carry the key.
func normalizeBatch(s *Schema, b *Batch, upsert bool, genIDs func(n int) []int64) ([]Column, error) {
	if b == nil || len(b.Columns) == 0 {
		return nil, fmt.Errorf("%w: collection %q: no columns", ErrInvalidArgument, s.Name)
	}
	n := -1
	byField := make([]*Column, len(s.Fields))
	var dynamic *Column
	for i := range b.Columns {
		c := &b.Columns[i]
		var idx = -1
		if c.IsDynamic || c.Name == DynamicField {
			if !s.EnableDynamic {
				return nil, fmt.Errorf("%w: collection %q: dynamic field is not enabled", ErrFieldNotFound, s.Name)
			}
			if dynamic != nil {
				return nil, fmt.Errorf("%w: collection %q: two dynamic columns", ErrInvalidArgument, s.Name)
			}
			dynamic = c
			idx = len(s.Fields) - 1
		} else {
			for j := range s.Fields {
				if s.Fields[j].Name == c.Name && !s.Fields[j].IsDynamic {
					idx = j
				}
			}
			if idx < 0 {
				return nil, fmt.Errorf("%w: collection %q has no field %q", ErrFieldNotFound, s.Name, c.Name)
			}
			if byField[idx] != nil {
				return nil, fmt.Errorf("%w: column %q given twice", ErrInvalidArgument, c.Name)
			}
		}
		f := &s.Fields[idx]
		if c.Type != f.Type {
			return nil, fmt.Errorf("%w: field %q is %s, column holds %s", ErrTypeMismatch, f.Name, f.Type, c.Type)
		}
		if f.Type == TypeFloatVector && c.Dim != f.Dim {
			return nil, fmt.Errorf("%w: vector field %q: dim %d, schema says %d", ErrDimMismatch, f.Name, c.Dim, f.Dim)
		}
		if f.IsPrimary && f.AutoID && !upsert {
			return nil, fmt.Errorf("%w: primary key %q is auto-generated, do not pass it", ErrInvalidArgument, f.Name)
		}
		if n >= 0 && c.Len() != n {
			return nil, fmt.Errorf("%w: column %q has %d rows, column %q has %d", ErrInvalidArgument, c.Name, c.Len(), b.Columns[0].Name, n)
		}
		n = c.Len()
		if err := checkValues(f, c, fmt.Sprintf("field %q", f.Name)); err != nil {
			return nil, err
		}
		byField[idx] = c
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: collection %q: no rows", ErrInvalidArgument, s.Name)
	}
	cols := make([]Column, len(s.Fields))
	for i := range s.Fields {
		f := &s.Fields[i]
		c := byField[i]
		switch {
		case c != nil:
			cols[i] = *c
			cols[i].Name = f.Name
			cols[i].IsDynamic = f.IsDynamic
			if !f.Nullable {
				cols[i].Valid = nil
			}
			if f.IsDynamic {
				// Null dynamic rows become empty objects.
				js := make([][]byte, n)
				for r := range js {
					if c.Valid == nil || c.Valid[r] {
						js[r] = c.JSON[r]
					} else {
						js[r] = emptyObject
					}
				}
				cols[i].JSON, cols[i].Valid = js, nil
			}
		case f.IsPrimary && f.AutoID && !upsert:
			cols[i] = Column{Name: f.Name, Type: TypeInt64, Ints: genIDs(n)}
		case f.IsPrimary:
			return nil, fmt.Errorf("%w: collection %q: no column for primary key %q", ErrMissingPrimaryKey, s.Name, f.Name)
		case f.IsDynamic:
			js := make([][]byte, n)
			for r := range js {
				js[r] = emptyObject
			}
			cols[i] = Column{Name: f.Name, Type: TypeJSON, IsDynamic: true, JSON: js}
		case f.Nullable:
			cols[i] = nullColumn(f, n)
		default:
			return nil, fmt.Errorf("%w: collection %q: no column for field %q", ErrMissingField, s.Name, f.Name)
		}
	}
	return cols, nil
}
