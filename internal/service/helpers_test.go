package service

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMain lets the test binary play a keeper in a separate process, so a
// test can kill -9 it and watch what happens to its service.
func TestMain(m *testing.M) {
	if os.Getenv("SERVICE_TEST_KEEPER") != "" {
		os.Exit(keeperHelper(os.Getenv("SERVICE_TEST_KEEPER")))
	}
	code := m.Run()
	removeTestImage()
	os.Exit(code)
}

// keeperHelper starts an exec service running script, prints the child's
// pid and blocks until killed.
func keeperHelper(script string) int {
	d, err := NewExec(ExecConfig{Args: []string{"/bin/sh", "-c", script}})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	if err := d.Start(context.Background()); err != nil {
		fmt.Println("error", err)
		return 1
	}
	st, _ := d.Status(context.Background())
	fmt.Println("pid", st.PID)
	select {}
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	state, _, _, ok := parseStat(b)
	return ok && state != 'Z' && state != 'X'
}

// eventually polls cond until it holds. The bound is generous: it catches
// a hang, it does not measure speed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readPIDFile waits for a file holding one pid (written by a test child).
func readPIDFile(t *testing.T, path string) int {
	t.Helper()
	var pid int
	eventually(t, "pid file "+path, func() bool {
		b, err := os.ReadFile(path)
		if err != nil || !strings.HasSuffix(string(b), "\n") {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	return pid
}

// killIfAlive is a t.Cleanup for processes a failing test may leave.
func killIfAlive(t *testing.T, pid int) {
	t.Cleanup(func() {
		if pid > 1 && alive(pid) {
			p, err := os.FindProcess(pid)
			if err == nil {
				p.Kill()
			}
		}
	})
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// logCapture is a slog handler that keeps records for assertions.
type logCapture struct {
	mu    sync.Mutex
	lines []string
	attrs []slog.Attr
}

func (h *logCapture) Enabled(context.Context, slog.Level) bool { return true }

func (h *logCapture) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	for _, a := range h.attrs {
		fmt.Fprintf(&b, "%s=%v ", a.Key, a.Value)
	}
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, "%s=%v ", a.Key, a.Value)
		return true
	})
	b.WriteString("msg=" + r.Message)
	h.mu.Lock()
	h.lines = append(h.lines, b.String())
	h.mu.Unlock()
	return nil
}

func (h *logCapture) WithAttrs(as []slog.Attr) slog.Handler {
	// Children share the parent's line store.
	return &logChild{parent: h, attrs: append(append([]slog.Attr{}, h.attrs...), as...)}
}

func (h *logCapture) WithGroup(string) slog.Handler { return h }

func (h *logCapture) has(sub ...string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
next:
	for _, l := range h.lines {
		for _, s := range sub {
			if !strings.Contains(l, s) {
				continue next
			}
		}
		return true
	}
	return false
}

type logChild struct {
	parent *logCapture
	attrs  []slog.Attr
}

func (c *logChild) Enabled(context.Context, slog.Level) bool { return true }
func (c *logChild) Handle(ctx context.Context, r slog.Record) error {
	r2 := r.Clone()
	r2.AddAttrs(c.attrs...)
	return c.parent.Handle(ctx, r2)
}
func (c *logChild) WithAttrs(as []slog.Attr) slog.Handler {
	return &logChild{parent: c.parent, attrs: append(append([]slog.Attr{}, c.attrs...), as...)}
}
func (c *logChild) WithGroup(string) slog.Handler { return c }

// scanPID reads "pid N" from a helper's output.
func scanPID(t *testing.T, sc *bufio.Scanner) int {
	t.Helper()
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == "pid" {
			pid, err := strconv.Atoi(f[1])
			if err == nil {
				return pid
			}
		}
		t.Fatalf("keeper helper said: %s", sc.Text())
	}
	t.Fatalf("keeper helper ended without a pid: %v", sc.Err())
	return 0
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
