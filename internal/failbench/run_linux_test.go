package failbench

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/netlab"
)

// A tiny run (one repetition, a small P4 data set) produces a table with a
// measured number for every scenario. No timing is asserted: the machine
// is shared; speed is what the command itself reports.
func TestRunTiny(t *testing.T) {
	netlab.NeedRoot(t)
	bin := filepath.Join(t.TempDir(), "milvus-ha")
	build := exec.Command("go", "build", "-o", bin, "./cmd/milvus-ha")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building milvus-ha: %v\n%s", err, out)
	}
	var out strings.Builder
	rep, err := Run(t.Context(), Options{
		Binary: bin, Reps: 1, Rows: 2000, Dim: 16, Batch: 500,
		RecipeLinkDownWait: 3 * time.Second,
		Logger:             slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}, &out)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("\n%s", out.String())

	dur := `\d[\d.]*(ns|µs|ms|s|m\d[\d.]*s)`
	for _, sc := range Scenarios {
		res := rep.find(sc, MilvusHA)
		if res == nil || len(res.Samples) == 0 || res.Samples[0] <= 0 {
			t.Errorf("%s: no milvus-ha sample: %+v", sc, res)
		}
		row := regexp.MustCompile(regexp.QuoteMeta(string(sc)) + `\s+\d+\s+` + dur + `\s+` + dur)
		if !row.MatchString(out.String()) {
			t.Errorf("table has no row with numbers for %q", sc)
		}
	}
	if _, err := exec.LookPath("keepalived"); err != nil {
		t.Log("keepalived not installed: the recipe baseline is not checked")
	} else {
		for _, sc := range []Scenario{PowerLoss, ServiceCrash} {
			res := rep.find(sc, Recipe)
			if res == nil || len(res.Samples) == 0 || res.Samples[0] <= 0 {
				t.Errorf("%s: no recipe sample: %+v", sc, res)
			}
		}
		if res := rep.find(HostLoss, Recipe); res == nil || len(res.Samples)+res.Missed != 1 {
			t.Errorf("recipe link-down run not reported: %+v", res)
		}
	}
	if rep.Acked == 0 || rep.Stored < rep.Acked {
		t.Errorf("workload: %d acknowledged, %d stored", rep.Acked, rep.Stored)
	}
	if rep.Rows != 2000 || rep.LoadTime <= 0 {
		t.Errorf("P4 load not reported: %d rows in %v", rep.Rows, rep.LoadTime)
	}
}
