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

// Gap is a stretch of time in which the client's requests failed.
type Gap struct{ From, To time.Time }

// Len is the gap's duration.
func (g Gap) Len() time.Duration { return g.To.Sub(g.From) }

// Impact is what a client saw of one step.
type Impact struct {
	Outage  time.Duration // total of Gaps
	Failed  int           // failed requests
	Slowest time.Duration // the slowest answered request
	Gaps    []Gap
}

// Measure measures client-visible unavailability among the requests sent
// in [from, to] (samples sorted by send time, every request in the window
// already settled): each run of consecutive failed requests is down from
// the first one's send time to the send time of the next answered request
// (or to, if none). Measuring by requests rather than by silence keeps a
// stalled client (a busy machine) from looking like an outage.
func Measure(samples []Sample, from, to time.Time) Impact {
	var (
		im   Impact
		down *Gap
	)
	for _, s := range samples {
		if s.At.Before(from) || s.At.After(to) {
			continue
		}
		switch {
		case !s.OK:
			im.Failed++
			if down == nil {
				down = &Gap{From: s.At}
			}
		default:
			im.Slowest = max(im.Slowest, s.Latency)
			if down != nil {
				down.To = s.At
				im.Gaps = append(im.Gaps, *down)
				down = nil
			}
		}
	}
	if down != nil {
		down.To = to
		im.Gaps = append(im.Gaps, *down)
	}
	for _, g := range im.Gaps {
		im.Outage += g.Len()
	}
	return im
}
