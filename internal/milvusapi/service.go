package milvusapi

import (
	"context"
	"hash/fnv"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"google.golang.org/grpc/metadata"

	"github.com/milvus-ha/milvus-ha/internal/vectordb"
)

// MilvusVersion is the Milvus release whose wire behaviour this server
// follows; GetVersion reports it so clients enable the matching features.
const MilvusVersion = "v2.6.2"

// Search and query limits (Milvus defaults: quotaAndLimits.limits.topK and
// maxQueryResultWindow).
const (
	maxTopK        = 16384
	maxQueryWindow = 16384
)

// service implements milvuspb.MilvusServiceServer over a vectordb.DB.
// Every method answers errors inside the response's Status (never a gRPC
// error), as Milvus' proxy does.
type service struct {
	milvuspb.UnimplementedMilvusServiceServer
	db      *vectordb.DB
	version string // milvus-ha build version, reported in build tags
	nextID  atomic.Int64
	m       *metrics
}

func newService(db *vectordb.DB, version string, m *metrics) *service {
	s := &service{db: db, version: version, m: m}
	s.nextID.Store(time.Now().UnixNano())
	return s
}

// checkDB rejects any database but the default one, from the request or
// the SDK's dbname header (800, as Milvus for an unknown database).
func checkDB(ctx context.Context, reqDB string) error {
	db := reqDB
	if db == "" {
		if md, ok := metadata.FromIncomingContext(ctx); ok {
			if v := md.Get("dbname"); len(v) > 0 {
				db = v[0]
			}
		}
	}
	if db != "" && db != "default" {
		return errf(CodeDatabaseNotFound, "database not found[database=%s]: milvus-ha serves the default database only", db)
	}
	return nil
}

func checkPartition(name string) error {
	if name != "" && name != "_default" {
		return errf(200, "partition not found[partition=%s]: milvus-ha serves the default partition only", name)
	}
	return nil
}

func checkPartitions(names []string) error {
	for _, n := range names {
		if err := checkPartition(n); err != nil {
			return err
		}
	}
	return nil
}

// --- connection -----------------------------------------------------------

func (s *service) Connect(ctx context.Context, req *milvuspb.ConnectRequest) (*milvuspb.ConnectResponse, error) {
	if err := checkDB(ctx, ""); err != nil {
		return &milvuspb.ConnectResponse{Status: statusOf(err)}, nil
	}
	host, _ := os.Hostname()
	return &milvuspb.ConnectResponse{
		Status: &commonpb.Status{},
		ServerInfo: &commonpb.ServerInfo{
			BuildTags:  "milvus-ha " + s.version,
			BuildTime:  "",
			GitCommit:  "",
			GoVersion:  runtime.Version(),
			DeployMode: "STANDALONE",
			Reserved:   map[string]string{"server": "milvus-ha", "host": host},
		},
		Identifier: s.nextID.Add(1),
	}, nil
}

func (s *service) GetVersion(ctx context.Context, req *milvuspb.GetVersionRequest) (*milvuspb.GetVersionResponse, error) {
	return &milvuspb.GetVersionResponse{Status: &commonpb.Status{}, Version: MilvusVersion}, nil
}

func (s *service) CheckHealth(ctx context.Context, req *milvuspb.CheckHealthRequest) (*milvuspb.CheckHealthResponse, error) {
	resp := &milvuspb.CheckHealthResponse{Status: &commonpb.Status{}, IsHealthy: true}
	if role := s.db.Role(); role != vectordb.RolePrimary {
		resp.IsHealthy = false
		resp.Reasons = []string{"milvus-ha store is " + role.String() + ", not primary"}
		resp.QuotaStates = []milvuspb.QuotaState{milvuspb.QuotaState_DenyToWrite}
	}
	return resp, nil
}

// --- collections ----------------------------------------------------------

func (s *service) CreateCollection(ctx context.Context, req *milvuspb.CreateCollectionRequest) (*commonpb.Status, error) {
	return statusOf(s.createCollection(ctx, req)), nil
}

func (s *service) createCollection(ctx context.Context, req *milvuspb.CreateCollectionRequest) error {
	if err := checkDB(ctx, req.GetDbName()); err != nil {
		return err
	}
	var ps schemapb.CollectionSchema
	if err := unmarshalProto(req.GetSchema(), &ps); err != nil {
		return errf(CodeParameterInvalid, "collection schema does not parse: %v", err)
	}
	name := req.GetCollectionName()
	if name == "" {
		name = ps.GetName()
	}
	schema, err := schemaFromProto(name, &ps)
	if err != nil {
		return err
	}
	if n := req.GetNumPartitions(); n > 1 {
		return errf(CodeParameterInvalid, "partitions are not supported by milvus-ha (num_partitions=%d)", n)
	}
	return s.db.CreateCollection(ctx, schema)
}

func (s *service) DropCollection(ctx context.Context, req *milvuspb.DropCollectionRequest) (*commonpb.Status, error) {
	if err := checkDB(ctx, req.GetDbName()); err != nil {
		return statusOf(err), nil
	}
	return statusOf(s.db.DropCollection(ctx, req.GetCollectionName())), nil
}

func (s *service) HasCollection(ctx context.Context, req *milvuspb.HasCollectionRequest) (*milvuspb.BoolResponse, error) {
	if err := checkDB(ctx, req.GetDbName()); err != nil {
		return &milvuspb.BoolResponse{Status: statusOf(err)}, nil
	}
	return &milvuspb.BoolResponse{Status: &commonpb.Status{}, Value: s.db.HasCollection(req.GetCollectionName())}, nil
}

// collection returns a collection's description or a 100 error naming it
// the way Milvus does ("collection not found[collection=name]").
func (s *service) collection(name string) (vectordb.CollectionInfo, error) {
	if name == "" {
		return vectordb.CollectionInfo{}, errf(CodeParameterInvalid, "collection name should not be empty")
	}
	info, err := s.db.DescribeCollection(name)
	if err != nil {
		if codeOf(err) == CodeCollectionNotFound {
			return info, &apiError{code: CodeCollectionNotFound, reason: "collection not found[collection=" + name + "]", err: err}
		}
		return info, err
	}
	return info, nil
}

func (s *service) DescribeCollection(ctx context.Context, req *milvuspb.DescribeCollectionRequest) (*milvuspb.DescribeCollectionResponse, error) {
	if err := checkDB(ctx, req.GetDbName()); err != nil {
		return &milvuspb.DescribeCollectionResponse{Status: statusOf(err)}, nil
	}
	info, err := s.collection(req.GetCollectionName())
	if err != nil {
		return &milvuspb.DescribeCollectionResponse{Status: statusOf(err)}, nil
	}
	vch := "by-dev-rootcoord-dml_0_" + strconv.FormatInt(info.ID, 10) + "v0"
	return &milvuspb.DescribeCollectionResponse{
		Status:               &commonpb.Status{},
		Schema:               schemaToProto(&info.Schema),
		CollectionID:         info.ID,
		VirtualChannelNames:  []string{vch},
		PhysicalChannelNames: []string{"by-dev-rootcoord-dml_0"},
		CreatedTimestamp:     info.SchemaVersion,
		CreatedUtcTimestamp:  uint64(info.CreatedAt.UnixMilli()),
		ShardsNum:            1,
		ConsistencyLevel:     commonpb.ConsistencyLevel_Bounded,
		CollectionName:       info.Schema.Name,
		DbName:               "default",
		NumPartitions:        1,
		UpdateTimestamp:      info.SchemaVersion,
		UpdateTimestampStr:   strconv.FormatUint(info.SchemaVersion, 10),
	}, nil
}

func (s *service) ShowCollections(ctx context.Context, req *milvuspb.ShowCollectionsRequest) (*milvuspb.ShowCollectionsResponse, error) {
	if err := checkDB(ctx, req.GetDbName()); err != nil {
		return &milvuspb.ShowCollectionsResponse{Status: statusOf(err)}, nil
	}
	resp := &milvuspb.ShowCollectionsResponse{Status: &commonpb.Status{}}
	names := s.db.ListCollections()
	if len(req.GetCollectionNames()) > 0 {
		names = req.GetCollectionNames()
	}
	for _, name := range names {
		info, err := s.collection(name)
		if err != nil {
			if len(req.GetCollectionNames()) > 0 {
				return &milvuspb.ShowCollectionsResponse{Status: statusOf(err)}, nil
			}
			continue // dropped meanwhile
		}
		loaded := info.Load == vectordb.LoadStateLoaded
		if req.GetType() == milvuspb.ShowType_InMemory && !loaded {
			continue
		}
		pct := int64(0)
		if loaded {
			pct = 100
		}
		resp.CollectionNames = append(resp.CollectionNames, name)
		resp.CollectionIds = append(resp.CollectionIds, info.ID)
		resp.CreatedTimestamps = append(resp.CreatedTimestamps, info.SchemaVersion)
		resp.CreatedUtcTimestamps = append(resp.CreatedUtcTimestamps, uint64(info.CreatedAt.UnixMilli()))
		resp.InMemoryPercentages = append(resp.InMemoryPercentages, pct)
		resp.QueryServiceAvailable = append(resp.QueryServiceAvailable, loaded)
		resp.ShardsNum = append(resp.ShardsNum, 1)
	}
	return resp, nil
}

func (s *service) GetCollectionStatistics(ctx context.Context, req *milvuspb.GetCollectionStatisticsRequest) (*milvuspb.GetCollectionStatisticsResponse, error) {
	if err := checkDB(ctx, req.GetDbName()); err != nil {
		return &milvuspb.GetCollectionStatisticsResponse{Status: statusOf(err)}, nil
	}
	if _, err := s.collection(req.GetCollectionName()); err != nil {
		return &milvuspb.GetCollectionStatisticsResponse{Status: statusOf(err)}, nil
	}
	st, err := s.db.Stats(req.GetCollectionName())
	if err != nil {
		return &milvuspb.GetCollectionStatisticsResponse{Status: statusOf(err)}, nil
	}
	return &milvuspb.GetCollectionStatisticsResponse{
		Status: &commonpb.Status{},
		Stats:  []*commonpb.KeyValuePair{{Key: "row_count", Value: strconv.FormatInt(st.RowCount, 10)}},
	}, nil
}

// --- indexes --------------------------------------------------------------

func (s *service) CreateIndex(ctx context.Context, req *milvuspb.CreateIndexRequest) (*commonpb.Status, error) {
	return statusOf(s.createIndex(ctx, req)), nil
}

func (s *service) createIndex(ctx context.Context, req *milvuspb.CreateIndexRequest) error {
	if err := checkDB(ctx, req.GetDbName()); err != nil {
		return err
	}
	info, err := s.collection(req.GetCollectionName())
	if err != nil {
		return err
	}
	field := req.GetFieldName()
	f, ok := info.Schema.Field(field)
	if !ok {
		return errf(CodeParameterInvalid, "cannot create index on non-exist field: %s", field)
	}
	if f.Type != vectordb.TypeFloatVector {
		return errf(CodeParameterInvalid, "index on scalar field %q (%s) is not supported by milvus-ha; only vector indexes are", field, f.Type)
	}
	p, err := indexParamsFromKV(req.GetExtraParams())
	if err != nil {
		return err
	}
	p.Name = req.GetIndexName()
	if err := s.db.CreateIndex(ctx, req.GetCollectionName(), field, p); err != nil {
		return err
	}
	s.m.indexBuilds.Inc()
	return nil
}

// indexParamsFromKV reads CreateIndex extra_params: flat keys (Go SDK) and
// a nested "params" JSON object (pymilvus, REST), as Milvus'
// parseIndexParams does.
func indexParamsFromKV(kvs []*commonpb.KeyValuePair) (vectordb.IndexParams, error) {
	flat := map[string]string{}
	for _, kv := range kvs {
		if kv.GetKey() == "params" {
			nested, err := jsonParams(kv.GetValue())
			if err != nil {
				return vectordb.IndexParams{}, errf(CodeParameterInvalid, "index params %q are not a JSON object: %v", kv.GetValue(), err)
			}
			for k, v := range nested {
				flat[k] = v
			}
			continue
		}
		flat[kv.GetKey()] = kv.GetValue()
	}
	var p vectordb.IndexParams
	switch t := strings.ToUpper(flat["index_type"]); t {
	case "", string(vectordb.IndexAuto):
		p.Type = vectordb.IndexAuto
	case string(vectordb.IndexHNSW), string(vectordb.IndexFLAT):
		p.Type = vectordb.IndexType(t)
	default:
		return p, errf(CodeParameterInvalid, "invalid index type: %s (milvus-ha supports FLAT, HNSW and AUTOINDEX)", flat["index_type"])
	}
	switch m := strings.ToUpper(flat["metric_type"]); m {
	case "":
	case string(vectordb.MetricL2), string(vectordb.MetricIP), string(vectordb.MetricCosine):
		p.Metric = vectordb.Metric(m)
	default:
		return p, errf(CodeParameterInvalid, "metric type %s not found or not supported, supported: [L2 IP COSINE]", flat["metric_type"])
	}
	for _, k := range []struct {
		key string
		dst *int
		max int
	}{{"M", &p.M, 2048}, {"efConstruction", &p.EfConstruction, 1 << 20}} {
		v, ok := flat[k.key]
		if !ok {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > k.max {
			return p, errf(CodeParameterInvalid, "param '%s' (%s) should be an integer in range [1, %d]", k.key, v, k.max)
		}
		*k.dst = n
	}
	return p, nil
}

func (s *service) DescribeIndex(ctx context.Context, req *milvuspb.DescribeIndexRequest) (*milvuspb.DescribeIndexResponse, error) {
	descs, err := s.describeIndex(ctx, req.GetDbName(), req.GetCollectionName(), req.GetFieldName(), req.GetIndexName())
	if err != nil {
		return &milvuspb.DescribeIndexResponse{Status: statusOf(err)}, nil
	}
	return &milvuspb.DescribeIndexResponse{Status: &commonpb.Status{}, IndexDescriptions: descs}, nil
}

func (s *service) describeIndex(ctx context.Context, dbName, coll, field, indexName string) ([]*milvuspb.IndexDescription, error) {
	if err := checkDB(ctx, dbName); err != nil {
		return nil, err
	}
	if _, err := s.collection(coll); err != nil {
		return nil, err
	}
	infos, err := s.db.DescribeIndex(coll, indexName)
	if err != nil {
		return nil, err
	}
	var out []*milvuspb.IndexDescription
	for _, ii := range infos {
		if field != "" && ii.Field != field {
			continue
		}
		out = append(out, indexDescription(&ii))
	}
	if len(out) == 0 {
		return nil, errf(CodeIndexNotFound, "index not found[collection=%s]", coll)
	}
	return out, nil
}

func indexDescription(ii *vectordb.IndexInfo) *milvuspb.IndexDescription {
	params := []*commonpb.KeyValuePair{
		{Key: "index_type", Value: string(ii.Params.Type)},
		{Key: "metric_type", Value: string(ii.Params.Metric)},
	}
	if ii.Params.Type == vectordb.IndexHNSW {
		params = append(params,
			&commonpb.KeyValuePair{Key: "M", Value: strconv.Itoa(ii.Params.M)},
			&commonpb.KeyValuePair{Key: "efConstruction", Value: strconv.Itoa(ii.Params.EfConstruction)})
	}
	h := fnv.New64a()
	h.Write([]byte(ii.Field + "\x00" + ii.Name))
	return &milvuspb.IndexDescription{
		IndexName:        ii.Name,
		IndexID:          int64(h.Sum64() >> 1),
		Params:           params,
		FieldName:        ii.Field,
		IndexedRows:      ii.IndexedRows,
		TotalRows:        ii.TotalRows,
		PendingIndexRows: ii.TotalRows - ii.IndexedRows,
		// Rows not yet in the graph are searched exactly, so the index is
		// always complete for search purposes.
		State: commonpb.IndexState_Finished,
	}
}

func (s *service) DropIndex(ctx context.Context, req *milvuspb.DropIndexRequest) (*commonpb.Status, error) {
	if err := checkDB(ctx, req.GetDbName()); err != nil {
		return statusOf(err), nil
	}
	if _, err := s.collection(req.GetCollectionName()); err != nil {
		return statusOf(err), nil
	}
	name := req.GetIndexName()
	if name == "" {
		name = req.GetFieldName()
	}
	return statusOf(s.db.DropIndex(ctx, req.GetCollectionName(), name)), nil
}

// --- load -----------------------------------------------------------------

func (s *service) LoadCollection(ctx context.Context, req *milvuspb.LoadCollectionRequest) (*commonpb.Status, error) {
	if err := checkDB(ctx, req.GetDbName()); err != nil {
		return statusOf(err), nil
	}
	if _, err := s.collection(req.GetCollectionName()); err != nil {
		return statusOf(err), nil
	}
	return statusOf(s.db.Load(ctx, req.GetCollectionName())), nil
}

func (s *service) ReleaseCollection(ctx context.Context, req *milvuspb.ReleaseCollectionRequest) (*commonpb.Status, error) {
	if err := checkDB(ctx, req.GetDbName()); err != nil {
		return statusOf(err), nil
	}
	if _, err := s.collection(req.GetCollectionName()); err != nil {
		return statusOf(err), nil
	}
	return statusOf(s.db.Release(ctx, req.GetCollectionName())), nil
}

func (s *service) GetLoadingProgress(ctx context.Context, req *milvuspb.GetLoadingProgressRequest) (*milvuspb.GetLoadingProgressResponse, error) {
	fail := func(err error) (*milvuspb.GetLoadingProgressResponse, error) {
		return &milvuspb.GetLoadingProgressResponse{Status: statusOf(err)}, nil
	}
	if err := checkDB(ctx, req.GetDbName()); err != nil {
		return fail(err)
	}
	if err := checkPartitions(req.GetPartitionNames()); err != nil {
		return fail(err)
	}
	info, err := s.collection(req.GetCollectionName())
	if err != nil {
		return fail(err)
	}
	if info.Load != vectordb.LoadStateLoaded {
		return fail(errf(CodeCollectionNotLoaded, "collection not loaded[collection=%s]", req.GetCollectionName()))
	}
	return &milvuspb.GetLoadingProgressResponse{Status: &commonpb.Status{}, Progress: 100, RefreshProgress: 100}, nil
}

func (s *service) GetLoadState(ctx context.Context, req *milvuspb.GetLoadStateRequest) (*milvuspb.GetLoadStateResponse, error) {
	if err := checkDB(ctx, req.GetDbName()); err != nil {
		return &milvuspb.GetLoadStateResponse{Status: statusOf(err)}, nil
	}
	if err := checkPartitions(req.GetPartitionNames()); err != nil {
		return &milvuspb.GetLoadStateResponse{Status: statusOf(err)}, nil
	}
	info, err := s.collection(req.GetCollectionName())
	if err != nil {
		return &milvuspb.GetLoadStateResponse{Status: statusOf(err)}, nil
	}
	return &milvuspb.GetLoadStateResponse{Status: &commonpb.Status{}, State: commonpb.LoadState(info.Load)}, nil
}

// --- writes ---------------------------------------------------------------

func (s *service) Insert(ctx context.Context, req *milvuspb.InsertRequest) (*milvuspb.MutationResult, error) {
	ids, n, err := s.write(ctx, req.GetDbName(), req.GetCollectionName(), req.GetPartitionName(),
		req.GetFieldsData(), req.GetNumRows(), req.GetSchemaTimestamp(), s.db.Insert)
	if err != nil {
		return &milvuspb.MutationResult{Status: statusOf(err)}, nil
	}
	return &milvuspb.MutationResult{Status: &commonpb.Status{}, IDs: idsToProto(&ids), SuccIndex: succIndex(n), InsertCnt: int64(n), Timestamp: hybridNow()}, nil
}

func (s *service) Upsert(ctx context.Context, req *milvuspb.UpsertRequest) (*milvuspb.MutationResult, error) {
	if req.GetPartialUpdate() || len(req.GetFieldOps()) > 0 {
		return &milvuspb.MutationResult{Status: statusOf(errf(CodeParameterInvalid, "partial update is not supported by milvus-ha"))}, nil
	}
	ids, n, err := s.write(ctx, req.GetDbName(), req.GetCollectionName(), req.GetPartitionName(),
		req.GetFieldsData(), req.GetNumRows(), req.GetSchemaTimestamp(), s.db.Upsert)
	if err != nil {
		return &milvuspb.MutationResult{Status: statusOf(err)}, nil
	}
	return &milvuspb.MutationResult{Status: &commonpb.Status{}, IDs: idsToProto(&ids), SuccIndex: succIndex(n), UpsertCnt: int64(n), Timestamp: hybridNow()}, nil
}

type writeFunc func(ctx context.Context, coll string, b *vectordb.Batch) (vectordb.Column, error)

func (s *service) write(ctx context.Context, dbName, coll, partition string, fds []*schemapb.FieldData, numRows uint32, schemaTS uint64, fn writeFunc) (vectordb.Column, int, error) {
	if err := checkDB(ctx, dbName); err != nil {
		return vectordb.Column{}, 0, err
	}
	if err := checkPartition(partition); err != nil {
		return vectordb.Column{}, 0, err
	}
	if _, err := s.collection(coll); err != nil {
		return vectordb.Column{}, 0, err
	}
	if numRows == 0 {
		return vectordb.Column{}, 0, errf(CodeParameterInvalid, "num_rows should be greater than 0")
	}
	cols, err := columnsFromProto(fds, numRows)
	if err != nil {
		return vectordb.Column{}, 0, err
	}
	// One request is one store write, atomic whatever its size (the store
	// logs a large one as row chunks in one atomic batch).
	ids, err := fn(ctx, coll, &vectordb.Batch{Columns: cols, SchemaVersion: schemaTS})
	if err != nil {
		return vectordb.Column{}, 0, err
	}
	s.m.rowsWritten.Add(float64(numRows))
	return ids, int(numRows), nil
}

func succIndex(n int) []uint32 {
	out := make([]uint32, n)
	for i := range out {
		out[i] = uint32(i)
	}
	return out
}

// hybridNow is a Milvus hybrid timestamp (physical ms << 18).
func hybridNow() uint64 { return uint64(time.Now().UnixMilli()) << 18 }

func (s *service) Delete(ctx context.Context, req *milvuspb.DeleteRequest) (*milvuspb.MutationResult, error) {
	n, err := s.delete(ctx, req)
	if err != nil {
		return &milvuspb.MutationResult{Status: statusOf(err)}, nil
	}
	return &milvuspb.MutationResult{Status: &commonpb.Status{}, IDs: &schemapb.IDs{}, DeleteCnt: n, Timestamp: hybridNow()}, nil
}

func (s *service) delete(ctx context.Context, req *milvuspb.DeleteRequest) (int64, error) {
	if err := checkDB(ctx, req.GetDbName()); err != nil {
		return 0, err
	}
	if err := checkPartition(req.GetPartitionName()); err != nil {
		return 0, err
	}
	if _, err := s.collection(req.GetCollectionName()); err != nil {
		return 0, err
	}
	if strings.TrimSpace(req.GetExpr()) == "" {
		return 0, errf(CodeParameterInvalid, "delete plan can't be empty or always true : %s", req.GetExpr())
	}
	params, err := templateValues(req.GetExprTemplateValues())
	if err != nil {
		return 0, err
	}
	return s.db.Delete(ctx, req.GetCollectionName(), req.GetExpr(), params)
}

func (s *service) Flush(ctx context.Context, req *milvuspb.FlushRequest) (*milvuspb.FlushResponse, error) {
	if err := checkDB(ctx, req.GetDbName()); err != nil {
		return &milvuspb.FlushResponse{Status: statusOf(err)}, nil
	}
	for _, c := range req.GetCollectionNames() {
		if _, err := s.collection(c); err != nil {
			return &milvuspb.FlushResponse{Status: statusOf(err)}, nil
		}
	}
	if err := s.db.Flush(ctx, req.GetCollectionNames()...); err != nil {
		return &milvuspb.FlushResponse{Status: statusOf(err)}, nil
	}
	ts := hybridNow()
	resp := &milvuspb.FlushResponse{
		Status:          &commonpb.Status{},
		DbName:          "default",
		CollSegIDs:      map[string]*schemapb.LongArray{},
		FlushCollSegIDs: map[string]*schemapb.LongArray{},
		CollSealTimes:   map[string]int64{},
		CollFlushTs:     map[string]uint64{},
	}
	for _, c := range req.GetCollectionNames() {
		resp.CollSegIDs[c] = &schemapb.LongArray{}
		resp.FlushCollSegIDs[c] = &schemapb.LongArray{}
		resp.CollSealTimes[c] = time.Now().Unix()
		resp.CollFlushTs[c] = ts
	}
	return resp, nil
}

// GetFlushState is always true: an acknowledged write is already durable.
func (s *service) GetFlushState(ctx context.Context, req *milvuspb.GetFlushStateRequest) (*milvuspb.GetFlushStateResponse, error) {
	if c := req.GetCollectionName(); c != "" {
		if _, err := s.collection(c); err != nil {
			return &milvuspb.GetFlushStateResponse{Status: statusOf(err)}, nil
		}
	}
	return &milvuspb.GetFlushStateResponse{Status: &commonpb.Status{}, Flushed: true}, nil
}

// sortedKeys is used where map order would make output unstable.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
