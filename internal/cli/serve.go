package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/milvus-ha/milvus-ha/internal/milvusapi"
	"github.com/milvus-ha/milvus-ha/internal/vectordb"
)

// newServeCmd runs the embedded Milvus-compatible server alone: one node,
// no VRRP, no failover. gRPC and REST v2 share --listen, as in Milvus.
func newServeCmd() *cobra.Command {
	var dataDir, listen, healthListen, auth, nodeID string
	var lease, heartbeat time.Duration
	cmd := &cobra.Command{
		Use:   "serve --data DIR",
		Short: "Serve the embedded Milvus-compatible vector server (single node)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dataDir == "" {
				return serveUsageError{errors.New("--data is required")}
			}
			if nodeID == "" {
				nodeID, _ = os.Hostname()
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, nil))
			ctx := cmd.Context()
			db, err := vectordb.Open(ctx, dataDir, vectordb.Options{
				NodeID: nodeID, Mode: vectordb.Primary, Logger: log,
				LeaseTimeout: lease, HeartbeatInterval: heartbeat,
			})
			if err != nil {
				return fmt.Errorf("open %s: %w", dataDir, err)
			}
			defer db.Close()
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			hln, err := net.Listen("tcp", healthListen)
			if err != nil {
				ln.Close()
				return err
			}
			srv := milvusapi.New(db, milvusapi.Options{Auth: auth, Version: Version, Logger: log, Drain: 5 * time.Second})
			log.Info("serving", "api", ln.Addr().String(), "health", hln.Addr().String(), "data", dataDir, "auth", auth != "")
			g, gctx := errgroup.WithContext(ctx)
			g.Go(func() error { return srv.Serve(gctx, ln) })
			g.Go(func() error { return srv.ServeHealth(gctx, hln) })
			g.Go(func() error {
				select {
				case <-db.Fenced():
					return errors.New("store stopped being primary (fenced or storage failure)")
				case <-gctx.Done():
					return nil
				}
			})
			return g.Wait()
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data", "", "data directory (created if missing)")
	f.StringVar(&listen, "listen", ":19530", "gRPC and REST v2 listen address")
	f.StringVar(&healthListen, "health-listen", ":9091", "/healthz and /metrics listen address")
	f.StringVar(&auth, "auth", "", "require this user:password (or token) from clients")
	f.StringVar(&nodeID, "node-id", "", "node name in the storage lease (default: host name)")
	// Alone there is no peer waiting to take over, so a lease tuned for
	// fast failover would only fence the server during a GC pause or a
	// busy moment on a shared host.
	f.DurationVar(&lease, "lease-timeout", 10*time.Second, "storage lease timeout")
	f.DurationVar(&heartbeat, "heartbeat", 500*time.Millisecond, "storage lease heartbeat interval")
	return cmd
}

// serveUsageError makes the command exit with status 2.
type serveUsageError struct{ error }

func (serveUsageError) ExitCode() int { return 2 }
