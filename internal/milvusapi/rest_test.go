package milvusapi

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"

	"github.com/milvus-ha/milvus-ha/internal/vectordb"
)

// testSchema is a stored schema as the store would describe it.
func testSchema() *vectordb.Schema {
	return &vectordb.Schema{
		Name: "c", EnableDynamic: true,
		Fields: []vectordb.Field{
			{ID: 100, Name: "id", Type: vectordb.TypeInt64, IsPrimary: true},
			{ID: 101, Name: "vec", Type: vectordb.TypeFloatVector, Dim: 3},
			{ID: 102, Name: "name", Type: vectordb.TypeVarChar, MaxLength: 16},
			{ID: 103, Name: "tags", Type: vectordb.TypeArray, ElementType: vectordb.TypeInt64, MaxCapacity: 4},
			{ID: 104, Name: "score", Type: vectordb.TypeFloat, Nullable: true},
			{ID: 105, Name: "$meta", Type: vectordb.TypeJSON, IsDynamic: true},
		},
	}
}

func TestRESTSchema(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		code       int32 // 0: success
		check      func(*testing.T, *schemapb.CollectionSchema, []restIndexParam)
	}{
		{"quick setup", `{"collectionName":"q","dimension":8}`, 0, func(t *testing.T, s *schemapb.CollectionSchema, ix []restIndexParam) {
			if len(s.Fields) != 2 || s.Fields[0].Name != "id" || !s.Fields[0].IsPrimaryKey || s.Fields[1].Name != "vector" ||
				kvMap(s.Fields[1].TypeParams)["dim"] != "8" || !s.EnableDynamicField {
				t.Errorf("schema %v", s)
			}
			if len(ix) != 1 || ix[0].MetricType != "COSINE" || ix[0].FieldName != "vector" {
				t.Errorf("index %v", ix)
			}
		}},
		{"quick setup varchar ids", `{"collectionName":"q","dimension":4,"idType":"VarChar","autoID":false,"primaryFieldName":"pk","vectorFieldName":"emb","metricType":"L2","params":{"max_length":32}}`, 0,
			func(t *testing.T, s *schemapb.CollectionSchema, ix []restIndexParam) {
				if s.Fields[0].Name != "pk" || s.Fields[0].DataType != schemapb.DataType_VarChar || kvMap(s.Fields[0].TypeParams)["max_length"] != "32" ||
					s.Fields[1].Name != "emb" || ix[0].MetricType != "L2" {
					t.Errorf("schema %v index %v", s, ix)
				}
			}},
		{"full schema", `{"collectionName":"f","schema":{"autoID":true,"enableDynamicField":false,"fields":[
			{"fieldName":"id","dataType":"Int64","isPrimary":true},
			{"fieldName":"v","dataType":"FloatVector","elementTypeParams":{"dim":"16"}},
			{"fieldName":"a","dataType":"Array","elementDataType":"VarChar","elementTypeParams":{"max_capacity":8,"max_length":10}}]},
			"indexParams":[{"fieldName":"v","metricType":"IP","params":{"index_type":"HNSW","M":8}}]}`, 0,
			func(t *testing.T, s *schemapb.CollectionSchema, ix []restIndexParam) {
				if !s.Fields[0].AutoID || s.Fields[2].ElementType != schemapb.DataType_VarChar ||
					kvMap(s.Fields[2].TypeParams)["max_capacity"] != "8" || kvMap(s.Fields[1].TypeParams)["dim"] != "16" {
					t.Errorf("schema %v", s)
				}
				if len(ix) != 1 || ix[0].Params["M"] != json.Number("8") {
					t.Errorf("index %v", ix)
				}
			}},
		{"no dimension no schema", `{"collectionName":"x"}`, CodeMissingRequired, nil},
		{"unknown type", `{"collectionName":"x","schema":{"fields":[{"fieldName":"b","dataType":"BinaryVector"}]}}`, CodeParameterInvalid, nil},
		{"bad id type", `{"collectionName":"x","dimension":4,"idType":"Float"}`, CodeParameterInvalid, nil},
		{"default value", `{"collectionName":"x","schema":{"fields":[{"fieldName":"n","dataType":"Int64","defaultValue":1}]}}`, CodeParameterInvalid, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var req restCreateCollection
			if err := decodeBody([]byte(tc.body), &req); err != nil {
				t.Fatal(err)
			}
			s, ix, err := restSchema(&req)
			if codeOf(err) != tc.code {
				t.Fatalf("code %d (%v), want %d", codeOf(err), err, tc.code)
			}
			if err == nil {
				// The proto schema must also pass the gRPC conversion.
				if _, err := schemaFromProto(req.CollectionName, s); err != nil {
					t.Fatalf("schemaFromProto: %v", err)
				}
				tc.check(t, s, ix)
			}
		})
	}
}

func TestDecodeBody(t *testing.T) {
	var req restCollectionReq
	for _, bad := range []string{``, `{`, `[]`, `{"collectionName":1}`, `{} {}`} {
		if err := decodeBody([]byte(bad), &req); codeOf(err) != CodeIncorrectFormat {
			t.Errorf("%q: %v, want code 1801", bad, err)
		}
	}
	if err := decodeBody([]byte(`{"collectionName":"a","unknown":true}`), &req); err != nil || req.CollectionName != "a" {
		t.Errorf("unknown keys must pass: %v", err)
	}
}

func TestRowsToFieldData(t *testing.T) {
	s := testSchema()
	rows, err := decodeRows(json.RawMessage(`[
		{"id": 9007199254740993, "vec": [1, 2.5, -3], "name": "a", "tags": [1, 2], "score": 0.5, "color": "red"},
		{"id": "7", "vec": [0, 0, 0], "name": "b", "tags": [], "extra": {"k": [1]}}]`))
	if err != nil {
		t.Fatal(err)
	}
	fds, err := rowsToFieldData(s, rows)
	if err != nil {
		t.Fatal(err)
	}
	cols, err := columnsFromProto(fds, 2)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]vectordb.Column{}
	for _, c := range cols {
		byName[c.Name] = c
	}
	if got := byName["id"].Ints; !reflect.DeepEqual(got, []int64{9007199254740993, 7}) {
		t.Errorf("ids %v (int64 precision must survive JSON)", got)
	}
	if got := byName["vec"].Vectors; !reflect.DeepEqual(got, []float32{1, 2.5, -3, 0, 0, 0}) {
		t.Errorf("vectors %v", got)
	}
	if got := byName["tags"].Arrays; len(got) != 2 || !reflect.DeepEqual(got[0].Ints, []int64{1, 2}) || got[1].Len() != 0 {
		t.Errorf("tags %v", got)
	}
	if sc := byName["score"]; !reflect.DeepEqual(sc.Valid, []bool{true, false}) || sc.Floats[0] != 0.5 {
		t.Errorf("nullable score %+v", sc)
	}
	meta := byName["$meta"]
	if !meta.IsDynamic || string(meta.JSON[0]) != `{"color":"red"}` || string(meta.JSON[1]) != `{"extra":{"k":[1]}}` {
		t.Errorf("dynamic %q", meta.JSON)
	}

	for _, tc := range []struct{ name, rows string }{
		{"wrong dim", `{"id":1,"vec":[1,2],"name":"a","tags":[]}`},
		{"missing field", `{"id":1,"vec":[1,2,3],"tags":[]}`},
		{"string for int", `{"id":"x","vec":[1,2,3],"name":"a","tags":[]}`},
		{"float for int", `{"id":1.5,"vec":[1,2,3],"name":"a","tags":[]}`},
		{"number for string", `{"id":1,"vec":[1,2,3],"name":5,"tags":[]}`},
		{"bad vector element", `{"id":1,"vec":[1,"2",3],"name":"a","tags":[]}`},
		{"null non-nullable", `{"id":1,"vec":[1,2,3],"name":null,"tags":[]}`},
	} {
		rows, err := decodeRows(json.RawMessage(tc.rows))
		if err == nil {
			_, err = rowsToFieldData(s, rows)
		}
		if codeOf(err) != CodeInvalidInsertData {
			t.Errorf("%s: %v, want code 1804", tc.name, err)
		}
	}
	strict := testSchema()
	strict.EnableDynamic = false
	strict.Fields = strict.Fields[:5]
	rows, _ = decodeRows(json.RawMessage(`{"id":1,"vec":[1,2,3],"name":"a","tags":[],"color":"red"}`))
	if _, err := rowsToFieldData(strict, rows); codeOf(err) != CodeInvalidInsertData || !strings.Contains(err.Error(), "color") {
		t.Errorf("unknown field without dynamic schema: %v", err)
	}
	for _, empty := range []string{``, `null`, `[]`} {
		if _, err := decodeRows(json.RawMessage(empty)); err == nil {
			t.Errorf("%q: no error", empty)
		}
	}
}

func TestPKFilter(t *testing.T) {
	intPK := &vectordb.Field{Name: "id", Type: vectordb.TypeInt64}
	strPK := &vectordb.Field{Name: "key", Type: vectordb.TypeVarChar}
	for _, tc := range []struct {
		pk   *vectordb.Field
		in   string
		want string
	}{
		{intPK, `5`, `id in [5]`},
		{intPK, `[1, "2", 9007199254740993]`, `id in [1,2,9007199254740993]`},
		{strPK, `["a", "b\"c"]`, `key in ["a","b\"c"]`},
		{strPK, `"x"`, `key in ["x"]`},
	} {
		got, err := pkFilter(tc.pk, json.RawMessage(tc.in))
		if err != nil || got != tc.want {
			t.Errorf("%s: %q %v, want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{`[]`, `[1.5]`, `{`, `[true]`} {
		if _, err := pkFilter(intPK, json.RawMessage(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	if _, err := pkFilter(strPK, json.RawMessage(`[1]`)); err == nil {
		t.Error("number id for a VarChar key accepted")
	}
}

func kv(pairs ...string) []*commonpb.KeyValuePair {
	var out []*commonpb.KeyValuePair
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, &commonpb.KeyValuePair{Key: pairs[i], Value: pairs[i+1]})
	}
	return out
}

func TestParseSearchParams(t *testing.T) {
	p, err := parseSearchParams(kv("anns_field", "v", "topk", "10", "offset", "5", "metric_type", "l2",
		"round_decimal", "2", "ignore_growing", "false", "params", `{"ef": 100}`))
	if err != nil || p.annsField != "v" || p.topK != 10 || p.offset != 5 || p.metric != "L2" || p.roundDecimal != 2 || p.ef != 100 {
		t.Fatalf("%+v %v", p, err)
	}
	p, err = parseSearchParams(kv("topk", "3", "params", "{}"))
	if err != nil || p.roundDecimal != -1 || p.ef != 0 {
		t.Fatalf("defaults %+v %v", p, err)
	}
	for _, bad := range [][]*commonpb.KeyValuePair{
		kv(),
		kv("topk", "0"),
		kv("topk", "16385"),
		kv("topk", "x"),
		kv("topk", "10", "offset", "16380"),
		kv("topk", "10", "round_decimal", "7"),
		kv("topk", "10", "params", "{"),
		kv("topk", "10", "params", `{"radius": 1}`),
		kv("topk", "10", "params", `{"ef": 0}`),
		kv("topk", "10", "group_by_field", "g"),
	} {
		if _, err := parseSearchParams(bad); codeOf(err) != CodeParameterInvalid {
			t.Errorf("%v: %v, want 1100", bad, err)
		}
	}
}

func TestIndexParamsFromKV(t *testing.T) {
	for _, tc := range []struct {
		in   []*commonpb.KeyValuePair
		want vectordb.IndexParams
	}{
		{nil, vectordb.IndexParams{Type: vectordb.IndexAuto}},
		{kv("index_type", "HNSW", "metric_type", "IP", "M", "8", "efConstruction", "100"),
			vectordb.IndexParams{Type: vectordb.IndexHNSW, Metric: vectordb.MetricIP, M: 8, EfConstruction: 100}},
		{kv("index_type", "hnsw", "metric_type", "cosine", "params", `{"M": 32, "efConstruction": 64}`),
			vectordb.IndexParams{Type: vectordb.IndexHNSW, Metric: vectordb.MetricCosine, M: 32, EfConstruction: 64}},
		{kv("index_type", "FLAT", "metric_type", "L2"), vectordb.IndexParams{Type: vectordb.IndexFLAT, Metric: vectordb.MetricL2}},
	} {
		got, err := indexParamsFromKV(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("%v: %+v %v, want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range [][]*commonpb.KeyValuePair{
		kv("index_type", "IVF_FLAT"), kv("metric_type", "HAMMING"), kv("M", "0"), kv("efConstruction", "x"), kv("params", "[1]"),
	} {
		if _, err := indexParamsFromKV(bad); codeOf(err) != CodeParameterInvalid {
			t.Errorf("%v: %v, want 1100", bad, err)
		}
	}
}

func TestVectorsRoundTrip(t *testing.T) {
	vs := [][]float32{{1, -2, 3.5}, {0, 0, 1e-7}}
	got, err := decodeVectors(encodeVectors(vs), 3)
	if err != nil || !reflect.DeepEqual(got, vs) {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := decodeVectors(encodeVectors(vs), 4); codeOf(err) != CodeParameterInvalid {
		t.Errorf("wrong dim: %v", err)
	}
	if _, err := decodeVectors([]byte{0xff}, 3); codeOf(err) != CodeParameterInvalid {
		t.Errorf("garbage: %v", err)
	}
}

func TestSchemaFromProto(t *testing.T) {
	vec := &schemapb.FieldSchema{Name: "v", DataType: schemapb.DataType_FloatVector, TypeParams: kv("dim", "4")}
	pk := &schemapb.FieldSchema{Name: "id", DataType: schemapb.DataType_Int64, IsPrimaryKey: true}
	s, err := schemaFromProto("c", &schemapb.CollectionSchema{Name: "c", AutoID: true, EnableDynamicField: true,
		Fields: []*schemapb.FieldSchema{pk, vec, {Name: "$meta", DataType: schemapb.DataType_JSON, IsDynamic: true}}})
	if err != nil || len(s.Fields) != 2 || !s.Fields[0].AutoID || s.Fields[1].Dim != 4 || !s.EnableDynamic {
		t.Fatalf("%+v %v", s, err)
	}
	back := schemaToProto(&vectordb.Schema{Name: "c", Fields: []vectordb.Field{{ID: 100, Name: "v", Type: vectordb.TypeFloatVector, Dim: 4}}})
	if kvMap(back.Fields[0].TypeParams)["dim"] != "4" || back.Name != "c" || back.Fields[0].FieldID != 100 {
		t.Errorf("schemaToProto %v", back)
	}
	for _, bad := range []*schemapb.CollectionSchema{
		{Name: "other", Fields: []*schemapb.FieldSchema{pk, vec}},
		{Fields: []*schemapb.FieldSchema{pk, {Name: "v", DataType: schemapb.DataType_FloatVector}}},
		{Fields: []*schemapb.FieldSchema{pk, {Name: "v", DataType: schemapb.DataType_FloatVector, TypeParams: kv("dim", "x")}}},
		{Fields: []*schemapb.FieldSchema{pk, {Name: "b", DataType: schemapb.DataType_BinaryVector, TypeParams: kv("dim", "8")}}},
		{Fields: []*schemapb.FieldSchema{pk, {Name: "s", DataType: schemapb.DataType_VarChar}}},
		{Fields: []*schemapb.FieldSchema{pk, {Name: "a", DataType: schemapb.DataType_Array, ElementType: schemapb.DataType_JSON, TypeParams: kv("max_capacity", "4")}}},
		{Fields: []*schemapb.FieldSchema{pk, vec}, Functions: []*schemapb.FunctionSchema{{Name: "bm25"}}},
	} {
		if _, err := schemaFromProto("c", bad); codeOf(err) != CodeParameterInvalid {
			t.Errorf("%v: %v, want 1100", bad, err)
		}
	}
}

func TestNullableCompactForm(t *testing.T) {
	// The SDK sends nullable columns compacted: values of valid rows only.
	fd := &schemapb.FieldData{Type: schemapb.DataType_Int64, FieldName: "n", ValidData: []bool{true, false, true},
		Field: &schemapb.FieldData_Scalars{Scalars: &schemapb.ScalarField{Data: &schemapb.ScalarField_LongData{LongData: &schemapb.LongArray{Data: []int64{4, 6}}}}}}
	c, err := columnFromProto(fd)
	if err != nil || !reflect.DeepEqual(c.Ints, []int64{4, 0, 6}) || c.Len() != 3 {
		t.Fatalf("%+v %v", c, err)
	}
	fd.GetScalars().GetLongData().Data = []int64{1}
	if _, err := columnFromProto(fd); codeOf(err) != CodeParameterInvalid {
		t.Errorf("short compact column: %v", err)
	}
}

// FuzzREST feeds arbitrary bodies to every REST decoding step; none may
// panic, and rows that convert must convert to a consistent batch.
func FuzzREST(f *testing.F) {
	for _, seed := range []string{
		`{"collectionName":"c","dimension":8}`,
		`{"collectionName":"c","schema":{"fields":[{"fieldName":"id","dataType":"Int64","isPrimary":true},{"fieldName":"v","dataType":"FloatVector","elementTypeParams":{"dim":3}}]}}`,
		`{"collectionName":"c","data":[{"id":1,"vec":[1,2,3],"name":"a","tags":[1],"x":{}}]}`,
		`{"collectionName":"c","data":{"id":"2","vec":[0,0,0],"name":"","tags":[],"score":null}}`,
		`{"collectionName":"c","id":[1,2,3]}`,
		`{"collectionName":"c","data":[[1,2,3]],"limit":3,"searchParams":{"metricType":"L2","params":{"ef":10}}}`,
		`{"collectionName":"c","indexParams":[{"fieldName":"v","metricType":"IP","params":{"M":"x"}}]}`,
		`{"data":[{"id":1e400}]}`,
	} {
		f.Add([]byte(seed))
	}
	schema := testSchema()
	f.Fuzz(func(t *testing.T, body []byte) {
		var cc restCreateCollection
		if decodeBody(body, &cc) == nil {
			if ps, ix, err := restSchema(&cc); err == nil {
				_, _ = schemaFromProto(cc.CollectionName, ps)
				for _, ip := range ix {
					for _, v := range ip.Params {
						_ = paramString(v)
					}
				}
			}
		}
		var w restWriteReq
		if decodeBody(body, &w) == nil {
			if rows, err := decodeRows(w.Data); err == nil {
				if fds, err := rowsToFieldData(schema, rows); err == nil {
					if _, err := columnsFromProto(fds, uint32(len(rows))); err != nil {
						t.Fatalf("converted rows do not form a batch: %v", err)
					}
				}
			}
		}
		var q restQueryReq
		if decodeBody(body, &q) == nil && len(q.ID) > 0 {
			_, _ = pkFilter(schema.PrimaryField(), q.ID)
		}
		var s restSearchReq
		if decodeBody(body, &s) == nil && len(s.Data) > 0 {
			_, _ = decodeVectors(encodeVectors(s.Data), 3)
		}
		var ir restIndexReq
		if decodeBody(body, &ir) == nil {
			for _, ip := range ir.IndexParams {
				for _, v := range ip.Params {
					_ = paramString(v)
				}
			}
		}
	})
}
