package failbench

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

const ms = time.Millisecond

func TestPercentile(t *testing.T) {
	ds := []time.Duration{5 * ms, 1 * ms, 4 * ms, 2 * ms, 3 * ms}
	for _, tc := range []struct {
		ds   []time.Duration
		q    float64
		want time.Duration
	}{
		{nil, 0.5, 0},
		{ds, 0.5, 3 * ms},
		{ds, 0.99, 5 * ms}, // nearest rank: the maximum below 100 samples
		{ds, 0.2, 1 * ms},
		{ds, 0.21, 2 * ms},
		{[]time.Duration{7 * ms}, 0.99, 7 * ms},
		{[]time.Duration{2 * ms, 1 * ms}, 0.5, 1 * ms},
	} {
		if got := Percentile(tc.ds, tc.q); got != tc.want {
			t.Errorf("Percentile(%v, %v) = %v, want %v", tc.ds, tc.q, got, tc.want)
		}
	}
	if ds[0] != 5*ms {
		t.Error("Percentile reordered its input")
	}
}

func TestOutage(t *testing.T) {
	base := time.Unix(1000, 0)
	at := func(msecs ...int) []time.Time {
		var ts []time.Time
		for _, m := range msecs {
			ts = append(ts, base.Add(time.Duration(m)*ms))
		}
		return ts
	}
	for _, tc := range []struct {
		name      string
		succ      []time.Time
		t0, end   int
		gap       time.Duration
		recovered int
		ok        bool
	}{
		{"abrupt fault", at(0, 5, 10, 15, 400, 405), 12, 1000, 385 * ms, 400, true},
		{"reply in flight at the fault", at(0, 5, 10, 13, 400, 405), 12, 1000, 387 * ms, 400, true},
		{"hiccup after the fault", at(0, 5, 10, 15, 20, 90, 95), 12, 1000, 70 * ms, 90, true},
		{"largest of two interruptions", at(0, 10, 200, 210, 260, 270), 5, 1000, 190 * ms, 200, true},
		{"success exactly at t0 counts as before", at(0, 10, 50), 10, 1000, 40 * ms, 50, true},
		{"gap after end ignored", at(0, 10, 20, 900), 5, 100, 10 * ms, 10, true},
		{"no success before", at(20, 30), 10, 1000, 0, 0, false},
		{"no recovery", at(0, 5), 10, 1000, 0, 0, false},
		{"recovery after end", at(0, 5, 2000), 10, 1000, 0, 0, false},
		{"nothing", nil, 10, 1000, 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gap, rec, ok := Outage(tc.succ, base.Add(time.Duration(tc.t0)*ms), base.Add(time.Duration(tc.end)*ms))
			if ok != tc.ok || gap != tc.gap || (ok && !rec.Equal(base.Add(time.Duration(tc.recovered)*ms))) {
				t.Errorf("Outage = %v, %v, %v; want %v, +%dms, %v", gap, rec.Sub(base), ok, tc.gap, tc.recovered, tc.ok)
			}
		})
	}
}

func TestStalls(t *testing.T) {
	base := time.Unix(1000, 0)
	var succ []time.Time
	for _, m := range []int{0, 5, 10, 300, 305, 310, 311, 600, 605} {
		succ = append(succ, base.Add(time.Duration(m)*ms))
	}
	if n := stalls(succ, base.Add(7*ms), base.Add(time.Second), stallGap); n != 2 {
		t.Errorf("stalls = %d, want 2", n)
	}
	if n := stalls(succ, base.Add(400*ms), base.Add(time.Second), stallGap); n != 1 {
		t.Errorf("stalls after the first = %d, want 1", n)
	}
	if n := stalls(succ, base.Add(7*ms), base.Add(500*ms), stallGap); n != 1 {
		t.Errorf("stalls before end = %d, want 1", n)
	}
}

func TestReportWrite(t *testing.T) {
	rep := &Report{Reps: 3, Rows: 1000, Dim: 16, LoadTime: 2 * time.Second, Interval: 5 * ms, Gap: 5200 * time.Microsecond,
		Calls: 100, Acked: 90, Stored: 91}
	ours := rep.Result(PowerLoss, MilvusHA)
	ours.Samples = []time.Duration{400 * ms, 300 * ms, 900 * ms}
	ours.Failed = []int{3, 2, 4}
	ours.Phases = []Phases{{Detect: 300 * ms, Gate: 100 * ms, VIP: 400 * ms, Client: 20 * ms, Refused: 1}, {Detect: 280 * ms}, {}}
	theirs := rep.Result(PowerLoss, Recipe)
	theirs.Samples = []time.Duration{3200 * ms, 3600 * ms}
	theirs.Missed, theirs.Note = 1, "one broke"
	sw := rep.Result(Switchover, MilvusHA)
	sw.Samples, sw.Failed = []time.Duration{40 * ms}, []int{1}
	sw.Repeated = 1
	pr := rep.Result(Promote, MilvusHA)
	pr.Samples = []time.Duration{5 * ms, 7 * ms}
	if rep.Result(PowerLoss, MilvusHA) != ours {
		t.Fatal("Result added a second entry for the same scenario")
	}

	var b strings.Builder
	if err := rep.Write(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	row := func(prefix string) []string {
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, prefix) {
				return regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(strings.TrimPrefix(l, prefix)), -1)
			}
		}
		t.Fatalf("no row %q in\n%s", prefix, out)
		return nil
	}
	// n, ours p50, p99, failed, recipe p50, p99, speed-up, target, met
	want := []string{"3", "400ms", "900ms", "9", "3.2s", "3.6s", "8.0×", "p50≤500ms p99≤1s", "yes"}
	if got := row(string(PowerLoss)); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("power loss row %q, want %q", got, want)
	}
	want = []string{"1", "40ms", "40ms", "1", "-", "-", "-", "≤50ms, 0 failed", "NO"}
	if got := row(string(Switchover)); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("switchover row %q, want %q (a failed call misses the target)", got, want)
	}
	want = []string{"2", "5ms", "7ms", "-", "-", "-", "-", "≤100ms", "yes"}
	if got := row(string(Promote)); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("promote row %q, want %q", got, want)
	}
	for _, w := range []string{
		"1000 × 16-dim vectors (FLAT index), loaded through the VIP in 2s (500 rows/s)",
		"median gap between successes outside faults 5.2ms",
		"280ms |    100ms |    400ms |     20ms | 1", // medians (lower of two) of the phases present
		"in 1 of 1 samples the client was interrupted more than once",
		"P1' power loss (freeze+link down+kill), recipe: 1 repetitions without a sample. one broke",
		"100 calls, 90 acknowledged inserts; count(*) at the end 91 (no acknowledged write missing)",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("report lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, string(HostLoss)) {
		t.Errorf("report shows a scenario that was not run:\n%s", out)
	}

	rep.Stored = 80
	b.Reset()
	if err := rep.Write(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "10 ACKNOWLEDGED WRITES MISSING") {
		t.Errorf("lost writes not reported:\n%s", b.String())
	}
}
