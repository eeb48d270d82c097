package milvusapi

import (
	"context"
	"math"
	"unicode/utf8"

	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"google.golang.org/protobuf/proto"

	"github.com/milvus-ha/milvus-ha/internal/vectordb"
)

// splitBytes is the largest write handed to the store in one call: the
// store's log takes one write per entry (about 48 MiB), while Milvus
// clients may send up to MaxMessageSize.
const splitBytes = 32 << 20

// writeSplit writes a batch larger than splitBytes in row chunks. The
// store validates each chunk only when it writes it, so the whole batch is
// first checked here for the errors a client can cause (unknown or
// mistyped columns, vector dims, NaN, VarChar lengths): a bad batch is
// refused before any chunk is written.
func writeSplit(ctx context.Context, s *vectordb.Schema, coll string, cols []vectordb.Column, numRows int, schemaTS uint64, size int, fn writeFunc) (vectordb.Column, error) {
	if err := prevalidate(s, cols); err != nil {
		return vectordb.Column{}, err
	}
	chunks := (size + splitBytes - 1) / splitBytes
	per := (numRows + chunks - 1) / chunks
	var ids vectordb.Column
	for from := 0; from < numRows; from += per {
		to := min(from+per, numRows)
		part := make([]vectordb.Column, len(cols))
		for i := range cols {
			part[i] = sliceColumn(&cols[i], from, to)
		}
		got, err := fn(ctx, coll, &vectordb.Batch{Columns: part, SchemaVersion: schemaTS})
		if err != nil {
			return vectordb.Column{}, err
		}
		if from == 0 {
			ids = vectordb.Column{Name: got.Name, Type: got.Type}
		}
		appendColumn(&ids, &got)
	}
	return ids, nil
}

// sizeOf estimates a write's encoded size from its wire form.
func sizeOf(fds []*schemapb.FieldData) int {
	n := 0
	for _, fd := range fds {
		n += proto.Size(fd)
	}
	return n
}

// sliceColumn returns rows [from, to) of c (sharing storage).
func sliceColumn(c *vectordb.Column, from, to int) vectordb.Column {
	out := vectordb.Column{Name: c.Name, Type: c.Type, IsDynamic: c.IsDynamic, Dim: c.Dim}
	if c.Valid != nil {
		out.Valid = c.Valid[from:to]
	}
	switch c.Type {
	case vectordb.TypeBool:
		out.Bools = c.Bools[from:to]
	case vectordb.TypeInt8, vectordb.TypeInt16, vectordb.TypeInt32, vectordb.TypeInt64:
		out.Ints = c.Ints[from:to]
	case vectordb.TypeFloat:
		out.Floats = c.Floats[from:to]
	case vectordb.TypeDouble:
		out.Doubles = c.Doubles[from:to]
	case vectordb.TypeVarChar:
		out.Strings = c.Strings[from:to]
	case vectordb.TypeJSON:
		out.JSON = c.JSON[from:to]
	case vectordb.TypeArray:
		out.Arrays = c.Arrays[from:to]
	case vectordb.TypeFloatVector:
		out.Vectors = c.Vectors[from*c.Dim : to*c.Dim]
	}
	return out
}

// prevalidate checks columns against the schema the way the store will.
func prevalidate(s *vectordb.Schema, cols []vectordb.Column) error {
	for i := range cols {
		c := &cols[i]
		if c.IsDynamic {
			if !s.EnableDynamic {
				return errf(CodeParameterInvalid, "dynamic data sent but collection %s has no dynamic field", s.Name)
			}
			continue
		}
		f, ok := s.Field(c.Name)
		if !ok {
			return errf(CodeParameterInvalid, "field %q is not in the schema of collection %s", c.Name, s.Name)
		}
		if f.Type != c.Type && !(f.Type.IsInteger() && c.Type.IsInteger()) {
			return errf(CodeParameterInvalid, "field %q: data type %s, schema says %s", c.Name, c.Type, f.Type)
		}
		switch f.Type {
		case vectordb.TypeFloatVector:
			if c.Dim != f.Dim {
				return errf(CodeParameterInvalid, "dim mismatch: vector field %q: dim %d, schema says %d", c.Name, c.Dim, f.Dim)
			}
			for _, v := range c.Vectors {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					return errf(CodeParameterInvalid, "field %q: NaN or Inf in vector", c.Name)
				}
			}
		case vectordb.TypeVarChar:
			for _, v := range c.Strings {
				if len(v) > f.MaxLength || !utf8.ValidString(v) {
					return errf(CodeParameterInvalid, "field %q: value of %d bytes exceeds max_length %d or is not UTF-8", c.Name, len(v), f.MaxLength)
				}
			}
		}
	}
	return nil
}
