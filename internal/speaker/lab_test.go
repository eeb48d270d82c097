package speaker_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/netlab"
)

// binary is the milvus-ha executable the lab tests run inside hosts.
var binary string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "milvus-ha-speaker-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "milvus-ha")
	out, err := exec.Command("go", "build", "-o", binary, "../../cmd/milvus-ha").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building milvus-ha: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// pair is a two-router lab plus a client host, all on one bridge.
type pair struct {
	lab          *netlab.Lab
	a, b, client *netlab.Host
	vip          netip.Addr
	dir          string
}

func newPair(t *testing.T) *pair {
	t.Helper()
	lab := netlab.NewT(t, netlab.Options{StopGrace: 5 * time.Second})
	return &pair{
		lab:    lab,
		a:      lab.AddHostT(t, "a", "198.18.0.1/24"),
		b:      lab.AddHostT(t, "b", "198.18.0.2/24"),
		client: lab.AddHostT(t, "c", "198.18.0.3/24"),
		vip:    netip.MustParseAddr("198.18.0.100"),
		dir:    t.TempDir(),
	}
}

// instance renders a keepalived.conf vrrp_instance for the pair's VIP.
type instance struct {
	priority int
	state    string // MASTER or BACKUP
	version  int
	advert   string // keepalived advert_int, seconds
	extra    string // more instance lines
	scripts  string // vrrp_script blocks
}

func (p *pair) conf(t *testing.T, name string, in instance) string {
	t.Helper()
	if in.state == "" {
		in.state = "BACKUP"
	}
	if in.version == 0 {
		in.version = 3
	}
	if in.advert == "" {
		in.advert = "0.1"
	}
	text := fmt.Sprintf(`global_defs {
  router_id %s
  vrrp_garp_master_delay 1
  vrrp_garp_master_repeat 2
}
%s
vrrp_instance VI_1 {
  state %s
  interface eth0
  virtual_router_id 51
  priority %d
  version %d
  advert_int %s
  virtual_ipaddress {
    %v/24
  }
%s
}
`, name, in.scripts, in.state, in.priority, in.version, in.advert, p.vip, in.extra)
	path := filepath.Join(p.dir, name+".conf")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// start runs `milvus-ha run` in host h with the given config.
func start(t *testing.T, h *netlab.Host, conf string) *netlab.Process {
	t.Helper()
	return h.StartT(t, "milvus-ha", h.Command(binary, "run", "--config", conf), conf+".log")
}

// waitVIP waits until the VIP answers the client from host want.
func (p *pair) waitVIP(t *testing.T, want *netlab.Host, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		mac, err := p.client.WhoHas(ctx, p.vip)
		cancel()
		if err == nil && mac.String() == want.MAC().String() {
			return
		}
		if err != nil {
			last = err.Error()
		} else if h := p.lab.HostByMAC(mac); h != nil {
			last = "answered by " + h.Name()
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("VIP %v not answered by %s within %v (last: %s)", p.vip, want.Name(), within, last)
}

// holds reports whether h has the VIP configured on eth0.
func holds(t *testing.T, h *netlab.Host, vip netip.Addr) bool {
	t.Helper()
	out, err := h.Run(t.Context(), "ip", "-o", "addr", "show", "dev", "eth0")
	if err != nil {
		t.Fatalf("ip addr in %s: %v", h.Name(), err)
	}
	return strings.Contains(string(out), " "+vip.String()+"/")
}

// The VIP is on the master and answers from the client host; host loss
// moves it to the backup; recovery brings it back (preempt).
func TestHostLossAndFailback(t *testing.T) {
	p := newPair(t)
	start(t, p.a, p.conf(t, "a", instance{priority: 150}))
	start(t, p.b, p.conf(t, "b", instance{priority: 100}))
	p.waitVIP(t, p.a, 10*time.Second)
	if holds(t, p.b, p.vip) {
		t.Fatal("backup holds the VIP while the master is up")
	}
	if err := p.a.LinkDown(); err != nil {
		t.Fatal(err)
	}
	p.waitVIP(t, p.b, 10*time.Second)
	if err := p.a.LinkUp(); err != nil {
		t.Fatal(err)
	}
	p.waitVIP(t, p.a, 10*time.Second)
	if holds(t, p.b, p.vip) {
		t.Fatal("old backup still holds the VIP after failback")
	}
}

// With nopreempt the recovered higher-priority node stays backup.
func TestNopreemptNoFailback(t *testing.T) {
	p := newPair(t)
	start(t, p.a, p.conf(t, "a", instance{priority: 150, extra: "  nopreempt"}))
	start(t, p.b, p.conf(t, "b", instance{priority: 100}))
	p.waitVIP(t, p.a, 10*time.Second)
	if err := p.a.LinkDown(); err != nil {
		t.Fatal(err)
	}
	p.waitVIP(t, p.b, 10*time.Second)
	if err := p.a.LinkUp(); err != nil {
		t.Fatal(err)
	}
	// Give a every chance to preempt: many Master_Down_Intervals.
	time.Sleep(2 * time.Second)
	p.waitVIP(t, p.b, time.Second)
	if holds(t, p.a, p.vip) {
		t.Fatal("nopreempt node took the VIP back")
	}
}

// SIGTERM on the master: it sends priority 0 and removes the VIP, and the
// backup takes over after its skew time rather than a full down interval.
func TestSigtermHandsOver(t *testing.T) {
	p := newPair(t)
	a := start(t, p.a, p.conf(t, "a", instance{priority: 150, version: 2, advert: "1"}))
	start(t, p.b, p.conf(t, "b", instance{priority: 100, version: 2, advert: "1"}))
	p.waitVIP(t, p.a, 15*time.Second)
	if err := a.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Master_Down_Interval is 3.6 s at priority 100; skew is 0.6 s. The
	// bound leaves room for a slow machine but not for a full interval.
	p.waitVIP(t, p.b, 3*time.Second)
	if err := a.Wait(); err != nil {
		t.Fatalf("master did not exit cleanly: %v", err)
	}
	if holds(t, p.a, p.vip) {
		t.Fatal("VIP left behind on the stopped master")
	}
}

// The master's check script starts failing: the backup takes over; when it
// recovers, the master preempts back. Both weight -60 (priority decay,
// keepalived's recipe style) and weight 0 (FAULT) are covered. The generic
// notify hook sees the transitions in order with keepalived's argv.
func TestCheckScriptFailover(t *testing.T) {
	for _, weight := range []int{-60, 0} {
		t.Run(fmt.Sprintf("weight%d", weight), func(t *testing.T) {
			p := newPair(t)
			flag := filepath.Join(p.dir, "milvus-down")
			notes := filepath.Join(p.dir, "notify.log")
			hook := filepath.Join(p.dir, "notify.sh")
			if err := os.WriteFile(hook, []byte("#!/bin/sh\necho \"$@\" >> "+notes+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			scripts := fmt.Sprintf(`vrrp_script chk_milvus {
  script "/bin/sh -c '! test -e %s'"
  interval 1
  weight %d
}`, flag, weight)
			extra := fmt.Sprintf("  track_script {\n    chk_milvus\n  }\n  notify %s", hook)
			start(t, p.a, p.conf(t, "a", instance{priority: 150, scripts: scripts, extra: extra}))
			start(t, p.b, p.conf(t, "b", instance{priority: 100}))
			p.waitVIP(t, p.a, 10*time.Second)
			if err := os.WriteFile(flag, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			p.waitVIP(t, p.b, 10*time.Second)
			if err := os.Remove(flag); err != nil {
				t.Fatal(err)
			}
			p.waitVIP(t, p.a, 10*time.Second)

			failed := "INSTANCE VI_1 BACKUP 90" // decayed priority as master yields
			if weight == 0 {
				failed = "INSTANCE VI_1 FAULT 150"
			}
			want := []string{"INSTANCE VI_1 BACKUP 150", "INSTANCE VI_1 MASTER 150", failed}
			deadline := time.Now().Add(5 * time.Second)
			var got []string
			for time.Now().Before(deadline) {
				b, _ := os.ReadFile(notes)
				got = strings.Split(strings.TrimSpace(string(b)), "\n")
				if len(got) >= 5 {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if len(got) < len(want) {
				t.Fatalf("notify hook saw %q, want it to start with %q", got, want)
			}
			for i, w := range want {
				if got[i] != w {
					t.Fatalf("notify hook call %d = %q, want %q (all: %q)", i, got[i], w, got)
				}
			}
			if last := got[len(got)-1]; last != "INSTANCE VI_1 MASTER 150" {
				t.Fatalf("last notify %q, want MASTER 150 after recovery (all: %q)", last, got)
			}
		})
	}
}
