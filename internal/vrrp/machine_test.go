package vrrp

// One test per rule of RFC 5798 / RFC 3768 and per keepalived 2.2.7 behaviour
// the machine mirrors, each citing its source (section numbers of
// reference/vrrp-keepalived.md as "ref §x").

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

const us = time.Microsecond

// newMachine returns a started machine: v2, priority 100, 1 s, address
// 198.18.0.1, unless edit says otherwise.
func newMachine(t *testing.T, edit func(*Config)) *Machine {
	t.Helper()
	cfg := Config{Version: 2, Priority: 100, AdvertInterval: time.Second, Addr: nodeA}
	if edit != nil {
		edit(&cfg)
	}
	m, err := NewMachine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.Start(t0)
	return m
}

// master returns a machine that has just become master at t0+MDI.
func master(t *testing.T, edit func(*Config)) (*Machine, time.Time) {
	t.Helper()
	m := newMachine(t, edit)
	now := m.Deadline()
	m.Tick(now)
	if m.State() != StateMaster {
		t.Fatalf("not master after down timer: %v", m.State())
	}
	return m, now
}

func adv(prio uint8) *Packet {
	return &Packet{Version: 2, VRID: 51, Priority: prio, AdvertInterval: time.Second, Addrs: vips}
}

func adv3(prio uint8, interval time.Duration) *Packet {
	return &Packet{Version: 3, VRID: 51, Priority: prio, AdvertInterval: interval, Addrs: vips}
}

func expectActions(t *testing.T, got []Action, want ...Action) {
	t.Helper()
	// Reasons are checked separately; compare the rest exactly.
	norm := func(as []Action) []Action {
		out := make([]Action, len(as))
		for i, a := range as {
			if c, ok := a.(ActionStateChange); ok {
				c.Reason = ""
				a = c
			}
			out[i] = a
		}
		return out
	}
	if !reflect.DeepEqual(norm(got), norm(want)) {
		t.Fatalf("actions = %+v\nwant      %+v", got, want)
	}
}

func reasonContains(t *testing.T, acts []Action, sub string) {
	t.Helper()
	for _, a := range acts {
		if c, ok := a.(ActionStateChange); ok {
			if !strings.Contains(c.Reason, sub) {
				t.Fatalf("reason %q does not contain %q", c.Reason, sub)
			}
			return
		}
	}
	t.Fatalf("no state change in %+v", acts)
}

// keepalived vrrp_init_state (ref §2.2): every instance starts in BACKUP (with
// a BACKUP notification) and becomes master only after the full
// Master_Down_Interval; the first advert precedes the state change so the old
// master removes the VIPs before our gratuitous ARPs.
// RFC 5798 §6.4.1, §6.4.2 (Master_Down_Timer fires → send advert, become master).
func TestStartsBackupAndTakesOverAfterMasterDownInterval(t *testing.T) {
	m, _ := NewMachine(Config{Version: 2, Priority: 100, AdvertInterval: time.Second, Addr: nodeA})
	if m.State() != StateInitialize || !m.Deadline().IsZero() {
		t.Fatalf("new machine: %v deadline %v", m.State(), m.Deadline())
	}
	expectActions(t, m.Start(t0), ActionStateChange{From: StateInitialize, To: StateBackup, Priority: 100})
	if got, want := m.Deadline(), at(3609375*us); !got.Equal(want) {
		t.Fatalf("deadline %v, want %v", got.Sub(t0), want.Sub(t0))
	}
	if acts := m.Tick(at(3609374 * us)); acts != nil {
		t.Fatalf("early tick: %+v", acts)
	}
	acts := m.Tick(at(3609375 * us))
	expectActions(t, acts, ActionSendAdvert{100}, ActionStateChange{From: StateBackup, To: StateMaster, Priority: 100})
	reasonContains(t, acts, "master down timer expired")
	if got := m.Deadline(); !got.Equal(at(4609375 * us)) {
		t.Fatalf("advert timer %v", got.Sub(t0))
	}
	if m.Start(t0) != nil {
		t.Fatal("second Start must be a no-op")
	}
}

// keepalived 2.2.7 (ref §0.5, §2.2, measured §7.2): `state MASTER` with a
// priority below 255 gives no faster start.
func TestStateMasterBelowOwnerStillWaits(t *testing.T) {
	m := newMachine(t, func(c *Config) { c.Priority = 150; c.StartMaster = true })
	if m.State() != StateBackup || !m.Deadline().Equal(at(3414062*us)) {
		t.Fatalf("%v deadline %v", m.State(), m.Deadline().Sub(t0))
	}
}

// keepalived vrrp_init_state (ref §2.2) and RFC 5798 §6.4.1: the owner
// (priority 255) with state MASTER becomes master at once, without a BACKUP
// notification; priority 255 alone (state BACKUP) waits like everyone else.
func TestOwnerStartsMasterAtOnce(t *testing.T) {
	m, _ := NewMachine(Config{Version: 2, Priority: 255, StartMaster: true, AdvertInterval: time.Second, Addr: nodeA})
	acts := m.Start(t0)
	expectActions(t, acts, ActionSendAdvert{255}, ActionStateChange{From: StateInitialize, To: StateMaster, Priority: 255})
	reasonContains(t, acts, "owner")

	m = newMachine(t, func(c *Config) { c.Priority = 255 })
	if m.State() != StateBackup || !m.Deadline().Equal(at(3*time.Second+3906*us)) {
		t.Fatalf("owner without StartMaster: %v %v", m.State(), m.Deadline().Sub(t0))
	}
}

// RFC 3768 §6.1 / RFC 5798 §6.1 timers, with keepalived's integer µs
// arithmetic (vrrp.h SKEW, ref §2.1 worked numbers).
func TestMasterDownIntervalAndSkew(t *testing.T) {
	tests := []struct {
		version  int
		prio     uint8
		interval time.Duration
		dta      int
		down     time.Duration
		skew     time.Duration
	}{
		{2, 100, time.Second, 0, 3609375 * us, 609375 * us},
		{2, 150, time.Second, 0, 3414062 * us, 414062 * us},
		{2, 254, time.Second, 0, 3007812 * us, 7812 * us},
		{2, 1, time.Second, 0, 3996093 * us, 996093 * us},
		{2, 100, 2 * time.Second, 0, 6609375 * us, 609375 * us}, // v2 skew ignores the interval
		{3, 100, 500 * time.Millisecond, 0, 1804687 * us, 304687 * us},
		{3, 100, time.Second, 0, 3609375 * us, 609375 * us},
		{3, 254, 10 * time.Millisecond, 0, 30078 * us, 78 * us},
		{2, 100, time.Second, 5, 5609375 * us, 609375 * us}, // keepalived down_timer_adverts
	}
	for _, tt := range tests {
		m := newMachine(t, func(c *Config) {
			c.Version, c.Priority, c.AdvertInterval, c.DownTimerAdverts = tt.version, tt.prio, tt.interval, tt.dta
		})
		if got := m.Deadline().Sub(t0); got != tt.down {
			t.Errorf("v%d prio %d %v: Master_Down_Interval %v, want %v", tt.version, tt.prio, tt.interval, got, tt.down)
		}
		// A priority-0 advert leaves only Skew_Time (checked here for the value).
		m.Receive(&Packet{Version: tt.version, Priority: 0, AdvertInterval: tt.interval}, nodeB, t0)
		if got := m.Deadline().Sub(t0); got != tt.skew {
			t.Errorf("v%d prio %d %v: Skew_Time %v, want %v", tt.version, tt.prio, tt.interval, got, tt.skew)
		}
	}
}

// keepalived SKEW uses the effective priority (ref §0.6, §3.1).
func TestSkewUsesEffectivePriority(t *testing.T) {
	m, _ := NewMachine(Config{Version: 2, Priority: 100, AdvertInterval: time.Second, Addr: nodeA})
	m.SetTrack("script up", 50, true, t0)
	m.Start(t0)
	if got := m.Deadline().Sub(t0); got != 3414062*us {
		t.Fatalf("down interval %v, want that of priority 150", got)
	}
}

// RFC 5798 §6.4.2: a v3 backup sets Master_Adver_Interval from the master's
// adverts and recomputes Skew_Time and Master_Down_Interval; as master it uses
// its own interval again (keepalived, measured ref §7.2).
func TestV3BackupFollowsMasterInterval(t *testing.T) {
	m := newMachine(t, func(c *Config) { c.Version = 3; c.AdvertInterval = 500 * time.Millisecond })
	m.Receive(adv3(150, time.Second), nodeB, at(time.Second))
	if got := m.Deadline().Sub(at(time.Second)); got != 3609375*us {
		t.Fatalf("down interval %v, want 3 s + skew of 1 s", got)
	}
	if got := m.Status().MasterAdverInterval; got != time.Second {
		t.Fatalf("MasterAdverInterval %v", got)
	}
	now := m.Deadline()
	m.Tick(now)
	if m.State() != StateMaster || !m.Deadline().Equal(now.Add(500*time.Millisecond)) {
		t.Fatalf("as master: %v next advert in %v", m.State(), m.Deadline().Sub(now))
	}
}

// RFC 5798 §6.4.2: "If the Priority in the ADVERTISEMENT is zero, then: Set
// the Master_Down_Timer to Skew_Time". keepalived vrrp_state_backup.
func TestBackupPriorityZeroTakesOverAfterSkew(t *testing.T) {
	m := newMachine(t, nil)
	m.Receive(adv(150), nodeB, at(time.Second))
	acts := m.Receive(adv(0), nodeB, at(2*time.Second))
	if acts != nil || !m.Deadline().Equal(at(2*time.Second+609375*us)) {
		t.Fatalf("acts %+v deadline %v", acts, m.Deadline().Sub(t0))
	}
	acts = m.Tick(m.Deadline())
	reasonContains(t, acts, "received priority 0 from 198.18.0.2")
}

// Config.SoleBackup (ours, not keepalived): the only backup of a pair takes
// over at once on priority 0; the skew would only order several backups.
func TestSoleBackupPriorityZeroTakesOverAtOnce(t *testing.T) {
	m := newMachine(t, func(c *Config) { c.SoleBackup = true })
	m.Receive(adv(150), nodeB, at(time.Second))
	acts := m.Receive(adv(0), nodeB, at(2*time.Second))
	if acts != nil || !m.Deadline().Equal(at(2*time.Second)) {
		t.Fatalf("acts %+v deadline %v", acts, m.Deadline().Sub(t0))
	}
	acts = m.Tick(at(2 * time.Second))
	reasonContains(t, acts, "received priority 0 from 198.18.0.2")
	if m.State() != StateMaster {
		t.Fatalf("state %v, want master", m.State())
	}
	// Other adverts keep the full Master_Down_Interval.
	m = newMachine(t, func(c *Config) { c.SoleBackup = true })
	m.Receive(adv(150), nodeB, at(time.Second))
	if !m.Deadline().Equal(at(time.Second + 3609375*us)) {
		t.Fatalf("deadline after priority 150: %v", m.Deadline().Sub(t0))
	}
}

// RFC 5798 §6.4.2: an advert with priority ≥ ours resets the
// Master_Down_Timer; keepalived never compares addresses as backup, so equal
// priority is accepted too.
func TestBackupAcceptsHigherOrEqualPriority(t *testing.T) {
	for _, prio := range []uint8{100, 101, 254, 255} {
		m := newMachine(t, nil)
		for s := 1; s <= 10; s++ {
			m.Receive(adv(prio), nodeB, at(time.Duration(s)*time.Second))
		}
		if !m.Deadline().Equal(at(10*time.Second + 3609375*us)) {
			t.Fatalf("prio %d: deadline %v", prio, m.Deadline().Sub(t0))
		}
		if st := m.Status(); st.Master != nodeB || st.MasterPriority != prio {
			t.Fatalf("status %+v", st)
		}
	}
}

// RFC 5798 §6.4.2: with preemption, a lower-priority advert is discarded and
// the Master_Down_Timer keeps running (keepalived "received lower priority
// (N) advert - discarding", measured 3.6 s takeover, ref §7.2).
func TestBackupPreemptsLowerPriority(t *testing.T) {
	m := newMachine(t, func(c *Config) { c.Priority = 150 })
	m.Receive(adv(200), nodeB, at(time.Second))
	m.Receive(adv(90), nodeB, at(2*time.Second))
	m.Receive(adv(90), nodeB, at(3*time.Second))
	m.Receive(adv(90), nodeB, at(4*time.Second))
	if !m.Deadline().Equal(at(time.Second + 3414062*us)) {
		t.Fatalf("deadline %v, want running from the last accepted advert", m.Deadline().Sub(t0))
	}
	acts := m.Tick(m.Deadline())
	reasonContains(t, acts, "preempting 198.18.0.2 (priority 90, ours 150)")
}

// RFC 5798 §6.4.2 (Preempt_Mode False) and keepalived nopreempt (ref §2.3):
// any non-zero advert resets the timer, so a live master is never displaced.
func TestNopreemptAcceptsLowerPriority(t *testing.T) {
	m := newMachine(t, func(c *Config) { c.Priority = 150; c.Nopreempt = true })
	for s := 1; s <= 20; s++ {
		m.Receive(adv(10), nodeB, at(time.Duration(s)*time.Second))
	}
	if m.State() != StateBackup || !m.Deadline().Equal(at(20*time.Second+3414062*us)) {
		t.Fatalf("%v deadline %v", m.State(), m.Deadline().Sub(t0))
	}
	// Priority 0 still hands over quickly (measured 0.45 s, ref §7.2).
	m.Receive(adv(0), nodeB, at(21*time.Second))
	if !m.Deadline().Equal(at(21*time.Second + 414062*us)) {
		t.Fatalf("after priority 0: %v", m.Deadline().Sub(t0))
	}
}

// keepalived (ref §2.3): nopreempt is ignored with priority 255.
func TestNopreemptIgnoredForOwner(t *testing.T) {
	m := newMachine(t, func(c *Config) { c.Priority = 255; c.Nopreempt = true })
	m.Receive(adv(100), nodeB, at(time.Second))
	m.Receive(adv(100), nodeB, at(2*time.Second))
	if !m.Deadline().Equal(at(3003906 * us)) {
		t.Fatalf("owner accepted a lower advert: deadline %v", m.Deadline().Sub(t0))
	}
}

// keepalived vrrp_state_backup preempt_delay (ref §2.2, §2.3): the delay
// starts at the first lower-priority advert; until it ends such adverts are
// accepted (timer reset); an advert with priority ≥ ours stops the delay.
func TestPreemptDelay(t *testing.T) {
	m := newMachine(t, func(c *Config) { c.Priority = 150; c.PreemptDelay = 3 * time.Second })
	for s := 1; s <= 3; s++ { // delay runs from 1 s until 4 s: accepted
		m.Receive(adv(100), nodeB, at(time.Duration(s)*time.Second))
	}
	if !m.Deadline().Equal(at(3*time.Second + 3414062*us)) {
		t.Fatalf("within delay: deadline %v", m.Deadline().Sub(t0))
	}
	m.Receive(adv(100), nodeB, at(4*time.Second)) // delay over: discarded
	if !m.Deadline().Equal(at(3*time.Second + 3414062*us)) {
		t.Fatalf("after delay: deadline %v", m.Deadline().Sub(t0))
	}

	// A higher-priority advert in between restarts the delay from scratch.
	m = newMachine(t, func(c *Config) { c.Priority = 150; c.PreemptDelay = 3 * time.Second })
	m.Receive(adv(100), nodeB, at(1*time.Second)) // delay until 4 s
	m.Receive(adv(200), nodeB, at(2*time.Second)) // stop
	m.Receive(adv(100), nodeB, at(3*time.Second)) // delay until 6 s
	m.Receive(adv(100), nodeB, at(5*time.Second)) // still accepted
	if !m.Deadline().Equal(at(5*time.Second + 3414062*us)) {
		t.Fatalf("restarted delay: deadline %v", m.Deadline().Sub(t0))
	}
}

// RFC 5798 §6.4.3: the master sends an advert every Advertisement_Interval.
func TestMasterAdvertisesEveryInterval(t *testing.T) {
	m, now := master(t, func(c *Config) { c.Version = 3; c.AdvertInterval = 100 * time.Millisecond })
	for i := 0; i < 5; i++ {
		now = m.Deadline()
		expectActions(t, m.Tick(now), ActionSendAdvert{100})
	}
	if !m.Deadline().Equal(now.Add(100 * time.Millisecond)) {
		t.Fatal("advert timer not rearmed")
	}
	// A late tick sends once and rearms from now.
	late := m.Deadline().Add(time.Second)
	expectActions(t, m.Tick(late), ActionSendAdvert{100})
	if !m.Deadline().Equal(late.Add(100 * time.Millisecond)) {
		t.Fatal("late tick did not rearm from now")
	}
}

// RFC 5798 §6.4.3: a higher-priority advert makes the master a backup, with
// the Master_Down_Timer set. keepalived sends no priority-0 advert then
// (ref §7.2: "does not send a prio-0 advert when yielding").
func TestMasterYieldsToHigherPriority(t *testing.T) {
	m, now := master(t, nil)
	now = now.Add(100 * time.Millisecond)
	acts := m.Receive(adv(150), nodeB, now)
	expectActions(t, acts, ActionStateChange{From: StateMaster, To: StateBackup, Priority: 100})
	reasonContains(t, acts, "higher priority advert from 198.18.0.2 (prio 150, ours 100)")
	if !m.Deadline().Equal(now.Add(3609375 * us)) {
		t.Fatalf("down timer %v", m.Deadline().Sub(now))
	}
}

// RFC 5798 §6.4.3 (v3): the master learns the new master's interval when
// yielding.
func TestV3MasterLearnsIntervalWhenYielding(t *testing.T) {
	m, now := master(t, func(c *Config) { c.Version = 3; c.AdvertInterval = 100 * time.Millisecond })
	m.Receive(adv3(200, 2*time.Second), nodeB, now)
	if got := m.Deadline().Sub(now); got != 6*time.Second+1218750*us {
		t.Fatalf("down interval %v, want 3·2 s + (156·200cs/256)", got)
	}
}

// RFC 5798 §6.4.3: equal priority → the higher primary address wins.
// keepalived measured (ref §7.2): the lower address yields ("same priority 100
// but higher IP address than ours"); the winner re-advertises at once.
func TestMasterEqualPriorityTieBreak(t *testing.T) {
	m, now := master(t, nil) // 198.18.0.1
	acts := m.Receive(adv(100), netip.MustParseAddr("198.18.0.0"), now)
	expectActions(t, acts, ActionSendAdvert{100}, ActionLowerPriorityMaster{From: netip.MustParseAddr("198.18.0.0"), Priority: 100})

	acts = m.Receive(adv(100), nodeB, now)
	expectActions(t, acts, ActionStateChange{From: StateMaster, To: StateBackup, Priority: 100})
	reasonContains(t, acts, "same priority 100 and higher address")
}

// RFC 9568 §6.4.3 / keepalived vrrp_state_master_rx (ref §2.2): a lower
// priority advert makes the master send an advert at once ("forcing new
// election") and stay master; the shell refreshes ARP (garp_lower_prio_repeat).
func TestMasterReassertsOnLowerPriority(t *testing.T) {
	m, now := master(t, nil)
	next := m.Deadline()
	acts := m.Receive(adv(50), nodeB, now.Add(10*time.Millisecond))
	expectActions(t, acts, ActionSendAdvert{100}, ActionLowerPriorityMaster{From: nodeB, Priority: 50})
	if m.State() != StateMaster || !m.Deadline().Equal(next) {
		t.Fatal("master must stay and keep its advert timer")
	}
}

// RFC 5798 §6.4.3: "If the Priority in the ADVERTISEMENT is zero, then: Send
// an ADVERTISEMENT; Reset the Adver_Timer".
func TestMasterAnswersPriorityZero(t *testing.T) {
	m, now := master(t, nil)
	now = now.Add(300 * time.Millisecond)
	expectActions(t, m.Receive(adv(0), nodeB, now), ActionSendAdvert{100})
	if m.State() != StateMaster || !m.Deadline().Equal(now.Add(time.Second)) {
		t.Fatal("advert timer not reset")
	}
}

// keepalived vrrp_state_master_rx: an equal-priority advert from our own
// address is only a warning (no advert storm between two such routers).
func TestMasterIgnoresEqualPriorityFromOwnAddress(t *testing.T) {
	m, now := master(t, nil)
	if acts := m.Receive(adv(100), nodeA, now); acts != nil || m.State() != StateMaster {
		t.Fatalf("acts %+v state %v", acts, m.State())
	}
}

// keepalived vrrp_state_master_rx: two owners → "CONFIGURATION ERROR", the
// local priority is reduced to 254, so this master yields.
func TestOwnerConflictReducesPriority(t *testing.T) {
	m, _ := NewMachine(Config{Version: 2, Priority: 255, StartMaster: true, AdvertInterval: time.Second, Addr: nodeB})
	m.Start(t0)
	acts := m.Receive(adv(255), nodeA, at(time.Second))
	expectActions(t, acts, ActionStateChange{From: StateMaster, To: StateBackup, Priority: 254})
	reasonContains(t, acts, "configuration error")
	if m.Priority() != 254 {
		t.Fatalf("priority %d", m.Priority())
	}
}

// keepalived FAULT (ref §2.2, measured §7.2): a weight-0 script failing on
// the master sends two priority-0 adverts, then FAULT; the notification
// carries the unchanged effective priority.
func TestFaultFromMasterSendsPriorityZeroTwice(t *testing.T) {
	m, now := master(t, nil)
	acts := m.SetTrack("script chk_milvus", 0, false, now)
	expectActions(t, acts, ActionSendAdvert{0}, ActionSendAdvert{0},
		ActionStateChange{From: StateMaster, To: StateFault, Priority: 100})
	reasonContains(t, acts, "tracked script chk_milvus failing (weight 0)")
}

// keepalived vrrp_scheduler.c (ref §2.2): in FAULT no adverts are sent and
// all received adverts are ignored; no timer runs.
func TestFaultIsSilent(t *testing.T) {
	m := newMachine(t, nil)
	acts := m.SetTrack("interface eth0", 0, false, at(time.Second))
	expectActions(t, acts, ActionStateChange{From: StateBackup, To: StateFault, Priority: 100})
	if !m.Deadline().IsZero() {
		t.Fatal("timer in FAULT")
	}
	for _, p := range []uint8{0, 50, 200} {
		if acts := m.Receive(adv(p), nodeB, at(2*time.Second)); acts != nil {
			t.Fatalf("FAULT answered: %+v", acts)
		}
	}
	if acts := m.Tick(at(time.Hour)); acts != nil {
		t.Fatalf("FAULT ticked: %+v", acts)
	}
	if m.Resign("x", at(time.Hour)) != nil {
		t.Fatal("Resign outside MASTER must be a no-op")
	}
}

// keepalived (ref §2.2): leaving FAULT → BACKUP with the full
// Master_Down_Interval; the owner with state MASTER → MASTER at once. Every
// fault condition must clear first.
func TestLeavingFault(t *testing.T) {
	m := newMachine(t, nil)
	m.SetTrack("script a", 0, false, t0)
	m.Inhibit("storage lease not held", true, t0)
	if acts := m.SetTrack("script a", 0, true, at(time.Second)); acts != nil || m.State() != StateFault {
		t.Fatalf("left FAULT with an inhibit on: %+v", acts)
	}
	if f := m.Status().Faults; len(f) != 1 || f[0] != "inhibited: storage lease not held" {
		t.Fatalf("faults %q", f)
	}
	acts := m.Inhibit("storage lease not held", false, at(2*time.Second))
	expectActions(t, acts, ActionStateChange{From: StateFault, To: StateBackup, Priority: 100})
	reasonContains(t, acts, "inhibit lifted: storage lease not held")
	if !m.Deadline().Equal(at(2*time.Second + 3609375*us)) {
		t.Fatalf("deadline %v", m.Deadline().Sub(t0))
	}

	m, _ = NewMachine(Config{Version: 2, Priority: 255, StartMaster: true, AdvertInterval: time.Second, Addr: nodeA})
	m.Start(t0)
	m.SetTrack("interface eth0", 0, false, t0)
	acts = m.SetTrack("interface eth0", 0, true, at(time.Second))
	expectActions(t, acts, ActionSendAdvert{255}, ActionStateChange{From: StateFault, To: StateMaster, Priority: 255})
}

// keepalived (ref §3.1): "While a weight-0 script has no result yet the
// instance is held in FAULT": a failing track set before Start means FAULT.
func TestStartWithFailingTrackGoesFault(t *testing.T) {
	m, _ := NewMachine(Config{Version: 2, Priority: 100, AdvertInterval: time.Second, Addr: nodeA})
	if acts := m.SetTrack("script chk", 0, false, t0); acts != nil {
		t.Fatalf("Initialize must not transition: %+v", acts)
	}
	acts := m.Start(t0)
	expectActions(t, acts, ActionStateChange{From: StateInitialize, To: StateFault, Priority: 100})
	reasonContains(t, acts, "tracked script chk failing")
}

// Inhibit (ours) acts like a fault: a master resigns with priority 0 twice.
func TestInhibitActsAsFault(t *testing.T) {
	m, now := master(t, nil)
	acts := m.Inhibit("storage lease not held", true, now)
	expectActions(t, acts, ActionSendAdvert{0}, ActionSendAdvert{0},
		ActionStateChange{From: StateMaster, To: StateFault, Priority: 100})
	reasonContains(t, acts, "inhibited: storage lease not held")
	if m.Inhibit("storage lease not held", true, now) != nil {
		t.Fatal("repeated Inhibit must be a no-op")
	}
}

// keepalived vrrp_set_effective_priority / process_script_update_priority
// (ref §3.1): positive weights count while OK, negative ones while failing,
// the total is clamped to 1..254, the owner is unaffected.
func TestEffectivePriority(t *testing.T) {
	type tr struct {
		name   string
		weight int
		ok     bool
	}
	tests := []struct {
		base   uint8
		tracks []tr
		want   uint8
	}{
		{100, []tr{{"a", 20, true}}, 120},
		{100, []tr{{"a", 20, false}}, 100},
		{100, []tr{{"a", -30, false}}, 70},
		{100, []tr{{"a", -30, true}}, 100},
		{100, []tr{{"a", 20, true}, {"b", -50, false}, {"c", 5, true}}, 75},
		{200, []tr{{"a", 100, true}}, 254},
		{50, []tr{{"a", -100, false}}, 1},
		{255, []tr{{"a", -100, false}}, 255},
		{100, []tr{{"a", 20, true}, {"a", 20, false}}, 100}, // a later result replaces an earlier one
	}
	for _, tt := range tests {
		m := newMachine(t, func(c *Config) { c.Priority = tt.base })
		for _, x := range tt.tracks {
			m.SetTrack(x.name, x.weight, x.ok, t0)
		}
		if m.Priority() != tt.want || m.State() != StateBackup {
			t.Errorf("base %d tracks %v: priority %d state %v, want %d", tt.base, tt.tracks, m.Priority(), m.State(), tt.want)
		}
	}
}

// keepalived (ref §2.2): a priority change in BACKUP moves the running down
// timer by the skew difference.
func TestPriorityChangeShiftsDownTimer(t *testing.T) {
	m := newMachine(t, nil)
	m.Receive(adv(200), nodeB, at(time.Second)) // down at 1 s + 3.609375 s
	m.SetTrack("script w", 50, true, at(2*time.Second))
	if !m.Deadline().Equal(at(time.Second + 3414062*us)) {
		t.Fatalf("deadline %v", m.Deadline().Sub(t0))
	}
}

// keepalived (ref §2.2, measured §7.2): in MASTER a priority change only
// changes later adverts; the backup waits its Master_Down_Interval.
func TestMasterPriorityChangeGoesIntoNextAdvert(t *testing.T) {
	m, _ := master(t, func(c *Config) { c.Priority = 150 })
	if acts := m.SetTrack("script w", -60, false, m.Deadline()); acts != nil {
		t.Fatalf("acts %+v", acts)
	}
	expectActions(t, m.Tick(m.Deadline()), ActionSendAdvert{90})
}

// Resign (ours; keepalived's set_vrrp_backup path, ref §3.6): priority 0 then
// BACKUP with the full Master_Down_Interval, so that a backup (Skew_Time)
// takes over first.
func TestResign(t *testing.T) {
	m, now := master(t, func(c *Config) { c.Priority = 150 })
	acts := m.Resign("planned switchover", now)
	expectActions(t, acts, ActionSendAdvert{0}, ActionStateChange{From: StateMaster, To: StateBackup, Priority: 150})
	reasonContains(t, acts, "resigned: planned switchover")
	if !m.Deadline().Equal(now.Add(3414062 * us)) {
		t.Fatalf("deadline %v", m.Deadline().Sub(now))
	}
	if m.Resign("again", now) != nil {
		t.Fatal("Resign as backup must be a no-op")
	}
}

// keepalived shutdown (ref §2.2, measured §7.2): a master sends priority 0;
// a backup sends nothing; STOP is terminal.
func TestShutdown(t *testing.T) {
	m, now := master(t, nil)
	expectActions(t, m.Shutdown(now), ActionSendAdvert{0}, ActionStateChange{From: StateMaster, To: StateStop, Priority: 100})
	m = newMachine(t, nil)
	expectActions(t, m.Shutdown(t0), ActionStateChange{From: StateBackup, To: StateStop, Priority: 100})
	for _, acts := range [][]Action{
		m.Shutdown(t0), m.Start(t0), m.Tick(at(time.Hour)), m.Receive(adv(0), nodeB, t0),
		m.SetTrack("x", 0, false, t0), m.Inhibit("x", true, t0), m.Resign("x", t0),
	} {
		if acts != nil {
			t.Fatalf("STOP produced %+v", acts)
		}
	}
	if m.State() != StateStop || !m.Deadline().IsZero() {
		t.Fatalf("%v %v", m.State(), m.Deadline())
	}
}

func TestNewMachineRejectsBadConfig(t *testing.T) {
	ok := Config{Version: 2, Priority: 100, AdvertInterval: time.Second, Addr: nodeA}
	for name, edit := range map[string]func(*Config){
		"version 4":        func(c *Config) { c.Version = 4 },
		"v2 0.5 s":         func(c *Config) { c.AdvertInterval = 500 * time.Millisecond },
		"v3 5 ms":          func(c *Config) { c.Version = 3; c.AdvertInterval = 5 * time.Millisecond },
		"v3 41 s":          func(c *Config) { c.Version = 3; c.AdvertInterval = 41 * time.Second },
		"priority 0":       func(c *Config) { c.Priority = 0 },
		"no address":       func(c *Config) { c.Addr = netip.Addr{} },
		"negative delay":   func(c *Config) { c.PreemptDelay = -1 },
		"negative adverts": func(c *Config) { c.DownTimerAdverts = -1 },
	} {
		c := ok
		edit(&c)
		if _, err := NewMachine(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
