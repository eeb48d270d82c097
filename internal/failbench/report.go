package failbench

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Scenario names one kind of measured event.
type Scenario string

// The scenarios, in table order.
const (
	// HostLoss takes the active host's bridge port down; its processes
	// live on and see carrier loss (the P1).
	HostLoss Scenario = "P1 host loss (link down)"
	// PowerLoss freezes every process of the active host (SIGSTOP), takes
	// its link down, then kills them: nothing leaves the host after the
	// fault, as when it loses power.
	PowerLoss Scenario = "P1' power loss (freeze+link down+kill)"
	// KeeperCrash kills the active keeper (kill -9) while the host and its
	// network live; the embedded service runs inside it and dies with it,
	// so the standby must wait out the storage lease.
	KeeperCrash Scenario = "P2 keeper+embedded kill -9"
	// ServiceCrash kills the protected service on the active host while the
	// host, its network and its supervisor live (P2): the exec driver's
	// child `milvus-ha serve`; in the recipe, the master's server, noticed
	// by its check script.
	ServiceCrash Scenario = "P2 service crash (exec child kill -9)"
	// Switchover is `milvus-ha switchover` on the active node (P3).
	Switchover Scenario = "P3 planned switchover"
	// Resume is `milvus-ha resume` after a switchover: the preferred node
	// preempts back (a planned move too).
	Resume Scenario = "P3 resume (failback)"
	// BigSwitchover is a switchover with the P4 data set in the store.
	BigSwitchover Scenario = "P3 switchover, P4 data set"
	// Promote is the new active node's promote time with the P4 data set
	// (P4): the keeper's logged gate time (decision → lease taken, store
	// primary, API serving) minus the store's wait for the lease, which is
	// the old node's step-down and not the promote.
	Promote Scenario = "P4 promote, P4 data set"
)

// Scenarios lists every scenario in table order.
var Scenarios = []Scenario{HostLoss, PowerLoss, KeeperCrash, ServiceCrash, Switchover, Resume, BigSwitchover, Promote}

// target is a scenario's goal from the issue; zero fields mean none.
type target struct {
	p50, p99 time.Duration
	noFail   bool // no failed call either
}

var targets = map[Scenario]target{
	HostLoss:      {p50: 500 * time.Millisecond, p99: time.Second},
	PowerLoss:     {p50: 500 * time.Millisecond, p99: time.Second},
	KeeperCrash:   {p50: 200 * time.Millisecond, p99: 200 * time.Millisecond},
	ServiceCrash:  {p50: 200 * time.Millisecond, p99: 200 * time.Millisecond},
	Switchover:    {p50: 50 * time.Millisecond, p99: 50 * time.Millisecond, noFail: true},
	Resume:        {p50: 50 * time.Millisecond, p99: 50 * time.Millisecond, noFail: true},
	BigSwitchover: {p50: 50 * time.Millisecond, p99: 50 * time.Millisecond, noFail: true},
	Promote:       {p50: 100 * time.Millisecond, p99: 100 * time.Millisecond},
}

func (t target) String() string {
	var s string
	switch {
	case t.p50 == 0:
		return "-"
	case t.p50 == t.p99:
		s = "≤" + short(t.p99)
	default:
		s = "p50≤" + short(t.p50) + " p99≤" + short(t.p99)
	}
	if t.noFail {
		s += ", 0 failed"
	}
	return s
}

// System names the HA implementation a Result is for.
type System string

// The two systems compared.
const (
	MilvusHA System = "milvus-ha"
	Recipe   System = "recipe"
)

// Phases splits one milvus-ha failover into where its time went, from the
// new active node's own history and the bench's VIP watcher. Any part may
// be missing (zero) when the node's history did not show it.
type Phases struct {
	// Detect: fault → the new node's decision to take over (its VRRP down
	// timer or the old master's priority-0 advert).
	Detect time.Duration
	// Gate: decision → store promoted (lease taken, log sealed) and API
	// serving, as the keeper logs it.
	Gate time.Duration
	// VIP: fault → the VIP is on the new node's interface (bench watcher).
	VIP time.Duration
	// Client: VIP on the new node → the client's first success after it.
	Client time.Duration
	// OldDown: fault → the old active node released the lease, when it
	// did so itself (host loss by link, switchover, service crash): during
	// a planned handover (clients held, VIP still there), or else at the
	// end of its step-down (VIP removed, service stopped).
	OldDown time.Duration
	// Refused counts the new node's gate refusals between the fault and
	// its takeover ("peer alive on storage": the old node still held the
	// lease).
	Refused int
}

// Result holds one system's samples for one scenario.
type Result struct {
	Scenario Scenario
	System   System
	Samples  []time.Duration // client-visible unavailability (or promote time for Promote)
	Failed   []int           // failed calls per sample
	Phases   []Phases        // per sample (milvus-ha failovers)
	Missed   int             // repetitions without a sample
	// Repeated counts samples in which the client was interrupted more
	// than once (the service went back and forth).
	Repeated int
	// StayedOut and Failbacks count, with Options.ExecPreempt, the service
	// crashes after which the crashed node stayed out, or took the VIP
	// back (or the standby lost it), within failbackWatch.
	StayedOut, Failbacks int
	Note                 string // why there are no or fewer samples
}

// Percentile is the nearest-rank q-quantile (0 < q ≤ 1) of ds: with fewer
// than 100 samples p99 is the maximum. Zero without samples.
func Percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(ds))
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// P50 is the median sample.
func (r *Result) P50() time.Duration { return Percentile(r.Samples, 0.5) }

// P99 is the 99th percentile (nearest rank).
func (r *Result) P99() time.Duration { return Percentile(r.Samples, 0.99) }

// FailedTotal sums the failed calls over all samples.
func (r *Result) FailedTotal() int {
	n := 0
	for _, f := range r.Failed {
		n += f
	}
	return n
}

// Report is everything Run measured.
type Report struct {
	Reps     int
	Rows     int           // P4 data set size
	Dim      int           // P4 vector dimension
	LoadTime time.Duration // time to insert the P4 data set through the VIP
	Interval time.Duration // client call period
	// Gap is the median gap between consecutive successful calls outside
	// faults: the measurement's resolution.
	Gap time.Duration
	// Calls and Acked count the workload's calls and acknowledged inserts
	// on the milvus-ha pair; Stored is what the pair held at the end
	// (count(*) through the VIP), which must not be below Acked.
	Calls, Acked, Stored int64
	Results              []*Result
	Notes                []string
}

// Result returns the result for a scenario and system, adding an empty one.
func (r *Report) Result(sc Scenario, sys System) *Result {
	if res := r.find(sc, sys); res != nil {
		return res
	}
	res := &Result{Scenario: sc, System: sys}
	r.Results = append(r.Results, res)
	return res
}

func (r *Report) find(sc Scenario, sys System) *Result {
	for _, res := range r.Results {
		if res.Scenario == sc && res.System == sys {
			return res
		}
	}
	return nil
}

// Write prints the table, the breakdown of milvus-ha's failovers and the
// notes.
func (r *Report) Write(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Failover through the VIP, seen by a retrying gRPC client inserting one row every %v (call timeout, reconnect on\n", r.Interval)
	fmt.Fprintf(&b, "every failure). Unavailability = last success before the fault → first success after it (the largest gap between\n")
	fmt.Fprintf(&b, "successes around the event). %d repetitions; p99 is nearest-rank (the maximum below 100 samples).\n", r.Reps)
	fmt.Fprintf(&b, "Resolution: median gap between successes outside faults %v.\n", short(r.Gap))
	fmt.Fprintf(&b, "milvus-ha: two keepers, advert 100ms, lease preset normal (500ms), embedded service with warm standby; the exec row\n")
	fmt.Fprintf(&b, "runs `milvus-ha serve` as the keepers' child (cold start on takeover). recipe: keepalived 2.2.7 with the recipe's\n")
	fmt.Fprintf(&b, "configuration (v2, advert_int 1, PASS, chk script interval 2 weight -20, notify scripts cold-starting `milvus-ha serve`;\n")
	fmt.Fprintf(&b, "its P2 = kill -9 of serve on the master, detected by the check script; its P1' stands in for P1, see the notes).\n")
	if r.Rows > 0 {
		fmt.Fprintf(&b, "P4 data set: %d × %d-dim vectors (FLAT index), loaded through the VIP in %v", r.Rows, r.Dim, short(r.LoadTime))
		if r.LoadTime > 0 {
			fmt.Fprintf(&b, " (%.0f rows/s)", float64(r.Rows)/r.LoadTime.Seconds())
		}
		fmt.Fprintf(&b, "; P4 = the keeper's logged promote time minus the store's lease wait.\n")
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tn\tmilvus-ha p50\tp99\tfailed calls\trecipe p50\tp99\tspeed-up\ttarget\tmet")
	for _, sc := range Scenarios {
		ours, theirs := r.find(sc, MilvusHA), r.find(sc, Recipe)
		if ours == nil && theirs == nil {
			continue
		}
		n, op50, op99, ofail, met := "0", "-", "-", "-", "-"
		if ours != nil && len(ours.Samples) > 0 {
			n = fmt.Sprint(len(ours.Samples))
			op50, op99 = short(ours.P50()), short(ours.P99())
			if sc != Promote {
				ofail = fmt.Sprint(ours.FailedTotal())
			}
			tg := targets[sc]
			if tg.p50 > 0 {
				ok := ours.P50() <= tg.p50 && ours.P99() <= tg.p99 && (!tg.noFail || ours.FailedTotal() == 0)
				met = map[bool]string{true: "yes", false: "NO"}[ok]
			}
		}
		tp50, tp99, ratio := "-", "-", "-"
		if theirs != nil && len(theirs.Samples) > 0 {
			tp50, tp99 = short(theirs.P50()), short(theirs.P99())
			if ours != nil && len(ours.Samples) > 0 && ours.P50() > 0 {
				ratio = fmt.Sprintf("%.1f×", float64(theirs.P50())/float64(ours.P50()))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", sc, n, op50, op99, ofail, tp50, tp99, ratio, targets[sc], met)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	b.WriteString("speed-up = recipe p50 / milvus-ha p50.\n")

	b.WriteString("\nWhere milvus-ha's time goes (medians, from the fault): old node released the lease | new node decides |\n")
	b.WriteString("gate (lease, seal, promote, API) | VIP on the new node | VIP → first client success | gate refusals (total)\n")
	for _, sc := range Scenarios {
		res := r.find(sc, MilvusHA)
		if res == nil || len(res.Phases) == 0 {
			continue
		}
		var o, d, g, v, c []time.Duration
		refused := 0
		for _, p := range res.Phases {
			o, d, g = appendPos(o, p.OldDown), appendPos(d, p.Detect), appendPos(g, p.Gate)
			v, c = appendPos(v, p.VIP), appendPos(c, p.Client)
			refused += p.Refused
		}
		fmt.Fprintf(&b, "  %-40s %8s | %8s | %8s | %8s | %8s | %d\n", res.Scenario,
			medianCell(o), medianCell(d), medianCell(g), medianCell(v), medianCell(c), refused)
	}
	for _, res := range r.Results {
		if res.System != Recipe || len(res.Phases) == 0 {
			continue
		}
		var v, c []time.Duration
		for _, p := range res.Phases {
			v, c = appendPos(v, p.VIP), appendPos(c, p.Client)
		}
		fmt.Fprintf(&b, "  recipe %-33s fault → VIP on the backup %s | VIP → client success (notify script, cold start) %s\n",
			res.Scenario, medianCell(v), medianCell(c))
	}
	for _, res := range r.Results {
		if res.Repeated > 0 {
			fmt.Fprintf(&b, "%s, %s: in %d of %d samples the client was interrupted more than once (gaps > %v; the table shows the longest).\n",
				res.Scenario, res.System, res.Repeated, len(res.Samples), stallGap)
		}
	}
	for _, res := range r.Results {
		if res.StayedOut+res.Failbacks > 0 {
			fmt.Fprintf(&b, "%s, %s, with preemption: the crashed node stayed out for %v after %d of %d crashes (failback or lost service: %d).\n",
				res.Scenario, res.System, failbackWatch, res.StayedOut, res.StayedOut+res.Failbacks, res.Failbacks)
		}
	}
	for _, res := range r.Results {
		if res.Missed > 0 || res.Note != "" {
			fmt.Fprintf(&b, "%s, %s: %d repetitions without a sample. %s\n", res.Scenario, res.System, res.Missed, res.Note)
		}
	}
	if r.Calls > 0 {
		fmt.Fprintf(&b, "milvus-ha workload: %d calls, %d acknowledged inserts; count(*) at the end %d", r.Calls, r.Acked, r.Stored)
		if r.Stored >= r.Acked {
			b.WriteString(" (no acknowledged write missing)\n")
		} else {
			fmt.Fprintf(&b, " (%d ACKNOWLEDGED WRITES MISSING)\n", r.Acked-r.Stored)
		}
	}
	for _, n := range r.Notes {
		b.WriteString(n + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func appendPos(ds []time.Duration, d time.Duration) []time.Duration {
	if d > 0 {
		return append(ds, d)
	}
	return ds
}

func medianCell(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	return short(Percentile(ds, 0.5))
}

// short rounds to what the client's resolution supports.
func short(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond).String()
	default:
		return d.Round(100 * time.Microsecond).String()
	}
}

// failbackWatch is how long a node whose service crashed must stay out
// although it preempts: several Master_Down_Intervals and gate refusals.
const failbackWatch = 3 * time.Second

// stallGap is the gap between successes that counts as an interruption
// (the client's normal gap is its interval plus one call).
const stallGap = 100 * time.Millisecond

// stalls counts the gaps between consecutive successes longer than min
// whose later success falls in (t0, end].
func stalls(successes []time.Time, t0, end time.Time, min time.Duration) int {
	n := 0
	for i := 1; i < len(successes); i++ {
		if successes[i].After(t0) && !successes[i].After(end) && successes[i].Sub(successes[i-1]) > min {
			n++
		}
	}
	return n
}

// Outage is the client-visible unavailability around an event at t0: the
// largest gap between consecutive successes (completion times, sorted)
// whose later one falls in (t0, end]. That is "last success before the
// fault → first success after it" for an abrupt fault, and also catches a
// hiccup that comes some time after t0 (a switchover's handover). ok is
// false when there is no success at or before t0 or none in (t0, end].
func Outage(successes []time.Time, t0, end time.Time) (gap time.Duration, recovered time.Time, ok bool) {
	i, _ := slices.BinarySearchFunc(successes, t0, func(s, t time.Time) int { return s.Compare(t) })
	// successes[i] is the first one at or after t0; step past one equal to t0.
	for i < len(successes) && !successes[i].After(t0) {
		i++
	}
	if i == 0 || i >= len(successes) || successes[i].After(end) {
		return 0, time.Time{}, false
	}
	for ; i < len(successes) && !successes[i].After(end); i++ {
		if g := successes[i].Sub(successes[i-1]); g > gap {
			gap, recovered = g, successes[i]
		}
	}
	return gap, recovered, true
}
