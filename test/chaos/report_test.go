package chaos

import (
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"time"
)

// cycle is one round of faults and the recovery after it.
type cycle struct {
	Faults    []*fault
	Start     time.Duration // first injection
	Healed    time.Duration // every fault of the cycle undone
	Recovered time.Duration // first acknowledged write called after Healed (0: never)
	Unavail   time.Duration // longest stretch without a successful operation in [Start, Recovered]
}

// runReport is everything a run measured.
type runReport struct {
	Seed         int64
	Clients      int
	Storage      bool
	Duration     time.Duration
	Cycles       []*cycle
	Ops          []op
	Lost         []string // acknowledged set inserts missing at the end
	Unexpected   []string // final values nobody wrote
	Lin          linResult
	TW           twoWriterReport
	VIPMax       time.Duration // longest overlap while both keepers ran
	VIPOver      int           // overlaps longer than the window
	VIPFrozen    time.Duration // longest overlap explained by a frozen keeper
	VIPWindow    time.Duration
	VIPIntervals []string
	Crashes      []string
	StorageExits []string
	Stuck        []string
	// Direct counts the reads sent to frozen primaries: answered (each
	// one checked by porcupine), refused as unproven (code 2), cut (the
	// keeper stopped its API first).
	Direct [3]int64
}

// unavailability fills each cycle's Unavail from the successful
// operations: the longest gap between two consecutive successful returns
// (any client through the VIP, any kind) that overlaps the cycle.
func unavailability(ops []op, cycles []*cycle) {
	var rets []time.Duration
	for _, o := range ops {
		if o.Outcome == ok && !o.Final && !o.Direct {
			rets = append(rets, o.Return)
		}
	}
	sort.Slice(rets, func(i, j int) bool { return rets[i] < rets[j] })
	for _, c := range cycles {
		end := c.Recovered
		if end == 0 {
			end = c.Healed
		}
		i := sort.Search(len(rets), func(i int) bool { return rets[i] >= c.Start })
		prev := c.Start
		if i > 0 {
			prev = rets[i-1]
		}
		var worst time.Duration
		for ; i < len(rets) && prev <= end; i++ {
			worst = max(worst, rets[i]-prev)
			prev = rets[i]
		}
		c.Unavail = worst
	}
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(i, 0)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

func (r *runReport) faults() int {
	n := 0
	for _, c := range r.Cycles {
		n += len(c.Faults)
	}
	return n
}

// markdown renders the report.
func (r *runReport) markdown() string {
	var b strings.Builder
	pass := func(ok bool) string {
		if ok {
			return "pass"
		}
		return "**FAIL**"
	}
	fmt.Fprintf(&b, "# milvus-ha chaos run\n\nseed %d · %d faults in %d cycles · %v · %d clients · storage faults %v\n\n",
		r.Seed, r.faults(), len(r.Cycles), r.Duration.Round(time.Second), r.Clients, r.Storage)
	fmt.Fprintf(&b, "| check | result | |\n| --- | --- | --- |\n")
	fmt.Fprintf(&b, "| acknowledged writes lost (set check) | %d | %s |\n", len(r.Lost), pass(len(r.Lost) == 0))
	fmt.Fprintf(&b, "| values nobody wrote | %d | %s |\n", len(r.Unexpected), pass(len(r.Unexpected) == 0))
	fmt.Fprintf(&b, "| porcupine violations (keys) | %d of %d keys, %d ops; %d keys undecided | %s |\n",
		len(r.Lin.Violations), r.Lin.Keys, r.Lin.Ops, len(r.Lin.Unknown), pass(len(r.Lin.Violations) == 0))
	fmt.Fprintf(&b, "| two-writer intervals | %d (longest %s) | %s |\n", len(r.TW.Intervals), ms(r.TW.MaxOverlap), pass(len(r.TW.Intervals) == 0))
	fmt.Fprintf(&b, "| WAL: epochs / records past a seal / torn bytes / problems | %d / %d / %d / %d | %s |\n",
		r.TW.Epochs, r.TW.Late, r.TW.TornBytes, len(r.TW.Problems), pass(len(r.TW.Problems) == 0))
	fmt.Fprintf(&b, "| VIP on both hosts, both keepers running | longest %s, %d over %s | %s |\n", ms(r.VIPMax), r.VIPOver, ms(r.VIPWindow), pass(r.VIPOver == 0))
	fmt.Fprintf(&b, "| VIP on both hosts, any cause (frozen or dead keepers included) | longest %s | info |\n", ms(r.VIPFrozen))
	fmt.Fprintf(&b, "| keeper crashes not injected, panics | %d | %s |\n", len(r.Crashes), pass(len(r.Crashes) == 0))
	fmt.Fprintf(&b, "| keeper exits (status 1) refusing to start on faulted storage, restarted | %d | info |\n", len(r.StorageExits))
	fmt.Fprintf(&b, "| reads sent straight to a frozen primary: answered (checked by porcupine) / refused, lease unproven / cut | %d / %d / %d | info |\n", r.Direct[0], r.Direct[1], r.Direct[2])
	fmt.Fprintf(&b, "| cycles without recovery within 60 s | %d | %s |\n", len(r.Stuck), pass(len(r.Stuck) == 0))

	// Faults by kind.
	type agg struct {
		n, alone    int
		un, unAlone []time.Duration
	}
	kinds := map[faultKind]*agg{}
	for _, c := range r.Cycles {
		for _, f := range c.Faults {
			a := kinds[f.Kind]
			if a == nil {
				a = &agg{}
				kinds[f.Kind] = a
			}
			a.n++
			a.un = append(a.un, c.Unavail)
			if len(c.Faults) == 1 {
				a.alone++
				a.unAlone = append(a.unAlone, c.Unavail)
			}
		}
	}
	var names []string
	for k := range kinds {
		names = append(names, string(k))
	}
	sort.Strings(names)
	fmt.Fprintf(&b, "\n## Faults and unavailability\n\nUnavailability: the longest time without any successful operation during the cycle (fault to recovery). \"alone\": cycles with this fault only.\n\n")
	fmt.Fprintf(&b, "| fault | injected | alone | p50 alone | p99 alone | p50 all | p99 all | max all |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, k := range names {
		a := kinds[faultKind(k)]
		fmt.Fprintf(&b, "| %s | %d | %d | %s | %s | %s | %s | %s |\n", k, a.n, a.alone,
			ms(percentile(a.unAlone, .5)), ms(percentile(a.unAlone, .99)),
			ms(percentile(a.un, .5)), ms(percentile(a.un, .99)), ms(percentile(a.un, 1)))
	}

	// Operations.
	counts := map[opKind][3]int{}
	for _, o := range r.Ops {
		if o.Final {
			continue
		}
		c := counts[o.Kind]
		c[o.Outcome]++
		counts[o.Kind] = c
	}
	fmt.Fprintf(&b, "\n## Operations\n\n| op | ok | failed | indeterminate |\n| --- | ---: | ---: | ---: |\n")
	var tot [3]int
	for k := opInsert; k <= opQuery; k++ {
		c := counts[k]
		fmt.Fprintf(&b, "| %s | %d | %d | %d |\n", k, c[0], c[1], c[2])
		for i := range tot {
			tot[i] += c[i]
		}
	}
	fmt.Fprintf(&b, "| all | %d | %d | %d |\n", tot[0], tot[1], tot[2])

	list := func(title string, items []string) {
		if len(items) == 0 {
			return
		}
		fmt.Fprintf(&b, "\n## %s\n\n", title)
		for i, s := range items {
			if i == 20 {
				fmt.Fprintf(&b, "- … %d more\n", len(items)-20)
				break
			}
			fmt.Fprintf(&b, "- %s\n", s)
		}
	}
	fmt.Fprintf(&b, "\n## Cycles\n\n| # | faults (kind host +offset hold) | start | healed after | recovered after heal | unavailable |\n| ---: | --- | ---: | ---: | ---: | ---: |\n")
	for i, c := range r.Cycles {
		var fs []string
		for _, f := range c.Faults {
			d := fmt.Sprintf("%s %s +%d %d", f.Kind, f.Host, f.Offset.Milliseconds(), f.Hold.Milliseconds())
			if f.Note != "" {
				d += " (" + f.Note + ")"
			}
			fs = append(fs, d)
		}
		rec := "never"
		if c.Recovered > 0 {
			rec = ms(c.Recovered - c.Healed)
		}
		fmt.Fprintf(&b, "| %d | %s | %.1fs | %s | %s | %s |\n", i+1, strings.Join(fs, ", "), c.Start.Seconds(), ms(c.Healed-c.Start), rec, ms(c.Unavail))
	}
	list("Lost acknowledged writes", r.Lost)
	list("Values nobody wrote", r.Unexpected)
	var lin []string
	for _, k := range r.Lin.Violations {
		lin = append(lin, fmt.Sprintf("key %d", k))
	}
	if r.Lin.Visual != "" {
		lin = append(lin, "visualization: "+r.Lin.Visual)
	}
	list("Porcupine violations", lin)
	list("Two-writer intervals", r.TW.Intervals)
	list("WAL problems", r.TW.Problems)
	list("VIP on both hosts", r.VIPIntervals)
	list("Keeper crashes", r.Crashes)
	list("Keeper exits on faulted storage", r.StorageExits)
	list("Cycles without recovery", r.Stuck)
	return b.String()
}

var kindColor = map[faultKind]string{
	fHostLoss: "#e41a1c", fKill: "#377eb8", fPause: "#4daf4a", fCut: "#984ea3",
	fStorageEIO: "#ff7f00", fStorageHang: "#a65628", fSlowIO: "#f781bf",
	fFlap: "#999999", fSwitchover: "#66c2a5", fRecovery: "#e6ab02",
}

// svg plots client latency over time (log scale) with the faults as
// shaded bands, one row per fault kind.
func (r *runReport) svg() string {
	const w, h, left, top, plotH = 1600.0, 520.0, 60.0, 20.0, 340.0
	end := r.Duration
	if end <= 0 {
		end = time.Second
	}
	x := func(d time.Duration) float64 { return left + (w-left-20)*float64(d)/float64(end) }
	y := func(d time.Duration) float64 {
		ms := math.Max(float64(d)/1e6, 0.5)
		f := (math.Log10(ms) - math.Log10(0.5)) / (math.Log10(5000) - math.Log10(0.5))
		return top + plotH*(1-math.Min(f, 1))
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="11">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	// Fault bands.
	kinds := allKinds(true)
	rowY := func(k faultKind) float64 {
		for i, kk := range kinds {
			if kk == k {
				return top + plotH + 30 + float64(i)*12
			}
		}
		return 0
	}
	for _, c := range r.Cycles {
		for _, f := range c.Faults {
			x0, x1 := x(f.At), math.Max(x(f.End), x(f.At)+1)
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.0f" width="%.1f" height="%.0f" fill="%s" opacity="0.12"/>`+"\n", x0, top, x1-x0, plotH, kindColor[f.Kind])
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.0f" width="%.1f" height="9" fill="%s"><title>%s %s</title></rect>`+"\n", x0, rowY(f.Kind), x1-x0, kindColor[f.Kind], f.Kind, f.Host)
		}
	}
	for _, k := range kinds {
		fmt.Fprintf(&b, `<text x="4" y="%.0f" fill="%s">%s</text>`+"\n", rowY(k)+8, kindColor[k], k)
	}
	// Axes.
	for _, t := range []time.Duration{time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond, time.Second} {
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="4" y="%.1f">%v</text>`+"\n", left, w-20, y(t), y(t), y(t)+4, t)
	}
	step := max(end/20, time.Second).Round(time.Second)
	for t := time.Duration(0); t <= end; t += step {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f">%ds</text>`+"\n", x(t), top+plotH+14, int(t.Seconds()))
	}
	// Latency points, thinned to about 30000.
	every := max(len(r.Ops)/30000, 1)
	for i, o := range r.Ops {
		if o.Final || (i%every != 0 && o.Outcome == ok) {
			continue
		}
		color := "#1f77b4"
		switch o.Outcome {
		case failed:
			color = "#ff7f0e"
		case indeterminate:
			color = "#d62728"
		}
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="1.2" fill="%s"/>`+"\n", x(o.Call), y(o.Return-o.Call), color)
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">client latency per operation (log scale): blue ok, orange failed, red indeterminate; bands: faults (seed %d)</text>`+"\n", left, h-8, r.Seed)
	b.WriteString("</svg>\n")
	return b.String()
}

func (r *runReport) write(path string) error {
	if err := os.WriteFile(path, []byte(r.markdown()), 0o644); err != nil {
		return err
	}
	var hist strings.Builder
	for _, o := range r.Ops {
		fmt.Fprintf(&hist, "%d\t%s\t%d\t%q\t%d\t%d\t%s\t%q\n", o.Client, o.Kind, o.Key, o.Value, o.Call.Microseconds(), o.Return.Microseconds(), o.Outcome, o.Err)
	}
	if err := os.WriteFile(strings.TrimSuffix(path, ".md")+".history.tsv", []byte(hist.String()), 0o644); err != nil {
		return err
	}
	return os.WriteFile(strings.TrimSuffix(path, ".md")+".svg", []byte(r.svg()), 0o644)
}
