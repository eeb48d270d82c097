package service

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func sh(script string) []string { return []string{"/bin/sh", "-c", script} }

// exits collects OnExit calls.
type exits struct {
	ch chan Exit
}

func newExits() *exits     { return &exits{ch: make(chan Exit, 16)} }
func (x *exits) on(e Exit) { x.ch <- e }
func (x *exits) next(t *testing.T) Exit {
	t.Helper()
	select {
	case e := <-x.ch:
		return e
	case <-time.After(60 * time.Second):
		t.Fatal("no exit reported")
		return Exit{}
	}
}

func TestExecStartStatusStop(t *testing.T) {
	ctx := testCtx(t)
	x := newExits()
	d, err := NewExec(ExecConfig{Name: "sleeper", Args: []string{"sleep", "1000"}, OnExit: x.on})
	if err != nil {
		t.Fatal(err)
	}
	if d.Name() != "exec:sleeper" {
		t.Errorf("Name() = %q", d.Name())
	}
	if st, _ := d.Status(ctx); st.State != StateStopped {
		t.Fatalf("before start: %v", st)
	}
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	st, _ := d.Status(ctx)
	if st.State != StateRunning || st.PID == 0 || !alive(st.PID) {
		t.Fatalf("after start: %+v, alive=%v", st, alive(st.PID))
	}
	killIfAlive(t, st.PID)
	// Start on a running service is a no-op.
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if st2, _ := d.Status(ctx); st2.PID != st.PID {
		t.Fatalf("second Start replaced the child: %d -> %d", st.PID, st2.PID)
	}
	// The child leads its own process group.
	if pgid, err := syscall.Getpgid(st.PID); err != nil || pgid != st.PID {
		t.Fatalf("pgid of %d = %d, %v; want its own group", st.PID, pgid, err)
	}
	if err := d.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if alive(st.PID) {
		t.Fatalf("pid %d alive after Stop returned nil", st.PID)
	}
	ex := x.next(t)
	if !ex.Stopped || ex.Failed() || ex.PID != st.PID || ex.Signal != syscall.SIGTERM {
		t.Fatalf("exit = %+v; want stopped by SIGTERM", ex)
	}
	if st, _ := d.Status(ctx); st.State != StateStopped {
		t.Fatalf("after stop: %v", st)
	}
	if err := d.Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	// It can be started again.
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	st3, _ := d.Status(ctx)
	killIfAlive(t, st3.PID)
	if st3.State != StateRunning || st3.PID == st.PID {
		t.Fatalf("restart after stop: %+v", st3)
	}
	if err := d.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// Stop must leave no process of the group, whether the service cooperates
// with SIGTERM or not.
func TestExecStopKillsProcessGroup(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script string
	}{
		{"cooperative", `sleep 1000 & echo $! > "$PIDFILE"; wait`},
		{"ignores SIGTERM", `trap '' TERM; sh -c 'trap "" TERM; while :; do sleep 1; done' & echo $! > "$PIDFILE"; while :; do sleep 1; done`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			pidFile := filepath.Join(t.TempDir(), "grandchild")
			d, err := NewExec(ExecConfig{
				Args:        sh(tc.script),
				Env:         append(os.Environ(), "PIDFILE="+pidFile),
				StopTimeout: 300 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Start(ctx); err != nil {
				t.Fatal(err)
			}
			st, _ := d.Status(ctx)
			killIfAlive(t, st.PID)
			gc := readPIDFile(t, pidFile)
			killIfAlive(t, gc)
			if !alive(gc) {
				t.Fatalf("grandchild %d not running before Stop", gc)
			}
			if err := d.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			if alive(st.PID) || alive(gc) {
				t.Fatalf("after Stop: child %d alive=%v, grandchild %d alive=%v", st.PID, alive(st.PID), gc, alive(gc))
			}
		})
	}
}

// A crash is reported through OnExit, and whatever the crashed leader
// forked is already dead when the keeper hears of it.
func TestExecCrashReportedAndGroupCleared(t *testing.T) {
	ctx := testCtx(t)
	x := newExits()
	pidFile := filepath.Join(t.TempDir(), "grandchild")
	d, err := NewExec(ExecConfig{
		Args:   sh(`sleep 1000 & echo $! > "$PIDFILE"; read line; exit 3`),
		Env:    append(os.Environ(), "PIDFILE="+pidFile),
		OnExit: x.on,
	})
	if err != nil {
		t.Fatal(err)
	}
	// stdin is /dev/null, so `read` returns at once and the shell exits 3.
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	gc := readPIDFile(t, pidFile)
	killIfAlive(t, gc)
	ex := x.next(t)
	if !ex.Failed() || ex.Code != 3 || ex.Restart || ex.Stopped {
		t.Fatalf("exit = %+v; want a failure with code 3 and no restart", ex)
	}
	if alive(gc) {
		t.Fatalf("grandchild %d of the crashed child still alive when the exit was reported", gc)
	}
	st, _ := d.Status(ctx)
	if st.State != StateFailed || !strings.Contains(st.Detail, "code 3") {
		t.Fatalf("status = %v", st)
	}
	if err := d.Stop(ctx); err != nil {
		t.Fatalf("Stop after crash: %v", err)
	}
}

func TestExecRestartPolicy(t *testing.T) {
	for _, tc := range []struct {
		name       string
		script     string
		policy     RestartPolicy
		wantStarts int
		wantState  State
	}{
		{"never", `echo x >> "$COUNT"; exit 1`, RestartPolicy{Mode: RestartNever}, 1, StateFailed},
		{"on-failure gives up", `echo x >> "$COUNT"; exit 1`,
			RestartPolicy{Mode: RestartOnFailure, MaxRestarts: 2, Backoff: time.Millisecond}, 3, StateFailed},
		{"on-failure, clean exit", `echo x >> "$COUNT"; exit 0`,
			RestartPolicy{Mode: RestartOnFailure, MaxRestarts: 2, Backoff: time.Millisecond}, 1, StateStopped},
		{"on-failure, killed by signal", `echo x >> "$COUNT"; kill -KILL $$`,
			RestartPolicy{Mode: RestartOnFailure, MaxRestarts: 1, Backoff: time.Millisecond}, 2, StateFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			x := newExits()
			count := filepath.Join(t.TempDir(), "count")
			d, err := NewExec(ExecConfig{
				Args:    sh(tc.script),
				Env:     append(os.Environ(), "COUNT="+count),
				Restart: tc.policy,
				OnExit:  x.on,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Stop(context.Background()) })
			if err := d.Start(ctx); err != nil {
				t.Fatal(err)
			}
			for i := 1; ; i++ {
				ex := x.next(t)
				if ex.Restart != (i < tc.wantStarts) {
					t.Fatalf("exit %d: %+v; want restart=%v", i, ex, i < tc.wantStarts)
				}
				if ex.Restart && ex.Restarts != i {
					t.Fatalf("exit %d: Restarts = %d", i, ex.Restarts)
				}
				if !ex.Restart {
					break
				}
			}
			b, _ := os.ReadFile(count)
			if got := strings.Count(string(b), "x"); got != tc.wantStarts {
				t.Fatalf("started %d times, want %d", got, tc.wantStarts)
			}
			if st, _ := d.Status(ctx); st.State != tc.wantState {
				t.Fatalf("status = %v, want %v", st, tc.wantState)
			}
		})
	}
}

// Stop during the backoff between two runs cancels the restart.
func TestExecStopDuringBackoff(t *testing.T) {
	ctx := testCtx(t)
	x := newExits()
	count := filepath.Join(t.TempDir(), "count")
	d, err := NewExec(ExecConfig{
		Args:    sh(`echo x >> "$COUNT"; exit 1`),
		Env:     append(os.Environ(), "COUNT="+count),
		Restart: RestartPolicy{Mode: RestartOnFailure, MaxRestarts: -1, Backoff: time.Hour, MaxBackoff: time.Hour},
		OnExit:  x.on,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if ex := x.next(t); !ex.Restart || ex.Delay != time.Hour {
		t.Fatalf("exit = %+v", ex)
	}
	if st, _ := d.Status(ctx); st.State != StateStarting {
		t.Fatalf("status in backoff = %v", st)
	}
	// Start during the backoff waits for the next run, it does not claim
	// the service is up.
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := d.Start(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Start during backoff = %v", err)
	}
	if err := d.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := d.Status(ctx); st.State != StateStopped {
		t.Fatalf("status = %v", st)
	}
	b, _ := os.ReadFile(count)
	if n := strings.Count(string(b), "x"); n != 1 {
		t.Fatalf("started %d times", n)
	}
}

func TestExecReady(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	probe := func(context.Context) error {
		if _, err := os.Stat(ready); err != nil {
			return errors.New("no ready file yet")
		}
		return nil
	}
	d, err := NewExec(ExecConfig{
		Args:          sh(`sleep 0.3; touch "$READY"; exec sleep 1000`),
		Env:           append(os.Environ(), "READY="+ready),
		Ready:         probe,
		ReadyInterval: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	st, _ := d.Status(ctx)
	killIfAlive(t, st.PID)
	if _, err := os.Stat(ready); err != nil {
		t.Fatalf("Start returned before the service was ready: %v", err)
	}
	if err := d.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	// A child that dies before it is ready makes Start fail with the exit.
	d2, err := NewExec(ExecConfig{Args: sh(`exit 7`), Ready: probe, ReadyInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(ready)
	err = d2.Start(ctx)
	if err == nil || !strings.Contains(err.Error(), "code 7") {
		t.Fatalf("Start of a dying child: %v", err)
	}

	// A child that never gets ready makes Start fail when ctx ends.
	d3, err := NewExec(ExecConfig{Args: []string{"sleep", "1000"}, Ready: probe, ReadyInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	err = d3.Start(short)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no ready file yet") {
		t.Fatalf("Start never ready: %v", err)
	}
	if err := d3.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestExecStartErrors(t *testing.T) {
	if _, err := NewExec(ExecConfig{}); err == nil {
		t.Fatal("NewExec accepted an empty command")
	}
	d, err := NewExec(ExecConfig{Args: []string{"/nonexistent/milvus"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	err = d.Start(ctx)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Start of a missing binary: %v", err)
	}
	if st, _ := d.Status(ctx); st.State != StateFailed {
		t.Fatalf("status = %v", st)
	}
	if err := d.Stop(ctx); err != nil {
		t.Fatalf("Stop after a failed start: %v", err)
	}
}

func TestExecOutput(t *testing.T) {
	ctx := testCtx(t)
	t.Run("slog", func(t *testing.T) {
		h := &logCapture{}
		x := newExits()
		d, err := NewExec(ExecConfig{Name: "talker", Args: sh(`echo hello out; echo hello err >&2`),
			Logger: slog.New(h), OnExit: x.on})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Start(ctx); err != nil {
			t.Fatal(err)
		}
		x.next(t)
		eventually(t, "output lines in the log", func() bool {
			return h.has("service=talker", "stream=stdout", "msg=hello out") &&
				h.has("service=talker", "stream=stderr", "msg=hello err")
		})
	})
	t.Run("file", func(t *testing.T) {
		logFile := filepath.Join(t.TempDir(), "svc.log")
		os.WriteFile(logFile, []byte("old\n"), 0o600)
		x := newExits()
		d, err := NewExec(ExecConfig{Args: sh(`echo to file; echo err to file >&2`), LogFile: logFile, OnExit: x.on})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Start(ctx); err != nil {
			t.Fatal(err)
		}
		x.next(t)
		b, _ := os.ReadFile(logFile)
		if string(b) != "old\nto file\nerr to file\n" {
			t.Fatalf("log file = %q", b)
		}
	})
}

// The child dies with the keeper: the test binary plays a keeper in its
// own process, is killed with SIGKILL, and its service must follow.
func TestExecChildDiesWithKeeper(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SERVICE_TEST_KEEPER=exec sleep 1000")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pid := scanPID(t, bufio.NewScanner(out))
	killIfAlive(t, pid)
	if !alive(pid) {
		t.Fatalf("service %d not running under the keeper", pid)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	eventually(t, "service to die with its keeper", func() bool { return !alive(pid) })
}

// Pdeathsig fires when the forking thread ends, not the process. Threads
// end when a goroutine exits while locked to one; that must not kill the
// service.
func TestExecChildSurvivesThreadExits(t *testing.T) {
	ctx := testCtx(t)
	d, err := NewExec(ExecConfig{Args: []string{"sleep", "1000"}})
	if err != nil {
		t.Fatal(err)
	}
	// Start from many goroutines' threads, then end many threads.
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	st, _ := d.Status(ctx)
	killIfAlive(t, st.PID)
	var wg sync.WaitGroup
	for range 4 * runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			runtime.LockOSThread() // exit locked: the runtime ends the thread
		})
	}
	wg.Wait()
	// Give a wrongly delivered SIGKILL time to land; this bounds an
	// observation, it does not time the driver.
	time.Sleep(200 * time.Millisecond)
	if !alive(st.PID) {
		t.Fatalf("service %d died when keeper threads ended", st.PID)
	}
	if err := d.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestExecStopUncertainWhenCtxEnds(t *testing.T) {
	ctx := testCtx(t)
	d, err := NewExec(ExecConfig{Args: sh(`trap '' TERM; while :; do sleep 1; done`), StopTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	st, _ := d.Status(ctx)
	killIfAlive(t, st.PID)
	// ctx ends during the grace time: the driver kills at once and, if it
	// cannot confirm in time, says so.
	short, cancel := context.WithCancel(ctx)
	cancel()
	err = d.Stop(short)
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Stop with ended ctx: %v", err)
	}
	// A second Stop confirms.
	if err := d.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if alive(st.PID) {
		t.Fatal("service alive after confirmed Stop")
	}
}
