package vrrp

// Randomized simulation: two or three machines on a simulated LAN with a fake
// clock. Adverts travel as bytes through Marshal, Parse and Expect.Check.
// Each run alternates storms (script failures, interface flaps, resigns,
// restarts, inhibits, loss bursts, partitions, random loss) with quiet
// windows; at the end of every quiet window exactly one eligible node must be
// master, and with preemption everywhere it must have the highest effective
// priority. Invariants are checked after every input.
//
// Replay a failing seed with:
//   go test ./internal/vrrp -run TestSimulation -v -vrrp.seed=N

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

var simSeed = flag.Uint64("vrrp.seed", 0, "replay one TestSimulation seed with a full trace")

func TestSimulation(t *testing.T) {
	if *simSeed != 0 {
		s := newSim(*simSeed)
		err := s.run()
		t.Log("trace:\n" + strings.Join(s.trace, "\n"))
		if err != nil {
			t.Fatalf("seed %d: %v", *simSeed, err)
		}
		return
	}
	runs := 3000
	if testing.Short() {
		runs = 300
	}
	var checks, changes, adverts int
	for seed := uint64(1); seed <= uint64(runs); seed++ {
		s := newSim(seed)
		if err := s.run(); err != nil {
			tail := s.trace[max(0, len(s.trace)-40):]
			t.Fatalf("seed %d: %v\nlast events:\n%s\nreplay: go test ./internal/vrrp -run TestSimulation -v -vrrp.seed=%d",
				seed, err, strings.Join(tail, "\n"), seed)
		}
		checks += s.checks
		changes += s.changes
		adverts += s.adverts
	}
	t.Logf("%d runs: %d convergence checks, %d state changes, %d adverts", runs, checks, changes, adverts)
	// Guard against a simulation that silently stopped exercising anything.
	if checks < runs*3 || changes < runs*4 {
		t.Fatalf("simulation too idle: %d checks, %d state changes", checks, changes)
	}
}

type simNode struct {
	cfg     Config
	exp     Expect
	m       *Machine // nil while the process is down
	tracks  map[string]track
	inhibit bool
}

type delivery struct {
	at       time.Time
	seq      int
	to       int
	b        []byte
	src, dst netip.Addr
}

type worldEvent struct {
	at   time.Time
	seq  int
	what string
	do   func()
}

type sim struct {
	rng     *rand.Rand
	nodes   []*simNode
	now     time.Time
	unicast bool
	group   netip.Addr

	inflight []delivery
	events   []worldEvent
	seq      int

	lossRate float64        // random loss during storms
	cut      map[[2]int]int // link (a,b) → active partitions / bursts
	settle   time.Duration
	latency  time.Duration

	err                      error // first broken invariant
	transitions              []string
	trace                    []string
	checks, changes, adverts int
}

func newSim(seed uint64) *sim {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	s := &sim{rng: rng, now: t0, cut: map[[2]int]int{}}
	n := 2 + rng.IntN(2)
	version := 2 + rng.IntN(2)
	v6 := version == 3 && rng.IntN(3) == 0
	s.unicast = rng.IntN(3) == 0
	vipList := []netip.Addr{vip0}
	s.group = Group4
	if v6 {
		vipList = []netip.Addr{netip.MustParseAddr("fe80::64"), netip.MustParseAddr("2001:2::64")}
		s.group = Group6
	}
	var auth [8]byte
	authType := AuthNone
	if version == 2 && rng.IntN(2) == 0 {
		authType, auth = AuthPass, PassAuth("s3cr3t")
	}
	v2interval := time.Duration(1+rng.IntN(2)) * time.Second
	v3intervals := []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, time.Second}
	sameV3 := v3intervals[rng.IntN(3)]
	prios := []uint8{100, 100, 150, 200, 254}
	preemptMode := rng.IntN(5) // 0-2 all preempt, 3 all nopreempt, 4 mixed
	s.latency = time.Duration(rng.IntN(3)) * time.Millisecond

	var addrs []netip.Addr
	for i := range n {
		if v6 {
			addrs = append(addrs, netip.AddrFrom16([16]byte{0: 0xfe, 1: 0x80, 15: byte(i + 1)}))
		} else {
			addrs = append(addrs, netip.AddrFrom4([4]byte{198, 18, 0, byte(i + 1)}))
		}
	}
	maxAdv, maxDelay := time.Duration(0), time.Duration(0)
	for i := range n {
		cfg := Config{Version: version, Priority: prios[rng.IntN(len(prios))], Addr: addrs[i]}
		if rng.IntN(4) == 0 {
			cfg.Priority = uint8(1 + rng.IntN(254))
		}
		if i == 0 && rng.IntN(6) == 0 {
			cfg.Priority, cfg.StartMaster = 255, true
		} else {
			cfg.StartMaster = rng.IntN(4) == 0 // no effect below 255, as in keepalived
		}
		if version == 2 {
			cfg.AdvertInterval = v2interval
		} else if rng.IntN(2) == 0 {
			cfg.AdvertInterval = v3intervals[rng.IntN(3)]
		} else {
			cfg.AdvertInterval = sameV3
		}
		cfg.Nopreempt = preemptMode == 3 || preemptMode == 4 && rng.IntN(2) == 0
		if !cfg.Nopreempt && rng.IntN(4) == 0 {
			cfg.PreemptDelay = time.Duration(1+rng.IntN(4)) * cfg.AdvertInterval
		}
		cfg.SoleBackup = rng.IntN(3) == 0 // meant for pairs, and must stay safe beyond
		maxAdv, maxDelay = max(maxAdv, cfg.AdvertInterval), max(maxDelay, cfg.PreemptDelay)
		exp := Expect{VRID: 51, Version: version, AuthType: authType, Auth: auth, AdvertInterval: cfg.AdvertInterval,
			Addrs: vipList, Unicast: s.unicast}
		if s.unicast {
			for j, a := range addrs {
				if j != i {
					exp.Peers = append(exp.Peers, a)
				}
			}
		}
		s.nodes = append(s.nodes, &simNode{cfg: cfg, exp: exp, tracks: map[string]track{}})
	}
	// A full chain after the last disturbance: up to one interval until the
	// first lower advert, the preempt delay, one more interval, then a
	// Master_Down_Interval (≤ 4 intervals), plus latency; doubled for margin.
	s.settle = 2*(6*maxAdv+maxDelay) + 20*s.latency
	return s
}

func (s *sim) logf(format string, args ...any) {
	s.trace = append(s.trace, fmt.Sprintf("%10.4fs ", s.now.Sub(t0).Seconds())+fmt.Sprintf(format, args...))
}

func (s *sim) run() error {
	s.logf("cluster: unicast=%v latency=%v settle=%v", s.unicast, s.latency, s.settle)
	for i, n := range s.nodes {
		s.logf("node %d: %+v", i, n.cfg)
		if err := s.startNode(i); err != nil {
			return err
		}
	}
	checkAt := s.now.Add(s.settle)
	for round := 0; round < 6; round++ {
		if err := s.runUntil(checkAt); err != nil {
			return err
		}
		if err := s.checkConverged(); err != nil {
			return err
		}
		checkAt = s.storm().Add(s.settle)
	}
	if err := s.runUntil(checkAt); err != nil {
		return err
	}
	return s.checkConverged()
}

// storm schedules random disturbances starting now and returns when the last
// one happens.
func (s *sim) storm() time.Time {
	length := s.settle / 2
	end := s.now
	at := func(after time.Time, within time.Duration) time.Time {
		t := after.Add(time.Duration(s.rng.Int64N(int64(within) + 1)))
		if t.After(end) {
			end = t
		}
		return t
	}
	s.lossRate = []float64{0, 0, 0.05, 0.3}[s.rng.IntN(4)]
	s.logf("storm: random loss %.0f%%", s.lossRate*100)
	for range s.rng.IntN(7) {
		i := s.rng.IntN(len(s.nodes))
		n := s.nodes[i]
		t := at(s.now, length)
		switch s.rng.IntN(8) {
		case 0:
			ok := s.rng.IntN(2) == 0
			s.schedule(t, fmt.Sprintf("node %d script chk ok=%v", i, ok), func() { s.setTrack(i, "script chk", 0, ok) })
		case 1:
			w, ok := []int{-60, -20, 30, 100}[s.rng.IntN(4)], s.rng.IntN(2) == 0
			s.schedule(t, fmt.Sprintf("node %d script w weight %d ok=%v", i, w, ok), func() { s.setTrack(i, "script w", w, ok) })
		case 2:
			s.schedule(t, fmt.Sprintf("node %d interface down", i), func() { s.setTrack(i, "interface eth0", 0, false) })
			s.schedule(at(t, length/2), fmt.Sprintf("node %d interface up", i), func() { s.setTrack(i, "interface eth0", 0, true) })
		case 3:
			s.schedule(t, fmt.Sprintf("node %d resign", i), func() {
				if n.m != nil {
					s.apply(i, n.m.Resign("test", s.now))
				}
			})
		case 4:
			s.schedule(t, fmt.Sprintf("node %d shutdown", i), func() { s.stopNode(i) })
			s.schedule(at(t, length/2), fmt.Sprintf("node %d restart", i), func() { s.mustStart(i) })
		case 5:
			on := s.rng.IntN(2) == 0
			s.schedule(t, fmt.Sprintf("node %d inhibit=%v", i, on), func() {
				n.inhibit = on
				if n.m != nil {
					s.apply(i, n.m.Inhibit("storage lease not held", on, s.now))
				}
			})
		case 6: // loss burst: every link
			s.schedule(t, "loss burst begins", func() { s.cutLinks(-1, +1) })
			s.schedule(at(t, length/2), "loss burst ends", func() { s.cutLinks(-1, -1) })
		case 7: // partition: one node cut off from the others
			s.schedule(t, fmt.Sprintf("node %d partitioned", i), func() { s.cutLinks(i, +1) })
			s.schedule(at(t, length/2), fmt.Sprintf("node %d partition heals", i), func() { s.cutLinks(i, -1) })
		}
	}
	// The network is lossless again once the storm is over.
	s.schedule(end, "storm over", func() { s.lossRate = 0 })
	return end
}

func (s *sim) schedule(at time.Time, what string, do func()) {
	s.seq++
	s.events = append(s.events, worldEvent{at: at, seq: s.seq, what: what, do: do})
}

func (s *sim) cutLinks(node, delta int) {
	for a := range s.nodes {
		for b := range s.nodes {
			if a != b && (node < 0 || a == node || b == node) {
				s.cut[[2]int{a, b}] += delta
			}
		}
	}
}

func (s *sim) setTrack(i int, name string, weight int, ok bool) {
	n := s.nodes[i]
	n.tracks[name] = track{weight, ok}
	if n.m != nil {
		s.apply(i, n.m.SetTrack(name, weight, ok, s.now))
	}
}

func (s *sim) startNode(i int) error {
	n := s.nodes[i]
	m, err := NewMachine(n.cfg)
	if err != nil {
		return err
	}
	n.m = m
	for name, tr := range n.tracks {
		m.SetTrack(name, tr.weight, tr.ok, s.now)
	}
	if n.inhibit {
		m.Inhibit("storage lease not held", true, s.now)
	}
	s.apply(i, m.Start(s.now))
	return nil
}

func (s *sim) mustStart(i int) {
	if s.nodes[i].m == nil {
		if err := s.startNode(i); err != nil {
			panic(err) // configs are built valid above
		}
	}
}

func (s *sim) stopNode(i int) {
	if m := s.nodes[i].m; m != nil {
		s.apply(i, m.Shutdown(s.now))
		s.nodes[i].m = nil
	}
}

// apply carries out node i's actions and checks the invariants of one input.
func (s *sim) apply(i int, acts []Action) {
	n := s.nodes[i]
	m := n.m
	state := m.State()
	// Reconstruct the state before the input from the first change, if any.
	before := state
	for _, a := range acts {
		if c, ok := a.(ActionStateChange); ok {
			before = c.From
			break
		}
	}
	cur := before
	for _, a := range acts {
		switch a := a.(type) {
		case ActionSendAdvert:
			s.adverts++
			if a.Priority > 0 && state != StateMaster {
				s.fail("node %d sent priority %d while ending in %v", i, a.Priority, state)
			}
			if a.Priority == 0 && (before != StateMaster || state == StateMaster) {
				s.fail("node %d sent priority 0 going %v → %v", i, before, state)
			}
			s.send(i, a.Priority)
		case ActionStateChange:
			s.changes++
			s.logf("node %d %v → %v (prio %d): %s", i, a.From, a.To, a.Priority, a.Reason)
			s.transitions = append(s.transitions, fmt.Sprintf("%v %d %v", s.now.Sub(t0), i, a.To))
			if a.From != cur {
				s.fail("node %d change from %v but state was %v", i, a.From, cur)
			}
			cur = a.To
		case ActionLowerPriorityMaster:
			s.logf("node %d master saw lower priority %d from %v", i, a.Priority, a.From)
		}
	}
	if cur != state {
		s.fail("node %d actions end in %v but State() is %v", i, cur, state)
	}
	if state == StateStop {
		return
	}
	if want := expectedPriority(n); m.Priority() != want {
		s.fail("node %d effective priority %d, want %d", i, m.Priority(), want)
	}
	faulted := n.inhibit
	for _, tr := range n.tracks {
		faulted = faulted || tr.weight == 0 && !tr.ok
	}
	if faulted != (state == StateFault) {
		s.fail("node %d in %v with fault conditions=%v", i, state, faulted)
	}
	if d := m.Deadline(); d.IsZero() != (state != StateBackup && state != StateMaster) {
		s.fail("node %d in %v has deadline %v", i, state, d)
	}
}

// expectedPriority is keepalived's effective priority, computed independently.
func expectedPriority(n *simNode) uint8 {
	if n.cfg.Priority == 255 {
		return 255
	}
	p := int(n.cfg.Priority)
	for _, tr := range n.tracks {
		if tr.weight > 0 && tr.ok || tr.weight < 0 && !tr.ok {
			p += tr.weight
		}
	}
	return uint8(min(max(p, 1), 254))
}

func (s *sim) fail(format string, args ...any) {
	if s.err == nil {
		s.err = fmt.Errorf(format, args...)
		s.logf("VIOLATION: %v", s.err)
	}
}

func (s *sim) send(from int, prio uint8) {
	n := s.nodes[from]
	p := Packet{Version: n.cfg.Version, VRID: 51, Priority: prio, AuthType: n.exp.AuthType, Auth: n.exp.Auth,
		AdvertInterval: n.cfg.AdvertInterval, Addrs: n.exp.Addrs}
	for to := range s.nodes {
		if to == from {
			continue
		}
		dst := s.group
		if s.unicast {
			dst = s.nodes[to].cfg.Addr
		}
		b, err := p.Marshal(n.cfg.Addr, dst)
		if err != nil {
			s.fail("node %d Marshal: %v", from, err)
			return
		}
		if s.cut[[2]int{from, to}] > 0 || s.rng.Float64() < s.lossRate {
			continue
		}
		s.seq++
		lat := time.Duration(s.rng.Int64N(int64(s.latency) + 1))
		s.inflight = append(s.inflight, delivery{at: s.now.Add(lat), seq: s.seq, to: to, b: b, src: n.cfg.Addr, dst: dst})
	}
}

func (s *sim) deliver(d delivery) {
	n := s.nodes[d.to]
	if n.m == nil {
		return // process down: the kernel drops it
	}
	p, err := Parse(d.b, d.src, d.dst)
	if err == nil {
		err = n.exp.Check(p, d.src, d.dst, TTL)
	}
	if err != nil {
		s.fail("node %d rejected an advert from a consistent peer: %v", d.to, err)
		return
	}
	s.apply(d.to, n.m.Receive(p, d.src, s.now))
}

// runUntil advances the fake clock one input at a time. Equal times are
// ordered deliveries, timers, world events, each by sequence number, so a
// seed always replays the same way.
func (s *sim) runUntil(end time.Time) error {
	type input struct {
		at         time.Time
		order, seq int
		idx        int
	}
	for steps := 0; s.err == nil; steps++ {
		if steps > 5_000_000 {
			return fmt.Errorf("no progress at %v", s.now.Sub(t0))
		}
		next := input{at: end, order: 3} // nothing before end: stop
		consider := func(c input) {
			if c.at.Before(next.at) || c.at.Equal(next.at) && (c.order < next.order || c.order == next.order && c.seq < next.seq) {
				next = c
			}
		}
		for j, d := range s.inflight {
			consider(input{d.at, 0, d.seq, j})
		}
		for j, n := range s.nodes {
			if n.m != nil && !n.m.Deadline().IsZero() {
				consider(input{n.m.Deadline(), 1, j, j})
			}
		}
		for j, e := range s.events {
			consider(input{e.at, 2, e.seq, j})
		}
		if next.at.After(s.now) {
			s.now = next.at
		}
		switch next.order {
		case 0:
			d := s.inflight[next.idx]
			s.inflight = slices.Delete(s.inflight, next.idx, next.idx+1)
			s.deliver(d)
		case 1:
			m := s.nodes[next.idx].m
			s.apply(next.idx, m.Tick(s.now))
			if dl := m.Deadline(); !dl.IsZero() && !dl.After(s.now) {
				s.fail("node %d deadline %v not after tick at %v", next.idx, dl.Sub(t0), s.now.Sub(t0))
			}
		case 2:
			e := s.events[next.idx]
			s.events = slices.Delete(s.events, next.idx, next.idx+1)
			s.logf("event: %s", e.what)
			e.do()
		case 3:
			return nil
		}
	}
	return s.err
}

// checkConverged asserts the election result after a quiet window.
func (s *sim) checkConverged() error {
	s.checks++
	var eligible, masters []int
	allPreempt := true
	for i, n := range s.nodes {
		allPreempt = allPreempt && !n.cfg.Nopreempt
		if n.m == nil || n.m.State() == StateFault {
			continue
		}
		eligible = append(eligible, i)
		if n.m.State() == StateMaster {
			masters = append(masters, i)
		}
	}
	var states []string
	for i, n := range s.nodes {
		if n.m == nil {
			states = append(states, fmt.Sprintf("%d:down", i))
		} else {
			states = append(states, fmt.Sprintf("%d:%v/%d", i, n.m.State(), n.m.Priority()))
		}
	}
	s.logf("check: %s", strings.Join(states, " "))
	if len(eligible) == 0 {
		if len(masters) != 0 {
			return fmt.Errorf("masters %v without eligible nodes", masters)
		}
		return nil
	}
	if len(masters) != 1 {
		return fmt.Errorf("%d masters after a quiet window: %s", len(masters), strings.Join(states, " "))
	}
	mst := s.nodes[masters[0]]
	for _, i := range eligible {
		n := s.nodes[i]
		if allPreempt && n.m.Priority() > mst.m.Priority() {
			return fmt.Errorf("master %d (prio %d) but node %d has priority %d with preemption on: %s",
				masters[0], mst.m.Priority(), i, n.m.Priority(), strings.Join(states, " "))
		}
		if i != masters[0] && n.m.Status().Master != mst.cfg.Addr {
			return fmt.Errorf("node %d follows %v, master is %v", i, n.m.Status().Master, mst.cfg.Addr)
		}
	}
	return nil
}
