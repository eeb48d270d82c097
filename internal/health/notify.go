package health

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// HookState is the state a notify hook reports, spelled as keepalived
// passes it to the generic notify script.
type HookState string

// States with notify hooks.
const (
	HookMaster HookState = "MASTER"
	HookBackup HookState = "BACKUP"
	HookFault  HookState = "FAULT"
	HookStop   HookState = "STOP"
)

// Hooks are one instance's notify scripts; nil entries are not run.
type Hooks struct {
	Master  *Command
	Backup  *Command
	Fault   *Command
	Stop    *Command
	Generic *Command // gets INSTANCE <name> <STATE> <priority> appended
}

// DefaultHookTimeout bounds one hook run when NotifierConfig.Timeout is 0.
const DefaultHookTimeout = 30 * time.Second

// NotifierConfig configures a Notifier.
type NotifierConfig struct {
	// Instance is the VRRP instance name passed to the generic hook.
	Instance string
	Hooks    Hooks
	// Timeout bounds each hook run (then its process group is killed).
	Timeout time.Duration
	// KillGrace is the SIGTERM → SIGKILL delay; 0 means DefaultKillGrace.
	KillGrace time.Duration
	Logger    *slog.Logger
	// Done, if set, is called after every hook run (for tests and metrics).
	Done func(HookRun)
}

// HookRun describes one finished hook run.
type HookRun struct {
	State    HookState
	Priority int
	Args     []string // full argv, extra generic arguments included
	ExitCode int      // -1 if killed or not started
	Output   []byte
	Err      error
	Took     time.Duration
}

type hookEvent struct {
	state HookState
	prio  int
}

// Notifier runs one instance's notify hooks one at a time, in the order
// the transitions were reported. keepalived forks notify scripts and never
// waits, so they race (its issues #996, #1055, #1991); here a slow
// notify_master finishes before the notify_backup of the next transition
// starts.
type Notifier struct {
	cfg    NotifierConfig
	log    *slog.Logger
	mu     sync.Mutex
	queue  []hookEvent
	closed bool
	wake   chan struct{}
	done   chan struct{}
}

// NewNotifier returns a Notifier; start its queue with Run.
func NewNotifier(cfg NotifierConfig) *Notifier {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultHookTimeout
	}
	if cfg.KillGrace <= 0 {
		cfg.KillGrace = DefaultKillGrace
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Notifier{
		cfg:  cfg,
		log:  log.With("instance", cfg.Instance),
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
}

// Notify queues the hooks of a transition to state with the instance's
// current effective priority. It never blocks; after Close it is a no-op.
func (n *Notifier) Notify(state HookState, priority int) {
	n.mu.Lock()
	if !n.closed {
		n.queue = append(n.queue, hookEvent{state, priority})
		if len(n.queue) > 16 {
			n.log.Warn("notify hooks are falling behind", "queued", len(n.queue))
		}
	}
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// Close stops accepting transitions and waits until Run has run every
// queued hook (each bounded by the timeout) and returned. Queue the STOP
// transition before calling it. Run must have been started.
func (n *Notifier) Close() {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
	<-n.done
}

// Run executes queued hooks until Close has been called and the queue is
// empty, or until ctx is done (a running hook is then killed and the rest
// of the queue dropped).
func (n *Notifier) Run(ctx context.Context) error {
	defer close(n.done)
	for {
		n.mu.Lock()
		var ev hookEvent
		have := len(n.queue) > 0
		if have {
			ev = n.queue[0]
			n.queue = n.queue[1:]
		}
		closed := n.closed
		n.mu.Unlock()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if have {
			n.run(ctx, ev)
			continue
		}
		if closed {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-n.wake:
		}
	}
}

// run executes the state's hook, then the generic one (keepalived's order
// in send_instance_notifies).
func (n *Notifier) run(ctx context.Context, ev hookEvent) {
	h := n.cfg.Hooks
	var specific *Command
	switch ev.state {
	case HookMaster:
		specific = h.Master
	case HookBackup:
		specific = h.Backup
	case HookFault:
		specific = h.Fault
	case HookStop:
		specific = h.Stop
	}
	if specific != nil {
		n.exec(ctx, ev, *specific, nil)
	}
	if h.Generic != nil {
		n.exec(ctx, ev, *h.Generic, []string{"INSTANCE", n.cfg.Instance, string(ev.state), strconv.Itoa(ev.prio)})
	}
}

func (n *Notifier) exec(ctx context.Context, ev hookEvent, c Command, extra []string) {
	start := time.Now()
	hctx, cancel := context.WithTimeoutCause(ctx, n.cfg.Timeout, errors.New("after "+n.cfg.Timeout.String()))
	res, err := runProcess(hctx, c, extra, n.cfg.KillGrace)
	cancel()
	run := HookRun{
		State:    ev.state,
		Priority: ev.prio,
		Args:     append(append([]string{}, c.Args...), extra...),
		ExitCode: res.exitCode,
		Output:   res.output,
		Err:      err,
		Took:     time.Since(start),
	}
	attrs := []any{"state", ev.state, "priority", ev.prio, "argv", run.Args,
		"exit", run.ExitCode, "took", run.Took.Round(time.Millisecond), "output", string(run.Output)}
	if err != nil {
		n.log.Warn("notify hook failed", append(attrs, "err", err)...)
	} else {
		n.log.Info("notify hook done", attrs...)
	}
	if n.cfg.Done != nil {
		n.cfg.Done(run)
	}
}
