package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type faultKind string

const (
	fHostLoss    faultKind = "host-loss"           // LinkDown / LinkUp of a keeper host
	fKill        faultKind = "kill"                // kill -9 of a keeper, restart
	fPause       faultKind = "pause"               // SIGSTOP of the active keeper past the lease, SIGCONT
	fCut         faultKind = "cut"                 // partition between a and b only
	fStorageEIO  faultKind = "storage-eio"         // every storage operation of one host fails with EIO
	fStorageHang faultKind = "storage-hang"        // every storage operation of one host blocks (vanished mount)
	fSlowIO      faultKind = "slow-io"             // writes and syncs of one host take 100-600 ms
	fFlap        faultKind = "flap"                // the health check of one host flaps
	fSwitchover  faultKind = "switchover"          // rapid planned switchovers (switchover, resume)
	fRecovery    faultKind = "restart-in-recovery" // kill -9 again while a keeper recovers or takes over
)

var storageKinds = []faultKind{fStorageEIO, fStorageHang, fSlowIO}

func allKinds(storage bool) []faultKind {
	ks := []faultKind{fHostLoss, fKill, fPause, fCut, fFlap, fSwitchover, fRecovery}
	if storage {
		ks = append(ks, storageKinds...)
	}
	return ks
}

// fault is one planned fault: everything random is drawn when the cycle is
// planned, from the run's seed, so a seed replays the same schedule (the
// timing of the system under test is not replayable).
type fault struct {
	Kind    faultKind
	Target  string        // "active", "standby" or a host name; resolved at injection
	Offset  time.Duration // after the cycle start
	Hold    time.Duration // how long the fault lasts
	Param   time.Duration // kind-specific: flap period, slow-I/O latency, second kill delay
	Count   int           // switchovers in a row; kill the peer too (restart-in-recovery)
	Seed    uint64        // for the fault's own random choices while it runs
	Host    string        // resolved target
	At, End time.Duration // run clock
	Note    string
	Cycle   int
}

// planCycle draws one cycle of 1-4 different faults (2.7 on average: a CI
// run needs many faults in little time, and combinations are where bugs
// hide), overlapping in time.
func planCycle(r *rand.Rand, kinds []faultKind, cycle int) []*fault {
	n := 1
	switch p := r.IntN(100); {
	case p >= 75:
		n = 4
	case p >= 40:
		n = 3
	case p >= 15:
		n = 2
	}
	perm := r.Perm(len(kinds))
	var out []*fault
	for _, i := range perm[:min(n, len(kinds))] {
		f := &fault{Kind: kinds[i], Cycle: cycle, Seed: r.Uint64()}
		if n > 1 {
			f.Offset = time.Duration(r.IntN(400)) * time.Millisecond
		}
		ms := func(lo, hi int) time.Duration { return time.Duration(lo+r.IntN(hi-lo+1)) * time.Millisecond }
		target := []string{"active", "active", "standby", "a", "b"}[r.IntN(5)]
		switch f.Kind {
		case fHostLoss:
			f.Hold = ms(500, 1500)
		case fKill:
			f.Hold = ms(100, 1000)
		case fPause:
			target = "active"
			f.Hold = ms(600, 1500) // lease 500 ms
		case fCut:
			target = ""
			f.Hold = ms(500, 1500)
		case fStorageEIO, fStorageHang:
			f.Hold = ms(400, 1500)
		case fSlowIO:
			f.Hold = ms(800, 2000)
			f.Param = ms(100, 600)
		case fFlap:
			f.Hold = ms(500, 1500)
			f.Param = ms(50, 300)
		case fSwitchover:
			target = "active"
			f.Count = 2 + r.IntN(2)
			f.Param = ms(50, 300)
		case fRecovery:
			target = "active"
			f.Hold = ms(0, 400)    // restart, then the second kill after this
			f.Param = ms(200, 900) // kill the peer while it takes over, after this
			f.Count = r.IntN(2)    // 1: kill the peer too
		}
		f.Target = target
		out = append(out, f)
	}
	return out
}

// note keeps the gist of an error for the report: the server's "error"
// field if there is one, on one line.
func note(err error) string {
	s := err.Error()
	if i := strings.Index(s, `"error": "`); i >= 0 {
		s = s[i+len(`"error": "`):]
		if j := strings.IndexByte(s, '"'); j >= 0 {
			s = s[:j]
		}
	}
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return s
}

// injector applies faults to a cluster.
type injector struct {
	cl   *cluster
	vip  *vipSampler
	hist *history
	// direct counts the reads sent to frozen primaries (direct_test.go);
	// directIDs numbers them as clients of their own, since they overlap.
	direct    directStats
	directIDs atomic.Int64
	// bg holds reads still waiting for a thawed host after their fault.
	bg sync.WaitGroup
}

func (in *injector) resolve(target string) *node {
	switch target {
	case "", "active", "standby":
		h := in.vip.holder()
		if h == nil {
			h = in.cl.nodes[0]
		}
		if target == "standby" {
			return in.cl.other(h)
		}
		return h
	}
	return in.cl.node(target)
}

// run injects f and heals it after its hold time.
func (in *injector) run(ctx context.Context, f *fault) {
	cl := in.cl
	sleep := func(d time.Duration) {
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
	}
	sleep(f.Offset)
	n := in.resolve(f.Target)
	f.Host = n.name
	f.At = cl.since()
	defer func() { f.End = cl.since() }()
	r := rand.New(rand.NewPCG(f.Seed, 1))
	switch f.Kind {
	case fHostLoss:
		if err := n.h.LinkDown(); err != nil {
			f.Note = note(err)
			return
		}
		sleep(f.Hold)
		if err := n.h.LinkUp(); err != nil {
			f.Note = note(err)
		}
	case fKill:
		cl.killNode(n)
		sleep(f.Hold)
		if err := cl.startNode(n); err != nil {
			f.Note = note(err)
		}
	case fPause:
		d := in.newDirectReader(ctx, n)
		if !cl.freeze(n) {
			f.Note = "not running"
			if d != nil {
				d.c.Close(context.Background())
			}
			return
		}
		if d != nil {
			d.run(ctx, cl.since())
		}
		sleep(f.Hold)
		cl.thaw(n)
		if d != nil {
			d.end()
		}
	case fCut:
		f.Host = "a|b"
		if err := cl.lab.Cut(cl.nodes[0].h, cl.nodes[1].h); err != nil {
			f.Note = note(err)
			return
		}
		sleep(f.Hold)
		if err := cl.lab.Heal(cl.nodes[0].h, cl.nodes[1].h); err != nil {
			f.Note = note(err)
		}
	case fStorageEIO, fStorageHang, fSlowIO:
		if n.fs == nil {
			f.Note = "no storage layer"
			return
		}
		switch f.Kind {
		case fStorageEIO:
			n.fs.set(fsEIO, 0)
		case fStorageHang:
			n.fs.set(fsHang, 0)
		case fSlowIO:
			n.fs.set(fsOK, f.Param)
		}
		sleep(f.Hold)
		n.fs.set(fsOK, 0)
	case fFlap:
		healthy := true
		for end := time.Now().Add(f.Hold); time.Now().Before(end) && ctx.Err() == nil; {
			healthy = !healthy
			n.setHealthy(healthy)
			sleep(f.Param/2 + time.Duration(r.Int64N(int64(f.Param))))
		}
		n.setHealthy(true)
	case fSwitchover:
		for i := 0; i < f.Count; i++ {
			n := in.resolve("active")
			if err := cl.control(ctx, n, "switchover"); err != nil {
				f.Note = note(err)
			}
			sleep(f.Param)
			if err := cl.control(ctx, n, "resume"); err != nil {
				f.Note = note(err)
			}
			sleep(f.Param)
		}
	case fRecovery:
		cl.killNode(n)
		var wg sync.WaitGroup
		if f.Count == 1 {
			// The peer is taking over (waiting out the lease, sealing,
			// promoting): kill it in the middle and restart it.
			peer := cl.other(n)
			wg.Add(1)
			go func() {
				defer wg.Done()
				sleep(f.Param)
				cl.killNode(peer)
				sleep(time.Duration(r.IntN(300)) * time.Millisecond)
				_ = cl.startNode(peer)
			}()
		}
		_ = cl.startNode(n)
		sleep(f.Hold) // n is opening its store: checkpoint, log replay
		cl.killNode(n)
		sleep(time.Duration(r.IntN(300)) * time.Millisecond)
		if err := cl.startNode(n); err != nil {
			f.Note = note(err)
		}
		wg.Wait()
	}
}

// healAll undoes anything a fault may have left behind (a fault cut short
// by the end of the run).
func (in *injector) healAll() []string {
	cl := in.cl
	var errs []string
	_ = cl.lab.Heal(cl.nodes[0].h, cl.nodes[1].h)
	for _, n := range cl.nodes {
		if err := n.h.LinkUp(); err != nil {
			errs = append(errs, err.Error())
		}
		if n.fs != nil {
			n.fs.set(fsOK, 0)
		}
		n.setHealthy(true)
		cl.thaw(n)
		if err := cl.startNode(n); err != nil {
			errs = append(errs, fmt.Sprintf("restart %s: %v", n.name, err))
		}
	}
	return errs
}
