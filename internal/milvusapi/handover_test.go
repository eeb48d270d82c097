package milvusapi

import (
	"context"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/milvus-ha/milvus-ha/internal/vectordb"
)

// servedServer runs a Server over a fresh primary store on a loopback port.
func servedServer(t *testing.T) (*Server, string) {
	t.Helper()
	// A long lease: a loaded machine must not fence the store mid-test.
	db, err := vectordb.Open(t.Context(), t.TempDir(), vectordb.Options{NodeID: "n", Mode: vectordb.Primary,
		LeaseTimeout: 10 * time.Second, HeartbeatInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := New(db, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ctx, ln)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		db.Close()
	})
	return srv, ln.Addr().String()
}

func createCollection(t *testing.T, c milvuspb.MilvusServiceClient, name string) {
	t.Helper()
	schema, err := proto.Marshal(&schemapb.CollectionSchema{Name: name, Fields: []*schemapb.FieldSchema{
		{FieldID: 100, Name: "id", DataType: schemapb.DataType_Int64, IsPrimaryKey: true},
		{FieldID: 101, Name: "vec", DataType: schemapb.DataType_FloatVector,
			TypeParams: []*commonpb.KeyValuePair{{Key: "dim", Value: strconv.Itoa(2)}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.CreateCollection(t.Context(), &milvuspb.CreateCollectionRequest{CollectionName: name, Schema: schema})
	if err != nil || st.GetCode() != 0 {
		t.Fatalf("create %s: %v %v", name, st, err)
	}
}

// A planned handover fails no call: a call made while the old server is
// held waits unread, and on Release it is retried by grpc-go on a new
// connection, which reaches the new server at the same address. No timing
// is asserted: the test waits for the held call to be seen by the server.
func TestHoldReleaseMovesHeldCallsToThePeer(t *testing.T) {
	old, oldAddr := servedServer(t)
	_, newAddr := servedServer(t)

	// The "VIP": where a new connection of the client goes.
	var mu sync.Mutex
	target := oldAddr
	dial := func(ctx context.Context, _ string) (net.Conn, error) {
		mu.Lock()
		addr := target
		mu.Unlock()
		return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}
	conn, err := grpc.NewClient("passthrough:///vip", grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithContextDialer(dial))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := milvuspb.NewMilvusServiceClient(conn)
	createCollection(t, c, "on_old")

	direct, err := grpc.NewClient(newAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	createCollection(t, milvuspb.NewMilvusServiceClient(direct), "on_new")

	if err := old.Hold(t.Context()); err != nil {
		t.Fatalf("hold with nothing in flight: %v", err)
	}
	type answer struct {
		names []string
		err   error
	}
	got := make(chan answer, 1)
	go func() {
		resp, err := c.ShowCollections(context.Background(), &milvuspb.ShowCollectionsRequest{})
		got <- answer{resp.GetCollectionNames(), err}
	}()
	for old.hold.waiting() == 0 {
		select {
		case a := <-got:
			t.Fatalf("call answered while held: %+v", a)
		case <-time.After(time.Millisecond):
		}
	}
	mu.Lock()
	target = newAddr
	mu.Unlock()
	old.Release()
	a := <-got
	if a.err != nil {
		t.Fatalf("held call failed instead of moving: %v", a.err)
	}
	if !slices.Equal(a.names, []string{"on_new"}) {
		t.Fatalf("held call answered %v, want the new server's collections", a.names)
	}
}

// The frame scanner finds frame headers in any split of the stream.
func TestFrameScanner(t *testing.T) {
	frame := func(typ, flags byte, stream uint32, payload int) []byte {
		b := []byte{byte(payload >> 16), byte(payload >> 8), byte(payload), typ, flags, 0, 0, 0, byte(stream)}
		return append(b, make([]byte, payload)...)
	}
	stream := slices.Concat(frame(frameHeaders, 4, 1, 20), frame(frameData, flagEndStream, 1, 5), frame(frameRSTStream, 0, 3, 4))
	want := []string{"1/4/1", "0/1/1", "3/0/3"}
	for split := 1; split <= len(stream); split++ {
		var s frameScanner
		var seen []string
		for b := stream; len(b) > 0; {
			k := min(split, len(b))
			s.scan(b[:k], func(typ, flags byte, id uint32) {
				seen = append(seen, strconv.Itoa(int(typ))+"/"+strconv.Itoa(int(flags))+"/"+strconv.Itoa(int(id)))
			})
			b = b[k:]
		}
		if !slices.Equal(seen, want) || !s.atBoundary() {
			t.Fatalf("split %d: saw %v (boundary %v), want %v", split, seen, s.atBoundary(), want)
		}
	}
}

// BenchmarkHoldGate measures what watching every gRPC connection for a
// handover costs: GetVersion through the mux with and without the gate.
//
//	go test -run '^$' -bench HoldGate ./internal/milvusapi/
func BenchmarkHoldGate(b *testing.B) {
	for _, gated := range []bool{false, true} {
		b.Run(map[bool]string{false: "plain", true: "gated"}[gated], func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			m := newConnMux(ln)
			gs := newGRPCServer(newService(nil, "bench", newMetrics(prometheus.NewRegistry())), nil, newMetrics(prometheus.NewRegistry()))
			go func() { _ = m.serve() }()
			var gln net.Listener = m.grpc
			if gated {
				gln = newHoldGate().listener(gln)
			}
			go func() { _ = gs.Serve(gln) }()
			defer gs.Stop()
			defer ln.Close()
			conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			c := milvuspb.NewMilvusServiceClient(conn)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.GetVersion(context.Background(), &milvuspb.GetVersionRequest{}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
