package config

import (
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Validate runs the cross checks on a complete configuration: referenced
// scripts exist, VIPs are present and of one family, VRID/priority ranges,
// advert interval ranges per protocol version, unique instances, and the
// keeper settings. Load runs it; call it again after changing a Config.
func (c *Config) Validate() error {
	if es := c.validate(); len(es) > 0 {
		return es
	}
	return nil
}

// yamlNames maps keepalived keywords to the native keys, so messages name
// what the user wrote.
var yamlNames = map[string]string{
	"advert_int":        "advert_interval",
	"virtual_router_id": "vrid",
	"virtual_ipaddress": "vip",
	"unicast_peer":      "unicast_peers",
	"unicast_src_ip":    "unicast_src_ip",
	"auth_pass":         "auth_pass",
	"vrrp_instance":     "instance",
}

func (c *Config) key(k string) string {
	if c.Format == FormatYAML {
		if n, ok := yamlNames[k]; ok {
			return n
		}
	}
	return k
}

// subject prefixes instance messages; a native file has one instance, so
// naming it would only confuse.
func (c *Config) subject(in *Instance) string {
	if c.Format == FormatYAML {
		return ""
	}
	return "vrrp_instance " + in.Name + ": "
}

func (c *Config) dur(d time.Duration) string {
	if c.Format == FormatYAML {
		return d.String()
	}
	return fmtSeconds(d)
}

func (c *Config) validate() Errors {
	d := &diag{}
	file := Pos{File: c.Path}
	if v := c.Global.VRRPVersion; v != 2 && v != 3 {
		d.errorf(file, "vrrp_version %d must be 2 or 3", v)
	}
	for _, name := range sortedKeys(c.Scripts) {
		c.validateScript(d, c.Scripts[name])
	}
	if len(c.Instances) == 0 {
		d.errorf(file, "no %s defined", c.key("vrrp_instance"))
	}
	type slot struct {
		iface string
		vrid  int
		v6    bool
	}
	used := map[slot]*Instance{}
	names := map[string]*Instance{}
	for _, in := range c.Instances {
		c.validateInstance(d, in)
		if old, dup := names[in.Name]; dup {
			d.errorf(in.Pos, "vrrp_instance %s already defined at %s", in.Name, old.Pos)
		}
		names[in.Name] = in
		if len(in.VIPs) > 0 && in.VRID != 0 {
			s := slot{in.Interface, in.VRID, in.VIPs[0].Prefix.Addr().Is6()}
			if old, dup := used[s]; dup {
				d.errorf(in.PosOf("virtual_router_id"), "%s %d on %s is already used by %s (VRIDs must be unique per interface and address family)",
					c.key("virtual_router_id"), in.VRID, in.Interface, old.Name)
			}
			used[s] = in
		}
	}
	if c.Keeper != nil {
		c.validateKeeper(d)
	}
	return d.errs
}

func (c *Config) validateScript(d *diag, s *Script) {
	what := "vrrp_script " + s.Name
	if len(s.Args) == 0 {
		d.errorf(s.Pos, "%s has no script", what)
	}
	if s.Interval <= 0 {
		d.errorf(s.Pos, "%s: interval must be positive", what)
	}
	if s.Timeout <= 0 {
		d.errorf(s.Pos, "%s: timeout must be positive", what)
	}
	if s.Rise < 1 || s.Fall < 1 {
		d.errorf(s.Pos, "%s: rise and fall must be at least 1", what)
	}
	if s.Weight < -253 || s.Weight > 253 {
		d.errorf(s.Pos, "%s: weight %d out of range -253..253", what, s.Weight)
	}
}

func (c *Config) validateInstance(d *diag, in *Instance) {
	errf := func(key, format string, args ...any) {
		d.errorf(in.PosOf(key), format, args...)
	}
	if in.Interface == "" {
		errf("interface", "%sinterface is required", c.subject(in))
	} else if len(in.Interface) > 15 || strings.ContainsAny(in.Interface, "/ \t:") {
		errf("interface", "interface '%s' is not a valid interface name", in.Interface)
	}
	switch {
	case in.VRID == 0:
		errf("virtual_router_id", "%s%s is required", c.subject(in), c.key("virtual_router_id"))
	case in.VRID < 1 || in.VRID > 255:
		errf("virtual_router_id", "%s %d out of range 1..255", c.key("virtual_router_id"), in.VRID)
	}
	if in.Priority < 1 || in.Priority > 255 {
		errf("priority", "priority %d out of range 1..255", in.Priority)
	}
	if in.State != StateMaster && in.State != StateBackup {
		errf("state", "state '%s' must be MASTER or BACKUP", in.State)
	}
	c.validateAdvert(d, in)
	if in.PreemptDelay < 0 || in.PreemptDelay > 1000*time.Second {
		errf("preempt_delay", "preempt_delay %s out of range 0..1000s", c.dur(in.PreemptDelay))
	}
	if in.DownTimerAdverts < 1 || in.DownTimerAdverts > 100 {
		errf("down_timer_adverts", "down_timer_adverts %d out of range 1..100", in.DownTimerAdverts)
	}

	if len(in.VIPs) == 0 {
		errf("virtual_ipaddress", "%sno %s (at least one VIP is required)", c.subject(in), c.key("virtual_ipaddress"))
	}
	if len(in.VIPs) > 255 {
		errf("virtual_ipaddress", "%s%d VIPs, at most 255 fit in an advert", c.subject(in), len(in.VIPs))
	}
	var v6 bool
	for i, v := range in.VIPs {
		if !v.Prefix.IsValid() {
			errf("virtual_ipaddress", "%sinvalid VIP", c.subject(in))
			continue
		}
		if i == 0 {
			v6 = v.Prefix.Addr().Is6()
		} else if v.Prefix.Addr().Is6() != v6 {
			errf("virtual_ipaddress", "%sVIP %s is not the same address family as %s", c.subject(in), v.Prefix, in.VIPs[0].Prefix)
		}
	}
	if v6 && in.Version == 2 {
		errf("version", "%sVRRPv2 does not support IPv6; use version 3", c.subject(in))
	}
	if in.SrcIP.IsValid() && len(in.VIPs) > 0 && in.SrcIP.Is6() != v6 {
		errf("unicast_src_ip", "unicast_src_ip %s is not the same address family as the VIPs", in.SrcIP)
	}
	for _, peer := range in.UnicastPeers {
		if len(in.VIPs) > 0 && peer.Is6() != v6 {
			errf("unicast_peer", "%s %s is not the same address family as the VIPs", c.key("unicast_peer"), peer)
		}
		if peer == in.SrcIP {
			errf("unicast_peer", "%s %s is this node's own unicast_src_ip", c.key("unicast_peer"), peer)
		}
	}

	if in.AuthType == AuthPass {
		if in.Version == 3 {
			errf("auth_pass", "%s is VRRPv2 only (version 3 ignores authentication)", c.key("auth_pass"))
		}
		if in.AuthPass == "" || len(in.AuthPass) > MaxAuthPass {
			errf("auth_pass", "%s must be 1..%d characters", c.key("auth_pass"), MaxAuthPass)
		}
	}

	for _, ts := range in.TrackScripts {
		if _, ok := c.Scripts[ts.Name]; !ok {
			d.errorf(ts.Pos, "track_script %s: no vrrp_script %s defined", ts.Name, ts.Name)
		}
		if ts.Weight < -253 || ts.Weight > 253 {
			d.errorf(ts.Pos, "track_script %s: weight %d out of range -253..253", ts.Name, ts.Weight)
		}
	}
	for _, h := range []*Hook{in.Notify.Master, in.Notify.Backup, in.Notify.Fault, in.Notify.Stop, in.Notify.Generic} {
		if h != nil && len(h.Args) == 0 {
			errf("notify", "%snotify hook without a command", c.subject(in))
		}
	}
}

// validateAdvert checks the interval against what the protocol version can
// carry: v2 a whole number of seconds 1..255 (keepalived would round and a
// peer would then drop our adverts as an interval mismatch); v3 centiseconds
// 0.01..40.95 s.
func (c *Config) validateAdvert(d *diag, in *Instance) {
	pos := in.PosOf("advert_int")
	k := c.key("advert_int")
	a := in.Advert
	switch in.Version {
	case 2:
		if a%time.Second != 0 {
			d.errorf(pos, "%s %s is not a whole number of seconds, which VRRPv2 needs; use version 3 for sub-second adverts", k, c.dur(a))
		} else if a < time.Second || a > 255*time.Second {
			d.errorf(pos, "%s %s out of range %s..%s for VRRPv2", k, c.dur(a), c.dur(time.Second), c.dur(255*time.Second))
		}
	case 3:
		if a < 10*time.Millisecond || a > 4095*10*time.Millisecond {
			d.errorf(pos, "%s %s out of range %s..%s for VRRPv3", k, c.dur(a), c.dur(10*time.Millisecond), c.dur(40950*time.Millisecond))
		} else if a%(10*time.Millisecond) != 0 {
			d.errorf(pos, "%s %s is not a multiple of 10ms, which VRRPv3 needs", k, c.dur(a))
		}
	default:
		d.errorf(in.PosOf("version"), "version %d must be 2 or 3", in.Version)
	}
}

func (c *Config) validateKeeper(d *diag) {
	k := c.Keeper
	at := k.PosOf
	if k.Node == "" {
		d.errorf(at("node"), "node is required (a unique name for this node)")
	}
	if k.DataDir == "" {
		d.errorf(at("data_dir"), "data_dir is required (the shared storage directory)")
	} else if !strings.HasPrefix(k.DataDir, "/") {
		d.errorf(at("data_dir"), "data_dir %s must be an absolute path", k.DataDir)
	}
	switch k.Timing {
	case TimingFast, TimingNormal, TimingSafe:
	default:
		d.errorf(at("timing"), "timing '%s' must be fast, normal or safe", k.Timing)
	}
	s := k.Service
	switch s.Kind {
	case ServiceEmbedded:
		if s.Listen == "" {
			d.errorf(at("service"), "service.embedded.listen is required")
		}
	case ServiceDocker:
		if s.Container == "" {
			d.errorf(at("service"), "service.docker.container is required")
		}
	case ServiceExec:
		if len(s.Command) == 0 {
			d.errorf(at("service"), "service.exec.command is required")
		}
		switch s.Restart {
		case "always", "on-failure", "never":
		default:
			d.errorf(at("service"), "service.exec.restart '%s' must be always, on-failure or never", s.Restart)
		}
	case ServiceSystemd:
		if s.Unit == "" {
			d.errorf(at("service"), "service.systemd.unit is required")
		}
	default:
		d.errorf(at("service"), "service kind '%s' must be embedded, docker, exec or systemd", s.Kind)
	}
	names := map[string]bool{}
	for _, ch := range k.Checks {
		if names[ch.Name] {
			d.errorf(ch.Pos, "check name '%s' used twice", ch.Name)
		}
		names[ch.Name] = true
		if ch.Target == "" {
			d.errorf(ch.Pos, "check %s has no target", ch.Name)
		}
		if ch.Interval <= 0 || ch.Timeout <= 0 {
			d.errorf(ch.Pos, "check %s: interval and timeout must be positive", ch.Name)
		}
		if ch.Fall < 1 || ch.Rise < 1 {
			d.errorf(ch.Pos, "check %s: fall and rise must be at least 1", ch.Name)
		}
		if ch.Weight < -253 || ch.Weight > 253 {
			d.errorf(ch.Pos, "check %s: weight %d out of range -253..253", ch.Name, ch.Weight)
		}
		switch ch.Scope {
		case ScopeNode:
		case ScopeService:
			if ch.Weight != 0 {
				// A weight moves the priority on both nodes; a service
				// check runs only on the active one, so the two
				// priorities would be computed from different checks.
				d.errorf(ch.Pos, "check %s: scope service needs weight 0 (it runs only on the active node)", ch.Name)
			}
		default:
			d.errorf(ch.Pos, "check %s: scope '%s' must be node or service", ch.Name, ch.Scope)
		}
	}
	if s.Address != "" {
		if _, _, err := net.SplitHostPort(s.Address); err != nil {
			d.errorf(at("service"), "service address '%s' is not host:port", s.Address)
		}
	}
	if k.Watchdog != "" && !strings.HasPrefix(k.Watchdog, "/") {
		d.errorf(at("watchdog"), "watchdog %s must be an absolute path (e.g. /dev/watchdog)", k.Watchdog)
	}
	if k.API.Listen != "" && k.API.Token == "" && !loopbackListen(k.API.Listen) {
		d.errorf(at("api"), "api.listen %s is not a loopback address: set api.token (state-changing calls need it)", k.API.Listen)
	}
}

// loopbackListen reports whether a listen address only binds loopback.
func loopbackListen(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
