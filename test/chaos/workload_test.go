package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	grpc_retry "github.com/grpc-ecosystem/go-grpc-middleware/retry"
	"github.com/milvus-io/milvus/client/v2/column"
	"github.com/milvus-io/milvus/client/v2/entity"
	"github.com/milvus-io/milvus/client/v2/index"
	"github.com/milvus-io/milvus/client/v2/milvusclient"
	"github.com/milvus-io/milvus/pkg/v2/util/merr"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/milvus-ha/milvus-ha/internal/netlab"
)

const (
	coll      = "chaos"
	dim       = 4
	setBase   = int64(1) << 40 // keys of the insert-only set workload
	opTimeout = 3 * time.Second
)

type opKind uint8

const (
	opInsert opKind = iota
	opUpsert
	opDelete
	opGet
	opQuery
)

func (k opKind) String() string {
	return [...]string{"insert", "upsert", "delete", "get", "query"}[k]
}

func (k opKind) write() bool { return k <= opDelete }

type outcome uint8

const (
	ok            outcome = iota
	failed                // definitely not executed
	indeterminate         // may or may not have taken effect
)

func (o outcome) String() string { return [...]string{"ok", "failed", "indeterminate"}[o] }

// op is one client operation as the client saw it. Times are on the run
// clock (cluster.since).
type op struct {
	Client  int
	Kind    opKind
	Key     int64
	Value   string // written value, or the value read ("" = no row)
	Call    time.Duration
	Return  time.Duration
	Outcome outcome
	Err     string
	Final   bool // a read of the final check, after every fault healed
	Direct  bool // a read sent to a frozen keeper's own address, not the VIP
}

// history collects operations from all clients.
type history struct {
	mu  sync.Mutex
	ops []op
	// lastWrite is the latest call time of an acknowledged write: the
	// fault loop waits for it to pass the heal time.
	lastWrite atomic.Int64
	// lastAcked is the acknowledged write added last (reads sent to a
	// frozen primary ask for its key).
	lastAcked atomic.Pointer[op]
}

func (h *history) add(o op) {
	h.mu.Lock()
	h.ops = append(h.ops, o)
	h.mu.Unlock()
	if o.Outcome == ok && o.Kind.write() {
		h.lastAcked.Store(&o)
		for {
			old := h.lastWrite.Load()
			if int64(o.Call) <= old || h.lastWrite.CompareAndSwap(old, int64(o.Call)) {
				break
			}
		}
	}
}

func (h *history) snapshot() []op {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]op(nil), h.ops...)
}

// codeUnavailable is the code of a read refused by a store that cannot
// prove its storage lease (vectordb.ErrLeaseUnproven): nothing was read.
const codeUnavailable = 2

// definiteCodes are Milvus codes that this server returns only after
// rejecting a request before anything was logged (validation, unknown
// names, a read refused for an unproven lease). Code 1 (not ready) is ambiguous: "not primary" is a standby that
// never writes, but "fenced" is a primary whose batch was written and
// synced before the fence check failed — that batch is inside the new
// owner's seal if it was synced in time, so it may well be durable.
var definiteCodes = map[int32]bool{
	codeUnavailable: true, 10: true, 100: true, 101: true, 105: true, 109: true, 700: true, 701: true,
	702: true, 800: true, 1100: true, 1101: true, 1102: true, 1200: true,
	1700: true, 1800: true, 1801: true, 1802: true, 1804: true,
}

// classify maps a client error to the outcome a checker may assume.
func classify(err error) outcome {
	if err == nil {
		return ok
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return indeterminate
	}
	if s, isStatus := status.FromError(err); isStatus {
		// grpc-go fails an RPC with this message only when no transport
		// could be picked: the request never left the client.
		if s.Code() == codes.Unavailable && strings.Contains(s.Message(), "Error while dialing") {
			return failed
		}
		return indeterminate
	}
	code := merr.Code(err)
	if definiteCodes[code] || (code == 1 && strings.Contains(err.Error(), "not primary")) {
		return failed
	}
	return indeterminate
}

// dialer creates sockets inside the client host's namespace.
func dialer(h *netlab.Host) func(ctx context.Context, addr string) (net.Conn, error) {
	return func(ctx context.Context, addr string) (net.Conn, error) {
		var conn net.Conn
		err := h.Do(func() error {
			var err error
			conn, err = (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
			return err
		})
		return conn, err
	}
}

// newClient connects an SDK client in host h to the VIP.
func newClient(ctx context.Context, h *netlab.Host) (*milvusclient.Client, error) {
	return newClientAt(ctx, h, vip+":19530", 30*time.Second)
}

// newClientAt connects an SDK client in host h to addr, waiting at most
// within for the server to answer.
func newClientAt(ctx context.Context, h *netlab.Host, addr string, within time.Duration) (*milvusclient.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	return milvusclient.New(ctx, &milvusclient.ClientConfig{
		Address: addr,
		DialOptions: []grpc.DialOption{
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithContextDialer(dialer(h)),
			grpc.WithConnectParams(grpc.ConnectParams{
				Backoff:           backoff.Config{BaseDelay: 20 * time.Millisecond, Multiplier: 1.5, MaxDelay: 200 * time.Millisecond},
				MinConnectTimeout: time.Second,
			}),
		},
	})
}

// createCollection sets up the key -> value collection: int64 key, varchar
// value, a small vector.
func createCollection(ctx context.Context, c *milvusclient.Client) error {
	schema := entity.NewSchema().WithName(coll).
		WithField(entity.NewField().WithName("id").WithDataType(entity.FieldTypeInt64).WithIsPrimaryKey(true)).
		WithField(entity.NewField().WithName("val").WithDataType(entity.FieldTypeVarChar).WithMaxLength(64)).
		WithField(entity.NewField().WithName("vec").WithDataType(entity.FieldTypeFloatVector).WithDim(dim))
	if err := c.CreateCollection(ctx, milvusclient.NewCreateCollectionOption(coll, schema)); err != nil {
		return fmt.Errorf("create collection: %w", err)
	}
	it, err := c.CreateIndex(ctx, milvusclient.NewCreateIndexOption(coll, "vec", index.NewAutoIndex(entity.L2)))
	if err != nil {
		return fmt.Errorf("create index: %w", err)
	}
	if err := it.Await(ctx); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	lt, err := c.LoadCollection(ctx, milvusclient.NewLoadCollectionOption(coll))
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	return lt.Await(ctx)
}

// noRetry turns off the SDK's own retry of Unavailable: a retried write
// would be one recorded operation with two effects.
var noRetry = grpc_retry.Disable()

// client runs one SDK client against the VIP and records every operation.
type client struct {
	id    int
	c     *milvusclient.Client
	rnd   *rand.Rand
	keys  int
	salt  string
	since func() time.Duration
	hist  *history
	setID *atomic.Int64
	seq   int
}

func (cl *client) value() string {
	cl.seq++
	return fmt.Sprintf("%s-%02d-%09d", cl.salt, cl.id, cl.seq)
}

func (cl *client) vector() []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = cl.rnd.Float32()
	}
	return v
}

// run issues operations until ctx ends: 25% insert (a fifth of them to a
// fresh key of the set workload), 20% upsert, 10% delete, 25% get, 20%
// query.
func (cl *client) run(ctx context.Context) {
	for ctx.Err() == nil {
		o := cl.next()
		cl.do(ctx, &o)
		if ctx.Err() != nil && o.Outcome != ok {
			// Cut short by the end of the run, not by a fault; an
			// unfinished write stays indeterminate.
			if !o.Kind.write() {
				continue
			}
		}
		cl.hist.add(o)
		if o.Outcome == ok {
			time.Sleep(time.Duration(2+cl.rnd.IntN(8)) * time.Millisecond)
		} else {
			time.Sleep(time.Duration(30+cl.rnd.IntN(40)) * time.Millisecond)
		}
	}
}

func (cl *client) next() op {
	o := op{Client: cl.id, Key: int64(cl.rnd.IntN(cl.keys))}
	switch p := cl.rnd.IntN(100); {
	case p < 25:
		o.Kind = opInsert
		if p < 5 {
			o.Key = setBase + cl.setID.Add(1)
		}
	case p < 45:
		o.Kind = opUpsert
	case p < 55:
		o.Kind = opDelete
	case p < 80:
		o.Kind = opGet
	default:
		o.Kind = opQuery
	}
	if o.Kind == opInsert || o.Kind == opUpsert {
		o.Value = cl.value()
	}
	return o
}

// do runs o against the server and fills in times and outcome.
func (cl *client) do(ctx context.Context, o *op) {
	octx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	o.Call = cl.since()
	var err error
	switch o.Kind {
	case opInsert, opUpsert:
		opt := milvusclient.NewColumnBasedInsertOption(coll).
			WithInt64Column("id", []int64{o.Key}).
			WithVarcharColumn("val", []string{o.Value}).
			WithFloatVectorColumn("vec", dim, [][]float32{cl.vector()})
		if o.Kind == opInsert {
			_, err = cl.c.Insert(octx, opt, noRetry)
		} else {
			_, err = cl.c.Upsert(octx, opt, noRetry)
		}
	case opDelete:
		_, err = cl.c.Delete(octx, milvusclient.NewDeleteOption(coll).WithInt64IDs("id", []int64{o.Key}), noRetry)
	case opGet, opQuery:
		o.Value, err = read(octx, cl.c, o.Kind, o.Key)
	}
	o.Return = cl.since()
	o.Outcome = classify(err)
	if err != nil {
		o.Err = err.Error()
	}
}

// read returns the value of key ("" when there is no row); two live rows
// for one key are an error of their own.
func read(ctx context.Context, c *milvusclient.Client, kind opKind, key int64) (string, error) {
	q := milvusclient.NewQueryOption(coll).WithOutputFields("val").WithConsistencyLevel(entity.ClStrong)
	if kind == opGet {
		q = q.WithIDs(column.NewColumnInt64("id", []int64{key}))
	} else {
		q = q.WithFilter(fmt.Sprintf("id == %d", key))
	}
	rs, err := c.Query(ctx, q, noRetry)
	if err != nil {
		return "", err
	}
	col := rs.GetColumn("val")
	switch {
	case rs.ResultCount == 0 || col == nil || col.Len() == 0:
		return "", nil
	case col.Len() > 1:
		vals := make([]string, col.Len())
		for i := range vals {
			vals[i], _ = col.GetAsString(i)
		}
		return "DUPLICATE:" + strings.Join(vals, ","), nil
	}
	return col.GetAsString(0)
}

// readAll reads keys in batches of up to 1000 (for the final checks),
// retrying each batch until ctx ends.
func readAll(ctx context.Context, c *milvusclient.Client, keys []int64) (map[int64]string, error) {
	out := map[int64]string{}
	for from := 0; from < len(keys); from += 1000 {
		ids := keys[from:min(from+1000, len(keys))]
		var rs milvusclient.ResultSet
		var err error
		for ctx.Err() == nil {
			qctx, cancel := context.WithTimeout(ctx, opTimeout)
			rs, err = c.Query(qctx, milvusclient.NewQueryOption(coll).WithIDs(column.NewColumnInt64("id", ids)).WithOutputFields("id", "val"), noRetry)
			cancel()
			if err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			return nil, err
		}
		idc, valc := rs.GetColumn("id"), rs.GetColumn("val")
		for i := 0; i < rs.ResultCount; i++ {
			k, _ := idc.GetAsInt64(i)
			v, _ := valc.GetAsString(i)
			if old, dup := out[k]; dup {
				v = "DUPLICATE:" + old + "," + v
			}
			out[k] = v
		}
	}
	return out, nil
}
