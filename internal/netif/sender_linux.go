package netif

import (
	"fmt"
	"net"
	"sync"

	"golang.org/x/sys/unix"
)

// FrameSender writes complete Ethernet frames on one interface through an
// AF_PACKET socket, as keepalived does for GARP and NA. Its protocol is 0,
// so it never receives anything.
type FrameSender struct {
	ifi *net.Interface
	mu  sync.Mutex
	fd  int
}

// OpenFrameSender opens a send-only packet socket on ifname.
func OpenFrameSender(ifname string) (*FrameSender, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("netif: interface %q: %w", ifname, err)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("netif: packet socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifi.Index}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netif: bind packet socket to %s: %w", ifname, err)
	}
	return &FrameSender{ifi: ifi, fd: fd}, nil
}

// Send transmits frame (Ethernet header included) on the interface.
func (s *FrameSender) Send(frame []byte) error {
	if len(frame) < 14 {
		return fmt.Errorf("netif: frame of %d bytes has no Ethernet header", len(frame))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return fmt.Errorf("netif: frame sender on %s closed", s.ifi.Name)
	}
	sa := &unix.SockaddrLinklayer{Ifindex: s.ifi.Index, Halen: 6}
	copy(sa.Addr[:], frame[:6])
	if err := unix.Sendto(s.fd, frame, 0, sa); err != nil {
		return fmt.Errorf("netif: send frame on %s: %w", s.ifi.Name, err)
	}
	return nil
}

// Close closes the socket.
func (s *FrameSender) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return nil
	}
	err := unix.Close(s.fd)
	s.fd = -1
	return err
}
