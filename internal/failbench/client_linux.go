package failbench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/milvus-ha/milvus-ha/internal/netlab"
)

// client speaks Milvus' gRPC API to the VIP from the client host. Its
// sockets are opened inside the host's namespace (netlab Host.Do around
// the dial). It is deliberately impatient: short dial and call timeouts and
// a fresh connection after every failure, so that what it measures is the
// server side of a failover, not the client's reconnect backoff.
type client struct {
	host        *netlab.Host
	addr        string
	dialTimeout time.Duration

	mu   sync.Mutex
	conn *grpc.ClientConn
}

func newClient(h *netlab.Host, addr string, dialTimeout time.Duration) *client {
	return &client{host: h, addr: addr, dialTimeout: dialTimeout}
}

func (c *client) dial(ctx context.Context, addr string) (net.Conn, error) {
	var conn net.Conn
	err := c.host.Do(func() error {
		var err error
		conn, err = (&net.Dialer{Timeout: c.dialTimeout}).DialContext(ctx, "tcp", addr)
		return err
	})
	return conn, err
}

// svc returns the current connection's stub, dialling lazily.
func (c *client) svc() (milvuspb.MilvusServiceClient, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		conn, err := grpc.NewClient("passthrough:///"+c.addr,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithContextDialer(c.dial),
			grpc.WithConnectParams(grpc.ConnectParams{
				Backoff:           backoff.Config{BaseDelay: 5 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 50 * time.Millisecond},
				MinConnectTimeout: 4 * c.dialTimeout,
			}),
			grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(256<<20), grpc.MaxCallRecvMsgSize(256<<20)))
		if err != nil {
			return nil, fmt.Errorf("failbench: client for %s: %w", c.addr, err)
		}
		c.conn = conn
	}
	return milvuspb.NewMilvusServiceClient(c.conn), nil
}

// reset drops the connection; the next call dials afresh. After a
// failover the old TCP connection points at a host that may never answer
// again, and waiting for TCP to notice would measure the client.
func (c *client) reset() {
	c.mu.Lock()
	conn := c.conn
	c.conn = nil
	c.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
}

func (c *client) close() { c.reset() }

// statusErr turns a non-success Milvus status into an error.
func statusErr(st *commonpb.Status) error {
	if st == nil {
		return errors.New("no status in the response")
	}
	if st.GetCode() != 0 || (st.GetErrorCode() != commonpb.ErrorCode_Success && st.GetErrorCode() != 0) {
		return fmt.Errorf("milvus status %d/%s: %s", st.GetCode(), st.GetErrorCode(), st.GetReason())
	}
	return nil
}

// createCollection creates coll (int64 primary key "id", float vector
// "vec" of dim), a FLAT L2 index on vec, and loads it.
func (c *client) createCollection(ctx context.Context, coll string, dim int) error {
	s, err := c.svc()
	if err != nil {
		return err
	}
	schema, err := proto.Marshal(&schemapb.CollectionSchema{
		Name: coll,
		Fields: []*schemapb.FieldSchema{
			{FieldID: 100, Name: "id", DataType: schemapb.DataType_Int64, IsPrimaryKey: true},
			{FieldID: 101, Name: "vec", DataType: schemapb.DataType_FloatVector,
				TypeParams: []*commonpb.KeyValuePair{{Key: "dim", Value: strconv.Itoa(dim)}}},
		},
	})
	if err != nil {
		return err
	}
	st, err := s.CreateCollection(ctx, &milvuspb.CreateCollectionRequest{CollectionName: coll, Schema: schema, ShardsNum: 1})
	if err = errors.Join(err, statusErr(st)); err != nil {
		return fmt.Errorf("failbench: create collection %s: %w", coll, err)
	}
	st, err = s.CreateIndex(ctx, &milvuspb.CreateIndexRequest{CollectionName: coll, FieldName: "vec", IndexName: "vec",
		ExtraParams: []*commonpb.KeyValuePair{{Key: "index_type", Value: "FLAT"}, {Key: "metric_type", Value: "L2"}}})
	if err = errors.Join(err, statusErr(st)); err != nil {
		return fmt.Errorf("failbench: create index on %s: %w", coll, err)
	}
	st, err = s.LoadCollection(ctx, &milvuspb.LoadCollectionRequest{CollectionName: coll})
	if err = errors.Join(err, statusErr(st)); err != nil {
		return fmt.Errorf("failbench: load %s: %w", coll, err)
	}
	return nil
}

// insert writes rows with the given primary keys and random vectors.
func (c *client) insert(ctx context.Context, coll string, dim int, ids []int64, r *rand.Rand) error {
	s, err := c.svc()
	if err != nil {
		return err
	}
	vecs := make([]float32, len(ids)*dim)
	for i := range vecs {
		vecs[i] = r.Float32()
	}
	resp, err := s.Insert(ctx, &milvuspb.InsertRequest{
		CollectionName: coll,
		NumRows:        uint32(len(ids)),
		FieldsData: []*schemapb.FieldData{
			{Type: schemapb.DataType_Int64, FieldName: "id", Field: &schemapb.FieldData_Scalars{
				Scalars: &schemapb.ScalarField{Data: &schemapb.ScalarField_LongData{LongData: &schemapb.LongArray{Data: ids}}}}},
			{Type: schemapb.DataType_FloatVector, FieldName: "vec", Field: &schemapb.FieldData_Vectors{
				Vectors: &schemapb.VectorField{Dim: int64(dim), Data: &schemapb.VectorField_FloatVector{FloatVector: &schemapb.FloatArray{Data: vecs}}}}},
		},
	})
	if err != nil {
		return err
	}
	return statusErr(resp.GetStatus())
}

// count returns count(*) of coll.
func (c *client) count(ctx context.Context, coll string) (int64, error) {
	s, err := c.svc()
	if err != nil {
		return 0, err
	}
	resp, err := s.Query(ctx, &milvuspb.QueryRequest{CollectionName: coll, OutputFields: []string{"count(*)"}})
	if err = errors.Join(err, statusErr(resp.GetStatus())); err != nil {
		return 0, fmt.Errorf("failbench: count(*) of %s: %w", coll, err)
	}
	for _, fd := range resp.GetFieldsData() {
		if d := fd.GetScalars().GetLongData().GetData(); len(d) == 1 {
			return d[0], nil
		}
	}
	return 0, fmt.Errorf("failbench: count(*) of %s: no count in the answer", coll)
}

// retry runs fn until it succeeds or ctx ends, resetting the connection
// after each failure.
func (c *client) retry(ctx context.Context, callTimeout time.Duration, fn func(context.Context) error) error {
	for {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		err := fn(cctx)
		cancel()
		if err == nil {
			return nil
		}
		c.reset()
		if ctx.Err() != nil {
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
}

// workload is the retrying client's insert loop: one single-row insert
// every interval, each with a short timeout; after a failure the
// connection is dropped and the next call dials again. It records the
// completion time of every success and the time of every failure.
type workload struct {
	c           *client
	coll        string
	dim         int
	interval    time.Duration
	callTimeout time.Duration
	log         *slog.Logger // failed calls, at debug level

	mu        sync.Mutex
	successes []time.Time
	failures  []time.Time
	calls     int64
	nextID    int64

	cancel context.CancelFunc
	done   chan struct{}
}

func startWorkload(c *client, coll string, dim int, interval, callTimeout time.Duration, firstID int64, log *slog.Logger) *workload {
	ctx, cancel := context.WithCancel(context.Background())
	w := &workload{c: c, coll: coll, dim: dim, interval: interval, callTimeout: callTimeout,
		nextID: firstID, log: log, cancel: cancel, done: make(chan struct{})}
	go w.run(ctx)
	return w
}

func (w *workload) run(ctx context.Context) {
	defer close(w.done)
	r := rand.New(rand.NewPCG(uint64(w.nextID), 7))
	tick := time.NewTicker(w.interval)
	defer tick.Stop()
	for ctx.Err() == nil {
		w.mu.Lock()
		id := w.nextID
		w.nextID++
		w.calls++
		w.mu.Unlock()
		cctx, cancel := context.WithTimeout(ctx, w.callTimeout)
		err := w.c.insert(cctx, w.coll, w.dim, []int64{id}, r)
		cancel()
		now := time.Now()
		if ctx.Err() != nil {
			return // cut short by stop: neither success nor failure
		}
		w.mu.Lock()
		if err == nil {
			w.successes = append(w.successes, now)
		} else {
			w.failures = append(w.failures, now)
		}
		w.mu.Unlock()
		if err != nil {
			w.log.Debug("call failed", "id", id, "err", err)
			w.c.reset()
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
}

// stop ends the loop and waits for it.
func (w *workload) stop() {
	w.cancel()
	<-w.done
}

// snapshot copies the success times (sorted, as recorded) and counts the
// failures in [from, to].
func (w *workload) snapshot(from, to time.Time) (successes []time.Time, failed int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range w.failures {
		if !f.Before(from) && !f.After(to) {
			failed++
		}
	}
	return append([]time.Time(nil), w.successes...), failed
}

// stats returns calls made, acknowledged inserts and the last success.
func (w *workload) stats() (calls, acked int64, last time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if n := len(w.successes); n > 0 {
		last = w.successes[n-1]
	}
	return w.calls, int64(len(w.successes)), last
}

// waitSuccesses waits until n successes completed after since.
func (w *workload) waitSuccesses(ctx context.Context, since time.Time, n int) error {
	for {
		w.mu.Lock()
		got := 0
		for i := len(w.successes) - 1; i >= 0 && w.successes[i].After(since) && got < n; i-- {
			got++
		}
		w.mu.Unlock()
		if got >= n {
			return nil
		}
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			return fmt.Errorf("failbench: fewer than %d successful inserts through the VIP: %w", n, err)
		}
	}
}

// gaps returns the gaps between consecutive successes inside [from, to]
// (the resolution of the measurement outside faults).
func (w *workload) gaps(from, to time.Time) []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []time.Duration
	for i := 1; i < len(w.successes); i++ {
		if w.successes[i-1].After(from) && !w.successes[i].After(to) {
			out = append(out, w.successes[i].Sub(w.successes[i-1]))
		}
	}
	return out
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
