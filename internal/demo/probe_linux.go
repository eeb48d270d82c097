package demo

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/mdlayher/packet"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// Probe is the ICMP workload (--workload icmp): an echo to the VIP every Interval from
// the client host. Requests go out through the client's kernel, so ARP and
// the neighbour cache behave as for any real client (a stale entry after a
// takeover costs what it costs a real client); answers are read from a
// packet socket on the client's eth0, whose source MAC names the node that
// answered. This gives per-request latency and owner at Interval resolution
// without racing the neighbour table.
type Probe struct {
	Interval time.Duration // between requests; 0 means 10 ms
	Timeout  time.Duration // a request not answered by then failed; 0 means 500 ms

	id       uint16
	cancel   context.CancelFunc // ends both loops
	stopSend context.CancelFunc // ends the sender only
	wg       sync.WaitGroup
	record   func(Sample)
	byMAC    map[string]string
	mu       sync.Mutex
	pending  map[uint16]time.Time // seq → sent
	sent     int
	ok       int
	err      error // first socket error, reported by Stop
}

func (p *Probe) interval() time.Duration {
	if p.Interval <= 0 {
		return 10 * time.Millisecond
	}
	return p.Interval
}

func (p *Probe) timeout() time.Duration {
	if p.Timeout <= 0 {
		return 500 * time.Millisecond
	}
	return p.Timeout
}

// RequestTimeout implements Workload.
func (p *Probe) RequestTimeout() time.Duration { return p.timeout() }

// Noun implements Workload.
func (p *Probe) Noun() string { return "echo request" }

// Describe implements Workload.
func (p *Probe) Describe() string {
	return fmt.Sprintf("ICMP echo to the VIP every %v, answering host told by the reply's source MAC", p.interval())
}

// Start implements Workload.
func (p *Probe) Start(ctx context.Context, tgt Target, record func(Sample)) error {
	var (
		tx *icmp.PacketConn
		rx *packet.Conn
	)
	err := tgt.Client.Do(func() error {
		var err error
		if tx, err = icmp.ListenPacket("ip4:icmp", "0.0.0.0"); err != nil {
			return fmt.Errorf("icmp socket: %w", err)
		}
		// Answers are read from the packet socket; keep the raw ICMP
		// socket's receive queue empty.
		var all ipv4.ICMPFilter
		all.SetAll(true)
		if err = tx.IPv4PacketConn().SetICMPFilter(&all); err != nil {
			return fmt.Errorf("icmp filter: %w", err)
		}
		ifi, err := net.InterfaceByName(tgt.Client.Ifname())
		if err != nil {
			return err
		}
		if rx, err = packet.Listen(ifi, packet.Datagram, unix.ETH_P_IP, nil); err != nil {
			return fmt.Errorf("packet socket: %w", err)
		}
		return nil
	})
	if err != nil {
		if tx != nil {
			tx.Close()
		}
		return fmt.Errorf("demo: probe in %s: %w", tgt.Client.Name(), err)
	}
	var idb [2]byte
	_, _ = rand.Read(idb[:])
	p.id = binary.BigEndian.Uint16(idb[:])
	p.record = record
	p.pending = map[uint16]time.Time{}
	p.byMAC = map[string]string{}
	for _, h := range tgt.Nodes {
		p.byMAC[h.MAC().String()] = h.Name()
	}
	ctx, p.cancel = context.WithCancel(ctx)
	context.AfterFunc(ctx, func() {
		_ = rx.SetReadDeadline(time.Now())
	})
	p.wg.Go(func() {
		defer rx.Close()
		p.receive(ctx, rx, tgt.VIP, tgt.Client.Addr().Addr())
	})
	sendCtx, stopSend := context.WithCancel(ctx)
	p.stopSend = stopSend
	p.wg.Go(func() {
		defer tx.Close()
		p.send(sendCtx, tx, tgt.VIP)
	})
	return nil
}

// send writes one echo request per interval and fails the requests whose
// timeout passed.
func (p *Probe) send(ctx context.Context, tx *icmp.PacketConn, vip netip.Addr) {
	dst := &net.IPAddr{IP: vip.AsSlice()}
	tick := time.NewTicker(p.interval())
	defer tick.Stop()
	var seq uint16
	for {
		seq++
		msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: int(p.id), Seq: int(seq), Data: []byte("milvus-ha demo")}}
		wb, err := msg.Marshal(nil)
		if err != nil {
			p.fail(err)
			return
		}
		now := time.Now()
		p.mu.Lock()
		p.pending[seq] = now
		p.sent++
		p.mu.Unlock()
		// A send error (no neighbour yet, unreachable) is a request that
		// gets no answer: it times out like a lost one.
		_, _ = tx.WriteTo(wb, dst)
		p.expire(now)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// expire records a failed Sample for every request older than the timeout.
func (p *Probe) expire(now time.Time) {
	var lost []time.Time
	p.mu.Lock()
	for seq, at := range p.pending {
		if now.Sub(at) >= p.timeout() {
			lost = append(lost, at)
			delete(p.pending, seq)
		}
	}
	p.mu.Unlock()
	for _, at := range lost {
		p.record(Sample{At: at, Latency: p.timeout()})
	}
}

// receive matches echo replies from the VIP to pending requests.
func (p *Probe) receive(ctx context.Context, rx *packet.Conn, vip, self netip.Addr) {
	buf := make([]byte, 1500)
	for {
		n, from, err := rx.ReadFrom(buf)
		now := time.Now()
		if err != nil {
			if ctx.Err() == nil {
				p.fail(err)
			}
			return
		}
		seq, ok := echoReply(buf[:n], vip, self, p.id)
		if !ok {
			continue
		}
		p.mu.Lock()
		at, pending := p.pending[seq]
		delete(p.pending, seq)
		if pending {
			p.ok++
		}
		p.mu.Unlock()
		if !pending {
			continue // late answer to a request already counted as failed
		}
		var by string
		if a, ok := from.(*packet.Addr); ok {
			by = p.byMAC[a.HardwareAddr.String()]
			if by == "" {
				by = a.HardwareAddr.String()
			}
		}
		p.record(Sample{At: at, Latency: now.Sub(at), OK: true, ServedBy: by})
	}
}

// echoReply parses an IPv4 packet and returns the sequence number if it is
// an echo reply from vip to self carrying id.
func echoReply(b []byte, vip, self netip.Addr, id uint16) (uint16, bool) {
	if len(b) < 20 || b[0]>>4 != 4 || b[9] != 1 {
		return 0, false
	}
	hl := int(b[0]&0x0f) * 4
	if hl < 20 || len(b) < hl+8 {
		return 0, false
	}
	src := netip.AddrFrom4([4]byte(b[12:16]))
	dst := netip.AddrFrom4([4]byte(b[16:20]))
	ic := b[hl:]
	if src != vip || dst != self || ic[0] != 0 || ic[1] != 0 || binary.BigEndian.Uint16(ic[4:6]) != id {
		return 0, false
	}
	return binary.BigEndian.Uint16(ic[6:8]), true
}

func (p *Probe) fail(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.mu.Unlock()
}

// Stop implements Workload: it stops sending, gives the outstanding
// requests until their timeout to be answered, and reports the counts (the
// probe has nothing more to verify).
func (p *Probe) Stop(context.Context) (string, error) {
	if p.cancel == nil {
		return "", errors.New("demo: probe not started")
	}
	p.stopSend()
	deadline := time.Now().Add(p.timeout())
	for time.Now().Before(deadline) {
		p.mu.Lock()
		n := len(p.pending)
		p.mu.Unlock()
		if n == 0 {
			break
		}
		time.Sleep(p.interval())
	}
	p.expire(time.Now().Add(p.timeout()))
	p.cancel()
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	summary := fmt.Sprintf("%d echo requests, %d answered", p.sent, p.ok)
	if p.err != nil {
		return summary, fmt.Errorf("demo: probe: %w", p.err)
	}
	return summary, nil
}
