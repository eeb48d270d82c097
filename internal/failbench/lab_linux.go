package failbench

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/milvus-ha/milvus-ha/internal/netlab"
)

// vip is the address both systems share; each rig has its own lab.
var vip = netip.MustParseAddr("198.18.0.100")

const milvusPort = "19530"

// rigLab is the common part of both rigs: a lab with hosts a (preferred),
// b and the client c, a directory for configurations and logs, and the
// shared data directory.
type rigLab struct {
	lab     *netlab.Lab
	a, b, c *netlab.Host
	dir     string // configurations, scripts, logs
	data    string // the shared storage
	keep    bool   // keep dir for a post-mortem
	nl      map[*netlab.Host]*netlink.Handle
}

func newRigLab(ctx context.Context, name string) (*rigLab, error) {
	r := &rigLab{nl: map[*netlab.Host]*netlink.Handle{}}
	var err error
	if r.dir, err = os.MkdirTemp("", "milvus-ha-bench-failover-"+name+"-"); err != nil {
		return nil, err
	}
	r.data = filepath.Join(r.dir, "shared")
	if err := os.MkdirAll(r.data, 0o755); err != nil {
		r.close()
		return nil, err
	}
	if r.lab, err = netlab.New(ctx, netlab.Options{StopGrace: 5 * time.Second}); err != nil {
		r.close()
		return nil, err
	}
	for _, h := range []struct {
		p    **netlab.Host
		name string
		addr string
	}{{&r.a, "a", "198.18.0.1/24"}, {&r.b, "b", "198.18.0.2/24"}, {&r.c, "c", "198.18.0.3/24"}} {
		if *h.p, err = r.lab.AddHost(ctx, h.name, netip.MustParsePrefix(h.addr)); err != nil {
			r.close()
			return nil, err
		}
	}
	for _, h := range []*netlab.Host{r.a, r.b} {
		ns, err := netns.GetFromName(h.NetNS())
		if err != nil {
			r.close()
			return nil, fmt.Errorf("failbench: open %s: %w", h.NetNS(), err)
		}
		handle, err := netlink.NewHandleAt(ns)
		ns.Close()
		if err != nil {
			r.close()
			return nil, fmt.Errorf("failbench: netlink in %s: %w", h.NetNS(), err)
		}
		r.nl[h] = handle
	}
	return r, nil
}

func (r *rigLab) close() {
	for _, h := range r.nl {
		h.Close()
	}
	if r.lab != nil {
		_ = r.lab.Close()
	}
	if r.dir != "" && !r.keep {
		os.RemoveAll(r.dir)
	}
}

// holds reports whether h has the VIP on eth0.
func (r *rigLab) holds(h *netlab.Host) (bool, error) {
	handle := r.nl[h]
	link, err := handle.LinkByName(h.Ifname())
	if err != nil {
		return false, fmt.Errorf("failbench: %s eth0: %w", h.Name(), err)
	}
	addrs, err := handle.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return false, fmt.Errorf("failbench: addresses of %s: %w", h.Name(), err)
	}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap() == vip {
			return true, nil
		}
	}
	return false, nil
}

// dropVIP removes a leftover VIP from h's eth0, as a reboot would.
func (r *rigLab) dropVIP(h *netlab.Host) error {
	handle := r.nl[h]
	link, err := handle.LinkByName(h.Ifname())
	if err != nil {
		return fmt.Errorf("failbench: %s eth0: %w", h.Name(), err)
	}
	a := &netlink.Addr{IPNet: netlink.NewIPNet(vip.AsSlice())}
	a.IPNet.Mask = []byte{255, 255, 255, 0}
	if err := handle.AddrDel(link, a); err != nil && !errors.Is(err, syscall.EADDRNOTAVAIL) {
		return fmt.Errorf("failbench: drop VIP on %s: %w", h.Name(), err)
	}
	return nil
}

// watchVIP polls every 2 ms, from now until ctx ends, for the VIP on h and
// returns a function giving the first time it was seen there (zero if not).
func (r *rigLab) watchVIP(ctx context.Context, h *netlab.Host) func() time.Time {
	var (
		mu   sync.Mutex
		seen time.Time
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if held, err := r.holds(h); err == nil && held {
				mu.Lock()
				seen = time.Now()
				mu.Unlock()
				return
			}
			_ = sleep(ctx, 2*time.Millisecond)
		}
	}()
	return func() time.Time {
		<-done
		mu.Lock()
		defer mu.Unlock()
		return seen
	}
}

// freeze stops a process group at once (SIGSTOP): it can neither send nor
// react, as on a host that just lost power.
func freeze(p *netlab.Process) {
	_ = syscall.Kill(-p.PID(), syscall.SIGSTOP)
}

// children lists the PIDs whose parent is pid.
func children(pid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		c, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) && f[0] != "Z" {
			out = append(out, c)
		}
	}
	return out
}

// cpuTicks is a process's user+system time in clock ticks.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("failbench: /proc/%d/stat: too few fields", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("failbench: /proc/%d/stat: %w", pid, err)
	}
	return u + st, nil
}

// waitIdle waits until pid used under a quarter of a CPU over a whole
// second: a standby that has applied the log it was tailing (applying
// takes a whole CPU). An idle keeper is not at 0: it reads the lease every
// 10 ms and beacons, which on a loaded host hovered around 10%, so a 10%
// bar could wait out its 10-minute bound.
func waitIdle(ctx context.Context, pid int) error {
	prev, err := cpuTicks(pid)
	if err != nil {
		return err
	}
	for {
		if err := sleep(ctx, time.Second); err != nil {
			return fmt.Errorf("failbench: pid %d never went idle: %w", pid, err)
		}
		cur, err := cpuTicks(pid)
		if err != nil {
			return err
		}
		if cur-prev < 25 { // ticks are 10 ms (USER_HZ 100)
			return nil
		}
		prev = cur
	}
}
