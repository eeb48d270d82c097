package chaos

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// vipSampler polls eth0's addresses in each keeper host every 20 ms through
// a netlink socket opened inside the host (no process per sample) and keeps
// the transitions of "holds the VIP".
type vipSampler struct {
	since func() time.Duration
	hosts []*node

	mu      sync.Mutex
	edges   map[string][]vipEdge // per host, in time order
	has     map[string]bool
	errs    int
	lastErr error
	samples int
}

type vipEdge struct {
	At  time.Duration
	Has bool
}

type vipProbe struct {
	h    *netlink.Handle
	link netlink.Link
}

func newVIPSampler(since func() time.Duration, hosts []*node) *vipSampler {
	return &vipSampler{since: since, hosts: hosts, edges: map[string][]vipEdge{}, has: map[string]bool{}}
}

// run samples until ctx ends.
func (s *vipSampler) run(ctx context.Context) error {
	want := netip.MustParseAddr(vip)
	probes := make([]vipProbe, len(s.hosts))
	for i, n := range s.hosts {
		err := n.h.Do(func() error {
			h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
			if err != nil {
				return err
			}
			link, err := h.LinkByName("eth0")
			if err != nil {
				h.Close()
				return err
			}
			probes[i] = vipProbe{h: h, link: link}
			return nil
		})
		if err != nil {
			return fmt.Errorf("vip sampler in %s: %w", n.name, err)
		}
		defer probes[i].h.Close()
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		for i, p := range probes {
			addrs, err := p.h.AddrList(p.link, netlink.FAMILY_V4)
			at := s.since()
			if err != nil {
				s.mu.Lock()
				s.errs++
				s.lastErr = err
				s.mu.Unlock()
				continue
			}
			has := false
			for _, a := range addrs {
				if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap() == want {
					has = true
				}
			}
			name := s.hosts[i].name
			s.mu.Lock()
			if has != s.has[name] {
				s.has[name] = has
				s.edges[name] = append(s.edges[name], vipEdge{At: at, Has: has})
			}
			s.mu.Unlock()
		}
		s.mu.Lock()
		s.samples++
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// holder is the only host holding the VIP now, or nil.
func (s *vipSampler) holder() *node {
	s.mu.Lock()
	defer s.mu.Unlock()
	var h *node
	for _, n := range s.hosts {
		if s.has[n.name] {
			if h != nil {
				return nil
			}
			h = n
		}
	}
	return h
}

// interval is a closed time range on the run clock.
type interval struct{ From, To time.Duration }

func (i interval) len() time.Duration { return i.To - i.From }

// held returns when host name held the VIP, up to end.
func (s *vipSampler) held(name string, end time.Duration) []interval {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []interval
	var from time.Duration = -1
	for _, e := range s.edges[name] {
		if e.Has && from < 0 {
			from = e.At
		} else if !e.Has && from >= 0 {
			out = append(out, interval{from, e.At})
			from = -1
		}
	}
	if from >= 0 {
		out = append(out, interval{from, end})
	}
	return out
}

// intersect returns the pairwise intersections of two sorted interval lists.
func intersect(a, b []interval) []interval {
	var out []interval
	for i, j := 0, 0; i < len(a) && j < len(b); {
		from, to := max(a[i].From, b[j].From), min(a[i].To, b[j].To)
		if from < to {
			out = append(out, interval{from, to})
		}
		if a[i].To < b[j].To {
			i++
		} else {
			j++
		}
	}
	return out
}

// subtract removes the (sorted, possibly overlapping) intervals cut from
// each interval of in.
func subtract(in, cut []interval) []interval {
	var out []interval
	for _, iv := range in {
		rest := []interval{iv}
		for _, c := range cut {
			var next []interval
			for _, r := range rest {
				if c.To <= r.From || c.From >= r.To {
					next = append(next, r)
					continue
				}
				if c.From > r.From {
					next = append(next, interval{r.From, c.From})
				}
				if c.To < r.To {
					next = append(next, interval{c.To, r.To})
				}
			}
			rest = next
		}
		out = append(out, rest...)
	}
	return out
}

// health returns how many sampling rounds ran and how many reads failed.
func (s *vipSampler) health() (samples, errs int, last error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.samples, s.errs, s.lastErr
}
