package netif

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
)

// AnnounceConfig holds keepalived's GARP/NA timing knobs (§3.3 of the
// keepalived reference; defaults from vrrp.h / global_data.c).
type AnnounceConfig struct {
	// Delay is garp_master_delay: a second burst this long after becoming
	// master; 0 disables it (vrrp_min_garp). Default 5 s.
	Delay time.Duration
	// Repeat is garp_master_repeat: packets per address in the first and
	// the delayed burst. Default 5.
	Repeat int
	// Refresh is garp_master_refresh: a burst every Refresh while master;
	// 0 = off (default).
	Refresh time.Duration
	// RefreshRepeat is garp_master_refresh_repeat. Default 1.
	RefreshRepeat int
	// Interval is vrrp_garp_interval (IPv4) / vrrp_gna_interval (IPv6):
	// the minimum gap between two packets on the interface. Default 0.
	Interval time.Duration
}

// DefaultAnnounceConfig returns keepalived's defaults.
func DefaultAnnounceConfig() AnnounceConfig {
	return AnnounceConfig{Delay: 5 * time.Second, Repeat: 5, RefreshRepeat: 1}
}

// Validate rejects negative settings.
func (c AnnounceConfig) Validate() error {
	if c.Delay < 0 || c.Refresh < 0 || c.Interval < 0 || c.Repeat < 0 || c.RefreshRepeat < 0 {
		return fmt.Errorf("netif: negative GARP/NA setting in %+v", c)
	}
	return nil
}

// Next returns the first burst strictly after offset `after` from master
// entry (pass a negative value for the first burst): the immediate one at
// 0, the delayed one at Delay, refreshes at k×Refresh (k ≥ 1). When the
// delayed burst and a refresh coincide, one burst of Repeat is sent. ok is
// false when no burst is left. Pure: the Announcer supplies the clock.
func (c AnnounceConfig) Next(after time.Duration) (at time.Duration, repeat int, ok bool) {
	best := time.Duration(-1)
	consider := func(t time.Duration, r int) {
		if r > 0 && t > after && (best < 0 || t < best) {
			best, repeat = t, r
		}
	}
	consider(0, c.Repeat)
	if c.Delay > 0 {
		consider(c.Delay, c.Repeat)
	}
	if c.Refresh > 0 && c.RefreshRepeat > 0 {
		k := after/c.Refresh + 1
		if after < 0 {
			k = 1
		}
		if t := k * c.Refresh; t != c.Delay || c.Delay == 0 || c.Repeat == 0 {
			consider(t, c.RefreshRepeat)
		} else {
			consider((k+1)*c.Refresh, c.RefreshRepeat)
		}
	}
	return best, repeat, best >= 0
}

// Announcer sends a fixed set of frames (one GARP or NA per VIP, see
// AnnounceFrames) on keepalived's schedule after becoming master.
type Announcer struct {
	Config AnnounceConfig
	Sender interface{ Send([]byte) error }
	Frames [][]byte
	Logger *slog.Logger // nil: slog.Default()

	sent, failed atomic.Uint64
	presend      int // frames of the first burst SendFirst sent already
}

// SendFirst sends the start of the first burst on the caller's goroutine,
// and Run then carries on after it: a new master's first gratuitous ARP
// leaves right after the VIP is added, as keepalived's does, not when
// Run's goroutine is scheduled. That is one round of all frames, or only
// the first frame when Interval spaces packets. It does nothing when the
// schedule does not start at once, and must be called before Run.
func (a *Announcer) SendFirst() {
	if at, repeat, ok := a.Config.Next(-1); !ok || at != 0 || repeat == 0 || a.Sender == nil || a.Config.Validate() != nil {
		return
	}
	n := len(a.Frames)
	if a.Config.Interval > 0 {
		n = min(n, 1)
	}
	for _, f := range a.Frames[:n] {
		a.send(f)
	}
	a.presend = n
}

func (a *Announcer) send(f []byte) {
	if err := a.Sender.Send(f); err != nil {
		a.failed.Add(1)
		log := a.Logger
		if log == nil {
			log = slog.Default()
		}
		log.Warn("gratuitous ARP/NA not sent", "err", err)
		return
	}
	a.sent.Add(1)
}

// Run sends the bursts, measured from the call, until the schedule ends
// (no refresh) or ctx is cancelled (leaving MASTER); both return nil.
// Within a burst it sends Repeat rounds of all frames, packets at least
// Interval apart. Send errors are logged and counted, not fatal: a missed
// GARP must not stop later ones.
func (a *Announcer) Run(ctx context.Context) error {
	if err := a.Config.Validate(); err != nil {
		return err
	}
	if a.Sender == nil {
		return errors.New("netif: announcer without sender")
	}
	start := time.Now()
	after := time.Duration(-1)
	first := true
	for {
		at, repeat, ok := a.Config.Next(after)
		if !ok {
			return nil
		}
		if !sleepUntil(ctx, start.Add(at)) {
			return nil
		}
		skip := 0
		if after < 0 {
			skip = a.presend
			first = skip == 0
		}
		for range repeat {
			for _, f := range a.Frames {
				if skip > 0 {
					skip--
					continue
				}
				if ctx.Err() != nil {
					return nil
				}
				if !first && a.Config.Interval > 0 && !sleepUntil(ctx, time.Now().Add(a.Config.Interval)) {
					return nil
				}
				first = false
				a.send(f)
			}
		}
		after = at
	}
}

// Counts returns how many frames were sent and how many sends failed.
func (a *Announcer) Counts() (sent, failed uint64) { return a.sent.Load(), a.failed.Load() }

// sleepUntil waits for t; false if ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
