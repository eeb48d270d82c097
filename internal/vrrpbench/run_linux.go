package vrrpbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/milvus-ha/milvus-ha/internal/netlab"
)

// Run measures every setting for milvus-ha and (when installed) keepalived,
// alternating between the two daemons repetition by repetition so that load
// changes on the machine hit both alike, and writes the table to w.
func Run(ctx context.Context, o Options, w io.Writer) (*Report, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("vrrpbench: needs root (network namespaces)")
	}
	daemons := []Daemon{MilvusHA}
	kaNote := ""
	switch o.Keepalived {
	case "none":
		kaNote = "(comparison disabled)"
	case "":
		if path, err := exec.LookPath("keepalived"); err != nil {
			kaNote = "(keepalived not installed)"
		} else {
			o.Keepalived = path
		}
	}
	if kaNote == "" {
		daemons = append(daemons, Keepalived)
	}
	if removed, err := netlab.Sweep(); err != nil {
		o.Logger.Warn("sweeping old labs", "err", err)
	} else if len(removed) > 0 {
		o.Logger.Info("swept labs of dead runs", "namespaces", removed)
	}

	rep := &Report{Reps: o.Reps}
	var gaps []time.Duration
	for _, s := range o.Settings {
		if err := measure(ctx, &o, s, daemons, rep, &gaps); err != nil {
			return nil, err
		}
		if kaNote != "" {
			rep.Results = append(rep.Results, Result{Setting: s, Daemon: Keepalived, Note: kaNote})
		}
	}
	rep.Probe = gapStats(o.ProbeInterval, gaps)
	return rep, rep.Write(w)
}

// measure runs one setting: a lab per daemon, Reps failovers in each.
func measure(ctx context.Context, o *Options, s Setting, daemons []Daemon, rep *Report, gaps *[]time.Duration) error {
	first := len(rep.Results)
	rigs := make([]*rig, len(daemons))
	defer func() {
		for _, r := range rigs {
			if r != nil {
				r.close()
			}
		}
	}()
	for i, d := range daemons {
		rep.Results = append(rep.Results, Result{Setting: s, Daemon: d})
		o.Logger.Info("starting pair", "setting", s.String(), "daemon", d)
		r, err := newRig(ctx, o, s, d)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			rep.Results[first+i].Note = err.Error()
			rep.Results[first+i].Failed = o.Reps
			o.Logger.Error("pair did not come up", "setting", s.String(), "daemon", d, "err", err)
			continue
		}
		rigs[i] = r
	}
	// A repetition whose master was already silent before its link went
	// down (the machine stalled it) measures the stall, not the failover:
	// it is counted as disturbed and repeated, at most Reps times.
	for {
		active := false
		for i, r := range rigs {
			res := &rep.Results[first+i]
			if r == nil || len(res.Samples)+res.Failed >= o.Reps || res.Disturbed >= o.Reps {
				continue
			}
			active = true
			n := len(res.Samples) + res.Failed + 1
			sm, g, err := r.failover(ctx)
			*gaps = append(*gaps, g...)
			switch {
			case errors.Is(err, errDisturbed):
				res.Disturbed++
				o.Logger.Warn("repetition disturbed, repeating it", "setting", s.String(), "daemon", r.daemon, "rep", n, "err", err)
			case err != nil:
				res.Failed++
				o.Logger.Error("failover not measured", "setting", s.String(), "daemon", r.daemon, "rep", n, "err", err)
			default:
				res.Samples = append(res.Samples, sm.took)
				res.Late = append(res.Late, sm.late)
				res.AdvertLate = append(res.AdvertLate, sm.advertLate)
				o.Logger.Info("failover", "setting", s.String(), "daemon", r.daemon, "rep", n,
					"took", round(sm.took), "late", round(sm.late), "advert_late", round(sm.advertLate),
					"first_claim_gratuitous", sm.garp)
			}
			if err := r.restore(ctx); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				res.Failed = o.Reps - len(res.Samples)
				res.Note = "(pair broken: " + err.Error() + "; logs in " + r.dir + ")"
				o.Logger.Error("pair did not recover", "setting", s.String(), "daemon", r.daemon, "err", err, "logs", r.dir)
				r.keep = true
				r.close()
				rigs[i] = nil
			}
		}
		if !active {
			return ctx.Err()
		}
	}
}

// errDisturbed marks a repetition in which the master had stopped sending
// adverts before its link went down.
var errDisturbed = errors.New("master silent before the host loss")

// vip is the address the pair shares; each rig has its own lab.
var vip = netip.MustParseAddr("198.18.0.100")

// rig is one daemon's pair (hosts a, b) plus the client c, in its own lab.
type rig struct {
	o       *Options
	set     Setting
	daemon  Daemon
	lab     *netlab.Lab
	a, b, c *netlab.Host
	probe   *prober
	dir     string // configurations and daemon logs
	keep    bool   // keep dir for a post-mortem
}

func newRig(ctx context.Context, o *Options, s Setting, d Daemon) (_ *rig, err error) {
	r := &rig{o: o, set: s, daemon: d}
	defer func() {
		if err != nil {
			r.keep = true
			r.close()
			err = fmt.Errorf("%w (logs in %s)", err, r.dir)
		}
	}()
	if r.dir, err = os.MkdirTemp("", "milvus-ha-bench-vrrp-"); err != nil {
		return r, err
	}
	if r.lab, err = netlab.New(ctx, netlab.Options{StopGrace: 5 * time.Second}); err != nil {
		return r, err
	}
	for _, h := range []struct {
		p    **netlab.Host
		name string
		addr string
	}{{&r.a, "a", "198.18.0.1/24"}, {&r.b, "b", "198.18.0.2/24"}, {&r.c, "c", "198.18.0.3/24"}} {
		if *h.p, err = r.lab.AddHost(ctx, h.name, netip.MustParsePrefix(h.addr)); err != nil {
			return r, err
		}
	}
	if r.probe, err = startProber(r.c, vip, o.ProbeInterval); err != nil {
		return r, err
	}
	if err := r.start(r.a, masterPriority); err != nil {
		return r, err
	}
	if err := r.start(r.b, backupPriority); err != nil {
		return r, err
	}
	return r, r.waitMaster(ctx, r.a, r.b, 30*time.Second+3*s.MasterDown())
}

// start runs the daemon in host h with the setting's configuration.
func (r *rig) start(h *netlab.Host, prio int) error {
	conf := filepath.Join(r.dir, h.Name()+".conf")
	if err := os.WriteFile(conf, []byte(r.set.Conf(h.Name(), prio, vip)), 0o644); err != nil {
		return err
	}
	var cmd *exec.Cmd
	switch r.daemon {
	case MilvusHA:
		cmd = h.Command(r.o.Binary, "run", "--config", conf)
	case Keepalived:
		cmd = h.Command(r.o.Keepalived, "-n", "-l", "-D", "-G", "--vrrp", "-f", conf,
			"-p", filepath.Join(r.dir, h.Name()+"-keepalived.pid"), "-r", filepath.Join(r.dir, h.Name()+"-vrrp.pid"))
	}
	logf, err := os.Create(conf + ".log")
	if err != nil {
		return err
	}
	defer logf.Close() // the child has its own descriptor
	cmd.Stdout, cmd.Stderr = logf, logf
	_, err = h.Start(cmd)
	return err
}

// waitMaster waits until h answers for the VIP and other no longer holds it.
func (r *rig) waitMaster(ctx context.Context, h, other *netlab.Host, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	r.probe.mark(time.Now(), false)
	if _, err := r.probe.wait(ctx, h.MAC()); err != nil {
		return fmt.Errorf("VIP not answered by %s: %w", h.Name(), err)
	}
	for {
		held, err := holds(other)
		if err != nil {
			return err
		}
		if !held {
			return nil
		}
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			return fmt.Errorf("%s does not give the VIP up: %w", other.Name(), err)
		}
	}
}

// sample is one measured failover.
type sample struct {
	took time.Duration // host loss → first claim by the backup
	late time.Duration // first claim − (master's last advert + MDI)
	// advertLate is the backup's first advert as master − (master's last
	// advert + MDI): its down timer's own lateness.
	advertLate time.Duration
	garp       bool // the first claim was a gratuitous ARP
}

// failover takes the master's link down and measures until the backup
// claims the VIP. It returns the probe gaps seen meanwhile.
func (r *rig) failover(ctx context.Context) (sample, []time.Duration, error) {
	// A random phase within the advert cycle, after at least two adverts
	// since the last failback.
	if err := sleep(ctx, 2*r.set.Advert+rand.N(r.set.Advert)); err != nil {
		return sample{}, nil, err
	}
	if held, err := holds(r.b); err != nil {
		return sample{}, nil, err
	} else if held {
		return sample{}, nil, errors.New("backup holds the VIP before the host loss (flapping)")
	}
	t0 := time.Now()
	r.probe.mark(t0, true)
	if err := r.a.LinkDown(); err != nil {
		return sample{}, nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second+10*r.set.MasterDown())
	defer cancel()
	c, err := r.probe.wait(wctx, r.b.MAC())
	gaps := r.probe.takeGaps()
	if err != nil {
		return sample{}, gaps, fmt.Errorf("backup never claimed the VIP: %w", err)
	}
	last, ok := r.probe.lastAdvert(r.a.MAC())
	if !ok {
		return sample{}, gaps, errors.New("the client never saw an advert from the master")
	}
	if silent := t0.Sub(last); silent > r.set.Advert*3/2+2*time.Millisecond {
		return sample{}, gaps, fmt.Errorf("%w: last advert %v before", errDisturbed, round(silent))
	}
	sm := sample{took: c.at.Sub(t0), late: c.at.Sub(last) - r.set.MasterDown(), garp: c.garp}
	// The backup's first advert as master goes out just before its VIP
	// and GARPs: wait for it briefly.
	deadline := time.Now().Add(r.set.Advert + 100*time.Millisecond)
	for {
		if adv, ok := r.probe.firstAdvert(r.b.MAC()); ok {
			sm.advertLate = adv.Sub(last) - r.set.MasterDown()
			return sm, gaps, nil
		}
		if time.Now().After(deadline) {
			return sm, gaps, errors.New("the backup claimed the VIP but sent no advert")
		}
		if err := sleep(ctx, time.Millisecond); err != nil {
			return sm, gaps, err
		}
	}
}

// restore brings the master's link back and waits for it to preempt.
func (r *rig) restore(ctx context.Context) error {
	if err := r.a.LinkUp(); err != nil {
		return err
	}
	return r.waitMaster(ctx, r.a, r.b, 30*time.Second+3*r.set.MasterDown())
}

func (r *rig) close() {
	if r.probe != nil {
		r.probe.close()
	}
	if r.lab != nil {
		if err := r.lab.Close(); err != nil {
			r.o.Logger.Warn("closing lab", "err", err)
		}
	}
	if r.dir != "" && !r.keep {
		os.RemoveAll(r.dir)
	}
}

// holds reports whether h has the VIP on eth0.
func holds(h *netlab.Host) (bool, error) {
	var held bool
	err := h.Do(func() error {
		link, err := netlink.LinkByName(h.Ifname())
		if err != nil {
			return err
		}
		addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap() == vip {
				held = true
			}
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("vrrpbench: addresses of %s: %w", h.Name(), err)
	}
	return held, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
