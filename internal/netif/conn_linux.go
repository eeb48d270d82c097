package netif

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// ProtoVRRP is VRRP's IP protocol number.
const ProtoVRRP = 112

// VRRP's multicast groups (RFC 5798 §5.1.1.2, §5.1.2.2).
var (
	GroupV4 = netip.MustParseAddr("224.0.0.18")
	GroupV6 = netip.MustParseAddr("ff02::12")
)

// Header values keepalived 2.2.7 puts on every advert (vrrp_build_ip4):
// TTL/hop limit 255 (RFC: receivers drop anything else) and TOS/traffic
// class 0xc0 (network control).
const (
	TTL = 255
	TOS = 0xc0
)

// Family selects IPv4 or IPv6.
type Family int

// Families.
const (
	IPv4 Family = 4
	IPv6 Family = 6
)

// Options configure a Conn.
type Options struct {
	// Src is the source address of adverts (keepalived unicast_src_ip /
	// mcast_src_ip). Zero: the interface's first primary IPv4 address, or
	// its IPv6 link-local address, read once at Listen.
	Src netip.Addr
	// Peers switches to unicast: adverts go to each peer, and only packets
	// from a peer are returned by Recv. Empty: multicast to Group.
	Peers []netip.Addr
	// Group overrides the multicast group (keepalived vrrp_mcast_group4/6).
	Group netip.Addr
}

// Received is one VRRP packet as it arrived.
type Received struct {
	Payload []byte     // the VRRP message (IPv4: after the IP header)
	Src     netip.Addr // IP source
	Dst     netip.Addr // IP destination (the group, or our unicast address)
	TTL     int        // IPv4 TTL or IPv6 hop limit as received
	// IPLen is the IPv4 header length incl. options (0 for IPv6), for
	// keepalived's exact-length check.
	IPLen int
}

// Stats are the Conn's counters (monotonic).
type Stats struct {
	Sent, SendErrors uint64
	Received         uint64
	DroppedOwn       uint64 // our own packets looped back
	DroppedNotPeer   uint64 // unicast mode: source not a configured peer
	DroppedMalformed uint64 // unparseable IP header
}

// Conn is a raw IP protocol 112 endpoint on one interface and family. Send
// and Recv may be called concurrently with each other; Recv is meant for a
// single reader.
type Conn struct {
	fam     Family
	ifi     *net.Interface
	src     netip.Addr
	group   netip.Addr
	peers   []netip.Addr
	pc      net.PacketConn
	raw4    *ipv4.RawConn
	pc6     *ipv6.PacketConn
	ipID    atomic.Uint32
	rbuf    []byte
	rmu     sync.Mutex
	sent    atomic.Uint64
	sendErr atomic.Uint64
	recvd   atomic.Uint64
	own     atomic.Uint64
	notPeer atomic.Uint64
	bad     atomic.Uint64
}

// Listen opens a raw protocol-112 socket on ifname the way keepalived's
// send and read sockets are set up (open_vrrp_send_socket /
// open_vrrp_read_socket): SO_BINDTODEVICE, IP(V6)_MULTICAST_ALL=0,
// multicast loop off, multicast TTL/hops 255, and bound to the group
// (multicast) or to Src (unicast) so only packets for that mode arrive.
// In multicast mode it joins the group on ifname.
//
// IPv4 sends carry a full header (IP_HDRINCL): TOS 0xc0, TTL 255, DF
// clear, IP ID counting from 1; the kernel fills the header checksum.
//
// IPv6 checksum: keepalived sets IPV6_CHECKSUM=6 so the kernel computes
// the checksum on send and silently drops bad ones on receive. Here the
// option stays off (the raw-socket default for protocol 112): the vrrp
// codec computes the RFC 8200 pseudo-header checksum from Src() and the
// destination, and verifies received ones itself, so bad packets are
// counted and logged rather than vanishing in the kernel. On the wire
// both give identical bytes.
func Listen(ifname string, fam Family, opts Options) (*Conn, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("netif: interface %q: %w", ifname, err)
	}
	c := &Conn{fam: fam, ifi: ifi, src: opts.Src, group: opts.Group, peers: slices.Clone(opts.Peers), rbuf: make([]byte, 1<<16)}
	if err := c.checkAddrs(); err != nil {
		return nil, err
	}
	bind := c.group
	if len(c.peers) > 0 {
		bind = c.src
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = c.presetSocket(int(fd)) })
		return errors.Join(err, serr)
	}}
	network, laddr := "ip4:112", bind.String()
	if fam == IPv6 {
		// Zones by index: Go's name→index cache is process-wide and would
		// resolve "eth0" in whatever namespace filled it.
		network, laddr = "ip6:112", bind.WithZone(strconv.Itoa(ifi.Index)).String()
	}
	c.pc, err = lc.ListenPacket(context.Background(), network, laddr)
	if err != nil {
		return nil, fmt.Errorf("netif: listen %s %s on %s: %w", network, laddr, ifname, err)
	}
	if err := c.setup(); err != nil {
		c.pc.Close()
		return nil, err
	}
	return c, nil
}

// checkAddrs validates the options and fills the defaults.
func (c *Conn) checkAddrs() error {
	switch c.fam {
	case IPv4, IPv6:
	default:
		return fmt.Errorf("netif: unknown family %d", c.fam)
	}
	is := func(a netip.Addr) bool { return a.IsValid() && (a.Is4() == (c.fam == IPv4)) && !a.Is4In6() }
	if !c.group.IsValid() {
		c.group = GroupV4
		if c.fam == IPv6 {
			c.group = GroupV6
		}
	}
	if !is(c.group) || !c.group.IsMulticast() {
		return fmt.Errorf("netif: group %v is not an IPv%d multicast address", c.group, c.fam)
	}
	for _, p := range c.peers {
		if !is(p) || p.IsMulticast() {
			return fmt.Errorf("netif: unicast peer %v is not an IPv%d unicast address", p, c.fam)
		}
	}
	if !c.src.IsValid() {
		src, err := defaultSource(c.ifi, c.fam)
		if err != nil {
			return err
		}
		c.src = src
	}
	c.src = c.src.WithZone("")
	if !is(c.src) || c.src.IsMulticast() {
		return fmt.Errorf("netif: source %v is not an IPv%d unicast address", c.src, c.fam)
	}
	return nil
}

// defaultSource picks what keepalived uses without unicast_src_ip: the
// interface's primary IPv4 address, or its IPv6 link-local address.
func defaultSource(ifi *net.Interface, fam Family) (netip.Addr, error) {
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("netif: addresses of %s: %w", ifi.Name, err)
	}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, _ := netip.AddrFromSlice(ipn.IP)
		ip = ip.Unmap()
		if fam == IPv4 && ip.Is4() {
			return ip, nil // the kernel lists the primary first
		}
		if fam == IPv6 && ip.Is6() && ip.IsLinkLocalUnicast() {
			return ip, nil
		}
	}
	kind := "IPv4"
	if fam == IPv6 {
		kind = "IPv6 link-local"
	}
	return netip.Addr{}, fmt.Errorf("netif: %s has no %s address to send from (configure a source)", ifi.Name, kind)
}

// presetSocket runs before bind, so no packet from another interface or
// group can be queued before the filters are in place.
func (c *Conn) presetSocket(fd int) error {
	if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, c.ifi.Name); err != nil {
		return fmt.Errorf("netif: SO_BINDTODEVICE %s: %w", c.ifi.Name, err)
	}
	if c.fam == IPv4 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_ALL, 0); err != nil {
			return fmt.Errorf("netif: IP_MULTICAST_ALL: %w", err)
		}
		return nil
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_ALL, 0); err != nil {
		return fmt.Errorf("netif: IPV6_MULTICAST_ALL: %w", err)
	}
	return nil
}

func (c *Conn) setup() error {
	wrap := func(what string, err error) error {
		if err != nil {
			return fmt.Errorf("netif: %s on %s: %w", what, c.ifi.Name, err)
		}
		return nil
	}
	unicast := len(c.peers) > 0
	if c.fam == IPv4 {
		r, err := ipv4.NewRawConn(c.pc) // sets IP_HDRINCL
		if err != nil {
			return wrap("IP_HDRINCL", err)
		}
		c.raw4 = r
		if err := errors.Join(
			wrap("multicast interface", r.SetMulticastInterface(c.ifi)),
			wrap("multicast loop", r.SetMulticastLoopback(false)),
			wrap("multicast TTL", r.SetMulticastTTL(TTL)),
		); err != nil {
			return err
		}
		if !unicast {
			return wrap("join "+c.group.String(), r.JoinGroup(c.ifi, &net.IPAddr{IP: c.group.AsSlice()}))
		}
		return nil
	}
	p := ipv6.NewPacketConn(c.pc)
	c.pc6 = p
	if err := errors.Join(
		wrap("multicast interface", p.SetMulticastInterface(c.ifi)),
		wrap("multicast loop", p.SetMulticastLoopback(false)),
		wrap("multicast hops", p.SetMulticastHopLimit(TTL)),
		wrap("unicast hops", p.SetHopLimit(TTL)),
		wrap("traffic class", p.SetTrafficClass(TOS)),
		wrap("control messages", p.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst|ipv6.FlagInterface, true)),
	); err != nil {
		return err
	}
	if !unicast {
		return wrap("join "+c.group.String(), p.JoinGroup(c.ifi, &net.IPAddr{IP: c.group.AsSlice()}))
	}
	return nil
}

// Src is the source address of our packets; the vrrp codec needs it for
// the v3 pseudo-header checksum.
func (c *Conn) Src() netip.Addr { return c.src }

// Interface is the interface the Conn is bound to.
func (c *Conn) Interface() *net.Interface { return c.ifi }

// Unicast reports whether the Conn sends to unicast peers.
func (c *Conn) Unicast() bool { return len(c.peers) > 0 }

// Destinations are where an advert goes: the group, or every peer.
func (c *Conn) Destinations() []netip.Addr {
	if len(c.peers) > 0 {
		return slices.Clone(c.peers)
	}
	return []netip.Addr{c.group}
}

// Send transmits payload (a complete VRRP message) to dst, which must be
// one of Destinations(); the zero Addr sends the same payload to every
// destination (fine for VRRPv2, whose checksum has no pseudo-header).
func (c *Conn) Send(payload []byte, dst netip.Addr) error {
	if !dst.IsValid() {
		var errs []error
		for _, d := range c.Destinations() {
			errs = append(errs, c.sendOne(payload, d))
		}
		return errors.Join(errs...)
	}
	dst = dst.WithZone("")
	if !slices.Contains(c.Destinations(), dst) {
		c.sendErr.Add(1)
		return fmt.Errorf("netif: %v is not a destination of this connection (%v)", dst, c.Destinations())
	}
	return c.sendOne(payload, dst)
}

func (c *Conn) sendOne(payload []byte, dst netip.Addr) error {
	var err error
	if c.fam == IPv4 {
		h := &ipv4.Header{
			Version:  ipv4.Version,
			Len:      ipv4.HeaderLen,
			TOS:      TOS,
			TotalLen: ipv4.HeaderLen + len(payload),
			ID:       int(uint16(c.ipID.Add(1))),
			TTL:      TTL,
			Protocol: ProtoVRRP,
			Src:      c.src.AsSlice(),
			Dst:      dst.AsSlice(),
		}
		err = c.raw4.WriteTo(h, payload, nil)
	} else {
		cm := &ipv6.ControlMessage{Src: c.src.AsSlice(), IfIndex: c.ifi.Index, HopLimit: TTL, TrafficClass: TOS}
		_, err = c.pc6.WriteTo(payload, cm, &net.IPAddr{IP: dst.AsSlice(), Zone: strconv.Itoa(c.ifi.Index)})
	}
	if err != nil {
		c.sendErr.Add(1)
		return fmt.Errorf("netif: send to %v on %s: %w", dst, c.ifi.Name, err)
	}
	c.sent.Add(1)
	return nil
}

// Recv returns the next packet that passes the transport filters: not our
// own, and in unicast mode from a configured peer. Everything else is
// dropped and counted. It returns ctx's error when ctx ends.
func (c *Conn) Recv(ctx context.Context) (Received, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if err := ctx.Err(); err != nil {
		return Received{}, err
	}
	_ = c.pc.SetReadDeadline(time.Time{})
	stop := context.AfterFunc(ctx, func() { _ = c.pc.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	for {
		r, err := c.read()
		if err != nil {
			if ctx.Err() != nil {
				return Received{}, ctx.Err()
			}
			if errors.Is(err, errMalformed) {
				c.bad.Add(1)
				continue
			}
			return Received{}, err
		}
		switch {
		case r.Src == c.src:
			c.own.Add(1)
		case len(c.peers) > 0 && !slices.Contains(c.peers, r.Src):
			c.notPeer.Add(1)
		default:
			c.recvd.Add(1)
			return r, nil
		}
	}
}

var errMalformed = errors.New("malformed IP header")

func (c *Conn) read() (Received, error) {
	if c.fam == IPv4 {
		h, p, _, err := c.raw4.ReadFrom(c.rbuf)
		if err != nil {
			var errno syscall.Errno
			if !errors.As(err, &errno) && !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, net.ErrClosed) {
				return Received{}, errMalformed // header parse error, socket fine
			}
			return Received{}, fmt.Errorf("netif: receive on %s: %w", c.ifi.Name, err)
		}
		src, ok1 := netip.AddrFromSlice(h.Src.To4())
		dst, ok2 := netip.AddrFromSlice(h.Dst.To4())
		if !ok1 || !ok2 {
			return Received{}, errMalformed
		}
		return Received{Payload: slices.Clone(p), Src: src, Dst: dst, TTL: h.TTL, IPLen: h.Len}, nil
	}
	n, cm, from, err := c.pc6.ReadFrom(c.rbuf)
	if err != nil {
		return Received{}, fmt.Errorf("netif: receive on %s: %w", c.ifi.Name, err)
	}
	ipa, _ := from.(*net.IPAddr)
	if ipa == nil || cm == nil {
		return Received{}, errMalformed
	}
	src, _ := netip.AddrFromSlice(ipa.IP)
	dst, _ := netip.AddrFromSlice(cm.Dst)
	return Received{Payload: slices.Clone(c.rbuf[:n]), Src: src, Dst: dst, TTL: cm.HopLimit}, nil
}

// Stats returns the counters.
func (c *Conn) Stats() Stats {
	return Stats{
		Sent: c.sent.Load(), SendErrors: c.sendErr.Load(), Received: c.recvd.Load(),
		DroppedOwn: c.own.Load(), DroppedNotPeer: c.notPeer.Load(), DroppedMalformed: c.bad.Load(),
	}
}

// Close closes the socket (leaving the group); a blocked Recv returns.
func (c *Conn) Close() error { return c.pc.Close() }
