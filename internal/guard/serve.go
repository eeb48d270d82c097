package guard

import (
	"context"
	"errors"
	"time"
)

// The read path's check (rule 8 in doc.go). MayServe takes the guard's lock
// and reads CLOCK_BOOTTIME with a system call; a store answering thousands
// of reads a second wants neither. So every change of the holding (taken,
// ticked, renewed, lost) publishes the instant until which MayServe would
// stay nil if nothing else happened, and ServeCheck compares the time with
// it: one atomic load and one time.Now (vDSO, no system call).

// monoBase is the origin of the monotonic instants windows are kept in.
var monoBase = time.Now()

// serveWindow is a published MayServe verdict.
type serveWindow struct {
	// err is MayServe's error when the window was published (nil: serving).
	err error
	// mono and wall bound the window on the process's monotonic clock (from
	// monoBase) and on the wall clock (Unix ns). The monotonic clock stops
	// while the host is suspended; the wall clock does not (the kernel adds
	// the sleep on resume), so the wall bound ends a window that a suspend
	// outlasted, as the guard's CLOCK_BOOTTIME would. A wall clock stepped
	// forward ends a window early (refusals until the next tick publishes
	// a fresh one); one stepped back leaves the monotonic bound in force.
	mono time.Duration
	wall int64
	// lapse is the error once the window has run out.
	lapse error
	// next is closed when a newer window replaces this one.
	next chan struct{}
}

// newServeWindow is the window of holder h (nil: none) as of one instant
// read on three clocks: boot (the guard's clock), mono (from monoBase) and
// wall. Read mono and wall first: the window then ends no later than it
// would on the guard's clock.
func newServeWindow(h *Holder, boot, mono time.Duration, wall int64) *serveWindow {
	if h == nil {
		return &serveWindow{err: ErrNotHolding}
	}
	if err := h.MayServe(boot); err != nil {
		return &serveWindow{err: err}
	}
	until, lapse := h.ServeUntil()
	left := until - boot
	return &serveWindow{mono: mono + left, wall: wall + int64(left), lapse: lapse}
}

// check is ServeCheck at an instant read as mono (from monoBase) and wall.
func (w *serveWindow) check(mono time.Duration, wall int64) error {
	switch {
	case w == nil:
		return ErrNotHolding
	case w.err != nil:
		return w.err
	case mono >= w.mono || wall >= w.wall:
		return w.lapse
	}
	return nil
}

// publishLocked publishes the current holding's window (g.mu held).
func (g *Guard) publishLocked() {
	now := time.Now()
	g.setWindow(newServeWindow(g.hold, g.clock(), now.Sub(monoBase), now.UnixNano()))
}

// setWindow publishes w and wakes the reads waiting on the one it replaces.
func (g *Guard) setWindow(w *serveWindow) {
	w.next = make(chan struct{})
	if old := g.window.Swap(w); old != nil {
		close(old.next)
	}
}

// ServeCheck is MayServe for the read path: nil while this node holds the
// lease, its last renewal is younger than the serve window, and it has
// ticked within PauseThreshold and renewed since any pause it detected.
// It takes no lock and makes no system call: it compares the time with a
// window published at every tick and renewal, so a process paused (GC,
// SIGSTOP, VM freeze, host suspend) past the window refuses from the first
// instant after it resumes, before any of its goroutines has run.
// Otherwise it returns MayServe's errors: ErrNotHolding, ErrRevalidate,
// ErrLeaseExpired, or why the lease was lost.
func (g *Guard) ServeCheck() error {
	now := time.Now()
	return g.window.Load().check(now.Sub(monoBase), now.UnixNano())
}

// AwaitServe is ServeCheck for a read that may wait a little. A window
// that only lapsed (ErrRevalidate, ErrLeaseExpired: a tick or renewal came
// late, as on a loaded host or right after a pause) is not an answer yet:
// the guard's next tick revalidates the lease against the shared OWNER
// record and publishes a fresh window, or finds it lost. AwaitServe waits
// for that, up to one lease timeout or ctx, and checks again; a holding
// that ended or was lost answers at once. It never serves on a stale
// window: nil only after a window published since proves the lease.
func (g *Guard) AwaitServe(ctx context.Context) error {
	err := g.ServeCheck()
	if !lapsed(err) {
		return err
	}
	timer := time.NewTimer(g.timing.LeaseTimeout)
	defer timer.Stop()
	for {
		w := g.window.Load()
		now := time.Now()
		if err = w.check(now.Sub(monoBase), now.UnixNano()); !lapsed(err) {
			return err
		}
		select {
		case <-w.next:
		case <-timer.C:
			return err
		case <-ctx.Done():
			return err
		}
	}
}

// lapsed: a window ran out without the lease being lost (see AwaitServe).
func lapsed(err error) bool {
	return errors.Is(err, ErrRevalidate) || errors.Is(err, ErrLeaseExpired)
}
