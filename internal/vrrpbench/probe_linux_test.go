package vrrpbench

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/netif"
	"github.com/milvus-ha/milvus-ha/internal/netlab"
)

func TestParseClaim(t *testing.T) {
	vip := netip.MustParseAddr("198.18.0.100").As4()
	client := net.HardwareAddr{2, 0, 198, 18, 0, 3}
	owner := net.HardwareAddr{2, 0, 198, 18, 0, 2}
	garp, err := netif.GratuitousARP(owner, netip.AddrFrom4(vip))
	if err != nil {
		t.Fatal(err)
	}
	probe := arpRequest(client, [4]byte{198, 18, 0, 3}, vip)
	reply := arpRequest(owner, vip, [4]byte{198, 18, 0, 3})
	reply[21] = 2 // op reply
	garpReply := arpRequest(owner, vip, vip)
	garpReply[21] = 2
	otherReply := arpRequest(owner, [4]byte{198, 18, 0, 2}, [4]byte{198, 18, 0, 3})
	otherReply[21] = 2
	notARP := append([]byte(nil), reply...)
	notARP[13] = 0x00 // ethertype 0x0800
	for _, tc := range []struct {
		name     string
		frame    []byte
		ok, garp bool
	}{
		{"our own probe", probe, false, false},
		{"reply for the VIP", reply, true, false},
		{"gratuitous request (netif.GratuitousARP)", garp, true, true},
		{"gratuitous reply", garpReply, true, true},
		{"reply for another address", otherReply, false, false},
		{"not ARP", notARP, false, false},
		{"truncated", reply[:41], false, false},
		{"empty", nil, false, false},
	} {
		mac, g, ok := parseClaim(tc.frame, vip)
		if ok != tc.ok || g != tc.garp || (ok && mac.String() != owner.String()) {
			t.Errorf("%s: parseClaim = %v, garp %v, ok %v; want garp %v ok %v", tc.name, mac, g, ok, tc.garp, tc.ok)
		}
	}
	if isVRRP(reply) || isVRRP(nil) {
		t.Error("ARP frame taken for VRRP")
	}
}

// The prober sees which host answers for an address as it moves between
// hosts, ignores answers from before its mark, and records its own probe
// gaps only while asked to.
func TestProberFollowsTheAddress(t *testing.T) {
	lab := netlab.NewT(t, netlab.Options{})
	x := lab.AddHostT(t, "x", "198.18.0.1/24")
	y := lab.AddHostT(t, "y", "198.18.0.2/24")
	c := lab.AddHostT(t, "c", "198.18.0.3/24")
	addr := netip.MustParseAddr("198.18.0.100")
	p, err := startProber(c, addr, 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	ip := func(h *netlab.Host, args ...string) {
		t.Helper()
		if out, err := h.Run(t.Context(), "ip", args...); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
	}
	wait := func(h *netlab.Host) claim {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		cl, err := p.wait(ctx, h.MAC())
		if err != nil {
			t.Fatalf("no claim by %s: %v", h.Name(), err)
		}
		return cl
	}

	ip(x, "addr", "add", addr.String()+"/24", "dev", "eth0")
	p.mark(time.Now(), false)
	if cl := wait(x); cl.garp {
		t.Errorf("claim by x is a reply to the probe, got gratuitous")
	}
	if g := p.takeGaps(); len(g) != 0 {
		t.Errorf("%d probe gaps recorded without record", len(g))
	}

	ip(x, "addr", "del", addr.String()+"/24", "dev", "eth0")
	ip(y, "addr", "add", addr.String()+"/24", "dev", "eth0")
	mark := time.Now()
	p.mark(mark, true)
	cl := wait(y)
	if cl.at.Before(mark) {
		t.Errorf("claim at %v precedes the mark %v", cl.at, mark)
	}
	time.Sleep(50 * time.Millisecond) // several probe periods
	p.mu.Lock()
	_, ok := p.first[x.MAC().String()]
	p.mu.Unlock()
	if ok {
		t.Error("x claims the address after giving it up")
	}
	if g := p.takeGaps(); len(g) == 0 {
		t.Error("no probe gaps recorded while recording")
	}
}
