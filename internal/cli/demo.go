package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/milvus-ha/milvus-ha/internal/demo"
)

func newDemoCmd() *cobra.Command {
	var (
		out       string
		keepGoing bool
		quick     bool
		workload  string
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Fail over a two-node pair in network namespaces while you watch (needs root)",
		Long: `demo builds a throw-away lab of network namespaces (hosts a and b each
running the milvus-ha keeper with its embedded Milvus-compatible server, a
client host, a shared storage directory), inserts into a collection through
the VIP with a Milvus gRPC client, fails the preferred node several ways (host
loss, keeper killed, planned switchover, network cut between the hosts), shows
each failover and failback as it happens with the outage the client saw,
checks that every acknowledged insert is still there, writes a timeline plot,
and removes the lab.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := demo.Preflight(); err != nil {
				return err
			}
			var w demo.Workload
			switch workload {
			case "milvus":
				w = &demo.Milvus{}
			case "icmp":
				w = &demo.Probe{}
			default:
				return fmt.Errorf("demo: --workload %q: want milvus or icmp", workload)
			}
			self, err := os.Executable()
			if err != nil {
				return fmt.Errorf("demo: finding milvus-ha's own executable: %w", err)
			}
			_, err = demo.Run(cmd.Context(), demo.Options{
				Binary:    self,
				Out:       cmd.OutOrStdout(),
				SVG:       out,
				Quick:     quick,
				KeepGoing: keepGoing,
				Workload:  w,
			})
			return err
		},
	}
	cmd.Flags().StringVar(&out, "out", "milvus-ha-demo-timeline.svg", "write the timeline plot (SVG) here")
	cmd.Flags().BoolVar(&keepGoing, "keep-going", false, "continue after a failed expectation instead of stopping")
	cmd.Flags().BoolVar(&quick, "quick", false, "fewer steps, shorter pauses")
	cmd.Flags().StringVar(&workload, "workload", "milvus", "client traffic through the VIP: milvus (inserts, read back at the end) or icmp (echo requests)")
	return cmd
}
