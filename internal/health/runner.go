package health

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Result is one check run as seen by the Runner.
type Result struct {
	Name string
	// Err is nil for a healthy result.
	Err error
	// State is the tracked state after this result; Changed says whether
	// this result changed it.
	State   State
	Changed bool
	Started time.Time
	Took    time.Duration
}

// Runner runs one Check periodically with keepalived's vrrp_script model:
// a run every Interval (the first at once), each bounded by Timeout, results
// folded by a Tracker with Rise/Fall/InitFail. Unlike keepalived 2.2.7 a
// run never overlaps the previous one: a slow run delays the next.
type Runner struct {
	Name     string
	Check    Check
	Interval time.Duration
	// Timeout bounds one run; 0 means Interval (keepalived's default).
	Timeout  time.Duration
	Rise     int
	Fall     int
	InitFail bool
	Logger   *slog.Logger
}

// Run runs the check until ctx is done, calling report after every run from
// the Runner's goroutine. It returns ctx's error.
func (r *Runner) Run(ctx context.Context, report func(Result)) error {
	if r.Interval <= 0 {
		return errors.New("health: runner interval must be positive")
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = r.Interval
	}
	log := r.Logger
	if log == nil {
		log = slog.Default()
	}
	tr := NewTracker(r.Rise, r.Fall, r.InitFail)
	tick := time.NewTicker(r.Interval)
	defer tick.Stop()
	for {
		start := time.Now()
		cctx, cancel := context.WithTimeoutCause(ctx, timeout, errors.New("after "+timeout.String()))
		err := r.Check.Run(cctx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err() // a run cut short by shutdown is not a result
		}
		res := Result{Name: r.Name, Err: err, Changed: tr.Step(err == nil), State: tr.State(), Started: start, Took: time.Since(start)}
		if res.Changed {
			if err != nil {
				log.Warn("health check failed", "check", r.Name, "state", res.State, "err", err)
			} else {
				log.Info("health check succeeded", "check", r.Name, "state", res.State)
			}
		}
		report(res)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}
