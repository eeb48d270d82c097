package vrrp

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// newScenario is a lossless, zero-latency two-or-more node LAN for scripted
// timelines; nodes start when the script says so.
func newScenario(cfgs ...Config) *sim {
	s := &sim{rng: rand.New(rand.NewPCG(1, 1)), now: t0, cut: map[[2]int]int{}, group: Group4}
	for _, c := range cfgs {
		exp := Expect{VRID: 51, Version: c.Version, AdvertInterval: c.AdvertInterval, Addrs: vips}
		s.nodes = append(s.nodes, &simNode{cfg: c, exp: exp, tracks: map[string]track{}})
	}
	return s
}

func (s *sim) at(d time.Duration, what string, do func()) { s.schedule(at(d), what, do) }

func runTimeline(t *testing.T, s *sim, until time.Duration, want []string) {
	t.Helper()
	if err := s.runUntil(at(until)); err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(s.trace, "\n"))
	}
	if !slices.Equal(s.transitions, want) {
		t.Fatalf("transitions:\n  %s\nwant:\n  %s\ntrace:\n%s", strings.Join(s.transitions, "\n  "),
			strings.Join(want, "\n  "), strings.Join(s.trace, "\n"))
	}
}

// The two-node run of reference §7.1/§7.2 (keepalived 2.2.7 measured on this
// machine): node 0 = A 198.18.0.1 priority 150, node 1 = B 198.18.0.2
// priority 100, VRRPv2, 1 s adverts. The measured wall-clock numbers differ
// from these by process start-up and scheduling only.
func TestTimelineKeepalivedTwoNodes(t *testing.T) {
	s := newScenario(
		Config{Version: 2, Priority: 150, AdvertInterval: time.Second, Addr: nodeA},
		Config{Version: 2, Priority: 100, AdvertInterval: time.Second, Addr: nodeB})
	s.at(0, "B starts alone", func() { s.mustStart(1) })
	s.at(10*time.Second, "A starts", func() { s.mustStart(0) })
	s.at(20*time.Second, "A chk (weight 0) fails", func() { s.setTrack(0, "script chk", 0, false) })
	s.at(30*time.Second, "A chk recovers", func() { s.setTrack(0, "script chk", 0, true) })
	s.at(40*time.Second, "A weighted -60 fails", func() { s.setTrack(0, "script w", -60, false) })
	s.at(50*time.Second, "A weighted recovers", func() { s.setTrack(0, "script w", -60, true) })
	s.at(60*time.Second, "A shut down (SIGTERM)", func() { s.stopNode(0) })
	runTimeline(t, s, 70*time.Second, []string{
		"0s 1 BACKUP", // keepalived emits BACKUP at startup
		// "B alone starts: MASTER after 3.86 s (theory 3.61 + start-up)"
		"3.609375s 1 MASTER",
		"10s 0 BACKUP",
		// "A joins: discards lower priority adverts, MASTER after 3.4–3.6 s"; B yields.
		"13.414062s 0 MASTER", "13.414062s 1 BACKUP",
		// "weight-0 script fails: FAULT; two prio-0 adverts; B MASTER 0.615 s later (skew 0.609)"
		"20s 0 FAULT", "20.609375s 1 MASTER",
		// "script restored: A BACKUP, then preempts after 3.4 s"
		"30s 0 BACKUP", "33.414062s 0 MASTER", "33.414062s 1 BACKUP",
		// "weighted script (-60): B takes over 3.62 s after the last prio-150
		// advert" (A's adverts: 39.414062 s at 150, 40.414062 s at 90).
		"43.023437s 1 MASTER", "43.023437s 0 BACKUP",
		// A back at 150 preempts a Master_Down_Interval after B's last accepted
		// advert (49.023437 s), its timer shifted to the new skew.
		"52.437499s 0 MASTER", "52.437499s 1 BACKUP",
		// "SIGTERM on master A: one prio-0 advert, STOP; B MASTER after 0.614 s"
		"1m0s 0 STOP", "1m0.609375s 1 MASTER",
	})
}

// Reference §7.2: "preempt_delay 3 on A: A MASTER 7.1 s after start" (here
// 6.02 s: first lower advert 0.61 s after start, 3 s delay, the last accepted
// advert 2.61 s after start, plus A's Master_Down_Interval).
func TestTimelinePreemptDelay(t *testing.T) {
	s := newScenario(
		Config{Version: 2, Priority: 150, AdvertInterval: time.Second, Addr: nodeA, PreemptDelay: 3 * time.Second},
		Config{Version: 2, Priority: 100, AdvertInterval: time.Second, Addr: nodeB})
	s.at(0, "B starts", func() { s.mustStart(1) })
	s.at(10*time.Second, "A starts", func() { s.mustStart(0) })
	runTimeline(t, s, 30*time.Second, []string{
		"0s 1 BACKUP", "3.609375s 1 MASTER", "10s 0 BACKUP",
		"16.023437s 0 MASTER", "16.023437s 1 BACKUP",
	})
}

// Reference §7.2: "nopreempt on A (150) while B (100) master: A stays BACKUP
// indefinitely; takes over 0.45 s after B's FAULT prio 0" (skew of 150 is
// 0.414 s).
func TestTimelineNopreempt(t *testing.T) {
	s := newScenario(
		Config{Version: 2, Priority: 150, AdvertInterval: time.Second, Addr: nodeA, Nopreempt: true},
		Config{Version: 2, Priority: 100, AdvertInterval: time.Second, Addr: nodeB})
	s.at(0, "B starts", func() { s.mustStart(1) })
	s.at(10*time.Second, "A starts", func() { s.mustStart(0) })
	s.at(100*time.Second, "B interface down", func() { s.setTrack(1, "interface eth0", 0, false) })
	runTimeline(t, s, 110*time.Second, []string{
		"0s 1 BACKUP", "3.609375s 1 MASTER", "10s 0 BACKUP",
		"1m40s 1 FAULT", "1m40.414062s 0 MASTER",
	})
}

// Reference §7.2: VRRPv3 at 0.5 s: "down 1.74–1.83 s; prio-0 takeover
// 0.32 s (skew 0.305)"; and a v3 backup configured for 0.5 s follows a 1 s
// master, then uses its own 0.5 s as master.
func TestTimelineV3(t *testing.T) {
	s := newScenario(
		Config{Version: 3, Priority: 150, AdvertInterval: time.Second, Addr: nodeA},
		Config{Version: 3, Priority: 100, AdvertInterval: 500 * time.Millisecond, Addr: nodeB})
	s.at(0, "B starts", func() { s.mustStart(1) })
	s.at(0, "A starts", func() { s.mustStart(0) })
	s.at(10*time.Second, "A shut down", func() { s.stopNode(0) })
	runTimeline(t, s, 20*time.Second, []string{
		"0s 1 BACKUP", "0s 0 BACKUP",
		// B's own 0.5 s interval gives the shorter Master_Down_Interval
		// (1.5 s + 0.305 s); A (1 s, 150) preempts after 3 s + 0.414 s.
		"1.804687s 1 MASTER",
		"3.414062s 0 MASTER", "3.414062s 1 BACKUP",
		// B follows A's 1 s interval: its skew after priority 0 is 0.609 s, not 0.305 s.
		"10s 0 STOP", "10.609375s 1 MASTER",
	})
	if got := s.nodes[1].m.Status().MasterAdverInterval; got != 500*time.Millisecond {
		t.Fatalf("B as master advertises every %v", got)
	}
}
