package health

import "fmt"

// State is the tracked state of a check.
type State int

// Check states. Unknown is the state before the first result (unless the
// check is configured init_fail, which starts Failed).
const (
	Unknown State = iota
	OK
	Failed
)

func (s State) String() string {
	switch s {
	case Unknown:
		return "unknown"
	case OK:
		return "ok"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Tracker is keepalived's rise/fall counter for one check
// (vrrp_script_child_thread, vrrp_scheduler.c). The counter lives in
// [0, rise+fall-1] and the check is OK iff counter ≥ rise:
//
//   - success: count up to rise-1, then jump to rise+fall-1 (entering OK
//     when crossing rise);
//   - failure: count down while above rise, else drop to 0 (entering Failed
//     when leaving rise).
//
// So a steady OK check needs fall failures to fail and a steady failed one
// rise successes to recover. At start the counter is rise-1, so the first
// result alone decides (with init_fail it is 0: the check starts Failed and
// needs rise successes).
type Tracker struct {
	rise, fall int
	result     int
	state      State
}

// NewTracker returns a tracker; rise and fall below 1 are taken as 1.
func NewTracker(rise, fall int, initFail bool) *Tracker {
	t := &Tracker{rise: max(rise, 1), fall: max(fall, 1)}
	if initFail {
		t.state = Failed
	} else {
		t.result = t.rise - 1
	}
	return t
}

// State returns the current tracked state.
func (t *Tracker) State() State { return t.state }

// Step feeds one check result and reports whether the state changed.
func (t *Tracker) Step(ok bool) bool {
	prev := t.state
	top := t.rise + t.fall - 1
	if ok {
		switch {
		case t.result < t.rise-1:
			t.result++
		default:
			if t.result < t.rise {
				t.state = OK
			}
			t.result = top
		}
	} else {
		switch {
		case t.result > t.rise:
			t.result--
		default:
			// keepalived reports a failure when leaving OK, and also for
			// the very first result.
			if t.result == t.rise || t.state == Unknown {
				t.state = Failed
			}
			t.result = 0
		}
	}
	return t.state != prev
}

// Adjustment is the priority delta a tracked check contributes in state s
// (process_script_update_priority, vrrp_track.c): a positive weight is
// added while OK, a negative weight is added while failing, nothing while
// the state is Unknown; reverse flips the sign. Weight 0 never adjusts the
// priority (see Down).
func Adjustment(weight int, reverse bool, s State) int {
	m := 1
	if reverse {
		m = -1
	}
	switch {
	case weight > 0 && s == OK:
		return weight * m
	case weight < 0 && s == Failed:
		return weight * m
	}
	return 0
}

// Down reports whether a check holds its instance in FAULT: only weight-0
// checks do, while failing (while succeeding with reverse), and while no
// result has arrived yet.
func Down(weight int, reverse bool, s State) bool {
	if weight != 0 {
		return false
	}
	switch s {
	case Unknown:
		return true
	case OK:
		return reverse
	default:
		return !reverse
	}
}

// EffectivePriority is base plus the adjustments, clamped to 1..254
// (vrrp_set_effective_priority, vrrp_track.c); the address owner (255)
// never changes.
func EffectivePriority(base int, adjustments ...int) int {
	if base == 255 {
		return 255
	}
	p := base
	for _, a := range adjustments {
		p += a
	}
	return min(max(p, 1), 254)
}
