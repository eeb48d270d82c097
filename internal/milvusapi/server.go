package milvusapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"

	"github.com/milvus-ha/milvus-ha/internal/vectordb"
)

// Options configure a Server.
type Options struct {
	// Auth enables authentication when non-empty: clients must present
	// this "user:password" (or token) in the authorization header.
	Auth string
	// Version is the milvus-ha build version reported by Connect.
	Version string
	// Logger receives serving errors; nil means slog.Default().
	Logger *slog.Logger
	// Registry receives the server's metrics; nil means a fresh registry
	// (with Go and process collectors) served on /metrics.
	Registry *prometheus.Registry
	// Drain is how long in-flight calls may finish when Serve stops; 0
	// stops at once. A single server drains (serve: 5 s); the keeper does
	// not, because when it stops the API its VIP is already gone: no reply
	// could reach a client, and a graceful stop would only wait out
	// connections it can no longer talk on while the peer waits for the
	// lease.
	Drain time.Duration
}

// Server serves the Milvus gRPC MilvusService and the REST v2 API for one
// vectordb.DB, both on one listener, plus /healthz and /metrics on a
// separate HTTP handler.
type Server struct {
	db   *vectordb.DB
	svc  *service
	gs   *grpc.Server
	rest http.Handler
	reg  *prometheus.Registry
	log  *slog.Logger
	m    *metrics
	// drain is Options.Drain.
	drain time.Duration
	// hold is the planned-handover state (Hold, Release).
	hold *holdGate
}

// New builds a server for db. It does not listen; see Serve.
func New(db *vectordb.DB, opts Options) *Server {
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	m := newMetrics(reg)
	svc := newService(db, opts.Version, m)
	auth := newCredential(opts.Auth)
	hold := newHoldGate()
	return &Server{
		db:    db,
		svc:   svc,
		gs:    newGRPCServer(svc, auth, m),
		rest:  hold.restHandler(newREST(svc, auth, m)),
		reg:   reg,
		log:   log,
		m:     m,
		drain: opts.Drain,
		hold:  hold,
	}
}

// Hold starts a planned handover: calls that arrive from now on are held
// (a gRPC call stays unread in its connection, a REST request waits), and
// Hold returns once the calls already taken have finished, or with ctx's
// error when they did not in time. After it nothing is written through
// this server. Release ends the hold.
func (s *Server) Hold(ctx context.Context) error { return s.hold.hold(ctx) }

// Release hands the held calls back to their clients, once the peer
// answers at the service address: each gRPC connection gets an HTTP/2
// GOAWAY below its held calls, which gRPC clients retry on their own on a
// new connection; held REST requests get 503 with Retry-After. Connections
// made later are closed. Without a Hold it does nothing; stopping a held
// server releases it.
func (s *Server) Release() { s.hold.release() }

// MilvusService returns the service implementation itself, for in-process
// callers (benchmarks) that want the same code path without the wire.
func (s *Server) MilvusService() milvuspb.MilvusServiceServer { return s.svc }

// Serve serves gRPC and REST on ln until ctx is done, then stops
// gracefully (in-flight RPCs finish, bounded by a short grace period).
// It returns nil after a ctx-initiated stop.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	mux := newConnMux(ln)
	hs := &http.Server{
		Handler:           s.rest,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 3)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); errc <- mux.serve() }()
	go func() { defer wg.Done(); errc <- s.gs.Serve(s.hold.listener(mux.grpc)) }()
	go func() { defer wg.Done(); errc <- hs.Serve(mux.http) }()

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		err = fmt.Errorf("milvus api: %w", err)
	}
	ln.Close()
	s.hold.release()
	if s.drain <= 0 {
		s.gs.Stop()
		_ = hs.Close()
		wg.Wait()
		return err
	}
	stopped := make(chan struct{})
	go func() { s.gs.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(s.drain):
		s.gs.Stop()
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.drain)
	defer cancel()
	_ = hs.Shutdown(sctx)
	wg.Wait()
	return err
}

// HealthHandler serves /healthz (200 "OK" while the store is primary, 500
// otherwise; JSON when asked with Content-Type: application/json, as
// Milvus) and /metrics.
func (s *Server) HealthHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", s.healthz)
	mux.Handle("/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	return mux
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	role := s.db.Role()
	healthy := role == vectordb.RolePrimary
	state := "OK"
	code := http.StatusOK
	if !healthy {
		state = "milvus-ha store is " + role.String()
		code = http.StatusInternalServerError
	}
	if r.Header.Get("Content-Type") == "application/json" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		sc := 1 // Milvus StateCode Healthy
		if !healthy {
			sc = 2 // Abnormal
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"state":  state,
			"detail": []map[string]any{{"name": "milvus-ha", "code": sc}},
		})
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(state))
}

// ServeHealth serves HealthHandler on ln until ctx is done.
func (s *Server) ServeHealth(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: s.HealthHandler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("health listener: %w", err)
	}
	return nil
}
