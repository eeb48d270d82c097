package sdk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand"
	"net/http"
	"sort"
	"testing"
)

// restCall POSTs body to /v2/vectordb/<path> and returns the Milvus code
// and the raw data. Every answer must be HTTP 200 except auth failures.
func restCall(t *testing.T, s *server, token, path, body string) (int, json.RawMessage) {
	t.Helper()
	code, data, _ := restCallMsg(t, s, token, path, body)
	return code, data
}

// restCallMsg is restCall that also returns the error message.
func restCallMsg(t *testing.T, s *server, token, path, body string) (int, json.RawMessage, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+s.addr+"/v2/vectordb/"+path, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		Code    int             `json:"code"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s: HTTP %d, body %q is not JSON", path, resp.StatusCode, raw)
	}
	if resp.StatusCode != http.StatusOK && !(resp.StatusCode == http.StatusUnauthorized && out.Code == 1800) {
		t.Fatalf("%s: HTTP %d %s", path, resp.StatusCode, raw)
	}
	return out.Code, out.Data, out.Message
}

// restOK calls and requires code 0, decoding data into v (if non-nil).
func restOK(t *testing.T, s *server, path, body string, v any) {
	t.Helper()
	code, data, msg := restCallMsg(t, s, "", path, body)
	if code != 0 {
		t.Fatalf("%s %s: code %d: %s", path, body, code, msg)
	}
	if v != nil {
		if err := json.Unmarshal(data, v); err != nil {
			t.Fatalf("%s: data %s: %v", path, data, err)
		}
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestREST runs the client workflow with plain JSON over HTTP on the gRPC
// port.
func TestREST(t *testing.T) {
	s := startServer(t, "")
	const dim = 8

	// Quick setup: create + index + load.
	restOK(t, s, "collections/create", `{"collectionName":"quick","dimension":8,"metricType":"L2"}`, nil)
	var ls struct {
		LoadState    string `json:"loadState"`
		LoadProgress int    `json:"loadProgress"`
	}
	restOK(t, s, "collections/get_load_state", `{"collectionName":"quick"}`, &ls)
	if ls.LoadState != "LoadStateLoaded" || ls.LoadProgress != 100 {
		t.Fatalf("quick load state %+v", ls)
	}

	// Explicit schema with index params.
	create := map[string]any{
		"collectionName": "items",
		"schema": map[string]any{
			"autoID": false, "enableDynamicField": true,
			"fields": []map[string]any{
				{"fieldName": "id", "dataType": "Int64", "isPrimary": true},
				{"fieldName": "vec", "dataType": "FloatVector", "elementTypeParams": map[string]any{"dim": dim}},
				{"fieldName": "name", "dataType": "VarChar", "elementTypeParams": map[string]any{"max_length": 32}},
				{"fieldName": "info", "dataType": "JSON"},
			},
		},
		"indexParams": []map[string]any{{"fieldName": "vec", "indexName": "vec_idx", "metricType": "L2",
			"params": map[string]any{"index_type": "HNSW", "M": 8, "efConstruction": 64}}},
	}
	restOK(t, s, "collections/create", mustJSON(create), nil)
	var has struct{ Has bool }
	restOK(t, s, "collections/has", `{"collectionName":"items"}`, &has)
	if !has.Has {
		t.Fatal("has=false after create")
	}
	var names []string
	restOK(t, s, "collections/list", `{}`, &names)
	sort.Strings(names)
	if fmt.Sprint(names) != "[items quick]" {
		t.Fatalf("list %v", names)
	}
	var desc struct {
		CollectionName     string `json:"collectionName"`
		EnableDynamicField bool   `json:"enableDynamicField"`
		Load               string `json:"load"`
		Fields             []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			PrimaryKey bool   `json:"primaryKey"`
		} `json:"fields"`
		Indexes []struct {
			IndexName  string `json:"indexName"`
			MetricType string `json:"metricType"`
		} `json:"indexes"`
	}
	restOK(t, s, "collections/describe", `{"collectionName":"items"}`, &desc)
	if desc.CollectionName != "items" || len(desc.Fields) != 4 || !desc.Fields[0].PrimaryKey ||
		desc.Fields[1].Type != "FloatVector" || len(desc.Indexes) != 1 || desc.Indexes[0].MetricType != "L2" ||
		desc.Load != "LoadStateLoaded" {
		t.Fatalf("describe %+v", desc)
	}

	// Insert rows with a dynamic key.
	r := rand.New(rand.NewSource(5))
	vecs := randVecs(r, 50, dim)
	var rows []map[string]any
	for i, v := range vecs {
		rows = append(rows, map[string]any{"id": i + 1, "vec": v, "name": fmt.Sprintf("n%d", i+1),
			"info": map[string]any{"i": i + 1}, "shade": []string{"dark", "light"}[i%2]})
	}
	var ins struct {
		InsertCount int      `json:"insertCount"`
		InsertIds   []string `json:"insertIds"`
	}
	restOK(t, s, "entities/insert", mustJSON(map[string]any{"collectionName": "items", "data": rows}), &ins)
	if ins.InsertCount != 50 || len(ins.InsertIds) != 50 || ins.InsertIds[0] != "1" {
		t.Fatalf("insert %+v", ins)
	}
	var stats struct{ RowCount int }
	restOK(t, s, "collections/get_stats", `{"collectionName":"items"}`, &stats)
	if stats.RowCount != 50 {
		t.Fatalf("stats %+v", stats)
	}

	// Search against a brute-force oracle.
	q := vecs[7]
	var hits []map[string]any
	restOK(t, s, "entities/search", mustJSON(map[string]any{"collectionName": "items", "data": [][]float32{q},
		"annsField": "vec", "limit": 5, "filter": `shade == "dark"`, "outputFields": []string{"name", "shade"},
		"searchParams": map[string]any{"params": map[string]any{"ef": 256}}}), &hits)
	type cand struct {
		id int
		d  float64
	}
	var want []cand
	for i, v := range vecs {
		if i%2 == 0 {
			want = append(want, cand{i + 1, l2(v, q)})
		}
	}
	sort.Slice(want, func(i, j int) bool { return want[i].d < want[j].d })
	if len(hits) != 5 {
		t.Fatalf("search hits %v", hits)
	}
	for i, h := range hits {
		if fmt.Sprint(h["id"]) != fmt.Sprint(want[i].id) || h["name"] != fmt.Sprintf("n%d", want[i].id) || h["shade"] != "dark" {
			t.Fatalf("hit %d = %v, want id %d", i, h, want[i].id)
		}
		if d := h["distance"].(float64); math.Abs(d-want[i].d) > 1e-4 {
			t.Fatalf("hit %d distance %v, want %v", i, d, want[i].d)
		}
	}

	// Query, get, count.
	var qrows []map[string]any
	restOK(t, s, "entities/query", `{"collectionName":"items","filter":"id <= 3","outputFields":["id","name","info","shade"]}`, &qrows)
	if len(qrows) != 3 || qrows[0]["name"] != "n1" || qrows[0]["shade"] != "dark" || qrows[0]["info"].(map[string]any)["i"] != 1.0 {
		t.Fatalf("query %v", qrows)
	}
	restOK(t, s, "entities/get", `{"collectionName":"items","id":[4,5],"outputFields":["name"]}`, &qrows)
	if len(qrows) != 2 || qrows[1]["name"] != "n5" {
		t.Fatalf("get %v", qrows)
	}
	restOK(t, s, "entities/query", `{"collectionName":"items","filter":"","outputFields":["count(*)"]}`, &qrows)
	if len(qrows) != 1 || qrows[0]["count(*)"] != 50.0 {
		t.Fatalf("count %v", qrows)
	}

	// Delete, upsert.
	restOK(t, s, "entities/delete", `{"collectionName":"items","filter":"id in [1,2,3]"}`, nil)
	var up struct {
		UpsertCount int `json:"upsertCount"`
	}
	restOK(t, s, "entities/upsert", mustJSON(map[string]any{"collectionName": "items", "data": []map[string]any{
		{"id": 4, "vec": vecs[4], "name": "changed", "info": map[string]any{"v": 2}, "shade": "x"},
		{"id": 100, "vec": vecs[5], "name": "new", "info": map[string]any{}},
	}}), &up)
	if up.UpsertCount != 2 {
		t.Fatalf("upsert %+v", up)
	}
	restOK(t, s, "entities/query", `{"collectionName":"items","filter":"","outputFields":["count(*)"]}`, &qrows)
	if qrows[0]["count(*)"] != 48.0 {
		t.Fatalf("count after delete+upsert %v", qrows)
	}
	restOK(t, s, "entities/get", `{"collectionName":"items","id":4,"outputFields":["name"]}`, &qrows)
	if len(qrows) != 1 || qrows[0]["name"] != "changed" {
		t.Fatalf("upserted row %v", qrows)
	}

	// Indexes.
	var idxNames []string
	restOK(t, s, "indexes/list", `{"collectionName":"items"}`, &idxNames)
	if fmt.Sprint(idxNames) != "[vec_idx]" {
		t.Fatalf("index list %v", idxNames)
	}
	var idx []map[string]any
	restOK(t, s, "indexes/describe", `{"collectionName":"items","indexName":"vec_idx"}`, &idx)
	if len(idx) != 1 || idx[0]["indexType"] != "HNSW" || idx[0]["indexState"] != "Finished" {
		t.Fatalf("index describe %v", idx)
	}
	restOK(t, s, "collections/release", `{"collectionName":"items"}`, nil)
	restOK(t, s, "indexes/drop", `{"collectionName":"items","indexName":"vec_idx"}`, nil)
	restOK(t, s, "indexes/create", `{"collectionName":"items","indexParams":[{"fieldName":"vec","metricType":"IP","indexType":"FLAT"}]}`, nil)
	restOK(t, s, "collections/load", `{"collectionName":"items"}`, nil)

	// Errors: HTTP 200 with the Milvus code.
	for _, tc := range []struct {
		path, body string
		code       int
	}{
		{"collections/describe", `{"collectionName":"ghost"}`, 100},
		{"collections/describe", `{}`, 1802},
		{"collections/describe", `{"collectionName":`, 1801},
		{"entities/query", `{"collectionName":"items","filter":"id >"}`, 1100},
		{"entities/insert", `{"collectionName":"items","data":[{"id":1,"vec":[1,2],"name":"x","info":{}}]}`, 1804},
		{"entities/insert", `{"collectionName":"items","data":[{"id":"one","vec":[1,2,3,4,5,6,7,8],"name":"x","info":{}}]}`, 1804},
		{"entities/search", `{"collectionName":"items","data":[[1,2]],"limit":3}`, 1100},
		{"collections/create", `{"collectionName":"bad","schema":{"fields":[{"fieldName":"v","dataType":"FloatVector","elementTypeParams":{"dim":4}}]}}`, 1100},
	} {
		if code, data := restCall(t, s, "", tc.path, tc.body); code != tc.code {
			t.Errorf("%s %s: code %d (%s), want %d", tc.path, tc.body, code, data, tc.code)
		}
	}
	restOK(t, s, "collections/drop", `{"collectionName":"items"}`, nil)
	restOK(t, s, "collections/has", `{"collectionName":"items"}`, &has)
	if has.Has {
		t.Fatal("has=true after drop")
	}
}
