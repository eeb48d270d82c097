package demo

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Milvus is the demo's real client: a Milvus gRPC client on the client
// host (raw milvuspb, the protocol the official SDKs speak) that creates a
// collection through the VIP, then inserts one row every Interval, each
// call with its own Timeout, several in flight if the server is slow. Each
// insert is one Sample: acknowledged (OK) or failed. Stop reads every
// acknowledged key back through the VIP.
//
// The node that acknowledged an insert is told by the connection it used:
// a TCP connection lives on one host, so the source MAC of its SYN-ACK
// (seen on a packet socket on the client's eth0) names the node for every
// call on it. That is what the client really talked to, at no cost to
// the nodes, rather than a guess from the nodes' own reports.
//
// The gRPC channel reconnects by itself with a short backoff and a short
// dial timeout (a SYN lost to a host that just dropped the VIP is retried
// in 100 ms, not after TCP's 1 s), and calls wait for a connection until
// their timeout (wait-for-ready), as a retrying client's would.
type Milvus struct {
	Interval   time.Duration // between inserts; 0 means 10 ms
	Timeout    time.Duration // per insert; 0 means 500 ms
	Collection string        // "" means "milvus_ha_demo"

	tgt    Target
	record func(Sample)
	conn   *grpc.ClientConn
	svc    milvuspb.MilvusServiceClient
	syn    *synWatch
	cancel context.CancelFunc
	loop   sync.WaitGroup // setup and the insert ticker
	calls  sync.WaitGroup // inserts in flight
	conns  sync.Map       // local "ip:port" of a connection → node name

	mu       sync.Mutex
	acked    []int64
	sent     int
	failed   int
	setupErr error // last set-up failure, while not set up
	ready    bool
	failKind map[string]int // failed inserts by kind of error
}

const (
	milvusPort   = 19530
	demoDim      = 8
	maxInFlight  = 256
	dialTimeout  = 100 * time.Millisecond
	setupTimeout = 2 * time.Second // per set-up call
)

func (m *Milvus) interval() time.Duration {
	if m.Interval <= 0 {
		return 10 * time.Millisecond
	}
	return m.Interval
}

func (m *Milvus) timeout() time.Duration {
	if m.Timeout <= 0 {
		return 500 * time.Millisecond
	}
	return m.Timeout
}

func (m *Milvus) collection() string {
	if m.Collection == "" {
		return "milvus_ha_demo"
	}
	return m.Collection
}

// RequestTimeout implements Workload.
func (m *Milvus) RequestTimeout() time.Duration { return m.timeout() }

// Noun implements Workload.
func (m *Milvus) Noun() string { return "insert" }

// Describe implements Workload.
func (m *Milvus) Describe() string {
	return fmt.Sprintf("Milvus gRPC client inserting one row every %v through the VIP (%v timeout per insert); the serving node is told by its TCP handshake's source MAC", m.interval(), m.timeout())
}

// Start implements Workload: it opens the client and returns; creating
// the collection (retried until the VIP answers) and the inserts run in
// the background.
func (m *Milvus) Start(ctx context.Context, tgt Target, record func(Sample)) error {
	byMAC := map[string]string{}
	for _, h := range tgt.Nodes {
		byMAC[h.MAC().String()] = h.Name()
	}
	syn, err := watchSynAcks(tgt.Client, tgt.VIP, milvusPort, byMAC)
	if err != nil {
		return fmt.Errorf("demo: milvus client: %w", err)
	}
	conn, err := grpc.NewClient("passthrough:///"+netip.AddrPortFrom(tgt.VIP, milvusPort).String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(m.dial),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 10 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 100 * time.Millisecond},
			MinConnectTimeout: m.timeout(),
		}),
		grpc.WithDefaultCallOptions(grpc.WaitForReady(true)))
	if err != nil {
		syn.close()
		return fmt.Errorf("demo: milvus client: %w", err)
	}
	m.tgt, m.record, m.syn, m.conn = tgt, record, syn, conn
	m.svc = milvuspb.NewMilvusServiceClient(conn)
	ctx, m.cancel = context.WithCancel(ctx)
	m.loop.Go(func() {
		if m.setup(ctx) {
			m.insertLoop(ctx)
		}
	})
	return nil
}

// dial opens the TCP connection inside the client host and learns which
// node accepted it.
func (m *Milvus) dial(ctx context.Context, addr string) (net.Conn, error) {
	var conn net.Conn
	start := time.Now()
	err := m.tgt.Client.Do(func() error {
		var err error
		conn, err = (&net.Dialer{Timeout: dialTimeout}).DialContext(ctx, "tcp", addr)
		return err
	})
	if err != nil {
		return nil, err
	}
	local, ok := conn.LocalAddr().(*net.TCPAddr)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("demo: milvus client: local address %v is not TCP", conn.LocalAddr())
	}
	m.conns.Store(local.String(), m.syn.node(uint16(local.Port), start, 200*time.Millisecond))
	return conn, nil
}

// servedBy names the node behind the connection an answered call used.
func (m *Milvus) servedBy(p *peer.Peer) string {
	if p.LocalAddr == nil {
		return ""
	}
	if v, ok := m.conns.Load(p.LocalAddr.String()); ok {
		return v.(string)
	}
	return ""
}

// setup creates the collection (int64 primary key "id", float vector
// "vec"), an AUTOINDEX index on the vector and loads it, each step skipped
// if already done, retrying until it works or ctx ends.
func (m *Milvus) setup(ctx context.Context) bool {
	coll := m.collection()
	schema, err := proto.Marshal(&schemapb.CollectionSchema{
		Name: coll,
		Fields: []*schemapb.FieldSchema{
			{FieldID: 100, Name: "id", DataType: schemapb.DataType_Int64, IsPrimaryKey: true},
			{FieldID: 101, Name: "vec", DataType: schemapb.DataType_FloatVector,
				TypeParams: []*commonpb.KeyValuePair{{Key: "dim", Value: strconv.Itoa(demoDim)}}},
		},
	})
	if err != nil {
		m.setSetupErr(err)
		return false
	}
	var by string
	steps := []struct {
		what string
		do   func(ctx context.Context, p *peer.Peer) error
	}{
		{"create collection", func(ctx context.Context, p *peer.Peer) error {
			has, err := m.svc.HasCollection(ctx, &milvuspb.HasCollectionRequest{CollectionName: coll}, grpc.Peer(p))
			if err = callErr(err, has.GetStatus()); err != nil || has.GetValue() {
				return err
			}
			st, err := m.svc.CreateCollection(ctx, &milvuspb.CreateCollectionRequest{CollectionName: coll, Schema: schema, ShardsNum: 1}, grpc.Peer(p))
			return callErr(err, st)
		}},
		{"create AUTOINDEX index", func(ctx context.Context, p *peer.Peer) error {
			d, err := m.svc.DescribeIndex(ctx, &milvuspb.DescribeIndexRequest{CollectionName: coll, FieldName: "vec"}, grpc.Peer(p))
			if err == nil && statusErr(d.GetStatus()) == nil && len(d.GetIndexDescriptions()) > 0 {
				return nil
			}
			st, err := m.svc.CreateIndex(ctx, &milvuspb.CreateIndexRequest{CollectionName: coll, FieldName: "vec", IndexName: "vec",
				ExtraParams: []*commonpb.KeyValuePair{{Key: "index_type", Value: "AUTOINDEX"}, {Key: "metric_type", Value: "L2"}}}, grpc.Peer(p))
			return callErr(err, st)
		}},
		{"load collection", func(ctx context.Context, p *peer.Peer) error {
			st, err := m.svc.LoadCollection(ctx, &milvuspb.LoadCollectionRequest{CollectionName: coll}, grpc.Peer(p))
			if err = callErr(err, st); err != nil {
				return err
			}
			ls, err := m.svc.GetLoadState(ctx, &milvuspb.GetLoadStateRequest{CollectionName: coll}, grpc.Peer(p))
			if err = callErr(err, ls.GetStatus()); err != nil {
				return err
			}
			if ls.GetState() != commonpb.LoadState_LoadStateLoaded {
				return fmt.Errorf("load state %s", ls.GetState())
			}
			return nil
		}},
	}
	for _, st := range steps {
		for {
			var p peer.Peer
			cctx, cancel := context.WithTimeout(ctx, setupTimeout)
			err := st.do(cctx, &p)
			cancel()
			if err == nil {
				by = m.servedBy(&p)
				break
			}
			m.setSetupErr(fmt.Errorf("%s: %w", st.what, err))
			if sleep(ctx, 100*time.Millisecond) != nil {
				return false
			}
		}
	}
	m.mu.Lock()
	m.ready, m.setupErr = true, nil
	m.mu.Unlock()
	if m.tgt.Say != nil {
		m.tgt.Say(time.Now(), fmt.Sprintf("client: collection %s created (int64 primary key, %d-dim float vector), AUTOINDEX index built and loaded through the VIP (served by %s)", coll, demoDim, orUnknown(by)))
	}
	return true
}

func (m *Milvus) setSetupErr(err error) {
	m.mu.Lock()
	m.setupErr = err
	m.mu.Unlock()
}

// insertLoop starts one insert per interval with increasing keys.
func (m *Milvus) insertLoop(ctx context.Context) {
	tick := time.NewTicker(m.interval())
	defer tick.Stop()
	inFlight := make(chan struct{}, maxInFlight)
	r := rand.New(rand.NewPCG(1, 2))
	for id := int64(0); ; id++ {
		vec := make([]float32, demoDim)
		for i := range vec {
			vec[i] = r.Float32()
		}
		select {
		case inFlight <- struct{}{}:
			m.calls.Go(func() {
				defer func() { <-inFlight }()
				m.insert(ctx, id, vec)
			})
		default: // a stalled server: the ticks we skip are requests never sent
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (m *Milvus) insert(ctx context.Context, id int64, vec []float32) {
	at := time.Now()
	m.mu.Lock()
	m.sent++
	m.mu.Unlock()
	var p peer.Peer
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.timeout())
	resp, err := m.svc.Insert(cctx, &milvuspb.InsertRequest{
		CollectionName: m.collection(),
		NumRows:        1,
		FieldsData: []*schemapb.FieldData{
			{Type: schemapb.DataType_Int64, FieldName: "id", Field: &schemapb.FieldData_Scalars{
				Scalars: &schemapb.ScalarField{Data: &schemapb.ScalarField_LongData{LongData: &schemapb.LongArray{Data: []int64{id}}}}}},
			{Type: schemapb.DataType_FloatVector, FieldName: "vec", Field: &schemapb.FieldData_Vectors{
				Vectors: &schemapb.VectorField{Dim: demoDim, Data: &schemapb.VectorField_FloatVector{FloatVector: &schemapb.FloatArray{Data: vec}}}}},
		},
	}, grpc.Peer(&p))
	cancel()
	lat := time.Since(at)
	if err == nil {
		err = statusErr(resp.GetStatus())
	}
	if err == nil && resp.GetInsertCnt() != 1 {
		err = fmt.Errorf("insert count %d, want 1", resp.GetInsertCnt())
	}
	m.mu.Lock()
	if err == nil {
		m.acked = append(m.acked, id)
	} else {
		m.failed++
		if m.failKind == nil {
			m.failKind = map[string]int{}
		}
		m.failKind[errKind(err)]++
	}
	m.mu.Unlock()
	if err != nil {
		m.record(Sample{At: at, Latency: lat})
		return
	}
	m.record(Sample{At: at, Latency: lat, OK: true, ServedBy: m.servedBy(&p)})
}

// Stop implements Workload: it stops inserting, waits for the inserts in
// flight, then queries every acknowledged key back through the VIP.
func (m *Milvus) Stop(ctx context.Context) (string, error) {
	if m.cancel == nil {
		return "", errors.New("demo: milvus client not started")
	}
	m.cancel()
	m.loop.Wait()
	m.calls.Wait()
	defer m.syn.close()
	defer m.conn.Close()
	m.mu.Lock()
	acked, sent, failed, ready, setupErr := slices.Clone(m.acked), m.sent, m.failed, m.ready, m.setupErr
	kinds := describeKinds(m.failKind)
	m.mu.Unlock()
	if !ready {
		return "no insert sent: the collection was never set up", fmt.Errorf("demo: milvus client: setting up the collection through the VIP: %w", setupErr)
	}
	counts := fmt.Sprintf("%d inserts sent, %d acknowledged, %d failed%s", sent, len(acked), failed, kinds)
	missing, err := m.verify(ctx, acked)
	if err != nil {
		return counts + "; read-back failed", fmt.Errorf("demo: reading the acknowledged writes back through the VIP: %w", err)
	}
	if len(missing) > 0 {
		return fmt.Sprintf("%s; %d of %d acknowledged writes MISSING", counts, len(missing), len(acked)),
			fmt.Errorf("demo: %d of %d acknowledged writes are missing (first ids: %v)", len(missing), len(acked), missing[:min(len(missing), 10)])
	}
	return fmt.Sprintf("%s; read back through the VIP: %d acknowledged writes, all present", counts, len(acked)), nil
}

// verify queries the acknowledged keys by batches (each retried until it
// is answered, within 30 s in all) and returns those not found.
func (m *Milvus) verify(ctx context.Context, acked []int64) ([]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	have := make(map[int64]bool, len(acked))
	const batch = 1000
	for from := 0; from < len(acked); from += batch {
		ids := acked[from:min(from+batch, len(acked))]
		expr := "id in [" + joinInts(ids) + "]"
		for {
			cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
			res, err := m.svc.Query(cctx, &milvuspb.QueryRequest{CollectionName: m.collection(), Expr: expr, OutputFields: []string{"id"}})
			ccancel()
			if err = callErr(err, res.GetStatus()); err == nil {
				for _, fd := range res.GetFieldsData() {
					if fd.GetFieldName() == "id" {
						for _, v := range fd.GetScalars().GetLongData().GetData() {
							have[v] = true
						}
					}
				}
				break
			}
			if ctx.Err() != nil {
				return nil, err
			}
			if err := sleep(ctx, 100*time.Millisecond); err != nil {
				return nil, err
			}
		}
	}
	var missing []int64
	for _, id := range acked {
		if !have[id] {
			missing = append(missing, id)
		}
	}
	return missing, nil
}

func joinInts(ids []int64) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	return b.String()
}

// callErr is a call's error, or its Milvus status's if the call went through.
func callErr(err error, st *commonpb.Status) error {
	if err != nil {
		return err
	}
	return statusErr(st)
}

// errKind classifies a failed insert for the summary: its gRPC code, or
// the Milvus status code it was refused with.
func errKind(err error) string {
	var me *milvusErr
	if errors.As(err, &me) {
		return fmt.Sprintf("refused with Milvus code %d", me.code)
	}
	return status.Code(err).String()
}

// describeKinds says " (12 DeadlineExceeded, 3 Unavailable)", most
// frequent first.
func describeKinds(kinds map[string]int) string {
	if len(kinds) == 0 {
		return ""
	}
	names := slices.Collect(maps.Keys(kinds))
	slices.SortFunc(names, func(a, b string) int {
		if kinds[a] != kinds[b] {
			return kinds[b] - kinds[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%d %s", kinds[n], n)
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// milvusErr is a call the server answered with a failure status.
type milvusErr struct {
	code   int32
	reason string
}

func (e *milvusErr) Error() string { return fmt.Sprintf("milvus status %d: %s", e.code, e.reason) }

// statusErr turns a Milvus status that is not success into an error.
func statusErr(st *commonpb.Status) error {
	if st == nil {
		return errors.New("no status in the answer")
	}
	if st.GetCode() != 0 || st.GetErrorCode() != commonpb.ErrorCode_Success {
		code := st.GetCode()
		if code == 0 {
			code = int32(st.GetErrorCode())
		}
		return &milvusErr{code: code, reason: st.GetReason()}
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown node"
	}
	return s
}
