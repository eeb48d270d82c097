package demo

import (
	"slices"
	"sync"
	"time"
)

// Timeline collects what happened during a demo run: the workload's
// samples, the demo's own actions (faults and recoveries) and the nodes'
// state changes. It is safe for concurrent use.
type Timeline struct {
	Start time.Time

	mu      sync.Mutex
	samples []Sample // in completion order
	marks   []Mark
	states  []NodeState
}

// Mark is an action the demo took (a fault or a recovery).
type Mark struct {
	At    time.Time
	Label string
}

// NodeState is a state a node reported (through its notify hook).
type NodeState struct {
	At       time.Time
	Node     string
	State    string // MASTER, BACKUP, FAULT, STOP
	Priority int
}

// NewTimeline starts a timeline at start.
func NewTimeline(start time.Time) *Timeline { return &Timeline{Start: start} }

// Record adds a workload sample; it is the record func given to Workload.Start.
func (t *Timeline) Record(s Sample) {
	t.mu.Lock()
	t.samples = append(t.samples, s)
	t.mu.Unlock()
}

// Mark adds a demo action.
func (t *Timeline) Mark(at time.Time, label string) {
	t.mu.Lock()
	t.marks = append(t.marks, Mark{At: at, Label: label})
	t.mu.Unlock()
}

// NodeState adds a node state change.
func (t *Timeline) NodeState(s NodeState) {
	t.mu.Lock()
	t.states = append(t.states, s)
	t.mu.Unlock()
}

// SamplesFrom returns the samples recorded after the first i, and the
// index to pass next time.
func (t *Timeline) SamplesFrom(i int) ([]Sample, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.samples[min(i, len(t.samples)):]), len(t.samples)
}

// Snapshot returns copies of everything recorded so far, samples sorted
// by send time and the rest by time.
func (t *Timeline) Snapshot() ([]Sample, []Mark, []NodeState) {
	t.mu.Lock()
	s, m, n := slices.Clone(t.samples), slices.Clone(t.marks), slices.Clone(t.states)
	t.mu.Unlock()
	slices.SortStableFunc(s, func(a, b Sample) int { return a.At.Compare(b.At) })
	slices.SortStableFunc(m, func(a, b Mark) int { return a.At.Compare(b.At) })
	slices.SortStableFunc(n, func(a, b NodeState) int { return a.At.Compare(b.At) })
	return s, m, n
}

// Gap is a stretch of time in which the client got no answer.
type Gap struct{ From, To time.Time }

// Len is the gap's duration.
func (g Gap) Len() time.Duration { return g.To.Sub(g.From) }

// Impact is what a client saw of one step.
type Impact struct {
	// Outage is the longest time without an answer: from the last answer
	// before it (LastAnswer) to the first after (FirstAnswer, zero if none
	// came before the window's end), answers taken by completion time.
	Outage      time.Duration
	LastAnswer  time.Time
	FirstAnswer time.Time
	Failed      int           // failed requests
	Slowest     time.Duration // the slowest answered request
	// Gaps holds the outage, for the plot, when it is one: longer than
	// MinOutage or with failed requests in it.
	Gaps []Gap
}

// MinOutage is the shortest gap between answers that counts as an outage
// when no request failed: below it, it is the workload's pace plus
// scheduling jitter on a busy machine.
const MinOutage = 50 * time.Millisecond

// Measure measures what the client saw of a step that began at from and
// ended at to (samples sorted by send time, every request sent in the
// window already settled). The outage is the longest stretch without an
// answer, as the client saw it: from the completion of one answered
// request to the completion of the next, over the answers that completed
// after from (the first stretch starts at the last answer before from),
// up to to; if nothing was answered after from, it runs to to. Failed and
// Slowest count the requests sent in [from, to].
func Measure(samples []Sample, from, to time.Time) Impact {
	var (
		im      Impact
		answers []time.Time
	)
	for _, s := range samples {
		inWindow := !s.At.Before(from) && !s.At.After(to)
		switch {
		case !s.OK:
			if inWindow {
				im.Failed++
			}
		default:
			if inWindow {
				im.Slowest = max(im.Slowest, s.Latency)
			}
			answers = append(answers, s.Done())
		}
	}
	slices.SortFunc(answers, time.Time.Compare)
	prev := from
	i, _ := slices.BinarySearchFunc(answers, from, time.Time.Compare)
	if i > 0 {
		prev = answers[i-1]
	}
	after := false
	for ; i < len(answers) && !answers[i].After(to); i++ {
		if g := answers[i].Sub(prev); g > im.Outage {
			im.Outage, im.LastAnswer, im.FirstAnswer = g, prev, answers[i]
		}
		prev, after = answers[i], true
	}
	if !after {
		im.Outage, im.LastAnswer, im.FirstAnswer = to.Sub(prev), prev, time.Time{}
	}
	if im.Outage >= MinOutage || (im.Failed > 0 && im.Outage > 0) {
		end := im.FirstAnswer
		if end.IsZero() {
			end = to
		}
		im.Gaps = []Gap{{From: im.LastAnswer, To: end}}
	}
	return im
}
