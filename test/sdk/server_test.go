package sdk

import (
	"context"
	"math/rand"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"github.com/milvus-io/milvus/client/v2/entity"
	"github.com/milvus-io/milvus/client/v2/index"
	"github.com/milvus-io/milvus/client/v2/milvusclient"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// connStats counts client transport connections.
type connStats struct{ begins, ends atomic.Int32 }

func (c *connStats) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context   { return ctx }
func (c *connStats) HandleRPC(context.Context, stats.RPCStats)                         {}
func (c *connStats) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (c *connStats) HandleConn(_ context.Context, s stats.ConnStats) {
	switch s.(type) {
	case *stats.ConnBegin:
		c.begins.Add(1)
	case *stats.ConnEnd:
		c.ends.Add(1)
	}
}

// TestIdleConnectionSurvives: the SDK pings every 5 s without streams; a
// server with grpc-go's default enforcement would GOAWAY it after ~30 s.
func TestIdleConnectionSurvives(t *testing.T) {
	if testing.Short() {
		t.Skip("idles for 61 s")
	}
	s := startServer(t, "")
	cs := &connStats{}
	opts := append(append([]grpc.DialOption{}, milvusclient.DefaultGrpcOpts...), grpc.WithStatsHandler(cs))
	c := s.client(t, &milvusclient.ClientConfig{DialOptions: opts})
	ctx := ctxT(t)
	if _, err := c.ListCollections(ctx, milvusclient.NewListCollectionOption()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(61 * time.Second)
	if _, err := c.ListCollections(ctx, milvusclient.NewListCollectionOption()); err != nil {
		t.Fatal(err)
	}
	if b, e := cs.begins.Load(), cs.ends.Load(); b != 1 || e != 0 {
		t.Fatalf("connections began %d, ended %d over 61 s idle; want 1 and 0 (GOAWAY too_many_pings?)", b, e)
	}
}

// TestLargeInsert sends one ~100 MB Insert (beyond grpc-go's 4 MiB default).
func TestLargeInsert(t *testing.T) {
	s := startServer(t, "")
	c := s.client(t, nil)
	ctx := ctxT(t)
	const dim, n = 128, 200_000 // 200k × 512 B = 102 MB of vectors
	sch := entity.NewSchema().WithName("big").
		WithField(entity.NewField().WithName("id").WithDataType(entity.FieldTypeInt64).WithIsPrimaryKey(true).WithIsAutoID(true)).
		WithField(entity.NewField().WithName("v").WithDataType(entity.FieldTypeFloatVector).WithDim(dim))
	if err := c.CreateCollection(ctx, milvusclient.NewCreateCollectionOption("big", sch)); err != nil {
		t.Fatal(err)
	}
	vecs := randVecs(rand.New(rand.NewSource(3)), n, dim)
	res, err := c.Insert(ctx, milvusclient.NewColumnBasedInsertOption("big").WithFloatVectorColumn("v", dim, vecs))
	if err != nil {
		t.Fatal(err)
	}
	if res.InsertCount != n || res.IDs.Len() != n {
		t.Fatalf("inserted %d (%d ids), want %d", res.InsertCount, res.IDs.Len(), n)
	}
	stats, err := c.GetCollectionStats(ctx, milvusclient.NewGetCollectionStatsOption("big"))
	if err != nil || stats["row_count"] != "200000" {
		t.Fatalf("stats %v %v", stats, err)
	}
}

func TestAuth(t *testing.T) {
	s := startServer(t, "root:Milvus")
	ctx := ctxT(t)
	for _, tc := range []struct {
		name     string
		cfg      milvusclient.ClientConfig
		wantFail bool
	}{
		{"no credentials", milvusclient.ClientConfig{}, true},
		{"wrong password", milvusclient.ClientConfig{Username: "root", Password: "nope"}, true},
		{"user and password", milvusclient.ClientConfig{Username: "root", Password: "Milvus"}, false},
		{"token", milvusclient.ClientConfig{APIKey: "root:Milvus"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Address = s.addr
			cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			c, err := milvusclient.New(cctx, &cfg)
			if tc.wantFail {
				if err == nil {
					c.Close(ctx)
					t.Fatal("connected without valid credentials")
				}
				if status.Code(err) != codes.Unauthenticated && !strings.Contains(err.Error(), "auth") {
					t.Fatalf("error %v, want an authentication failure", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(ctx)
			if _, err := c.ListCollections(ctx, milvusclient.NewListCollectionOption()); err != nil {
				t.Fatal(err)
			}
		})
	}
	// REST uses a Bearer token.
	code, _ := restCall(t, s, "", "collections/list", `{}`)
	if code != 1800 {
		t.Errorf("REST without token: code %d, want 1800", code)
	}
	code, _ = restCall(t, s, "root:Milvus", "collections/list", `{}`)
	if code != 0 {
		t.Errorf("REST with token: code %d, want 0", code)
	}
	if s.metric(t, "milvus_ha_api_errors_total", `code="grpc_Unauthenticated"`) < 2 {
		t.Error("authentication failures were not counted")
	}

	// Auth off: credentials are ignored, as Milvus does.
	open := startServer(t, "")
	c := open.client(t, &milvusclient.ClientConfig{Username: "root", Password: "whatever"})
	if _, err := c.ListCollections(ctx, milvusclient.NewListCollectionOption()); err != nil {
		t.Fatal(err)
	}
}

// TestRestartKeepsState: collections, indexes and the loaded state come
// back after kill -9 without the client loading again.
func TestRestartKeepsState(t *testing.T) {
	s := startServer(t, "")
	c := s.client(t, nil)
	ctx := ctxT(t)
	const coll = "durable"
	if err := c.CreateCollection(ctx, milvusclient.NewCreateCollectionOption(coll, explicitSchema(coll))); err != nil {
		t.Fatal(err)
	}
	rows := makeRows(rand.New(rand.NewSource(11)), 1, 200)
	insertRows(t, c, coll, rows, false)
	it, err := c.CreateIndex(ctx, milvusclient.NewCreateIndexOption(coll, "vec", index.NewHNSWIndex(entity.IP, 8, 64)))
	if err != nil {
		t.Fatal(err)
	}
	if err := it.Await(ctx); err != nil {
		t.Fatal(err)
	}
	lt, err := c.LoadCollection(ctx, milvusclient.NewLoadCollectionOption(coll))
	if err != nil {
		t.Fatal(err)
	}
	if err := lt.Await(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Delete(ctx, milvusclient.NewDeleteOption(coll).WithInt64IDs("id", []int64{1, 2})); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)

	s.kill()
	s.start()
	c = s.client(t, nil)
	st, err := c.GetLoadState(ctx, milvusclient.NewGetLoadStateOption(coll))
	if err != nil || st.State != entity.LoadStateLoaded {
		t.Fatalf("after restart: load state %v %v, want loaded", st.State, err)
	}
	idx, err := c.DescribeIndex(ctx, milvusclient.NewDescribeIndexOption(coll, "vec"))
	if err != nil {
		t.Fatal(err)
	}
	if p := idx.Params(); p["index_type"] != "HNSW" || p["metric_type"] != "IP" {
		t.Fatalf("after restart: index %v", p)
	}
	checkCount(t, c, coll, "", 198)
	rs, err := c.Search(ctx, milvusclient.NewSearchOption(coll, 1, []entity.Vector{entity.FloatVector(rows[50].vec)}).WithOutputFields("title"))
	if err != nil {
		t.Fatal(err)
	}
	if title, _ := rs[0].GetColumn("title").GetAsString(0); title != rows[50].title {
		t.Fatalf("after restart: top hit %q, want %q", title, rows[50].title)
	}
}

// rawClient talks MilvusService without the SDK, to send what the SDK
// would refuse to build.
func rawClient(t *testing.T, s *server) milvuspb.MilvusServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(s.addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1<<30), grpc.MaxCallSendMsgSize(1<<30)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return milvuspb.NewMilvusServiceClient(conn)
}

func schemaBytes(t *testing.T, fields ...*schemapb.FieldSchema) []byte {
	t.Helper()
	b, err := proto.Marshal(&schemapb.CollectionSchema{Name: "bad", Fields: fields})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pkField(name string) *schemapb.FieldSchema {
	return &schemapb.FieldSchema{Name: name, DataType: schemapb.DataType_Int64, IsPrimaryKey: true}
}

func vecField(name, dim string) *schemapb.FieldSchema {
	return &schemapb.FieldSchema{Name: name, DataType: schemapb.DataType_FloatVector,
		TypeParams: []*commonpb.KeyValuePair{{Key: "dim", Value: dim}}}
}

func checkStatus(t *testing.T, what string, st *commonpb.Status, err error, code int32, legacy commonpb.ErrorCode) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: transport error %v", what, err)
	}
	if st.GetCode() != code || st.GetErrorCode() != legacy || (code != 0 && st.GetReason() == "") {
		t.Errorf("%s: status code=%d error_code=%v reason=%q; want code=%d error_code=%v", what, st.GetCode(), st.GetErrorCode(), st.GetReason(), code, legacy)
	}
}

// TestBadInput sends malformed and invalid requests and checks each gets
// the status Milvus gives, writes nothing and leaves the server serving.
func TestBadInput(t *testing.T) {
	s := startServer(t, "")
	raw := rawClient(t, s)
	c := s.client(t, nil)
	ctx := ctxT(t)
	const illegal = commonpb.ErrorCode_IllegalArgument

	for _, tc := range []struct {
		name   string
		schema []byte
	}{
		{"no primary key", schemaBytes(t, vecField("v", "4"))},
		{"two primary keys", schemaBytes(t, pkField("a"), pkField("b"), vecField("v", "4"))},
		{"dim 0", schemaBytes(t, pkField("id"), vecField("v", "0"))},
		{"dim missing", schemaBytes(t, pkField("id"), &schemapb.FieldSchema{Name: "v", DataType: schemapb.DataType_FloatVector})},
		{"unknown type", schemaBytes(t, pkField("id"), vecField("v", "4"), &schemapb.FieldSchema{Name: "x", DataType: schemapb.DataType(999)})},
		{"garbage schema bytes", []byte{0xff, 0xff, 0xff, 0x01}},
	} {
		st, err := raw.CreateCollection(ctx, &milvuspb.CreateCollectionRequest{CollectionName: "bad", Schema: tc.schema})
		checkStatus(t, "create: "+tc.name, st, err, 1100, illegal)
	}
	if has, _ := c.HasCollection(ctx, milvusclient.NewHasCollectionOption("bad")); has {
		t.Fatal("an invalid schema created a collection")
	}

	// Unknown collection: 100 / CollectionNotExists on every kind of call.
	dr, err := raw.DescribeCollection(ctx, &milvuspb.DescribeCollectionRequest{CollectionName: "ghost"})
	checkStatus(t, "describe ghost", dr.GetStatus(), err, 100, commonpb.ErrorCode_CollectionNotExists)
	qr, err := raw.Query(ctx, &milvuspb.QueryRequest{CollectionName: "ghost", Expr: "id > 0"})
	checkStatus(t, "query ghost", qr.GetStatus(), err, 100, commonpb.ErrorCode_CollectionNotExists)
	ir, err := raw.Insert(ctx, &milvuspb.InsertRequest{CollectionName: "ghost", NumRows: 1})
	checkStatus(t, "insert ghost", ir.GetStatus(), err, 100, commonpb.ErrorCode_CollectionNotExists)
	st, err := raw.DropCollection(ctx, &milvuspb.DropCollectionRequest{CollectionName: "ghost"})
	checkStatus(t, "drop ghost (succeeds, as Milvus)", st, err, 0, commonpb.ErrorCode_Success)

	// A good collection to aim bad data at.
	if err := c.CreateCollection(ctx, milvusclient.SimpleCreateCollectionOptions("good", 4)); err != nil {
		t.Fatal(err)
	}
	vec := func(dim int, n int) *schemapb.FieldData {
		return &schemapb.FieldData{Type: schemapb.DataType_FloatVector, FieldName: "vector",
			Field: &schemapb.FieldData_Vectors{Vectors: &schemapb.VectorField{Dim: int64(dim),
				Data: &schemapb.VectorField_FloatVector{FloatVector: &schemapb.FloatArray{Data: make([]float32, dim*n)}}}}}
	}
	ir, err = raw.Insert(ctx, &milvuspb.InsertRequest{CollectionName: "good", NumRows: 2, FieldsData: []*schemapb.FieldData{vec(3, 2)}})
	checkStatus(t, "insert wrong dim", ir.GetStatus(), err, 1100, illegal)
	bad := vec(4, 2)
	bad.GetVectors().GetFloatVector().Data = make([]float32, 7)
	ir, err = raw.Insert(ctx, &milvuspb.InsertRequest{CollectionName: "good", NumRows: 2, FieldsData: []*schemapb.FieldData{bad}})
	checkStatus(t, "insert ragged vectors", ir.GetStatus(), err, 1100, illegal)
	ir, err = raw.Insert(ctx, &milvuspb.InsertRequest{CollectionName: "good", NumRows: 1, FieldsData: []*schemapb.FieldData{vec(4, 2)}})
	checkStatus(t, "insert num_rows mismatch", ir.GetStatus(), err, 1100, illegal)

	// Search with vector bytes of the wrong length.
	ph := &commonpb.PlaceholderGroup{Placeholders: []*commonpb.PlaceholderValue{{Tag: "$0", Type: commonpb.PlaceholderType_FloatVector, Values: [][]byte{make([]byte, 15)}}}}
	phb, _ := proto.Marshal(ph)
	sp := []*commonpb.KeyValuePair{{Key: "topk", Value: "3"}, {Key: "anns_field", Value: "vector"}}
	sr, err := raw.Search(ctx, &milvuspb.SearchRequest{CollectionName: "good", Nq: 1, SearchParams: sp,
		SearchInput: &milvuspb.SearchRequest_PlaceholderGroup{PlaceholderGroup: phb}})
	checkStatus(t, "search wrong vector bytes", sr.GetStatus(), err, 1100, illegal)
	sr, err = raw.Search(ctx, &milvuspb.SearchRequest{CollectionName: "good", Nq: 1, SearchParams: sp,
		SearchInput: &milvuspb.SearchRequest_PlaceholderGroup{PlaceholderGroup: []byte("not a proto")}})
	checkStatus(t, "search garbage placeholder", sr.GetStatus(), err, 1100, illegal)

	// Bad expressions and unknown fields.
	for _, expr := range []string{"id >", "id in [1, 2", "nosuchfn(id)", `id == "x" +`} {
		qr, err := raw.Query(ctx, &milvuspb.QueryRequest{CollectionName: "good", Expr: expr, OutputFields: []string{"id"}})
		checkStatus(t, "query "+expr, qr.GetStatus(), err, 1100, illegal)
		dl, err := raw.Delete(ctx, &milvuspb.DeleteRequest{CollectionName: "good", Expr: expr})
		checkStatus(t, "delete "+expr, dl.GetStatus(), err, 1100, illegal)
	}
	qr, err = raw.Query(ctx, &milvuspb.QueryRequest{CollectionName: "good", Expr: ""})
	checkStatus(t, "query without expr or limit", qr.GetStatus(), err, 1100, illegal)
	ci, err := raw.CreateIndex(ctx, &milvuspb.CreateIndexRequest{CollectionName: "good", FieldName: "nope"})
	checkStatus(t, "index unknown field", ci, err, 1100, illegal)
	ci, err = raw.CreateIndex(ctx, &milvuspb.CreateIndexRequest{CollectionName: "good", FieldName: "vector",
		ExtraParams: []*commonpb.KeyValuePair{{Key: "index_type", Value: "IVF_PQ_9000"}}})
	checkStatus(t, "index unknown type", ci, err, 1100, illegal)
	di, err := raw.DescribeIndex(ctx, &milvuspb.DescribeIndexRequest{CollectionName: "good", IndexName: "nope"})
	checkStatus(t, "describe missing index", di.GetStatus(), err, 700, commonpb.ErrorCode_IndexNotExist)

	// Unimplemented RPCs answer code 10 naming milvus-ha.
	pst, err := raw.CreatePartition(ctx, &milvuspb.CreatePartitionRequest{CollectionName: "good", PartitionName: "p"})
	checkStatus(t, "create partition", pst, err, 10, commonpb.ErrorCode_UnexpectedError)
	if !strings.Contains(pst.GetReason(), "milvus-ha") {
		t.Errorf("unimplemented reason %q does not name milvus-ha", pst.GetReason())
	}
	lr, err := raw.ListDatabases(ctx, &milvuspb.ListDatabasesRequest{})
	checkStatus(t, "list databases", lr.GetStatus(), err, 10, commonpb.ErrorCode_UnexpectedError)

	// A malformed protobuf never reaches a handler: gRPC's own error.
	conn, err := grpc.NewClient(s.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var out milvuspb.MutationResult
	err = conn.Invoke(ctx, "/milvus.proto.milvus.MilvusService/Insert", rawBytes{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}, &out, grpc.ForceCodec(rawCodec{}))
	if status.Code(err) != codes.Internal {
		t.Errorf("malformed protobuf: %v, want gRPC Internal", err)
	}

	// An oversized request (above 256 MiB) is refused by gRPC.
	huge := &milvuspb.InsertRequest{CollectionName: "good", NumRows: 1, FieldsData: []*schemapb.FieldData{{
		Type: schemapb.DataType_JSON, FieldName: "x",
		Field: &schemapb.FieldData_Scalars{Scalars: &schemapb.ScalarField{Data: &schemapb.ScalarField_JsonData{
			JsonData: &schemapb.JSONArray{Data: [][]byte{make([]byte, 257<<20)}}}}}}}}
	_, err = raw.Insert(ctx, huge)
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("oversized insert: %v, want ResourceExhausted", err)
	}
	huge = nil

	// Nothing was written, and the server still serves.
	checkCount(t, c, "good", "", 0)
	if s.metric(t, "milvus_ha_api_errors_total", `code="1100"`) < 15 {
		t.Errorf("invalid requests not counted in errors_total")
	}
	if s.metric(t, "milvus_ha_api_errors_total", `method="Insert"`, `code="grpc_Internal"`) < 1 {
		t.Errorf("malformed protobuf not counted")
	}
	resp, err := http.Get("http://" + s.health + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz %v %v", resp, err)
	}
	resp.Body.Close()
	hr, err := raw.CheckHealth(ctx, &milvuspb.CheckHealthRequest{})
	if err != nil || !hr.GetIsHealthy() {
		t.Fatalf("CheckHealth %v %v", hr, err)
	}
	ver, err := c.GetServerVersion(ctx, milvusclient.NewGetServerVersionOption())
	if err != nil || ver == "" {
		t.Fatalf("GetServerVersion %q %v", ver, err)
	}
}

type rawBytes []byte

type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return v.(rawBytes), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	return proto.Unmarshal(data, v.(proto.Message))
}
func (rawCodec) Name() string { return "proto" }
