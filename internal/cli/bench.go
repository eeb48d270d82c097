package cli

import "github.com/spf13/cobra"

// benchCommands holds the `milvus-ha bench` subcommands. Each benchmark
// lives in its own file (bench_<name>.go) and appends its constructor here
// from an init function, so adding one never edits a shared file.
var benchCommands []func() *cobra.Command

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Run performance benchmarks and print a report",
	}
	for _, f := range benchCommands {
		cmd.AddCommand(f())
	}
	return cmd
}
