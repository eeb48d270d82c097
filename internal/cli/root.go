// Package cli holds the milvus-ha command tree. Each subcommand lives in its
// own file and only parses flags before handing off to the package that does
// the work, so main stays thin and every concern stays testable on its own.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Version is set at link time (-ldflags "-X ...cli.Version=...").
var Version = "dev"

// Main runs the command line and returns the process exit code.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot()
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "milvus-ha:", err)
		var ec exitCoder
		if errors.As(err, &ec) {
			return ec.ExitCode()
		}
		return 1
	}
	return 0
}

// exitCoder lets a command choose its exit status (e.g. 2 for usage errors).
type exitCoder interface{ ExitCode() int }

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "milvus-ha",
		Short:         "High availability for a Milvus-compatible vector server",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
	}
	root.AddCommand(
		newServeCmd(),
		newBenchCmd(),
		newRunCmd(),
		newConfigCmd(),
		newDemoCmd(),
	// Subcommands are listed here, one line each.
	)
	root.AddCommand(newControlCmds()...)
	return root
}
