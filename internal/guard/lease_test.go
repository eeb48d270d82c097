package guard

import (
	"errors"
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
			{0, 1 * ms, a1, Unknown}, {300 * ms, 301 * ms, a1, Unknown}, {350 * ms, 351 * ms, a1, Unknown}}},
		{"unchanged for the lease timeout (from the end of the first read) expires", []obsStep{
			{0, 1 * ms, a1, Unknown}, {351 * ms, 352 * ms, a1, Expired}}},
		{"a moving counter is alive", []obsStep{
			{0, 1 * ms, a1, Unknown}, {100 * ms, 101 * ms, a2, Alive}, {200 * ms, 201 * ms, a2, Alive}}},
		{"alive, then silent for the lease timeout, expires", []obsStep{
			{0, 1 * ms, a1, Unknown}, {100 * ms, 101 * ms, a2, Alive}, {450 * ms, 451 * ms, a2, Alive}, {451 * ms, 452 * ms, a2, Expired}}},
		{"a change of OWNER alone is movement", []obsStep{
			{0, 1 * ms, a1, Unknown}, {100 * ms, 101 * ms, Sample{Owner: active(4, "b"), Beat: a1.Beat}, Alive}}},
		{"an undecodable heartbeat that changes is movement", []obsStep{
			{0, 1 * ms, a1, Unknown}, {100 * ms, 101 * ms, garbled, Alive}}},
		{"a slow read does not shorten the wait", []obsStep{
			{0, 200 * ms, a1, Unknown}, {500 * ms, 501 * ms, a1, Unknown}, {550 * ms, 551 * ms, a1, Expired}}},
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
