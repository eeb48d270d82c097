package netlab

import (
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// failTimeout bounds probes that are expected to fail; it is not a speed
// assertion, only how long we wait before calling a host unreachable.
const failTimeout = 1500 * time.Millisecond

func mustPing(t *testing.T, from *Host, to netip.Addr) {
	t.Helper()
	if err := from.Ping(t.Context(), to); err != nil {
		t.Fatalf("%s → %v: %v", from.Name(), to, err)
	}
}

func mustNotPing(t *testing.T, from *Host, to netip.Addr) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), failTimeout)
	defer cancel()
	if err := from.Ping(ctx, to); err == nil {
		t.Fatalf("%s → %v answered, want no answer", from.Name(), to)
	}
}

func threeHosts(t *testing.T, opts Options) (*Lab, *Host, *Host, *Host) {
	l := NewT(t, opts)
	a := l.AddHostT(t, "a", "198.18.0.1/24")
	b := l.AddHostT(t, "b", "198.18.0.2/24")
	c := l.AddHostT(t, "c", "198.18.0.3/24")
	return l, a, b, c
}

func TestLabPingWhoHasAndFaults(t *testing.T) {
	l, a, b, c := threeHosts(t, Options{})
	hosts := []*Host{a, b, c}
	for _, from := range hosts {
		for _, to := range hosts {
			if from != to {
				mustPing(t, from, to.Addr().Addr())
			}
		}
	}
	mac, err := c.WhoHas(t.Context(), b.Addr().Addr())
	if err != nil {
		t.Fatal(err)
	}
	if l.HostByMAC(mac) != b {
		t.Fatalf("WhoHas(b) = %v, want b's MAC %v", mac, b.MAC())
	}

	t.Run("link down isolates the host", func(t *testing.T) {
		if err := b.LinkDown(); err != nil {
			t.Fatal(err)
		}
		mustNotPing(t, a, b.Addr().Addr())
		mustNotPing(t, c, b.Addr().Addr())
		mustPing(t, a, c.Addr().Addr())
		if err := b.LinkUp(); err != nil {
			t.Fatal(err)
		}
		mustPing(t, a, b.Addr().Addr())
	})

	t.Run("cut separates exactly two hosts", func(t *testing.T) {
		if err := l.Cut(a, b); err != nil {
			t.Fatal(err)
		}
		// Flushed entries force ARP (broadcast) through the bridge, so the
		// cut must stop flooded frames too, not only unicast.
		for _, h := range hosts {
			for _, o := range hosts {
				if h != o {
					if err := h.FlushNeighbor(o.Addr().Addr()); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		mustNotPing(t, a, b.Addr().Addr())
		mustNotPing(t, b, a.Addr().Addr())
		mustPing(t, a, c.Addr().Addr())
		mustPing(t, b, c.Addr().Addr())
		mustPing(t, c, a.Addr().Addr())
		if err := l.Cut(b, c); err != nil { // a second cut keeps the first
			t.Fatal(err)
		}
		mustNotPing(t, a, b.Addr().Addr())
		mustNotPing(t, c, b.Addr().Addr())
		if err := l.Heal(b, a); err != nil { // order of hosts does not matter
			t.Fatal(err)
		}
		mustPing(t, a, b.Addr().Addr())
		mustNotPing(t, c, b.Addr().Addr())
		if err := l.Heal(c, b); err != nil {
			t.Fatal(err)
		}
		mustPing(t, c, b.Addr().Addr())
	})
}

func TestLabRejectsForeignAddresses(t *testing.T) {
	l := NewT(t, Options{})
	for _, addr := range []string{"10.0.0.1/24", "192.168.0.1/24", "198.18.0.1/8", "2001:db8::1/64"} {
		if _, err := l.AddHost(t.Context(), "x", netip.MustParsePrefix(addr)); err == nil {
			t.Errorf("AddHost(%s) accepted", addr)
		}
	}
	l.AddHostT(t, "x", "198.18.0.1/24")
	if _, err := l.AddHost(t.Context(), "y", netip.MustParsePrefix("198.18.0.1/24")); err == nil {
		t.Error("duplicate address accepted")
	}
	if _, err := l.AddHost(t.Context(), "x", netip.MustParsePrefix("198.18.0.2/24")); err == nil {
		t.Error("duplicate name accepted")
	}
	if _, err := l.AddHost(t.Context(), "Bad Name", netip.MustParsePrefix("198.18.0.3/24")); err == nil {
		t.Error("bad name accepted")
	}
}

func TestHostDoRunsInNamespace(t *testing.T) {
	l := NewT(t, Options{})
	a := l.AddHostT(t, "a", "198.18.0.1/24")
	var names []string
	err := a.Do(func() error {
		ifs, err := net.Interfaces()
		for _, i := range ifs {
			names = append(names, i.Name)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, ",") != "lo,eth0" {
		t.Fatalf("interfaces inside host = %v, want lo,eth0", names)
	}
	ifs, err := net.InterfaceByName("eth0")
	if err == nil && ifs.HardwareAddr.String() == a.MAC().String() {
		t.Fatal("caller's namespace sees the host's eth0 after Do")
	}
	out, err := a.Run(t.Context(), "ip", "-br", "addr", "show", "dev", "eth0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "198.18.0.1/24") {
		t.Fatalf("ip addr inside host: %s", out)
	}
}

func TestLabIPv6LinkLocal(t *testing.T) {
	l := NewT(t, Options{IPv6: true})
	a := l.AddHostT(t, "a", "198.18.0.1/24")
	b := l.AddHostT(t, "b", "198.18.0.2/24")
	if !b.LinkLocal().IsLinkLocalUnicast() {
		t.Fatalf("b link-local = %v", b.LinkLocal())
	}
	mustPing(t, a, b.LinkLocal())
	mac, err := a.Neighbor(b.LinkLocal())
	if err != nil {
		t.Fatal(err)
	}
	if mac.String() != b.MAC().String() {
		t.Fatalf("NDP entry for b = %v, want %v", mac, b.MAC())
	}

	v4only := NewT(t, Options{})
	c := v4only.AddHostT(t, "c", "198.18.0.3/24")
	if c.LinkLocal().IsValid() {
		t.Fatalf("IPv6 off but link-local %v", c.LinkLocal())
	}
	out, err := c.Run(t.Context(), "ip", "-6", "addr", "show")
	if err != nil || len(strings.TrimSpace(string(out))) != 0 {
		t.Fatalf("IPv6 addresses in a v4-only lab: %q %v", out, err)
	}
}

func TestCloseRemovesEverything(t *testing.T) {
	NeedRoot(t)
	l, err := New(t.Context(), Options{StopGrace: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	a, err := l.AddHost(t.Context(), "a", netip.MustParsePrefix("198.18.0.1/24"))
	if err != nil {
		t.Fatal(err)
	}
	// A tracked process that ignores SIGTERM (forces the SIGKILL path) and
	// an untracked one (must be found by namespace).
	p, err := a.Start(a.Command("sh", "-c", "trap '' TERM; while :; do sleep 1; done"))
	if err != nil {
		t.Fatal(err)
	}
	untracked := a.Command("sleep", "1000")
	if err := untracked.Start(); err != nil {
		t.Fatal(err)
	}
	go untracked.Wait() // reap
	waitInNamespace(t, untracked.Process.Pid, a.NetNS())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	for _, pid := range []int{p.PID(), untracked.Process.Pid} {
		if running(pid) {
			t.Errorf("pid %d still running after Close", pid)
		}
	}
	assertNoLeftovers(t, l.Prefix())
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestSweepRemovesDeadRuns(t *testing.T) {
	NeedRoot(t)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	prefix, err := newPrefix(dead.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{prefix + "-sw", prefix + "-a"} {
		if err := addNamespace(t.Context(), n); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = removeNamespace(n) })
	}
	orphan := exec.Command("ip", "netns", "exec", prefix+"-a", "sleep", "1000")
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	go orphan.Wait()
	waitInNamespace(t, orphan.Process.Pid, prefix+"-a")
	live := NewT(t, Options{}) // NewT sweeps too; the live lab must survive
	removed, err := Sweep()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("swept %v", removed)
	assertNoLeftovers(t, prefix)
	if _, err := os.Stat("/run/netns/" + live.SwitchNamespace()); err != nil {
		t.Fatalf("sweep removed a live lab: %v", err)
	}
	if running(orphan.Process.Pid) {
		t.Fatalf("process %d in a swept namespace still running", orphan.Process.Pid)
	}
}

func assertNoLeftovers(t *testing.T, prefix string) {
	t.Helper()
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			t.Errorf("namespace %s left behind", e.Name())
		}
	}
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		if strings.HasPrefix(i.Name, prefix) {
			t.Errorf("link %s left in the root namespace", i.Name)
		}
	}
}
