package netlab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// defaultProbeTimeout bounds Ping when ctx has no deadline.
const defaultProbeTimeout = 5 * time.Second

var pingSeq atomic.Uint32

// Ping sends ICMP echo requests from the host to addr (one every 200 ms)
// until one is answered or ctx ends (5 s when ctx has no deadline). An
// IPv6 link-local addr is always sent out of eth0 (its zone is ignored).
func (h *Host) Ping(ctx context.Context, addr netip.Addr) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultProbeTimeout)
		defer cancel()
	}
	var conn *icmp.PacketConn
	err := h.Do(func() error {
		var err error
		if addr.Is4() {
			conn, err = icmp.ListenPacket("ip4:icmp", "0.0.0.0")
		} else {
			conn, err = icmp.ListenPacket("ip6:ipv6-icmp", "::")
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("netlab: %s: icmp socket: %w", h.name, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stop()

	// Zones go by index: Go's zone-name cache is process-wide and may have
	// been filled in another namespace.
	dst := &net.IPAddr{IP: addr.AsSlice()}
	if addr.Is6() && addr.IsLinkLocalUnicast() {
		dst.Zone = strconv.Itoa(h.ifindex)
	}
	id := os.Getpid() & 0xffff
	typ, reply := icmp.Type(ipv4.ICMPTypeEcho), icmp.Type(ipv4.ICMPTypeEchoReply)
	proto := 1
	if addr.Is6() {
		typ, reply, proto = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply, 58
	}
	buf := make([]byte, 1500)
	for {
		seq := int(pingSeq.Add(1) & 0xffff)
		msg := icmp.Message{Type: typ, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("netlab")}}
		wb, err := msg.Marshal(nil) // ICMPv6 checksum is filled in by the kernel
		if err != nil {
			return fmt.Errorf("netlab: echo: %w", err)
		}
		_, _ = conn.WriteTo(wb, dst) // errors (no route, unreachable) = no answer; retry
		_ = conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		for {
			if ctx.Err() != nil {
				return fmt.Errorf("netlab: %s: ping %v: %w", h.name, addr, ctx.Err())
			}
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break // resend
				}
				return fmt.Errorf("netlab: %s: ping %v: %w", h.name, addr, err)
			}
			m, err := icmp.ParseMessage(proto, buf[:n])
			if err != nil || m.Type != reply {
				continue
			}
			e, ok := m.Body.(*icmp.Echo)
			fromIP, _ := netip.AddrFromSlice(from.(*net.IPAddr).IP)
			if ok && e.ID == id && e.Seq == seq && fromIP.Unmap() == addr.WithZone("") {
				return nil
			}
		}
	}
}

// Neighbor returns the MAC the host's neighbour table (ARP / NDP) holds for
// addr on eth0, if the entry is usable (not INCOMPLETE or FAILED).
func (h *Host) Neighbor(addr netip.Addr) (net.HardwareAddr, error) {
	fam := netlink.FAMILY_V4
	if addr.Is6() {
		fam = netlink.FAMILY_V6
	}
	neighs, err := h.nl.NeighList(h.ifindex, fam)
	if err != nil {
		return nil, fmt.Errorf("netlab: %s: neighbours: %w", h.name, err)
	}
	for _, n := range neighs {
		ip, ok := netip.AddrFromSlice(n.IP)
		if !ok || ip.Unmap() != addr.WithZone("") {
			continue
		}
		if n.State&(netlink.NUD_INCOMPLETE|netlink.NUD_FAILED) != 0 || len(n.HardwareAddr) == 0 {
			break
		}
		return n.HardwareAddr, nil
	}
	return nil, fmt.Errorf("netlab: %s: no neighbour entry for %v", h.name, addr)
}

// FlushNeighbor removes the host's neighbour entry for addr, if any.
func (h *Host) FlushNeighbor(addr netip.Addr) error {
	fam := netlink.FAMILY_V4
	if addr.Is6() {
		fam = netlink.FAMILY_V6
	}
	err := h.nl.NeighDel(&netlink.Neigh{LinkIndex: h.ifindex, Family: fam, IP: addr.AsSlice()})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("netlab: %s: flush neighbour %v: %w", h.name, addr, err)
	}
	return nil
}

// WhoHas answers "which MAC answers for addr right now, seen from h": it
// flushes h's neighbour entry, pings addr and returns the freshly resolved
// MAC. Compare with Host.MAC to find the host that holds a VIP.
func (h *Host) WhoHas(ctx context.Context, addr netip.Addr) (net.HardwareAddr, error) {
	if err := h.FlushNeighbor(addr); err != nil {
		return nil, err
	}
	if err := h.Ping(ctx, addr); err != nil {
		return nil, err
	}
	return h.Neighbor(addr)
}

// HostByMAC returns the lab host whose eth0 has mac, or nil.
func (l *Lab) HostByMAC(mac net.HardwareAddr) *Host {
	for _, h := range l.Hosts() {
		if h.mac.String() == mac.String() {
			return h
		}
	}
	return nil
}
