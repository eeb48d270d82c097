package service

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// healthServer answers CheckHealth with a fixed response or error.
type healthServer struct {
	milvuspb.UnimplementedMilvusServiceServer
	resp *milvuspb.CheckHealthResponse
	err  error
}

func (s *healthServer) CheckHealth(context.Context, *milvuspb.CheckHealthRequest) (*milvuspb.CheckHealthResponse, error) {
	return s.resp, s.err
}

func startHealthServer(t testing.TB, hs *healthServer) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	milvuspb.RegisterMilvusServiceServer(srv, hs)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return ln.Addr().String()
}

func TestCheckMilvusGRPC(t *testing.T) {
	for _, tc := range []struct {
		name     string
		hs       *healthServer
		wantErr  string
		wantSent error
	}{
		{"healthy", &healthServer{resp: &milvuspb.CheckHealthResponse{Status: &commonpb.Status{}, IsHealthy: true}}, "", nil},
		{"unhealthy with reasons", &healthServer{resp: &milvuspb.CheckHealthResponse{
			Status: &commonpb.Status{}, IsHealthy: false, Reasons: []string{"querynode down", "disk quota"}}},
			"querynode down; disk quota", ErrUnhealthy},
		{"unhealthy without reasons", &healthServer{resp: &milvuspb.CheckHealthResponse{Status: &commonpb.Status{}}},
			"no reason given", ErrUnhealthy},
		{"error status", &healthServer{resp: &milvuspb.CheckHealthResponse{
			Status: &commonpb.Status{Code: 65535, Reason: "not ready"}, IsHealthy: true}},
			"status 65535: not ready", nil},
		{"rpc error", &healthServer{err: status.Error(codes.Unauthenticated, "auth required")}, "auth required", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := startHealthServer(t, tc.hs)
			err := CheckMilvusGRPC(testCtx(t), addr)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), addr) {
				t.Fatalf("err = %v, want it to contain %q and the address", err, tc.wantErr)
			}
			if tc.wantSent != nil && !errors.Is(err, tc.wantSent) {
				t.Fatalf("err = %v, want it to wrap %v", err, tc.wantSent)
			}
		})
	}
}

func TestCheckMilvusGRPCNoServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	err = CheckMilvusGRPC(testCtx(t), addr)
	if err == nil || errors.Is(err, ErrUnhealthy) {
		t.Fatalf("err = %v", err)
	}
	if status.Code(errors.Unwrap(err)) != codes.Unavailable {
		t.Fatalf("err = %v, want Unavailable", err)
	}
	if err := CheckMilvusGRPC(testCtx(t), "bad address::"); err == nil {
		t.Fatal("accepted a bad address")
	}
}
