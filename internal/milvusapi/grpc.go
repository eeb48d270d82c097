package milvusapi

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"strings"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// MaxMessageSize bounds one gRPC message (and one REST body) in either
// direction, as Milvus' proxy does (its defaults are 64–256 MiB).
const MaxMessageSize = 256 << 20

// Keepalive enforcement. The Go SDK pings every 5 s even without active
// RPCs; grpc-go's default policy (5 min, no pings without streams) answers
// that with GOAWAY "too_many_pings" after ~30 s idle. MinTime is below the
// SDK's interval so network jitter never counts as a strike.
var keepalivePolicy = keepalive.EnforcementPolicy{MinTime: 2 * time.Second, PermitWithoutStream: true}

const milvusServicePrefix = "/milvus.proto.milvus.MilvusService/"

func newGRPCServer(svc *service, auth *credential, m *metrics) *grpc.Server {
	gs := grpc.NewServer(
		grpc.MaxRecvMsgSize(MaxMessageSize),
		grpc.MaxSendMsgSize(MaxMessageSize),
		grpc.KeepaliveEnforcementPolicy(keepalivePolicy),
		grpc.StatsHandler(&transportStats{m: m}),
		grpc.ChainUnaryInterceptor(observeInterceptor(m), authInterceptor(auth)),
	)
	milvuspb.RegisterMilvusServiceServer(gs, svc)
	return gs
}

// credential is the configured "user:password" or token; nil disables
// authentication.
type credential struct{ secret string }

func newCredential(s string) *credential {
	if s == "" {
		return nil
	}
	return &credential{secret: s}
}

func (c *credential) match(presented string) bool {
	return subtle.ConstantTimeCompare([]byte(presented), []byte(c.secret)) == 1
}

// Authentication failures are gRPC Unauthenticated errors, not statuses:
// Milvus' proxy rejects them in an interceptor before any handler runs.
var (
	errAuthMissing = status.Error(codes.Unauthenticated, "missing authorization in header")
	errAuthWrong   = status.Error(codes.Unauthenticated, "auth check failure, please check username and password are correct")
)

// authInterceptor checks the `authorization` metadata: base64 of
// "user:password" or of a token, as the SDKs send it (Connect included).
func authInterceptor(c *credential) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if c == nil {
			return handler(ctx, req)
		}
		md, _ := metadata.FromIncomingContext(ctx)
		vals := md.Get("authorization")
		if len(vals) == 0 || vals[0] == "" {
			return nil, errAuthMissing
		}
		raw, err := base64.StdEncoding.DecodeString(vals[0])
		if err != nil || !c.match(string(raw)) {
			return nil, errAuthWrong
		}
		return handler(ctx, req)
	}
}

type rpcTagKey struct{}

// rpcTag follows one RPC from the stats handler to the interceptor, so a
// failure that never reached the interceptor (undecodable request,
// oversized message) is still counted.
type rpcTag struct {
	method  string
	reached bool
}

// observeInterceptor records requests, latency and Milvus error codes, and
// turns gRPC Unimplemented from the embedded default server into the
// Milvus status clients expect (code 10, naming milvus-ha).
func observeInterceptor(m *metrics) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if tag, ok := ctx.Value(rpcTagKey{}).(*rpcTag); ok {
			tag.reached = true
		}
		method := strings.TrimPrefix(info.FullMethod, milvusServicePrefix)
		start := time.Now()
		resp, err := handler(ctx, req)
		if status.Code(err) == codes.Unimplemented && strings.HasPrefix(info.FullMethod, milvusServicePrefix) {
			if r := unimplementedResponse(method); r != nil {
				resp, err = r, nil
			}
		}
		switch {
		case err != nil:
			m.failed(method, "grpc_"+status.Code(err).String())
			m.latency.WithLabelValues(method).Observe(time.Since(start).Seconds())
		default:
			m.observe(method, start, responseCode(resp))
		}
		return resp, err
	}
}

// responseCode extracts the Milvus code of a response (its status).
func responseCode(resp any) int32 {
	var st *commonpb.Status
	switch r := resp.(type) {
	case *commonpb.Status:
		st = r
	case interface{ GetStatus() *commonpb.Status }:
		st = r.GetStatus()
	}
	if st == nil {
		return 0
	}
	if st.GetCode() != 0 {
		return st.GetCode()
	}
	return int32(st.GetErrorCode())
}

// unimplementedResponse builds the declared response of a MilvusService
// method with its status set to "unimplemented" (code 10). It works from
// the service descriptor, so every RPC of the proto gets a well-formed
// answer without a hand-written stub.
func unimplementedResponse(method string) proto.Message {
	sd := milvuspb.File_milvus_proto.Services().ByName("MilvusService")
	if sd == nil {
		return nil
	}
	md := sd.Methods().ByName(protoreflect.Name(method))
	if md == nil || md.IsStreamingClient() || md.IsStreamingServer() {
		return nil
	}
	st := statusOf(errf(CodeUnimplemented, "service unimplemented: %s is not implemented by milvus-ha", method))
	if md.Output().FullName() == (&commonpb.Status{}).ProtoReflect().Descriptor().FullName() {
		return st
	}
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.Output().FullName())
	if err != nil {
		return nil
	}
	msg := mt.New()
	fd := msg.Descriptor().Fields().ByName("status")
	if fd == nil || fd.Message() == nil || fd.Message().FullName() != st.ProtoReflect().Descriptor().FullName() {
		return nil
	}
	msg.Set(fd, protoreflect.ValueOfMessage(st.ProtoReflect()))
	return msg.Interface()
}

// transportStats counts RPCs that failed before the interceptor ran.
type transportStats struct{ m *metrics }

func (t *transportStats) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	return context.WithValue(ctx, rpcTagKey{}, &rpcTag{method: strings.TrimPrefix(info.FullMethodName, milvusServicePrefix)})
}

func (t *transportStats) HandleRPC(ctx context.Context, s stats.RPCStats) {
	end, ok := s.(*stats.End)
	if !ok || end.Error == nil {
		return
	}
	if tag, ok := ctx.Value(rpcTagKey{}).(*rpcTag); ok && !tag.reached {
		t.m.failed(tag.method, "grpc_"+status.Code(end.Error).String())
	}
}

func (t *transportStats) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}

func (t *transportStats) HandleConn(context.Context, stats.ConnStats) {}
