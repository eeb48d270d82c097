package config

import (
	"path/filepath"
	"testing"
)

// The shipped example configurations load without errors or warnings, and
// the native pair passes the peer comparison.
func TestPackagingExamples(t *testing.T) {
	paths, err := filepath.Glob("../../packaging/examples/*")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no examples found: %v", err)
	}
	for _, p := range paths {
		cfg, warns, err := Load(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		for _, w := range warns {
			t.Errorf("%s: warning %v", p, w)
		}
		if len(cfg.Instances) != 1 {
			t.Errorf("%s: %d instances, want 1", p, len(cfg.Instances))
		}
	}
	a, _, err := Load("../../packaging/examples/node-a.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := Load("../../packaging/examples/node-b.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, errs := a.ComparePeer(b); len(errs) > 0 {
		t.Errorf("node-a/node-b do not form a pair: %v", errs)
	}
}
