package milvusapi

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/milvus-ha/milvus-ha/internal/vectordb"
)

// Chaos bug 2: stepping down took exactly the drain time (5 s) with
// clients busy, because a graceful stop waited on connections whose VIP
// was already gone and whose clients would never close them. With Drain 0
// (the keeper's setting) Serve returns while a client connection stays
// open and silent: it never waits on its clients. (With a drain, this test
// waits out the whole drain: Options{Drain: time.Hour} fails it.)
func TestServeWithoutDrainDoesNotWaitForClients(t *testing.T) {
	db, err := vectordb.Open(t.Context(), t.TempDir(), vectordb.Options{NodeID: "n", Mode: vectordb.Primary,
		LeaseTimeout: 10 * time.Second, HeartbeatInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := New(db, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()

	// A client with a call in flight that then goes silent, ever: the
	// call's message never comes, nothing is acknowledged or closed (a
	// client behind a VIP that moved).
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	var hdr bytes.Buffer
	enc := hpack.NewEncoder(&hdr)
	for _, f := range []hpack.HeaderField{
		{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "http"},
		{Name: ":path", Value: "/milvus.proto.milvus.MilvusService/GetVersion"},
		{Name: ":authority", Value: "x"}, {Name: "content-type", Value: "application/grpc"}, {Name: "te", Value: "trailers"},
	} {
		if err := enc.WriteField(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hdr.Bytes(), EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	// The server's first frame: the connection is up in grpc-go, and the
	// stream follows on the same connection.
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := fr.ReadFrame(); err != nil {
		t.Fatalf("no HTTP/2 frame from the server: %v", err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve is still waiting for a client that never closes its connection")
	}
}
