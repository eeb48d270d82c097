package keeper

import (
	"strings"
	"testing"
	"time"
)

func TestCheckPolicy(t *testing.T) {
	t0 := time.Unix(1000, 0)
	node := failure{Check: "disk", Detail: "exit 1"}
	svc := failure{Check: "service", Service: true, Detail: "connection refused"}
	type step struct {
		at      time.Duration
		view    checkView
		inhibit bool
		stay    bool
		reason  string
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"healthy active node does nothing", []step{
			{view: checkView{Active: true, PeerReady: true}},
		}},
		{"active, service fails, standby ready: hand over at once", []step{
			{view: checkView{Active: true, PeerReady: true, Failing: []failure{svc}}, inhibit: true, reason: "check service (connection refused) failing: handing over"},
		}},
		{"active, node check fails, standby ready: hand over", []step{
			{view: checkView{Active: true, PeerReady: true, Failing: []failure{node}}, inhibit: true, reason: "check disk (exit 1) failing"},
		}},
		{"active, check fails, no standby: stay", []step{
			{view: checkView{Active: true, Failing: []failure{svc}}, stay: true, reason: "no ready standby"},
		}},
		{"active, check fails while paused: stay", []step{
			{view: checkView{Active: true, Paused: true, PeerReady: true, Failing: []failure{svc}}, stay: true, reason: "paused"},
		}},
		{"standby appears later: then hand over", []step{
			{view: checkView{Active: true, Failing: []failure{svc}}, stay: true},
			{at: time.Second, view: checkView{Active: true, PeerReady: true, Failing: []failure{svc}}, inhibit: true},
		}},
		{"backup with a failing node check is held out", []step{
			{view: checkView{Failing: []failure{node}}, inhibit: true, reason: "check disk (exit 1) failing"},
			{at: time.Second, view: checkView{}},
		}},
		{"after a service handover the node stays out for the hold, then rejoins", []step{
			{view: checkView{Active: true, PeerReady: true, PeerAlive: true, Failing: []failure{svc}}, inhibit: true},
			// Left MASTER: service checks stopped, nothing failing any more.
			{at: time.Second, view: checkView{PeerAlive: true}, inhibit: true, reason: "service failed here"},
			{at: 59 * time.Second, view: checkView{PeerAlive: true}, inhibit: true},
			{at: 61 * time.Second, view: checkView{PeerAlive: true}},
		}},
		{"the service hold ends early when the peer dies", []step{
			{view: checkView{Active: true, PeerReady: true, PeerAlive: true, Failing: []failure{svc}}, inhibit: true},
			{at: time.Second, view: checkView{PeerAlive: true}, inhibit: true},
			{at: 2 * time.Second, view: checkView{}},
		}},
		{"a node-check handover holds only while the check fails", []step{
			{view: checkView{Active: true, PeerReady: true, Failing: []failure{node}}, inhibit: true},
			{at: time.Second, view: checkView{Failing: []failure{node}}, inhibit: true},
			{at: 2 * time.Second, view: checkView{}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := checkPolicy{serviceHold: time.Minute}
			for i, s := range tt.steps {
				v := p.decide(t0.Add(s.at), s.view)
				if v.Inhibit != s.inhibit || v.Stay != s.stay || !strings.Contains(v.Reason, s.reason) {
					t.Fatalf("step %d: got %+v, want inhibit %v stay %v reason ~%q", i, v, s.inhibit, s.stay, s.reason)
				}
			}
		})
	}
}

// A service that did not start when the node tried to take over holds the
// node out like a failed service check, while the peer lives.
func TestServiceStartFailureHolds(t *testing.T) {
	t0 := time.Unix(1000, 0)
	p := checkPolicy{serviceHold: time.Minute}
	p.serviceFailed(t0, "did not start: exit 1")
	if v := p.decide(t0.Add(time.Second), checkView{PeerAlive: true}); !v.Inhibit || !strings.Contains(v.Reason, "did not start") {
		t.Fatalf("after a failed start, peer alive: %+v, want held out", v)
	}
	if v := p.decide(t0.Add(time.Second), checkView{}); v.Inhibit {
		t.Fatalf("after a failed start, peer dead: %+v, want free to try", v)
	}
	if v := p.decide(t0.Add(2*time.Minute), checkView{PeerAlive: true}); v.Inhibit {
		t.Fatalf("after the hold: %+v", v)
	}
}

// up: a ready standby, or a peer taking over or serving, seen recently.
func TestPeerUp(t *testing.T) {
	t0 := time.Unix(1000, 0)
	w := peerWatch{stale: 500 * time.Millisecond}
	w.observe(t0, beacon{Node: "b", Counter: 1, Why: beaconServing}, true)
	if w.up(t0) {
		t.Fatal("a beacon that has not moved counts as up")
	}
	for i, tt := range []struct {
		b  beacon
		up bool
	}{
		{beacon{Node: "b", Why: beaconServing}, true},
		{beacon{Node: "b", Why: beaconActive}, true},
		{beacon{Node: "b", Ready: true}, true},
		{beacon{Node: "b", Why: beaconStopping}, false},
		{beacon{Node: "b", Why: "paused"}, false},
	} {
		tt.b.Counter = uint64(i + 2)
		now := t0.Add(time.Duration(i+1) * time.Second)
		w.observe(now, tt.b, true)
		if got := w.up(now); got != tt.up {
			t.Errorf("%+v: up %v, want %v", tt.b, got, tt.up)
		}
		if w.up(now.Add(time.Second)) {
			t.Errorf("%+v: up after a second unseen", tt.b)
		}
	}
}

func TestPeerWatch(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	ready := beacon{Node: "b", Ready: true}
	w := peerWatch{stale: 500 * time.Millisecond}
	expect := func(now time.Time, want bool, why string) {
		t.Helper()
		got, reason := w.ready(now)
		if got != want || !strings.Contains(reason, why) {
			t.Fatalf("ready = %v %q, want %v ~%q", got, reason, want, why)
		}
	}
	expect(at(0), false, "no standby beacon")
	b := ready
	b.Counter = 7
	w.observe(at(0), b, true)
	// A file left by a dead node looks the same as a live one until it moves.
	expect(at(10), false, "not moving yet")
	b.Counter = 8
	w.observe(at(100), b, true)
	expect(at(100), true, "")
	expect(at(600), true, "")
	w.observe(at(700), b, true) // unchanged
	expect(at(700), false, "not seen for 600ms")
	b.Counter, b.Ready, b.Why = 9, false, "paused"
	w.observe(at(800), b, true)
	expect(at(800), false, "not ready (paused)")
	w.observe(at(900), beacon{}, false)
	expect(at(900), false, "no standby beacon")
	if !w.lastSeen().IsZero() {
		t.Fatalf("lastSeen after the beacon vanished: %v", w.lastSeen())
	}
}

func TestBeaconRoundTrip(t *testing.T) {
	for _, b := range []beacon{
		{Node: "a", Counter: 1, Ready: true},
		{Node: strings.Repeat("n", 64), Counter: 1 << 62, Why: strings.Repeat("w", 300)},
		{Node: "é" + strings.Repeat("x", 63), Why: "VRRP FAULT"},
	} {
		r := encodeBeacon(b)
		got, err := decodeBeacon(r[:])
		if err != nil {
			t.Fatal(err)
		}
		want := b
		want.Node, want.Why = truncUTF8(b.Node, beaconNodeMx), truncUTF8(b.Why, beaconWhyMax)
		if got != want {
			t.Errorf("round trip %+v -> %+v", want, got)
		}
	}
	r := encodeBeacon(beacon{Node: "a", Counter: 3})
	for _, bad := range []struct {
		name string
		mut  func([]byte) []byte
		err  string
	}{
		{"short", func(b []byte) []byte { return b[:100] }, "100 bytes"},
		{"magic", func(b []byte) []byte { b[0] = 'X'; return b }, "magic"},
		{"torn", func(b []byte) []byte { b[10]++; return b }, "checksum"},
	} {
		c := append([]byte(nil), r[:]...)
		if _, err := decodeBeacon(bad.mut(c)); err == nil || !strings.Contains(err.Error(), bad.err) {
			t.Errorf("%s: error %v, want ~%q", bad.name, err, bad.err)
		}
	}
}

func TestBeaconFiles(t *testing.T) {
	dir := t.TempDir()
	a, err := openBeacon(dir, "a")
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	if _, ok, err := readPeerBeacon(dir, "a"); ok || err != nil {
		t.Fatalf("own beacon read as the peer's: %v %v", ok, err)
	}
	b, err := openBeacon(dir, "b/with slash")
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	if err := b.write(true, ""); err != nil {
		t.Fatal(err)
	}
	if err := b.write(false, "paused"); err != nil {
		t.Fatal(err)
	}
	got, ok, err := readPeerBeacon(dir, "a")
	if err != nil || !ok || got != (beacon{Node: "b/with slash", Counter: 2, Why: "paused"}) {
		t.Fatalf("peer beacon %+v %v %v", got, ok, err)
	}
}

func FuzzDecodeBeacon(f *testing.F) {
	r := encodeBeacon(beacon{Node: "a", Counter: 5, Ready: true})
	f.Add(r[:])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := decodeBeacon(data)
		if err != nil {
			return
		}
		if re := encodeBeacon(b); string(re[:]) != string(data) {
			// Padding bytes are not part of the record's meaning, so only
			// the decoded value must survive a second round trip.
			b2, err := decodeBeacon(re[:])
			if err != nil || b2 != b {
				t.Fatalf("re-encoding %+v gave %+v, %v", b, b2, err)
			}
		}
	})
}
