package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/milvus-ha/milvus-ha/internal/config"
	"github.com/milvus-ha/milvus-ha/internal/keeper"
)

// newConfigCmd is `milvus-ha config check FILE [--peer OTHER]`: load a
// native YAML or a keepalived.conf, print warnings and errors with
// FILE:LINE on stderr and the effective settings on stdout; for a native
// file also the failover plan (lease timing, worst-case failover, the data
// directory and its sync latency), and with --peer the checks across the
// pair. Exit status 1 when the file (or the pair) is not usable.
func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Inspect configuration files",
	}
	var peer string
	var samples int
	check := &cobra.Command{
		Use:   "check FILE",
		Short: "Validate a node.yaml or keepalived.conf and print the effective settings",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
			cfg, err := loadReport(stderr, args[0])
			if err != nil {
				return err
			}
			fmt.Fprint(stdout, cfg.Describe())
			if cfg.Keeper == nil {
				if peer != "" {
					return fmt.Errorf("%s: --peer needs native configurations", args[0])
				}
				return nil
			}
			plan := keeper.CheckPlan(cfg, samples)
			fmt.Fprint(stdout, plan.String())
			for _, w := range plan.Warnings {
				fmt.Fprintf(stderr, "warning: %s\n", w)
			}
			for _, e := range plan.Errors {
				fmt.Fprintf(stderr, "error: %s\n", e)
			}
			nerr := len(plan.Errors)
			if peer != "" {
				other, err := loadReport(stderr, peer)
				if err != nil {
					return err
				}
				warns, errs := cfg.ComparePeer(other)
				for _, w := range warns {
					fmt.Fprintf(stderr, "warning: %s\n", w)
				}
				for _, e := range errs {
					fmt.Fprintf(stderr, "error: %s\n", e)
				}
				nerr += len(errs)
			}
			if nerr > 0 {
				return fmt.Errorf("%s: %d error(s)", args[0], nerr)
			}
			return nil
		},
	}
	check.Flags().StringVar(&peer, "peer", "", "the other node's configuration: check the pair (VRID, VIP, timing, priorities, data_dir)")
	check.Flags().IntVar(&samples, "sync-samples", 20, "write+fdatasync samples to time in data_dir (0: do not measure)")
	cmd.AddCommand(check)
	return cmd
}

// loadReport loads path and prints its warnings and errors on w.
func loadReport(w io.Writer, path string) (*config.Config, error) {
	cfg, warns, err := config.Load(path)
	for _, wr := range warns {
		fmt.Fprintf(w, "warning: %s\n", wr)
	}
	if err != nil {
		var es config.Errors
		if !errors.As(err, &es) {
			return nil, err
		}
		for _, e := range es {
			fmt.Fprintf(w, "error: %s\n", e)
		}
		return nil, fmt.Errorf("%s: %d error(s)", path, len(es))
	}
	return cfg, nil
}
