package vrrpbench

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/milvus-ha/milvus-ha/internal/netlab"
)

// claim is an ARP frame in which a host claims the VIP.
type claim struct {
	at   time.Time // kernel receive timestamp
	mac  string
	garp bool // gratuitous (unsolicited), not a reply to our probe
}

// prober sends ARP who-has for one address from a client host at a fixed
// period and records who claims the address, and when each router's last
// VRRP advert passed by. Sockets belong to the client's namespace; the
// goroutines need not.
type prober struct {
	file     *os.File
	ifindex  int
	request  []byte
	vip      [4]byte
	interval time.Duration

	mu     sync.Mutex
	since  time.Time            // claims before this are ignored
	first  map[string]claim     // first claim per MAC since `since`
	advert map[string]time.Time // last VRRP advert per sender MAC
	fresh  map[string]time.Time // first VRRP advert per sender MAC since `since`
	lastTx time.Time            // previous probe, while gaps are recorded
	gaps   []time.Duration      // probe gaps while recording
	record bool                 // record gaps
	wg     sync.WaitGroup
	cancel context.CancelFunc
}

const ethPARP = 0x0806

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// startProber opens an ARP packet socket on the client's eth0 and starts
// probing vip every interval until close.
func startProber(client *netlab.Host, vip netip.Addr, interval time.Duration) (*prober, error) {
	p := &prober{vip: vip.As4(), interval: interval, first: map[string]claim{}, advert: map[string]time.Time{}, fresh: map[string]time.Time{}}
	var fd int
	err := client.Do(func() error {
		ifi, err := net.InterfaceByName(client.Ifname())
		if err != nil {
			return err
		}
		p.ifindex = ifi.Index
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return fmt.Errorf("packet socket: %w", err)
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
			unix.Close(fd)
			return fmt.Errorf("SO_TIMESTAMPNS: %w", err)
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: p.ifindex}); err != nil {
			unix.Close(fd)
			return fmt.Errorf("bind: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("vrrpbench: ARP probe in %s: %w", client.Name(), err)
	}
	p.file = os.NewFile(uintptr(fd), "arp-probe") // non-blocking: uses the poller
	p.request = arpRequest(client.MAC(), client.Addr().Addr().As4(), p.vip)
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.wg.Add(2)
	go p.receive()
	go p.send(ctx)
	return p, nil
}

// arpRequest builds a broadcast who-has target tell (mac, ip).
func arpRequest(mac net.HardwareAddr, ip, target [4]byte) []byte {
	f := make([]byte, 42)
	copy(f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(f[6:12], mac)
	binary.BigEndian.PutUint16(f[12:], ethPARP)
	binary.BigEndian.PutUint16(f[14:], 1)      // Ethernet
	binary.BigEndian.PutUint16(f[16:], 0x0800) // IPv4
	f[18], f[19] = 6, 4
	binary.BigEndian.PutUint16(f[20:], 1) // request
	copy(f[22:28], mac)
	copy(f[28:32], ip[:])
	copy(f[38:42], target[:])
	return f
}

// parseClaim reports whether frame is an ARP packet (reply, or gratuitous
// request) whose sender claims ip, and the sender's MAC.
func parseClaim(frame []byte, ip [4]byte) (mac net.HardwareAddr, garp, ok bool) {
	if len(frame) < 42 || binary.BigEndian.Uint16(frame[12:]) != ethPARP ||
		binary.BigEndian.Uint16(frame[14:]) != 1 || binary.BigEndian.Uint16(frame[16:]) != 0x0800 ||
		frame[18] != 6 || frame[19] != 4 || !bytes.Equal(frame[28:32], ip[:]) {
		return nil, false, false
	}
	switch binary.BigEndian.Uint16(frame[20:]) {
	case 2: // reply; a gratuitous reply has the VIP as target too
		return net.HardwareAddr(frame[22:28]), bytes.Equal(frame[38:42], ip[:]), true
	case 1: // a request from the VIP is gratuitous only when it asks for itself
		if bytes.Equal(frame[38:42], ip[:]) {
			return net.HardwareAddr(frame[22:28]), true, true
		}
	}
	return nil, false, false
}

// isVRRP reports whether frame is an IPv4 packet of protocol 112.
func isVRRP(frame []byte) bool {
	return len(frame) >= 34 && binary.BigEndian.Uint16(frame[12:]) == 0x0800 && frame[14]>>4 == 4 && frame[23] == 112
}

func (p *prober) send(ctx context.Context) {
	defer p.wg.Done()
	rc, err := p.file.SyscallConn()
	if err != nil {
		return
	}
	to := &unix.SockaddrLinklayer{Protocol: htons(ethPARP), Ifindex: p.ifindex, Halen: 6,
		Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	tick := time.NewTicker(p.interval)
	defer tick.Stop()
	for {
		_ = rc.Write(func(fd uintptr) bool {
			err := unix.Sendto(int(fd), p.request, 0, to)
			return !errors.Is(err, unix.EAGAIN)
		})
		now := time.Now()
		p.mu.Lock()
		if p.record && !p.lastTx.IsZero() {
			p.gaps = append(p.gaps, now.Sub(p.lastTx))
		}
		p.lastTx = now
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (p *prober) receive() {
	defer p.wg.Done()
	rc, err := p.file.SyscallConn()
	if err != nil {
		return
	}
	buf := make([]byte, 2048)
	oob := make([]byte, 128)
	for {
		var n, oobn int
		var from unix.Sockaddr
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			n, oobn, _, from, rerr = unix.Recvmsg(int(fd), buf, oob, 0)
			return !errors.Is(rerr, unix.EAGAIN)
		})
		if err != nil { // file closed
			return
		}
		if rerr != nil {
			continue
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		if isVRRP(buf[:n]) {
			at, mac := rxTime(oob[:oobn]), net.HardwareAddr(buf[6:12]).String()
			p.mu.Lock()
			p.advert[mac] = at
			if _, seen := p.fresh[mac]; !seen && !at.Before(p.since) {
				p.fresh[mac] = at
			}
			p.mu.Unlock()
			continue
		}
		mac, garp, ok := parseClaim(buf[:n], p.vip)
		if !ok {
			continue
		}
		c := claim{at: rxTime(oob[:oobn]), mac: mac.String(), garp: garp}
		p.mu.Lock()
		if !c.at.Before(p.since) {
			if _, seen := p.first[c.mac]; !seen {
				p.first[c.mac] = c
			}
		}
		p.mu.Unlock()
	}
}

// rxTime is the SCM_TIMESTAMPNS of a received packet, or now.
func rxTime(oob []byte) time.Time {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err == nil {
		for _, m := range msgs {
			if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= 16 {
				sec := int64(binary.NativeEndian.Uint64(m.Data[0:]))
				nsec := int64(binary.NativeEndian.Uint64(m.Data[8:]))
				return time.Unix(sec, nsec)
			}
		}
	}
	return time.Now()
}

// mark forgets earlier claims: from now on wait reports claims at or after t.
// With record, the gaps between probes are kept for the resolution report.
func (p *prober) mark(t time.Time, record bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.since = t
	clear(p.first)
	clear(p.fresh)
	p.record = record
	p.lastTx = time.Time{}
}

// wait returns the first claim by mac since the last mark.
func (p *prober) wait(ctx context.Context, mac net.HardwareAddr) (claim, error) {
	key := mac.String()
	for {
		p.mu.Lock()
		c, ok := p.first[key]
		p.mu.Unlock()
		if ok {
			return c, nil
		}
		select {
		case <-ctx.Done():
			return claim{}, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

// lastAdvert is when the last VRRP advert from mac passed the client.
func (p *prober) lastAdvert(mac net.HardwareAddr) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.advert[mac.String()]
	return t, ok
}

// firstAdvert is when the first VRRP advert from mac since the last mark
// passed the client.
func (p *prober) firstAdvert(mac net.HardwareAddr) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.fresh[mac.String()]
	return t, ok
}

// takeGaps returns and clears the recorded probe gaps and stops recording.
func (p *prober) takeGaps() []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	g := p.gaps
	p.gaps, p.record = nil, false
	return g
}

func (p *prober) close() {
	p.cancel()
	p.file.Close()
	p.wg.Wait()
}
