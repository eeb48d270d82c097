package netif

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
)

// Frame sizes as keepalived sends them (before NIC padding to 60 bytes).
const (
	garpLen = 14 + 28          // Ethernet + ARP
	naLen   = 14 + 40 + 24 + 8 // Ethernet + IPv6 + NA + target link-layer option
)

var broadcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// GratuitousARP builds keepalived's gratuitous ARP frame for vip
// (send_gratuitous_arp_immediate, vrrp_arp.c): Ethernet broadcast from mac,
// ARP request (op 1), sender = target = vip, target hardware address
// ff:ff:ff:ff:ff:ff. 42 bytes.
func GratuitousARP(mac net.HardwareAddr, vip netip.Addr) ([]byte, error) {
	if len(mac) != 6 {
		return nil, fmt.Errorf("netif: GARP needs a 6-byte MAC, got %v", mac)
	}
	if !vip.Is4() {
		return nil, fmt.Errorf("netif: GARP needs an IPv4 address, got %v", vip)
	}
	b := make([]byte, garpLen)
	copy(b[0:6], broadcastMAC)
	copy(b[6:12], mac)
	binary.BigEndian.PutUint16(b[12:], 0x0806) // ARP
	a := b[14:]
	binary.BigEndian.PutUint16(a[0:], 1)      // hardware: Ethernet
	binary.BigEndian.PutUint16(a[2:], 0x0800) // protocol: IPv4
	a[4], a[5] = 6, 4
	binary.BigEndian.PutUint16(a[6:], 1) // request
	ip := vip.As4()
	copy(a[8:14], mac)
	copy(a[14:18], ip[:])
	copy(a[18:24], broadcastMAC)
	copy(a[24:28], ip[:])
	return b, nil
}

// UnsolicitedNA builds keepalived's unsolicited neighbour advertisement for
// vip (ndisc_send_unsolicited_na_immediate, vrrp_ndisc.c): Ethernet to
// 33:33:00:00:00:01 from mac; IPv6 traffic class 0, flow 0, hop limit 255,
// source = vip itself, destination ff02::1; ICMPv6 type 136 code 0 with the
// Override flag (and Router when the interface forwards IPv6), target =
// vip, one Target Link-Layer Address option = mac. 86 bytes.
func UnsolicitedNA(mac net.HardwareAddr, vip netip.Addr, router bool) ([]byte, error) {
	if len(mac) != 6 {
		return nil, fmt.Errorf("netif: NA needs a 6-byte MAC, got %v", mac)
	}
	if !vip.Is6() || vip.Is4In6() {
		return nil, fmt.Errorf("netif: NA needs an IPv6 address, got %v", vip)
	}
	b := make([]byte, naLen)
	copy(b[0:6], []byte{0x33, 0x33, 0, 0, 0, 1})
	copy(b[6:12], mac)
	binary.BigEndian.PutUint16(b[12:], 0x86dd) // IPv6
	ip6 := b[14:54]
	ip6[0] = 0x60
	binary.BigEndian.PutUint16(ip6[4:], 32) // payload: NA 24 + option 8
	ip6[6] = 58                             // ICMPv6
	ip6[7] = 255                            // hop limit (RFC 4861 §7.1.2)
	src := vip.As16()
	dst := netip.MustParseAddr("ff02::1").As16()
	copy(ip6[8:24], src[:])
	copy(ip6[24:40], dst[:])
	na := b[54:]
	na[0] = 136 // neighbour advertisement
	flags := byte(0x20)
	if router {
		flags |= 0x80
	}
	na[4] = flags
	copy(na[8:24], src[:])
	na[24], na[25] = 2, 1 // target link-layer address, 8 bytes
	copy(na[26:32], mac)
	binary.BigEndian.PutUint16(na[2:], icmp6Checksum(src, dst, na))
	return b, nil
}

// icmp6Checksum is the RFC 1071 sum over the IPv6 pseudo-header (src, dst,
// upper-layer length, next header 58) and the ICMPv6 message.
func icmp6Checksum(src, dst [16]byte, msg []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for len(b) >= 2 {
			sum += uint32(binary.BigEndian.Uint16(b))
			b = b[2:]
		}
		if len(b) == 1 {
			sum += uint32(b[0]) << 8
		}
	}
	add(src[:])
	add(dst[:])
	var ph [8]byte
	binary.BigEndian.PutUint32(ph[0:], uint32(len(msg)))
	ph[7] = 58
	add(ph[:])
	add(msg)
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
