package service

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Defaults for ExecConfig fields left zero.
const (
	DefaultStopTimeout   = 10 * time.Second
	DefaultReadyInterval = 100 * time.Millisecond
)

// maxLogLine caps one logged output line; longer lines are split.
const maxLogLine = 64 << 10

// ExecConfig describes the child process run by the exec driver.
type ExecConfig struct {
	// Name is used in Name() and logs; default: the base name of Args[0].
	Name string
	// Args is the argv; Args[0] is looked up in PATH.
	Args []string
	// Env is the child's environment; nil means the keeper's own.
	Env []string
	// Dir is the working directory; "" means the keeper's.
	Dir string
	// Restart says what to do when the child exits on its own.
	Restart RestartPolicy
	// StopSignal is sent to the process group first (0 means SIGTERM);
	// SIGKILL follows after StopTimeout (0 means DefaultStopTimeout).
	StopSignal  syscall.Signal
	StopTimeout time.Duration
	// Ready, if set, makes Start wait until it returns nil (e.g. a TCP or
	// gRPC probe), calling it every ReadyInterval. Without it Start returns
	// as soon as the process has been started.
	Ready         func(ctx context.Context) error
	ReadyInterval time.Duration
	// LogFile, if set, receives the child's stdout and stderr (appended,
	// written by the child directly). Otherwise each output line is logged
	// to Logger with the attributes service and stream.
	LogFile string
	// Logger receives the driver's own messages; nil means slog.Default().
	Logger *slog.Logger
	// OnExit, if set, is called after every exit of the child, expected or
	// not, before any restart, from the driver's goroutine. It lets the
	// keeper react to a crash at once. It must not block for long nor call
	// Start or Stop itself (hand the event to the keeper's loop instead).
	OnExit func(Exit)
}

// Exit describes one exit of the child.
type Exit struct {
	PID int
	// Code is the exit status, or -1 when the child was killed by a signal.
	Code   int
	Signal syscall.Signal
	// Ran is how long the child ran.
	Ran time.Duration
	// Stopped is true when the exit was caused by Stop.
	Stopped bool
	// Restart is true when the driver will start the child again after
	// Delay; Restarts is the number of restarts in a row, this one included.
	Restart  bool
	Delay    time.Duration
	Restarts int
	// Err is set when a restart could not even start the process.
	Err error
}

// Failed reports whether the exit was a failure of the service: a
// non-zero code, a signal, or a failed restart, and not caused by Stop.
func (e Exit) Failed() bool {
	return !e.Stopped && (e.Code != 0 || e.Signal != 0 || e.Err != nil)
}

func (e Exit) String() string {
	if e.Err != nil {
		return "restart failed: " + e.Err.Error()
	}
	var s string
	if e.Signal != 0 {
		s = fmt.Sprintf("pid %d killed by signal %d (%v) after %v", e.PID, int(e.Signal), e.Signal, e.Ran.Round(time.Millisecond))
	} else {
		s = fmt.Sprintf("pid %d exited with code %d after %v", e.PID, e.Code, e.Ran.Round(time.Millisecond))
	}
	if e.Stopped {
		s += " (stopped)"
	}
	return s
}

// Exec runs the service as a child process of the keeper: in its own
// process group, killed by the kernel if the keeper dies, restarted per
// policy, stopped with StopSignal then SIGKILL to the whole group.
type Exec struct {
	cfg  ExecConfig
	name string
	log  *slog.Logger

	mu  sync.Mutex
	sup *supervision // nil until the first Start
}

// supervision is one Start..Stop span: the current child and its
// successors after restarts. Fields are guarded by Exec.mu.
type supervision struct {
	stopReq  chan struct{} // closed by Stop: no more restarts
	stopping bool
	done     chan struct{} // closed when no child runs and none will be started
	proc     *child        // the running child; nil during backoff and at the end
	streak   int
	status   Status
}

type child struct {
	cmd     *exec.Cmd
	pid     int
	started time.Time
	exited  chan struct{} // closed when Wait returned
}

// NewExec checks cfg and returns a stopped driver.
func NewExec(cfg ExecConfig) (*Exec, error) {
	if len(cfg.Args) == 0 || cfg.Args[0] == "" {
		return nil, errors.New("exec service: empty command")
	}
	if cfg.StopTimeout < 0 || cfg.ReadyInterval < 0 {
		return nil, errors.New("exec service: negative stop timeout or ready interval")
	}
	name := cfg.Name
	if name == "" {
		name = filepath.Base(cfg.Args[0])
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Exec{cfg: cfg, name: name, log: log.With("service", name)}, nil
}

// Name returns "exec:" and the configured name.
func (e *Exec) Name() string { return "exec:" + e.name }

// Start starts the child unless it is already running (or restarting),
// then waits for Ready if one is configured. A Stop in progress is waited
// for first.
func (e *Exec) Start(ctx context.Context) error {
	for {
		e.mu.Lock()
		s := e.sup
		if s != nil && !isClosed(s.done) {
			if s.stopping {
				e.mu.Unlock()
				select {
				case <-s.done:
					continue
				case <-ctx.Done():
					return fmt.Errorf("%s: start: previous stop still in progress: %w", e.Name(), ctx.Err())
				}
			}
			e.mu.Unlock()
			return e.waitReady(ctx, s)
		}
		c, err := e.spawn()
		if err != nil {
			done := make(chan struct{})
			close(done)
			e.sup = &supervision{stopReq: make(chan struct{}), done: done,
				status: Status{State: StateFailed, Detail: err.Error()}}
			e.mu.Unlock()
			return fmt.Errorf("%s: %w", e.Name(), err)
		}
		s = &supervision{stopReq: make(chan struct{}), done: make(chan struct{}), proc: c,
			status: Status{State: StateRunning, Detail: fmt.Sprintf("pid %d", c.pid), PID: c.pid}}
		e.sup = s
		e.mu.Unlock()
		e.log.Info("service started", "pid", c.pid)
		go e.supervise(s, c)
		return e.waitReady(ctx, s)
	}
}

// waitReady waits until a child runs (it may be in backoff between two
// runs) and, if configured, passes Ready.
func (e *Exec) waitReady(ctx context.Context, s *supervision) error {
	interval := e.cfg.ReadyInterval
	if interval == 0 {
		interval = DefaultReadyInterval
	}
	var lastErr error
	for {
		e.mu.Lock()
		ended, stopping, running, st := isClosed(s.done), s.stopping, s.proc != nil, s.status
		e.mu.Unlock()
		if ended || stopping {
			return fmt.Errorf("%s: not ready: %s", e.Name(), st)
		}
		if running {
			if e.cfg.Ready == nil {
				return nil
			}
			if lastErr = e.cfg.Ready(ctx); lastErr == nil {
				return nil
			}
		}
		t := time.NewTimer(interval)
		select {
		case <-t.C:
		case <-s.done:
			t.Stop()
		case <-ctx.Done():
			t.Stop()
			if lastErr != nil {
				return fmt.Errorf("%s: not ready: %w (last probe: %v)", e.Name(), ctx.Err(), lastErr)
			}
			return fmt.Errorf("%s: not ready: %w", e.Name(), ctx.Err())
		}
	}
}

// Stop sends StopSignal to the child's process group, SIGKILL after
// StopTimeout, and returns nil only once no process of the group can run.
// If ctx ends first it returns an error; calling Stop again resumes.
func (e *Exec) Stop(ctx context.Context) error {
	e.mu.Lock()
	s := e.sup
	if s == nil {
		e.mu.Unlock()
		return nil
	}
	if !s.stopping && !isClosed(s.done) {
		s.stopping = true
		close(s.stopReq)
		s.status.Detail = "stopping; " + s.status.Detail
	}
	c := s.proc
	e.mu.Unlock()
	if c != nil {
		e.terminate(ctx, c)
	}
	// The supervisor closes done only after the group is gone.
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: stop not confirmed: %w", e.Name(), ctx.Err())
	}
}

// terminate asks the group to stop, then kills it after the grace time
// (or at once when ctx ends, since a stop the keeper stopped waiting for
// must still end the service).
func (e *Exec) terminate(ctx context.Context, c *child) {
	sig := e.cfg.StopSignal
	if sig == 0 {
		sig = syscall.SIGTERM
	}
	grace := e.cfg.StopTimeout
	if grace == 0 {
		grace = DefaultStopTimeout
	}
	if err := signalGroup(c.pid, sig); err != nil {
		e.log.Warn("stop signal failed", "pid", c.pid, "err", err)
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.exited:
		return
	case <-t.C:
		e.log.Warn("service did not stop in time; killing", "pid", c.pid, "grace", grace)
	case <-ctx.Done():
	}
	if err := signalGroup(c.pid, syscall.SIGKILL); err != nil {
		e.log.Warn("kill failed", "pid", c.pid, "err", err)
	}
}

// supervise waits for each child to exit, clears its group, reports the
// exit and restarts per policy until Stop or the policy says no.
func (e *Exec) supervise(s *supervision, c *child) {
	defer close(s.done)
	for {
		<-c.exited
		// The leader is gone; whatever it forked must not outlive it.
		// This waits without limit: a process that cannot be killed
		// (stuck in the kernel) leaves done open and Stop uncertain.
		if err := killGroupAndWait(context.Background(), c.pid); err != nil {
			e.log.Error("cannot clear process group", "pgid", c.pid, "err", err)
		}
		ex := exitOf(c)
		e.mu.Lock()
		s.proc = nil
		ex.Stopped = s.stopping
		if !s.stopping {
			ex.Restart, ex.Delay, s.streak = e.cfg.Restart.Next(s.streak, ex.Failed(), ex.Ran)
		}
		ex.Restarts = s.streak
		s.status = statusAfter(ex, e.cfg.Restart)
		e.mu.Unlock()

		if ex.Failed() {
			e.log.Warn("service exited", "exit", ex.String(), "restart", ex.Restart, "delay", ex.Delay, "restarts", ex.Restarts)
		} else {
			e.log.Info("service exited", "exit", ex.String())
		}
		e.notify(ex)
		if !ex.Restart {
			return
		}

		t := time.NewTimer(ex.Delay)
		select {
		case <-t.C:
		case <-s.stopReq:
			t.Stop()
		}
		e.mu.Lock()
		if s.stopping {
			s.status = Status{State: StateStopped, Detail: "stopped while waiting to restart", Restarts: s.streak}
			e.mu.Unlock()
			return
		}
		nc, err := e.spawn()
		if err != nil {
			s.status = Status{State: StateFailed, Detail: "restart failed: " + err.Error(), Restarts: s.streak}
			e.mu.Unlock()
			e.log.Error("service restart failed", "err", err)
			e.notify(Exit{Err: err, Restarts: s.streak})
			return
		}
		s.proc = nc
		s.status = Status{State: StateRunning, Detail: fmt.Sprintf("pid %d, restart %d", nc.pid, s.streak), PID: nc.pid, Restarts: s.streak}
		e.mu.Unlock()
		e.log.Info("service restarted", "pid", nc.pid, "restarts", s.streak)
		c = nc
	}
}

func (e *Exec) notify(ex Exit) {
	if e.cfg.OnExit != nil {
		e.cfg.OnExit(ex)
	}
}

func statusAfter(ex Exit, p RestartPolicy) Status {
	switch {
	case ex.Stopped:
		return Status{State: StateStopped, Detail: "stopped: " + ex.String(), Restarts: ex.Restarts}
	case ex.Restart:
		return Status{State: StateStarting, Detail: fmt.Sprintf("restarting in %v after %s", ex.Delay, ex), Restarts: ex.Restarts}
	case ex.Failed() && p.Mode == RestartOnFailure:
		return Status{State: StateFailed, Detail: fmt.Sprintf("%s; gave up after %d restart(s)", ex, ex.Restarts), Restarts: ex.Restarts}
	case ex.Failed():
		return Status{State: StateFailed, Detail: ex.String(), Restarts: ex.Restarts}
	}
	return Status{State: StateStopped, Detail: ex.String(), Restarts: ex.Restarts}
}

func exitOf(c *child) Exit {
	ex := Exit{PID: c.pid, Code: -1, Ran: time.Since(c.started)}
	ps := c.cmd.ProcessState
	if ps == nil {
		return ex
	}
	ex.Code = ps.ExitCode()
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		ex.Signal = ws.Signal()
	}
	return ex
}

// Status reports the child's state; the error is always nil.
func (e *Exec) Status(context.Context) (Status, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sup == nil {
		return Status{State: StateStopped, Detail: "not started"}, nil
	}
	return e.sup.status, nil
}

// spawn starts one child. Called with e.mu held.
func (e *Exec) spawn() (*child, error) {
	cmd := exec.Command(e.cfg.Args[0], e.cfg.Args[1:]...)
	cmd.Env = e.cfg.Env
	cmd.Dir = e.cfg.Dir
	cmd.SysProcAttr = childSysProcAttr()
	// The child gets plain files, not io.Writers: with a Writer, Wait
	// would also wait for every grandchild holding the pipe to close it.
	var parentEnds []*os.File // our copies of the child's ends, closed after start
	var readers []*os.File
	var streams []string
	if e.cfg.LogFile != "" {
		f, err := os.OpenFile(e.cfg.LogFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return nil, fmt.Errorf("open log file: %w", err)
		}
		cmd.Stdout, cmd.Stderr = f, f
		parentEnds = append(parentEnds, f)
	} else {
		for _, stream := range []string{"stdout", "stderr"} {
			r, w, err := os.Pipe()
			if err != nil {
				closeAll(parentEnds)
				closeAll(readers)
				return nil, fmt.Errorf("output pipe: %w", err)
			}
			if stream == "stdout" {
				cmd.Stdout = w
			} else {
				cmd.Stderr = w
			}
			parentEnds = append(parentEnds, w)
			readers = append(readers, r)
			streams = append(streams, stream)
		}
	}
	var err error
	onSpawnThread(func() { err = cmd.Start() })
	closeAll(parentEnds)
	if err != nil {
		closeAll(readers)
		return nil, fmt.Errorf("start %s: %w", e.cfg.Args[0], err)
	}
	for i, r := range readers {
		go logLines(r, e.log.With("pid", cmd.Process.Pid, "stream", streams[i]))
	}
	c := &child{cmd: cmd, pid: cmd.Process.Pid, started: time.Now(), exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait() // the exit is read from ProcessState
		close(c.exited)
	}()
	return c, nil
}

// logLines logs each line read from r until every writer has closed it.
func logLines(r *os.File, log *slog.Logger) {
	defer r.Close()
	br := bufio.NewReaderSize(r, maxLogLine)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			if line[len(line)-1] == '\n' {
				line = line[:len(line)-1]
			}
			log.Info(string(line))
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrClosed) {
				log.Warn("reading service output", "err", err)
			}
			return
		}
	}
}

func closeAll(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
