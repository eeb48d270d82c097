package vrrpbench

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Setting is one protocol configuration the benchmark runs both daemons with.
type Setting struct {
	Version int           // 2 or 3
	Advert  time.Duration // advert_int; v2 needs whole seconds
}

func (s Setting) String() string { return fmt.Sprintf("v%d %v", s.Version, s.Advert) }

// DefaultSettings are the intervals: 1 s (v2 and v3), 100 ms, 20 ms.
func DefaultSettings() []Setting {
	return []Setting{{2, time.Second}, {3, time.Second}, {3, 100 * time.Millisecond}, {3, 20 * time.Millisecond}}
}

// Validate rejects settings keepalived would not accept.
func (s Setting) Validate() error {
	switch s.Version {
	case 2:
		if s.Advert < time.Second || s.Advert%time.Second != 0 || s.Advert > 255*time.Second {
			return fmt.Errorf("vrrpbench: v2 advert interval %v: want whole seconds 1..255", s.Advert)
		}
	case 3:
		if s.Advert < 10*time.Millisecond || s.Advert%(10*time.Millisecond) != 0 || s.Advert > 40950*time.Millisecond {
			return fmt.Errorf("vrrpbench: v3 advert interval %v: want 10 ms steps, 10 ms..40.95 s", s.Advert)
		}
	default:
		return fmt.Errorf("vrrpbench: VRRP version %d: want 2 or 3", s.Version)
	}
	return nil
}

// Priorities of the two routers; the backup's decides the down interval.
const (
	masterPriority = 150
	backupPriority = 100
)

// Skew is Skew_Time for priority prio (keepalived's formula).
func (s Setting) Skew(prio int) time.Duration {
	if s.Version == 3 {
		return time.Duration(256-prio) * s.Advert / 256
	}
	return time.Duration(256-prio) * time.Second / 256
}

// MasterDown is the backup's Master_Down_Interval: 3·advert + skew.
func (s Setting) MasterDown() time.Duration { return 3*s.Advert + s.Skew(backupPriority) }

// Conf renders the keepalived.conf both daemons run (router name and
// priority aside): keepalived's defaults for everything not named, the VIP
// as a /24 on eth0.
func (s Setting) Conf(router string, prio int, vip netip.Addr) string {
	return fmt.Sprintf(`global_defs {
  router_id %s
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority %d
  version %d
  advert_int %s
  virtual_ipaddress {
    %v/24
  }
}
`, router, prio, s.Version, strconv.FormatFloat(s.Advert.Seconds(), 'f', -1, 64), vip)
}

// Options configure Run.
type Options struct {
	// Binary is the milvus-ha executable run in the lab hosts.
	Binary string
	// Keepalived is the keepalived executable; "" looks it up in PATH,
	// "none" skips the comparison.
	Keepalived string
	// Settings to measure; nil means DefaultSettings.
	Settings []Setting
	// Reps is the number of failovers per setting and daemon (default 5).
	Reps int
	// ProbeInterval is the client's ARP probe period (default 5 ms).
	ProbeInterval time.Duration
	// Logger receives progress lines; nil discards.
	Logger *slog.Logger
}

func (o *Options) defaults() error {
	if o.Settings == nil {
		o.Settings = DefaultSettings()
	}
	if o.Reps == 0 {
		o.Reps = 5
	}
	if o.ProbeInterval == 0 {
		o.ProbeInterval = 5 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Reps < 1 || o.ProbeInterval < time.Millisecond {
		return fmt.Errorf("vrrpbench: want reps ≥ 1 and probe interval ≥ 1ms, have %d and %v", o.Reps, o.ProbeInterval)
	}
	if o.Binary == "" {
		return fmt.Errorf("vrrpbench: no milvus-ha binary given")
	}
	for _, s := range o.Settings {
		if err := s.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// Daemon names the implementation a Result is for.
type Daemon string

// The two daemons compared.
const (
	MilvusHA   Daemon = "milvus-ha"
	Keepalived Daemon = "keepalived"
)

// Result holds the samples of one daemon at one setting.
type Result struct {
	Setting Setting
	Daemon  Daemon
	Samples []time.Duration // host loss → first VIP claim by the backup
	// Late holds, per sample, first claim − (master's last advert + MDI):
	// how long after its down timer should have fired the backup answered.
	// It is free of the advert phase, so it compares daemons directly.
	Late []time.Duration
	// AdvertLate is the same for the backup's first advert as master: the
	// down timer's lateness; Late − AdvertLate is the VIP and GARP path.
	AdvertLate []time.Duration
	Failed     int // repetitions without a sample (see the log)
	// Disturbed counts repetitions thrown away and repeated because the
	// master had gone silent before its link went down (a stalled machine).
	Disturbed int
	Note      string // why there are no samples at all, if so
}

// P50 is the median sample; 0 without samples.
func (r Result) P50() time.Duration { return median(r.Samples) }

// Max is the largest sample; 0 without samples.
func (r Result) Max() time.Duration {
	if len(r.Samples) == 0 {
		return 0
	}
	return slices.Max(r.Samples)
}

// LateP50 is the median of Late; 0 without samples.
func (r Result) LateP50() time.Duration { return median(r.Late) }

// median is the middle value (the lower one of an even count); 0 for none.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(ds))
	return s[(len(s)-1)/2]
}

// ProbeStats summarises the gaps between consecutive client probes while
// failovers were being measured: the measurement's resolution.
type ProbeStats struct {
	Interval time.Duration // configured
	P50, Max time.Duration // achieved gaps
	Gaps     int
}

// Report is everything Run measured.
type Report struct {
	Reps    int
	Results []Result // per setting: milvus-ha then keepalived
	Probe   ProbeStats
}

func (r *Report) result(s Setting, d Daemon) *Result {
	for i := range r.Results {
		if r.Results[i].Setting == s && r.Results[i].Daemon == d {
			return &r.Results[i]
		}
	}
	return nil
}

// Write prints the report as a table.
func (r *Report) Write(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "VRRP failover: master host loss (link down) → VIP claimed by the backup, seen from a client by ARP.\n")
	fmt.Fprintf(&b, "Master priority %d, backup %d, identical keepalived.conf for both daemons, %d repetitions each.\n",
		masterPriority, backupPriority, r.Reps)
	fmt.Fprintf(&b, "Probe: ARP who-has every %v, kernel receive timestamps; achieved gap p50 %v, max %v over %d gaps.\n",
		r.Probe.Interval, round(r.Probe.P50), round(r.Probe.Max), r.Probe.Gaps)
	fmt.Fprintf(&b, "MDI = backup's Master_Down_Interval; theory window = [MDI − advert, MDI]; ratio = milvus-ha p50 / keepalived p50;\n")
	fmt.Fprintf(&b, "late = first claim − (master's last advert + MDI), the daemon's own reaction time (median).\n\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "setting\tMDI\ttheory window\tmilvus-ha p50\tmax\tlate\tkeepalived p50\tmax\tlate\tratio\t")
	var seen []Setting
	for _, res := range r.Results {
		if slices.Contains(seen, res.Setting) {
			continue
		}
		s := res.Setting
		seen = append(seen, s)
		ours, theirs := r.result(s, MilvusHA), r.result(s, Keepalived)
		ratio := "-"
		if ours != nil && theirs != nil && ours.P50() > 0 && theirs.P50() > 0 {
			ratio = fmt.Sprintf("%.2f", float64(ours.P50())/float64(theirs.P50()))
		}
		fmt.Fprintf(tw, "%v\t%v\t%v–%v\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", s, round(s.MasterDown()),
			round(s.MasterDown()-s.Advert), round(s.MasterDown()),
			cell(ours, Result.P50), cell(ours, Result.Max), lateCell(ours),
			cell(theirs, Result.P50), cell(theirs, Result.Max), lateCell(theirs), ratio)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(&b, "\nReaction after the down timer is due (medians): first advert as master / first VIP claim\n")
	for _, res := range r.Results {
		if len(res.Late) > 0 {
			fmt.Fprintf(&b, "  %-9v %-11s %9v / %v\n", res.Setting, res.Daemon, round(median(res.AdvertLate)), round(median(res.Late)))
		}
	}
	for _, res := range r.Results {
		if res.Failed > 0 || res.Note != "" {
			fmt.Fprintf(&b, "%v %s: %d of %d repetitions without a sample %s\n", res.Setting, res.Daemon, res.Failed, r.Reps, res.Note)
		}
		if res.Disturbed > 0 {
			fmt.Fprintf(&b, "%v %s: %d repetitions repeated: the master was silent before its link went down (machine stall)\n",
				res.Setting, res.Daemon, res.Disturbed)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func cell(r *Result, f func(Result) time.Duration) string {
	if r == nil || len(r.Samples) == 0 {
		return "-"
	}
	return round(f(*r)).String()
}

func lateCell(r *Result) string {
	if r == nil || len(r.Late) == 0 {
		return "-"
	}
	return round(r.LateP50()).String()
}

// round keeps a millisecond resolution, which is what the probe gives.
func round(d time.Duration) time.Duration {
	if d >= 10*time.Millisecond {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Microsecond)
}

// gapStats reduces probe gaps to their median and maximum.
func gapStats(interval time.Duration, gaps []time.Duration) ProbeStats {
	ps := ProbeStats{Interval: interval, Gaps: len(gaps)}
	if len(gaps) > 0 {
		s := slices.Sorted(slices.Values(gaps))
		ps.P50, ps.Max = s[(len(s)-1)/2], s[len(s)-1]
	}
	return ps
}
