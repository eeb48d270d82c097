package vectordb

import (
	"fmt"
	"time"
)

// DataType is a field type. The numeric values are those of Milvus'
// schemapb.DataType, so the API layer converts with a plain cast.
type DataType int32

// Supported field types.
const (
	TypeBool        DataType = 1
	TypeInt8        DataType = 2
	TypeInt16       DataType = 3
	TypeInt32       DataType = 4
	TypeInt64       DataType = 5
	TypeFloat       DataType = 10
	TypeDouble      DataType = 11
	TypeVarChar     DataType = 21
	TypeArray       DataType = 22
	TypeJSON        DataType = 23
	TypeFloatVector DataType = 101
)

// String returns the Milvus name of the type.
func (t DataType) String() string {
	switch t {
	case TypeBool:
		return "Bool"
	case TypeInt8:
		return "Int8"
	case TypeInt16:
		return "Int16"
	case TypeInt32:
		return "Int32"
	case TypeInt64:
		return "Int64"
	case TypeFloat:
		return "Float"
	case TypeDouble:
		return "Double"
	case TypeVarChar:
		return "VarChar"
	case TypeArray:
		return "Array"
	case TypeJSON:
		return "JSON"
	case TypeFloatVector:
		return "FloatVector"
	}
	return fmt.Sprintf("DataType(%d)", int32(t))
}

// IsInteger reports whether t is one of the integer types.
func (t DataType) IsInteger() bool {
	return t == TypeInt8 || t == TypeInt16 || t == TypeInt32 || t == TypeInt64
}

// Limits enforced by schema validation (Milvus defaults).
const (
	MaxDim          = 32768
	MaxVarCharLen   = 65535
	MaxArrayCap     = 4096
	MaxFields       = 64
	DynamicField    = "$meta" // name of the hidden JSON field holding dynamic keys
	FirstFieldID    = 100     // field IDs are assigned from here, as in Milvus
	maxNameLen      = 255
	defaultMaxArray = MaxArrayCap
)

// Field describes one column of a collection.
type Field struct {
	// ID is assigned by CreateCollection (100, 101, ... in schema order);
	// ignored on input.
	ID          int64
	Name        string
	Description string
	Type        DataType
	IsPrimary   bool
	// AutoID: the store generates int64 keys; only on the primary key.
	AutoID bool
	// Dim is the vector length (FloatVector only), 1..MaxDim.
	Dim int
	// MaxLength bounds VarChar values (and VarChar array elements) in bytes.
	MaxLength int
	// ElementType and MaxCapacity describe an Array field.
	ElementType DataType
	MaxCapacity int
	// Nullable scalar fields accept rows without a value (Column.Valid).
	Nullable bool
	// IsDynamic marks the "$meta" JSON field added when the schema enables
	// dynamic fields; set by the store, never on input.
	IsDynamic bool
}

// Schema is a collection's definition.
type Schema struct {
	Name        string
	Description string
	// AutoID mirrors the primary field's AutoID (Milvus sets both).
	AutoID bool
	// EnableDynamic stores columns not in Fields as keys of the "$meta"
	// JSON field.
	EnableDynamic bool
	Fields        []Field
}

// Field returns the field with the given name.
func (s *Schema) Field(name string) (*Field, bool) {
	for i := range s.Fields {
		if s.Fields[i].Name == name {
			return &s.Fields[i], true
		}
	}
	return nil, false
}

// PrimaryField returns the primary key field.
func (s *Schema) PrimaryField() *Field {
	for i := range s.Fields {
		if s.Fields[i].IsPrimary {
			return &s.Fields[i]
		}
	}
	return nil
}

// CollectionInfo is what DescribeCollection returns.
type CollectionInfo struct {
	// ID is unique for the life of the data directory: a dropped and
	// re-created collection of the same name gets a new ID.
	ID int64
	// Schema with field IDs assigned and, when dynamic fields are enabled,
	// the "$meta" field appended.
	Schema Schema
	// CreatedAt is the creation time.
	CreatedAt time.Time
	// SchemaVersion changes whenever the collection is (re-)created; it is
	// a Milvus-style hybrid timestamp (physical ms << 18 | logical) so it
	// can be returned as update_timestamp. Writes may pass it back in
	// Batch.SchemaVersion to detect a stale client cache (ErrSchemaMismatch).
	SchemaVersion uint64
	// Load is the persisted load state.
	Load LoadState
}

// LoadState is a collection's load state (values as Milvus' LoadState).
type LoadState int32

// Load states. The store keeps every collection in memory, so loading is
// instantaneous; the state only gates Search/Query/Get, as Milvus does.
const (
	LoadStateNotExist LoadState = 0
	LoadStateNotLoad  LoadState = 1
	LoadStateLoaded   LoadState = 3
)
