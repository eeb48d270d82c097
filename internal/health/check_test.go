package health

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeScript creates an executable shell script in dir.
func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// gone reports whether pid no longer runs (absent or a zombie waiting for a
// reaper that may not exist in a container).
func gone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// waitGone polls for a process to die; the deadline only bounds a hang.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if gone(pid) {
			return
		}
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	t.Fatalf("process %d still running", pid)
}

func pidFrom(t *testing.T, p string) int {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if b, err := os.ReadFile(p); err == nil && strings.HasSuffix(string(b), "\n") {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
	}
	t.Fatalf("no pid in %s", p)
	return 0
}

func TestScriptExitCodes(t *testing.T) {
	dir := t.TempDir()
	ok := writeScript(t, dir, "ok.sh", "exit 0\n")
	bad := writeScript(t, dir, "bad.sh", "echo broken >&2\nexit 3\n")
	args := writeScript(t, dir, "args.sh", "printf '%s|' \"$@\" > \""+dir+"/args\"\n")
	notExec := filepath.Join(dir, "plain.sh")
	if err := os.WriteFile(notExec, []byte("exit 7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	if err := (&Script{Command: Command{Args: []string{ok}}}).Run(ctx); err != nil {
		t.Errorf("ok.sh: %v", err)
	}
	err := (&Script{Command: Command{Args: []string{bad}}}).Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "broken") {
		t.Errorf("bad.sh: %v", err)
	}
	// argv is passed as split, spaces kept (keepalived execs argv directly).
	if err := (&Script{Command: Command{Args: []string{args, "a b", "c"}}}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "args")); got != "a b|c|" {
		t.Errorf("argv %q", got)
	}
	// Not executable: keepalived falls back to system(), i.e. /bin/sh -c
	// with the quoted command line — which fails on a non-executable file.
	if err := (&Script{Command: Command{Args: []string{notExec}}}).Run(ctx); err == nil {
		t.Error("non-executable file succeeded")
	}
	// A command found in PATH is exec'd with its arguments.
	if err := (&Script{Command: Command{Args: []string{"test", "-d", dir}}}).Run(ctx); err != nil {
		t.Errorf("test -d via PATH: %v", err)
	}
	if err := (&Script{Command: Command{Args: []string{"[", "-f", filepath.Join(dir, "nope"), "]"}}}).Run(ctx); err == nil {
		t.Error("[ -f missing ] succeeded")
	}
	// A shell builtin is not a file: keepalived's system() path, /bin/sh -c
	// with each word quoted.
	if err := (&Script{Command: Command{Args: []string{"exit", "4"}}}).Run(ctx); err == nil || !strings.Contains(err.Error(), "exit status 4") {
		t.Errorf("exit 4 via /bin/sh: %v", err)
	}
	if err := (&Script{}).Run(ctx); err == nil {
		t.Error("empty command succeeded")
	}
}

// keepalived: on timeout SIGTERM goes to the script's process group, and
// whatever the script started dies with it; a timeout counts as failure.
func TestScriptTimeoutKillsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	s := writeScript(t, dir, "hang.sh", "echo $$ > \"$1/leader\"\nsleep 300 &\necho $! > \"$1/child\"\nwait\n")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := (&Script{Command: Command{Args: []string{s, dir}}}).Run(ctx)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("err %v", err)
	}
	waitGone(t, pidFrom(t, filepath.Join(dir, "leader")))
	waitGone(t, pidFrom(t, filepath.Join(dir, "child")))
}

// A script that ignores SIGTERM is SIGKILLed after the grace period.
func TestScriptIgnoringSIGTERMIsKilled(t *testing.T) {
	dir := t.TempDir()
	s := writeScript(t, dir, "stubborn.sh", "trap '' TERM\necho $$ > \"$1/leader\"\nwhile :; do sleep 1; done\n")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- (&Script{Command: Command{Args: []string{s, dir}}, KillGrace: 100 * time.Millisecond}).Run(ctx)
	}()
	pid := pidFrom(t, filepath.Join(dir, "leader"))
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("cancelled script succeeded")
	}
	waitGone(t, pid)
}

func TestScriptRunAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: switching the script user")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody")
	}
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} { // let nobody reach the script
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	s := writeScript(t, dir, "id.sh", "id -u > \""+dir+"/uid\"\n")
	if err := (&Script{Command: Command{Args: []string{s}, User: "nobody"}}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(readFile(t, filepath.Join(dir, "uid"))); got != u.Uid {
		t.Errorf("uid %s want %s", got, u.Uid)
	}
	if err := (&Script{Command: Command{Args: []string{s}, User: "no-such-user-xyz"}}).Run(context.Background()); err == nil {
		t.Error("unknown user accepted")
	}
}

func TestTCPCheck(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if err := (&TCP{Addr: addr}).Run(context.Background()); err != nil {
		t.Errorf("open port: %v", err)
	}
	ln.Close()
	if err := (&TCP{Addr: addr}).Run(context.Background()); err == nil {
		t.Error("closed port succeeded")
	}
}

func TestHTTPCheck(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
	}))
	defer srv.Close()
	c := &HTTP{URL: srv.URL + "/healthz"}
	for _, tt := range []struct {
		status int
		ok     bool
	}{{200, true}, {204, true}, {301, false}, {503, false}, {404, false}} {
		status = tt.status
		err := c.Run(context.Background())
		if (err == nil) != tt.ok {
			t.Errorf("status %d: err %v", tt.status, err)
		}
	}
	if err := (&HTTP{URL: "http://127.0.0.1:1/"}).Run(context.Background()); err == nil {
		t.Error("refused connection succeeded")
	}
	if err := (&HTTP{URL: "::bad"}).Run(context.Background()); err == nil {
		t.Error("bad URL succeeded")
	}
}

// The Runner folds real script runs with rise/fall. The script plays a
// fixed sequence of exit codes (one per run), so the test does not depend
// on timing.
func TestRunnerFallRiseThroughProcesses(t *testing.T) {
	dir := t.TempDir()
	seq := "0 0 1 1 1 0 1 0 0 1"
	if err := os.WriteFile(filepath.Join(dir, "seq"), []byte(seq), 0o644); err != nil {
		t.Fatal(err)
	}
	s := writeScript(t, dir, "seq.sh", `D="$1"
n=$(cat "$D/n" 2>/dev/null || echo 0)
echo $((n+1)) > "$D/n"
set -- $(cat "$D/seq")
shift $n
exit ${1:-0}
`)
	r := &Runner{Name: "chk", Check: &Script{Command: Command{Args: []string{s, dir}}}, Interval: 5 * time.Millisecond, Timeout: 30 * time.Second, Rise: 2, Fall: 3}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []Result
	done := make(chan error, 1)
	go func() {
		done <- r.Run(ctx, func(res Result) {
			got = append(got, res)
			if len(got) == len(strings.Fields(seq)) {
				cancel()
			}
		})
	}()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
	// rise 2 fall 3: the first result decides, then 3 failures to fail and
	// 2 successes to recover.
	want := "O o o o F f f f O o"
	var b []string
	for _, res := range got {
		c := map[State]string{OK: "o", Failed: "f", Unknown: "u"}[res.State]
		if res.Changed {
			c = strings.ToUpper(c)
		}
		if (res.Err == nil) != (strings.Fields(seq)[len(b)] == "0") {
			t.Errorf("result %d: err %v for exit %s", len(b), res.Err, strings.Fields(seq)[len(b)])
		}
		if res.Name != "chk" {
			t.Errorf("name %q", res.Name)
		}
		b = append(b, c)
	}
	if strings.Join(b, " ") != want {
		t.Errorf("states %s\n  want %s", strings.Join(b, " "), want)
	}
}

// A check slower than its timeout is a failure, and init_fail starts failed.
func TestRunnerTimeoutIsFailure(t *testing.T) {
	dir := t.TempDir()
	s := writeScript(t, dir, "slow.sh", "exec sleep 300\n")
	r := &Runner{Name: "slow", Check: &Script{Command: Command{Args: []string{s}}, KillGrace: 50 * time.Millisecond},
		Interval: 10 * time.Millisecond, Timeout: 50 * time.Millisecond, Rise: 1, Fall: 1, InitFail: true}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []Result
	_ = r.Run(ctx, func(res Result) {
		got = append(got, res)
		if len(got) == 2 {
			cancel()
		}
	})
	if len(got) != 2 {
		t.Fatalf("%d results", len(got))
	}
	for _, res := range got {
		if res.Err == nil || !errors.Is(res.Err, context.DeadlineExceeded) || res.State != Failed || res.Changed {
			t.Errorf("result %+v", res)
		}
	}
}

func TestRunnerRejectsZeroInterval(t *testing.T) {
	if err := (&Runner{Check: &TCP{}}).Run(context.Background(), func(Result) {}); err == nil {
		t.Error("zero interval accepted")
	}
}
