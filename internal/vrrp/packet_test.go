package vrrp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	nodeA = netip.MustParseAddr("198.18.0.1")
	nodeB = netip.MustParseAddr("198.18.0.2")
	vip0  = netip.MustParseAddr("198.18.0.100")
	vip1  = netip.MustParseAddr("198.18.0.101")
	vips  = []netip.Addr{vip0, vip1}
)

// capture is one IPv4 datagram captured from keepalived 2.2.7
// (reference/vrrp-keepalived.md §7.1), as a raw socket returns it.
type capture struct {
	name string
	ip   string
	want Packet
}

var secret12 = PassAuth("secret12")

var captures = []capture{
	{"v2 PASS unicast", "45c0002c00010000ff702e79c6120001c6120002" + "2133960201014d5cc6120064c61200657365637265743132",
		Packet{Version: 2, VRID: 51, Priority: 150, AuthType: AuthPass, Auth: secret12, AdvertInterval: time.Second, Addrs: vips}},
	{"v2 PASS multicast", "45c0002c00010000ff70147bc6120001e0000012" + "2133960201014d5cc6120064c61200657365637265743132",
		Packet{Version: 2, VRID: 51, Priority: 150, AuthType: AuthPass, Auth: secret12, AdvertInterval: time.Second, Addrs: vips}},
	{"v2 priority 0 multicast", "45c0002c00070000ff701475c6120001e0000012" + "213300020101e35cc6120064c61200657365637265743132",
		Packet{Version: 2, VRID: 51, Priority: 0, AuthType: AuthPass, Auth: secret12, AdvertInterval: time.Second, Addrs: vips}},
	// Only the VRRP bytes were recorded for the owner capture; the IP header
	// here is the unicast one of the first vector (the v2 checksum ignores it).
	{"v2 priority 255 unicast", "45c0002c00010000ff702e79c6120001c6120002" + "2133ff020101e45bc6120064c61200657365637265743132",
		Packet{Version: 2, VRID: 51, Priority: 255, AuthType: AuthPass, Auth: secret12, AdvertInterval: time.Second, Addrs: vips}},
	{"v3 multicast prio 150", "45c0002400010000ff701483c6120001e0000012" + "31339602006404d1c6120064c6120065",
		Packet{Version: 3, VRID: 51, Priority: 150, AdvertInterval: time.Second, Addrs: vips}},
	{"v3 multicast prio 100", "45c0002400010000ff701482c6120002e0000012" + "31336402006436d0c6120064c6120065",
		Packet{Version: 3, VRID: 51, Priority: 100, AdvertInterval: time.Second, Addrs: vips}},
	{"v3 multicast prio 0", "45c0002400070000ff70147dc6120001e0000012" + "3133000200649ad1c6120064c6120065",
		Packet{Version: 3, VRID: 51, Priority: 0, AdvertInterval: time.Second, Addrs: vips}},
	{"v3 unicast prio 150", "45c0002400010000ff702e81c6120001c6120002" + "3133960200641ecfc6120064c6120065",
		Packet{Version: 3, VRID: 51, Priority: 150, AdvertInterval: time.Second, Addrs: vips}},
	{"v3 unicast 50cs prio 100", "45c0002400010000ff702e81c6120002c6120001" + "3133640200325101c6120064c6120065",
		Packet{Version: 3, VRID: 51, Priority: 100, AdvertInterval: 500 * time.Millisecond, Addrs: vips}},
	{"v3 unicast 50cs prio 0", "45c0002400100000ff702e72c6120001c6120002" + "313300020032b501c6120064c6120065",
		Packet{Version: 3, VRID: 51, Priority: 0, AdvertInterval: 500 * time.Millisecond, Addrs: vips}},
}

// split returns the VRRP payload, source, destination and TTL of a captured
// IPv4 datagram.
func split(t testing.TB, ipHex string) (payload []byte, src, dst netip.Addr, ttl int) {
	t.Helper()
	ip, err := hex.DecodeString(ipHex)
	if err != nil {
		t.Fatal(err)
	}
	ihl := int(ip[0]&0x0f) * 4
	return ip[ihl:], netip.AddrFrom4([4]byte(ip[12:16])), netip.AddrFrom4([4]byte(ip[16:20])), int(ip[8])
}

func TestParseKeepalivedCaptures(t *testing.T) {
	for _, c := range captures {
		t.Run(c.name, func(t *testing.T) {
			b, src, dst, ttl := split(t, c.ip)
			p, err := Parse(b, src, dst)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !equalPacket(p, &c.want) {
				t.Fatalf("Parse = %+v, want %+v", *p, c.want)
			}
			exp := expectFor(p, dst)
			if err := exp.Check(p, src, dst, ttl); err != nil {
				t.Fatalf("Check: %v", err)
			}
			// Recomputing from scratch must give keepalived's bytes exactly.
			out, err := c.want.Marshal(src, dst)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if !bytes.Equal(out, b) {
				t.Fatalf("Marshal = %x, want %x", out, b)
			}
		})
	}
}

// expectFor is the Expect of a receiver configured like the sender of p.
func expectFor(p *Packet, dst netip.Addr) Expect {
	return Expect{VRID: p.VRID, Version: p.Version, AuthType: p.AuthType, Auth: p.Auth,
		AdvertInterval: p.AdvertInterval, Addrs: slices.Clone(p.Addrs), Unicast: !dst.IsMulticast()}
}

func equalPacket(a, b *Packet) bool {
	return a.Version == b.Version && a.VRID == b.VRID && a.Priority == b.Priority &&
		a.AuthType == b.AuthType && a.Auth == b.Auth && a.AdvertInterval == b.AdvertInterval &&
		slices.Equal(a.Addrs, b.Addrs) && a.Checksum == b.Checksum
}

// The v2 checksum has no pseudo-header, so unicast and multicast adverts carry
// identical VRRP bytes (reference §1.2: 0x4d5c in both captures).
func TestV2ChecksumIgnoresAddresses(t *testing.T) {
	uni, _, _, _ := split(t, captures[0].ip)
	multi, _, _, _ := split(t, captures[1].ip)
	if !bytes.Equal(uni, multi) {
		t.Fatalf("unicast %x != multicast %x", uni, multi)
	}
}

// VRRPv3 over IPv4 has three checksum forms in the field (reference §1.2).
// Parse accepts all three and reports which; Marshal writes the one asked for.
func TestV3IPv4ChecksumForms(t *testing.T) {
	msg := func(cs string) []byte {
		b, _ := hex.DecodeString("31339602" + "0064" + cs + "c6120064c6120065")
		return b
	}
	p := Packet{Version: 3, VRID: 51, Priority: 150, AdvertInterval: time.Second, Addrs: vips}
	tests := []struct {
		name string
		b    []byte
		dst  netip.Addr
		form ChecksumForm
	}{
		// keepalived 2.2.7: pseudo-header with the real destination.
		{"pseudo-header multicast", msg("04d1"), Group4, ChecksumPseudoHeader},
		{"pseudo-header unicast", msg("1ecf"), nodeB, ChecksumPseudoHeader},
		// RFC 9568 / Cisco / keepalived ≥ 2.2.8 v3_checksum_as_v2 (value from reference §1.2).
		{"message-only", msg("ab77"), Group4, ChecksumMessageOnly},
		{"message-only unicast", msg("ab77"), nodeB, ChecksumMessageOnly},
		// keepalived ≤ 1.3.6 unicast: pseudo-header with 224.0.0.18.
		{"old unicast", msg("04d1"), nodeB, ChecksumOldUnicast},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.b, nodeA, tt.dst)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got.Checksum != tt.form {
				t.Fatalf("form = %v, want %v", got.Checksum, tt.form)
			}
			q := p
			q.Checksum = tt.form
			out, err := q.Marshal(nodeA, tt.dst)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, tt.b) {
				t.Fatalf("Marshal = %x, want %x", out, tt.b)
			}
		})
	}
	// The old form is only plausible for unicast: on multicast it is the
	// normal form, and a wrong checksum must still fail.
	if _, err := Parse(msg("04d2"), nodeA, Group4); reasonOf(err) != ReasonBadChecksum {
		t.Fatalf("corrupt checksum: %v", err)
	}
}

// IPv6 uses the RFC 8200 pseudo-header (the kernel computes it for keepalived
// with IPV6_CHECKSUM). The expected sum is computed here independently, word
// by word, from the pseudo-header as the RFC draws it.
func TestV3IPv6(t *testing.T) {
	src := netip.MustParseAddr("fe80::c6:12ff:fe00:1%eth0")
	v6vips := []netip.Addr{netip.MustParseAddr("fe80::64"), netip.MustParseAddr("2001:2::64")}
	p := Packet{Version: 3, VRID: 7, Priority: 200, AdvertInterval: 10 * time.Millisecond, Addrs: v6vips}
	b, err := p.Marshal(src, Group6)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 8+2*16 {
		t.Fatalf("len = %d", len(b))
	}
	var ph []byte
	s, d := src.As16(), Group6.As16()
	ph = append(ph, s[:]...)
	ph = append(ph, d[:]...)
	ph = append(ph, 0, 0, 0, byte(len(b)), 0, 0, 0, 112)
	var total uint32
	all := append(ph, b...)
	for i := 0; i < len(all); i += 2 {
		total += uint32(all[i])<<8 | uint32(all[i+1])
	}
	for total > 0xffff {
		total = total>>16 + total&0xffff
	}
	if total != 0xffff {
		t.Fatalf("checksum does not verify: folded sum %#x", total)
	}
	got, err := Parse(b, src, Group6)
	if err != nil {
		t.Fatal(err)
	}
	if !equalPacket(got, &p) {
		t.Fatalf("round trip = %+v, want %+v", *got, p)
	}
	exp := expectFor(&p, Group6)
	exp.Addrs = []netip.Addr{v6vips[1], v6vips[0]} // order does not matter
	if err := exp.Check(got, src, Group6, 255); err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(b, netip.MustParseAddr("fe80::2"), Group6); reasonOf(err) != ReasonBadChecksum {
		t.Fatalf("other source must fail the pseudo-header checksum, got %v", err)
	}
}

func reasonOf(err error) Reason {
	var re *RejectError
	if errors.As(err, &re) {
		return re.Reason
	}
	return ""
}

// fix recomputes the checksum of a VRRP payload after a test edited it, so
// that the intended check (not the checksum) rejects it.
func fix(b []byte, src, dst netip.Addr) []byte {
	b[6], b[7] = 0, 0
	var cs uint16
	if b[0]>>4 == 3 {
		cs = checksum(pseudo4(src, dst, len(b)), b)
	} else {
		cs = checksum(0, b)
	}
	b[6], b[7] = byte(cs>>8), byte(cs)
	return b
}

func TestParseRejects(t *testing.T) {
	v2, _, _, _ := split(t, captures[1].ip) // v2 PASS multicast
	v3, _, _, _ := split(t, captures[4].ip) // v3 multicast
	edit := func(b []byte, f func([]byte) []byte) []byte { return fix(f(slices.Clone(b)), nodeA, Group4) }
	tests := []struct {
		name     string
		b        []byte
		src, dst netip.Addr
		want     Reason
		detail   string
	}{
		{"empty", nil, nodeA, Group4, ReasonTruncated, "shorter"},
		{"7 bytes", v2[:7], nodeA, Group4, ReasonTruncated, "shorter"},
		{"version 1", edit(v2, func(b []byte) []byte { b[0] = 0x11; return b }), nodeA, Group4, ReasonBadVersion, "version 1"},
		{"version 4", edit(v3, func(b []byte) []byte { b[0] = 0x41; return b }), nodeA, Group4, ReasonBadVersion, "version 4"},
		{"v2 over IPv6", v2, netip.MustParseAddr("fe80::1"), Group6, ReasonBadVersion, "IPv6"},
		{"mixed families", v3, nodeA, Group6, ReasonBadAddress, "family"},
		{"no source", v3, netip.Addr{}, Group4, ReasonBadAddress, "family"},
		{"v2 trailer missing", v2[:len(v2)-8], nodeA, Group4, ReasonBadLength, "length 16 and expect 24"},
		{"v2 one byte long", append(slices.Clone(v2), 0), nodeA, Group4, ReasonBadLength, "length 25 and expect 24"},
		{"v3 count too high", edit(v3, func(b []byte) []byte { b[3] = 3; return b }), nodeA, Group4, ReasonBadLength, "expect 20"},
		{"v3 with v2 trailer", append(slices.Clone(v3), make([]byte, 8)...), nodeA, Group4, ReasonBadLength, "expect 16"},
		{"v2 bad checksum", func() []byte { b := slices.Clone(v2); b[7]++; return b }(), nodeA, Group4, ReasonBadChecksum, "VRRPv2"},
		{"v2 password bit flip", func() []byte { b := slices.Clone(v2); b[20] ^= 1; return b }(), nodeA, Group4, ReasonBadChecksum, "VRRPv2"},
		{"v3 bad checksum", func() []byte { b := slices.Clone(v3); b[2]--; return b }(), nodeA, Group4, ReasonBadChecksum, "VRRPv3"},
		{"v3 other destination", v3, nodeA, netip.MustParseAddr("224.0.0.19"), ReasonBadChecksum, "VRRPv3"},
		{"type 2", edit(v3, func(b []byte) []byte { b[0] = 0x32; return b }), nodeA, Group4, ReasonBadType, "type 2"},
		{"VRID 0", edit(v3, func(b []byte) []byte { b[1] = 0; return b }), nodeA, Group4, ReasonBadVRID, "VRID 0"},
		{"auth AH", edit(v2, func(b []byte) []byte { b[4] = AuthAH; return b }), nodeA, Group4, ReasonAuthAHUnsupported, "authentication type AH not supported"},
		{"auth type 3", edit(v2, func(b []byte) []byte { b[4] = 3; return b }), nodeA, Group4, ReasonBadAuthType, "invalid auth type 3"},
		{"v3 interval 0", edit(v3, func(b []byte) []byte { b[4], b[5] = 0xf0, 0; return b }), nodeA, Group4, ReasonBadInterval, "interval 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.b, tt.src, tt.dst)
			if p != nil {
				t.Fatalf("Parse returned a packet: %+v", *p)
			}
			if got := reasonOf(err); got != tt.want {
				t.Fatalf("reason = %q (%v), want %q", got, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.detail) {
				t.Fatalf("error %q does not mention %q", err, tt.detail)
			}
		})
	}
}

// The v3 interval's top 4 bits are reserved: ignored on receive, zero on send
// (RFC 5798 §5.2.5).
func TestV3ReservedBitsIgnored(t *testing.T) {
	v3, src, dst, _ := split(t, captures[4].ip)
	b := slices.Clone(v3)
	b[4] |= 0xa0
	fix(b, src, dst)
	p, err := Parse(b, src, dst)
	if err != nil {
		t.Fatal(err)
	}
	if p.AdvertInterval != time.Second {
		t.Fatalf("interval = %v", p.AdvertInterval)
	}
	out, _ := p.Marshal(src, dst)
	if !bytes.Equal(out, v3) {
		t.Fatalf("Marshal = %x, want reserved bits cleared %x", out, v3)
	}
}

func TestCheckRejects(t *testing.T) {
	v2 := captures[1].want // v2 PASS multicast
	v3 := captures[4].want
	base2 := expectFor(&v2, Group4)
	base3 := expectFor(&v3, Group4)
	tests := []struct {
		name     string
		p        Packet
		exp      func(e *Expect)
		dst, src netip.Addr
		ttl      int
		want     Reason
		detail   string
	}{
		{"ok v2", v2, nil, Group4, nodeA, 255, "", ""},
		{"ok v3", v3, nil, Group4, nodeA, 255, "", ""},
		{"other VRID", v2, func(e *Expect) { e.VRID = 52 }, Group4, nodeA, 255, ReasonVRIDMismatch, "VRID 51 is not ours (52)"},
		{"multicast TTL 254", v2, nil, Group4, nodeA, 254, ReasonBadTTL, "Received 254 and expect 255"},
		// keepalived skips the TTL check for unicast (vrrp.c:848).
		{"unicast TTL 64 accepted", v2, func(e *Expect) { e.Unicast = true }, nodeB, nodeA, 64, "", ""},
		{"v3 packet, v2 instance", v3, func(e *Expect) { *e = base2 }, Group4, nodeA, 255, ReasonVersionMismatch, "Received 3 and expect 2"},
		{"auth type differs", v2, func(e *Expect) { e.AuthType = AuthNone; e.Auth = [8]byte{} }, Group4, nodeA, 255, ReasonAuthMismatch, "received a 1 auth, expecting 0"},
		{"password differs", v2, func(e *Expect) { e.Auth = PassAuth("secret13") }, Group4, nodeA, 255, ReasonAuthMismatch, "invalid passwd"},
		// Only the first 8 characters count, as keepalived truncates auth_pass.
		{"password truncated", v2, func(e *Expect) { e.Auth = PassAuth("secret12-and-more") }, Group4, nodeA, 255, "", ""},
		{"v2 interval differs", v2, func(e *Expect) { e.AdvertInterval = 2 * time.Second }, Group4, nodeA, 255, ReasonIntervalMismatch, "mine=2s rcv'd=1s"},
		// A v3 backup follows the master's interval instead.
		{"v3 interval differs", v3, func(e *Expect) { e.AdvertInterval = 500 * time.Millisecond }, Group4, nodeA, 255, "", ""},
		// v3 carries no authentication; keepalived ignores the setting.
		{"v3 ignores auth", v3, func(e *Expect) { e.AuthType = AuthPass; e.Auth = secret12 }, Group4, nodeA, 255, "", ""},
		{"fewer VIPs locally", v2, func(e *Expect) { e.Addrs = vips[:1] }, Group4, nodeA, 255, ReasonAddrMismatch, "count 2, expected 1"},
		{"other VIP", v2, func(e *Expect) { e.Addrs = []netip.Addr{vip0, netip.MustParseAddr("198.18.0.102")} }, Group4, nodeA, 255, ReasonAddrMismatch, "not present in MASTER advert: 198.18.0.102"},
		{"VIP order free", v2, func(e *Expect) { e.Addrs = []netip.Addr{vip1, vip0} }, Group4, nodeA, 255, "", ""},
		{"unicast to multicast instance", v2, nil, nodeB, nodeA, 255, ReasonCastMismatch, "expected multicast"},
		{"multicast to unicast instance", v2, func(e *Expect) { e.Unicast = true }, Group4, nodeA, 255, ReasonCastMismatch, "expected unicast"},
		{"unicast peer listed", v2, func(e *Expect) { e.Unicast = true; e.Peers = []netip.Addr{nodeA} }, nodeB, nodeA, 255, "", ""},
		{"unicast stranger", v2, func(e *Expect) { e.Unicast = true; e.Peers = []netip.Addr{nodeB} }, nodeB, nodeA, 255, ReasonUnknownPeer, "198.18.0.1 not a unicast peer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := base2
			if tt.p.Version == 3 {
				e = base3
			}
			e.Addrs = slices.Clone(e.Addrs)
			if tt.exp != nil {
				tt.exp(&e)
			}
			err := e.Check(&tt.p, tt.src, tt.dst, tt.ttl)
			if got := reasonOf(err); got != tt.want || (err != nil) != (tt.want != "") {
				t.Fatalf("Check = %v, want reason %q", err, tt.want)
			}
			if err != nil && !strings.Contains(err.Error(), tt.detail) {
				t.Fatalf("error %q does not mention %q", err, tt.detail)
			}
		})
	}
}

func TestReasonsComplete(t *testing.T) {
	seen := map[Reason]bool{}
	for _, r := range Reasons() {
		if seen[r] || r == "" || strings.ToLower(string(r)) != string(r) {
			t.Fatalf("bad or duplicate reason %q", r)
		}
		seen[r] = true
	}
	if len(seen) != 18 {
		t.Fatalf("%d reasons", len(seen))
	}
}

func TestMarshalErrors(t *testing.T) {
	ok := Packet{Version: 2, VRID: 1, Priority: 100, AdvertInterval: time.Second, Addrs: vips}
	tests := []struct {
		name     string
		edit     func(p *Packet)
		src, dst netip.Addr
		want     string
	}{
		{"AH", func(p *Packet) { p.AuthType = AuthAH }, nodeA, Group4, "authentication type AH not supported"},
		{"auth type 9", func(p *Packet) { p.AuthType = 9 }, nodeA, Group4, "invalid auth type 9"},
		{"v2 half second", func(p *Packet) { p.AdvertInterval = 500 * time.Millisecond }, nodeA, Group4, "whole seconds"},
		{"v2 256 s", func(p *Packet) { p.AdvertInterval = 256 * time.Second }, nodeA, Group4, "whole seconds"},
		{"v2 over IPv6", func(p *Packet) { p.Addrs = nil }, netip.MustParseAddr("fe80::1"), Group6, "IPv4 only"},
		{"v3 5 ms", func(p *Packet) { p.Version = 3; p.AdvertInterval = 5 * time.Millisecond }, nodeA, Group4, "10ms steps"},
		{"v3 41 s", func(p *Packet) { p.Version = 3; p.AdvertInterval = 41 * time.Second }, nodeA, Group4, "10ms steps"},
		{"version 4", func(p *Packet) { p.Version = 4 }, nodeA, Group4, "version 4"},
		{"VRID 0", func(p *Packet) { p.VRID = 0 }, nodeA, Group4, "VRID 0"},
		{"IPv6 VIP on IPv4", func(p *Packet) { p.Addrs = []netip.Addr{netip.MustParseAddr("2001:2::1")} }, nodeA, Group4, "family"},
		{"IPv4 VIP on IPv6", func(p *Packet) { p.Version = 3 }, netip.MustParseAddr("fe80::1"), Group6, "family"},
		{"mixed src/dst", nil, nodeA, Group6, "family"},
		{"256 VIPs", func(p *Packet) { p.Addrs = make([]netip.Addr, 256) }, nodeA, Group4, "at most 255"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ok
			if tt.edit != nil {
				tt.edit(&p)
			}
			b, err := p.Marshal(tt.src, tt.dst)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Marshal = %x, %v; want error containing %q", b, err, tt.want)
			}
		})
	}
	p := ok
	p.AuthType = AuthAH
	if _, err := p.Marshal(nodeA, Group4); !errors.Is(err, ErrAuthAHUnsupported) {
		t.Fatalf("AH error %v is not ErrAuthAHUnsupported", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, c := range captures {
		ip, _ := hex.DecodeString(c.ip)
		f.Add(ip[20:], ip[12:16], ip[16:20])
	}
	v6, _ := (&Packet{Version: 3, VRID: 1, Priority: 1, AdvertInterval: time.Second,
		Addrs: []netip.Addr{netip.MustParseAddr("fe80::1")}}).Marshal(netip.MustParseAddr("fe80::2"), Group6)
	g6 := Group6.As16()
	f.Add(v6, netip.MustParseAddr("fe80::2").AsSlice(), g6[:])
	f.Fuzz(func(t *testing.T, b, srcb, dstb []byte) {
		src, _ := netip.AddrFromSlice(srcb)
		dst, _ := netip.AddrFromSlice(dstb)
		p, err := Parse(b, src, dst)
		if err != nil {
			if p != nil || reasonOf(err) == "" {
				t.Fatalf("Parse = %v, %v: want nil packet and a RejectError", p, err)
			}
			return
		}
		exp := expectFor(p, dst)
		_ = exp.Check(p, src, dst, 255)
		out, err := p.Marshal(src, dst)
		if err != nil {
			t.Fatalf("Marshal of accepted packet %+v: %v", *p, err)
		}
		q, err := Parse(out, src, dst)
		if err != nil {
			t.Fatalf("re-Parse of %x: %v", out, err)
		}
		if !equalPacket(p, q) {
			t.Fatalf("unstable: %+v then %+v", *p, *q)
		}
		if len(out) != len(b) {
			t.Fatalf("length changed %d -> %d", len(b), len(out))
		}
	})
}
