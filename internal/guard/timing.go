package guard

import (
	"errors"
	"fmt"
	"time"
)

// Timing holds the lease parameters. Both nodes of a pair must use the same
// values (config check compares them).
type Timing struct {
	// HeartbeatInterval is how often the holder rewrites HEARTBEAT.
	HeartbeatInterval time.Duration
	// LeaseTimeout is how long an observer must see HEARTBEAT and OWNER
	// unchanged, on its own clock, before it may take the lease.
	LeaseTimeout time.Duration
	// SafetyMargin is how much earlier than LeaseTimeout the holder stops
	// serving: it serves only while its last successful renewal started less
	// than LeaseTimeout-SafetyMargin ago.
	SafetyMargin time.Duration
	// PollInterval is how often an observer reads OWNER and HEARTBEAT: a
	// standby's Watch all along, and Acquire while it waits.
	PollInterval time.Duration
}

// ErrBadTiming is wrapped by Timing.Validate errors.
var ErrBadTiming = errors.New("guard: bad timing")

// Validate checks the relations the safety argument needs.
func (t Timing) Validate() error {
	switch {
	case t.HeartbeatInterval <= 0, t.LeaseTimeout <= 0, t.SafetyMargin <= 0, t.PollInterval <= 0:
		return fmt.Errorf("%w: all durations must be positive: %+v", ErrBadTiming, t)
	case t.SafetyMargin >= t.LeaseTimeout:
		return fmt.Errorf("%w: safety margin %v must be below lease timeout %v", ErrBadTiming, t.SafetyMargin, t.LeaseTimeout)
	case t.ServeWindow() <= t.HeartbeatInterval:
		// Otherwise the holder's lease lapses between two on-time renewals.
		return fmt.Errorf("%w: lease timeout - safety margin (%v) must exceed the heartbeat interval %v",
			ErrBadTiming, t.ServeWindow(), t.HeartbeatInterval)
	case t.PollInterval > t.HeartbeatInterval:
		return fmt.Errorf("%w: poll interval %v above heartbeat interval %v", ErrBadTiming, t.PollInterval, t.HeartbeatInterval)
	}
	return nil
}

// ServeWindow is how long after the start of its last successful renewal the
// holder may still serve: LeaseTimeout - SafetyMargin.
func (t Timing) ServeWindow() time.Duration { return t.LeaseTimeout - t.SafetyMargin }

// StorageTolerance is the longest storage stall (no renewal completing) the
// holder survives without losing its lease: ServeWindow - HeartbeatInterval.
// A lease whose tolerance is below the storage's worst fdatasync latency
// flaps; config check warns about it.
func (t Timing) StorageTolerance() time.Duration { return t.ServeWindow() - t.HeartbeatInterval }

// PauseThreshold is the gap between two holder ticks above which the holder
// assumes it was paused (GC, SIGSTOP, VM freeze) and must revalidate (renew
// successfully, OWNER still its own) before serving again. It is also the
// gap between the starts of two observer reads above which the observer
// assumes it was not looking and restarts its silence window.
func (t Timing) PauseThreshold() time.Duration { return 2 * t.HeartbeatInterval }

// WorstCaseTakeover is the longest time from the holder's death to the
// observer's decision that the lease expired: the observer may first see the
// last heartbeat up to one poll after it was written, and may notice the
// expiry up to one poll after LeaseTimeout has passed. Add the storage's
// write+sync latency (two syncs: OWNER, HEARTBEAT) and the WAL seal for the
// full takeover. A released lease is taken without this wait.
func (t Timing) WorstCaseTakeover() time.Duration { return t.LeaseTimeout + 2*t.PollInterval }

// Preset names accepted by PresetTiming.
const (
	PresetFast   = "fast"
	PresetNormal = "normal"
	PresetSafe   = "safe"
)

// PresetTiming derives the lease timing from the VRRP advert interval a.
// The heartbeat always runs at the advert rate and the observer polls at
// twice that rate; the presets trade failover time for tolerance of slow
// storage:
//
//	preset  lease      margin  serve window  storage tolerance  worst takeover
//	fast    3a + a/2   a/2     3a            2a                 4.5a
//	normal  5a         a       4a            3a                 6a
//	safe    10a        2a      8a            7a                 11a
//
// fast matches VRRP's Master_Down_Interval (3a + skew), so with a = 100 ms
// the lease decision lands at about the same time as the VRRP decision.
func PresetTiming(name string, advert time.Duration) (Timing, error) {
	if advert <= 0 {
		return Timing{}, fmt.Errorf("%w: advert interval %v", ErrBadTiming, advert)
	}
	a := advert
	t := Timing{HeartbeatInterval: a, PollInterval: max(a/2, time.Millisecond)}
	switch name {
	case PresetFast:
		t.LeaseTimeout, t.SafetyMargin = 3*a+a/2, a/2
	case PresetNormal, "":
		t.LeaseTimeout, t.SafetyMargin = 5*a, a
	case PresetSafe:
		t.LeaseTimeout, t.SafetyMargin = 10*a, 2*a
	default:
		return Timing{}, fmt.Errorf("%w: unknown preset %q (want %s, %s or %s)", ErrBadTiming, name, PresetFast, PresetNormal, PresetSafe)
	}
	if t.PollInterval > t.HeartbeatInterval {
		t.PollInterval = t.HeartbeatInterval
	}
	return t, t.Validate()
}
