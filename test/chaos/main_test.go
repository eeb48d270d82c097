package chaos

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"

	mlog "github.com/milvus-io/milvus/pkg/v2/log"
)

// Flags of a chaos run. The defaults are the bounded CI run.
var (
	flagSeed    = flag.Int64("chaos.seed", 0, "seed of the fault schedule and workload (0: time-based, printed)")
	flagFaults  = flag.Int("chaos.faults", 200, "number of faults to inject")
	flagClients = flag.Int("chaos.clients", 4, "concurrent SDK clients")
	flagKeys    = flag.Int("chaos.keys", 256, "keys of the key -> value workload")
	flagReport  = flag.String("chaos.report", "", "write the markdown report here (and the SVG plot next to it, .svg)")
	flagStorage = flag.Bool("chaos.storage", true, "serve each host's data directory through a FUSE layer so storage faults (EIO, slow fsync) can hit one host")
	flagWindow  = flag.Duration("chaos.vipwindow", 200*time.Millisecond, "announcement window: longest tolerated time both hosts hold the VIP while both keepers run")
	flagKeep    = flag.Bool("chaos.keep", false, "keep the run directory (logs, data) after the run")
)

var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	// The SDK logs every failed attempt at WARN; a chaos run makes
	// thousands on purpose.
	mlog.SetLevel(zapcore.FatalLevel)
	dir, err := os.MkdirTemp("", "milvus-ha-chaos-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "milvus-ha")
	// Built in the product's own module, not in this test module.
	build := exec.Command("go", "build", "-o", binary, "./cmd/milvus-ha")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building milvus-ha: %v\n%s", err, out)
		return 1
	}
	// Test cleanups do not run when a signal ends the binary: the handler
	// does their work (keepers, FUSE mounts, namespaces) and removes the
	// binary, then dies of the signal.
	stop := handleSignals(func() { os.RemoveAll(dir) })
	defer stop()
	return m.Run()
}
