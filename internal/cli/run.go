package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/milvus-ha/milvus-ha/internal/config"
	"github.com/milvus-ha/milvus-ha/internal/keeper"
	"github.com/milvus-ha/milvus-ha/internal/speaker"
)

func newRunCmd() *cobra.Command {
	var (
		path          string
		metricsListen string
		debug         bool
	)
	cmd := &cobra.Command{
		Use:   "run --config FILE",
		Short: "Run the VRRP speaker (and, with a native config, the keeper) from a native YAML or keepalived.conf",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			level := slog.LevelInfo
			if debug {
				level = slog.LevelDebug
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			return runNode(cmd.Context(), log, path, metricsListen)
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "", "configuration file (native YAML or keepalived.conf)")
	cmd.Flags().StringVar(&metricsListen, "metrics-listen", "", "serve Prometheus /metrics on this address (e.g. 127.0.0.1:9701)")
	cmd.Flags().BoolVar(&debug, "debug", false, "log at debug level")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

// runNode loads the configuration and runs the keeper (native config with
// a keeper section) or the VRRP speaker alone (keepalived.conf).
func runNode(ctx context.Context, log *slog.Logger, path, metricsListen string) error {
	cfg, warns, err := config.Load(path)
	for _, w := range warns {
		log.Warn("config", "warning", w.String())
	}
	if err != nil {
		return err
	}
	if cfg.Keeper != nil {
		k, err := keeper.New(ctx, cfg, keeper.Options{Logger: log, Version: Version})
		if err != nil {
			return err
		}
		return k.Run(ctx)
	}
	return runSpeaker(ctx, log, cfg, path, metricsListen)
}

// runSpeaker opens every instance before starting any (a broken instance
// means no half-started daemon), then runs them all until ctx ends.
func runSpeaker(ctx context.Context, log *slog.Logger, cfg *config.Config, path, metricsListen string) error {
	reg := prometheus.NewRegistry()
	metrics := speaker.NewMetrics(reg)
	var insts []*speaker.Instance
	closeAll := func() {
		for _, in := range insts {
			in.Close()
		}
	}
	for _, ic := range cfg.Instances {
		in, err := speaker.New(ic, speaker.Options{Logger: log, Metrics: metrics, Scripts: cfg.Scripts})
		if err != nil {
			closeAll()
			return err
		}
		insts = append(insts, in)
	}
	if metricsListen != "" {
		srv := &http.Server{Addr: metricsListen, Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics listener", "err", err)
			}
		}()
		defer srv.Close()
	}
	log.Info("milvus-ha running", "config", path, "format", string(cfg.Format), "instances", len(insts))
	var wg sync.WaitGroup
	errs := make([]error, len(insts))
	for i, in := range insts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := in.Run(ctx); err != nil {
				errs[i] = fmt.Errorf("instance %s: %w", in.Name(), err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
