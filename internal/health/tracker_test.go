package health

import (
	"fmt"
	"strings"
	"testing"
)

// Each case is one keepalived behaviour from the reference, §3.1
// ("Rise/fall counter", vrrp_scheduler.c:1340-1380). Steps are results
// ('+' success, '-' failure); want is the state after each step, upper case
// where the step changed it.
func TestTrackerKeepalivedSemantics(t *testing.T) {
	tests := []struct {
		name       string
		rise, fall int
		initFail   bool
		steps      string
		want       string // u=unknown o=ok f=failed; capital = changed
	}{
		// "At startup the counter is rise−1 ... so the first result alone
		// decides the initial state (observed: succeeded right after start
		// with rise 2)".
		{"first success decides with rise 2", 2, 2, false, "+", "O"},
		{"first failure decides with fall 3", 2, 3, false, "-", "F"},
		{"rise 1 fall 1 flips every result", 1, 1, false, "+-+-", "OFOF"},
		// "from steady OK it takes fall failures"
		{"fall 3 needs three failures", 1, 3, false, "+---", "OooF"},
		// "from steady FAIL rise successes"
		{"rise 3 needs three successes", 3, 1, false, "-+++", "FffO"},
		// A success in between resets the failure streak (jump to rise+fall-1).
		{"success resets the fall streak", 1, 3, false, "+--+---", "OoooooF"},
		// A failure while recovering drops the counter to 0.
		{"failure resets the rise streak", 3, 1, false, "-++-+++", "FfffffO"},
		// "init_fail: start in failed state" (counter 0): no transition on
		// failures, rise successes to recover.
		{"init_fail starts failed", 2, 2, true, "--++", "fffO"},
		{"init_fail with rise 1", 1, 1, true, "+", "O"},
		{"long run", 2, 2, false, "++--++--", "OooFfOoF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTracker(tt.rise, tt.fall, tt.initFail)
			if tt.initFail && tr.State() != Failed {
				t.Fatalf("init_fail state %s", tr.State())
			}
			if !tt.initFail && tr.State() != Unknown {
				t.Fatalf("initial state %s", tr.State())
			}
			var got strings.Builder
			for _, s := range tt.steps {
				changed := tr.Step(s == '+')
				c := map[State]byte{Unknown: 'u', OK: 'o', Failed: 'f'}[tr.State()]
				if changed {
					c -= 'a' - 'A'
				}
				got.WriteByte(c)
			}
			if got.String() != tt.want {
				t.Errorf("steps %s: got %s want %s", tt.steps, got.String(), tt.want)
			}
		})
	}
}

// Property from §3.1: whatever the history, after `fall` consecutive
// failures the state is Failed and after `rise` consecutive successes OK.
func TestTrackerStreaks(t *testing.T) {
	for rise := 1; rise <= 4; rise++ {
		for fall := 1; fall <= 4; fall++ {
			for hist := 0; hist < 1<<8; hist++ {
				for _, initFail := range []bool{false, true} {
					tr := NewTracker(rise, fall, initFail)
					for i := range 8 {
						tr.Step(hist&(1<<i) != 0)
					}
					name := fmt.Sprintf("rise %d fall %d hist %08b init_fail %v", rise, fall, hist, initFail)
					probe := *tr
					for range fall {
						probe.Step(false)
					}
					if probe.State() != Failed {
						t.Fatalf("%s: %d failures leave %s", name, fall, probe.State())
					}
					probe = *tr
					for range rise {
						probe.Step(true)
					}
					if probe.State() != OK {
						t.Fatalf("%s: %d successes leave %s", name, rise, probe.State())
					}
				}
			}
		}
	}
}

// Weight semantics, reference §3.1 (process_script_update_priority,
// vrrp_track.c:594-640).
func TestAdjustmentAndDown(t *testing.T) {
	tests := []struct {
		weight  int
		reverse bool
		state   State
		adj     int
		down    bool
	}{
		// weight 0: failure ⇒ FAULT, success ⇒ up; no result yet ⇒ held in FAULT.
		{0, false, Unknown, 0, true},
		{0, false, OK, 0, false},
		{0, false, Failed, 0, true},
		// weight 0 reverse: down while the script succeeds.
		{0, true, OK, 0, true},
		{0, true, Failed, 0, false},
		// weight > 0: priority += W while OK.
		{20, false, OK, 20, false},
		{20, false, Failed, 0, false},
		{20, false, Unknown, 0, false},
		// weight < 0: priority -= |W| while failing (the recipe: -20).
		{-20, false, OK, 0, false},
		{-20, false, Failed, -20, false},
		{-20, false, Unknown, 0, false},
		// reverse flips the sign of the adjustment.
		{20, true, OK, -20, false},
		{-20, true, Failed, 20, false},
	}
	for _, tt := range tests {
		if got := Adjustment(tt.weight, tt.reverse, tt.state); got != tt.adj {
			t.Errorf("Adjustment(%d, %v, %s) = %d, want %d", tt.weight, tt.reverse, tt.state, got, tt.adj)
		}
		if got := Down(tt.weight, tt.reverse, tt.state); got != tt.down {
			t.Errorf("Down(%d, %v, %s) = %v, want %v", tt.weight, tt.reverse, tt.state, got, tt.down)
		}
	}
}

// Effective priority: total = base + Σ adj, clamped 1..254; the owner never
// changes (§3.1, vrrp_track.c:558-590).
func TestEffectivePriority(t *testing.T) {
	tests := []struct {
		base int
		adj  []int
		want int
	}{
		{110, []int{-20}, 90}, // recipe master with chk_milvus failing
		{110, nil, 110},
		{100, []int{-60, -60}, 1},
		{200, []int{100}, 254},
		{255, []int{-100}, 255},
		{150, []int{-60}, 90}, // measured t8 in the reference
	}
	for _, tt := range tests {
		if got := EffectivePriority(tt.base, tt.adj...); got != tt.want {
			t.Errorf("EffectivePriority(%d, %v) = %d, want %d", tt.base, tt.adj, got, tt.want)
		}
	}
}
