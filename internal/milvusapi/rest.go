package milvusapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"

	"github.com/milvus-ha/milvus-ha/internal/vectordb"
)

// The REST v2 API: every call is POST /v2/vectordb/<category>/<action>
// with a JSON body, answered with HTTP 200 and {"code":0,"data":...} or
// {"code":<Milvus code>,"message":...}. Each handler builds the gRPC
// request and calls the same service method, as Milvus' own REST layer
// does, so both APIs share validation and error codes.

const restPrefix = "/v2/vectordb/"

// restEnv is what a REST handler sees of its request.
type restEnv struct {
	ctx        context.Context
	allowInt64 bool // Accept-Type-Allow-Int64: int64 IDs as JSON numbers
}

type restHandler func(env *restEnv, body []byte) (any, error)

type restAPI struct {
	svc    *service
	auth   *credential
	m      *metrics
	routes map[string]restHandler
}

func newREST(svc *service, auth *credential, m *metrics) http.Handler {
	a := &restAPI{svc: svc, auth: auth, m: m}
	a.routes = map[string]restHandler{
		"collections/create":         a.createCollection,
		"collections/describe":       a.describeCollection,
		"collections/has":            a.hasCollection,
		"collections/list":           a.listCollections,
		"collections/drop":           a.dropCollection,
		"collections/get_stats":      a.getStats,
		"collections/load":           a.load,
		"collections/release":        a.release,
		"collections/get_load_state": a.getLoadState,
		"entities/insert":            a.insert,
		"entities/upsert":            a.upsert,
		"entities/delete":            a.delete,
		"entities/get":               a.get,
		"entities/query":             a.query,
		"entities/search":            a.search,
		"indexes/create":             a.createIndex,
		"indexes/describe":           a.describeIndex,
		"indexes/list":               a.listIndexes,
		"indexes/drop":               a.dropIndex,
	}
	return a
}

func (a *restAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	path := strings.TrimPrefix(r.URL.Path, restPrefix)
	h, ok := a.routes[path]
	method := "rest:" + path
	if !ok || !strings.HasPrefix(r.URL.Path, restPrefix) {
		a.m.failed("rest:unknown", "http_404")
		writeJSON(w, http.StatusNotFound, map[string]any{"code": http.StatusNotFound, "message": "no such REST API: " + r.URL.Path})
		return
	}
	if r.Method != http.MethodPost {
		a.m.failed(method, "http_405")
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"code": http.StatusMethodNotAllowed, "message": "use POST"})
		return
	}
	if a.auth != nil {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !a.auth.match(tok) {
			// Milvus answers 401 with its "need authenticate" code.
			a.m.failed(method, strconv.Itoa(int(CodeNeedAuthenticate)))
			writeJSON(w, http.StatusUnauthorized, map[string]any{"code": CodeNeedAuthenticate, "message": "user hasn't authenticated: missing or wrong Authorization: Bearer <user:password>"})
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxMessageSize))
	var data any
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			err = errf(CodeParameterTooLarge, "request body larger than %d bytes", MaxMessageSize)
		} else {
			err = errf(CodeIncorrectFormat, "reading request body: %v", err)
		}
	} else {
		env := &restEnv{ctx: r.Context()}
		env.allowInt64, _ = strconv.ParseBool(r.Header.Get("Accept-Type-Allow-Int64"))
		data, err = h(env, body)
	}
	code := codeOf(err)
	a.m.observe(method, start, code)
	if err != nil {
		writeJSON(w, http.StatusOK, map[string]any{"code": code, "message": err.Error()})
		return
	}
	if data == nil {
		data = map[string]any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"code": 0, "cost": 0, "data": data})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decodeBody decodes a JSON request object strictly enough to report
// malformed input (1801) but lets unknown keys pass, as Milvus does.
func decodeBody(body []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return errf(CodeIncorrectFormat, "can only accept json format request: %v", err)
	}
	if dec.More() {
		return errf(CodeIncorrectFormat, "can only accept json format request: trailing data after the JSON object")
	}
	return nil
}

// statusErr turns a non-success service status into an error.
func statusErr(st *commonpb.Status) error {
	if st.GetCode() == 0 && st.GetErrorCode() == commonpb.ErrorCode_Success {
		return nil
	}
	code := st.GetCode()
	if code == 0 {
		code = CodeInternal
	}
	return &apiError{code: code, reason: st.GetReason()}
}

func required(name, v string) error {
	if v == "" {
		return errf(CodeMissingRequired, "missing required parameters: %s", name)
	}
	return nil
}

// --- collections ----------------------------------------------------------

type restFieldSchema struct {
	FieldName         string         `json:"fieldName"`
	DataType          string         `json:"dataType"`
	ElementDataType   string         `json:"elementDataType"`
	IsPrimary         bool           `json:"isPrimary"`
	IsPartitionKey    bool           `json:"isPartitionKey"`
	Nullable          bool           `json:"nullable"`
	AutoID            bool           `json:"autoID"`
	Description       string         `json:"description"`
	ElementTypeParams map[string]any `json:"elementTypeParams"`
	DefaultValue      any            `json:"defaultValue"`
}

type restIndexParam struct {
	FieldName  string         `json:"fieldName"`
	IndexName  string         `json:"indexName"`
	MetricType string         `json:"metricType"`
	IndexType  string         `json:"indexType"`
	Params     map[string]any `json:"params"`
}

type restCreateCollection struct {
	DbName           string `json:"dbName"`
	CollectionName   string `json:"collectionName"`
	Description      string `json:"description"`
	Dimension        int    `json:"dimension"`
	MetricType       string `json:"metricType"`
	IDType           string `json:"idType"`
	AutoID           *bool  `json:"autoID"`
	PrimaryFieldName string `json:"primaryFieldName"`
	VectorFieldName  string `json:"vectorFieldName"`
	Schema           *struct {
		AutoID             bool              `json:"autoID"`
		EnableDynamicField bool              `json:"enableDynamicField"`
		Fields             []restFieldSchema `json:"fields"`
	} `json:"schema"`
	IndexParams []restIndexParam `json:"indexParams"`
	Params      map[string]any   `json:"params"`
}

// restDataTypes maps REST type names to proto types (case-insensitive).
var restDataTypes = map[string]schemapb.DataType{
	"bool": schemapb.DataType_Bool, "int8": schemapb.DataType_Int8, "int16": schemapb.DataType_Int16,
	"int32": schemapb.DataType_Int32, "int64": schemapb.DataType_Int64, "float": schemapb.DataType_Float,
	"double": schemapb.DataType_Double, "varchar": schemapb.DataType_VarChar, "array": schemapb.DataType_Array,
	"json": schemapb.DataType_JSON, "floatvector": schemapb.DataType_FloatVector,
}

func restDataType(name string) (schemapb.DataType, error) {
	t, ok := restDataTypes[strings.ToLower(name)]
	if !ok {
		return 0, errf(CodeParameterInvalid, "data type %q is invalid or not supported by milvus-ha", name)
	}
	return t, nil
}

func paramString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// restSchema builds the proto schema of a REST create: quick setup (only
// a dimension) or a full schema.
func restSchema(req *restCreateCollection) (*schemapb.CollectionSchema, []restIndexParam, error) {
	ps := &schemapb.CollectionSchema{Name: req.CollectionName, Description: req.Description}
	if req.Schema == nil || len(req.Schema.Fields) == 0 {
		if req.Dimension <= 0 {
			return nil, nil, errf(CodeMissingRequired, "missing required parameters: dimension (quick setup) or schema.fields")
		}
		pkName, vecName := req.PrimaryFieldName, req.VectorFieldName
		if pkName == "" {
			pkName = "id"
		}
		if vecName == "" {
			vecName = "vector"
		}
		pk := &schemapb.FieldSchema{Name: pkName, IsPrimaryKey: true, DataType: schemapb.DataType_Int64}
		switch strings.ToLower(req.IDType) {
		case "", "int64":
		case "varchar":
			pk.DataType = schemapb.DataType_VarChar
			maxLen := "65535"
			if v, ok := req.Params["max_length"]; ok {
				maxLen = paramString(v)
			}
			pk.TypeParams = []*commonpb.KeyValuePair{{Key: "max_length", Value: maxLen}}
		default:
			return nil, nil, errf(CodeParameterInvalid, "idType %q is invalid, use Int64 or VarChar", req.IDType)
		}
		if req.AutoID != nil && *req.AutoID {
			pk.AutoID, ps.AutoID = true, true
		}
		vec := &schemapb.FieldSchema{Name: vecName, DataType: schemapb.DataType_FloatVector,
			TypeParams: []*commonpb.KeyValuePair{{Key: "dim", Value: strconv.Itoa(req.Dimension)}}}
		ps.Fields = []*schemapb.FieldSchema{pk, vec}
		ps.EnableDynamicField = true
		metric := req.MetricType
		if metric == "" {
			metric = string(vectordb.DefaultMetric)
		}
		return ps, []restIndexParam{{FieldName: vecName, IndexName: vecName, MetricType: metric, IndexType: string(vectordb.IndexAuto)}}, nil
	}
	ps.AutoID = req.Schema.AutoID
	ps.EnableDynamicField = req.Schema.EnableDynamicField
	for _, rf := range req.Schema.Fields {
		t, err := restDataType(rf.DataType)
		if err != nil {
			return nil, nil, err
		}
		f := &schemapb.FieldSchema{
			Name: rf.FieldName, DataType: t, IsPrimaryKey: rf.IsPrimary, IsPartitionKey: rf.IsPartitionKey,
			Nullable: rf.Nullable, Description: rf.Description, AutoID: rf.AutoID || (rf.IsPrimary && req.Schema.AutoID),
		}
		if rf.DefaultValue != nil {
			return nil, nil, errf(CodeParameterInvalid, "field %q: default values are not supported by milvus-ha", rf.FieldName)
		}
		if t == schemapb.DataType_Array {
			if f.ElementType, err = restDataType(rf.ElementDataType); err != nil {
				return nil, nil, err
			}
		}
		for _, k := range sortedKeys(rf.ElementTypeParams) {
			f.TypeParams = append(f.TypeParams, &commonpb.KeyValuePair{Key: k, Value: paramString(rf.ElementTypeParams[k])})
		}
		ps.Fields = append(ps.Fields, f)
	}
	return ps, req.IndexParams, nil
}

func (a *restAPI) createCollection(env *restEnv, body []byte) (any, error) {
	var req restCreateCollection
	if err := decodeBody(body, &req); err != nil {
		return nil, err
	}
	if err := required("collectionName", req.CollectionName); err != nil {
		return nil, err
	}
	ps, indexes, err := restSchema(&req)
	if err != nil {
		return nil, err
	}
	st, _ := a.svc.CreateCollection(env.ctx, &milvuspb.CreateCollectionRequest{
		DbName: req.DbName, CollectionName: req.CollectionName, Schema: mustMarshal(ps), ShardsNum: 1,
		ConsistencyLevel: commonpb.ConsistencyLevel_Bounded,
	})
	if err := statusErr(st); err != nil {
		return nil, err
	}
	if len(indexes) == 0 {
		return map[string]any{}, nil
	}
	// As Milvus: a create with index params also builds them and loads.
	for i := range indexes {
		if err := a.createOneIndex(env, req.DbName, req.CollectionName, &indexes[i]); err != nil {
			return nil, err
		}
	}
	st, _ = a.svc.LoadCollection(env.ctx, &milvuspb.LoadCollectionRequest{DbName: req.DbName, CollectionName: req.CollectionName})
	return map[string]any{}, statusErr(st)
}

type restCollectionReq struct {
	DbName         string   `json:"dbName"`
	CollectionName string   `json:"collectionName"`
	PartitionNames []string `json:"partitionNames"`
}

func (a *restAPI) collectionReq(body []byte) (*restCollectionReq, error) {
	var req restCollectionReq
	if err := decodeBody(body, &req); err != nil {
		return nil, err
	}
	return &req, required("collectionName", req.CollectionName)
}

func loadStateName(s commonpb.LoadState) string { return s.String() }

func (a *restAPI) describeCollection(env *restEnv, body []byte) (any, error) {
	req, err := a.collectionReq(body)
	if err != nil {
		return nil, err
	}
	resp, _ := a.svc.DescribeCollection(env.ctx, &milvuspb.DescribeCollectionRequest{DbName: req.DbName, CollectionName: req.CollectionName})
	if err := statusErr(resp.GetStatus()); err != nil {
		return nil, err
	}
	sch := resp.GetSchema()
	var fields []map[string]any
	for _, f := range sch.GetFields() {
		if f.GetIsDynamic() {
			continue
		}
		var params []map[string]string
		for _, kv := range f.GetTypeParams() {
			params = append(params, map[string]string{"key": kv.GetKey(), "value": kv.GetValue()})
		}
		fm := map[string]any{
			"name": f.GetName(), "type": f.GetDataType().String(), "id": f.GetFieldID(),
			"primaryKey": f.GetIsPrimaryKey(), "autoId": f.GetAutoID(), "description": f.GetDescription(),
			"partitionKey": f.GetIsPartitionKey(), "clusteringKey": false, "nullable": f.GetNullable(),
			"params": params,
		}
		if f.GetDataType() == schemapb.DataType_Array {
			fm["elementType"] = f.GetElementType().String()
		}
		fields = append(fields, fm)
	}
	indexes := []map[string]any{}
	if descs, err := a.svc.describeIndex(env.ctx, req.DbName, req.CollectionName, "", ""); err == nil {
		for _, d := range descs {
			p := kvMap(d.GetParams())
			indexes = append(indexes, map[string]any{"fieldName": d.GetFieldName(), "indexName": d.GetIndexName(), "metricType": p["metric_type"]})
		}
	}
	ls, _ := a.svc.GetLoadState(env.ctx, &milvuspb.GetLoadStateRequest{DbName: req.DbName, CollectionName: req.CollectionName})
	return map[string]any{
		"collectionName":     sch.GetName(),
		"collectionID":       resp.GetCollectionID(),
		"description":        sch.GetDescription(),
		"autoId":             sch.GetAutoID(),
		"fields":             fields,
		"functions":          []any{},
		"indexes":            indexes,
		"load":               loadStateName(ls.GetState()),
		"shardsNum":          resp.GetShardsNum(),
		"partitionsNum":      resp.GetNumPartitions(),
		"consistencyLevel":   resp.GetConsistencyLevel().String(),
		"enableDynamicField": sch.GetEnableDynamicField(),
		"properties":         []any{},
		"aliases":            []any{},
		"createTime":         resp.GetCreatedTimestamp(),
	}, nil
}

func (a *restAPI) hasCollection(env *restEnv, body []byte) (any, error) {
	req, err := a.collectionReq(body)
	if err != nil {
		return nil, err
	}
	resp, _ := a.svc.HasCollection(env.ctx, &milvuspb.HasCollectionRequest{DbName: req.DbName, CollectionName: req.CollectionName})
	if err := statusErr(resp.GetStatus()); err != nil {
		return nil, err
	}
	return map[string]any{"has": resp.GetValue()}, nil
}

func (a *restAPI) listCollections(env *restEnv, body []byte) (any, error) {
	var req restCollectionReq
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := decodeBody(body, &req); err != nil {
			return nil, err
		}
	}
	resp, _ := a.svc.ShowCollections(env.ctx, &milvuspb.ShowCollectionsRequest{DbName: req.DbName})
	if err := statusErr(resp.GetStatus()); err != nil {
		return nil, err
	}
	return nonNil(resp.GetCollectionNames()), nil
}

func (a *restAPI) dropCollection(env *restEnv, body []byte) (any, error) {
	req, err := a.collectionReq(body)
	if err != nil {
		return nil, err
	}
	st, _ := a.svc.DropCollection(env.ctx, &milvuspb.DropCollectionRequest{DbName: req.DbName, CollectionName: req.CollectionName})
	return nil, statusErr(st)
}

func (a *restAPI) getStats(env *restEnv, body []byte) (any, error) {
	req, err := a.collectionReq(body)
	if err != nil {
		return nil, err
	}
	resp, _ := a.svc.GetCollectionStatistics(env.ctx, &milvuspb.GetCollectionStatisticsRequest{DbName: req.DbName, CollectionName: req.CollectionName})
	if err := statusErr(resp.GetStatus()); err != nil {
		return nil, err
	}
	n, _ := strconv.ParseInt(kvMap(resp.GetStats())["row_count"], 10, 64)
	return map[string]any{"rowCount": n}, nil
}

func (a *restAPI) load(env *restEnv, body []byte) (any, error) {
	req, err := a.collectionReq(body)
	if err != nil {
		return nil, err
	}
	st, _ := a.svc.LoadCollection(env.ctx, &milvuspb.LoadCollectionRequest{DbName: req.DbName, CollectionName: req.CollectionName})
	return nil, statusErr(st)
}

func (a *restAPI) release(env *restEnv, body []byte) (any, error) {
	req, err := a.collectionReq(body)
	if err != nil {
		return nil, err
	}
	st, _ := a.svc.ReleaseCollection(env.ctx, &milvuspb.ReleaseCollectionRequest{DbName: req.DbName, CollectionName: req.CollectionName})
	return nil, statusErr(st)
}

func (a *restAPI) getLoadState(env *restEnv, body []byte) (any, error) {
	req, err := a.collectionReq(body)
	if err != nil {
		return nil, err
	}
	resp, _ := a.svc.GetLoadState(env.ctx, &milvuspb.GetLoadStateRequest{DbName: req.DbName, CollectionName: req.CollectionName, PartitionNames: req.PartitionNames})
	if err := statusErr(resp.GetStatus()); err != nil {
		return nil, err
	}
	out := map[string]any{"loadState": loadStateName(resp.GetState())}
	if resp.GetState() == commonpb.LoadState_LoadStateLoaded {
		out["loadProgress"] = 100
	}
	return out, nil
}

// --- indexes --------------------------------------------------------------

type restIndexReq struct {
	DbName         string           `json:"dbName"`
	CollectionName string           `json:"collectionName"`
	IndexName      string           `json:"indexName"`
	FieldName      string           `json:"fieldName"`
	IndexParams    []restIndexParam `json:"indexParams"`
}

func (a *restAPI) createOneIndex(env *restEnv, dbName, coll string, ip *restIndexParam) error {
	if err := required("indexParams.fieldName", ip.FieldName); err != nil {
		return err
	}
	kvs := []*commonpb.KeyValuePair{}
	if ip.IndexType != "" {
		kvs = append(kvs, &commonpb.KeyValuePair{Key: "index_type", Value: ip.IndexType})
	}
	if ip.MetricType != "" {
		kvs = append(kvs, &commonpb.KeyValuePair{Key: "metric_type", Value: ip.MetricType})
	}
	for _, k := range sortedKeys(ip.Params) {
		kvs = append(kvs, &commonpb.KeyValuePair{Key: k, Value: paramString(ip.Params[k])})
	}
	st, _ := a.svc.CreateIndex(env.ctx, &milvuspb.CreateIndexRequest{
		DbName: dbName, CollectionName: coll, FieldName: ip.FieldName, IndexName: ip.IndexName, ExtraParams: kvs,
	})
	return statusErr(st)
}

func (a *restAPI) createIndex(env *restEnv, body []byte) (any, error) {
	var req restIndexReq
	if err := decodeBody(body, &req); err != nil {
		return nil, err
	}
	if err := required("collectionName", req.CollectionName); err != nil {
		return nil, err
	}
	if len(req.IndexParams) == 0 {
		return nil, errf(CodeMissingRequired, "missing required parameters: indexParams")
	}
	for i := range req.IndexParams {
		if err := a.createOneIndex(env, req.DbName, req.CollectionName, &req.IndexParams[i]); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func (a *restAPI) describeIndex(env *restEnv, body []byte) (any, error) {
	var req restIndexReq
	if err := decodeBody(body, &req); err != nil {
		return nil, err
	}
	if err := required("collectionName", req.CollectionName); err != nil {
		return nil, err
	}
	descs, err := a.svc.describeIndex(env.ctx, req.DbName, req.CollectionName, req.FieldName, req.IndexName)
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for _, d := range descs {
		p := kvMap(d.GetParams())
		out = append(out, map[string]any{
			"fieldName": d.GetFieldName(), "indexName": d.GetIndexName(),
			"indexType": p["index_type"], "metricType": p["metric_type"],
			"indexState": d.GetState().String(), "indexedRows": d.GetIndexedRows(),
			"totalRows": d.GetTotalRows(), "pendingRows": d.GetPendingIndexRows(), "failReason": "",
		})
	}
	return out, nil
}

func (a *restAPI) listIndexes(env *restEnv, body []byte) (any, error) {
	var req restIndexReq
	if err := decodeBody(body, &req); err != nil {
		return nil, err
	}
	if err := required("collectionName", req.CollectionName); err != nil {
		return nil, err
	}
	descs, err := a.svc.describeIndex(env.ctx, req.DbName, req.CollectionName, req.FieldName, "")
	if codeOf(err) == CodeIndexNotFound {
		return []string{}, nil
	}
	if err != nil {
		return nil, err
	}
	names := []string{}
	for _, d := range descs {
		names = append(names, d.GetIndexName())
	}
	return names, nil
}

func (a *restAPI) dropIndex(env *restEnv, body []byte) (any, error) {
	var req restIndexReq
	if err := decodeBody(body, &req); err != nil {
		return nil, err
	}
	if err := required("collectionName", req.CollectionName); err != nil {
		return nil, err
	}
	if err := required("indexName", req.IndexName); err != nil {
		return nil, err
	}
	st, _ := a.svc.DropIndex(env.ctx, &milvuspb.DropIndexRequest{DbName: req.DbName, CollectionName: req.CollectionName, IndexName: req.IndexName})
	return nil, statusErr(st)
}

// --- entities -------------------------------------------------------------

type restWriteReq struct {
	DbName         string          `json:"dbName"`
	CollectionName string          `json:"collectionName"`
	PartitionName  string          `json:"partitionName"`
	Data           json.RawMessage `json:"data"`
}

// decodeRows accepts one row object or an array of them.
func decodeRows(raw json.RawMessage) ([]map[string]any, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return nil, errf(CodeMissingRequired, "missing required parameters: data")
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var rows []map[string]any
	if strings.HasPrefix(s, "{") {
		var one map[string]any
		if err := dec.Decode(&one); err != nil {
			return nil, errf(CodeInvalidInsertData, "fail to deal the insert data: %v", err)
		}
		rows = []map[string]any{one}
	} else if err := dec.Decode(&rows); err != nil {
		return nil, errf(CodeInvalidInsertData, "fail to deal the insert data: %v", err)
	}
	if len(rows) == 0 {
		return nil, errf(CodeInvalidInsertData, "fail to deal the insert data: no rows")
	}
	return rows, nil
}

// rowsToFieldData converts JSON rows into one FieldData per schema field,
// plus the dynamic "$meta" column for keys outside the schema.
func rowsToFieldData(s *vectordb.Schema, rows []map[string]any) ([]*schemapb.FieldData, error) {
	var out []*schemapb.FieldData
	for fi := range s.Fields {
		f := &s.Fields[fi]
		if f.IsDynamic {
			continue
		}
		c := vectordb.Column{Name: f.Name, Type: f.Type, Dim: f.Dim}
		present := 0
		for ri, row := range rows {
			if _, ok := row[f.Name]; ok {
				present++
			} else if f.AutoID {
				continue
			} else if !f.Nullable {
				return nil, errf(CodeInvalidInsertData, "fail to deal the insert data: row %d has no value for field %q", ri, f.Name)
			}
		}
		if f.AutoID && present == 0 {
			continue // generated by the store
		}
		for ri, row := range rows {
			v, ok := row[f.Name]
			if err := appendJSONValue(&c, f, v, ok && v != nil); err != nil {
				return nil, errf(CodeInvalidInsertData, "fail to deal the insert data: row %d field %q: %v", ri, f.Name, err)
			}
		}
		pf := vectordb.Field{ID: f.ID, ElementType: f.ElementType}
		out = append(out, columnToProto(&c, &pf))
	}
	if s.EnableDynamic {
		meta := vectordb.Column{Name: vectordb.DynamicField, Type: vectordb.TypeJSON, IsDynamic: true}
		for _, row := range rows {
			extra := map[string]any{}
			for k, v := range row {
				if _, ok := s.Field(k); !ok {
					extra[k] = v
				}
			}
			b, err := json.Marshal(extra)
			if err != nil {
				return nil, errf(CodeInvalidInsertData, "fail to deal the insert data: %v", err)
			}
			meta.JSON = append(meta.JSON, b)
		}
		out = append(out, columnToProto(&meta, nil))
	} else {
		for ri, row := range rows {
			for k := range row {
				if _, ok := s.Field(k); !ok {
					return nil, errf(CodeInvalidInsertData, "fail to deal the insert data: row %d: field %q is not in the schema and the collection has no dynamic field", ri, k)
				}
			}
		}
	}
	return out, nil
}

// appendJSONValue appends one row's value (or a null placeholder) to c.
func appendJSONValue(c *vectordb.Column, f *vectordb.Field, v any, present bool) error {
	if !present {
		if !f.Nullable {
			return fmt.Errorf("null for a non-nullable field")
		}
		if c.Valid == nil {
			c.Valid = make([]bool, c.Len())
			for i := range c.Valid {
				c.Valid[i] = true
			}
		}
		c.Valid = append(c.Valid, false)
		return appendZero(c)
	}
	if c.Valid != nil {
		c.Valid = append(c.Valid, true)
	}
	switch f.Type {
	case vectordb.TypeBool:
		b, ok := v.(bool)
		if !ok {
			return fmt.Errorf("expected a bool, got %s", jsonKind(v))
		}
		c.Bools = append(c.Bools, b)
	case vectordb.TypeInt8, vectordb.TypeInt16, vectordb.TypeInt32, vectordb.TypeInt64:
		n, err := jsonInt(v)
		if err != nil {
			return err
		}
		c.Ints = append(c.Ints, n)
	case vectordb.TypeFloat, vectordb.TypeDouble:
		x, err := jsonFloat(v)
		if err != nil {
			return err
		}
		if f.Type == vectordb.TypeFloat {
			c.Floats = append(c.Floats, float32(x))
		} else {
			c.Doubles = append(c.Doubles, x)
		}
	case vectordb.TypeVarChar:
		str, ok := v.(string)
		if !ok {
			return fmt.Errorf("expected a string, got %s", jsonKind(v))
		}
		c.Strings = append(c.Strings, str)
	case vectordb.TypeJSON:
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		c.JSON = append(c.JSON, b)
	case vectordb.TypeArray:
		list, ok := v.([]any)
		if !ok {
			return fmt.Errorf("expected an array, got %s", jsonKind(v))
		}
		ef := vectordb.Field{Name: f.Name, Type: f.ElementType}
		ec := vectordb.Column{Name: f.Name, Type: f.ElementType}
		for _, e := range list {
			if err := appendJSONValue(&ec, &ef, e, e != nil); err != nil {
				return err
			}
		}
		c.Arrays = append(c.Arrays, ec)
	case vectordb.TypeFloatVector:
		list, ok := v.([]any)
		if !ok {
			return fmt.Errorf("expected an array of numbers, got %s", jsonKind(v))
		}
		if len(list) != f.Dim {
			return fmt.Errorf("vector has %d values, the field's dim is %d", len(list), f.Dim)
		}
		for _, e := range list {
			x, err := jsonFloat(e)
			if err != nil {
				return err
			}
			c.Vectors = append(c.Vectors, float32(x))
		}
	default:
		return fmt.Errorf("type %s is not supported", f.Type)
	}
	return nil
}

func appendZero(c *vectordb.Column) error {
	switch c.Type {
	case vectordb.TypeBool:
		c.Bools = append(c.Bools, false)
	case vectordb.TypeInt8, vectordb.TypeInt16, vectordb.TypeInt32, vectordb.TypeInt64:
		c.Ints = append(c.Ints, 0)
	case vectordb.TypeFloat:
		c.Floats = append(c.Floats, 0)
	case vectordb.TypeDouble:
		c.Doubles = append(c.Doubles, 0)
	case vectordb.TypeVarChar:
		c.Strings = append(c.Strings, "")
	case vectordb.TypeJSON:
		c.JSON = append(c.JSON, []byte("null"))
	case vectordb.TypeArray:
		c.Arrays = append(c.Arrays, vectordb.Column{Name: c.Name})
	default:
		return fmt.Errorf("type %s cannot be null", c.Type)
	}
	return nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a bool"
	case json.Number, float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// jsonInt accepts a JSON integer or a decimal string (how REST clients
// carry int64 IDs beyond 2^53).
func jsonInt(v any) (int64, error) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = x
	case float64:
		if x != math.Trunc(x) {
			return 0, fmt.Errorf("expected an integer, got %v", x)
		}
		return int64(x), nil
	default:
		return 0, fmt.Errorf("expected an integer, got %s", jsonKind(v))
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("expected an integer, got %q", s)
	}
	return n, nil
}

func jsonFloat(v any) (float64, error) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return 0, fmt.Errorf("expected a number, got %q", x.String())
		}
		return f, nil
	case float64:
		return x, nil
	}
	return 0, fmt.Errorf("expected a number, got %s", jsonKind(v))
}

func (a *restAPI) write(env *restEnv, body []byte, upsert bool) (any, error) {
	var req restWriteReq
	if err := decodeBody(body, &req); err != nil {
		return nil, err
	}
	if err := required("collectionName", req.CollectionName); err != nil {
		return nil, err
	}
	if err := checkDB(env.ctx, req.DbName); err != nil {
		return nil, err
	}
	info, err := a.svc.collection(req.CollectionName)
	if err != nil {
		return nil, err
	}
	rows, err := decodeRows(req.Data)
	if err != nil {
		return nil, err
	}
	fds, err := rowsToFieldData(&info.Schema, rows)
	if err != nil {
		return nil, err
	}
	var resp *milvuspb.MutationResult
	if upsert {
		resp, _ = a.svc.Upsert(env.ctx, &milvuspb.UpsertRequest{CollectionName: req.CollectionName, PartitionName: req.PartitionName,
			FieldsData: fds, NumRows: uint32(len(rows)), SchemaTimestamp: info.SchemaVersion})
	} else {
		resp, _ = a.svc.Insert(env.ctx, &milvuspb.InsertRequest{CollectionName: req.CollectionName, PartitionName: req.PartitionName,
			FieldsData: fds, NumRows: uint32(len(rows)), SchemaTimestamp: info.SchemaVersion})
	}
	if err := statusErr(resp.GetStatus()); err != nil {
		return nil, err
	}
	ids := restIDs(resp.GetIDs(), env.allowInt64)
	if upsert {
		return map[string]any{"upsertCount": resp.GetUpsertCnt(), "upsertIds": ids}, nil
	}
	return map[string]any{"insertCount": resp.GetInsertCnt(), "insertIds": ids}, nil
}

func (a *restAPI) insert(env *restEnv, body []byte) (any, error) { return a.write(env, body, false) }
func (a *restAPI) upsert(env *restEnv, body []byte) (any, error) { return a.write(env, body, true) }

// restIDs renders IDs; int64 keys are strings unless the client allows
// int64 numbers (JavaScript clients lose precision past 2^53).
func restIDs(ids *schemapb.IDs, allowInt64 bool) []any {
	out := []any{}
	if s := ids.GetStrId(); s != nil {
		for _, v := range s.GetData() {
			out = append(out, v)
		}
		return out
	}
	for _, v := range ids.GetIntId().GetData() {
		if allowInt64 {
			out = append(out, v)
		} else {
			out = append(out, strconv.FormatInt(v, 10))
		}
	}
	return out
}

type restDeleteReq struct {
	DbName         string `json:"dbName"`
	CollectionName string `json:"collectionName"`
	PartitionName  string `json:"partitionName"`
	Filter         string `json:"filter"`
}

func (a *restAPI) delete(env *restEnv, body []byte) (any, error) {
	var req restDeleteReq
	if err := decodeBody(body, &req); err != nil {
		return nil, err
	}
	if err := required("collectionName", req.CollectionName); err != nil {
		return nil, err
	}
	if err := required("filter", req.Filter); err != nil {
		return nil, err
	}
	resp, _ := a.svc.Delete(env.ctx, &milvuspb.DeleteRequest{DbName: req.DbName, CollectionName: req.CollectionName, PartitionName: req.PartitionName, Expr: req.Filter})
	if err := statusErr(resp.GetStatus()); err != nil {
		return nil, err
	}
	return map[string]any{"deleteCount": resp.GetDeleteCnt()}, nil
}

type restQueryReq struct {
	DbName         string          `json:"dbName"`
	CollectionName string          `json:"collectionName"`
	PartitionNames []string        `json:"partitionNames"`
	Filter         string          `json:"filter"`
	OutputFields   []string        `json:"outputFields"`
	Limit          int             `json:"limit"`
	Offset         int             `json:"offset"`
	ID             json.RawMessage `json:"id"`
}

func (a *restAPI) query(env *restEnv, body []byte) (any, error) {
	var req restQueryReq
	if err := decodeBody(body, &req); err != nil {
		return nil, err
	}
	if err := required("collectionName", req.CollectionName); err != nil {
		return nil, err
	}
	if req.Limit == 0 && strings.TrimSpace(req.Filter) == "" && !isCount(req.OutputFields) {
		req.Limit = 100 // the REST default
	}
	return a.runQuery(env, &req)
}

func (a *restAPI) runQuery(env *restEnv, req *restQueryReq) (any, error) {
	if len(req.OutputFields) == 0 {
		req.OutputFields = []string{"*"}
	}
	qr := &milvuspb.QueryRequest{DbName: req.DbName, CollectionName: req.CollectionName, PartitionNames: req.PartitionNames,
		Expr: req.Filter, OutputFields: req.OutputFields}
	if req.Limit > 0 {
		qr.QueryParams = append(qr.QueryParams, &commonpb.KeyValuePair{Key: "limit", Value: strconv.Itoa(req.Limit)})
	}
	if req.Offset > 0 {
		qr.QueryParams = append(qr.QueryParams, &commonpb.KeyValuePair{Key: "offset", Value: strconv.Itoa(req.Offset)})
	}
	resp, _ := a.svc.Query(env.ctx, qr)
	if err := statusErr(resp.GetStatus()); err != nil {
		return nil, err
	}
	return fieldsToRows(resp.GetFieldsData(), nil, nil, "", env.allowInt64)
}

// get is Query with "<pk> in [ids]".
func (a *restAPI) get(env *restEnv, body []byte) (any, error) {
	var req restQueryReq
	if err := decodeBody(body, &req); err != nil {
		return nil, err
	}
	if err := required("collectionName", req.CollectionName); err != nil {
		return nil, err
	}
	if len(req.ID) == 0 {
		return nil, errf(CodeMissingRequired, "missing required parameters: id")
	}
	if err := checkDB(env.ctx, req.DbName); err != nil {
		return nil, err
	}
	info, err := a.svc.collection(req.CollectionName)
	if err != nil {
		return nil, err
	}
	filter, err := pkFilter(info.Schema.PrimaryField(), req.ID)
	if err != nil {
		return nil, err
	}
	req.Filter, req.Limit, req.Offset = filter, 0, 0
	return a.runQuery(env, &req)
}

// pkFilter builds "pk in [...]" from a scalar or list of IDs.
func pkFilter(pk *vectordb.Field, raw json.RawMessage) (string, error) {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", errf(CodeIncorrectFormat, "id: %v", err)
	}
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	if len(list) == 0 {
		return "", errf(CodeMissingRequired, "missing required parameters: id")
	}
	parts := make([]string, len(list))
	for i, e := range list {
		if pk.Type == vectordb.TypeVarChar {
			s, ok := e.(string)
			if !ok {
				return "", errf(CodeParameterInvalid, "id %v is not a string (primary key %s is VarChar)", e, pk.Name)
			}
			b, _ := json.Marshal(s)
			parts[i] = string(b)
			continue
		}
		n, err := jsonInt(e)
		if err != nil {
			return "", errf(CodeParameterInvalid, "id: %v", err)
		}
		parts[i] = strconv.FormatInt(n, 10)
	}
	return pk.Name + " in [" + strings.Join(parts, ",") + "]", nil
}

type restSearchReq struct {
	DbName         string          `json:"dbName"`
	CollectionName string          `json:"collectionName"`
	PartitionNames []string        `json:"partitionNames"`
	Data           [][]float32     `json:"data"`
	AnnsField      string          `json:"annsField"`
	Filter         string          `json:"filter"`
	Limit          int             `json:"limit"`
	Offset         int             `json:"offset"`
	OutputFields   []string        `json:"outputFields"`
	GroupingField  string          `json:"groupingField"`
	SearchParams   json.RawMessage `json:"searchParams"`
}

func (a *restAPI) search(env *restEnv, body []byte) (any, error) {
	var req restSearchReq
	if err := decodeBody(body, &req); err != nil {
		return nil, err
	}
	if err := required("collectionName", req.CollectionName); err != nil {
		return nil, err
	}
	if len(req.Data) == 0 {
		return nil, errf(CodeMissingRequired, "missing required parameters: data")
	}
	if req.Limit == 0 {
		req.Limit = 100
	}
	kvs := []*commonpb.KeyValuePair{
		{Key: "anns_field", Value: req.AnnsField},
		{Key: "topk", Value: strconv.Itoa(req.Limit)},
		{Key: "offset", Value: strconv.Itoa(req.Offset)},
	}
	if req.GroupingField != "" {
		kvs = append(kvs, &commonpb.KeyValuePair{Key: "group_by_field", Value: req.GroupingField})
	}
	if len(req.SearchParams) > 0 && string(req.SearchParams) != "null" {
		var sp struct {
			MetricType string          `json:"metricType"`
			Params     json.RawMessage `json:"params"`
		}
		if err := json.Unmarshal(req.SearchParams, &sp); err != nil {
			return nil, errf(CodeIncorrectFormat, "searchParams: %v", err)
		}
		kvs = append(kvs, &commonpb.KeyValuePair{Key: "metric_type", Value: sp.MetricType})
		if len(sp.Params) > 0 {
			kvs = append(kvs, &commonpb.KeyValuePair{Key: "params", Value: string(sp.Params)})
		}
	}
	resp, _ := a.svc.Search(env.ctx, &milvuspb.SearchRequest{
		DbName: req.DbName, CollectionName: req.CollectionName, PartitionNames: req.PartitionNames,
		Dsl: req.Filter, DslType: commonpb.DslType_BoolExprV1, OutputFields: req.OutputFields,
		SearchInput:  &milvuspb.SearchRequest_PlaceholderGroup{PlaceholderGroup: encodeVectors(req.Data)},
		SearchParams: kvs, Nq: int64(len(req.Data)),
	})
	if err := statusErr(resp.GetStatus()); err != nil {
		return nil, err
	}
	r := resp.GetResults()
	return fieldsToRows(r.GetFieldsData(), r.GetIds(), r.GetScores(), r.GetPrimaryFieldName(), env.allowInt64)
}

// fieldsToRows turns columns into JSON row objects. With ids set (search)
// each row also carries the primary key and "distance". Dynamic keys are
// flattened into the row, as Milvus' REST layer does.
func fieldsToRows(fds []*schemapb.FieldData, ids *schemapb.IDs, scores []float32, pkName string, allowInt64 bool) ([]map[string]any, error) {
	n := 0
	if ids != nil {
		n = len(scores)
	} else if len(fds) > 0 {
		c, err := columnFromProto(fds[0])
		if err != nil {
			return nil, err
		}
		n = c.Len()
	}
	rows := make([]map[string]any, n)
	for i := range rows {
		rows[i] = map[string]any{}
	}
	if ids != nil {
		for i, v := range restIDs(ids, true) {
			if i < n {
				rows[i][pkName] = restInt(v, allowInt64)
				rows[i]["distance"] = scores[i]
			}
		}
	}
	for _, fd := range fds {
		c, err := columnFromProto(fd)
		if err != nil {
			return nil, err
		}
		if c.Len() != n {
			return nil, fmt.Errorf("column %s has %d rows, expected %d", c.Name, c.Len(), n)
		}
		for i := 0; i < n; i++ {
			if c.Valid != nil && !c.Valid[i] {
				rows[i][c.Name] = nil
				continue
			}
			if c.IsDynamic {
				var m map[string]json.RawMessage
				if json.Unmarshal(c.JSON[i], &m) == nil {
					for k, v := range m {
						rows[i][k] = v
					}
				}
				continue
			}
			rows[i][c.Name] = cellValue(&c, i)
		}
	}
	return rows, nil
}

func restInt(v any, allowInt64 bool) any {
	if n, ok := v.(int64); ok && !allowInt64 {
		return strconv.FormatInt(n, 10)
	}
	return v
}

// cellValue is row i of c as a JSON-encodable value.
func cellValue(c *vectordb.Column, i int) any {
	switch c.Type {
	case vectordb.TypeBool:
		return c.Bools[i]
	case vectordb.TypeInt8, vectordb.TypeInt16, vectordb.TypeInt32, vectordb.TypeInt64:
		return c.Ints[i]
	case vectordb.TypeFloat:
		return c.Floats[i]
	case vectordb.TypeDouble:
		return c.Doubles[i]
	case vectordb.TypeVarChar:
		return c.Strings[i]
	case vectordb.TypeJSON:
		return jsonCompact(c.JSON[i])
	case vectordb.TypeArray:
		e := &c.Arrays[i]
		out := make([]any, e.Len())
		for j := range out {
			out[j] = cellValue(e, j)
		}
		return out
	case vectordb.TypeFloatVector:
		return c.Vectors[i*c.Dim : (i+1)*c.Dim]
	}
	return nil
}
