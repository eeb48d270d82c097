package failbench

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"
)

// The workload's collection: tiny rows, so a call's cost is the round trip
// and the log sync, not the payload.
const (
	workloadColl = "failbench"
	workloadDim  = 8
	bigColl      = "failbench_p4"
)

// Options configure Run.
type Options struct {
	// Binary is the milvus-ha executable run in the lab hosts.
	Binary string
	// Keepalived is the keepalived executable for the recipe baseline; ""
	// looks it up in PATH, "none" skips the baseline.
	Keepalived string
	// Reps is the number of repetitions of each scenario (default 5).
	Reps int
	// Rows and Dim size the P4 data set (default 1,000,000 × 128); Rows < 0
	// skips P4. Batch is the insert batch size while loading it (10,000).
	Rows, Dim, Batch int
	// Interval is the client's call period (default 5 ms); CallTimeout
	// bounds each call (200 ms) and DialTimeout each TCP connect (50 ms).
	Interval, CallTimeout, DialTimeout time.Duration
	// RecipeLinkDownWait is how long the recipe's link-down (P1) run waits
	// for service to come back (default 10 s); it is run once.
	RecipeLinkDownWait time.Duration
	// Only restricts the run to these scenarios (nil: all of them); see
	// ParseScenarios.
	Only []Scenario
	// ExecPreempt runs the exec pair with preemption on (the preferred
	// node takes the service back when its keeper restarts) and checks
	// after each service crash that the crashed node stays out instead of
	// preempting back while its service is broken.
	ExecPreempt bool
	// Keep keeps every rig's directory (configurations, keeper and server
	// logs) for a post-mortem; it is named in the report.
	Keep bool
	// Logger receives progress lines; nil discards.
	Logger *slog.Logger
}

// scenarioKeys are the names --only accepts. A switchover is always
// followed by its resume (which restores the pair), and the P4 switchover
// comes with the promote times, so those go together.
var scenarioKeys = map[string][]Scenario{
	"host-loss":     {HostLoss},
	"power-loss":    {PowerLoss},
	"keeper-kill":   {KeeperCrash},
	"service-crash": {ServiceCrash},
	"switchover":    {Switchover, Resume},
	"p4":            {BigSwitchover, Promote},
}

// ParseScenarios turns a comma-separated list of scenario names
// (host-loss, power-loss, keeper-kill, service-crash, switchover, p4) into
// Options.Only.
func ParseScenarios(list string) ([]Scenario, error) {
	var out []Scenario
	for _, key := range strings.Split(list, ",") {
		key = strings.TrimSpace(key)
		scs, ok := scenarioKeys[key]
		if !ok {
			names := slices.Sorted(maps.Keys(scenarioKeys))
			return nil, fmt.Errorf("failbench: unknown scenario %q (want some of %s)", key, strings.Join(names, ", "))
		}
		out = append(out, scs...)
	}
	return out, nil
}

// runs says whether scenario sc is to be measured.
func (o *Options) runs(sc Scenario) bool {
	return o.Only == nil || slices.Contains(o.Only, sc)
}

func (o *Options) defaults() error {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if o.Reps == 0 {
		o.Reps = 5
	}
	if o.Rows == 0 {
		o.Rows = 1_000_000
	}
	if !o.runs(BigSwitchover) {
		o.Rows = -1
	}
	if o.Dim == 0 {
		o.Dim = 128
	}
	if o.Batch == 0 {
		o.Batch = 10_000
	}
	def(&o.Interval, 5*time.Millisecond)
	def(&o.CallTimeout, 200*time.Millisecond)
	def(&o.DialTimeout, 50*time.Millisecond)
	def(&o.RecipeLinkDownWait, 10*time.Second)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case o.Binary == "":
		return fmt.Errorf("failbench: no milvus-ha binary given")
	case o.Reps < 1:
		return fmt.Errorf("failbench: repetitions %d: want ≥ 1", o.Reps)
	case o.Dim < 1 || o.Dim > 32768:
		return fmt.Errorf("failbench: dimension %d: want 1..32768", o.Dim)
	case o.Batch < 1:
		return fmt.Errorf("failbench: batch %d: want ≥ 1", o.Batch)
	case o.Interval < time.Millisecond || o.CallTimeout < time.Millisecond || o.DialTimeout < time.Millisecond:
		return fmt.Errorf("failbench: interval %v, call timeout %v, dial timeout %v: want ≥ 1ms each", o.Interval, o.CallTimeout, o.DialTimeout)
	}
	return nil
}
