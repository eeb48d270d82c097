package keeper

import (
	"fmt"
	"strings"
	"time"
)

// This file holds the keeper's pure decisions: no I/O, no goroutines, the
// time is passed in. The shell (checks.go, keeper.go) feeds them and
// carries out what they say.

// failure is one weight-0 check that fails now.
type failure struct {
	Check string
	// Service is true for checks of the protected service (scope service,
	// and the keeper's own service check), which only run while active.
	Service bool
	Detail  string
}

// checkView is what checkPolicy decides on.
type checkView struct {
	Active    bool // this node serves (past the gate, not yet left MASTER)
	Paused    bool // maintenance: no automatic transitions
	PeerReady bool // a standby is ready to take over (its beacon moves)
	// PeerAlive: the peer's beacon moves, whatever it says; a service hold
	// lasts only while it does (so not while the peer steps down or takes
	// over, which would make the hold come and go).
	PeerAlive bool
	Failing   []failure
}

// checkVerdict is what checkPolicy decided.
type checkVerdict struct {
	// Inhibit: hold this node out of MASTER (an active node leaves at once
	// with priority-0 adverts: the fast path).
	Inhibit bool
	// Stay: checks fail on the active node but it keeps serving, because
	// nobody could take over (or the pair is paused).
	Stay   bool
	Reason string
}

// checkPolicy turns weight-0 check failures into a hold, DESIGN.md's fast
// path for service failure: an active node whose checks fail hands over at
// once when a standby is ready, instead of waiting out priority decay. With
// no ready standby it keeps serving (a failing service answers no worse than
// an absent one, and the exec driver's restart policy may still fix it).
// A backup whose node checks fail is held out so that it never takes over
// in that state. After its service failed here (it handed over for a
// failed service check, or the service did not start when it tried to
// take over), the node stays out for serviceHold while the peer lives, so
// a preempting node whose service keeps failing does not pull the VIP back
// and forth, each time stopping and restarting the peer's service; with
// the peer dead it may try again at once.
type checkPolicy struct {
	serviceHold time.Duration
	holdUntil   time.Time
	holdWhy     string
}

func describeFailures(fs []failure) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = f.Check
		if f.Detail != "" {
			parts[i] += " (" + f.Detail + ")"
		}
	}
	return "check " + strings.Join(parts, ", ") + " failing"
}

func (p *checkPolicy) decide(now time.Time, v checkView) checkVerdict {
	if v.Active {
		if len(v.Failing) == 0 {
			return checkVerdict{}
		}
		what := describeFailures(v.Failing)
		switch {
		case v.Paused:
			return checkVerdict{Stay: true, Reason: what + "; paused, not handing over"}
		case !v.PeerReady:
			return checkVerdict{Stay: true, Reason: what + "; no ready standby to hand over to, staying active"}
		}
		for _, f := range v.Failing {
			if f.Service {
				p.serviceFailed(now, what)
				break
			}
		}
		return checkVerdict{Inhibit: true, Reason: what + ": handing over to the standby"}
	}
	var node []failure
	for _, f := range v.Failing {
		if !f.Service {
			node = append(node, f)
		}
	}
	if len(node) > 0 {
		return checkVerdict{Inhibit: true, Reason: describeFailures(node)}
	}
	if now.Before(p.holdUntil) && v.PeerAlive {
		return checkVerdict{Inhibit: true, Reason: fmt.Sprintf("%s; staying out for %v while the peer lives", p.holdWhy, p.holdUntil.Sub(now).Round(time.Second))}
	}
	return checkVerdict{}
}

// serviceFailed starts the service hold: the service failed here at now.
func (p *checkPolicy) serviceFailed(now time.Time, what string) {
	p.holdUntil = now.Add(p.serviceHold)
	p.holdWhy = fmt.Sprintf("service failed here (%s)", what)
}

// peerWatch decides from successive reads of a peer's standby beacon
// whether a standby is ready to take over. A beacon proves liveness only
// by changing: the first read may be a file a dead node left behind.
type peerWatch struct {
	stale   time.Duration
	seen    bool
	moved   bool
	last    beacon
	changed time.Time
}

// observe feeds one read made at now; ok is false when no beacon exists.
func (w *peerWatch) observe(now time.Time, b beacon, ok bool) {
	if !ok {
		*w = peerWatch{stale: w.stale}
		return
	}
	if !w.seen || b != w.last {
		w.moved = w.seen
		w.seen, w.last, w.changed = true, b, now
	}
}

// ready says whether the peer is a ready standby at now, and if not, why.
func (w *peerWatch) ready(now time.Time) (bool, string) {
	switch {
	case !w.seen:
		return false, "no standby beacon on the shared storage"
	case !w.moved:
		return false, fmt.Sprintf("standby beacon of %s not moving yet", w.last.Node)
	case now.Sub(w.changed) > w.stale:
		return false, fmt.Sprintf("standby %s not seen for %v", w.last.Node, now.Sub(w.changed).Round(time.Millisecond))
	case !w.last.Ready:
		return false, fmt.Sprintf("standby %s is not ready (%s)", w.last.Node, w.last.Why)
	}
	return true, ""
}

// alive says whether the peer's beacon moved recently.
func (w *peerWatch) alive(now time.Time) bool { return w.moved && now.Sub(w.changed) <= w.stale }

// up says whether the peer, seen recently, serves or could: a ready
// standby, or active (taking over, or serving).
func (w *peerWatch) up(now time.Time) bool {
	if ready, _ := w.ready(now); ready {
		return true
	}
	return w.alive(now) && (w.last.Why == beaconActive || w.last.Why == beaconServing)
}

// lastSeen is when the peer's beacon last changed (zero if never).
func (w *peerWatch) lastSeen() time.Time {
	if !w.moved {
		return time.Time{}
	}
	return w.changed
}
