package milvusapi

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"

	"github.com/milvus-ha/milvus-ha/internal/vectordb"
)

// schemaFromProto converts a CreateCollection schema into the store's
// schema, rejecting what the store cannot hold with the reasons Milvus
// gives (code 1100). name is the request's collection_name, which wins
// over schema.name as in Milvus.
func schemaFromProto(name string, ps *schemapb.CollectionSchema) (vectordb.Schema, error) {
	s := vectordb.Schema{
		Name:          name,
		Description:   ps.GetDescription(),
		EnableDynamic: ps.GetEnableDynamicField(),
	}
	if ps.GetName() != "" && name != "" && ps.GetName() != name {
		return s, errf(CodeParameterInvalid, "collection name %q does not match schema name %q", name, ps.GetName())
	}
	if len(ps.GetFunctions()) > 0 {
		return s, errf(CodeParameterInvalid, "schema functions are not supported by milvus-ha")
	}
	if len(ps.GetStructArrayFields()) > 0 {
		return s, errf(CodeParameterInvalid, "struct array fields are not supported by milvus-ha")
	}
	for _, pf := range ps.GetFields() {
		if pf.GetIsDynamic() {
			// The server adds "$meta" itself; a client that echoes a
			// described schema back may send it.
			continue
		}
		f, err := fieldFromProto(pf)
		if err != nil {
			return s, err
		}
		if f.IsPrimary && (f.AutoID || ps.GetAutoID()) {
			f.AutoID = true
			s.AutoID = true
		}
		s.Fields = append(s.Fields, f)
	}
	return s, nil
}

func fieldFromProto(pf *schemapb.FieldSchema) (vectordb.Field, error) {
	f := vectordb.Field{
		Name:        pf.GetName(),
		Description: pf.GetDescription(),
		Type:        vectordb.DataType(pf.GetDataType()),
		IsPrimary:   pf.GetIsPrimaryKey(),
		AutoID:      pf.GetAutoID(),
		Nullable:    pf.GetNullable(),
	}
	if !supportedType(f.Type) {
		return f, errf(CodeParameterInvalid, "field %q: data type %s is not supported by milvus-ha", f.Name, pf.GetDataType())
	}
	if pf.GetDefaultValue() != nil {
		return f, errf(CodeParameterInvalid, "field %q: default values are not supported by milvus-ha", f.Name)
	}
	params := kvMap(pf.GetTypeParams())
	// pymilvus sends type params through index_params on old paths.
	for k, v := range kvMap(pf.GetIndexParams()) {
		if _, ok := params[k]; !ok {
			params[k] = v
		}
	}
	var err error
	switch f.Type {
	case vectordb.TypeFloatVector:
		if f.Dim, err = intParam(params, "dim", f.Name); err != nil {
			return f, err
		}
	case vectordb.TypeVarChar:
		if f.MaxLength, err = intParam(params, "max_length", f.Name); err != nil {
			return f, err
		}
	case vectordb.TypeArray:
		f.ElementType = vectordb.DataType(pf.GetElementType())
		if !supportedType(f.ElementType) || f.ElementType == vectordb.TypeFloatVector ||
			f.ElementType == vectordb.TypeArray || f.ElementType == vectordb.TypeJSON {
			return f, errf(CodeParameterInvalid, "field %q: array element type %s is not supported", f.Name, pf.GetElementType())
		}
		if f.MaxCapacity, err = intParam(params, "max_capacity", f.Name); err != nil {
			return f, err
		}
		if f.ElementType == vectordb.TypeVarChar {
			if f.MaxLength, err = intParam(params, "max_length", f.Name); err != nil {
				return f, err
			}
		}
	}
	return f, nil
}

func supportedType(t vectordb.DataType) bool {
	switch t {
	case vectordb.TypeBool, vectordb.TypeInt8, vectordb.TypeInt16, vectordb.TypeInt32, vectordb.TypeInt64,
		vectordb.TypeFloat, vectordb.TypeDouble, vectordb.TypeVarChar, vectordb.TypeArray,
		vectordb.TypeJSON, vectordb.TypeFloatVector:
		return true
	}
	return false
}

// intParam reads a required decimal type parameter; Milvus answers 1100
// for a missing or non-numeric one.
func intParam(params map[string]string, key, field string) (int, error) {
	v, ok := params[key]
	if !ok {
		return 0, errf(CodeParameterInvalid, "field %q: type param %s is missing", field, key)
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, errf(CodeParameterInvalid, "field %q: type param %s=%q is not an integer", field, key, v)
	}
	return n, nil
}

// schemaToProto renders a stored schema as DescribeCollection returns it:
// field IDs, type params as decimal strings (the SDK compares dim as a
// string), and the "$meta" field when dynamic fields are on.
func schemaToProto(s *vectordb.Schema) *schemapb.CollectionSchema {
	ps := &schemapb.CollectionSchema{
		Name:               s.Name,
		Description:        s.Description,
		AutoID:             s.AutoID,
		EnableDynamicField: s.EnableDynamic,
	}
	for i := range s.Fields {
		f := &s.Fields[i]
		pf := &schemapb.FieldSchema{
			FieldID:      f.ID,
			Name:         f.Name,
			IsPrimaryKey: f.IsPrimary,
			Description:  f.Description,
			DataType:     schemapb.DataType(f.Type),
			AutoID:       f.AutoID,
			IsDynamic:    f.IsDynamic,
			Nullable:     f.Nullable,
		}
		switch f.Type {
		case vectordb.TypeFloatVector:
			pf.TypeParams = []*commonpb.KeyValuePair{{Key: "dim", Value: strconv.Itoa(f.Dim)}}
		case vectordb.TypeVarChar:
			pf.TypeParams = []*commonpb.KeyValuePair{{Key: "max_length", Value: strconv.Itoa(f.MaxLength)}}
		case vectordb.TypeArray:
			pf.ElementType = schemapb.DataType(f.ElementType)
			pf.TypeParams = []*commonpb.KeyValuePair{{Key: "max_capacity", Value: strconv.Itoa(f.MaxCapacity)}}
			if f.ElementType == vectordb.TypeVarChar {
				pf.TypeParams = append(pf.TypeParams, &commonpb.KeyValuePair{Key: "max_length", Value: strconv.Itoa(f.MaxLength)})
			}
		}
		ps.Fields = append(ps.Fields, pf)
	}
	return ps
}

func kvMap(kvs []*commonpb.KeyValuePair) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.GetKey()] = kv.GetValue()
	}
	return m
}

// columnsFromProto converts Insert/Upsert fields_data into store columns.
// It checks the wire shape only (one data kind per type, vector length a
// multiple of dim, equal row counts, num_rows); the store checks the
// columns against the schema.
func columnsFromProto(fds []*schemapb.FieldData, numRows uint32) ([]vectordb.Column, error) {
	cols := make([]vectordb.Column, 0, len(fds))
	for _, fd := range fds {
		c, err := columnFromProto(fd)
		if err != nil {
			return nil, err
		}
		if n := c.Len(); n != int(numRows) {
			return nil, errf(CodeParameterInvalid, "the num_rows (%d) of field %q does not equal passed num_rows (%d)", n, displayName(&c), numRows)
		}
		cols = append(cols, c)
	}
	return cols, nil
}

func displayName(c *vectordb.Column) string {
	if c.IsDynamic && c.Name == "" {
		return vectordb.DynamicField
	}
	return c.Name
}

func columnFromProto(fd *schemapb.FieldData) (vectordb.Column, error) {
	c := vectordb.Column{
		Name:      fd.GetFieldName(),
		Type:      vectordb.DataType(fd.GetType()),
		IsDynamic: fd.GetIsDynamic(),
	}
	if c.IsDynamic {
		c.Name = vectordb.DynamicField
	}
	bad := func(what string) error {
		return errf(CodeParameterInvalid, "field %q: %s data expected for type %s", displayName(&c), what, fd.GetType())
	}
	sc := fd.GetScalars()
	switch c.Type {
	case vectordb.TypeBool:
		d := sc.GetBoolData()
		if d == nil {
			return c, bad("bool")
		}
		c.Bools = d.GetData()
	case vectordb.TypeInt8, vectordb.TypeInt16, vectordb.TypeInt32:
		d := sc.GetIntData()
		if d == nil {
			return c, bad("int")
		}
		c.Ints = make([]int64, len(d.GetData()))
		for i, v := range d.GetData() {
			c.Ints[i] = int64(v)
		}
	case vectordb.TypeInt64:
		d := sc.GetLongData()
		if d == nil {
			return c, bad("long")
		}
		c.Ints = d.GetData()
	case vectordb.TypeFloat:
		d := sc.GetFloatData()
		if d == nil {
			return c, bad("float")
		}
		c.Floats = d.GetData()
	case vectordb.TypeDouble:
		d := sc.GetDoubleData()
		if d == nil {
			return c, bad("double")
		}
		c.Doubles = d.GetData()
	case vectordb.TypeVarChar:
		d := sc.GetStringData()
		if d == nil {
			return c, bad("string")
		}
		c.Strings = d.GetData()
	case vectordb.TypeJSON:
		d := sc.GetJsonData()
		if d == nil {
			return c, bad("json")
		}
		c.JSON = d.GetData()
	case vectordb.TypeArray:
		d := sc.GetArrayData()
		if d == nil {
			return c, bad("array")
		}
		et := vectordb.DataType(d.GetElementType())
		c.Arrays = make([]vectordb.Column, len(d.GetData()))
		for i, row := range d.GetData() {
			if row.GetData() == nil {
				c.Arrays[i] = vectordb.Column{Name: c.Name, Type: et} // null row placeholder
				continue
			}
			ec, err := columnFromProto(&schemapb.FieldData{
				Type:      d.GetElementType(),
				FieldName: c.Name,
				Field:     &schemapb.FieldData_Scalars{Scalars: row},
			})
			if err != nil {
				return c, err
			}
			ec.Type = et
			c.Arrays[i] = ec
		}
	case vectordb.TypeFloatVector:
		v := fd.GetVectors()
		fv := v.GetFloatVector()
		if fv == nil {
			return c, bad("float vector")
		}
		c.Dim = int(v.GetDim())
		c.Vectors = fv.GetData()
		if c.Dim <= 0 || len(c.Vectors)%c.Dim != 0 {
			return c, errf(CodeParameterInvalid, "field %q: %d floats is not a whole number of vectors of dim %d", c.Name, len(c.Vectors), c.Dim)
		}
	default:
		return c, errf(CodeParameterInvalid, "field %q: data type %s is not supported by milvus-ha", displayName(&c), fd.GetType())
	}
	if vd := fd.GetValidData(); len(vd) > 0 {
		if err := expandNullable(&c, vd); err != nil {
			return c, err
		}
	}
	return c, nil
}

// expandNullable turns a nullable column into the store's sparse form (one
// placeholder per null row). The SDK sends the compact form (values of
// valid rows only), Milvus also accepts the sparse one.
func expandNullable(c *vectordb.Column, valid []bool) error {
	n := c.Len()
	if n == len(valid) {
		c.Valid = valid
		return nil
	}
	nValid := 0
	for _, v := range valid {
		if v {
			nValid++
		}
	}
	if n != nValid {
		return errf(CodeParameterInvalid, "field %q: %d values for %d valid rows", c.Name, n, nValid)
	}
	idx := make([]int, len(valid)) // row -> compact index (or -1)
	j := 0
	for i, v := range valid {
		idx[i] = -1
		if v {
			idx[i] = j
			j++
		}
	}
	switch c.Type {
	case vectordb.TypeBool:
		c.Bools = spread(c.Bools, idx)
	case vectordb.TypeInt8, vectordb.TypeInt16, vectordb.TypeInt32, vectordb.TypeInt64:
		c.Ints = spread(c.Ints, idx)
	case vectordb.TypeFloat:
		c.Floats = spread(c.Floats, idx)
	case vectordb.TypeDouble:
		c.Doubles = spread(c.Doubles, idx)
	case vectordb.TypeVarChar:
		c.Strings = spread(c.Strings, idx)
	case vectordb.TypeJSON:
		c.JSON = spread(c.JSON, idx)
	case vectordb.TypeArray:
		c.Arrays = spread(c.Arrays, idx)
	default:
		return errf(CodeParameterInvalid, "field %q: type %s cannot be nullable", c.Name, c.Type)
	}
	c.Valid = valid
	return nil
}

func spread[T any](compact []T, idx []int) []T {
	out := make([]T, len(idx))
	for i, j := range idx {
		if j >= 0 {
			out[i] = compact[j]
		}
	}
	return out
}

// columnToProto renders a result column as Milvus FieldData. f is the
// column's schema field (nil for computed columns such as count(*)).
func columnToProto(c *vectordb.Column, f *vectordb.Field) *schemapb.FieldData {
	var fieldID int64
	et := vectordb.DataType(0)
	if f != nil {
		fieldID, et = f.ID, f.ElementType
	}
	fd := &schemapb.FieldData{
		Type:      schemapb.DataType(c.Type),
		FieldName: c.Name,
		FieldId:   fieldID,
		IsDynamic: c.IsDynamic,
		ValidData: c.Valid,
	}
	switch c.Type {
	case vectordb.TypeFloatVector:
		fd.Field = &schemapb.FieldData_Vectors{Vectors: &schemapb.VectorField{
			Dim:  int64(c.Dim),
			Data: &schemapb.VectorField_FloatVector{FloatVector: &schemapb.FloatArray{Data: c.Vectors}},
		}}
	default:
		fd.Field = &schemapb.FieldData_Scalars{Scalars: scalarsToProto(c, et)}
	}
	return fd
}

func scalarsToProto(c *vectordb.Column, elem vectordb.DataType) *schemapb.ScalarField {
	switch c.Type {
	case vectordb.TypeBool:
		return &schemapb.ScalarField{Data: &schemapb.ScalarField_BoolData{BoolData: &schemapb.BoolArray{Data: nonNil(c.Bools)}}}
	case vectordb.TypeInt8, vectordb.TypeInt16, vectordb.TypeInt32:
		d := make([]int32, len(c.Ints))
		for i, v := range c.Ints {
			d[i] = int32(v)
		}
		return &schemapb.ScalarField{Data: &schemapb.ScalarField_IntData{IntData: &schemapb.IntArray{Data: d}}}
	case vectordb.TypeInt64:
		return &schemapb.ScalarField{Data: &schemapb.ScalarField_LongData{LongData: &schemapb.LongArray{Data: nonNil(c.Ints)}}}
	case vectordb.TypeFloat:
		return &schemapb.ScalarField{Data: &schemapb.ScalarField_FloatData{FloatData: &schemapb.FloatArray{Data: nonNil(c.Floats)}}}
	case vectordb.TypeDouble:
		return &schemapb.ScalarField{Data: &schemapb.ScalarField_DoubleData{DoubleData: &schemapb.DoubleArray{Data: nonNil(c.Doubles)}}}
	case vectordb.TypeVarChar:
		return &schemapb.ScalarField{Data: &schemapb.ScalarField_StringData{StringData: &schemapb.StringArray{Data: nonNil(c.Strings)}}}
	case vectordb.TypeJSON:
		return &schemapb.ScalarField{Data: &schemapb.ScalarField_JsonData{JsonData: &schemapb.JSONArray{Data: nonNil(c.JSON)}}}
	case vectordb.TypeArray:
		rows := make([]*schemapb.ScalarField, len(c.Arrays))
		for i := range c.Arrays {
			rows[i] = scalarsToProto(&c.Arrays[i], 0)
		}
		return &schemapb.ScalarField{Data: &schemapb.ScalarField_ArrayData{ArrayData: &schemapb.ArrayArray{Data: rows, ElementType: schemapb.DataType(elem)}}}
	}
	return &schemapb.ScalarField{}
}

// nonNil keeps empty result columns typed on the wire: a nil slice would
// still set the oneof, but the SDK tells column kinds apart by it.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// idsToProto renders a primary key column as schemapb.IDs.
func idsToProto(c *vectordb.Column) *schemapb.IDs {
	if c.Type == vectordb.TypeVarChar {
		return &schemapb.IDs{IdField: &schemapb.IDs_StrId{StrId: &schemapb.StringArray{Data: nonNil(c.Strings)}}}
	}
	return &schemapb.IDs{IdField: &schemapb.IDs_IntId{IntId: &schemapb.LongArray{Data: nonNil(c.Ints)}}}
}

// decodeVectors parses a search placeholder group: one FloatVector
// PlaceholderValue whose values are little-endian float32 vectors.
func decodeVectors(raw []byte, dim int) ([][]float32, error) {
	var pg commonpb.PlaceholderGroup
	if err := unmarshalProto(raw, &pg); err != nil {
		return nil, errf(CodeParameterInvalid, "placeholder group does not parse: %v", err)
	}
	if len(pg.GetPlaceholders()) != 1 {
		return nil, errf(CodeParameterInvalid, "expected one placeholder, got %d", len(pg.GetPlaceholders()))
	}
	ph := pg.GetPlaceholders()[0]
	if ph.GetType() != commonpb.PlaceholderType_FloatVector {
		return nil, errf(CodeParameterInvalid, "search vector type %s is not supported by milvus-ha (FloatVector only)", ph.GetType())
	}
	if len(ph.GetValues()) == 0 {
		return nil, errf(CodeParameterInvalid, "no search vectors")
	}
	out := make([][]float32, len(ph.GetValues()))
	for i, b := range ph.GetValues() {
		if len(b) != 4*dim {
			return nil, errf(CodeParameterInvalid, "the dimension of query vector %d is %d bytes, expected %d (dim %d)", i, len(b), 4*dim, dim)
		}
		v := make([]float32, dim)
		for j := range v {
			v[j] = math.Float32frombits(uint32(b[4*j]) | uint32(b[4*j+1])<<8 | uint32(b[4*j+2])<<16 | uint32(b[4*j+3])<<24)
		}
		out[i] = v
	}
	return out, nil
}

// encodeVectors builds a placeholder group (used by the REST layer, which
// feeds the same Search as gRPC).
func encodeVectors(vs [][]float32) []byte {
	ph := &commonpb.PlaceholderValue{Tag: "$0", Type: commonpb.PlaceholderType_FloatVector}
	for _, v := range vs {
		b := make([]byte, 4*len(v))
		for j, f := range v {
			u := math.Float32bits(f)
			b[4*j], b[4*j+1], b[4*j+2], b[4*j+3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
		}
		ph.Values = append(ph.Values, b)
	}
	return mustMarshal(&commonpb.PlaceholderGroup{Placeholders: []*commonpb.PlaceholderValue{ph}})
}

// templateValues converts expr_template_values to plain Go values for the
// store's filter placeholders.
func templateValues(m map[string]*schemapb.TemplateValue) (map[string]any, error) {
	if len(m) == 0 {
		return nil, nil
	}
	out := make(map[string]any, len(m))
	for k, tv := range m {
		v, err := templateValue(tv)
		if err != nil {
			return nil, errf(CodeParameterInvalid, "template value %q: %v", k, err)
		}
		out[k] = v
	}
	return out, nil
}

func templateValue(tv *schemapb.TemplateValue) (any, error) {
	switch v := tv.GetVal().(type) {
	case *schemapb.TemplateValue_BoolVal:
		return v.BoolVal, nil
	case *schemapb.TemplateValue_Int64Val:
		return v.Int64Val, nil
	case *schemapb.TemplateValue_FloatVal:
		return v.FloatVal, nil
	case *schemapb.TemplateValue_StringVal:
		return v.StringVal, nil
	case *schemapb.TemplateValue_ArrayVal:
		return templateArray(v.ArrayVal)
	}
	return nil, fmt.Errorf("unsupported template value type %T", tv.GetVal())
}

func templateArray(a *schemapb.TemplateArrayValue) ([]any, error) {
	var out []any
	switch d := a.GetData().(type) {
	case *schemapb.TemplateArrayValue_BoolData:
		for _, v := range d.BoolData.GetData() {
			out = append(out, v)
		}
	case *schemapb.TemplateArrayValue_LongData:
		for _, v := range d.LongData.GetData() {
			out = append(out, v)
		}
	case *schemapb.TemplateArrayValue_DoubleData:
		for _, v := range d.DoubleData.GetData() {
			out = append(out, v)
		}
	case *schemapb.TemplateArrayValue_StringData:
		for _, v := range d.StringData.GetData() {
			out = append(out, v)
		}
	case *schemapb.TemplateArrayValue_JsonData:
		for _, raw := range d.JsonData.GetData() {
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, err
			}
			out = append(out, v)
		}
	case *schemapb.TemplateArrayValue_ArrayData:
		for _, sub := range d.ArrayData.GetData() {
			v, err := templateArray(sub)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
	default:
		return nil, fmt.Errorf("unsupported template array type %T", a.GetData())
	}
	return out, nil
}
