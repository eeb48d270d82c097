package service

import (
	"fmt"
	"time"
)

// RestartMode says when the exec driver restarts a child that exited on its
// own.
type RestartMode int

const (
	// RestartNever leaves an exited child exited; the keeper hears of it
	// through OnExit and fails over.
	RestartNever RestartMode = iota
	// RestartOnFailure restarts a child that exited non-zero or was killed
	// by a signal, with backoff, up to MaxRestarts in a row.
	RestartOnFailure
)

func (m RestartMode) String() string {
	switch m {
	case RestartNever:
		return "never"
	case RestartOnFailure:
		return "on-failure"
	}
	return fmt.Sprintf("RestartMode(%d)", int(m))
}

// Defaults for RestartPolicy fields left zero.
const (
	DefaultMaxRestarts = 3
	DefaultBackoff     = 100 * time.Millisecond
	DefaultMaxBackoff  = 5 * time.Second
	DefaultResetAfter  = time.Minute
)

// RestartPolicy decides whether and when to restart. It is pure: the exec
// driver feeds it exits and sleeps for the delay it returns.
type RestartPolicy struct {
	Mode RestartMode
	// MaxRestarts is how many restarts in a row are tried before giving up
	// (0 means DefaultMaxRestarts, negative means no limit). Giving up is
	// usually right for an HA pair: the peer takes over instead.
	MaxRestarts int
	// Backoff is the delay before the first restart; it doubles with each
	// restart in a row up to MaxBackoff (0 means the defaults).
	Backoff    time.Duration
	MaxBackoff time.Duration
	// ResetAfter: a run at least this long ends the streak, so a service
	// that crashes once a week is not given up on after a month
	// (0 means DefaultResetAfter).
	ResetAfter time.Duration
}

// Next decides after an exit. streak is the number of restarts in a row so
// far, failed says whether the exit was a failure (non-zero code or a
// signal) and ran is how long the child ran. It returns whether to restart,
// after what delay, and the new streak.
func (p RestartPolicy) Next(streak int, failed bool, ran time.Duration) (restart bool, delay time.Duration, newStreak int) {
	if p.Mode != RestartOnFailure || !failed {
		return false, 0, streak
	}
	reset := p.ResetAfter
	if reset <= 0 {
		reset = DefaultResetAfter
	}
	if ran >= reset {
		streak = 0
	}
	limit := p.MaxRestarts
	if limit == 0 {
		limit = DefaultMaxRestarts
	}
	if limit > 0 && streak >= limit {
		return false, 0, streak
	}
	delay = p.Backoff
	if delay <= 0 {
		delay = DefaultBackoff
	}
	maxDelay := p.MaxBackoff
	if maxDelay <= 0 {
		maxDelay = DefaultMaxBackoff
	}
	for i := 0; i < streak && delay < maxDelay; i++ {
		delay *= 2
	}
	return true, min(delay, maxDelay), streak + 1
}
