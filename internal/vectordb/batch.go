package vectordb

// Column is one field's values for a run of rows, the shape of Milvus'
// FieldData. Exactly the slice that matches Type is used:
//
//	Bool                      Bools
//	Int8, Int16, Int32, Int64 Ints (range-checked against the field type)
//	Float                     Floats
//	Double                    Doubles
//	VarChar                   Strings
//	JSON                      JSON (one UTF-8 JSON document per row)
//	Array                     Arrays (one Column of ElementType per row)
//	FloatVector               Vectors (row-major, len = Dim × rows)
//
// The dynamic column (IsDynamic, Type JSON, any Name) holds one JSON object
// per row whose keys are the row's dynamic fields.
type Column struct {
	Name      string
	Type      DataType
	IsDynamic bool
	Dim       int

	Bools   []bool
	Ints    []int64
	Floats  []float32
	Doubles []float64
	Strings []string
	JSON    [][]byte
	Arrays  []Column
	Vectors []float32

	// Valid marks which rows have a value (nullable fields); nil means all.
	// Values of invalid rows are placeholders and are ignored.
	Valid []bool
}

// Len returns the number of rows in the column.
func (c *Column) Len() int {
	switch c.Type {
	case TypeBool:
		return len(c.Bools)
	case TypeInt8, TypeInt16, TypeInt32, TypeInt64:
		return len(c.Ints)
	case TypeFloat:
		return len(c.Floats)
	case TypeDouble:
		return len(c.Doubles)
	case TypeVarChar:
		return len(c.Strings)
	case TypeJSON:
		return len(c.JSON)
	case TypeArray:
		return len(c.Arrays)
	case TypeFloatVector:
		if c.Dim <= 0 {
			return 0
		}
		return len(c.Vectors) / c.Dim
	}
	return 0
}

// Batch is a set of equally long columns: the rows of an Insert or Upsert,
// and the rows a Query, Get or Search returns.
type Batch struct {
	Columns []Column
	// SchemaVersion, when non-zero on a write, must equal the collection's
	// CollectionInfo.SchemaVersion, else the write fails with
	// ErrSchemaMismatch (the client's cached schema is stale).
	SchemaVersion uint64
}

// NumRows returns the row count (that of the first column).
func (b *Batch) NumRows() int {
	if b == nil || len(b.Columns) == 0 {
		return 0
	}
	return b.Columns[0].Len()
}

// Column returns the column with the given name, or nil.
func (b *Batch) Column(name string) *Column {
	for i := range b.Columns {
		if b.Columns[i].Name == name {
			return &b.Columns[i]
		}
	}
	return nil
}
