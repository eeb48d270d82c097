package netif

import (
	"testing"

	"github.com/milvus-ha/milvus-ha/internal/netlab"
)

// netlabFor builds a two-host lab for a benchmark.
func netlabFor(b *testing.B) []*netlab.Host {
	l := netlab.NewT(b, netlab.Options{})
	return []*netlab.Host{l.AddHostT(b, "a", "198.18.0.1/24"), l.AddHostT(b, "b", "198.18.0.2/24")}
}

func listenB(b *testing.B, h *netlab.Host, fam Family) *Conn {
	var c *Conn
	if err := h.Do(func() error {
		var err error
		c, err = Listen("eth0", fam, Options{})
		return err
	}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}
