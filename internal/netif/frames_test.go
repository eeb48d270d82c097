package netif

import (
	"encoding/hex"
	"net"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv6"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The GARP frames keepalived 2.2.7 sent in the captures of
// reference/vrrp-keepalived.md §7.1, byte for byte.
func TestGratuitousARPMatchesKeepalivedCapture(t *testing.T) {
	tests := []struct {
		name, mac, vip, frame string
	}{
		{"VIP from node B", "02:00:c6:12:00:02", "198.18.0.100",
			"ffffffffffff 0200c6120002 0806 0001 0800 06 04 0001 0200c6120002 c6120064 ffffffffffff c6120064"},
		{"unicast-mode self GARP on BACKUP", "02:00:c6:12:00:01", "198.18.0.1",
			"ffffffffffff0200c6120001080600010800060400010200c6120001c6120001ffffffffffffc6120001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mac, _ := net.ParseMAC(tt.mac)
			got, err := GratuitousARP(mac, netip.MustParseAddr(tt.vip))
			if err != nil {
				t.Fatal(err)
			}
			if want := unhex(t, tt.frame); hex.EncodeToString(got) != hex.EncodeToString(want) {
				t.Fatalf("frame\n got %x\nwant %x", got, want)
			}
		})
	}
}

func TestFrameBuildersRejectBadInput(t *testing.T) {
	mac, _ := net.ParseMAC("02:00:c6:12:00:01")
	long, _ := net.ParseMAC("00:00:00:00:fe:80:00:00:00:00:00:00:00:00:00:00:00:00:00:00")
	v4, v6 := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("fe80::1")
	if _, err := GratuitousARP(mac, v6); err == nil {
		t.Error("GARP for IPv6 accepted")
	}
	if _, err := GratuitousARP(long, v4); err == nil {
		t.Error("GARP with 20-byte MAC accepted")
	}
	if _, err := GratuitousARP(mac, netip.Addr{}); err == nil {
		t.Error("GARP for zero address accepted")
	}
	if _, err := UnsolicitedNA(mac, v4, false); err == nil {
		t.Error("NA for IPv4 accepted")
	}
	if _, err := UnsolicitedNA(mac, netip.MustParseAddr("::ffff:198.18.0.1"), false); err == nil {
		t.Error("NA for v4-mapped accepted")
	}
	if _, err := UnsolicitedNA(nil, v6, false); err == nil {
		t.Error("NA without MAC accepted")
	}
}

// The NA layout follows keepalived's ndisc_send_unsolicited_na_immediate;
// an independent decoder (x/net/icmp) must read it as a valid NA, and the
// checksum must verify.
func TestUnsolicitedNA(t *testing.T) {
	mac, _ := net.ParseMAC("02:00:c6:12:00:01")
	vip := netip.MustParseAddr("fe80::100")
	for _, router := range []bool{false, true} {
		f, err := UnsolicitedNA(mac, vip, router)
		if err != nil {
			t.Fatal(err)
		}
		wantHdr := "333300000001 0200c6120001 86dd 6000000000203aff fe800000000000000000000000000100 ff020000000000000000000000000001"
		if got := hex.EncodeToString(f[:54]); got != hex.EncodeToString(unhex(t, wantHdr)) {
			t.Fatalf("router=%v header\n got %s\nwant %s", router, got, strings.ReplaceAll(wantHdr, " ", ""))
		}
		flags := byte(0x20)
		if router {
			flags = 0xa0
		}
		if f[54+4] != flags {
			t.Fatalf("router=%v flags %#x want %#x", router, f[58], flags)
		}
		m, err := icmp.ParseMessage(58, f[54:])
		if err != nil || m.Type != ipv6.ICMPTypeNeighborAdvertisement {
			t.Fatalf("parse: %v %v", m, err)
		}
		if got := hex.EncodeToString(f[54+24:]); got != "02010200c6120001" {
			t.Fatalf("target LL option %s", got)
		}
		src, dst := vip.As16(), netip.MustParseAddr("ff02::1").As16()
		if c := icmp6Checksum(src, dst, f[54:]); c != 0 {
			t.Fatalf("checksum does not verify: residue %#x", c)
		}
		if len(f) != 86 {
			t.Fatalf("len %d, want 86", len(f))
		}
	}
}
