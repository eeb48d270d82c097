package milvusapi

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// BenchmarkTransport compares the two ways to put gRPC and REST on one
// port: connMux handing HTTP/2 connections to grpc-go's own transport (what
// Serve does), and one http.Server (h2c) dispatching application/grpc
// requests to grpc.Server.ServeHTTP. The RPC is GetVersion, so the
// transport is nearly all that is measured.
//
//	go test -run '^$' -bench Transport ./internal/milvusapi/
func BenchmarkTransport(b *testing.B) {
	newServer := func() *grpc.Server {
		return newGRPCServer(newService(nil, "bench", newMetrics(prometheus.NewRegistry())), nil, newMetrics(prometheus.NewRegistry()))
	}
	run := func(b *testing.B, addr string) {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		c := milvuspb.NewMilvusServiceClient(conn)
		ctx := context.Background()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.GetVersion(ctx, &milvuspb.GetVersionRequest{}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	b.Run("sniffer+native", func(b *testing.B) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		m := newConnMux(ln)
		gs := newServer()
		go m.serve()
		go gs.Serve(m.grpc)
		defer gs.Stop()
		defer ln.Close()
		run(b, ln.Addr().String())
	})
	b.Run("h2c+ServeHTTP", func(b *testing.B) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		gs := newServer()
		h := h2c.NewHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
				gs.ServeHTTP(w, r)
				return
			}
			http.NotFound(w, r)
		}), &http2.Server{})
		hs := &http.Server{Handler: h}
		go hs.Serve(ln)
		defer hs.Close()
		run(b, ln.Addr().String())
	})
}
