package vrrpbench

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/config"
)

func TestSettingTheory(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		s          Setting
		skew, down time.Duration
	}{
		// (256−100)/256 = 0.609375
		{Setting{2, time.Second}, 609375 * time.Microsecond, 3609375 * time.Microsecond},
		{Setting{3, time.Second}, 609375 * time.Microsecond, 3609375 * time.Microsecond},
		{Setting{3, 100 * ms}, 60937500, 360937500},
		{Setting{3, 20 * ms}, 12187500, 72187500},
	} {
		if got := tc.s.Skew(backupPriority); got != tc.skew {
			t.Errorf("%v: skew %v, want %v", tc.s, got, tc.skew)
		}
		if got := tc.s.MasterDown(); got != tc.down {
			t.Errorf("%v: master down %v, want %v", tc.s, got, tc.down)
		}
	}
}

func TestSettingValidate(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		s  Setting
		ok bool
	}{
		{Setting{2, time.Second}, true},
		{Setting{2, 3 * time.Second}, true},
		{Setting{2, 100 * ms}, false}, // v2 carries whole seconds only
		{Setting{2, 1500 * ms}, false},
		{Setting{3, 10 * ms}, true},
		{Setting{3, 20 * ms}, true},
		{Setting{3, 15 * ms}, false}, // v3 carries centiseconds
		{Setting{3, 5 * ms}, false},
		{Setting{3, 41 * time.Second}, false},
		{Setting{4, time.Second}, false},
	} {
		if err := tc.s.Validate(); (err == nil) != tc.ok {
			t.Errorf("%v: Validate() = %v, want ok=%v", tc.s, err, tc.ok)
		}
	}
}

// The rendered configuration loads without warnings in our parser and
// means what the benchmark claims (the same file is fed to keepalived).
func TestConfLoads(t *testing.T) {
	vip := netip.MustParseAddr("198.18.0.100")
	for _, s := range DefaultSettings() {
		path := filepath.Join(t.TempDir(), "a.conf")
		if err := os.WriteFile(path, []byte(s.Conf("a", masterPriority, vip)), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, warns, err := config.Load(path)
		if err != nil || len(warns) > 0 {
			t.Fatalf("%v: load: %v, warnings %v", s, err, warns)
		}
		if len(cfg.Instances) != 1 {
			t.Fatalf("%v: %d instances", s, len(cfg.Instances))
		}
		in := cfg.Instances[0]
		if in.Version != s.Version || in.Advert != s.Advert || in.Priority != masterPriority ||
			in.Interface != "eth0" || in.VRID != 51 || len(in.VIPs) != 1 ||
			in.VIPs[0].Prefix != netip.PrefixFrom(vip, 24) {
			t.Errorf("%v: loaded as version %d advert %v priority %d interface %s VRID %d VIPs %v",
				s, in.Version, in.Advert, in.Priority, in.Interface, in.VRID, in.VIPs)
		}
	}
}

func TestReportWrite(t *testing.T) {
	ms := time.Millisecond
	s := Setting{3, 100 * ms}
	rep := &Report{
		Reps: 3,
		Results: []Result{
			{Setting: s, Daemon: MilvusHA, Samples: []time.Duration{300 * ms, 280 * ms, 340 * ms},
				Late: []time.Duration{ms, 2 * ms, ms}, AdvertLate: []time.Duration{ms / 2, ms / 2, ms / 2}},
			{Setting: s, Daemon: Keepalived, Samples: []time.Duration{350 * ms, 320 * ms}, Failed: 1,
				Late: []time.Duration{ms / 4, ms / 4}, AdvertLate: []time.Duration{ms / 5, ms / 5}},
			{Setting: Setting{3, 20 * ms}, Daemon: MilvusHA, Samples: []time.Duration{60 * ms}},
			{Setting: Setting{3, 20 * ms}, Daemon: Keepalived, Note: "(keepalived not installed)"},
		},
		Probe: gapStats(5*ms, []time.Duration{5 * ms, 4 * ms, 9 * ms}),
	}
	var b strings.Builder
	if err := rep.Write(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines := strings.Split(out, "\n")
	row := func(prefix string) []string {
		for _, l := range lines {
			if f := strings.Fields(l); len(f) > 2 && f[0]+" "+f[1] == prefix {
				return f[2:]
			}
		}
		t.Fatalf("no row %q in\n%s", prefix, out)
		return nil
	}
	// MDI, window (one field), ours p50 max late, theirs p50 max late, ratio
	want := []string{"361ms", "261ms–361ms", "300ms", "340ms", "1ms", "320ms", "350ms", "300µs", "0.94"}
	if got := row("v3 100ms"); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("100ms row %q, want %q", got, want)
	}
	want = []string{"72ms", "52ms–72ms", "60ms", "60ms", "-", "-", "-", "-", "-"}
	if got := row("v3 20ms"); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("20ms row %q, want %q", got, want)
	}
	for _, w := range []string{
		"achieved gap p50 5ms, max 9ms over 3 gaps",
		"v3 100ms keepalived: 1 of 3 repetitions without a sample",
		"v3 20ms keepalived: 0 of 3 repetitions without a sample (keepalived not installed)",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("report lacks %q:\n%s", w, out)
		}
	}
}
