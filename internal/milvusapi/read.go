package milvusapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"

	"github.com/milvus-ha/milvus-ha/internal/vectordb"
)

// jsonParams parses a JSON object of parameters into strings, keeping
// numbers in their literal form ({"M":16} gives M="16").
func jsonParams(s string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	for k, v := range m {
		switch x := v.(type) {
		case string:
			out[k] = x
		case json.Number:
			out[k] = x.String()
		case bool:
			out[k] = strconv.FormatBool(x)
		default:
			b, _ := json.Marshal(x)
			out[k] = string(b)
		}
	}
	return out, nil
}

// searchParams are the parsed search_params of a SearchRequest.
type searchParams struct {
	annsField    string
	topK, offset int
	metric       string
	roundDecimal int
	ef           int
}

func parseSearchParams(kvs []*commonpb.KeyValuePair) (searchParams, error) {
	p := searchParams{roundDecimal: -1}
	m := kvMap(kvs)
	p.annsField = m["anns_field"]
	p.metric = strings.ToUpper(m["metric_type"])
	topk, ok := m["topk"]
	if !ok {
		topk, ok = m["limit"]
	}
	if !ok {
		return p, errf(CodeParameterInvalid, "topk not found in search_params")
	}
	var err error
	if p.topK, err = strconv.Atoi(topk); err != nil || p.topK < 1 || p.topK > maxTopK {
		return p, errf(CodeParameterInvalid, "topk [%s] is invalid, it should be in range [1, %d]", topk, maxTopK)
	}
	if v, ok := m["offset"]; ok && v != "" {
		if p.offset, err = strconv.Atoi(v); err != nil || p.offset < 0 || p.offset >= maxTopK {
			return p, errf(CodeParameterInvalid, "offset [%s] is invalid, it should be in range [0, %d]", v, maxTopK)
		}
	}
	if p.topK+p.offset > maxTopK {
		return p, errf(CodeParameterInvalid, "topk+offset [%d] is invalid, it should be in range [1, %d]", p.topK+p.offset, maxTopK)
	}
	if v, ok := m["round_decimal"]; ok && v != "" {
		if p.roundDecimal, err = strconv.Atoi(v); err != nil || p.roundDecimal < -1 || p.roundDecimal > 6 {
			return p, errf(CodeParameterInvalid, "round_decimal %s is invalid, should be -1 or an integer in range [0, 6]", v)
		}
	}
	if g := m["group_by_field"]; g != "" {
		return p, errf(CodeParameterInvalid, "grouping search (group_by_field=%s) is not supported by milvus-ha", g)
	}
	ann, err := jsonParams(m["params"])
	if err != nil {
		return p, errf(CodeParameterInvalid, "search params %q are not a JSON object: %v", m["params"], err)
	}
	for k, v := range m {
		// Old clients put ANN params at the top level.
		if k == "ef" || k == "radius" || k == "range_filter" {
			ann[k] = v
		}
	}
	if _, ok := ann["radius"]; ok {
		return p, errf(CodeParameterInvalid, "range search (radius/range_filter) is not supported by milvus-ha")
	}
	if v, ok := ann["ef"]; ok {
		if p.ef, err = strconv.Atoi(v); err != nil || p.ef < 1 || p.ef > 32768 {
			return p, errf(CodeParameterInvalid, "param 'ef' (%s) should be an integer in range [1, 32768]", v)
		}
		if p.ef < p.topK {
			// Milvus refuses ef < topk for HNSW; the store widens the beam
			// anyway, so accept it.
			p.ef = p.topK + p.offset
		}
	}
	return p, nil
}

// vectorField picks the search field: the named one, or the only vector
// field of the schema.
func vectorField(s *vectordb.Schema, name string) (*vectordb.Field, error) {
	if name != "" {
		f, ok := s.Field(name)
		if !ok {
			return nil, errf(CodeParameterInvalid, "failed to get field schema by name: fieldName(%s) not found", name)
		}
		if f.Type != vectordb.TypeFloatVector {
			return nil, errf(CodeParameterInvalid, "field %s is not a vector field (%s)", name, f.Type)
		}
		return f, nil
	}
	var found *vectordb.Field
	for i := range s.Fields {
		if s.Fields[i].Type == vectordb.TypeFloatVector {
			if found != nil {
				return nil, errf(CodeParameterInvalid, "multiple anns_fields exist, please specify an anns_field in search_params")
			}
			found = &s.Fields[i]
		}
	}
	if found == nil {
		return nil, errf(CodeParameterInvalid, "collection has no vector field")
	}
	return found, nil
}

func (s *service) Search(ctx context.Context, req *milvuspb.SearchRequest) (*milvuspb.SearchResults, error) {
	res, err := s.search(ctx, req)
	if err != nil {
		return &milvuspb.SearchResults{Status: statusOf(err), CollectionName: req.GetCollectionName()}, nil
	}
	return &milvuspb.SearchResults{Status: &commonpb.Status{}, Results: res, CollectionName: req.GetCollectionName()}, nil
}

func (s *service) search(ctx context.Context, req *milvuspb.SearchRequest) (*schemapb.SearchResultData, error) {
	if err := checkDB(ctx, req.GetDbName()); err != nil {
		return nil, err
	}
	if err := checkPartitions(req.GetPartitionNames()); err != nil {
		return nil, err
	}
	if len(req.GetSubReqs()) > 0 || req.GetFunctionScore() != nil {
		return nil, errf(CodeParameterInvalid, "hybrid search and function scores are not supported by milvus-ha")
	}
	if req.GetSearchByPrimaryKeys() || req.GetIds() != nil {
		return nil, errf(CodeParameterInvalid, "search by primary keys is not supported by milvus-ha")
	}
	info, err := s.collection(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	p, err := parseSearchParams(req.GetSearchParams())
	if err != nil {
		return nil, err
	}
	vf, err := vectorField(&info.Schema, p.annsField)
	if err != nil {
		return nil, err
	}
	vecs, err := decodeVectors(req.GetPlaceholderGroup(), vf.Dim)
	if err != nil {
		return nil, err
	}
	if nq := req.GetNq(); nq != 0 && nq != int64(len(vecs)) {
		return nil, errf(CodeParameterInvalid, "nq (%d) does not match the number of search vectors (%d)", nq, len(vecs))
	}
	params, err := templateValues(req.GetExprTemplateValues())
	if err != nil {
		return nil, err
	}
	out, err := resolveOutput(&info.Schema, req.GetOutputFields())
	if err != nil {
		return nil, err
	}
	hits, err := s.db.Search(ctx, req.GetCollectionName(), vectordb.SearchRequest{
		Field:        vf.Name,
		Vectors:      vecs,
		TopK:         p.topK,
		Offset:       p.offset,
		Metric:       vectordb.Metric(p.metric),
		Filter:       req.GetDsl(),
		FilterParams: params,
		OutputFields: req.GetOutputFields(),
		Ef:           p.ef,
	})
	if err != nil {
		return nil, err
	}
	return searchResultData(&info.Schema, out, hits, p)
}

// output is the resolution of a request's output_fields against a schema.
type output struct {
	fields  []string // schema fields, in request order ("*" expanded)
	dynKeys []string // names that are keys of the dynamic field
	meta    bool     // the whole "$meta" column was asked for (or "*")
}

// names is what the response's output_fields lists: the SDK finds each
// name's column, or extracts it from "$meta" when there is none.
func (o *output) names() []string {
	out := append([]string{}, o.fields...)
	return append(out, o.dynKeys...)
}

func resolveOutput(s *vectordb.Schema, requested []string) (output, error) {
	var o output
	seen := map[string]bool{}
	add := func(name string) {
		if !seen[name] {
			seen[name] = true
			o.fields = append(o.fields, name)
		}
	}
	for _, name := range requested {
		name = strings.TrimSpace(name)
		switch {
		case name == "":
		case name == "*":
			for i := range s.Fields {
				if s.Fields[i].IsDynamic {
					o.meta = true
				}
				add(s.Fields[i].Name)
			}
		default:
			if f, ok := s.Field(name); ok {
				if f.IsDynamic {
					o.meta = true
				}
				add(name)
				continue
			}
			if !s.EnableDynamic {
				return o, errf(CodeParameterInvalid, "field %s not exist", name)
			}
			if !seen[name] {
				seen[name] = true
				o.dynKeys = append(o.dynKeys, name)
			}
		}
	}
	return o, nil
}

// searchResultData lays out per-query hits as the SDK expects: topks, then
// ids, scores and every fields_data column concatenated over the queries,
// all exactly sum(topks) long.
func searchResultData(s *vectordb.Schema, o output, hits []vectordb.SearchResult, p searchParams) (*schemapb.SearchResultData, error) {
	pk := s.PrimaryField()
	res := &schemapb.SearchResultData{
		NumQueries:       int64(len(hits)),
		TopK:             int64(p.topK),
		OutputFields:     o.names(),
		PrimaryFieldName: pk.Name,
		Scores:           []float32{},
	}
	ids := vectordb.Column{Name: pk.Name, Type: pk.Type}
	cols := map[string]*vectordb.Column{}
	var order []string
	for qi := range hits {
		h := &hits[qi]
		n := len(h.Scores)
		if h.IDs.Len() != n {
			return nil, fmt.Errorf("store returned %d ids for %d scores", h.IDs.Len(), n)
		}
		res.Topks = append(res.Topks, int64(n))
		appendColumn(&ids, &h.IDs)
		for _, sc := range h.Scores {
			res.Scores = append(res.Scores, roundScore(sc, p.roundDecimal))
		}
		for ci := range h.Fields.Columns {
			c := &h.Fields.Columns[ci]
			dst, ok := cols[c.Name]
			if !ok {
				dst = &vectordb.Column{Name: c.Name, Type: c.Type, IsDynamic: c.IsDynamic, Dim: c.Dim}
				cols[c.Name] = dst
				order = append(order, c.Name)
			}
			if c.Len() != n {
				return nil, fmt.Errorf("store returned %d rows of %s for %d hits", c.Len(), c.Name, n)
			}
			appendColumn(dst, c)
		}
	}
	total := ids.Len()
	res.Ids = idsToProto(&ids)
	res.FieldsData = assembleColumns(s, o, cols, order, &ids, total)
	for _, fd := range res.FieldsData {
		if fd == nil {
			return nil, fmt.Errorf("store returned no column for an output field")
		}
	}
	return res, nil
}

// assembleColumns orders result columns as requested, adds the primary
// key when asked for (the store returns it apart) and an empty typed column
// for any field without hits, so every column is exactly total rows long.
func assembleColumns(s *vectordb.Schema, o output, cols map[string]*vectordb.Column, order []string, pks *vectordb.Column, total int) []*schemapb.FieldData {
	var out []*schemapb.FieldData
	emitted := map[string]bool{}
	emit := func(name string) {
		if emitted[name] {
			return
		}
		emitted[name] = true
		f, _ := s.Field(name)
		c, ok := cols[name]
		switch {
		case ok:
		case f != nil && f.IsPrimary:
			c = pks
		case total == 0 && f != nil:
			c = &vectordb.Column{Name: name, Type: f.Type, Dim: f.Dim, IsDynamic: f.IsDynamic}
		default:
			out = append(out, nil)
			return
		}
		out = append(out, columnToProto(c, f))
	}
	for _, name := range o.fields {
		emit(name)
	}
	if len(o.dynKeys) > 0 || o.meta {
		if _, ok := cols[vectordb.DynamicField]; ok || total == 0 {
			emit(vectordb.DynamicField)
		}
	}
	for _, name := range order {
		emit(name) // anything else the store chose to return
	}
	return out
}

func roundScore(v float32, decimals int) float32 {
	if decimals < 0 {
		return v
	}
	p := math.Pow(10, float64(decimals))
	return float32(math.Round(float64(v)*p) / p)
}

// appendColumn appends src's rows to dst (same type).
func appendColumn(dst, src *vectordb.Column) {
	if src.Dim != 0 {
		dst.Dim = src.Dim
	}
	if src.Valid != nil || dst.Valid != nil {
		n := dst.Len()
		if dst.Valid == nil {
			dst.Valid = make([]bool, n)
			for i := range dst.Valid {
				dst.Valid[i] = true
			}
		}
		if src.Valid != nil {
			dst.Valid = append(dst.Valid, src.Valid...)
		} else {
			for i := 0; i < src.Len(); i++ {
				dst.Valid = append(dst.Valid, true)
			}
		}
	}
	dst.Bools = append(dst.Bools, src.Bools...)
	dst.Ints = append(dst.Ints, src.Ints...)
	dst.Floats = append(dst.Floats, src.Floats...)
	dst.Doubles = append(dst.Doubles, src.Doubles...)
	dst.Strings = append(dst.Strings, src.Strings...)
	dst.JSON = append(dst.JSON, src.JSON...)
	dst.Arrays = append(dst.Arrays, src.Arrays...)
	dst.Vectors = append(dst.Vectors, src.Vectors...)
}

// --- query ----------------------------------------------------------------

func (s *service) Query(ctx context.Context, req *milvuspb.QueryRequest) (*milvuspb.QueryResults, error) {
	res, err := s.query(ctx, req)
	if err != nil {
		return &milvuspb.QueryResults{Status: statusOf(err), CollectionName: req.GetCollectionName()}, nil
	}
	return res, nil
}

func isCount(fields []string) bool {
	for _, f := range fields {
		if strings.EqualFold(strings.ReplaceAll(f, " ", ""), "count(*)") {
			return true
		}
	}
	return false
}

func (s *service) query(ctx context.Context, req *milvuspb.QueryRequest) (*milvuspb.QueryResults, error) {
	if err := checkDB(ctx, req.GetDbName()); err != nil {
		return nil, err
	}
	if err := checkPartitions(req.GetPartitionNames()); err != nil {
		return nil, err
	}
	coll := req.GetCollectionName()
	info, err := s.collection(coll)
	if err != nil {
		return nil, err
	}
	params, err := templateValues(req.GetExprTemplateValues())
	if err != nil {
		return nil, err
	}
	if isCount(req.GetOutputFields()) {
		if len(req.GetOutputFields()) != 1 {
			return nil, errf(CodeParameterInvalid, "count entities with pagination or other output fields is not allowed")
		}
		n, err := s.db.Count(ctx, coll, req.GetExpr(), params)
		if err != nil {
			return nil, err
		}
		c := vectordb.Column{Name: "count(*)", Type: vectordb.TypeInt64, Ints: []int64{n}}
		return &milvuspb.QueryResults{
			Status:         &commonpb.Status{},
			FieldsData:     []*schemapb.FieldData{columnToProto(&c, nil)},
			CollectionName: coll,
			OutputFields:   []string{"count(*)"},
		}, nil
	}
	qp := kvMap(req.GetQueryParams())
	var limit, offset int
	if v, ok := qp["limit"]; ok {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > maxQueryWindow {
			return nil, errf(CodeParameterInvalid, "limit [%s] is invalid, should be in range [1, %d]", v, maxQueryWindow)
		}
	}
	if v, ok := qp["offset"]; ok {
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 || offset >= maxQueryWindow {
			return nil, errf(CodeParameterInvalid, "offset [%s] is invalid, should be in range [0, %d]", v, maxQueryWindow)
		}
	}
	if limit+offset > maxQueryWindow {
		return nil, errf(CodeParameterInvalid, "invalid max query result window, (offset+limit) should be in range [1, %d], but got %d", maxQueryWindow, limit+offset)
	}
	if strings.TrimSpace(req.GetExpr()) == "" && limit == 0 {
		return nil, errf(CodeParameterInvalid, "empty expression should be used with limit")
	}
	out, err := resolveOutput(&info.Schema, req.GetOutputFields())
	if err != nil {
		return nil, err
	}
	pk := info.Schema.PrimaryField()
	if !contains(out.fields, pk.Name) {
		out.fields = append([]string{pk.Name}, out.fields...)
	}
	b, err := s.db.Query(ctx, coll, vectordb.QueryRequest{
		Filter:       req.GetExpr(),
		FilterParams: params,
		OutputFields: req.GetOutputFields(),
		Limit:        limit,
		Offset:       offset,
	})
	if err != nil {
		return nil, err
	}
	cols := map[string]*vectordb.Column{}
	var order []string
	for i := range b.Columns {
		cols[b.Columns[i].Name] = &b.Columns[i]
		order = append(order, b.Columns[i].Name)
	}
	total := b.NumRows()
	pkCol := cols[pk.Name]
	if pkCol == nil {
		pkCol = &vectordb.Column{Name: pk.Name, Type: pk.Type}
	}
	fds := assembleColumns(&info.Schema, out, cols, order, pkCol, total)
	for _, fd := range fds {
		if fd == nil {
			return nil, fmt.Errorf("store returned no column for an output field")
		}
	}
	return &milvuspb.QueryResults{
		Status:           &commonpb.Status{},
		FieldsData:       fds,
		CollectionName:   coll,
		OutputFields:     out.names(),
		PrimaryFieldName: pk.Name,
	}, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// jsonCompact is used by the REST layer to embed stored JSON documents.
func jsonCompact(b []byte) json.RawMessage {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return json.RawMessage("null")
	}
	return buf.Bytes()
}
