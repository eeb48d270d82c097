package vrrp

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// Protocol constants shared with the I/O shell.
const (
	// IPProtocol is the IP protocol number of VRRP.
	IPProtocol = 112
	// TTL is the only TTL / hop limit a multicast advertisement may carry.
	TTL = 255

	// AuthNone, AuthPass and AuthAH are the VRRPv2 Auth Type values.
	AuthNone uint8 = 0
	AuthPass uint8 = 1
	AuthAH   uint8 = 2

	typeAdvertisement = 1
	headerLen         = 8
	authLen           = 8
	maxAddrs          = 255
)

// The RFC multicast groups (224.0.0.18, ff02::12).
var (
	Group4 = netip.AddrFrom4([4]byte{224, 0, 0, 18})
	Group6 = netip.AddrFrom16([16]byte{0: 0xff, 1: 0x02, 15: 0x12})
)

// ErrAuthAHUnsupported is returned for VRRPv2 IPsec-AH authentication, which
// keepalived still offers but this implementation deliberately does not.
var ErrAuthAHUnsupported = errors.New("authentication type AH not supported")

// ChecksumForm says how a VRRPv3 IPv4 checksum is computed. VRRPv2 is always
// message-only and VRRPv3 over IPv6 always uses the RFC 8200 pseudo-header;
// for those the form is ChecksumPseudoHeader and ignored by Marshal.
type ChecksumForm uint8

const (
	// ChecksumPseudoHeader covers an IPv4 pseudo-header with the real
	// destination, as keepalived 2.2.7 sends it (the default).
	ChecksumPseudoHeader ChecksumForm = iota
	// ChecksumMessageOnly covers the VRRP message alone: RFC 9568, Cisco,
	// Juniper, keepalived ≥ 2.2.8 with v3_checksum_as_v2.
	ChecksumMessageOnly
	// ChecksumOldUnicast is the pseudo-header with 224.0.0.18 as destination
	// on a unicast packet (keepalived ≤ 1.3.6, old_unicast_checksum).
	ChecksumOldUnicast
)

func (f ChecksumForm) String() string {
	switch f {
	case ChecksumPseudoHeader:
		return "pseudo-header"
	case ChecksumMessageOnly:
		return "message-only"
	case ChecksumOldUnicast:
		return "old-unicast"
	}
	return fmt.Sprintf("ChecksumForm(%d)", uint8(f))
}

// Packet is one VRRP advertisement (the only VRRP message type).
type Packet struct {
	Version  int // 2 or 3
	VRID     uint8
	Priority uint8 // 0 = master resigning, 255 = address owner
	// AuthType and Auth are VRRPv2 only: the Auth Type byte and the 8-byte
	// trailer after the addresses (the password for AuthPass).
	AuthType uint8
	Auth     [8]byte
	// AdvertInterval is whole seconds on the wire for v2, centiseconds for v3.
	AdvertInterval time.Duration
	Addrs          []netip.Addr
	// Checksum is the VRRPv3 IPv4 checksum form: what Parse found, what
	// Marshal writes.
	Checksum ChecksumForm
}

// PassAuth returns the 8-byte VRRPv2 trailer for an auth_pass password the way
// keepalived builds it: truncated to 8 bytes, NUL padded.
func PassAuth(password string) [8]byte {
	var a [8]byte
	copy(a[:], password)
	return a
}

// Marshal encodes the VRRP payload (no IP header) with the checksum filled in.
// src and dst are the IP source and destination the packet will carry; they
// pick the address family and feed the pseudo-header.
func (p *Packet) Marshal(src, dst netip.Addr) ([]byte, error) {
	src, dst = src.Unmap(), dst.Unmap()
	if !src.IsValid() || !dst.IsValid() || src.Is4() != dst.Is4() {
		return nil, fmt.Errorf("vrrp: source %v and destination %v are not one address family", src, dst)
	}
	if p.VRID == 0 {
		return nil, errors.New("vrrp: VRID 0 is invalid")
	}
	if len(p.Addrs) > maxAddrs {
		return nil, fmt.Errorf("vrrp: %d addresses, at most %d fit in an advertisement", len(p.Addrs), maxAddrs)
	}
	for _, a := range p.Addrs {
		if src.Is4() && !a.Unmap().Is4() || src.Is6() && !a.Is6() {
			return nil, fmt.Errorf("vrrp: address %v is not of the family of source %v", a, src)
		}
	}

	alen := addrLen(src)
	n := headerLen + len(p.Addrs)*alen
	if p.Version == 2 {
		n += authLen
	}
	b := make([]byte, n)
	b[1], b[2], b[3] = p.VRID, p.Priority, byte(len(p.Addrs))

	switch p.Version {
	case 2:
		if !src.Is4() {
			return nil, errors.New("vrrp: VRRPv2 is IPv4 only")
		}
		switch p.AuthType {
		case AuthNone, AuthPass:
		case AuthAH:
			return nil, fmt.Errorf("vrrp: %w", ErrAuthAHUnsupported)
		default:
			return nil, fmt.Errorf("vrrp: invalid auth type %d", p.AuthType)
		}
		secs := p.AdvertInterval / time.Second
		if p.AdvertInterval%time.Second != 0 || secs < 1 || secs > 255 {
			return nil, fmt.Errorf("vrrp: VRRPv2 advertisement interval %v is not 1..255 whole seconds", p.AdvertInterval)
		}
		b[0] = 2<<4 | typeAdvertisement
		b[4], b[5] = p.AuthType, byte(secs)
		copy(b[n-authLen:], p.Auth[:])
	case 3:
		cs := p.AdvertInterval / centisecond
		if p.AdvertInterval%centisecond != 0 || cs < 1 || cs > 0x0fff {
			return nil, fmt.Errorf("vrrp: VRRPv3 advertisement interval %v is not 10ms..40.95s in 10ms steps", p.AdvertInterval)
		}
		b[0] = 3<<4 | typeAdvertisement
		b[4], b[5] = byte(cs>>8), byte(cs)
	default:
		return nil, fmt.Errorf("vrrp: version %d is not 2 or 3", p.Version)
	}

	off := headerLen
	for _, a := range p.Addrs {
		if alen == 4 {
			v := a.Unmap().As4()
			off += copy(b[off:], v[:])
		} else {
			v := a.As16()
			off += copy(b[off:], v[:])
		}
	}

	var cs uint16
	switch {
	case p.Version == 2:
		cs = checksum(0, b)
	case src.Is6():
		cs = checksum(pseudo6(src, dst, len(b)), b)
	case p.Checksum == ChecksumMessageOnly:
		cs = checksum(0, b)
	case p.Checksum == ChecksumOldUnicast:
		cs = checksum(pseudo4(src, Group4, len(b)), b)
	default:
		cs = checksum(pseudo4(src, dst, len(b)), b)
	}
	b[6], b[7] = byte(cs>>8), byte(cs)
	return b, nil
}

// Parse decodes and checks the well-formedness of a VRRP payload received
// from src for dst (the IP header's addresses). It checks what a packet must
// satisfy whoever receives it: version, exact length, checksum, type, VRID, auth
// type, interval. Whether the packet suits the local instance is Expect.Check.
// Every error is a *RejectError.
func Parse(b []byte, src, dst netip.Addr) (*Packet, error) {
	src, dst = src.Unmap(), dst.Unmap()
	if len(b) < headerLen {
		return nil, reject(ReasonTruncated, "packet of %d bytes is shorter than the %d-byte VRRP header", len(b), headerLen)
	}
	version := int(b[0] >> 4)
	if version != 2 && version != 3 {
		return nil, reject(ReasonBadVersion, "version %d is not 2 or 3", version)
	}
	if !src.IsValid() || !dst.IsValid() || src.Is4() != dst.Is4() {
		return nil, reject(ReasonBadAddress, "source %v and destination %v are not one address family", src, dst)
	}
	if version == 2 && !src.Is4() {
		return nil, reject(ReasonBadVersion, "VRRPv2 received over IPv6")
	}

	alen := addrLen(src)
	want := headerLen + int(b[3])*alen
	if version == 2 {
		want += authLen
	}
	if len(b) != want {
		return nil, reject(ReasonBadLength, "vrrp packet length %d and expect %d for %d addresses", len(b), want, b[3])
	}

	p := &Packet{Version: version, VRID: b[1], Priority: b[2]}
	switch {
	case version == 2:
		if checksum(0, b) != 0 {
			return nil, reject(ReasonBadChecksum, "invalid VRRPv2 checksum")
		}
	case src.Is6():
		if checksum(pseudo6(src, dst, len(b)), b) != 0 {
			return nil, reject(ReasonBadChecksum, "invalid VRRPv3 checksum")
		}
	case checksum(pseudo4(src, dst, len(b)), b) == 0:
		p.Checksum = ChecksumPseudoHeader
	case checksum(0, b) == 0:
		p.Checksum = ChecksumMessageOnly
	case !dst.IsMulticast() && checksum(pseudo4(src, Group4, len(b)), b) == 0:
		p.Checksum = ChecksumOldUnicast
	default:
		return nil, reject(ReasonBadChecksum, "invalid VRRPv3 checksum")
	}

	if t := b[0] & 0x0f; t != typeAdvertisement {
		return nil, reject(ReasonBadType, "invalid packet type %d", t)
	}
	if p.VRID == 0 {
		return nil, reject(ReasonBadVRID, "VRID 0 is invalid")
	}
	if version == 2 {
		switch p.AuthType = b[4]; p.AuthType {
		case AuthNone, AuthPass:
		case AuthAH:
			return nil, reject(ReasonAuthAHUnsupported, "%v", ErrAuthAHUnsupported)
		default:
			return nil, reject(ReasonBadAuthType, "invalid auth type %d", p.AuthType)
		}
		p.AdvertInterval = time.Duration(b[5]) * time.Second
		copy(p.Auth[:], b[len(b)-authLen:])
	} else {
		// The top 4 bits are reserved: ignored on receive (RFC 5798 §5.2.5).
		cs := int(b[4]&0x0f)<<8 | int(b[5])
		if cs == 0 {
			return nil, reject(ReasonBadInterval, "advertisement interval 0 (RFC 9568 requires at least 1 centisecond)")
		}
		p.AdvertInterval = time.Duration(cs) * centisecond
	}

	p.Addrs = make([]netip.Addr, b[3])
	for i := range p.Addrs {
		a := b[headerLen+i*alen : headerLen+(i+1)*alen]
		if alen == 4 {
			p.Addrs[i] = netip.AddrFrom4([4]byte(a))
		} else {
			p.Addrs[i] = netip.AddrFrom16([16]byte(a))
		}
	}
	return p, nil
}

// Expect is what the local instance requires of a received advertisement,
// mirroring keepalived's receive checks (vrrp_check_packet).
type Expect struct {
	VRID    uint8
	Version int
	// AuthType and Auth (see PassAuth) are compared for VRRPv2 only;
	// keepalived ignores authentication for v3.
	AuthType uint8
	Auth     [8]byte
	// AdvertInterval must match exactly for VRRPv2; a v3 backup instead
	// follows the master's interval.
	AdvertInterval time.Duration
	// Addrs are the virtual addresses: count and set must match (order-free).
	Addrs []netip.Addr
	// Unicast says adverts arrive unicast; otherwise they must arrive on the
	// multicast group. Multicast adverts must carry TTL 255; unicast ones are
	// not TTL-checked (keepalived 2.2.7 default).
	Unicast bool
	// Peers, when set, lists the only accepted unicast sources
	// (keepalived check_unicast_src).
	Peers []netip.Addr
}

// Check reports whether p, parsed from a packet from src to dst received with
// the given TTL (IPv4) or hop limit (IPv6), is acceptable to the local
// instance. A nil error means: hand it to Machine.Receive. Every error is a
// *RejectError; ReasonVRIDMismatch means "another virtual router", not an
// error of the sender.
func (e *Expect) Check(p *Packet, src, dst netip.Addr, ttl int) error {
	src, dst = src.Unmap(), dst.Unmap()
	if p.VRID != e.VRID {
		return reject(ReasonVRIDMismatch, "VRID %d is not ours (%d)", p.VRID, e.VRID)
	}
	multicast := dst.IsMulticast()
	if multicast && ttl != TTL {
		return reject(ReasonBadTTL, "invalid TTL/HL. Received %d and expect %d", ttl, TTL)
	}
	if p.Version != e.Version {
		return reject(ReasonVersionMismatch, "wrong version. Received %d and expect %d", p.Version, e.Version)
	}
	if p.Version == 2 {
		if p.AuthType != e.AuthType {
			return reject(ReasonAuthMismatch, "received a %d auth, expecting %d", p.AuthType, e.AuthType)
		}
		if p.AuthType == AuthPass && subtle.ConstantTimeCompare(p.Auth[:], e.Auth[:]) != 1 {
			return reject(ReasonAuthMismatch, "received an invalid passwd")
		}
		if p.AdvertInterval != e.AdvertInterval {
			return reject(ReasonIntervalMismatch, "advertisement interval mismatch mine=%v rcv'd=%v", e.AdvertInterval, p.AdvertInterval)
		}
	}
	if len(p.Addrs) != len(e.Addrs) {
		return reject(ReasonAddrMismatch, "received an unexpected ip number count %d, expected %d", len(p.Addrs), len(e.Addrs))
	}
	for _, a := range e.Addrs {
		if !slices.ContainsFunc(p.Addrs, func(x netip.Addr) bool { return sameAddr(x, a) }) {
			return reject(ReasonAddrMismatch, "ip address associated with VRID %d not present in MASTER advert: %v", e.VRID, a)
		}
	}
	if e.Unicast && multicast {
		return reject(ReasonCastMismatch, "expected unicast packet but received multicast packet")
	}
	if !e.Unicast && !multicast {
		return reject(ReasonCastMismatch, "expected multicast packet but received unicast packet")
	}
	if e.Unicast && len(e.Peers) > 0 && !slices.ContainsFunc(e.Peers, func(a netip.Addr) bool { return sameAddr(a, src) }) {
		return reject(ReasonUnknownPeer, "unicast source address %v not a unicast peer", src)
	}
	return nil
}

// Reason names why a received packet was rejected; the values are stable and
// meant as metric labels.
type Reason string

const (
	ReasonTruncated         Reason = "truncated"           // shorter than the VRRP header
	ReasonBadVersion        Reason = "bad_version"         // not 2 or 3 (or v2 over IPv6)
	ReasonBadAddress        Reason = "bad_address"         // IP source/destination unusable
	ReasonBadLength         Reason = "bad_length"          // length ≠ header + addresses (+ v2 auth)
	ReasonBadChecksum       Reason = "bad_checksum"        // no accepted checksum form matches
	ReasonBadType           Reason = "bad_type"            // not an advertisement
	ReasonBadVRID           Reason = "bad_vrid"            // VRID 0
	ReasonBadAuthType       Reason = "bad_auth_type"       // v2 auth type not 0, 1 or 2
	ReasonAuthAHUnsupported Reason = "auth_ah_unsupported" // v2 auth type 2 (IPsec-AH)
	ReasonBadInterval       Reason = "bad_interval"        // v3 interval 0
	ReasonVRIDMismatch      Reason = "vrid_mismatch"       // another virtual router: ignore
	ReasonBadTTL            Reason = "bad_ttl"             // multicast TTL/hop limit ≠ 255
	ReasonVersionMismatch   Reason = "version_mismatch"    // v2 vs v3
	ReasonAuthMismatch      Reason = "auth_mismatch"       // v2 auth type or password differs
	ReasonIntervalMismatch  Reason = "interval_mismatch"   // v2 interval differs
	ReasonAddrMismatch      Reason = "addr_mismatch"       // address count or set differs
	ReasonCastMismatch      Reason = "cast_mismatch"       // unicast vs multicast
	ReasonUnknownPeer       Reason = "unknown_peer"        // unicast source not a configured peer
)

// Reasons lists every Reason, so that counters can be created up front.
func Reasons() []Reason {
	return []Reason{
		ReasonTruncated, ReasonBadVersion, ReasonBadAddress, ReasonBadLength,
		ReasonBadChecksum, ReasonBadType, ReasonBadVRID, ReasonBadAuthType, ReasonAuthAHUnsupported,
		ReasonBadInterval, ReasonVRIDMismatch, ReasonBadTTL, ReasonVersionMismatch,
		ReasonAuthMismatch, ReasonIntervalMismatch, ReasonAddrMismatch,
		ReasonCastMismatch, ReasonUnknownPeer,
	}
}

// RejectError is the error of Parse and Expect.Check. Detail follows
// keepalived's log wording where keepalived has one, for operators who grep.
type RejectError struct {
	Reason Reason
	Detail string
}

func (e *RejectError) Error() string { return "vrrp: " + string(e.Reason) + ": " + e.Detail }

func reject(r Reason, format string, args ...any) *RejectError {
	return &RejectError{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

const centisecond = 10 * time.Millisecond

// sameAddr compares addresses ignoring IPv4 mapping and IPv6 zones: sockets
// report link-local sources with a zone, packets and configs carry none.
func sameAddr(a, b netip.Addr) bool {
	return a.Unmap().WithZone("") == b.Unmap().WithZone("")
}

func addrLen(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 16
}

// pseudo4 sums keepalived's VRRPv3 IPv4 pseudo-header: src, dst, 0, 112, length.
func pseudo4(src, dst netip.Addr, n int) uint64 {
	s, d := src.As4(), dst.As4()
	return sum(sum(0, s[:]), d[:]) + IPProtocol + uint64(n)
}

// pseudo6 sums the RFC 8200 upper-layer pseudo-header, next header 112.
func pseudo6(src, dst netip.Addr, n int) uint64 {
	s, d := src.As16(), dst.As16()
	return sum(sum(0, s[:]), d[:]) + IPProtocol + uint64(n)
}

// sum adds b as big-endian 16-bit words (odd tail padded with zero) to acc.
func sum(acc uint64, b []byte) uint64 {
	for len(b) >= 2 {
		acc += uint64(b[0])<<8 | uint64(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint64(b[0]) << 8
	}
	return acc
}

// checksum returns the RFC 1071 checksum of b plus the partial sum acc. Over
// a message whose checksum field is filled in correctly it returns 0.
func checksum(acc uint64, b []byte) uint16 {
	acc = sum(acc, b)
	for acc>>16 != 0 {
		acc = acc&0xffff + acc>>16
	}
	return ^uint16(acc)
}
