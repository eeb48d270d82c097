package speaker_test

import (
	"context"
	"net/netip"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/milvus-ha/milvus-ha/internal/config"
	"github.com/milvus-ha/milvus-ha/internal/netlab"
	"github.com/milvus-ha/milvus-ha/internal/speaker"
	"github.com/milvus-ha/milvus-ha/internal/vrrp"
)

// slowGate blocks BecomeMaster and/or LeftMaster until release is closed,
// like a keeper whose service takes seconds to start or stop (the embedded
// API drains clients for up to 5 s after the VIP is gone).
type slowGate struct {
	blockEnter, blockLeave bool
	release                chan struct{}
	entering, leaving      atomic.Int32 // calls in progress
	enters, leaves         atomic.Int32 // calls made
}

func newSlowGate(enter, leave bool) *slowGate {
	return &slowGate{blockEnter: enter, blockLeave: leave, release: make(chan struct{})}
}

func (g *slowGate) open() {
	select {
	case <-g.release:
	default:
		close(g.release)
	}
}

// BecomeMaster ignores ctx on purpose: a late yes must be given back.
func (g *slowGate) BecomeMaster(context.Context) error {
	g.enters.Add(1)
	g.entering.Add(1)
	defer g.entering.Add(-1)
	if g.blockEnter {
		<-g.release
	}
	return nil
}

func (g *slowGate) LeftMaster(context.Context) {
	g.leaves.Add(1)
	g.leaving.Add(1)
	defer g.leaving.Add(-1)
	if g.blockLeave {
		<-g.release
	}
}

// node is an in-process speaker instance in a lab host.
type node struct {
	in  *speaker.Instance
	reg *prometheus.Registry
}

// runNode starts one VRRP instance (VRID 51, advert 100 ms, the pair's
// VIP) inside h. The socket is opened and Run runs on a thread inside h's
// namespace (netlink calls act there); it stops at cleanup.
func runNode(t *testing.T, p *pair, h *netlab.Host, prio int, gate speaker.Gate) *node {
	t.Helper()
	conf := p.conf(t, h.Name(), instance{priority: prio})
	data, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := config.ParseKeepalived(conf, data)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{reg: prometheus.NewRegistry()}
	opts := speaker.Options{Metrics: speaker.NewMetrics(n.reg), Gate: gate}
	if err := h.Do(func() (err error) { n.in, err = speaker.New(cfg.Instances[0], opts); return err }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Do(func() error { return n.in.Run(ctx) }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s: Run: %v", h.Name(), err)
		}
	})
	switch g := gate.(type) {
	case *slowGate:
		t.Cleanup(g.open) // runs first: Run waits for the gate's calls
	case *handoverGate:
		t.Cleanup(g.open)
	}
	return n
}

// received is the number of valid adverts the node has processed.
func (n *node) received(t *testing.T) float64 {
	t.Helper()
	mfs, err := n.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "milvusha_vrrp_adverts_received_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

// waitFor polls cond until it holds; the deadline only bounds a broken run.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (n *node) is(state vrrp.State, master netip.Addr) bool {
	st, _ := n.in.Status()
	return st.State == state && (!master.IsValid() || st.Master == master)
}

// A master that yields keeps hearing the new master while its gate's
// LeftMaster is still stopping the service. (Regression: the loop used to
// wait for LeftMaster, so a yielding keeper read no adverts and sent none
// for as long as its API drained clients: its peer saw a silent node, and
// it later acted on a backlog of stale packets.)
func TestSlowLeftMasterKeepsListening(t *testing.T) {
	p := newPair(t)
	gate := newSlowGate(false, true)
	b := runNode(t, p, p.b, 100, gate)
	waitFor(t, "b is master", func() bool { return b.is(vrrp.StateMaster, netip.Addr{}) })
	waitFor(t, "b holds the VIP", func() bool { return holds(t, p.b, p.vip) })

	a := runNode(t, p, p.a, 150, nil) // preempts
	aAddr := p.a.Addr().Addr()
	waitFor(t, "b is backup behind a", func() bool { return b.is(vrrp.StateBackup, aAddr) })
	if gate.leaving.Load() != 1 {
		t.Fatalf("b's LeftMaster calls in progress: %d, want 1 (still stopping)", gate.leaving.Load())
	}
	if holds(t, p.b, p.vip) {
		t.Fatal("b still holds the VIP after leaving MASTER")
	}
	seen := b.received(t)
	waitFor(t, "b keeps receiving a's adverts while stopping", func() bool { return b.received(t) >= seen+5 })
	if gate.leaving.Load() != 1 || !a.is(vrrp.StateMaster, netip.Addr{}) {
		t.Fatalf("want b still stopping and a master; leaving=%d", gate.leaving.Load())
	}
	gate.open()
	waitFor(t, "LeftMaster returned", func() bool { return gate.leaving.Load() == 0 })
	if n := gate.leaves.Load(); n != 1 {
		t.Fatalf("LeftMaster called %d times, want 1", n)
	}
}

// A node whose gate is still deciding keeps advertising as master, so the
// lower-priority master it preempts stays backup; the VIP is added only
// when the gate says yes. (Regression: the loop used to send one advert and
// then wait for BecomeMaster, so the old master's down timer expired and it
// took the election back while the gate was waiting for its release.)
func TestSlowBecomeMasterKeepsAdvertising(t *testing.T) {
	p := newPair(t)
	a := runNode(t, p, p.a, 100, nil)
	waitFor(t, "a is master", func() bool { return a.is(vrrp.StateMaster, netip.Addr{}) })

	gate := newSlowGate(true, false)
	b := runNode(t, p, p.b, 150, gate)
	bAddr := p.b.Addr().Addr()
	waitFor(t, "b's gate is deciding", func() bool { return gate.entering.Load() == 1 })
	seen := a.received(t)
	waitFor(t, "a receives b's adverts while b's gate decides", func() bool { return a.received(t) >= seen+10 })
	if !a.is(vrrp.StateBackup, bAddr) || gate.entering.Load() != 1 {
		st, _ := a.in.Status()
		t.Fatalf("a should stay backup behind b while b's gate decides: %+v (entering %d)", st, gate.entering.Load())
	}
	if holds(t, p.b, p.vip) {
		t.Fatal("b added the VIP before its gate said yes")
	}
	gate.open()
	waitFor(t, "b holds the VIP", func() bool { return holds(t, p.b, p.vip) })
	if !b.is(vrrp.StateMaster, netip.Addr{}) {
		t.Fatal("b is not master after its gate said yes")
	}
}

// If the instance leaves MASTER while its gate is deciding, a late yes is
// given back with LeftMaster and the VIP is never added.
func TestGateLateYesGivenBack(t *testing.T) {
	p := newPair(t)
	gate := newSlowGate(true, false)
	b := runNode(t, p, p.b, 100, gate)
	waitFor(t, "b's gate is deciding", func() bool { return gate.entering.Load() == 1 })
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	if err := b.in.Inhibit(ctx, "test", true); err != nil {
		t.Fatalf("inhibit while the gate decides: %v", err)
	}
	waitFor(t, "b is in FAULT", func() bool { return b.is(vrrp.StateFault, netip.Addr{}) })
	gate.open()
	waitFor(t, "the late yes is given back", func() bool { return gate.leaves.Load() == 1 && gate.leaving.Load() == 0 })
	if holds(t, p.b, p.vip) {
		t.Fatal("b added the VIP although it left MASTER before its gate said yes")
	}
	if n := gate.enters.Load(); n != 1 {
		t.Fatalf("BecomeMaster called %d times, want 1", n)
	}
}

// handoverGate is a slowGate whose HandOver blocks until release and
// records whether the VIP was still on its host meanwhile.
type handoverGate struct {
	*slowGate
	handing  atomic.Int32
	handOver atomic.Int32
}

func (g *handoverGate) HandOver(context.Context) {
	g.handOver.Add(1)
	g.handing.Add(1)
	defer g.handing.Add(-1)
	<-g.release
}

// A gate with HandOver keeps the VIP while it hands its clients over; the
// VIP goes when HandOver returns, and only then does LeftMaster run. The
// instance keeps listening meanwhile (the peer is master already).
func TestHandOverKeepsTheVIPUntilItReturns(t *testing.T) {
	p := newPair(t)
	gate := &handoverGate{slowGate: newSlowGate(false, false)}
	b := runNode(t, p, p.b, 100, gate)
	waitFor(t, "b holds the VIP", func() bool { return holds(t, p.b, p.vip) })

	a := runNode(t, p, p.a, 150, nil) // preempts
	waitFor(t, "b is handing over", func() bool { return gate.handing.Load() == 1 })
	waitFor(t, "a is master", func() bool { return a.is(vrrp.StateMaster, netip.Addr{}) })
	if !holds(t, p.b, p.vip) || gate.leaves.Load() != 0 {
		t.Fatalf("during HandOver: b holds the VIP %v (want true), LeftMaster calls %d (want 0)", holds(t, p.b, p.vip), gate.leaves.Load())
	}
	if !b.is(vrrp.StateBackup, p.a.Addr().Addr()) {
		t.Fatal("b is not backup behind a while handing over")
	}
	gate.open()
	waitFor(t, "LeftMaster ran", func() bool { return gate.leaves.Load() == 1 && gate.leaving.Load() == 0 })
	if holds(t, p.b, p.vip) {
		t.Fatal("b still holds the VIP after HandOver and LeftMaster")
	}
	if n := gate.handOver.Load(); n != 1 {
		t.Fatalf("HandOver called %d times, want 1", n)
	}
}
