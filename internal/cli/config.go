package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/milvus-ha/milvus-ha/internal/config"
)

// newConfigCmd is `milvus-ha config check FILE`: load a native YAML or a
// keepalived.conf, print warnings and errors with FILE:LINE on stderr and the
// effective settings on stdout; exit status 1 when the file is not usable.
func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Inspect configuration files",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "check FILE",
		Short: "Validate a node.yaml or keepalived.conf and print the effective settings",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, warns, err := config.Load(args[0])
			stderr := cmd.ErrOrStderr()
			for _, w := range warns {
				fmt.Fprintf(stderr, "warning: %s\n", w)
			}
			if err != nil {
				var es config.Errors
				if !errors.As(err, &es) {
					return err
				}
				for _, e := range es {
					fmt.Fprintf(stderr, "error: %s\n", e)
				}
				return fmt.Errorf("%s: %d error(s)", args[0], len(es))
			}
			fmt.Fprint(cmd.OutOrStdout(), cfg.Describe())
			return nil
		},
	})
	return cmd
}
