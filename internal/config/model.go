package config

import (
	"net/netip"
	"time"
)

// Format names the syntax a configuration was read from.
type Format string

// The two accepted configuration formats.
const (
	FormatYAML       Format = "yaml"
	FormatKeepalived Format = "keepalived"
)

// State is the initial VRRP state an instance asks for.
type State string

// Initial states accepted by keepalived's `state` keyword.
const (
	StateMaster State = "MASTER"
	StateBackup State = "BACKUP"
)

// AuthType is the VRRPv2 authentication type.
type AuthType string

// Supported authentication types (AH is rejected at parse time).
const (
	AuthNone AuthType = ""
	AuthPass AuthType = "PASS"
)

// Keepalived 2.2.7 defaults (vrrp.h, vrrp_track.h, global_data.c).
const (
	DefaultPriority         = 100
	OwnerPriority           = 255
	DefaultVersion          = 2
	DefaultAdvertInterval   = time.Second
	DefaultDownTimerAdverts = 3
	DefaultScriptInterval   = time.Second
	DefaultGARPDelay        = 5 * time.Second
	DefaultGARPRepeat       = 5
	DefaultGARPRefreshRep   = 1
	// MaxAuthPass is the length of the v2 authentication trailer; longer
	// passwords are truncated by keepalived.
	MaxAuthPass = 8
)

// Config is the effective configuration of one node.
type Config struct {
	// Path is the file the configuration was loaded from.
	Path   string
	Format Format
	Global Global
	// Scripts are the vrrp_script definitions by name.
	Scripts map[string]*Script
	// Instances in file order.
	Instances  []*Instance
	SyncGroups []*SyncGroup
	// Keeper holds the native-only settings (storage, service, checks, API);
	// nil for a keepalived.conf, which configures a plain VRRP speaker.
	Keeper *Keeper
}

// Global holds global_defs settings.
type Global struct {
	RouterID string
	// ScriptUser and ScriptGroup are the default run-as identity of scripts
	// (keepalived's script_user); empty means the daemon's own identity.
	ScriptUser           string
	ScriptGroup          string
	EnableScriptSecurity bool
	// VRRPVersion is the default protocol version for IPv4 instances.
	VRRPVersion      int
	DownTimerAdverts int
	CheckUnicastSrc  bool
	// GARP holds the vrrp_garp_* defaults copied into each instance when the
	// instance block is parsed (so, as in keepalived, global_defs must come
	// first to have an effect).
	GARP GARP
}

// GARP holds gratuitous ARP / unsolicited NA timing (reference §3.3).
type GARP struct {
	MasterDelay         time.Duration // second burst after becoming master
	MasterRepeat        int           // packets per VIP per burst
	MasterRefresh       time.Duration // periodic refresh while master; 0 = off
	MasterRefreshRepeat int
	LowerPrioDelay      time.Duration // burst after seeing a lower-priority advert
	LowerPrioRepeat     int
	Interval            time.Duration // spacing between GARPs on one interface
	NAInterval          time.Duration // spacing between unsolicited NAs
}

// Script is a vrrp_script definition (reference §3.1).
type Script struct {
	Name string
	Pos  Pos
	// Command is the command line as written (quotes removed, escapes
	// resolved); Args is it split into argv like keepalived does.
	Command  string
	Args     []string
	Interval time.Duration
	Timeout  time.Duration
	Weight   int
	// Reverse flips the sign of the weight (keepalived "weight W reverse").
	Reverse  bool
	Fall     int
	Rise     int
	InitFail bool
	User     string
	Group    string
}

// Instance is one VRRP instance.
type Instance struct {
	Name      string
	Pos       Pos
	Interface string
	State     State
	VRID      int
	Priority  int
	// Advert is the advertisement interval.
	Advert  time.Duration
	Version int
	// Nopreempt is only honoured with state BACKUP and priority < 255.
	Nopreempt    bool
	PreemptDelay time.Duration
	AuthType     AuthType
	AuthPass     string // at most MaxAuthPass bytes
	// SrcIP is unicast_src_ip (or mcast_src_ip); invalid means "primary
	// address of Interface".
	SrcIP           netip.Addr
	UnicastPeers    []netip.Addr
	CheckUnicastSrc bool
	VIPs            []VIP
	TrackScripts    []TrackScript
	TrackInterfaces []TrackInterface
	// DontTrackPrimary: a down Interface does not put the instance in FAULT.
	DontTrackPrimary bool
	DownTimerAdverts int
	GARP             GARP
	Notify           Notify

	pos map[string]Pos // line of each keyword, for Validate messages
}

// VIP is one virtual_ipaddress entry.
type VIP struct {
	// Prefix keeps the address bits (192.0.2.10/24, not 192.0.2.0/24).
	Prefix netip.Prefix
	// Dev is the interface to add the address to; empty = the instance's.
	Dev     string
	Label   string
	Brd     netip.Addr
	Scope   string
	NoTrack bool
}

// TrackScript is a track_script entry with its effective weight.
type TrackScript struct {
	Name    string
	Weight  int
	Reverse bool
	Pos     Pos
}

// TrackInterface is a track_interface entry.
type TrackInterface struct {
	Name    string
	Weight  int
	Reverse bool
}

// Hook is a notify script: argv plus optional run-as identity.
type Hook struct {
	Command string
	Args    []string
	User    string
	Group   string
}

// Notify holds an instance's notify scripts; nil entries are unset.
type Notify struct {
	Master *Hook
	Backup *Hook
	Fault  *Hook
	Stop   *Hook
	// Generic is keepalived's `notify`, called after the specific hook with
	// the extra argv INSTANCE <name> <STATE> <priority>.
	Generic *Hook
}

// SyncGroup is a parsed vrrp_sync_group; milvus-ha does not enforce it.
type SyncGroup struct {
	Name    string
	Pos     Pos
	Members []string
}

// PosOf returns the position of keyword key in the instance, or the
// instance's own position when the keyword was not written.
func (in *Instance) PosOf(key string) Pos {
	if p, ok := in.pos[key]; ok {
		return p
	}
	return in.Pos
}

func (in *Instance) setPos(key string, p Pos) {
	if in.pos == nil {
		in.pos = map[string]Pos{}
	}
	in.pos[key] = p
}

// Keeper holds the native-only settings of the keeper.
type Keeper struct {
	Node    string
	DataDir string
	Service Service
	Checks  []Check
	API     API
	Timing  Timing
	// Watchdog is a watchdog device (e.g. /dev/watchdog) the keeper opens
	// and pets while it serves, so that a hung keeper resets its host
	// rather than leave a writer behind; "" means none.
	Watchdog string

	path string
	pos  map[string]Pos // line of each top-level key, for Validate messages
}

// PosOf returns the position of native key key, or the file when the key
// was not written.
func (k *Keeper) PosOf(key string) Pos {
	if p, ok := k.pos[key]; ok {
		return p
	}
	return Pos{File: k.path}
}

// ServiceKind names the driver that starts and stops the protected service.
type ServiceKind string

// Service drivers.
const (
	ServiceEmbedded ServiceKind = "embedded"
	ServiceDocker   ServiceKind = "docker"
	ServiceExec     ServiceKind = "exec"
	ServiceSystemd  ServiceKind = "systemd"
)

// Service describes the protected service; only the fields of Kind are set.
type Service struct {
	Kind ServiceKind
	// embedded
	Listen       string
	HealthListen string
	// docker
	Container string
	// exec
	Command []string
	Restart string // always | on-failure | never
	// systemd
	Unit string
	// Address is the Milvus gRPC address (host:port) of an external
	// service: Start waits until it answers CheckHealth, and the keeper's
	// own service check calls it. "" means the keeper only watches the
	// driver's state.
	Address string
}

// CheckKind names a health check type.
type CheckKind string

// Health check kinds of the native format.
const (
	CheckScript CheckKind = "script"
	CheckTCP    CheckKind = "tcp"
	CheckHTTP   CheckKind = "http"
	CheckGRPC   CheckKind = "grpc"
	CheckDocker CheckKind = "docker"
)

// Check is one native health check.
type Check struct {
	Name string
	Kind CheckKind
	// Target is the script command line, host:port, URL or container.
	Target string
	// Args is Target split like a keepalived script (script checks only).
	Args     []string
	Interval time.Duration
	Timeout  time.Duration
	Fall     int
	Rise     int
	// Weight 0 means failure puts the node in FAULT (resign at once).
	Weight int
	// Scope says where the check applies: ScopeNode checks run on both
	// nodes (a failing one keeps a backup from taking over), ScopeService
	// checks probe the protected service and run only on the active node.
	Scope CheckScope
	Pos   Pos
}

// CheckScope says where a check applies.
type CheckScope string

// Check scopes. The default is ScopeService for grpc and docker checks
// (they probe the protected service, which only runs on the active node)
// and ScopeNode for the others.
const (
	ScopeNode    CheckScope = "node"
	ScopeService CheckScope = "service"
)

// API is the status/control HTTP API.
type API struct {
	Listen string
	Token  string
}

// Timing is a lease/heartbeat preset derived from the advert interval.
type Timing string

// Timing presets.
const (
	TimingFast   Timing = "fast"
	TimingNormal Timing = "normal"
	TimingSafe   Timing = "safe"
)

func defaultGlobal() Global {
	return Global{
		VRRPVersion:      DefaultVersion,
		DownTimerAdverts: DefaultDownTimerAdverts,
		GARP: GARP{
			MasterDelay:         DefaultGARPDelay,
			MasterRepeat:        DefaultGARPRepeat,
			MasterRefreshRepeat: DefaultGARPRefreshRep,
			LowerPrioDelay:      -1, // unset: follows MasterDelay
			LowerPrioRepeat:     -1,
		},
	}
}

// resolved fills the "follows another value" defaults.
func (g GARP) resolved() GARP {
	if g.LowerPrioDelay < 0 {
		g.LowerPrioDelay = g.MasterDelay
	}
	if g.LowerPrioRepeat < 0 {
		g.LowerPrioRepeat = g.MasterRepeat
	}
	return g
}
