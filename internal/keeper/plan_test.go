package keeper

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/milvus-ha/milvus-ha/internal/config"
)

func planConfig(t *testing.T, dataDir, prio, extra string) *config.Config {
	t.Helper()
	cfg, _, err := config.ParseYAML("a.yaml", []byte("node: a\ninterface: eth0\nvip: 198.18.0.100/24\nvrid: 51\npriority: "+prio+"\ndata_dir: "+dataDir+"\n"+extra))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestCheckPlan(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		dataDir  string
		prio     string
		extra    string
		errs     []string
		warnings []string
	}{
		{name: "missing data_dir", dataDir: filepath.Join(dir, "nope"), errs: []string{"does not exist"}},
		{name: "data_dir is a file", dataDir: file, errs: []string{"is not a directory"}},
		{name: "embedded on a local directory", dataDir: dir, warnings: []string{"on a local filesystem"}},
		{name: "owner priority", dataDir: dir, prio: "255", warnings: []string{"on a local filesystem", "priority 255"}},
		{name: "exec without address or watchdog", dataDir: dir, extra: "service: {exec: {command: [x]}}\n",
			warnings: []string{"on a local filesystem", "no address", "no watchdog"}},
		{name: "exec with a watchdog and a sub-second lease", dataDir: dir, extra: "watchdog: /dev/watchdog\nservice: {exec: {command: [x], address: 'h:1'}}\n",
			warnings: []string{"on a local filesystem", "may write for up to 500ms"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prio := tt.prio
			if prio == "" {
				prio = "150"
			}
			cfg := planConfig(t, tt.dataDir, prio, tt.extra)
			p := CheckPlan(cfg, 3)
			match := func(kind string, got, want []string) {
				if len(got) != len(want) {
					t.Fatalf("%s %q, want %q", kind, got, want)
				}
				for i := range got {
					if !strings.Contains(got[i], want[i]) {
						t.Errorf("%s %q does not contain %q", kind, got[i], want[i])
					}
				}
			}
			match("errors", p.Errors, tt.errs)
			// t.TempDir is on a local filesystem wherever these tests run.
			if localFS[p.FSType] || len(p.Errors) > 0 {
				match("warnings", p.Warnings, tt.warnings)
			}
			if len(p.Errors) == 0 && (p.Sync == nil || p.Sync.Samples != 3) {
				t.Errorf("sync latency not measured: %+v", p.Sync)
			}
			out := p.String()
			for _, want := range []string{"heartbeat 100ms, lease timeout 500ms, safety margin 100ms, storage tolerance 300ms", "failover   worst case"} {
				if !strings.Contains(out, want) {
					t.Errorf("plan lacks %q:\n%s", want, out)
				}
			}
		})
	}
}
