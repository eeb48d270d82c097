package service

import (
	"context"
	"errors"
	"fmt"
)

// Driver starts and stops the protected server for the keeper.
//
// Start makes the service serve: promote a warm standby, start a process,
// a container or a unit. It returns nil once the service is up, or an error
// when it could not be brought up before ctx ended. Calling Start on a
// running service is not an error. After a failed Start the service may be
// half up; the keeper calls Stop.
//
// Stop makes the service stop serving. A nil return is a promise: nothing
// that this driver started can still write to the shared storage. When the
// driver cannot be sure (ctx ended, the engine is unreachable, a process
// would not die) it returns an error and the keeper must not release the
// lease. Calling Stop on a stopped service returns nil.
//
// Status reports what the service is doing now; the error is non-nil only
// when the driver could not find out (e.g. the engine is unreachable), or
// wraps ErrNotFound when the configured container or unit does not exist.
type Driver interface {
	Name() string
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Status(ctx context.Context) (Status, error)
}

// State is the coarse state of a service as the keeper sees it.
type State int

const (
	// StateStopped: not serving and not trying to (never started, stopped,
	// exited normally, or a warm standby).
	StateStopped State = iota
	// StateStarting: being brought up, restarting after a crash, or up but
	// not yet reporting healthy.
	StateStarting
	// StateRunning: up (and healthy, where the driver can tell).
	StateRunning
	// StateFailed: meant to run but does not: gave up restarting, crashed,
	// unhealthy, paused, or in a failed state of its own.
	StateFailed
)

func (s State) String() string {
	switch s {
	case StateStopped:
		return "stopped"
	case StateStarting:
		return "starting"
	case StateRunning:
		return "running"
	case StateFailed:
		return "failed"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Status is a driver's report.
type Status struct {
	State State
	// Detail says why, in words for a log line or the status API
	// ("exited with code 3", "health: starting", "ActiveState=failed").
	Detail string
	// PID is the main process id where the driver knows one, else 0.
	PID int
	// Restarts counts automatic restarts by the driver since the last Start.
	Restarts int
}

func (s Status) String() string {
	if s.Detail == "" {
		return s.State.String()
	}
	return s.State.String() + ": " + s.Detail
}

// ErrNotFound is wrapped by errors about a container or unit that does not
// exist.
var ErrNotFound = errors.New("not found")

// EnsureStopped is what the keeper runs at start-up, while it is not the
// owner: whatever the driver finds running is stopped, with the same
// certainty as Stop. wasRunning reports whether the service was found
// running (or starting), so the keeper can log that a stray server existed.
// A container or unit that does not exist counts as stopped.
func EnsureStopped(ctx context.Context, d Driver) (wasRunning bool, err error) {
	st, serr := d.Status(ctx)
	if errors.Is(serr, ErrNotFound) {
		return false, nil
	}
	wasRunning = serr == nil && st.State != StateStopped
	// Stop even when Status said stopped or failed: a failed or paused
	// service may still hold processes, and Stop is the certain check.
	if err := d.Stop(ctx); err != nil {
		if errors.Is(err, ErrNotFound) {
			return wasRunning, nil
		}
		return wasRunning, fmt.Errorf("ensure %s stopped: %w", d.Name(), err)
	}
	return wasRunning, nil
}
