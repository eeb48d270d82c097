package cli

import (
	"github.com/milvus-ha/milvus-ha/internal/index"
	"github.com/spf13/cobra"
)

func init() { benchCommands = append(benchCommands, newBenchStoreCmd) }

func newBenchStoreCmd() *cobra.Command {
	var o index.BenchOptions
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Vector index benchmark: FLAT and HNSW vs hnswlib on Fashion-MNIST and low-rank 100k×128",
		Long: `Measures FLAT QPS (one query at a time and batched), HNSW build time and
recall@10 / single-thread QPS over an ef sweep, and runs hnswlib
(Debian python3-hnswlib) on the same data for a side-by-side ratio.
Use a quiet machine: results on a shared host vary by ±30%.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return index.RunBench(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.Datasets, "datasets", []string{"fmnist", "lowrank"}, "data sets: fmnist, lowrank")
	f.StringVar(&o.FashionMNISTDir, "fmnist-dir", "/usr/share/datasets/fashion-mnist", "directory of the Fashion-MNIST IDX files")
	f.IntVar(&o.LowRankN, "lowrank-n", 100000, "size of the low-rank 128-d set")
	f.IntVar(&o.Queries, "queries", 1000, "number of queries")
	f.IntVar(&o.K, "k", 10, "top-k")
	f.IntSliceVar(&o.Efs, "ef", []int{16, 32, 64, 128, 256}, "HNSW ef values to sweep")
	f.IntVar(&o.M, "M", index.DefaultM, "HNSW M")
	f.IntVar(&o.EfConstruction, "ef-construction", index.DefaultEfConstruction, "HNSW efConstruction")
	f.StringVar(&o.Python, "python", "/usr/bin/python3", `python with hnswlib for the baseline ("none" to skip)`)
	f.BoolVar(&o.Million, "million", false, "also build 1M×128 HNSW: build time, memory, persist and load time")
	return cmd
}
