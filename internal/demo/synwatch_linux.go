package demo

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/milvus-ha/milvus-ha/internal/netlab"
)

// synWatch learns which node accepted each of the client's TCP
// connections to the VIP: it reads the SYN-ACKs arriving on the client
// host's eth0 and remembers, per client port, the node whose MAC sent the
// latest one.
type synWatch struct {
	rx    *packet.Conn
	done  chan struct{}
	byMAC map[string]string

	mu      sync.Mutex
	ports   map[uint16]synSeen
	changed chan struct{} // closed and replaced on every new SYN-ACK
}

type synSeen struct {
	node string
	at   time.Time
}

// synAckFilter passes TCP segments with SYN and ACK set (cBPF on a
// SOCK_DGRAM packet socket, so offset 0 is the IPv4 header), keeping the
// workload's own traffic out of the socket.
func synAckFilter() ([]bpf.RawInstruction, error) {
	return bpf.Assemble([]bpf.Instruction{
		bpf.LoadAbsolute{Off: 9, Size: 1},                       // IPv4 protocol
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 6, SkipTrue: 5}, // not TCP
		bpf.LoadMemShift{Off: 0},                                // X = IPv4 header length
		bpf.LoadIndirect{Off: 13, Size: 1},                      // TCP flags
		bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0x12},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 0x12, SkipTrue: 1}, // not SYN+ACK
		bpf.RetConstant{Val: 256},
		bpf.RetConstant{Val: 0},
	})
}

// watchSynAcks starts watching client's eth0 for SYN-ACKs from vip:port.
func watchSynAcks(client *netlab.Host, vip netip.Addr, port uint16, byMAC map[string]string) (*synWatch, error) {
	filter, err := synAckFilter()
	if err != nil {
		return nil, fmt.Errorf("SYN-ACK filter: %w", err)
	}
	var rx *packet.Conn
	err = client.Do(func() error {
		ifi, err := net.InterfaceByName(client.Ifname())
		if err != nil {
			return err
		}
		rx, err = packet.Listen(ifi, packet.Datagram, unix.ETH_P_IP, &packet.Config{Filter: filter})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("packet socket in %s: %w", client.Name(), err)
	}
	w := &synWatch{rx: rx, done: make(chan struct{}), byMAC: byMAC, ports: map[uint16]synSeen{}, changed: make(chan struct{})}
	go w.read(vip, port)
	return w, nil
}

func (w *synWatch) read(vip netip.Addr, port uint16) {
	defer close(w.done)
	buf := make([]byte, 1500)
	for {
		n, from, err := w.rx.ReadFrom(buf)
		if err != nil {
			return // closed
		}
		now := time.Now()
		dst, ok := synAck(buf[:n], vip, port)
		if !ok {
			continue
		}
		node := ""
		if a, ok := from.(*packet.Addr); ok {
			node = w.byMAC[a.HardwareAddr.String()]
			if node == "" {
				node = a.HardwareAddr.String()
			}
		}
		w.mu.Lock()
		w.ports[dst] = synSeen{node: node, at: now}
		close(w.changed)
		w.changed = make(chan struct{})
		w.mu.Unlock()
	}
}

// node returns the node that sent the SYN-ACK to local port p at or after
// since, waiting up to wait for the reader to see it ("" if it did not).
// The SYN-ACK reached the packet socket before connect returned; only the
// reader goroutine may lag.
func (w *synWatch) node(p uint16, since time.Time, wait time.Duration) string {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		w.mu.Lock()
		s, ok := w.ports[p]
		ch := w.changed
		w.mu.Unlock()
		if ok && !s.at.Before(since) {
			return s.node
		}
		select {
		case <-ch:
		case <-deadline.C:
			return ""
		}
	}
}

func (w *synWatch) close() {
	w.rx.Close()
	<-w.done
}

// synAck parses an IPv4 packet and returns the destination port if it is
// a TCP SYN-ACK from vip:port.
func synAck(b []byte, vip netip.Addr, port uint16) (uint16, bool) {
	if len(b) < 20 || b[0]>>4 != 4 || b[9] != 6 {
		return 0, false
	}
	hl := int(b[0]&0x0f) * 4
	if hl < 20 || len(b) < hl+14 {
		return 0, false
	}
	if netip.AddrFrom4([4]byte(b[12:16])) != vip {
		return 0, false
	}
	tcp := b[hl:]
	if binary.BigEndian.Uint16(tcp[0:2]) != port || tcp[13]&0x12 != 0x12 {
		return 0, false
	}
	return binary.BigEndian.Uint16(tcp[2:4]), true
}
