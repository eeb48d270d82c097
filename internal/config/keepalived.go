package config

import (
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ParseKeepalived parses a keepalived.conf (the §4 subset), resolving include
// patterns relative to name's directory, applies keepalived's defaults and
// completion rules, and validates the result.
func ParseKeepalived(name string, data []byte) (*Config, []Warning, error) {
	return parseKeepalived(name, data, osFS{})
}

type osFS struct{}

func (osFS) ReadFile(name string) ([]byte, error)  { return os.ReadFile(name) }
func (osFS) Glob(pattern string) ([]string, error) { return filepath.Glob(pattern) }

func parseKeepalived(name string, data []byte, fs fileSystem) (*Config, []Warning, error) {
	d := &diag{}
	lx := &lexer{d: d, fs: fs}
	lx.file(name, data)
	p := &kparser{d: d, lines: lx.lines, cfg: &Config{
		Path:    name,
		Format:  FormatKeepalived,
		Global:  defaultGlobal(),
		Scripts: map[string]*Script{},
	}}
	p.top()
	if len(d.errs) == 0 {
		p.complete()
	}
	if len(d.errs) == 0 {
		d.errs = append(d.errs, p.cfg.validate()...)
	}
	if err := d.err(); err != nil {
		return nil, d.warns, err
	}
	return p.cfg, d.warns, nil
}

type kparser struct {
	d     *diag
	lines []kline
	i     int
	cfg   *Config
	// tracks whose vrrp_script was not (yet) defined when the instance was
	// parsed; keepalived resolves names at that moment.
	pending []pendingTrack
}

type pendingTrack struct {
	inst string
	pos  Pos
	name string
}

func (p *kparser) next() (kline, bool) {
	if p.i >= len(p.lines) {
		return kline{}, false
	}
	l := p.lines[p.i]
	p.i++
	return l, true
}

// block parses the '{ ... }' following keyword line kw, calling fn for each
// line inside. Nested blocks are the business of fn (which calls block).
func (p *kparser) block(kw kline, fn func(kline)) {
	if p.i >= len(p.lines) || p.lines[p.i].brace != '{' {
		p.d.errorf(kw.pos, "missing '{' after %s", kw.toks[0])
		return
	}
	p.i++
	for {
		l, ok := p.next()
		if !ok {
			p.d.errorf(kw.pos, "missing '}' to close %s", kw.toks[0])
			return
		}
		switch l.brace {
		case '}':
			return
		case '{':
			p.d.errorf(l.pos, "unexpected '{'")
			p.skipBody()
			continue
		}
		fn(l)
	}
}

// skipBlock skips a '{ ... }' if one follows (for ignored keywords).
func (p *kparser) skipBlock() {
	if p.i < len(p.lines) && p.lines[p.i].brace == '{' {
		p.i++
		p.skipBody()
	}
}

// skipBody skips to the '}' matching an already consumed '{'.
func (p *kparser) skipBody() {
	for depth := 1; depth > 0; {
		l, ok := p.next()
		if !ok {
			return
		}
		switch l.brace {
		case '{':
			depth++
		case '}':
			depth--
		}
	}
}

func (p *kparser) top() {
	for {
		l, ok := p.next()
		if !ok {
			return
		}
		switch l.brace {
		case '}':
			p.d.errorf(l.pos, "unexpected '}'")
			continue
		case '{':
			p.d.errorf(l.pos, "unexpected '{'")
			p.skipBody()
			continue
		}
		switch kw := l.toks[0]; kw {
		case "global_defs":
			p.block(l, p.global)
		case "vrrp_script":
			p.script(l)
		case "vrrp_instance":
			p.instance(l)
		case "vrrp_sync_group":
			p.syncGroup(l)
		case "net_namespace":
			p.d.errorf(l.pos, "net_namespace is not supported (run milvus-ha inside the namespace instead)")
			p.skipBlock()
		default:
			if topIgnored[kw] {
				p.d.warnf(l.pos, "%s is not used by milvus-ha - ignored", kw)
			} else {
				p.d.warnf(l.pos, "unknown keyword '%s' - ignored", kw)
			}
			p.skipBlock()
		}
	}
}

var topIgnored = set("static_ipaddress", "static_routes", "static_rules", "linkbeat_interfaces",
	"garp_group", "vrrp_track_process", "vrrp_track_file", "track_file", "virtual_server",
	"virtual_server_group", "bfd_instance", "use_pid_dir", "instance", "child_wait_time",
	"linkbeat_use_polling", "net_namespace_ipvs", "namespace_with_ipsets")

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// ---- value helpers ----

// args returns the values after the keyword, checking their count; extra
// values are ignored with a warning, as keepalived ignores them.
func (p *kparser) args(l kline, min, max int) ([]string, bool) {
	a := l.toks[1:]
	if len(a) < min {
		if min == 1 {
			p.d.errorf(l.pos, "%s needs a value", l.toks[0])
		} else {
			p.d.errorf(l.pos, "%s needs %d values", l.toks[0], min)
		}
		return nil, false
	}
	if max >= 0 && len(a) > max {
		p.d.warnf(l.pos, "extra values after %s ignored: %s", l.toks[0], strings.Join(a[max:], " "))
		a = a[:max]
	}
	return a, true
}

// intArg parses a whole number in [min, max].
func (p *kparser) intArg(l kline, min, max int) (int, bool) {
	a, ok := p.args(l, 1, 1)
	if !ok {
		return 0, false
	}
	return p.intValue(l.pos, l.toks[0], a[0], min, max)
}

func (p *kparser) intValue(pos Pos, what, s string, min, max int) (int, bool) {
	v, err := strconv.Atoi(s)
	if err != nil {
		p.d.errorf(pos, "%s '%s' is not a whole number", what, s)
		return 0, false
	}
	if v < min || v > max {
		p.d.errorf(pos, "%s %d out of range %d..%d", what, v, min, max)
		return 0, false
	}
	return v, true
}

// secondsArg parses keepalived's decimal seconds ("1", "0.5", "2.25") with up
// to microsecond precision, in [min, max].
func (p *kparser) secondsArg(l kline, min, max time.Duration) (time.Duration, bool) {
	a, ok := p.args(l, 1, 1)
	if !ok {
		return 0, false
	}
	d, err := parseSeconds(a[0])
	if err != nil {
		p.d.errorf(l.pos, "%s '%s' is not a number of seconds", l.toks[0], a[0])
		return 0, false
	}
	if d < min || d > max {
		p.d.errorf(l.pos, "%s %s out of range %s..%s", l.toks[0], a[0], fmtSeconds(min), fmtSeconds(max))
		return 0, false
	}
	return d, true
}

func parseSeconds(s string) (time.Duration, error) {
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" || len(frac) > 6 || strings.ContainsAny(s, "+-eE_") {
		return 0, fmt.Errorf("bad number")
	}
	w := uint64(0)
	if whole != "" {
		var err error
		if w, err = strconv.ParseUint(whole, 10, 32); err != nil {
			return 0, err
		}
	}
	us := uint64(0)
	if frac != "" {
		f, err := strconv.ParseUint(frac, 10, 32)
		if err != nil {
			return 0, err
		}
		us = f * uint64(math.Pow10(6-len(frac)))
	}
	return time.Duration(w)*time.Second + time.Duration(us)*time.Microsecond, nil
}

func fmtSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// boolArg handles keepalived's optional boolean: a bare keyword means true.
func (p *kparser) boolArg(l kline) (bool, bool) {
	a, _ := p.args(l, 0, 1)
	if len(a) == 0 {
		return true, true
	}
	switch a[0] {
	case "on", "true", "yes":
		return true, true
	case "off", "false", "no":
		return false, true
	}
	p.d.errorf(l.pos, "%s '%s' is not on|off|true|false|yes|no", l.toks[0], a[0])
	return false, false
}

// userArg parses "user [group]", the identity a script runs as; without a
// group the current one is kept.
func (p *kparser) userArg(l kline, user, group *string) {
	if a, ok := p.args(l, 1, 2); ok {
		*user = a[0]
		if len(a) > 1 {
			*group = a[1]
		}
	}
}

func (p *kparser) addrArg(pos Pos, what, s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" || a.Is4In6() {
		p.d.errorf(pos, "%s '%s' is not an IP address", what, s)
		return netip.Addr{}, false
	}
	return a, true
}

// hook parses a notify_* / script value: the raw line is re-split with
// keepalived's quoted-escaped rules; the first value is the command line,
// split again into argv; the next two (notify only) are user and group.
func (p *kparser) hook(l kline, withUser bool) (*Hook, bool) {
	words, err := splitQuotedEscaped(l.text)
	if err != nil {
		p.d.errorf(l.pos, "%s: %v", l.toks[0], err)
		return nil, false
	}
	if len(words) < 2 || words[1] == "" {
		p.d.errorf(l.pos, "%s needs a command", l.toks[0])
		return nil, false
	}
	argv, err := splitQuotedEscaped(words[1])
	if err != nil {
		p.d.errorf(l.pos, "%s: %v", l.toks[0], err)
		return nil, false
	}
	if len(argv) == 0 {
		p.d.errorf(l.pos, "%s needs a command", l.toks[0])
		return nil, false
	}
	h := &Hook{Command: words[1], Args: argv}
	extra := words[2:]
	if withUser {
		if len(extra) > 0 {
			h.User = extra[0]
		}
		if len(extra) > 1 {
			h.Group = extra[1]
		}
		extra = extra[min(len(extra), 2):]
	}
	if len(extra) > 0 {
		p.d.warnf(l.pos, "extra values after %s ignored: %s (quote the whole command line)", l.toks[0], strings.Join(extra, " "))
	}
	return h, true
}

// ---- global_defs ----

var globalIgnored = set("linkbeat_use_polling", "net_namespace_ipvs", "namespace_with_ipsets",
	"use_pid_dir", "instance", "child_wait_time", "process_names", "process_name",
	"vrrp_process_name", "checker_process_name", "lvs_process_name", "bfd_process_name",
	"notification_email_from", "smtp_server", "smtp_helo_name", "smtp_connect_timeout",
	"notification_email", "smtp_alert", "startup_script", "startup_script_timeout",
	"shutdown_script", "shutdown_script_timeout", "max_auto_priority", "min_auto_priority_delay",
	"smtp_alert_vrrp", "smtp_alert_checker", "checker_log_all_failures", "dynamic_interfaces",
	"no_email_faults", "default_interface", "disable_local_igmp", "lvs_timeouts", "lvs_flush",
	"lvs_flush_on_stop", "lvs_flush_onstop", "lvs_sync_daemon", "vrrp_garp_extra_if",
	"vrrp_vmac_garp_intvl", "vrrp_lower_prio_no_advert", "vrrp_higher_prio_send_advert",
	"vrrp_iptables", "vrrp_ipsets", "nftables", "nftables_priority", "nftables_ifindex",
	"nftables_ipvs", "nftables_ipvs_priority", "nftables_ipvs_start_fwmark", "nftables_counters",
	"vrrp_skip_check_adv_addr", "vrrp_priority", "vrrp_no_swap", "vrrp_rt_priority",
	"vrrp_cpu_affinity", "vrrp_rlimit_rttime", "vrrp_rlimit_rtime", "vrrp_notify_priority_changes",
	"fifo_write_vrrp_states_on_reload", "lvs_notify_fifo", "lvs_notify_fifo_script",
	"checker_priority", "checker_no_swap", "checker_rt_priority", "checker_cpu_affinity",
	"checker_rlimit_rttime", "checker_rlimit_rtime", "bfd_priority", "bfd_no_swap",
	"bfd_rt_priority", "bfd_cpu_affinity", "bfd_rlimit_rttime", "bfd_rlimit_rtime", "snmp_socket",
	"enable_traps", "enable_snmp_vrrp", "enable_snmp_keepalived", "enable_snmp_rfc",
	"enable_snmp_rfcv2", "enable_snmp_rfcv3", "enable_snmp_checker", "enable_dbus",
	"dbus_service_name", "vrrp_netlink_cmd_rcv_bufs", "vrrp_netlink_cmd_rcv_bufs_force",
	"vrrp_netlink_monitor_rcv_bufs", "vrrp_netlink_monitor_rcv_bufs_force",
	"process_monitor_rcv_bufs", "process_monitor_rcv_bufs_force", "lvs_netlink_cmd_rcv_bufs",
	"lvs_netlink_cmd_rcv_bufs_force", "lvs_netlink_monitor_rcv_bufs",
	"lvs_netlink_monitor_rcv_bufs_force", "rs_init_notifies", "no_checker_emails",
	"vrrp_rx_bufs_policy", "vrrp_rx_bufs_multiplier", "vrrp_startup_delay", "log_unknown_vrids",
	"vmac_prefix", "vmac_addr_prefix", "umask", "random_seed", "reload_check_config",
	"reload_time_file", "reload_repeat", "reload_file", "include_check", "config_save_dir",
	"tmp_config_directory", "data_use_instance")

func (p *kparser) global(l kline) {
	g := &p.cfg.Global
	kw := l.toks[0]
	if k, ok := strings.CutPrefix(kw, "vrrp_"); ok && p.garp(l, k, &g.GARP) {
		return
	}
	switch kw {
	case "router_id":
		if a, ok := p.args(l, 1, 1); ok {
			g.RouterID = a[0]
		}
	case "script_user":
		p.userArg(l, &g.ScriptUser, &g.ScriptGroup)
	case "enable_script_security":
		g.EnableScriptSecurity, _ = p.boolArg(l)
	case "vrrp_version":
		if v, ok := p.intArg(l, 2, 3); ok {
			g.VRRPVersion = v
		}
	case "vrrp_check_unicast_src":
		g.CheckUnicastSrc, _ = p.boolArg(l)
	case "vrrp_down_timer_adverts":
		if v, ok := p.intArg(l, 1, 100); ok {
			g.DownTimerAdverts = v
		}
	case "vrrp_garp_interval":
		if v, ok := p.secondsArg(l, time.Microsecond, time.Hour); ok {
			g.GARP.Interval = v
		}
	case "vrrp_gna_interval":
		if v, ok := p.secondsArg(l, time.Microsecond, time.Hour); ok {
			g.GARP.NAInterval = v
		}
	case "vrrp_min_garp":
		// Only one GARP burst, no refresh; keeps values already set.
		if on, ok := p.boolArg(l); ok && on {
			if g.GARP.MasterRepeat == DefaultGARPRepeat {
				g.GARP.MasterRepeat = 1
			}
			if g.GARP.MasterRefreshRepeat == DefaultGARPRefreshRep {
				g.GARP.MasterRefreshRepeat = 0
			}
			if g.GARP.MasterDelay == DefaultGARPDelay {
				g.GARP.MasterDelay = 0
			}
		}
	case "vrrp_strict":
		if on, ok := p.boolArg(l); ok && on {
			p.d.errorf(l.pos, "vrrp_strict is not supported: it implies no_accept, which makes the VIP unreachable, and silently rewrites state, authentication and preempt_delay; remove it")
		}
	case "vrrp_mcast_group4", "vrrp_mcast_group6":
		def := map[string]string{"vrrp_mcast_group4": "224.0.0.18", "vrrp_mcast_group6": "ff02::12"}[kw]
		if a, ok := p.args(l, 1, 1); ok {
			if ad, err := netip.ParseAddr(a[0]); err != nil || ad.String() != def {
				p.d.errorf(l.pos, "%s %s is not supported (only the standard group %s)", kw, a[0], def)
			}
		}
	case "notify_fifo", "notify_fifo_script", "vrrp_notify_fifo", "vrrp_notify_fifo_script":
		p.d.errorf(l.pos, "%s is not supported: milvus-ha runs notify scripts one at a time in transition order instead; use notify_* scripts", kw)
	case "net_namespace":
		p.d.errorf(l.pos, "net_namespace is not supported (run milvus-ha inside the namespace instead)")
	default:
		if globalIgnored[kw] {
			p.d.warnf(l.pos, "%s is not used by milvus-ha - ignored", kw)
		} else {
			p.d.warnf(l.pos, "unknown keyword '%s' in global_defs - ignored", kw)
		}
		p.skipBlock()
	}
}

// garp parses the GARP timing keywords that a vrrp_instance sets and that
// global_defs sets as defaults for every instance (there spelled with a
// vrrp_ prefix, which the caller strips). It reports whether kw is one.
func (p *kparser) garp(l kline, kw string, g *GARP) bool {
	switch kw {
	case "garp_master_delay":
		p.garpSeconds(l, &g.MasterDelay)
	case "garp_master_repeat":
		p.garpRepeat(l, &g.MasterRepeat)
	case "garp_master_refresh":
		p.garpSeconds(l, &g.MasterRefresh)
	case "garp_master_refresh_repeat":
		p.garpRepeat(l, &g.MasterRefreshRepeat)
	case "garp_lower_prio_delay":
		p.garpSeconds(l, &g.LowerPrioDelay)
	case "garp_lower_prio_repeat":
		if v, ok := p.intArg(l, 0, math.MaxInt32); ok {
			g.LowerPrioRepeat = v
		}
	default:
		return false
	}
	return true
}

func (p *kparser) garpSeconds(l kline, dst *time.Duration) {
	if v, ok := p.intArg(l, 0, math.MaxInt32); ok {
		*dst = time.Duration(v) * time.Second
	}
}

func (p *kparser) garpRepeat(l kline, dst *int) {
	v, ok := p.intArg(l, 0, math.MaxInt32)
	if !ok {
		return
	}
	if v == 0 {
		p.d.warnf(l.pos, "%s must be greater than 0, setting to 1", l.toks[0])
		v = 1
	}
	*dst = v
}

// ---- vrrp_script ----

func (p *kparser) script(l kline) {
	a, ok := p.args(l, 1, 1)
	if !ok {
		p.skipBlock()
		return
	}
	name := a[0]
	s := &Script{Name: name, Pos: l.pos, Interval: DefaultScriptInterval, Rise: 1, Fall: 1}
	if old, dup := p.cfg.Scripts[name]; dup {
		p.d.errorf(l.pos, "vrrp_script %s already defined at %s", name, old.Pos)
	}
	sawScript := false
	p.block(l, func(l kline) {
		switch kw := l.toks[0]; kw {
		case "script":
			sawScript = true
			if h, ok := p.hook(l, false); ok {
				s.Command, s.Args = h.Command, h.Args
			}
		case "interval", "timeout":
			// keepalived 2.2.7 takes whole seconds; ≥2.3.2 takes decimals,
			// which we accept too. 0 means 1 s, as in keepalived.
			v, ok := p.secondsArg(l, 0, 24*time.Hour)
			if !ok {
				return
			}
			if v == 0 {
				p.d.warnf(l.pos, "vrrp_script %s %s must be greater than 0, setting to 1", name, kw)
				v = time.Second
			}
			if kw == "interval" {
				s.Interval = v
			} else {
				s.Timeout = v
			}
		case "weight":
			a, ok := p.args(l, 1, 2)
			if !ok {
				return
			}
			if w, ok := p.intValue(l.pos, "weight", a[0], -253, 253); ok {
				s.Weight = w
			}
			if len(a) == 2 {
				if a[1] != "reverse" {
					p.d.errorf(l.pos, "unknown weight option '%s' (only reverse)", a[1])
				}
				s.Reverse = true
			}
		case "rise":
			if v, ok := p.intArg(l, 1, math.MaxInt32); ok {
				s.Rise = v
			}
		case "fall":
			if v, ok := p.intArg(l, 1, math.MaxInt32); ok {
				s.Fall = v
			}
		case "user":
			p.userArg(l, &s.User, &s.Group)
		case "init_fail":
			s.InitFail = true
		default:
			p.d.warnf(l.pos, "unknown keyword '%s' in vrrp_script - ignored", kw)
			p.skipBlock()
		}
	})
	if len(s.Args) == 0 {
		if !sawScript {
			p.d.errorf(l.pos, "vrrp_script %s has no script", name)
		}
		return
	}
	if s.Timeout == 0 {
		s.Timeout = s.Interval
	}
	p.cfg.Scripts[name] = s
}

// ---- vrrp_instance ----

var instanceIgnored = set("smtp_alert", "debug", "skip_check_adv_addr", "lower_prio_no_advert",
	"higher_prio_send_advert", "notify_priority_changes", "kernel_rx_buf_size", "garp_extra_if",
	"vmac_garp_intvl", "track_src_ip", "native_ipv6", "linkbeat_use_polling",
	"promote_secondaries", "notify_deleted", "notify_master_rx_lower_pri", "unicast_ttl",
	"lvs_sync_daemon_interface")

var instanceUnsupported = map[string]string{
	"use_vmac":                   "use_vmac is not supported (milvus-ha sends from the interface MAC, like keepalived's default)",
	"use_vmac_addr":              "use_vmac_addr is not supported",
	"vmac_xmit_base":             "vmac_xmit_base is not supported",
	"use_ipvlan":                 "use_ipvlan is not supported",
	"vrf":                        "vrf is not supported",
	"virtual_ipaddress_excluded": "virtual_ipaddress_excluded is not supported; list the addresses in virtual_ipaddress",
	"virtual_routes":             "virtual_routes is not supported",
	"virtual_rules":              "virtual_rules is not supported",
	"track_file":                 "track_file is not supported; use a vrrp_script",
	"track_process":              "track_process is not supported; use a vrrp_script",
	"track_bfd":                  "track_bfd is not supported",
	"mcast_dst_ip":               "mcast_dst_ip is not supported (only the standard VRRP groups)",
	"old_unicast_checksum":       "old_unicast_checksum is not supported",
	"interfaces":                 "interfaces is not supported",
}

func (p *kparser) instance(l kline) {
	a, ok := p.args(l, 1, 1)
	if !ok {
		p.skipBlock()
		return
	}
	in := &Instance{Name: a[0], Pos: l.pos, GARP: p.cfg.Global.GARP}
	for _, old := range p.cfg.Instances {
		if old.Name == in.Name {
			p.d.errorf(l.pos, "vrrp_instance %s already defined at %s", in.Name, old.Pos)
		}
	}
	unicastKeyword := false
	unicastFaultNoPeer := false
	p.block(l, func(l kline) {
		kw := l.toks[0]
		if old, seen := in.pos[kw]; seen && !multiKeyword[kw] {
			p.d.warnf(l.pos, "%s already set at line %d - using the last value", kw, old.Line)
		}
		in.setPos(kw, l.pos)
		if p.garp(l, kw, &in.GARP) {
			return
		}
		switch kw {
		case "state":
			if a, ok := p.args(l, 1, 1); ok {
				switch State(a[0]) {
				case StateMaster, StateBackup:
					in.State = State(a[0])
				default:
					p.d.errorf(l.pos, "state '%s' must be MASTER or BACKUP", a[0])
				}
			}
		case "interface":
			if a, ok := p.args(l, 1, 1); ok {
				in.Interface = a[0]
			}
		case "virtual_router_id":
			if v, ok := p.intArg(l, 1, 255); ok {
				in.VRID = v
			}
		case "priority":
			if v, ok := p.intArg(l, 1, 255); ok {
				in.Priority = v
			}
		case "advert_int":
			if v, ok := p.secondsArg(l, 10*time.Millisecond, 255*time.Second); ok {
				in.Advert = v
			}
		case "version":
			if v, ok := p.intArg(l, 2, 3); ok {
				in.Version = v
			}
		case "nopreempt":
			in.Nopreempt = true
		case "preempt":
			in.Nopreempt = false
		case "preempt_delay":
			if v, ok := p.secondsArg(l, 0, 1000*time.Second); ok {
				in.PreemptDelay = v
			}
		case "authentication":
			p.block(l, func(l kline) { p.auth(in, l) })
		case "virtual_ipaddress":
			p.block(l, func(l kline) { p.vip(in, l) })
		case "unicast_src_ip", "mcast_src_ip":
			if a, ok := p.args(l, 1, 1); ok {
				if ad, ok := p.addrArg(l.pos, kw, a[0]); ok {
					in.SrcIP = ad
				}
			}
			unicastKeyword = unicastKeyword || kw == "unicast_src_ip"
		case "unicast_peer":
			unicastKeyword = true
			p.block(l, func(l kline) { p.peer(in, l) })
		case "unicast_fault_no_peer":
			unicastKeyword, unicastFaultNoPeer = true, true
		case "check_unicast_src":
			in.CheckUnicastSrc, _ = p.boolArg(l)
		case "track_script":
			p.block(l, func(l kline) { p.trackScript(in, l) })
		case "track_interface":
			p.block(l, func(l kline) { p.trackInterface(in, l) })
		case "dont_track_primary":
			in.DontTrackPrimary = true
		case "notify_master", "notify_backup", "notify_fault", "notify_stop", "notify":
			h, ok := p.hook(l, true)
			if !ok {
				return
			}
			switch kw {
			case "notify_master":
				in.Notify.Master = h
			case "notify_backup":
				in.Notify.Backup = h
			case "notify_fault":
				in.Notify.Fault = h
			case "notify_stop":
				in.Notify.Stop = h
			default:
				in.Notify.Generic = h
			}
		case "down_timer_adverts":
			if v, ok := p.intArg(l, 1, 100); ok {
				in.DownTimerAdverts = v
			}
		case "accept":
		case "no_accept":
			p.d.warnf(l.pos, "no_accept is ignored: milvus-ha always lets the master accept traffic for the VIP")
		case "strict_mode":
			if on, ok := p.boolArg(l); ok && on {
				p.d.errorf(l.pos, "strict_mode is not supported: it implies no_accept, which makes the VIP unreachable; remove it")
			}
		default:
			if msg, bad := instanceUnsupported[kw]; bad {
				p.d.errorf(l.pos, "%s", msg)
			} else if instanceIgnored[kw] {
				p.d.warnf(l.pos, "%s is not used by milvus-ha - ignored", kw)
			} else {
				p.d.warnf(l.pos, "unknown keyword '%s' in vrrp_instance - ignored", kw)
			}
			p.skipBlock()
		}
	})
	if unicastKeyword && len(in.UnicastPeers) == 0 {
		if unicastFaultNoPeer {
			p.d.errorf(in.Pos, "vrrp_instance %s: unicast_fault_no_peer set but no unicast_peer given", in.Name)
		} else {
			// keepalived 2.2.7 falls back to multicast (deprecated).
			p.d.warnf(in.Pos, "vrrp_instance %s: unicast keyword without any unicast_peer - using multicast", in.Name)
		}
	}
	p.cfg.Instances = append(p.cfg.Instances, in)
}

// multiKeyword lists instance keywords that may legitimately repeat.
var multiKeyword = set("virtual_ipaddress", "track_script", "track_interface", "unicast_peer", "authentication")

func (p *kparser) auth(in *Instance, l kline) {
	switch kw := l.toks[0]; kw {
	case "auth_type":
		a, ok := p.args(l, 1, 1)
		if !ok {
			return
		}
		switch a[0] {
		case "PASS":
			in.AuthType = AuthPass
		case "AH":
			p.d.errorf(l.pos, "auth_type AH is not supported; use PASS or no authentication")
		default:
			p.d.errorf(l.pos, "auth_type '%s' must be PASS", a[0])
		}
		in.setPos("auth_type", l.pos)
	case "auth_pass":
		a, ok := p.args(l, 1, 1)
		if !ok {
			return
		}
		pass := a[0]
		if len(pass) > MaxAuthPass {
			p.d.warnf(l.pos, "auth_pass truncated to %d characters, as keepalived does", MaxAuthPass)
			pass = pass[:MaxAuthPass]
		}
		in.AuthPass = pass
		in.setPos("auth_pass", l.pos)
	default:
		p.d.warnf(l.pos, "unknown keyword '%s' in authentication - ignored", kw)
		p.skipBlock()
	}
}

// vip parses "<IP>[/<prefix>] [brd X] [dev IF] [scope S] [label L] ...".
func (p *kparser) vip(in *Instance, l kline) {
	t := l.toks
	v := VIP{}
	addr := t[0]
	if !strings.Contains(addr, "/") {
		a, ok := p.addrArg(l.pos, "virtual_ipaddress", addr)
		if !ok {
			return
		}
		v.Prefix = netip.PrefixFrom(a, a.BitLen())
	} else {
		pf, err := netip.ParsePrefix(addr)
		if err != nil || pf.Addr().Zone() != "" || pf.Addr().Is4In6() {
			p.d.errorf(l.pos, "virtual_ipaddress '%s' is not an address or address/prefix", addr)
			return
		}
		v.Prefix = pf
	}
	for i := 1; i < len(t); i++ {
		opt := t[i]
		val := func() (string, bool) {
			if i+1 >= len(t) {
				p.d.errorf(l.pos, "virtual_ipaddress %s: %s needs a value", addr, opt)
				return "", false
			}
			i++
			return t[i], true
		}
		switch opt {
		case "dev":
			if s, ok := val(); ok {
				v.Dev = s
			}
		case "label":
			if s, ok := val(); ok {
				if len(s) > 15 {
					p.d.errorf(l.pos, "virtual_ipaddress %s: label '%s' longer than 15 characters", addr, s)
				}
				v.Label = s
			}
		case "brd", "broadcast":
			if s, ok := val(); ok {
				if a, ok := p.addrArg(l.pos, "brd", s); ok {
					v.Brd = a
				}
			}
		case "scope":
			if s, ok := val(); ok {
				switch s {
				case "global", "site", "link", "host", "nowhere":
					v.Scope = s
				default:
					p.d.errorf(l.pos, "virtual_ipaddress %s: scope '%s' must be global|site|link|host|nowhere", addr, s)
				}
			}
		case "no_track":
			v.NoTrack = true
		case "-nodad", "nodad", "noprefixroute", "home", "mngtmpaddr", "autojoin":
			p.d.warnf(l.pos, "virtual_ipaddress %s: option %s ignored", addr, opt)
		case "preferred_lft":
			if _, ok := val(); ok {
				p.d.warnf(l.pos, "virtual_ipaddress %s: option preferred_lft ignored", addr)
			}
		default:
			p.d.errorf(l.pos, "virtual_ipaddress %s: unsupported option '%s'", addr, opt)
			return
		}
	}
	for _, old := range in.VIPs {
		if old.Prefix.Addr() == v.Prefix.Addr() {
			p.d.warnf(l.pos, "virtual_ipaddress %s listed twice - ignoring the second", addr)
			return
		}
	}
	in.VIPs = append(in.VIPs, v)
}

func (p *kparser) peer(in *Instance, l kline) {
	a, ok := p.addrArg(l.pos, "unicast_peer", l.toks[0])
	if !ok {
		return
	}
	if len(l.toks) > 1 {
		p.d.warnf(l.pos, "unicast_peer %s: options %s ignored", l.toks[0], strings.Join(l.toks[1:], " "))
	}
	for _, old := range in.UnicastPeers {
		if old == a {
			p.d.warnf(l.pos, "unicast_peer %s listed twice", l.toks[0])
			return
		}
	}
	in.UnicastPeers = append(in.UnicastPeers, a)
}

// weightOpt parses "NAME [weight W [reverse|noreverse]]" as keepalived's
// alloc_track_script / alloc_track_if do (±254 is clamped to ±253).
func (p *kparser) weightOpt(l kline, what string, weight *int, reverse *bool) bool {
	t := l.toks
	if len(t) == 1 {
		return true
	}
	if t[1] != "weight" {
		p.d.errorf(l.pos, "%s %s: unknown option '%s'", what, t[0], t[1])
		return false
	}
	if len(t) == 2 {
		p.d.errorf(l.pos, "%s %s: weight needs a value", what, t[0])
		return false
	}
	w, ok := p.intValue(l.pos, "weight", t[2], -254, 254)
	if !ok {
		return false
	}
	if w == 254 || w == -254 {
		p.d.warnf(l.pos, "%s %s: weight cannot be ±254, using ±253", what, t[0])
		w = w / 254 * 253
	}
	*weight = w
	if len(t) >= 4 {
		switch t[3] {
		case "reverse":
			*reverse = true
		case "noreverse":
			*reverse = false
		default:
			p.d.errorf(l.pos, "%s %s: unknown weight option '%s'", what, t[0], t[3])
			return false
		}
	}
	if len(t) > 4 {
		p.d.warnf(l.pos, "%s %s: extra values ignored: %s", what, t[0], strings.Join(t[4:], " "))
	}
	return true
}

func (p *kparser) trackScript(in *Instance, l kline) {
	name := l.toks[0]
	for _, ts := range in.TrackScripts {
		if ts.Name == name {
			p.d.warnf(l.pos, "duplicate track_script %s - ignoring", name)
			return
		}
	}
	ts := TrackScript{Name: name, Pos: l.pos}
	if s, ok := p.cfg.Scripts[name]; ok {
		ts.Weight, ts.Reverse = s.Weight, s.Reverse
	} else {
		p.pending = append(p.pending, pendingTrack{inst: in.Name, pos: l.pos, name: name})
	}
	if p.weightOpt(l, "track_script", &ts.Weight, &ts.Reverse) {
		in.TrackScripts = append(in.TrackScripts, ts)
	}
}

func (p *kparser) trackInterface(in *Instance, l kline) {
	ti := TrackInterface{Name: l.toks[0]}
	for _, old := range in.TrackInterfaces {
		if old.Name == ti.Name {
			p.d.warnf(l.pos, "duplicate track_interface %s - ignoring", ti.Name)
			return
		}
	}
	if p.weightOpt(l, "track_interface", &ti.Weight, &ti.Reverse) {
		in.TrackInterfaces = append(in.TrackInterfaces, ti)
	}
}

// ---- vrrp_sync_group ----

func (p *kparser) syncGroup(l kline) {
	a, ok := p.args(l, 1, 1)
	if !ok {
		p.skipBlock()
		return
	}
	g := &SyncGroup{Name: a[0], Pos: l.pos}
	p.block(l, func(l kline) {
		switch kw := l.toks[0]; kw {
		case "group":
			p.block(l, func(l kline) { g.Members = append(g.Members, l.toks...) })
		case "notify_master", "notify_backup", "notify_fault", "notify_stop", "notify":
			p.d.errorf(l.pos, "%s in vrrp_sync_group is not supported; put it in the vrrp_instance", kw)
		default:
			p.d.warnf(l.pos, "%s in vrrp_sync_group is ignored", kw)
			p.skipBlock()
		}
	})
	p.d.warnf(l.pos, "vrrp_sync_group %s: milvus-ha does not keep the group's instances in the same state", g.Name)
	p.cfg.SyncGroups = append(p.cfg.SyncGroups, g)
}

// ---- completion (vrrp_complete_instance) ----

func (p *kparser) complete() {
	for _, pt := range p.pending {
		if s, ok := p.cfg.Scripts[pt.name]; ok {
			p.d.errorf(pt.pos, "track_script %s: vrrp_script %s is defined after vrrp_instance %s (at %s); keepalived would ignore it - move it before", pt.name, pt.name, pt.inst, s.Pos)
		}
	}
	for _, g := range p.cfg.SyncGroups {
		for _, m := range g.Members {
			if p.cfg.instance(m) == nil {
				p.d.errorf(g.Pos, "vrrp_sync_group %s: no vrrp_instance %s", g.Name, m)
			}
		}
	}
	for _, in := range p.cfg.Instances {
		complete(in, p.cfg.Global, &p.d.warns)
	}
	// script_user is the default run-as identity of every script and hook.
	g := p.cfg.Global
	if g.ScriptUser == "" {
		return
	}
	for _, s := range p.cfg.Scripts {
		if s.User == "" {
			s.User, s.Group = g.ScriptUser, g.ScriptGroup
		}
	}
	for _, in := range p.cfg.Instances {
		for _, h := range []*Hook{in.Notify.Master, in.Notify.Backup, in.Notify.Fault, in.Notify.Stop, in.Notify.Generic} {
			if h != nil && h.User == "" {
				h.User, h.Group = g.ScriptUser, g.ScriptGroup
			}
		}
	}
}

func (c *Config) instance(name string) *Instance {
	for _, in := range c.Instances {
		if in.Name == name {
			return in
		}
	}
	return nil
}

// complete applies keepalived's defaults and its adjustments of
// contradictory settings (vrrp_complete_instance, vrrp.c), warning where
// keepalived reports a config error and carries on.
func complete(in *Instance, g Global, warns *[]Warning) {
	warn := func(key, format string, args ...any) {
		*warns = append(*warns, Warning{Pos: in.PosOf(key), Msg: fmt.Sprintf("vrrp_instance %s: ", in.Name) + fmt.Sprintf(format, args...)})
	}
	ipv6 := len(in.VIPs) > 0 && in.VIPs[0].Prefix.Addr().Is6()
	if in.Version == 0 {
		in.Version = g.VRRPVersion
		if ipv6 {
			in.Version = 3
		}
	}
	if in.Priority == 0 {
		in.Priority = DefaultPriority
		if in.State == StateMaster {
			in.Priority = OwnerPriority
		}
	}
	if in.State == "" {
		in.State = StateBackup
		if in.Priority == OwnerPriority {
			in.State = StateMaster
		}
	}
	if in.Advert == 0 {
		in.Advert = DefaultAdvertInterval
	}
	if in.DownTimerAdverts == 0 {
		in.DownTimerAdverts = g.DownTimerAdverts
	}
	in.CheckUnicastSrc = in.CheckUnicastSrc || g.CheckUnicastSrc
	switch {
	case in.AuthType != AuthNone && in.Version == 3:
		warn("auth_type", "VRRP version 3 does not support authentication - ignoring it")
		in.AuthType, in.AuthPass = AuthNone, ""
	case in.AuthType != AuthNone && in.AuthPass == "":
		warn("auth_type", "authentication specified but no auth_pass given - ignoring it")
		in.AuthType = AuthNone
	case in.AuthType == AuthNone && in.AuthPass != "":
		warn("auth_pass", "auth_pass without auth_type PASS - ignoring it")
		in.AuthPass = ""
	}
	if in.Priority == OwnerPriority && in.Nopreempt {
		warn("nopreempt", "nopreempt is incompatible with priority 255 - resetting nopreempt")
		in.Nopreempt = false
	}
	if in.State == StateMaster {
		if in.Nopreempt {
			warn("nopreempt", "nopreempt only works with state BACKUP - clearing it")
			in.Nopreempt = false
		}
		if in.PreemptDelay > 0 {
			warn("preempt_delay", "preempt_delay only works with state BACKUP - clearing it")
			in.PreemptDelay = 0
		}
	}
	if in.PreemptDelay > 0 && in.Nopreempt {
		warn("preempt_delay", "preempt_delay is incompatible with nopreempt - clearing it")
		in.PreemptDelay = 0
	}
	if in.Interface != "" {
		kept := in.TrackInterfaces[:0]
		for _, ti := range in.TrackInterfaces {
			if ti.Name == in.Interface {
				warn("track_interface", "ignoring track_interface %s since it is the instance's own interface", ti.Name)
				continue
			}
			kept = append(kept, ti)
		}
		in.TrackInterfaces = kept
	}
	if in.Priority == OwnerPriority {
		kept := in.TrackScripts[:0]
		for _, ts := range in.TrackScripts {
			if ts.Weight != 0 {
				*warns = append(*warns, Warning{Pos: ts.Pos, Msg: fmt.Sprintf("vrrp_instance %s: weighted track_script %s cannot be used with priority 255 - ignoring it", in.Name, ts.Name)})
				continue
			}
			kept = append(kept, ts)
		}
		in.TrackScripts = kept
	}
	in.GARP = in.GARP.resolved()
}
