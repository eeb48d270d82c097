package speaker_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/netlab"
)

// Interop with the real keepalived (2.2.7 in CI): one router of the pair is
// keepalived, the other milvus-ha, and the VIP must move between them in
// both directions on host loss and on SIGTERM, and come back.

// labSlots caps how many interop labs run at once: each lab is cheap, but
// two daemons with sub-second timers per lab on a small shared CI machine
// would make timing-sensitive elections flap.
var labSlots = make(chan struct{}, 4)

func parallelLab(t *testing.T) {
	t.Helper()
	t.Parallel()
	labSlots <- struct{}{}
	t.Cleanup(func() { <-labSlots })
}

// needKeepalived skips the test when the keepalived binary is not installed.
func needKeepalived(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("keepalived")
	if err != nil {
		t.Skip("needs keepalived: " + err.Error())
	}
	return path
}

// startKeepalived runs keepalived in host h with conf: VRRP subsystem only,
// no fork, detailed log on the console (to conf+".log"), pid files private
// to the test so parallel runs never see each other.
func startKeepalived(t *testing.T, h *netlab.Host, conf string) *netlab.Process {
	t.Helper()
	bin := needKeepalived(t)
	dir := t.TempDir()
	cmd := h.Command(bin, "-n", "-l", "-D", "-G", "--vrrp", "-f", conf,
		"-p", filepath.Join(dir, "keepalived.pid"), "-r", filepath.Join(dir, "vrrp.pid"))
	return h.StartT(t, "keepalived", cmd, conf+".log")
}

// waitGone waits until h no longer holds the VIP (a node that yields removes
// it right after the new master's advert, not atomically with the ARP).
func (p *pair) waitGone(t *testing.T, h *netlab.Host, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for holds(t, h, p.vip) {
		if time.Now().After(deadline) {
			t.Fatalf("%s still holds VIP %v after %v", h.Name(), p.vip, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitLog waits until the file at path contains every one of wants.
func waitLog(t *testing.T, path string, within time.Duration, wants ...string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		b, _ := os.ReadFile(path)
		missing := ""
		for _, w := range wants {
			if !strings.Contains(string(b), w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has no %q after %v:\n%s", filepath.Base(path), missing, within, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// interopCase is one protocol setting of the interop matrix.
type interopCase struct {
	version  int
	unicast  bool
	kaMaster bool // keepalived on the higher-priority host a, milvus-ha on b; else the reverse
}

func (c interopCase) String() string {
	s := "v3"
	if c.version == 2 {
		s = "v2pass"
	}
	if c.unicast {
		s += "/unicast"
	} else {
		s += "/multicast"
	}
	if c.kaMaster {
		return s + "/keepalived-master"
	}
	return s + "/milvusha-master"
}

// instance renders the case's settings for one host: v2 uses PASS and
// whole-second adverts (v2 cannot carry less), v3 half a second.
func (c interopCase) instance(self, peer *netlab.Host, prio int, pass string) instance {
	in := instance{priority: prio, version: c.version, advert: "0.5"}
	if c.version == 2 {
		in.advert = "1"
		in.extra += fmt.Sprintf("  authentication {\n    auth_type PASS\n    auth_pass %s\n  }\n", pass)
	}
	if c.unicast {
		in.extra += fmt.Sprintf("  unicast_src_ip %v\n  unicast_peer {\n    %v\n  }\n", self.Addr().Addr(), peer.Addr().Addr())
	}
	return in
}

// launcher starts a router of the given kind in a host.
type launcher func(t *testing.T, h *netlab.Host, conf string) *netlab.Process

// TestKeepalivedInterop runs the whole failover cycle for every
// combination of version (v2 PASS / v3), transport (multicast / unicast)
// and role (keepalived as master / as backup):
//
//  1. the higher-priority host a owns the VIP, b does not;
//  2. a loses its link: b takes the VIP;
//  3. a's link returns: a preempts, b gives the VIP up;
//  4. a's daemon gets SIGTERM: it sends priority 0, b takes the VIP and a
//     exits without leaving the VIP behind;
//  5. a's daemon is started again: a preempts once more.
func TestKeepalivedInterop(t *testing.T) {
	needKeepalived(t)
	netlab.NeedRoot(t)
	var cases []interopCase
	for _, version := range []int{3, 2} {
		for _, unicast := range []bool{false, true} {
			for _, kaMaster := range []bool{true, false} {
				cases = append(cases, interopCase{version: version, unicast: unicast, kaMaster: kaMaster})
			}
		}
	}
	for _, c := range cases {
		t.Run(c.String(), func(t *testing.T) {
			parallelLab(t)
			p := newPair(t)
			startA, startB := launcher(startKeepalived), launcher(start)
			if !c.kaMaster {
				startA, startB = startB, startA
			}
			// Bounds only turn a hang into a failure: at 1 s adverts a
			// fresh node needs ~3.6 s before it may become master.
			const within = 20 * time.Second

			confA := p.conf(t, "a", c.instance(p.a, p.b, 150, "secret12"))
			a := startA(t, p.a, confA)
			startB(t, p.b, p.conf(t, "b", c.instance(p.b, p.a, 100, "secret12")))
			p.waitVIP(t, p.a, within)
			if holds(t, p.b, p.vip) {
				t.Fatal("backup holds the VIP while the master is up")
			}

			// Host loss and return.
			if err := p.a.LinkDown(); err != nil {
				t.Fatal(err)
			}
			p.waitVIP(t, p.b, within)
			if err := p.a.LinkUp(); err != nil {
				t.Fatal(err)
			}
			p.waitVIP(t, p.a, within)
			p.waitGone(t, p.b, within)

			// Clean shutdown of the master and restart.
			if err := a.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			p.waitVIP(t, p.b, within)
			err := a.Wait()
			if !c.kaMaster && err != nil {
				t.Fatalf("milvus-ha master did not exit cleanly: %v", err)
			}
			if holds(t, p.a, p.vip) {
				t.Fatal("VIP left behind on the stopped master")
			}
			startA(t, p.a, p.conf(t, "a-restarted", c.instance(p.a, p.b, 150, "secret12")))
			p.waitVIP(t, p.a, within)
			p.waitGone(t, p.b, within)
		})
	}
}

// A password mismatch with keepalived is rejected and logged on our side in
// keepalived's words, with the stable reason label; as with keepalived
// itself, each side then ignores the other (split brain, both MASTER).
func TestKeepalivedPasswordMismatch(t *testing.T) {
	needKeepalived(t)
	netlab.NeedRoot(t)
	parallelLab(t)
	p := newPair(t)
	c := interopCase{version: 2}
	ours := p.conf(t, "a", c.instance(p.a, p.b, 150, "secret12"))
	theirs := p.conf(t, "b", c.instance(p.b, p.a, 100, "other"))
	start(t, p.a, ours)
	startKeepalived(t, p.b, theirs)
	const within = 20 * time.Second
	waitLog(t, ours+".log", within,
		`msg="VRRP packet rejected"`, "reason=auth_mismatch", "from="+p.b.Addr().Addr().String(),
		"received an invalid passwd")
	waitLog(t, theirs+".log", within, "received an invalid passwd!")
	deadline := time.Now().Add(within)
	for !holds(t, p.a, p.vip) || !holds(t, p.b, p.vip) {
		if time.Now().After(deadline) {
			t.Fatalf("want both routers MASTER on a password mismatch (keepalived's behaviour): a holds=%v b holds=%v",
				holds(t, p.a, p.vip), holds(t, p.b, p.vip))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
