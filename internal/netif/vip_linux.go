package netif

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// VIP is one virtual address as configured (keepalived virtual_ipaddress:
// "<addr>/<len> dev <Dev> label <Label>").
type VIP struct {
	Prefix netip.Prefix // address and prefix length (/32 or /128 by default)
	Dev    string       // interface
	Label  string       // IPv4 address label ("eth0:vip"); must start with Dev
}

func (v VIP) String() string { return fmt.Sprintf("%v dev %s", v.Prefix, v.Dev) }

// netlinkAddr renders v like keepalived adds it: no broadcast unless asked
// (keepalived only sets brd when configured), IPv6 with IFA_F_NODAD so the
// address is usable at once (and NA can be sourced from it), IPv6 /128 with
// preferred_lft 0 so the kernel never picks the VIP as a source address.
func (v VIP) netlinkAddr() (*netlink.Addr, error) {
	p := v.Prefix
	if !p.IsValid() || p.Addr().Zone() != "" && !p.Addr().Is6() {
		return nil, fmt.Errorf("netif: invalid VIP %v", p)
	}
	bits := 32
	if p.Addr().Is6() {
		bits = 128
	}
	a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), bits)}}
	if p.Addr().Is4() {
		a.Broadcast = net.IPv4zero // netlink: zero = no IFA_BROADCAST
		if v.Label != "" && !strings.HasPrefix(v.Label, v.Dev) {
			return nil, fmt.Errorf("netif: label %q of VIP %v must start with %q", v.Label, p, v.Dev)
		}
		a.Label = v.Label
		return a, nil
	}
	if v.Label != "" {
		return nil, fmt.Errorf("netif: IPv6 VIP %v cannot have a label", p)
	}
	a.Flags = unix.IFA_F_NODAD
	if p.Bits() == 128 {
		a.ValidLft = math.MaxUint32 // forever
		a.PreferedLft = 0
	}
	return a, nil
}

func vipLink(v VIP) (netlink.Link, *netlink.Addr, error) {
	a, err := v.netlinkAddr()
	if err != nil {
		return nil, nil, err
	}
	link, err := netlink.LinkByName(v.Dev)
	if err != nil {
		return nil, nil, fmt.Errorf("netif: VIP %v: interface %q: %w", v.Prefix, v.Dev, err)
	}
	return link, a, nil
}

// AddVIP adds v to its interface (in the calling thread's network
// namespace). Already present is not an error.
func AddVIP(v VIP) error {
	link, a, err := vipLink(v)
	if err != nil {
		return err
	}
	if err := netlink.AddrAdd(link, a); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("netif: add VIP %v: %w", v, err)
	}
	return nil
}

// DelVIP removes v from its interface. Already absent is not an error.
func DelVIP(v VIP) error {
	link, a, err := vipLink(v)
	if err != nil {
		return err
	}
	if err := netlink.AddrDel(link, a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("netif: delete VIP %v: %w", v, err)
	}
	return nil
}

// PresentVIPs returns the members of configured that are on their
// interfaces now (same address and prefix length). A VIP is "ours" by
// configuration: nothing on the interface marks it, exactly as with
// keepalived, so an address that an operator configured by hand and also
// lists as a VIP counts as ours.
func PresentVIPs(configured []VIP) ([]VIP, error) {
	var out []VIP
	byDev := map[string][]netlink.Addr{}
	for _, v := range configured {
		addrs, ok := byDev[v.Dev]
		if !ok {
			link, err := netlink.LinkByName(v.Dev)
			if err != nil {
				return nil, fmt.Errorf("netif: VIP %v: interface %q: %w", v.Prefix, v.Dev, err)
			}
			if addrs, err = netlink.AddrList(link, netlink.FAMILY_ALL); err != nil {
				return nil, fmt.Errorf("netif: addresses of %s: %w", v.Dev, err)
			}
			byDev[v.Dev] = addrs
		}
		for _, a := range addrs {
			ip, _ := netip.AddrFromSlice(a.IP)
			ones, _ := a.Mask.Size()
			if ip.Unmap() == v.Prefix.Addr().WithZone("") && ones == v.Prefix.Bits() {
				out = append(out, v)
				break
			}
		}
	}
	return out, nil
}

// RemoveLeftoverVIPs deletes configured VIPs still present, e.g. after a
// crash left them behind, so a node starts as BACKUP without holding the
// VIP. It returns the VIPs it removed.
func RemoveLeftoverVIPs(configured []VIP) ([]VIP, error) {
	present, err := PresentVIPs(configured)
	if err != nil {
		return nil, err
	}
	var removed []VIP
	var errs []error
	for _, v := range present {
		if err := DelVIP(v); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, v)
	}
	return removed, errors.Join(errs...)
}

// AnnounceFrames builds one frame per VIP on ifname: a gratuitous ARP for
// IPv4, an unsolicited NA for IPv6 (Router flag when the interface forwards
// IPv6, as keepalived does). On an IFF_NOARP interface IPv4 VIPs get no
// frame, like keepalived.
func AnnounceFrames(ifname string, vips []netip.Addr) ([][]byte, error) {
	link, err := netlink.LinkByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("netif: interface %q: %w", ifname, err)
	}
	mac := link.Attrs().HardwareAddr
	noARP := link.Attrs().RawFlags&unix.IFF_NOARP != 0
	router := ipv6Forwarding(ifname)
	var frames [][]byte
	for _, ip := range vips {
		var f []byte
		switch {
		case ip.Is4() && noARP:
			continue
		case ip.Is4():
			f, err = GratuitousARP(mac, ip)
		default:
			f, err = UnsolicitedNA(mac, ip.WithZone(""), router)
		}
		if err != nil {
			return nil, err
		}
		frames = append(frames, f)
	}
	return frames, nil
}

func ipv6Forwarding(ifname string) bool {
	b, err := os.ReadFile("/proc/sys/net/ipv6/conf/" + ifname + "/forwarding")
	return err == nil && strings.TrimSpace(string(b)) == "1"
}
