package netif

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/netlab"
	"golang.org/x/sys/unix"
)

// capture is an AF_PACKET reader in a lab host: every frame eth0 sees.
type capture struct{ fd int }

func openCapture(h *netlab.Host) (*capture, error) {
	var c capture
	err := h.Do(func() error {
		proto := int(htons(unix.ETH_P_ALL))
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return err
		}
		c.fd = fd
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index})
	})
	if err != nil {
		if c.fd > 0 {
			unix.Close(c.fd)
		}
		return nil, err
	}
	tv := unix.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(c.fd)
		return nil, err
	}
	return &c, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// next returns the first incoming frame for which match is true.
func (c *capture) next(ctx context.Context, match func(f []byte) bool) ([]byte, error) {
	buf := make([]byte, 2048)
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("no matching frame: %w", err)
		}
		n, from, err := unix.Recvfrom(c.fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		if n >= 14 && match(buf[:n]) {
			return append([]byte(nil), buf[:n]...), nil
		}
	}
}

func (c *capture) close() { unix.Close(c.fd) }

func etherType(f []byte) uint16 { return binary.BigEndian.Uint16(f[12:14]) }
