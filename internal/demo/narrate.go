package demo

import (
	"fmt"
	"io"
	"slices"
	"sync"
	"time"
)

// narrator prints timestamped lines in time order. Lines arrive out of
// order (node states come from a polled file, a failover's outage is known
// only once the requests before it have settled), so each line is held
// back for hold and released sorted by its timestamp.
type narrator struct {
	w     io.Writer
	start time.Time
	hold  time.Duration

	mu      sync.Mutex
	pending []line
	stop    chan struct{}
	done    chan struct{}
}

type line struct {
	at   time.Time
	text string
}

func newNarrator(w io.Writer, start time.Time, hold time.Duration) *narrator {
	n := &narrator{w: w, start: start, hold: hold, stop: make(chan struct{}), done: make(chan struct{})}
	go n.loop()
	return n
}

func (n *narrator) loop() {
	defer close(n.done)
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case now := <-t.C:
			n.release(now.Add(-n.hold))
		}
	}
}

// say queues one line stamped at.
func (n *narrator) say(at time.Time, text string) {
	n.mu.Lock()
	n.pending = append(n.pending, line{at, text})
	n.mu.Unlock()
}

// printf writes untimed text at once, after every queued line.
func (n *narrator) printf(format string, args ...any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.releaseLocked(time.Time{})
	fmt.Fprintf(n.w, format, args...)
}

// close releases every queued line and stops the narrator.
func (n *narrator) close() {
	close(n.stop)
	<-n.done
	n.mu.Lock()
	n.releaseLocked(time.Time{})
	n.mu.Unlock()
}

// release prints the queued lines stamped up to until (all when zero).
func (n *narrator) release(until time.Time) {
	n.mu.Lock()
	n.releaseLocked(until)
	n.mu.Unlock()
}

func (n *narrator) releaseLocked(until time.Time) {
	slices.SortStableFunc(n.pending, func(a, b line) int { return a.at.Compare(b.at) })
	i := 0
	for ; i < len(n.pending); i++ {
		l := n.pending[i]
		if !until.IsZero() && l.at.After(until) {
			break
		}
		fmt.Fprintf(n.w, "t=%+6.2fs  %s\n", l.at.Sub(n.start).Seconds(), l.text)
	}
	n.pending = n.pending[i:]
}
