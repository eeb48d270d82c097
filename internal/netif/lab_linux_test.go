package netif

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/netlab"
)

var (
	ipA   = netip.MustParseAddr("198.18.0.1")
	ipB   = netip.MustParseAddr("198.18.0.2")
	ipC   = netip.MustParseAddr("198.18.0.3")
	vip4  = netip.MustParsePrefix("198.18.0.100/24")
	vip6  = netip.MustParsePrefix("fe80::100/64")
	probe = 5 * time.Second // upper bound for things that must happen; never a speed assertion
)

func lab(t *testing.T, v6 bool) (*netlab.Lab, *netlab.Host, *netlab.Host, *netlab.Host) {
	t.Helper()
	l := netlab.NewT(t, netlab.Options{IPv6: v6})
	return l, l.AddHostT(t, "a", "198.18.0.1/24"), l.AddHostT(t, "b", "198.18.0.2/24"), l.AddHostT(t, "c", "198.18.0.3/24")
}

func listen(t *testing.T, h *netlab.Host, fam Family, opts Options) *Conn {
	t.Helper()
	var c *Conn
	if err := h.Do(func() error {
		var err error
		c, err = Listen("eth0", fam, opts)
		return err
	}); err != nil {
		t.Fatalf("%s: %v", h.Name(), err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func recv(t *testing.T, c *Conn) Received {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), probe)
	defer cancel()
	r, err := c.Recv(ctx)
	if err != nil {
		t.Fatalf("recv: %v", err)
	}
	return r
}

func send(t *testing.T, c *Conn, payload string, dst netip.Addr) {
	t.Helper()
	if err := c.Send([]byte(payload), dst); err != nil {
		t.Fatal(err)
	}
}

func TestMulticastIPv4(t *testing.T) {
	_, a, b, c := lab(t, false)
	ca := listen(t, a, IPv4, Options{})
	cb := listen(t, b, IPv4, Options{})
	capC, err := openCapture(c)
	if err != nil {
		t.Fatal(err)
	}
	defer capC.close()
	if ca.Src() != ipA || ca.Unicast() {
		t.Fatalf("src %v unicast %v", ca.Src(), ca.Unicast())
	}

	send(t, ca, "advert-from-a", netip.Addr{})
	r := recv(t, cb)
	if string(r.Payload) != "advert-from-a" || r.Src != ipA || r.Dst != GroupV4 || r.TTL != 255 || r.IPLen != 20 {
		t.Fatalf("b received %+v", r)
	}
	// a's own advert must not come back: the first thing a reads is b's.
	send(t, cb, "advert-from-b", GroupV4)
	if r := recv(t, ca); string(r.Payload) != "advert-from-b" || r.Src != ipB {
		t.Fatalf("a received %+v, want b's advert", r)
	}

	// On the wire (seen by host c): keepalived's IP header and MACs.
	ctx, cancel := context.WithTimeout(t.Context(), probe)
	defer cancel()
	f, err := capC.next(ctx, func(f []byte) bool {
		return etherType(f) == 0x0800 && f[14+9] == 112 && bytes.Equal(f[14+12:14+16], ipA.AsSlice())
	})
	if err != nil {
		t.Fatal(err)
	}
	ip := f[14:]
	if got := hex.EncodeToString(f[:12]); got != "01005e000012"+hex.EncodeToString(a.MAC()) {
		t.Errorf("MACs %s", got)
	}
	if ip[1] != 0xc0 || ip[8] != 255 || binary.BigEndian.Uint16(ip[4:]) != 1 || binary.BigEndian.Uint16(ip[6:]) != 0 {
		t.Errorf("IP header tos=%#x ttl=%d id=%d flags/frag=%#x, want 0xc0 255 1 0", ip[1], ip[8], binary.BigEndian.Uint16(ip[4:]), binary.BigEndian.Uint16(ip[6:]))
	}
	if !bytes.Equal(ip[16:20], GroupV4.AsSlice()) || string(ip[20:binary.BigEndian.Uint16(ip[2:])]) != "advert-from-a" {
		t.Errorf("datagram %x", ip)
	}
}

func TestUnicastIPv4(t *testing.T) {
	_, a, b, c := lab(t, false)
	ca := listen(t, a, IPv4, Options{Peers: []netip.Addr{ipB}})
	cb := listen(t, b, IPv4, Options{Src: ipB, Peers: []netip.Addr{ipA}})
	cc := listen(t, c, IPv4, Options{Peers: []netip.Addr{ipB}}) // not b's peer
	mc := listen(t, c, IPv4, Options{})                         // multicast speaker on the LAN

	// Drops are counted by a running Recv, and c's and a's first packets
	// each wait for ARP, in either order: b reads while c's packet arrives
	// and is dropped, and only then does a send.
	got := make(chan Received, 1)
	go func() {
		ctx, cancel := context.WithTimeout(t.Context(), 2*probe)
		defer cancel()
		r, _ := cb.Recv(ctx)
		got <- r
	}()
	send(t, cc, "from-c", ipB)               // b must drop: not a peer
	send(t, mc, "multicast-c", netip.Addr{}) // b's unicast socket must not see it
	for deadline := time.Now().Add(probe); cb.Stats().DroppedNotPeer == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("b never dropped c's packet")
		}
	}
	send(t, ca, "from-a", ipB)
	r := <-got
	if string(r.Payload) != "from-a" || r.Src != ipA || r.Dst != ipB || r.TTL != 255 {
		t.Fatalf("b received %+v", r)
	}
	if s := cb.Stats(); s.DroppedNotPeer != 1 || s.Received != 1 {
		t.Fatalf("b stats %+v, want one drop (c) and one packet (a)", s)
	}
	send(t, cb, "from-b", netip.Addr{})
	if r := recv(t, ca); string(r.Payload) != "from-b" || r.Dst != ipA {
		t.Fatalf("a received %+v", r)
	}
	if err := ca.Send([]byte("x"), ipC); err == nil {
		t.Fatal("send to a non-peer accepted")
	}
}

func TestListenRejectsBadOptions(t *testing.T) {
	_, a, _, _ := lab(t, false)
	for name, tc := range map[string]struct {
		fam  Family
		opts Options
	}{
		"v6 peer on v4":    {IPv4, Options{Peers: []netip.Addr{netip.MustParseAddr("fe80::1")}}},
		"multicast peer":   {IPv4, Options{Peers: []netip.Addr{GroupV4}}},
		"unicast group":    {IPv4, Options{Group: ipB}},
		"v4 source on v6":  {IPv6, Options{Src: ipA}},
		"no v6 link-local": {IPv6, Options{}},
		"unknown family":   {Family(5), Options{}},
	} {
		err := a.Do(func() error {
			c, err := Listen("eth0", tc.fam, tc.opts)
			if err == nil {
				c.Close()
			}
			return err
		})
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := a.Do(func() error { _, err := Listen("nosuch0", IPv4, Options{}); return err }); err == nil {
		t.Error("missing interface accepted")
	}
}

func TestMulticastIPv6(t *testing.T) {
	_, a, b, _ := lab(t, true)
	ca := listen(t, a, IPv6, Options{})
	cb := listen(t, b, IPv6, Options{})
	if ca.Src() != a.LinkLocal() {
		t.Fatalf("v6 source %v, want link-local %v", ca.Src(), a.LinkLocal())
	}
	send(t, ca, "v6-from-a", netip.Addr{})
	r := recv(t, cb)
	if string(r.Payload) != "v6-from-a" || r.Src != ca.Src() || r.Dst != GroupV6 || r.TTL != 255 {
		t.Fatalf("b received %+v", r)
	}
	send(t, cb, "v6-from-b", GroupV6)
	if r := recv(t, ca); string(r.Payload) != "v6-from-b" {
		t.Fatalf("a received %+v, want b's packet (own packets must not loop back)", r)
	}
	// unicast v6 between link-locals
	ua := listen(t, a, IPv6, Options{Peers: []netip.Addr{cb.Src()}})
	ub := listen(t, b, IPv6, Options{Peers: []netip.Addr{ca.Src()}})
	send(t, ua, "v6-unicast", netip.Addr{})
	if r := recv(t, ub); string(r.Payload) != "v6-unicast" || r.Dst != ub.Src() || r.TTL != 255 {
		t.Fatalf("unicast v6 received %+v", r)
	}
}

func doT(t *testing.T, h *netlab.Host, fn func() error) {
	t.Helper()
	if err := h.Do(fn); err != nil {
		t.Fatalf("%s: %v", h.Name(), err)
	}
}

// announceOnce sends one GARP/NA per VIP from h, like one burst of 1.
func announceOnce(t *testing.T, h *netlab.Host, vips ...netip.Addr) [][]byte {
	t.Helper()
	var frames [][]byte
	doT(t, h, func() error {
		var err error
		if frames, err = AnnounceFrames("eth0", vips); err != nil {
			return err
		}
		s, err := OpenFrameSender("eth0")
		if err != nil {
			return err
		}
		defer s.Close()
		a := &Announcer{Config: AnnounceConfig{Repeat: 1}, Sender: s, Frames: frames}
		return a.Run(t.Context())
	})
	return frames
}

func TestVIPMoveWithGratuitousARP(t *testing.T) {
	l, a, b, c := lab(t, false)
	v := VIP{Prefix: vip4, Dev: "eth0", Label: "eth0:vip"}
	// The kernel ignores an ARP update within locktime (1 s) of the last
	// one; the client must take every GARP so the test needs no sleeps.
	doT(t, c, func() error { return os.WriteFile("/proc/sys/net/ipv4/neigh/eth0/locktime", []byte("0"), 0) })

	doT(t, a, func() error { return AddVIP(v) })
	doT(t, a, func() error { return AddVIP(v) }) // idempotent
	mac, err := c.WhoHas(t.Context(), vip4.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if l.HostByMAC(mac) != a {
		t.Fatalf("VIP answered by %v, want a %v", mac, a.MAC())
	}
	var present []VIP
	doT(t, a, func() error { present, err = PresentVIPs([]VIP{v}); return err })
	if len(present) != 1 {
		t.Fatalf("present on a: %v", present)
	}

	capC, err := openCapture(c)
	if err != nil {
		t.Fatal(err)
	}
	defer capC.close()
	doT(t, a, func() error { return DelVIP(v) })
	doT(t, a, func() error { return DelVIP(v) }) // idempotent
	doT(t, b, func() error { return AddVIP(v) })
	frames := announceOnce(t, b, vip4.Addr())

	ctx, cancel := context.WithTimeout(t.Context(), probe)
	defer cancel()
	got, err := capC.next(ctx, func(f []byte) bool { return etherType(f) == 0x0806 })
	if err != nil {
		t.Fatal(err)
	}
	want, _ := GratuitousARP(b.MAC(), vip4.Addr())
	if !bytes.Equal(frames[0], want) || !bytes.Equal(got[:len(want)], want) {
		t.Fatalf("GARP on the wire\n got %x\nwant %x", got, want)
	}
	// No flush, no ping: the GARP alone moved c's neighbour entry.
	if mac, err := c.Neighbor(vip4.Addr()); err != nil || l.HostByMAC(mac) != b {
		t.Fatalf("c's neighbour entry after GARP = %v, %v; want b %v", mac, err, b.MAC())
	}
	if err := c.Ping(t.Context(), vip4.Addr()); err != nil {
		t.Fatal(err)
	}
}

func TestRemoveLeftoverVIPs(t *testing.T) {
	_, a, _, _ := lab(t, false)
	cfg := []VIP{
		{Prefix: vip4, Dev: "eth0"},
		{Prefix: netip.MustParsePrefix("198.18.0.101/32"), Dev: "eth0"},
		{Prefix: netip.MustParsePrefix("198.18.0.102/24"), Dev: "eth0"}, // never added
	}
	doT(t, a, func() error { return errors.Join(AddVIP(cfg[0]), AddVIP(cfg[1])) })
	// an address with the same IP but another prefix length is not ours
	var removed, present []VIP
	doT(t, a, func() error {
		var err error
		removed, err = RemoveLeftoverVIPs(cfg)
		return err
	})
	if len(removed) != 2 || removed[0] != cfg[0] || removed[1] != cfg[1] {
		t.Fatalf("removed %v", removed)
	}
	doT(t, a, func() error {
		var err error
		present, err = PresentVIPs(cfg)
		return err
	})
	if len(present) != 0 {
		t.Fatalf("still present %v", present)
	}
	if err := a.Ping(t.Context(), ipA); err != nil { // primary untouched
		t.Fatal(err)
	}
	if err := a.Do(func() error { return AddVIP(VIP{Prefix: vip4, Dev: "eth0", Label: "other"}) }); err == nil {
		t.Fatal("label not starting with the device accepted")
	}
}

func TestIPv6VIPWithUnsolicitedNA(t *testing.T) {
	l, a, b, c := lab(t, true)
	v := VIP{Prefix: vip6, Dev: "eth0"}
	doT(t, a, func() error { return AddVIP(v) })
	mac, err := c.WhoHas(t.Context(), vip6.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if l.HostByMAC(mac) != a {
		t.Fatalf("v6 VIP answered by %v, want a", mac)
	}
	capC, err := openCapture(c)
	if err != nil {
		t.Fatal(err)
	}
	defer capC.close()
	doT(t, a, func() error { return DelVIP(v) })
	doT(t, b, func() error { return AddVIP(v) })
	announceOnce(t, b, vip6.Addr())
	ctx, cancel := context.WithTimeout(t.Context(), probe)
	defer cancel()
	got, err := capC.next(ctx, func(f []byte) bool { return etherType(f) == 0x86dd && f[14+6] == 58 && f[14+40] == 136 })
	if err != nil {
		t.Fatal(err)
	}
	want, _ := UnsolicitedNA(b.MAC(), vip6.Addr(), false)
	if !bytes.Equal(got, want) {
		t.Fatalf("NA on the wire\n got %x\nwant %x", got, want)
	}
	if mac, err := c.Neighbor(vip6.Addr()); err != nil || l.HostByMAC(mac) != b {
		t.Fatalf("c's NDP entry after NA = %v, %v; want b", mac, err)
	}
}

func TestWatchLinks(t *testing.T) {
	_, a, _, _ := lab(t, false)
	ctx, cancel := context.WithCancel(t.Context())
	var ch <-chan LinkState
	doT(t, a, func() error {
		var err error
		ch, err = WatchLinks(ctx, "eth0", "nosuch0")
		return err
	})
	next := func() LinkState {
		t.Helper()
		select {
		case s := <-ch:
			return s
		case <-time.After(probe):
			t.Fatal("no link state")
		}
		return LinkState{}
	}
	if s := next(); s != (LinkState{Name: "eth0", Up: true}) {
		t.Fatalf("initial %+v", s)
	}
	if s := next(); s != (LinkState{Name: "nosuch0", Gone: true}) {
		t.Fatalf("initial %+v", s)
	}
	if err := a.LinkDown(); err != nil {
		t.Fatal(err)
	}
	if s := next(); s.Up {
		t.Fatalf("after link down %+v", s)
	}
	if err := a.LinkUp(); err != nil {
		t.Fatal(err)
	}
	if s := next(); !s.Up {
		t.Fatalf("after link up %+v", s)
	}
	cancel()
	for range ch { // closed after cancel
	}
}
