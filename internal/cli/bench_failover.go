package cli

import (
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/milvus-ha/milvus-ha/internal/failbench"
)

func init() { benchCommands = append(benchCommands, newBenchFailoverCmd) }

func newBenchFailoverCmd() *cobra.Command {
	var (
		o     failbench.Options
		debug bool
		only  string
	)
	cmd := &cobra.Command{
		Use:   "failover",
		Short: "Client-visible unavailability through the VIP: milvus-ha vs the keepalived recipe, in a netns lab (root)",
		Long: `Runs a milvus-ha pair (two keepers, embedded service, advert 100ms) and the
recipe rebuilt with keepalived (check and notify scripts cold-starting
'milvus-ha serve') in network namespaces, with a gRPC client inserting a row
through the VIP every few milliseconds. Measures, -n times each, the
unavailability the client sees for: host loss (link down), power loss,
service crash (kill -9), planned switchover and resume; then loads --rows
vectors and measures switchovers and promote times with them in the store.
Prints p50/p99 per scenario, the recipe's numbers and the ratio, and where
milvus-ha's time went. Needs root.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bin, err := os.Executable()
			if err != nil {
				return err
			}
			o.Binary = bin
			if only != "" {
				if o.Only, err = failbench.ParseScenarios(only); err != nil {
					return err
				}
			}
			if o.Rows == 0 {
				o.Rows = -1 // 0 on the command line means no P4
			}
			level := slog.LevelInfo
			if debug {
				level = slog.LevelDebug
			}
			o.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			_, err = failbench.Run(cmd.Context(), o, cmd.OutOrStdout())
			return err
		},
	}
	f := cmd.Flags()
	f.IntVarP(&o.Reps, "reps", "n", 5, "repetitions of each scenario")
	f.IntVar(&o.Rows, "rows", 1_000_000, "P4 data set size in vectors (0 skips P4)")
	f.IntVar(&o.Dim, "dim", 128, "P4 vector dimension")
	f.IntVar(&o.Batch, "batch", 10_000, "insert batch size while loading the P4 data set")
	f.DurationVar(&o.Interval, "interval", 5*time.Millisecond, "client call period (the measurement's resolution)")
	f.DurationVar(&o.CallTimeout, "call-timeout", 200*time.Millisecond, "client per-call timeout")
	f.DurationVar(&o.DialTimeout, "dial-timeout", 50*time.Millisecond, "client TCP connect timeout")
	f.StringVar(&o.Keepalived, "keepalived", "", `keepalived executable for the recipe baseline ("" = from PATH, "none" = no baseline)`)
	f.StringVar(&only, "only", "", "comma-separated scenarios to run (host-loss, power-loss, keeper-kill, service-crash, switchover, p4); default all")
	f.BoolVar(&o.ExecPreempt, "exec-preempt", false, "run the exec pair with preemption and check that a node whose service crashed stays out")
	f.BoolVar(&o.Keep, "keep", false, "keep the rigs' directories (configurations, logs) and name them in the report")
	f.BoolVar(&debug, "debug", false, "log at debug level")
	return cmd
}
