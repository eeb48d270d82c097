package failbench

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/config"
)

func testRecipe(t *testing.T, binary string) recipeFiles {
	t.Helper()
	dir := t.TempDir()
	f := recipeFiles{dir: dir, binary: binary, data: filepath.Join(dir, "shared"), vip: vip, serveArgs: recipeServeArgs}
	for name, text := range map[string]string{
		"chk_milvus.sh": f.checkScript(), "start_serve.sh": f.startScript(), "stop_serve.sh": f.stopScript(),
	} {
		if err := os.WriteFile(f.script(name), []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// The two configurations load in our keepalived parser (the same files
// go to keepalived) and carry the recipe's settings.
func TestRecipeConfigs(t *testing.T) {
	f := testRecipe(t, "/usr/local/bin/milvus-ha")
	load := func(host, text string) *config.Instance {
		t.Helper()
		path := f.confPath(host)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, _, err := config.Load(path)
		if err != nil {
			t.Fatalf("%s: %v\n%s", host, err, text)
		}
		if len(cfg.Instances) != 1 {
			t.Fatalf("%s: %d instances", host, len(cfg.Instances))
		}
		in := cfg.Instances[0]
		if in.Version != 2 || in.Advert != time.Second || in.VRID != 51 || in.AuthType != config.AuthPass ||
			in.AuthPass != "1111" || len(in.VIPs) != 1 || in.VIPs[0].Prefix != netip.PrefixFrom(vip, 24) || in.Interface != "eth0" {
			t.Errorf("%s: version %d advert %v vrid %d auth %s/%q VIPs %v interface %s", host,
				in.Version, in.Advert, in.VRID, in.AuthType, in.AuthPass, in.VIPs, in.Interface)
		}
		return in
	}
	a := load("a", f.masterConf())
	if a.State != config.StateMaster || a.Priority != 110 || len(a.TrackScripts) != 1 || a.TrackScripts[0].Weight != -20 {
		t.Errorf("master: state %s priority %d track %+v", a.State, a.Priority, a.TrackScripts)
	}
	if a.Notify.Master != nil || a.Notify.Backup != nil {
		t.Errorf("master has notify scripts: %+v", a.Notify)
	}
	b := load("b", f.backupConf())
	if b.State != config.StateBackup || b.Priority != 91 || len(b.TrackScripts) != 0 {
		t.Errorf("backup: state %s priority %d track %+v", b.State, b.Priority, b.TrackScripts)
	}
	argv := func(h *config.Hook) string {
		if h == nil {
			return ""
		}
		return strings.Join(h.Args, " ")
	}
	if argv(b.Notify.Master) != f.script("start_serve.sh")+" master" || argv(b.Notify.Backup) != f.script("stop_serve.sh")+" backup" {
		t.Errorf("backup notify: %+v %+v", b.Notify.Master, b.Notify.Backup)
	}
	// The master's check script: interval 2, weight -20, as in the recipe.
	cfg, _, err := config.Load(f.confPath("a"))
	if err != nil {
		t.Fatal(err)
	}
	sc := cfg.Scripts["chk_milvus"]
	if sc == nil || sc.Interval != 2*time.Second || sc.Weight != -20 || strings.Join(sc.Args, " ") != f.script("chk_milvus.sh") {
		t.Errorf("chk_milvus = %+v", sc)
	}
}

// The scripts do what the recipe's docker commands do, with a stand-in
// server: the check fails unless a's server runs, start starts the
// backup's server once, stop stops it.
func TestRecipeScripts(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("needs sh")
	}
	// The stand-in "milvus-ha" ignores its arguments and runs until killed.
	fake := filepath.Join(t.TempDir(), "milvus-ha")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\nexec sleep 60\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	f := testRecipe(t, fake)
	run := func(name string) error { return exec.Command(f.script(name), "x").Run() }
	pidOf := func(host string) int {
		b, err := os.ReadFile(f.pidPath(host))
		if err != nil {
			return 0
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return pid
	}
	alive := func(pid int) bool {
		if pid <= 0 || syscall.Kill(pid, 0) != nil {
			return false
		}
		st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		return err == nil && !strings.Contains(string(st), ") Z ")
	}

	if run("chk_milvus.sh") == nil {
		t.Error("check passes with no server PID file")
	}
	srv := exec.Command("sleep", "60")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	if err := os.WriteFile(f.pidPath("a"), []byte(strconv.Itoa(srv.Process.Pid)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run("chk_milvus.sh"); err != nil {
		t.Errorf("check fails with a's server running: %v", err)
	}
	srv.Process.Kill()
	srv.Wait()
	if run("chk_milvus.sh") == nil {
		t.Error("check passes after a's server died")
	}

	if err := run("start_serve.sh"); err != nil {
		t.Fatal(err)
	}
	pid := pidOf("b")
	t.Cleanup(func() {
		if pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	if !alive(pid) {
		t.Fatalf("start_serve.sh: server pid %d not running", pid)
	}
	if err := run("start_serve.sh"); err != nil || pidOf("b") != pid {
		t.Errorf("second start: %v, pid %d → %d (want the running one kept)", err, pid, pidOf("b"))
	}
	if err := run("stop_serve.sh"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if alive(pid) {
		t.Errorf("stop_serve.sh left pid %d running", pid)
	}
	if err := run("stop_serve.sh"); err != nil {
		t.Errorf("stop with nothing running: %v", err)
	}
	log, _ := os.ReadFile(f.logPath("b"))
	if len(log) != 0 {
		t.Errorf("stand-in server wrote %q", log)
	}
}
