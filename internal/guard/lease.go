package guard

import (
	"errors"
	"fmt"
	"time"
)

// This file is the pure decision core: no I/O, no goroutines, no clock.
// Instants are time.Duration values on one node's monotonic clock (the I/O
// shell uses CLOCK_BOOTTIME, which keeps counting while the host sleeps).
// The two nodes' clocks are never compared.

// Sample is one read of the shared files by an observer.
type Sample struct {
	Owner Owner
	// Beat is the raw HEARTBEAT content. Any byte change counts as movement,
	// so even a record this build cannot decode keeps the peer "alive".
	Beat [RecordSize]byte
}

// Verdict is an observer's conclusion about the lease.
type Verdict int

const (
	// Unknown: OWNER is active and nothing moved yet, but it has not been
	// still for LeaseTimeout either. Keep observing.
	Unknown Verdict = iota
	// Free: nobody holds the lease (never written, or released). Take it now.
	Free
	// Alive: the holder's heartbeat (or OWNER) moved less than LeaseTimeout
	// ago. Never take over; report "peer alive on storage".
	Alive
	// Expired: OWNER and HEARTBEAT were unchanged for at least LeaseTimeout
	// on this node's clock. The lease may be taken.
	Expired
)

func (v Verdict) String() string {
	switch v {
	case Unknown:
		return "unknown"
	case Free:
		return "free"
	case Alive:
		return "peer alive on storage"
	case Expired:
		return "expired"
	}
	return fmt.Sprintf("verdict(%d)", int(v))
}

// Observer decides whether the current holder's lease has expired, from
// successive samples. Reference: DESIGN.md "Lease", sanlock delta leases.
type Observer struct {
	timing Timing
	seen   bool
	last   Sample
	// since is when a read that returned last completed. The holder cannot
	// have written anything between that completion and the start of a later
	// read that returns the same content, so start-since bounds its silence.
	since time.Duration
	// moved records that the content changed at since: the holder was
	// alive then.
	moved bool
	// lastStart is when the previous read started; a larger gap than
	// PauseThreshold before the next one means this observer was not
	// looking (paused, or not fed), and the silence window restarts.
	lastStart time.Duration
}

// NewObserver returns an observer with no history.
func NewObserver(t Timing) *Observer { return &Observer{timing: t} }

// Observe feeds one sample, read between start and end (both on this node's
// clock), and returns the verdict.
//
// Silence counts only while the observer keeps looking: if this read started
// more than PauseThreshold after the previous one (this process was paused,
// or nobody fed the observer for a while), unchanged content restarts the
// silence window at this read, as if it were the first. The proof "same
// content, so nothing was written in between" would still hold across the
// gap, but the gap's length is measured by a clock that was not watched
// running (a frozen VM's clock may catch up in a jump): only time between
// fresh reads counts. A change is movement whatever the gap.
func (o *Observer) Observe(start, end time.Duration, s Sample) Verdict {
	switch {
	case !o.seen || s != o.last:
		o.moved = o.seen // a change after the first sample is movement
		o.last, o.since = s, end
	case start-o.lastStart > o.timing.PauseThreshold():
		o.moved, o.since = false, end
	}
	o.seen, o.lastStart = true, start
	if s.Owner.Free() {
		return Free
	}
	if start-o.since >= o.timing.LeaseTimeout {
		return Expired
	}
	if o.moved {
		return Alive
	}
	return Unknown
}

// AcquireVerdict is the decision of an acquisition that began at begin,
// given v, the verdict Observe just returned. The silence accumulated before
// begin counts: a standby that watched all along takes a lease that already
// expired at once, and waits only the rest of one partly run down. Movement
// counts only if a read that completed after begin saw it: a change a watch
// saw before begin says the holder was alive then, not now, so the
// acquisition keeps observing, and refuses only when the heartbeat moves
// again (within a heartbeat interval if the holder lives) — or takes the
// lease once the content has been unchanged for LeaseTimeout.
func (o *Observer) AcquireVerdict(v Verdict, begin time.Duration) Verdict {
	if v == Alive && o.since < begin {
		return Unknown
	}
	return v
}

// Silence is how long the current content has been seen unchanged, measured
// as of instant now (0 before the first sample).
func (o *Observer) Silence(now time.Duration) time.Duration {
	if !o.seen || now < o.since {
		return 0
	}
	return now - o.since
}

// Last returns the last sample and whether there is one.
func (o *Observer) Last() (Sample, bool) { return o.last, o.seen }

// Reset forgets the history (after this node's own lease ended, a fresh
// observation must start).
func (o *Observer) Reset() { *o = Observer{timing: o.timing} }

// Errors reported by the holder; the I/O shell wraps them with detail.
var (
	// ErrLeaseExpired: no renewal succeeded within the serve window.
	ErrLeaseExpired = errors.New("guard: lease expired (no successful heartbeat within lease timeout - safety margin)")
	// ErrNotOwner: OWNER names another epoch or node, or was released.
	ErrNotOwner = errors.New("guard: not the owner")
	// ErrRevalidate: the holder was paused and has not renewed since.
	ErrRevalidate = errors.New("guard: paused, lease must be revalidated before serving")
	// ErrReleased: this node released the lease.
	ErrReleased = errors.New("guard: lease released")
)

// Holder is the lease state of the node that holds it.
type Holder struct {
	timing   Timing
	epoch    uint64
	lastOK   time.Duration // start of the last successful renewal
	lastTick time.Duration
	// revalidateAfter > 0: a pause was detected at that instant; only a
	// renewal that started at or after it clears the flag.
	revalidateAfter time.Duration
	revalidate      bool
	lost            error
}

// NewHolder starts holding epoch; acquiredAt is when the OWNER write that
// took the lease started (the observer cannot have seen it earlier).
func NewHolder(t Timing, epoch uint64, acquiredAt time.Duration) *Holder {
	return &Holder{timing: t, epoch: epoch, lastOK: acquiredAt, lastTick: acquiredAt}
}

// Epoch is the epoch held.
func (h *Holder) Epoch() uint64 { return h.epoch }

// Deadline is the instant at which the holder must have stopped serving.
func (h *Holder) Deadline() time.Duration { return h.lastOK + h.timing.ServeWindow() }

// Tick is called every heartbeat interval. It detects pauses and expiry and
// returns the terminal error once the lease is lost (nil while held).
func (h *Holder) Tick(now time.Duration) error {
	if h.lost != nil {
		return h.lost
	}
	if now-h.lastTick > h.timing.PauseThreshold() {
		h.revalidate, h.revalidateAfter = true, now
	}
	h.lastTick = max(h.lastTick, now)
	return h.check(now)
}

func (h *Holder) check(now time.Duration) error {
	if h.lost == nil && now >= h.Deadline() {
		h.lost = ErrLeaseExpired
	}
	return h.lost
}

// Renewed records a renewal (OWNER still ours, HEARTBEAT written and synced)
// that started at start and completed at end.
func (h *Holder) Renewed(start, end time.Duration) error {
	// A renewal completing after the deadline cannot revive the lease: the
	// peer may already have decided it expired.
	if err := h.check(end); err != nil {
		return err
	}
	h.lastOK = max(h.lastOK, start)
	if h.revalidate && start >= h.revalidateAfter {
		h.revalidate = false
	}
	return nil
}

// Lose ends the lease with err (OWNER taken over, or released).
func (h *Holder) Lose(err error) {
	if h.lost == nil {
		h.lost = err
	}
}

// Lost returns the terminal error, or nil while the lease is held at now.
func (h *Holder) Lost(now time.Duration) error { return h.check(now) }

// MayServe returns nil if the holder may answer requests at now: the lease
// is held, younger than the serve window, and no unrevalidated pause.
func (h *Holder) MayServe(now time.Duration) error {
	if err := h.check(now); err != nil {
		return err
	}
	if h.revalidate || now-h.lastTick > h.timing.PauseThreshold() {
		return ErrRevalidate
	}
	return nil
}

// ServeUntil is the instant from which MayServe stops returning nil unless
// a tick or a renewal comes first, and the error it returns then: the
// deadline (ErrLeaseExpired), or PauseThreshold after the last tick
// (ErrRevalidate: a holder that stopped ticking may have been paused),
// whichever comes first. It means something only while MayServe is nil.
func (h *Holder) ServeUntil() (time.Duration, error) {
	if quiet := h.lastTick + h.timing.PauseThreshold(); quiet < h.Deadline() {
		return quiet, ErrRevalidate
	}
	return h.Deadline(), ErrLeaseExpired
}
