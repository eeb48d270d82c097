package health

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startNotifier(t *testing.T, cfg NotifierConfig) (*Notifier, context.CancelFunc) {
	t.Helper()
	n := NewNotifier(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _ = n.Run(ctx) }()
	t.Cleanup(cancel)
	return n, cancel
}

// Hooks of one instance run one at a time in transition order, even when
// an earlier one is slow (keepalived runs them concurrently; reference §3.2
// and issues #996/#1055/#1991). The generic hook runs after the specific
// one and gets INSTANCE <name> <STATE> <prio> (observed keepalived argv:
// "argc=4 args=[INSTANCE VI_1 MASTER 150]").
func TestNotifierOrderAndGenericArgv(t *testing.T) {
	dir := t.TempDir()
	logf := filepath.Join(dir, "log")
	master := writeScript(t, dir, "master.sh", "sleep 0.3\necho \"master $*\" >> \""+logf+"\"\n")
	backup := writeScript(t, dir, "backup.sh", "echo \"backup $*\" >> \""+logf+"\"\n")
	fault := writeScript(t, dir, "fault.sh", "echo fault >> \""+logf+"\"\n")
	generic := writeScript(t, dir, "notify.sh", "echo \"argc=$# args=[$*]\" >> \""+logf+"\"\n")
	n, _ := startNotifier(t, NotifierConfig{
		Instance: "VI_1",
		Hooks: Hooks{
			Master:  &Command{Args: []string{master, "master"}},
			Backup:  &Command{Args: []string{backup, "backup"}},
			Fault:   &Command{Args: []string{fault}},
			Generic: &Command{Args: []string{generic}},
		},
		Timeout: time.Minute,
	})
	n.Notify(HookBackup, 150) // keepalived emits BACKUP at startup
	n.Notify(HookMaster, 150)
	n.Notify(HookBackup, 100)
	n.Notify(HookStop, 100) // no notify_stop: only the generic hook runs
	n.Close()
	want := strings.Join([]string{
		"backup backup", "argc=4 args=[INSTANCE VI_1 BACKUP 150]",
		"master master", "argc=4 args=[INSTANCE VI_1 MASTER 150]",
		"backup backup", "argc=4 args=[INSTANCE VI_1 BACKUP 100]",
		"argc=4 args=[INSTANCE VI_1 STOP 100]",
	}, "\n") + "\n"
	if got := readFile(t, logf); got != want {
		t.Errorf("hook log:\n%s\nwant:\n%s", got, want)
	}
	n.Notify(HookMaster, 1) // after Close: ignored
	if got := readFile(t, logf); got != want {
		t.Errorf("hook ran after Close:\n%s", got)
	}
}

// Each hook is bounded by the timeout; the queue goes on after a hung hook,
// and exit code and output are reported and logged.
func TestNotifierTimeoutExitCodeAndLog(t *testing.T) {
	dir := t.TempDir()
	logf := filepath.Join(dir, "log")
	hang := writeScript(t, dir, "hang.sh", "echo $$ > \""+dir+"/pid\"\nexec sleep 300\n")
	failing := writeScript(t, dir, "fail.sh", "echo 'cannot start docker' >&2\nexit 3\n")
	after := writeScript(t, dir, "after.sh", "echo after >> \""+logf+"\"\n")
	var mu sync.Mutex
	var runs []HookRun
	logs := &syncBuffer{}
	n, _ := startNotifier(t, NotifierConfig{
		Instance: "VI_1",
		Hooks: Hooks{
			Master: &Command{Args: []string{hang}},
			Fault:  &Command{Args: []string{failing}},
			Backup: &Command{Args: []string{after}},
		},
		Timeout:   200 * time.Millisecond,
		KillGrace: 50 * time.Millisecond,
		Logger:    slog.New(slog.NewTextHandler(logs, nil)),
		Done: func(r HookRun) {
			mu.Lock()
			runs = append(runs, r)
			mu.Unlock()
		},
	})
	n.Notify(HookMaster, 150)
	n.Notify(HookFault, 150)
	n.Notify(HookBackup, 150)
	n.Close()
	waitGone(t, pidFrom(t, filepath.Join(dir, "pid")))
	if got := readFile(t, logf); got != "after\n" {
		t.Errorf("hook after a hung one: %q", got)
	}
	if len(runs) != 3 {
		t.Fatalf("%d runs", len(runs))
	}
	if r := runs[0]; r.State != HookMaster || r.Err == nil || !errors.Is(r.Err, context.DeadlineExceeded) || r.ExitCode != -1 {
		t.Errorf("hung hook: %+v", r)
	}
	if r := runs[1]; r.State != HookFault || r.ExitCode != 3 || strings.TrimSpace(string(r.Output)) != "cannot start docker" || r.Err == nil {
		t.Errorf("failing hook: %+v", r)
	}
	if r := runs[2]; r.State != HookBackup || r.ExitCode != 0 || r.Err != nil {
		t.Errorf("ok hook: %+v", r)
	}
	out := logs.String()
	for _, want := range []string{
		"msg=\"notify hook failed\" instance=VI_1 state=FAULT priority=150",
		"exit=3",
		"output=\"cannot start docker\\n\"",
		"msg=\"notify hook done\" instance=VI_1 state=BACKUP",
		"exit=0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

// Cancelling Run kills the running hook and drops the queue.
func TestNotifierCancelKillsRunningHook(t *testing.T) {
	dir := t.TempDir()
	hang := writeScript(t, dir, "hang.sh", "echo $$ > \""+dir+"/pid\"\nexec sleep 300\n")
	never := writeScript(t, dir, "never.sh", "touch \""+dir+"/ran\"\n")
	n := NewNotifier(NotifierConfig{Instance: "VI_1", Hooks: Hooks{Master: &Command{Args: []string{hang}}, Backup: &Command{Args: []string{never}}},
		Timeout: time.Hour, KillGrace: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	n.Notify(HookMaster, 1)
	n.Notify(HookBackup, 1)
	pid := pidFrom(t, filepath.Join(dir, "pid"))
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run: %v", err)
	}
	waitGone(t, pid)
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Error("queued hook ran after cancel")
	}
}
