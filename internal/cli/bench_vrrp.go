package cli

import (
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/milvus-ha/milvus-ha/internal/vrrpbench"
)

func init() { benchCommands = append(benchCommands, newBenchVRRPCmd) }

func newBenchVRRPCmd() *cobra.Command {
	var (
		o      vrrpbench.Options
		debug  bool
		advert []time.Duration
	)
	cmd := &cobra.Command{
		Use:   "vrrp",
		Short: "VRRP failover time after host loss, milvus-ha vs keepalived, in a netns lab (root)",
		Long: `Runs a master (priority 150) and a backup (priority 100) in network
namespaces, takes the master's link down and measures, from a client
probing by ARP every few milliseconds, how long until the backup answers
for the VIP. Advert intervals 1 s (VRRPv2 and v3), 100 ms and 20 ms (v3),
each repeated --reps times, for milvus-ha (this executable) and for
keepalived with the same configuration in the same run. Needs root.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bin, err := os.Executable()
			if err != nil {
				return err
			}
			o.Binary = bin
			for _, a := range advert {
				o.Settings = append(o.Settings, vrrpbench.Setting{Version: 3, Advert: a})
			}
			level := slog.LevelInfo
			if debug {
				level = slog.LevelDebug
			}
			o.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			_, err = vrrpbench.Run(cmd.Context(), o, cmd.OutOrStdout())
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Reps, "reps", 5, "failovers per interval and daemon")
	f.DurationVar(&o.ProbeInterval, "probe", 5*time.Millisecond, "client ARP probe period (the measurement's resolution)")
	f.StringVar(&o.Keepalived, "keepalived", "", `keepalived executable ("" = from PATH, "none" = no comparison)`)
	f.DurationSliceVar(&advert, "advert", nil, "VRRPv3 advert intervals to measure instead of the default set (v2 1s, v3 1s, 100ms, 20ms)")
	f.BoolVar(&debug, "debug", false, "log at debug level (which frame claimed the VIP first)")
	return cmd
}
