package guard

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

// clocks is one instant on the three clocks a serve window involves: the
// guard's (boot), the process's monotonic one (mono) and the wall clock.
// Without a suspend all three advance together.
type clocks struct {
	boot, mono time.Duration
	wall       int64
}

func at(boot time.Duration) clocks {
	return clocks{boot: boot, mono: boot + 5*time.Second, wall: int64(boot) + 1e18}
}

// suspended is c after the host slept for d: the guard's CLOCK_BOOTTIME
// and the wall clock ran on, the monotonic clock did not.
func (c clocks) suspended(d time.Duration) clocks {
	return clocks{boot: c.boot + d, mono: c.mono, wall: c.wall + int64(d)}
}

// Rule 8 (doc.go): reads are refused from the first instant at which the
// holder could no longer prove its lease, with nothing but the time passed
// in: the holder's goroutines need not run first (a process resumed after
// SIGSTOP), and they are served again only after a renewal that proves
// the lease still held. testTiming: heartbeat 100 ms, serve window 300 ms,
// pause threshold 200 ms.
func TestServeWindow(t *testing.T) {
	type step struct {
		kind     string // "tick", "renew" (at..end), "publish", "check"
		at       clocks
		end      time.Duration
		want     error // of "check"; nil: served
		wantTerm error // of "tick"/"renew"
	}
	tick := func(b time.Duration) step { return step{kind: "tick", at: at(b)} }
	renew := func(b, end time.Duration) step { return step{kind: "renew", at: at(b), end: end} }
	publish := func(c clocks) step { return step{kind: "publish", at: c} }
	check := func(c clocks, want error) step { return step{kind: "check", at: c, want: want} }
	tests := []struct {
		name  string
		steps []step
	}{
		{"no holding, no serving", []step{
			{kind: "release"}, publish(at(0)), check(at(1*ms), ErrReleased)}},
		{"serves right after acquiring, until the pause threshold without a tick", []step{
			publish(at(0)), check(at(1*ms), nil), check(at(199*ms), nil), check(at(200*ms), ErrRevalidate)}},
		{"ticks extend the window up to the deadline, not past it", []step{
			publish(at(0)),
			tick(100 * ms), publish(at(100 * ms)), check(at(299*ms), nil),
			tick(200 * ms), publish(at(200 * ms)), check(at(299*ms), nil), check(at(300*ms), ErrLeaseExpired)}},
		{"a renewal moves the deadline", []step{
			tick(100 * ms), renew(100*ms, 150*ms), publish(at(150 * ms)),
			tick(200 * ms), publish(at(200 * ms)), check(at(350*ms), nil),
			tick(300 * ms), publish(at(300 * ms)), check(at(399*ms), nil), check(at(400*ms), ErrLeaseExpired)}},
		{"SIGSTOP past the lease: refused at once after SIGCONT, before any tick", []step{
			tick(100 * ms), renew(100*ms, 110*ms), publish(at(110 * ms)),
			// Frozen from 120 ms to 1.3 s: the peer may have taken over.
			check(at(1300*ms), ErrRevalidate),
			{kind: "tick", at: at(1301 * ms), wantTerm: ErrLeaseExpired}, publish(at(1301 * ms)),
			check(at(1302*ms), ErrLeaseExpired),
			// A renewal that was in flight does not revive it.
			{kind: "renew", at: at(1250 * ms), end: 1303 * ms, wantTerm: ErrLeaseExpired}, publish(at(1303 * ms)),
			check(at(1304*ms), ErrLeaseExpired)}},
		{"stalled heartbeat shorter than the lease: refused, served again after a renewal", []step{
			tick(100 * ms), renew(100*ms, 110*ms), publish(at(110 * ms)),
			// The heartbeat loop stalls from 110 ms to 330 ms.
			check(at(299*ms), nil), check(at(300*ms), ErrRevalidate), check(at(330*ms), ErrRevalidate),
			tick(330 * ms), publish(at(330 * ms)), check(at(331*ms), ErrRevalidate),
			// Only a renewal that started after the pause proves the lease.
			renew(200*ms, 335*ms), publish(at(335 * ms)), check(at(336*ms), ErrRevalidate),
			renew(340*ms, 345*ms), publish(at(345 * ms)), check(at(346*ms), nil)}},
		{"host suspend: the monotonic clock stood still, the wall clock ends the window", []step{
			tick(100 * ms), renew(100*ms, 110*ms), publish(at(110 * ms)),
			check(at(150*ms).suspended(0), nil),
			check(at(150*ms).suspended(10*time.Second), ErrRevalidate)}},
		{"a wall clock stepped back leaves the monotonic bound", []step{
			publish(at(0)),
			check(clocks{boot: 250 * ms, mono: at(250 * ms).mono, wall: at(0).wall - 1e12}, ErrRevalidate)}},
		{"lost to another owner: refused whatever the time", []step{
			publish(at(0)), {kind: "lose"}, publish(at(10 * ms)), check(at(11*ms), ErrNotOwner)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHolder(testTiming, 1, 0)
			var w *serveWindow
			for i, s := range tt.steps {
				var err error
				switch s.kind {
				case "tick":
					err = h.Tick(s.at.boot)
				case "renew":
					err = h.Renewed(s.at.boot, s.end)
				case "lose":
					h.Lose(ErrNotOwner)
				case "release":
					h.Lose(ErrReleased)
				case "publish":
					w = newServeWindow(h, s.at.boot, s.at.mono, s.at.wall)
				case "check":
					if err := w.check(s.at.mono, s.at.wall); !errors.Is(err, s.want) || (s.want == nil && err != nil) {
						t.Fatalf("step %d: check at %v: %v, want %v", i, s.at.boot, err, s.want)
					}
				}
				if !errors.Is(err, s.wantTerm) || (s.wantTerm == nil && err != nil) {
					t.Fatalf("step %d: %s at %v: %v, want %v", i, s.kind, s.at.boot, err, s.wantTerm)
				}
			}
		})
	}
}

// The window is sound: whatever the holder's history, a published window
// never serves at an instant at which MayServe refuses.
func TestServeWindowNeverServesWhatMayServeRefuses(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for run := 0; run < 2000; run++ {
		h := NewHolder(testTiming, 1, 0)
		now := time.Duration(0)
		w := newServeWindow(h, now, at(now).mono, at(now).wall)
		for ev := 0; ev < 30; ev++ {
			next := now + time.Duration(r.IntN(250))*ms
			// Probe the window between events, before anything changes.
			for p := now; p < next; p += time.Duration(1+r.IntN(20)) * ms {
				c := at(p)
				if w.check(c.mono, c.wall) == nil && h.MayServe(p) != nil {
					t.Fatalf("run %d: window serves at %v, MayServe: %v", run, p, h.MayServe(p))
				}
			}
			now = next
			switch r.IntN(3) {
			case 0:
				_ = h.Tick(now)
			case 1:
				_ = h.Renewed(now-time.Duration(r.IntN(150))*ms, now)
			}
			w = newServeWindow(h, now, at(now).mono, at(now).wall)
		}
	}
}

// ServeCheck follows the guard's holding: none before Acquire, serving
// after it, the release's error after Release.
func TestServeCheckFollowsHolding(t *testing.T) {
	g, err := Open(t.TempDir(), "a", testTiming)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := g.ServeCheck(); !errors.Is(err, ErrNotHolding) {
		t.Fatalf("before Acquire: %v", err)
	}
	if _, err := g.Acquire(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := g.ServeCheck(); err != nil {
		t.Fatalf("right after Acquire: %v", err)
	}
	if err := g.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := g.ServeCheck(); !errors.Is(err, ErrReleased) {
		t.Fatalf("after Release: %v", err)
	}
}

// AwaitServe waits out a lapsed window for the next one and answers by it;
// it answers at once when the holding ended, and gives up with ctx.
func TestAwaitServe(t *testing.T) {
	errLost := errors.New("lost to node b")
	open := func() *serveWindow { // serving for an hour from now
		now := time.Now()
		return &serveWindow{mono: now.Sub(monoBase) + time.Hour, wall: now.UnixNano() + int64(time.Hour)}
	}
	lapsedWindow := &serveWindow{lapse: ErrRevalidate} // ran out at mono 0
	for _, tc := range []struct {
		name  string
		first *serveWindow
		next  *serveWindow // published while AwaitServe waits (nil: none)
		want  error
	}{
		{"serving", open(), nil, nil},
		{"not holding", &serveWindow{err: ErrNotHolding}, nil, ErrNotHolding},
		{"lapsed, then revalidated", lapsedWindow, open(), nil},
		{"lapsed, then lost", lapsedWindow, &serveWindow{err: errLost}, errLost},
		{"lapsed, then lapsed again, nothing more", lapsedWindow, &serveWindow{lapse: ErrLeaseExpired}, ErrLeaseExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &Guard{timing: Timing{LeaseTimeout: time.Hour}}
			g.setWindow(tc.first)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- g.AwaitServe(ctx) }()
			if tc.next != nil {
				g.setWindow(tc.next)
			}
			if !errors.Is(tc.want, ErrLeaseExpired) {
				if err := <-done; !errors.Is(err, tc.want) {
					t.Fatalf("AwaitServe = %v, want %v", err, tc.want)
				}
				return
			}
			select { // still lapsed: it must keep waiting until ctx ends
			case err := <-done:
				t.Fatalf("AwaitServe returned %v on a lapsed window", err)
			case <-time.After(50 * time.Millisecond):
			}
			cancel()
			if err := <-done; !errors.Is(err, ErrLeaseExpired) {
				t.Fatalf("AwaitServe after cancel = %v, want %v", err, ErrLeaseExpired)
			}
		})
	}
}
