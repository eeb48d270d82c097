package netlab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Options configure a lab.
type Options struct {
	// IPv6 enables IPv6 in the host namespaces: eth0 gets its EUI-64
	// link-local address (DAD disabled so it is usable at once). Without it
	// IPv6 is disabled everywhere in the lab.
	IPv6 bool
	// Logger receives one line per lab operation; nil discards.
	Logger *slog.Logger
	// StopGrace is how long Process.Stop waits after SIGTERM before
	// SIGKILL; zero means 10 s.
	StopGrace time.Duration
}

// Lab is a bridge in its own namespace plus the hosts attached to it.
// Methods are safe for concurrent use.
type Lab struct {
	prefix string
	opts   Options
	log    *slog.Logger

	swNS     netns.NsHandle
	sw       *netlink.Handle
	bridgeIx int

	mu     sync.Mutex
	hosts  []*Host
	cuts   map[[2]string]bool // port-name pairs, sorted
	closed bool
}

// New creates an empty lab: the switch namespace "<prefix>-sw" with a
// bridge "<prefix>br" (STP and multicast snooping off, so VRRP multicast is
// flooded to every port without an IGMP querier).
func New(ctx context.Context, opts Options) (*Lab, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.StopGrace == 0 {
		opts.StopGrace = 10 * time.Second
	}
	l := &Lab{opts: opts, cuts: map[[2]string]bool{}, swNS: netns.None()}
	var err error
	for range 5 { // retry on the rare random-suffix collision
		if l.prefix, err = newPrefix(os.Getpid()); err != nil {
			return nil, err
		}
		if err = addNamespace(ctx, l.swName()); err == nil || !errors.Is(err, os.ErrExist) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	l.log = opts.Logger.With("lab", l.prefix)
	if err := l.initSwitch(); err != nil {
		l.Close()
		return nil, err
	}
	l.log.Debug("lab created")
	return l, nil
}

func (l *Lab) initSwitch() error {
	var err error
	if l.swNS, err = netns.GetFromName(l.swName()); err != nil {
		return fmt.Errorf("netlab: open %s: %w", l.swName(), err)
	}
	if l.sw, err = netlink.NewHandleAt(l.swNS); err != nil {
		return fmt.Errorf("netlab: netlink in %s: %w", l.swName(), err)
	}
	if err := setSysctls(l.swNS, map[string]string{
		"net/ipv6/conf/all/disable_ipv6":     "1",
		"net/ipv6/conf/default/disable_ipv6": "1",
	}); err != nil {
		return err
	}
	off := false
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: l.prefix + "br"}, MulticastSnooping: &off}
	if err := l.sw.LinkAdd(br); err != nil {
		return fmt.Errorf("netlab: add bridge: %w", err)
	}
	link, err := l.sw.LinkByName(br.Name)
	if err != nil {
		return fmt.Errorf("netlab: bridge: %w", err)
	}
	l.bridgeIx = link.Attrs().Index
	if err := l.sw.LinkSetUp(link); err != nil {
		return fmt.Errorf("netlab: bridge up: %w", err)
	}
	return nil
}

// Prefix is the lab's per-run name prefix.
func (l *Lab) Prefix() string { return l.prefix }

// SwitchNamespace is the name of the namespace holding the bridge (for
// tcpdump on the bridge: `ip netns exec <ns> tcpdump -i <Bridge()>`).
func (l *Lab) SwitchNamespace() string { return l.swName() }

// Bridge is the bridge's interface name inside SwitchNamespace.
func (l *Lab) Bridge() string { return l.prefix + "br" }

func (l *Lab) swName() string { return l.prefix + "-sw" }

// Hosts returns the hosts in creation order.
func (l *Lab) Hosts() []*Host {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*Host(nil), l.hosts...)
}

// AddHost creates namespace "<prefix>-<name>" with lo up and eth0 (MAC
// 02:00 followed by the four address bytes) carrying addr, attached to the
// bridge. addr must pass CheckAddr and be unique in the lab.
func (l *Lab) AddHost(ctx context.Context, name string, addr netip.Prefix) (*Host, error) {
	if !hostNameRE.MatchString(name) || name == "sw" {
		return nil, fmt.Errorf("netlab: bad host name %q (want [a-z0-9][a-z0-9_-]{0,19}, not \"sw\")", name)
	}
	if err := CheckAddr(addr); err != nil {
		return nil, err
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, errors.New("netlab: lab closed")
	}
	for _, h := range l.hosts {
		if h.name == name || h.addr.Addr() == addr.Addr() {
			l.mu.Unlock()
			return nil, fmt.Errorf("netlab: host %q or address %v already in the lab", name, addr.Addr())
		}
	}
	h := &Host{
		lab:   l,
		name:  name,
		addr:  addr,
		port:  fmt.Sprintf("%sp%d", l.prefix, len(l.hosts)),
		ns:    netns.None(),
		procs: map[int]*Process{},
	}
	a4 := addr.Addr().As4()
	h.mac = net.HardwareAddr{0x02, 0x00, a4[0], a4[1], a4[2], a4[3]}
	l.hosts = append(l.hosts, h) // registered first so Close removes a half-built host
	l.mu.Unlock()

	if err := h.build(ctx); err != nil {
		return nil, err
	}
	l.log.Debug("host added", "host", name, "addr", addr, "ns", h.NetNS())
	return h, nil
}

func (h *Host) build(ctx context.Context) error {
	l := h.lab
	if err := addNamespace(ctx, h.NetNS()); err != nil {
		return err
	}
	var err error
	if h.ns, err = netns.GetFromName(h.NetNS()); err != nil {
		return fmt.Errorf("netlab: open %s: %w", h.NetNS(), err)
	}
	if h.nl, err = netlink.NewHandleAt(h.ns); err != nil {
		return fmt.Errorf("netlab: netlink in %s: %w", h.NetNS(), err)
	}
	sys := map[string]string{
		"net/ipv6/conf/all/disable_ipv6":     "1",
		"net/ipv6/conf/default/disable_ipv6": "1",
	}
	if l.opts.IPv6 {
		sys = map[string]string{
			"net/ipv6/conf/all/disable_ipv6":             "0",
			"net/ipv6/conf/default/disable_ipv6":         "0",
			"net/ipv6/conf/all/accept_dad":               "0",
			"net/ipv6/conf/default/accept_dad":           "0",
			"net/ipv6/conf/default/router_solicitations": "0",
			"net/ipv6/conf/default/dad_transmits":        "0",
		}
	}
	// A new namespace may inherit IP forwarding from the machine (any Docker
	// host has it on): a node that just lost a VIP would then route clients'
	// packets to the new owner instead of dropping them, hiding part of an
	// outage. Lab hosts are servers, not routers.
	sys["net/ipv4/ip_forward"] = "0"
	if err := setSysctls(h.ns, sys); err != nil {
		return err
	}
	veth := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: h.port, MasterIndex: l.bridgeIx},
		PeerName:         "eth0",
		PeerHardwareAddr: h.mac,
		PeerNamespace:    netlink.NsFd(int(h.ns)),
	}
	if err := l.sw.LinkAdd(veth); err != nil {
		return fmt.Errorf("netlab: add veth for %s: %w", h.name, err)
	}
	port, err := l.sw.LinkByName(h.port)
	if err != nil {
		return fmt.Errorf("netlab: port %s: %w", h.port, err)
	}
	if err := l.sw.LinkSetUp(port); err != nil {
		return fmt.Errorf("netlab: port %s up: %w", h.port, err)
	}
	lo, err := h.nl.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("netlab: %s lo: %w", h.name, err)
	}
	if err := h.nl.LinkSetUp(lo); err != nil {
		return fmt.Errorf("netlab: %s lo up: %w", h.name, err)
	}
	eth, err := h.nl.LinkByName("eth0")
	if err != nil {
		return fmt.Errorf("netlab: %s eth0: %w", h.name, err)
	}
	h.ifindex = eth.Attrs().Index
	if err := h.nl.AddrAdd(eth, &netlink.Addr{IPNet: prefixToIPNet(h.addr)}); err != nil {
		return fmt.Errorf("netlab: %s address %v: %w", h.name, h.addr, err)
	}
	if err := h.nl.LinkSetUp(eth); err != nil {
		return fmt.Errorf("netlab: %s eth0 up: %w", h.name, err)
	}
	if l.opts.IPv6 {
		return h.waitLinkLocal(ctx)
	}
	return nil
}

// waitLinkLocal waits for the kernel to add eth0's link-local address
// (immediate with DAD off, but asynchronous to link-up).
func (h *Host) waitLinkLocal(ctx context.Context) error {
	for {
		addrs, err := h.nl.AddrList(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Index: h.ifindex}}, netlink.FAMILY_V6)
		if err != nil {
			return fmt.Errorf("netlab: %s addresses: %w", h.name, err)
		}
		for _, a := range addrs {
			ip, ok := netip.AddrFromSlice(a.IP)
			if ok && ip.IsLinkLocalUnicast() && a.Flags&0x40 == 0 { // 0x40 = IFA_F_TENTATIVE
				h.ll = ip
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("netlab: %s: no IPv6 link-local address: %w", h.name, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Close stops every tracked process, kills anything else still running in
// the lab's namespaces (by PID) and deletes the namespaces, which removes
// all of the lab's links. It is idempotent and returns the first error.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	hosts := append([]*Host(nil), l.hosts...)
	l.mu.Unlock()

	var errs []error
	var wg sync.WaitGroup
	for _, h := range hosts {
		wg.Go(func() { h.stopAll() })
	}
	wg.Wait()
	for _, h := range hosts {
		errs = append(errs, h.close())
	}
	if l.sw != nil {
		l.sw.Close()
	}
	if l.swNS.IsOpen() {
		l.swNS.Close()
	}
	errs = append(errs, removeNamespace(l.swName()))
	err := errors.Join(errs...)
	l.log.Debug("lab closed", "err", err)
	return err
}

// TB is the part of testing.TB that NewT uses (netlab is product code and
// does not import package testing).
type TB interface {
	Helper()
	Skip(args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Cleanup(func())
	Context() context.Context
	Failed() bool
}

// NeedRoot skips the test with "needs root" unless the process runs as root
// and ip (iproute2) is installed. (nft is only needed by Cut/Heal, which
// fail with a precise error without it.)
func NeedRoot(t TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs root tools: ip (iproute2) not installed")
	}
}

// NewT is New for tests: it skips without root, sweeps leftovers of dead
// runs, fails the test on error and closes the lab in t.Cleanup.
func NewT(t TB, opts Options) *Lab {
	t.Helper()
	NeedRoot(t)
	if removed, err := Sweep(); err != nil {
		t.Logf("netlab: sweep: %v", err)
	} else if len(removed) > 0 {
		t.Logf("netlab: swept leftovers %v", removed)
	}
	l, err := New(t.Context(), opts)
	if err != nil {
		t.Fatalf("netlab: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Logf("netlab: close: %v", err)
		}
	})
	return l
}

// AddHostT is AddHost that fails the test on error.
func (l *Lab) AddHostT(t TB, name, addr string) *Host {
	t.Helper()
	p, err := netip.ParsePrefix(addr)
	if err != nil {
		t.Fatalf("netlab: %v", err)
	}
	h, err := l.AddHost(t.Context(), name, p)
	if err != nil {
		t.Fatalf("netlab: %v", err)
	}
	return h
}

func prefixToIPNet(p netip.Prefix) *net.IPNet {
	bits := 32
	if p.Addr().Is6() {
		bits = 128
	}
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), bits)}
}

// addNamespace runs `ip netns add`, which also sets up /run/netns as a
// shared mount so deletion propagates into `ip netns exec` children.
func addNamespace(ctx context.Context, name string) error {
	out, err := exec.CommandContext(ctx, "ip", "netns", "add", name).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "File exists") {
			return fmt.Errorf("netlab: namespace %s: %w", name, os.ErrExist)
		}
		return fmt.Errorf("netlab: ip netns add %s: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// removeNamespace kills every process left in the namespace, by PID, then
// deletes it. A namespace that does not exist is not an error.
func removeNamespace(name string) error {
	if _, err := os.Stat("/run/netns/" + name); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	killNamespacePids(name)
	out, err := exec.Command("ip", "netns", "delete", name).CombinedOutput()
	if err != nil {
		return fmt.Errorf("netlab: ip netns delete %s: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// setSysctls writes /proc/sys entries as seen from namespace ns: the
// /proc/sys/net tree follows the opening thread's network namespace.
func setSysctls(ns netns.NsHandle, kv map[string]string) error {
	return inNamespace(ns, func() error {
		for k, v := range kv {
			if err := os.WriteFile("/proc/sys/"+k, []byte(v), 0); err != nil {
				return fmt.Errorf("netlab: sysctl %s=%s: %w", k, v, err)
			}
		}
		return nil
	})
}

// inNamespace runs fn on a fresh goroutine whose OS thread is switched
// into ns and never switched back: the goroutine ends with the thread still
// locked, so the Go runtime destroys the thread instead of reusing it in the
// wrong namespace. Panics and runtime.Goexit (t.FailNow) inside fn are
// propagated to the caller's goroutine.
func inNamespace(ns netns.NsHandle, fn func() error) error {
	type result struct {
		err      error
		panicked any
		finished bool
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if !r.finished {
				r.panicked = recover()
			}
			done <- r
		}()
		runtime.LockOSThread() // never unlocked: see above
		if err := netns.Set(ns); err != nil {
			r.err, r.finished = fmt.Errorf("netlab: enter namespace: %w", err), true
			return
		}
		r.err = fn()
		r.finished = true
	}()
	r := <-done
	switch {
	case r.panicked != nil:
		panic(r.panicked)
	case !r.finished:
		runtime.Goexit()
	}
	return r.err
}

// StartT starts cmd in h for a test with its output appended to logPath,
// stops it (by PID) in t.Cleanup and, if the test failed, logs the output
// under name.
func (h *Host) StartT(t TB, name string, cmd *exec.Cmd, logPath string) *Process {
	t.Helper()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatalf("netlab: %v", err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	proc, err := h.Start(cmd)
	if err != nil {
		logf.Close()
		t.Fatalf("netlab: %v", err)
	}
	t.Cleanup(func() {
		_ = proc.Stop()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s log of %s:\n%s", name, h.Name(), b)
		}
	})
	return proc
}
