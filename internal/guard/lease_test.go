package guard

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

const ms = time.Millisecond

var testTiming = Timing{HeartbeatInterval: 100 * ms, LeaseTimeout: 350 * ms, SafetyMargin: 50 * ms, PollInterval: 50 * ms}

func active(epoch uint64, node string) Owner {
	return Owner{Epoch: epoch, Node: node, State: StateActive}
}

func beat(epoch uint64, node string, c uint64) [RecordSize]byte {
	return EncodeHeartbeat(Heartbeat{Epoch: epoch, Node: node, Counter: c})
}

type obsStep struct {
	start, end time.Duration
	s          Sample
	want       Verdict
}

// Rule: "the lease is expired when the counter has not changed for the lease
// timeout", measured on the observer's own clock from the completion of the
// first read that returned the value to the start of the latest read.
// Rule: "A node never takes over while the other node's heartbeat still moves".
// Rule: "A released OWNER (clean handover) may be taken at once."
func TestObserverRules(t *testing.T) {
	a1 := Sample{Owner: active(3, "a"), Beat: beat(3, "a", 1)}
	a2 := Sample{Owner: active(3, "a"), Beat: beat(3, "a", 2)}
	rel := Sample{Owner: Owner{Epoch: 3, Node: "a", State: StateReleased}, Beat: beat(3, "a", 2)}
	garbled := a1
	garbled.Beat[50] ^= 0xff // undecodable heartbeat still counts as content
	tests := []struct {
		name  string
		steps []obsStep
	}{
		{"empty OWNER is free at once", []obsStep{{0, 1, Sample{}, Free}}},
		{"released OWNER is free at once", []obsStep{{0, 1, rel, Free}}},
		{"first sample of an active owner is unknown", []obsStep{{0, 1, a1, Unknown}}},
		{"unchanged for less than the lease timeout stays unknown", []obsStep{
			{0, 1 * ms, a1, Unknown}, {150 * ms, 151 * ms, a1, Unknown}, {300 * ms, 301 * ms, a1, Unknown}, {350 * ms, 351 * ms, a1, Unknown}}},
		{"unchanged for the lease timeout (from the end of the first read) expires", []obsStep{
			{0, 1 * ms, a1, Unknown}, {200 * ms, 201 * ms, a1, Unknown}, {351 * ms, 352 * ms, a1, Expired}}},
		{"a moving counter is alive", []obsStep{
			{0, 1 * ms, a1, Unknown}, {100 * ms, 101 * ms, a2, Alive}, {200 * ms, 201 * ms, a2, Alive}}},
		{"alive, then silent for the lease timeout, expires", []obsStep{
			{0, 1 * ms, a1, Unknown}, {100 * ms, 101 * ms, a2, Alive}, {250 * ms, 251 * ms, a2, Alive},
			{450 * ms, 451 * ms, a2, Alive}, {451 * ms, 452 * ms, a2, Expired}}},
		{"a change of OWNER alone is movement", []obsStep{
			{0, 1 * ms, a1, Unknown}, {100 * ms, 101 * ms, Sample{Owner: active(4, "b"), Beat: a1.Beat}, Alive}}},
		{"an undecodable heartbeat that changes is movement", []obsStep{
			{0, 1 * ms, a1, Unknown}, {100 * ms, 101 * ms, garbled, Alive}}},
		{"a slow read does not shorten the wait", []obsStep{
			{0, 200 * ms, a1, Unknown}, {200 * ms, 201 * ms, a1, Unknown}, {400 * ms, 401 * ms, a1, Unknown},
			{549 * ms, 550 * ms, a1, Unknown}, {550 * ms, 551 * ms, a1, Expired}}},
		// Rule: only fresh observation counts; a gap between two reads
		// longer than PauseThreshold (200 ms here) restarts the window.
		{"a pause does not count as silence", []obsStep{
			{0, 1 * ms, a1, Unknown}, {201 * ms, 202 * ms, a1, Unknown}, {400 * ms, 401 * ms, a1, Unknown},
			{550 * ms, 551 * ms, a1, Unknown}, {552 * ms, 553 * ms, a1, Expired}}},
		{"after a pause, a holder seen alive before it is no longer alive", []obsStep{
			{0, 1 * ms, a1, Unknown}, {100 * ms, 101 * ms, a2, Alive}, {1000 * ms, 1001 * ms, a2, Unknown},
			{1200 * ms, 1201 * ms, a2, Unknown}, {1351 * ms, 1352 * ms, a2, Expired}}},
		{"a change across a pause is movement", []obsStep{
			{0, 1 * ms, a1, Unknown}, {5000 * ms, 5001 * ms, a2, Alive}}},
		{"release after alive is free at once", []obsStep{
			{0, 1 * ms, a1, Unknown}, {100 * ms, 101 * ms, a2, Alive}, {150 * ms, 151 * ms, rel, Free}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewObserver(testTiming)
			for i, st := range tt.steps {
				if got := o.Observe(st.start, st.end, st.s); got != st.want {
					t.Fatalf("step %d: verdict %v, want %v", i, got, st.want)
				}
			}
		})
	}
}

// Rule: "The active node may serve only while its last successful heartbeat
// write is younger than leaseTimeout - safetyMargin; after a pause it must
// revalidate before serving."
func TestHolderRules(t *testing.T) {
	type op struct {
		kind       string // tick, renew, serve, lose
		at, end    time.Duration
		wantErr    error
		wantServed bool
	}
	tests := []struct {
		name string
		ops  []op
	}{
		{"serves right after acquire", []op{{kind: "serve", at: 10 * ms, wantServed: true}}},
		{"serves until lease-margin after the acquire write started", []op{
			{kind: "tick", at: 100 * ms}, {kind: "tick", at: 200 * ms}, {kind: "tick", at: 299 * ms},
			{kind: "serve", at: 299 * ms, wantServed: true},
			{kind: "tick", at: 300 * ms, wantErr: ErrLeaseExpired},
			{kind: "serve", at: 300 * ms, wantErr: ErrLeaseExpired}}},
		{"a renewal extends from its start, not its end", []op{
			{kind: "tick", at: 100 * ms}, {kind: "renew", at: 100 * ms, end: 190 * ms},
			{kind: "tick", at: 200 * ms}, {kind: "tick", at: 300 * ms}, {kind: "serve", at: 399 * ms, wantServed: true},
			{kind: "tick", at: 400 * ms, wantErr: ErrLeaseExpired}}},
		{"a renewal completing after the deadline does not revive", []op{
			{kind: "renew", at: 250 * ms, end: 301 * ms, wantErr: ErrLeaseExpired},
			{kind: "serve", at: 302 * ms, wantErr: ErrLeaseExpired}}},
		{"a pause below the deadline forces revalidation", []op{
			{kind: "tick", at: 50 * ms}, {kind: "renew", at: 50 * ms, end: 51 * ms},
			{kind: "tick", at: 260 * ms}, // gap 210ms > 2*heartbeat
			{kind: "serve", at: 261 * ms, wantErr: ErrRevalidate},
			{kind: "renew", at: 200 * ms, end: 262 * ms}, // started before the pause was seen: no
			{kind: "serve", at: 263 * ms, wantErr: ErrRevalidate},
			{kind: "renew", at: 264 * ms, end: 270 * ms},
			{kind: "serve", at: 271 * ms, wantServed: true}}},
		{"no tick for a while means no serving even without a new tick", []op{
			{kind: "renew", at: 10 * ms, end: 11 * ms}, {kind: "serve", at: 201 * ms, wantErr: ErrRevalidate}}},
		{"losing OWNER is terminal", []op{
			{kind: "lose"}, {kind: "serve", at: 1 * ms, wantErr: ErrNotOwner},
			{kind: "renew", at: 2 * ms, end: 3 * ms, wantErr: ErrNotOwner}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHolder(testTiming, 7, 0)
			for i, o := range tt.ops {
				var err error
				switch o.kind {
				case "tick":
					err = h.Tick(o.at)
				case "renew":
					err = h.Renewed(o.at, o.end)
				case "serve":
					err = h.MayServe(o.at)
				case "lose":
					h.Lose(ErrNotOwner)
				}
				if !errors.Is(err, o.wantErr) || (o.wantErr == nil && err != nil) {
					t.Fatalf("op %d %s@%v: err %v, want %v", i, o.kind, o.at, err, o.wantErr)
				}
			}
			if h.Epoch() != 7 {
				t.Fatalf("epoch %d", h.Epoch())
			}
		})
	}
}

// The observer's expiry can never come before the holder's deadline: for
// any renewal start s, the holder stops at s+lease-margin and an observer
// that saw the value at or after s decides no earlier than s+lease.
func TestDeadlineBeforeObserverExpiry(t *testing.T) {
	for _, preset := range []string{PresetFast, PresetNormal, PresetSafe} {
		for _, adv := range []time.Duration{10 * ms, 100 * ms, time.Second} {
			tm, err := PresetTiming(preset, adv)
			if err != nil {
				t.Fatal(err)
			}
			for s := time.Duration(0); s < 3*adv; s += adv / 7 {
				h := NewHolder(tm, 1, s)
				o := NewObserver(tm)
				smp := Sample{Owner: active(1, "a"), Beat: beat(1, "a", 1)}
				o.Observe(s, s, smp) // the earliest the observer can see the write
				first := time.Duration(-1)
				for now := s; now < s+2*tm.LeaseTimeout; now += ms {
					if o.Observe(now, now, smp) == Expired {
						first = now
						break
					}
				}
				if first < 0 || h.Lost(first) == nil || first-h.Deadline() < tm.SafetyMargin {
					t.Fatalf("%s/%v: observer expiry %v, holder deadline %v", preset, adv, first, h.Deadline())
				}
			}
		}
	}
}

func TestPresetTiming(t *testing.T) {
	tests := []struct {
		preset        string
		adv           time.Duration
		lease, margin time.Duration
		worst         time.Duration
	}{
		{PresetFast, 100 * ms, 350 * ms, 50 * ms, 450 * ms},
		{PresetNormal, 100 * ms, 500 * ms, 100 * ms, 600 * ms},
		{PresetSafe, 100 * ms, time.Second, 200 * ms, 1100 * ms},
		{PresetFast, time.Second, 3500 * ms, 500 * ms, 4500 * ms},
		{"", 100 * ms, 500 * ms, 100 * ms, 600 * ms},
	}
	for _, tt := range tests {
		tm, err := PresetTiming(tt.preset, tt.adv)
		if err != nil {
			t.Fatal(err)
		}
		if tm.LeaseTimeout != tt.lease || tm.SafetyMargin != tt.margin || tm.HeartbeatInterval != tt.adv || tm.WorstCaseTakeover() != tt.worst {
			t.Errorf("%q/%v: %+v worst %v", tt.preset, tt.adv, tm, tm.WorstCaseTakeover())
		}
		if tm.StorageTolerance() <= 0 {
			t.Errorf("%q/%v: tolerance %v", tt.preset, tt.adv, tm.StorageTolerance())
		}
	}
	for _, bad := range []struct {
		name string
		adv  time.Duration
	}{{"turbo", 100 * ms}, {PresetFast, 0}} {
		if _, err := PresetTiming(bad.name, bad.adv); !errors.Is(err, ErrBadTiming) {
			t.Errorf("%q/%v: err %v", bad.name, bad.adv, err)
		}
	}
	bad := []Timing{
		{},
		{HeartbeatInterval: 100 * ms, LeaseTimeout: 150 * ms, SafetyMargin: 50 * ms, PollInterval: 50 * ms},  // serve window == heartbeat
		{HeartbeatInterval: 100 * ms, LeaseTimeout: 300 * ms, SafetyMargin: 300 * ms, PollInterval: 50 * ms}, // margin >= lease
		{HeartbeatInterval: 100 * ms, LeaseTimeout: 300 * ms, SafetyMargin: 50 * ms, PollInterval: 200 * ms}, // poll > heartbeat
	}
	for _, tm := range bad {
		if err := tm.Validate(); !errors.Is(err, ErrBadTiming) {
			t.Errorf("%+v: err %v", tm, err)
		}
	}
}

// polls are the reads of an observer polling every 50 ms in [from, to), each
// taking 1 ms, all returning s.
func polls(from, to time.Duration, s Sample) []obsStep {
	var st []obsStep
	for at := from; at < to; at += 50 * ms {
		st = append(st, obsStep{start: at, end: at + ms, s: s})
	}
	return st
}

// Rule (DESIGN.md "Lease"): the standby watches the heartbeat all along, so
// an acquisition decides from the history: silence accumulated before it
// counts, movement seen before it does not refuse, movement seen during it
// does, and a paused observer starts its silence window afresh.
func TestAcquireVerdictFromHistory(t *testing.T) {
	a1 := Sample{Owner: active(3, "a"), Beat: beat(3, "a", 1)}
	a2 := Sample{Owner: active(3, "a"), Beat: beat(3, "a", 2)}
	a3 := Sample{Owner: active(3, "a"), Beat: beat(3, "a", 3)}
	rel := Sample{Owner: Owner{Epoch: 3, Node: "a", State: StateReleased}, Beat: beat(3, "a", 2)}
	// The holder's last heartbeat (a2) is first seen by the read ending at
	// 51 ms: expiry is due at 401 ms.
	lastBeat := append([]obsStep{{start: 0, end: ms, s: a1}}, polls(50*ms, 60*ms, a2)...)
	tests := []struct {
		name    string
		watch   []obsStep // fed before the acquisition; verdicts not checked
		begin   time.Duration
		acquire []obsStep // want is AcquireVerdict's
	}{
		{"no history: the full lease timeout", nil, 0, append(
			[]obsStep{{0, ms, a2, Unknown}, {200 * ms, 201 * ms, a2, Unknown}, {350 * ms, 351 * ms, a2, Unknown}},
			obsStep{351 * ms, 352 * ms, a2, Expired})},
		{"silent for the lease timeout before the call: expired at the first read",
			append(lastBeat, polls(100*ms, 450*ms, a2)...), 450 * ms,
			[]obsStep{{450 * ms, 451 * ms, a2, Expired}}},
		{"silent for part of it: only the rest is waited for",
			append(lastBeat, polls(100*ms, 300*ms, a2)...), 300 * ms,
			[]obsStep{{300 * ms, 301 * ms, a2, Unknown}, {350 * ms, 351 * ms, a2, Unknown},
				{400 * ms, 401 * ms, a2, Unknown}, {401 * ms, 402 * ms, a2, Expired}}},
		{"movement the watch saw does not refuse, movement during the call does",
			lastBeat, 60 * ms,
			[]obsStep{{60 * ms, 61 * ms, a2, Unknown}, {110 * ms, 111 * ms, a3, Alive}}},
		{"a change since the watch's last read is movement during the call",
			append(lastBeat, polls(100*ms, 200*ms, a2)...), 200 * ms,
			[]obsStep{{200 * ms, 201 * ms, a3, Alive}}},
		{"a watch that stopped long ago: the window restarts",
			append(lastBeat, polls(100*ms, 450*ms, a2)...), 2000 * ms,
			[]obsStep{{2000 * ms, 2001 * ms, a2, Unknown}, {2200 * ms, 2201 * ms, a2, Unknown},
				{2350 * ms, 2351 * ms, a2, Unknown}, {2351 * ms, 2352 * ms, a2, Expired}}},
		{"a pause during the call restarts the window",
			append(lastBeat, polls(100*ms, 300*ms, a2)...), 300 * ms,
			[]obsStep{{300 * ms, 301 * ms, a2, Unknown}, {900 * ms, 901 * ms, a2, Unknown},
				{1100 * ms, 1101 * ms, a2, Unknown}, {1251 * ms, 1252 * ms, a2, Expired}}},
		{"a release is free at once whatever the history",
			lastBeat, 60 * ms, []obsStep{{60 * ms, 61 * ms, rel, Free}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewObserver(testTiming)
			for _, st := range tt.watch {
				o.Observe(st.start, st.end, st.s)
			}
			for i, st := range tt.acquire {
				if got := o.AcquireVerdict(o.Observe(st.start, st.end, st.s), tt.begin); got != st.want {
					t.Fatalf("read %d at %v: verdict %v, want %v", i, st.start, got, st.want)
				}
			}
		})
	}
}

// Rule: a moving counter is never expired, however the observer's reads
// are spaced (fresh polls, slow reads, pauses) and whenever an acquisition
// begins.
func TestMovingCounterNeverExpires(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for run := range 200 {
		o := NewObserver(testTiming)
		begin := time.Duration(rng.IntN(20_000)) * ms
		var end time.Duration
		for i := range 400 {
			// A read starts 1 ms to 1 s after the previous one ended and
			// takes up to 100 ms; the holder writes a new counter every
			// heartbeat interval.
			at := end + time.Duration(1+rng.IntN(1000))*ms
			if rng.IntN(4) > 0 {
				at += (50*ms - at%(50*ms)) % (50 * ms) // mostly on the poll grid
			}
			end = at + time.Duration(rng.IntN(100))*ms
			c := uint64(at / testTiming.HeartbeatInterval)
			s := Sample{Owner: active(3, "a"), Beat: beat(3, "a", c)}
			v := o.Observe(at, end, s)
			if v == Expired || o.AcquireVerdict(v, begin) == Expired {
				t.Fatalf("run %d read %d at %v (counter %d): expired", run, i, at, c)
			}
		}
	}
}
