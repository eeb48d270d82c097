package vrrp

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"time"
)

// State is a VRRP instance state. String gives keepalived's names, the ones
// its notify scripts receive.
type State uint8

const (
	StateInitialize State = iota // constructed, Start not called yet
	StateBackup
	StateMaster
	StateFault // a fault condition or an inhibit holds the instance down
	StateStop  // shut down; terminal
)

func (s State) String() string {
	switch s {
	case StateInitialize:
		return "INIT"
	case StateBackup:
		return "BACKUP"
	case StateMaster:
		return "MASTER"
	case StateFault:
		return "FAULT"
	case StateStop:
		return "STOP"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Action is an output of the Machine for the I/O shell to carry out, in order.
type Action interface{ isAction() }

// ActionSendAdvert asks for one advertisement with this priority (0 =
// resigning). The shell fills in the rest from the instance configuration.
type ActionSendAdvert struct{ Priority uint8 }

// ActionStateChange reports a transition. Entering StateMaster means: add the
// VIPs and announce them (after the advert that precedes this action);
// leaving it means: remove them. Priority is the effective priority at the
// time, as keepalived passes it to notify scripts.
type ActionStateChange struct {
	From, To State
	Reason   string
	Priority uint8
}

// ActionLowerPriorityMaster reports that, as master, we saw an advert from a
// router that should be backup (a split brain is ending). The machine has
// already re-advertised; the shell should refresh ARP/ND for the VIPs
// (keepalived garp_lower_prio_repeat) and may run notify_master_rx_lower_pri.
type ActionLowerPriorityMaster struct {
	From     netip.Addr
	Priority uint8
}

func (ActionSendAdvert) isAction()          {}
func (ActionStateChange) isAction()         {}
func (ActionLowerPriorityMaster) isAction() {}

// Config is the timing and election configuration of one instance.
type Config struct {
	Version int // 2 or 3
	// Priority is the base priority 1..255; 255 is the address owner.
	Priority uint8
	// AdvertInterval: v2 whole seconds 1..255 s; v3 10 ms..40.95 s in 10 ms steps.
	AdvertInterval time.Duration
	// StartMaster is keepalived's `state MASTER`: only with Priority 255 does
	// the instance skip the initial Master_Down_Interval.
	StartMaster bool
	// Nopreempt: as backup, never displace a live master by priority
	// (ignored for the owner, as keepalived does).
	Nopreempt bool
	// PreemptDelay: accept lower-priority adverts for this long after the
	// first one before preempting.
	PreemptDelay time.Duration
	// Addr is our primary address, the source of our adverts, for the
	// equal-priority tie-break.
	Addr netip.Addr
	// DownTimerAdverts multiplies the interval in Master_Down_Interval
	// (keepalived down_timer_adverts); 0 means the RFC's 3.
	DownTimerAdverts int
	// SoleBackup: this instance is the only possible backup (a pair), so
	// on the master's priority-0 advert it takes over at once instead of
	// after Skew_Time. The skew only lets the highest of several backups
	// win; with one it is dead time in every planned handover. Not what
	// keepalived does (a keepalived peer still waits its skew).
	SoleBackup bool
}

// Machine is one VRRP instance's state machine. It is not safe for
// concurrent use; every method takes the current time and returns the
// actions to carry out.
type Machine struct {
	cfg   Config
	base  uint8 // base priority (lowered to 254 on an owner conflict)
	prio  uint8 // effective priority
	state State

	tracks   map[string]track
	inhibits map[string]bool

	masterAdverInt time.Duration // v3: learnt from the master we follow
	downAt         time.Time     // Backup: Master_Down_Timer
	downReason     string        // why downAt would fire, for the transition reason
	advertAt       time.Time     // Master: Adver_Timer
	preemptAt      time.Time     // Backup with PreemptDelay: when lower adverts stop being accepted

	masterAddr netip.Addr
	masterPrio uint8
}

type track struct {
	weight int
	ok     bool
}

// NewMachine checks cfg and returns a machine in StateInitialize. Set the
// initial track results, then call Start.
func NewMachine(cfg Config) (*Machine, error) {
	switch cfg.Version {
	case 2:
		if cfg.AdvertInterval%time.Second != 0 || cfg.AdvertInterval < time.Second || cfg.AdvertInterval > 255*time.Second {
			return nil, fmt.Errorf("vrrp: VRRPv2 advertisement interval %v is not 1..255 whole seconds", cfg.AdvertInterval)
		}
	case 3:
		if cfg.AdvertInterval%centisecond != 0 || cfg.AdvertInterval < centisecond || cfg.AdvertInterval > 0x0fff*centisecond {
			return nil, fmt.Errorf("vrrp: VRRPv3 advertisement interval %v is not 10ms..40.95s in 10ms steps", cfg.AdvertInterval)
		}
	default:
		return nil, fmt.Errorf("vrrp: version %d is not 2 or 3", cfg.Version)
	}
	if cfg.Priority == 0 {
		return nil, errors.New("vrrp: priority 0 is reserved for resigning")
	}
	if !cfg.Addr.IsValid() {
		return nil, errors.New("vrrp: primary address not set")
	}
	if cfg.PreemptDelay < 0 || cfg.DownTimerAdverts < 0 {
		return nil, errors.New("vrrp: negative preempt delay or down timer adverts")
	}
	if cfg.DownTimerAdverts == 0 {
		cfg.DownTimerAdverts = 3
	}
	cfg.Addr = cfg.Addr.Unmap().WithZone("")
	return &Machine{
		cfg:            cfg,
		base:           cfg.Priority,
		prio:           cfg.Priority,
		tracks:         map[string]track{},
		inhibits:       map[string]bool{},
		masterAdverInt: cfg.AdvertInterval,
	}, nil
}

// State returns the current state.
func (m *Machine) State() State { return m.state }

// Priority returns the effective priority (base plus track weights).
func (m *Machine) Priority() uint8 { return m.prio }

// Deadline is when the shell must next call Tick; zero when no timer runs
// (Initialize, Fault, Stop). It may already be past.
func (m *Machine) Deadline() time.Time {
	switch m.state {
	case StateBackup:
		return m.downAt
	case StateMaster:
		return m.advertAt
	}
	return time.Time{}
}

// Status is a snapshot for status APIs and logs.
type Status struct {
	State    State
	Priority uint8 // effective
	// Master is the last router seen advertising as master (ourselves when
	// master), with its priority; zero if none yet.
	Master         netip.Addr
	MasterPriority uint8
	// MasterAdverInterval is the interval in use: v3 backups follow the master's.
	MasterAdverInterval time.Duration
	// Faults lists the active fault and inhibit reasons, sorted.
	Faults []string
}

// Status returns a snapshot of the machine.
func (m *Machine) Status() Status {
	return Status{State: m.state, Priority: m.prio, Master: m.masterAddr, MasterPriority: m.masterPrio,
		MasterAdverInterval: m.masterAdverInt, Faults: m.faults()}
}

// Start leaves StateInitialize. Like keepalived (and unlike the RFC), every
// instance starts as backup and waits a full Master_Down_Interval, except the
// owner (priority 255) configured with StartMaster, which becomes master at
// once. With a fault condition already set it goes to StateFault.
func (m *Machine) Start(now time.Time) []Action {
	if m.state != StateInitialize {
		return nil
	}
	if f := m.faults(); len(f) > 0 {
		return []Action{m.change(StateFault, f[0])}
	}
	return m.up(now, "startup")
}

// Tick runs the timers due at now: the master sends its periodic advert, a
// backup whose Master_Down_Timer expired becomes master.
func (m *Machine) Tick(now time.Time) []Action {
	switch {
	case m.state == StateMaster && !now.Before(m.advertAt):
		m.advertAt = now.Add(m.cfg.AdvertInterval)
		return []Action{ActionSendAdvert{m.prio}}
	case m.state == StateBackup && !now.Before(m.downAt):
		return m.becomeMaster(now, "master down timer expired: "+m.downReason)
	}
	return nil
}

// Receive handles an advertisement from the router at from that passed Parse
// and Expect.Check. Invalid packets must not reach it: keepalived treats them
// as missing, and so does the machine by never seeing them.
func (m *Machine) Receive(p *Packet, from netip.Addr, now time.Time) []Action {
	from = from.Unmap().WithZone("")
	switch m.state {
	case StateBackup:
		m.backupReceive(p, from, now)
	case StateMaster:
		return m.masterReceive(p, from, now)
	}
	return nil
}

// RFC 5798 §6.4.2 with keepalived's preempt_delay (vrrp_state_backup).
func (m *Machine) backupReceive(p *Packet, from netip.Addr, now time.Time) {
	if p.Priority == 0 {
		wait := m.skew()
		if m.cfg.SoleBackup {
			wait = 0
		}
		m.armDown(now, wait, fmt.Sprintf("received priority 0 from %v", from))
		return
	}
	m.masterAddr, m.masterPrio = from, p.Priority
	delaying := m.cfg.PreemptDelay > 0 && (m.preemptAt.IsZero() || now.Before(m.preemptAt))
	if !m.preempts() || p.Priority >= m.prio || delaying {
		if m.cfg.PreemptDelay > 0 {
			if p.Priority >= m.prio {
				m.preemptAt = time.Time{}
			} else if m.preemptAt.IsZero() {
				m.preemptAt = now.Add(m.cfg.PreemptDelay)
			}
		}
		m.learnInterval(p)
		mdi := m.downInterval()
		m.armDown(now, mdi, fmt.Sprintf("no advertisement from %v for %v", from, mdi))
		return
	}
	// Lower priority and we may preempt: discard; the timer keeps running.
	m.downReason = fmt.Sprintf("preempting %v (priority %d, ours %d)", from, p.Priority, m.prio)
}

// RFC 5798 §6.4.3 as keepalived does it (vrrp_state_master_rx).
func (m *Machine) masterReceive(p *Packet, from netip.Addr, now time.Time) []Action {
	if p.Priority == 0 {
		m.advertAt = now.Add(m.cfg.AdvertInterval)
		return []Action{ActionSendAdvert{m.prio}}
	}
	conflict := ""
	if p.Priority == m.prio {
		if from == m.cfg.Addr {
			return nil // our own address: a misconfigured peer or a loop; keepalived only warns
		}
		if m.prio == 255 {
			// Two owners: keepalived reports a configuration error and
			// drops the local priority so that one of them yields.
			m.base = 254
			m.prio = m.effective()
			conflict = "both routers claim priority 255 (configuration error), ours reduced to 254; "
		}
	}
	cmp := from.Compare(m.cfg.Addr)
	if p.Priority < m.prio || p.Priority == m.prio && cmp < 0 {
		// The sender believes it is master: reassert at once (RFC 9568,
		// keepalived "forcing new election").
		return []Action{ActionSendAdvert{m.prio}, ActionLowerPriorityMaster{From: from, Priority: p.Priority}}
	}
	var why string
	if p.Priority > m.prio {
		why = fmt.Sprintf("%shigher priority advert from %v (prio %d, ours %d)", conflict, from, p.Priority, m.prio)
	} else {
		why = fmt.Sprintf("advert from %v with same priority %d and higher address", from, p.Priority)
	}
	m.masterAddr, m.masterPrio = from, p.Priority
	m.learnInterval(p)
	change := m.change(StateBackup, why)
	mdi := m.downInterval()
	m.armDown(now, mdi, fmt.Sprintf("no advertisement from %v for %v", from, mdi))
	return []Action{change}
}

// SetTrack records the result of a tracked script or interface. name is what
// reasons show, e.g. "script chk_milvus" or "interface eth0". keepalived
// semantics: weight 0 failing puts the instance in FAULT; a positive weight
// is added while ok, a negative one while failing; the effective priority is
// clamped to 1..254 and the owner's 255 never changes. (keepalived's
// `reverse` is SetTrack(name, -weight, !result).)
func (m *Machine) SetTrack(name string, weight int, ok bool, now time.Time) []Action {
	t := track{weight, ok}
	if old, found := m.tracks[name]; found && old == t {
		return nil
	}
	m.tracks[name] = t
	var why string
	switch {
	case weight == 0 && !ok:
		why = fmt.Sprintf("tracked %s failing (weight 0)", name)
	case weight == 0:
		why = fmt.Sprintf("tracked %s recovered", name)
	case ok:
		why = fmt.Sprintf("tracked %s ok (weight %+d)", name, weight)
	default:
		why = fmt.Sprintf("tracked %s failing (weight %+d)", name, weight)
	}
	return m.reconcile(now, why)
}

// Inhibit turns an administrative hold on or off. While any hold is on the
// instance behaves as in FAULT: it never claims master (the keeper uses it
// while the storage lease cannot be taken). Holds are keyed by reason.
func (m *Machine) Inhibit(reason string, on bool, now time.Time) []Action {
	if m.inhibits[reason] == on {
		return nil
	}
	if on {
		m.inhibits[reason] = true
		return m.reconcile(now, "inhibited: "+reason)
	}
	delete(m.inhibits, reason)
	return m.reconcile(now, "inhibit lifted: "+reason)
}

// Resign makes a master hand over at once: it sends a priority-0 advert, so
// that a backup takes over after its Skew_Time, and becomes backup with a full
// Master_Down_Interval. It does not stop a higher-priority node from
// preempting back later: for a lasting switchover also lower the priority or
// Inhibit. No-op unless master.
func (m *Machine) Resign(reason string, now time.Time) []Action {
	if m.state != StateMaster {
		return nil
	}
	change := m.change(StateBackup, "resigned: "+reason)
	m.masterAdverInt = m.cfg.AdvertInterval
	mdi := m.downInterval()
	m.armDown(now, mdi, fmt.Sprintf("no other router took over within %v of resigning", mdi))
	return []Action{ActionSendAdvert{0}, change}
}

// Shutdown stops the instance for good; a master first sends priority 0.
func (m *Machine) Shutdown(now time.Time) []Action {
	var acts []Action
	switch m.state {
	case StateStop:
		return nil
	case StateMaster:
		acts = append(acts, ActionSendAdvert{0})
	}
	return append(acts, m.change(StateStop, "shutdown"))
}

// reconcile applies a change of tracks or inhibits.
func (m *Machine) reconcile(now time.Time, why string) []Action {
	old := m.prio
	m.prio = m.effective()
	faulted := len(m.faults()) > 0
	switch m.state {
	case StateBackup, StateMaster:
		if faulted {
			return m.enterFault(why)
		}
		if m.state == StateBackup && m.prio != old {
			// keepalived: the running down timer moves by the skew difference.
			m.downAt = m.downAt.Add(m.skewOf(m.prio) - m.skewOf(old))
		}
	case StateFault:
		if !faulted {
			return m.up(now, why)
		}
	}
	return nil
}

// enterFault: a master announces priority 0 twice (keepalived 2.2.7 sends one
// when leaving MASTER and one when restoring the interface), then drops.
func (m *Machine) enterFault(why string) []Action {
	var acts []Action
	if m.state == StateMaster {
		acts = append(acts, ActionSendAdvert{0}, ActionSendAdvert{0})
	}
	return append(acts, m.change(StateFault, why))
}

// up leaves Initialize or Fault: backup with a full Master_Down_Interval, or
// master at once for the owner with StartMaster.
func (m *Machine) up(now time.Time, why string) []Action {
	if m.base == 255 && m.cfg.StartMaster {
		return m.becomeMaster(now, why+" (address owner, priority 255)")
	}
	m.masterAdverInt = m.cfg.AdvertInterval
	change := m.change(StateBackup, why)
	mdi := m.downInterval()
	m.armDown(now, mdi, fmt.Sprintf("no advertisement received for %v after %s", mdi, why))
	return []Action{change}
}

// becomeMaster sends the first advert before the state change, so the old
// master drops the VIPs before our gratuitous ARPs (keepalived order).
func (m *Machine) becomeMaster(now time.Time, why string) []Action {
	change := m.change(StateMaster, why)
	m.masterAdverInt = m.cfg.AdvertInterval
	m.advertAt = now.Add(m.cfg.AdvertInterval)
	m.masterAddr, m.masterPrio = m.cfg.Addr, m.prio
	return []Action{ActionSendAdvert{m.prio}, change}
}

func (m *Machine) change(to State, why string) ActionStateChange {
	c := ActionStateChange{From: m.state, To: to, Reason: why, Priority: m.prio}
	m.state = to
	m.preemptAt = time.Time{}
	m.downAt, m.advertAt = time.Time{}, time.Time{}
	return c
}

func (m *Machine) armDown(now time.Time, d time.Duration, why string) {
	m.downAt = now.Add(d)
	m.downReason = why
}

// learnInterval: a v3 router follows the master's advertised interval
// (RFC 5798 §6.4.2); v2 intervals must match (Expect.Check).
func (m *Machine) learnInterval(p *Packet) {
	if m.cfg.Version == 3 && p.AdvertInterval > 0 {
		m.masterAdverInt = p.AdvertInterval.Truncate(centisecond)
	}
}

func (m *Machine) preempts() bool { return !m.cfg.Nopreempt || m.base == 255 }

// effective computes keepalived's effective priority (vrrp_set_effective_priority).
func (m *Machine) effective() uint8 {
	if m.base == 255 {
		return 255
	}
	total := int(m.base)
	for _, t := range m.tracks {
		if t.weight > 0 && t.ok || t.weight < 0 && !t.ok {
			total += t.weight
		}
	}
	return uint8(min(max(total, 1), 254))
}

// faults lists the active fault conditions, sorted for stable reasons.
func (m *Machine) faults() []string {
	var f []string
	for name, t := range m.tracks {
		if t.weight == 0 && !t.ok {
			f = append(f, fmt.Sprintf("tracked %s failing (weight 0)", name))
		}
	}
	for reason := range m.inhibits {
		f = append(f, "inhibited: "+reason)
	}
	sort.Strings(f)
	return f
}

// skewOf is Skew_Time with keepalived's integer µs arithmetic (vrrp.h SKEW):
// v2 (256-p)/256 s, v3 (256-p)·Master_Adver_Interval/256.
func (m *Machine) skewOf(prio uint8) time.Duration {
	p := int64(256 - int(prio))
	if m.cfg.Version == 3 {
		cs := int64(m.masterAdverInt / centisecond)
		return time.Duration(p*cs*625/16) * time.Microsecond
	}
	return time.Duration(p*1_000_000/256) * time.Microsecond
}

func (m *Machine) skew() time.Duration { return m.skewOf(m.prio) }

// downInterval is Master_Down_Interval = down_timer_adverts·Master_Adver_Interval + Skew_Time.
func (m *Machine) downInterval() time.Duration {
	return time.Duration(m.cfg.DownTimerAdverts)*m.masterAdverInt + m.skew()
}
