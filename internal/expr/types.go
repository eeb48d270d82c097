package expr

import (
	"fmt"
	"math"
)

// Type is a field type. The values are those of Milvus' schemapb.DataType so
// callers convert with a plain cast.
type Type int32

// Field types known to the filter language. Vector types are listed so a
// Resolver can report them; they are never filterable.
const (
	Bool         Type = 1
	Int8         Type = 2
	Int16        Type = 3
	Int32        Type = 4
	Int64        Type = 5
	Float        Type = 10
	Double       Type = 11
	VarChar      Type = 21
	Array        Type = 22
	JSON         Type = 23
	BinaryVector Type = 100
	FloatVector  Type = 101
)

// String returns the Milvus name of the type.
func (t Type) String() string {
	switch t {
	case Bool:
		return "Bool"
	case Int8:
		return "Int8"
	case Int16:
		return "Int16"
	case Int32:
		return "Int32"
	case Int64:
		return "Int64"
	case Float:
		return "Float"
	case Double:
		return "Double"
	case VarChar:
		return "VarChar"
	case Array:
		return "Array"
	case JSON:
		return "JSON"
	case BinaryVector:
		return "BinaryVector"
	case FloatVector:
		return "FloatVector"
	}
	return fmt.Sprintf("Type(%d)", int32(t))
}

func (t Type) isInteger() bool { return t == Int8 || t == Int16 || t == Int32 || t == Int64 }
func (t Type) isFloat() bool   { return t == Float || t == Double }
func (t Type) isScalar() bool {
	return t == Bool || t.isInteger() || t.isFloat() || t == VarChar
}

// Field describes one column as the filter sees it.
type Field struct {
	// Name is the schema name ("$meta" for the dynamic field).
	Name string
	// ID is opaque to this package: it is handed back to the Row accessors
	// (a Milvus field ID or a column index, as the caller likes).
	ID   int64
	Type Type
	// Elem is the element type of an Array field.
	Elem Type
	// Nullable fields may yield "no value" from Row; see the package doc
	// for how nulls propagate.
	Nullable bool
}

// Resolver binds names in an expression to the collection schema.
type Resolver interface {
	// Field returns the schema field with this exact name.
	Field(name string) (Field, bool)
	// Dynamic returns the JSON field holding dynamic keys ("$meta") when
	// the collection enables dynamic fields.
	Dynamic() (Field, bool)
}

// Schema is a ready-made Resolver over a field list.
type Schema struct {
	Fields []Field
	// DynamicField, when its Type is JSON, receives names that are not in
	// Fields, as Milvus' $meta does.
	DynamicField Field
}

// Field implements Resolver.
func (s *Schema) Field(name string) (Field, bool) {
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	if s.DynamicField.Type == JSON && name == s.DynamicField.Name {
		return s.DynamicField, true
	}
	return Field{}, false
}

// Dynamic implements Resolver.
func (s *Schema) Dynamic() (Field, bool) {
	return s.DynamicField, s.DynamicField.Type == JSON
}

// Row gives one row's values to Plan.Eval. The id argument is Field.ID.
// Every accessor reports ok=false when the value is null (nullable fields,
// or a row without dynamic data); callers must not allocate in them.
type Row interface {
	// Int returns Int8..Int64 fields.
	Int(id int64) (v int64, ok bool)
	// Float returns Float and Double fields (Float widened exactly).
	Float(id int64) (v float64, ok bool)
	Bool(id int64) (v bool, ok bool)
	String(id int64) (v string, ok bool)
	// JSON returns a decoded JSON document as encoding/json produces it.
	// ok=false is null for a Nullable JSON field and an empty document
	// otherwise (a row without dynamic keys). Values are
	// map[string]any, []any, string, bool, nil and float64 or json.Number
	// (decode with UseNumber to keep Milvus' integer arithmetic on JSON
	// numbers exact). int and int64 are accepted too.
	JSON(id int64) (v any, ok bool)
	// Array returns an Array field; only the slice matching Field.Elem is
	// read.
	Array(id int64) (v ArrayValue, ok bool)
}

// ArrayValue is one Array field value. Ints holds Int8..Int64 elements,
// Floats Float/Double, Bools and Strings the others.
type ArrayValue struct {
	Ints    []int64
	Floats  []float64
	Bools   []bool
	Strings []string
}

// Error is a filter error found while parsing: the expression is invalid
// for the schema. The API layer maps it to Milvus code 1100
// (invalid parameter).
type Error struct {
	// Pos is the byte offset in the expression; Line and Col (both from 1,
	// Col in bytes) locate it for humans.
	Pos, Line, Col int
	Msg            string
}

func (e *Error) Error() string {
	return fmt.Sprintf("filter: %d:%d: %s", e.Line, e.Col, e.Msg)
}

func newError(src string, pos int, format string, args ...any) *Error {
	if pos > len(src) {
		pos = len(src)
	}
	line, col := 1, 1
	for i := 0; i < pos; i++ {
		if src[i] == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return &Error{Pos: pos, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

// maxInt64Float is 2^63, the first float64 beyond int64.
const maxInt64Float = float64(math.MaxInt64) + 1
