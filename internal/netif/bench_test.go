package netif

import (
	"net"
	"net/netip"
	"testing"
)

func BenchmarkGratuitousARP(b *testing.B) {
	mac, _ := net.ParseMAC("02:00:c6:12:00:01")
	vip := netip.MustParseAddr("198.18.0.100")
	for b.Loop() {
		if _, err := GratuitousARP(mac, vip); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnsolicitedNA(b *testing.B) {
	mac, _ := net.ParseMAC("02:00:c6:12:00:01")
	vip := netip.MustParseAddr("fe80::100")
	for b.Loop() {
		if _, err := UnsolicitedNA(mac, vip, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMulticastRoundTrip measures one advert from a's Conn to b's
// Conn across the lab bridge (send + kernel + receive).
func BenchmarkMulticastRoundTrip(b *testing.B) {
	l := netlabFor(b)
	ha, hb := l[0], l[1]
	ca := listenB(b, ha, IPv4)
	cb := listenB(b, hb, IPv4)
	payload := make([]byte, 20)
	for b.Loop() {
		if err := ca.Send(payload, netip.Addr{}); err != nil {
			b.Fatal(err)
		}
		if _, err := cb.Recv(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzFrameBuilders(f *testing.F) {
	f.Add([]byte{2, 0, 0xc6, 0x12, 0, 1}, []byte{198, 18, 0, 100}, false)
	f.Add([]byte{2, 0, 0xc6, 0x12, 0, 1}, netip.MustParseAddr("fe80::100").AsSlice(), true)
	f.Add([]byte{}, []byte{}, false)
	f.Fuzz(func(t *testing.T, mac, ip []byte, router bool) {
		addr, _ := netip.AddrFromSlice(ip)
		g, gerr := GratuitousARP(mac, addr)
		n, nerr := UnsolicitedNA(mac, addr, router)
		if gerr == nil && len(g) != garpLen || nerr == nil && len(n) != naLen {
			t.Fatalf("bad lengths %d %d", len(g), len(n))
		}
		if (gerr == nil) != (len(mac) == 6 && addr.Is4()) {
			t.Fatalf("GARP mac=%x ip=%v err=%v", mac, addr, gerr)
		}
		if (nerr == nil) != (len(mac) == 6 && addr.Is6() && !addr.Is4In6()) {
			t.Fatalf("NA mac=%x ip=%v err=%v", mac, addr, nerr)
		}
		if nerr == nil {
			var src, dst [16]byte
			copy(src[:], n[22:38])
			copy(dst[:], n[38:54])
			if icmp6Checksum(src, dst, n[54:]) != 0 {
				t.Fatal("NA checksum does not verify")
			}
		}
	})
}

// BenchmarkClaimVIP measures what a new master does between its first
// advert and its first gratuitous ARP: add the VIP, send one frame.
func BenchmarkClaimVIP(b *testing.B) {
	h := netlabFor(b)[0]
	v := VIP{Prefix: netip.MustParsePrefix("198.18.0.100/24"), Dev: "eth0"}
	err := h.Do(func() error {
		s, err := OpenFrameSender("eth0")
		if err != nil {
			return err
		}
		defer s.Close()
		frames, err := AnnounceFrames("eth0", []netip.Addr{v.Prefix.Addr()})
		if err != nil {
			return err
		}
		for b.Loop() {
			if err := AddVIP(v); err != nil {
				return err
			}
			if err := s.Send(frames[0]); err != nil {
				return err
			}
			b.StopTimer()
			if err := DelVIP(v); err != nil {
				return err
			}
			b.StartTimer()
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}
