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
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Fail over a two-node pair in network namespaces while you watch (needs root)",
		Long: `demo builds a throw-away lab of network namespaces (hosts a and b running
milvus-ha, a client host, a shared directory), drives client traffic through
the VIP, fails the preferred node several ways (host loss, process killed,
service check failing), shows each failover and failback as it happens with
the outage the client saw, writes a timeline plot, and removes the lab.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := demo.Preflight(); err != nil {
				return err
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
			})
			return err
		},
	}
	cmd.Flags().StringVar(&out, "out", "milvus-ha-demo-timeline.svg", "write the timeline plot (SVG) here")
	cmd.Flags().BoolVar(&keepGoing, "keep-going", false, "continue after a failed expectation instead of stopping")
	cmd.Flags().BoolVar(&quick, "quick", false, "fewer steps, shorter pauses")
	return cmd
}
