package config

import (
	"fmt"
	"strings"
	"time"
)

// MasterDownInterval is the time a backup waits without adverts before it
// takes over: down_timer_adverts × advert + skew, where skew uses the
// priority and, for v3, the advert interval (RFC 5798 §6.1; reference §0.6).
func (in *Instance) MasterDownInterval() time.Duration {
	return time.Duration(in.DownTimerAdverts)*in.Advert + in.Skew()
}

// Skew is the Skew_Time for the instance's configured priority.
func (in *Instance) Skew() time.Duration {
	if in.Version == 3 {
		return time.Duration(256-in.Priority) * in.Advert / 256
	}
	return time.Duration(256-in.Priority) * time.Second / 256
}

// Describe renders the effective settings for `milvus-ha config check`.
func (c *Config) Describe() string {
	var b strings.Builder
	p := func(indent int, format string, args ...any) {
		b.WriteString(strings.Repeat("  ", indent))
		fmt.Fprintf(&b, format, args...)
		b.WriteByte('\n')
	}
	p(0, "config %s (%s format)", c.Path, c.Format)
	if c.Global.RouterID != "" {
		p(0, "router_id %s", c.Global.RouterID)
	}
	if c.Global.ScriptUser != "" {
		p(0, "script_user %s %s", c.Global.ScriptUser, c.Global.ScriptGroup)
	}
	for _, name := range sortedKeys(c.Scripts) {
		s := c.Scripts[name]
		p(0, "vrrp_script %s (%s)", s.Name, s.Pos)
		p(1, "argv       %q", s.Args)
		p(1, "interval   %s, timeout %s, rise %d, fall %d, init_fail %s", s.Interval, s.Timeout, s.Rise, s.Fall, yesNo(s.InitFail))
		p(1, "effect     %s", weightText(s.Weight, s.Reverse))
		if s.User != "" {
			p(1, "user       %s %s", s.User, s.Group)
		}
	}
	for _, in := range c.Instances {
		p(0, "vrrp_instance %s (%s)", in.Name, in.Pos)
		p(1, "interface  %s", in.Interface)
		p(1, "state      %s, priority %d%s", in.State, in.Priority, ownerText(in.Priority))
		p(1, "vrid       %d, VRRPv%d, advert %s", in.VRID, in.Version, in.Advert)
		p(1, "takeover   backup waits %s without adverts (%d × %s + skew %s)", in.MasterDownInterval(), in.DownTimerAdverts, in.Advert, in.Skew())
		switch {
		case in.Nopreempt:
			p(1, "preempt    no (nopreempt)")
		case in.PreemptDelay > 0:
			p(1, "preempt    yes, after %s", in.PreemptDelay)
		default:
			p(1, "preempt    yes")
		}
		if in.AuthType == AuthPass {
			p(1, "auth       PASS (%d characters)", len(in.AuthPass))
		} else {
			p(1, "auth       none")
		}
		if len(in.UnicastPeers) > 0 {
			p(1, "adverts    unicast from %s to %s", addrOrPrimary(in), joinAddrs(in.UnicastPeers))
		} else {
			group := "224.0.0.18"
			if len(in.VIPs) > 0 && in.VIPs[0].Prefix.Addr().Is6() {
				group = "ff02::12"
			}
			p(1, "adverts    multicast to %s from %s", group, addrOrPrimary(in))
		}
		for _, v := range in.VIPs {
			dev := v.Dev
			if dev == "" {
				dev = in.Interface
			}
			extra := ""
			if v.Label != "" {
				extra += " label " + v.Label
			}
			if v.NoTrack {
				extra += " no_track"
			}
			p(1, "vip        %s dev %s%s", v.Prefix, dev, extra)
		}
		for _, ts := range in.TrackScripts {
			p(1, "track      script %s, %s", ts.Name, weightText(ts.Weight, ts.Reverse))
		}
		for _, ti := range in.TrackInterfaces {
			p(1, "track      interface %s, %s", ti.Name, weightText(ti.Weight, ti.Reverse))
		}
		for _, h := range []struct {
			name string
			h    *Hook
		}{{"notify_master", in.Notify.Master}, {"notify_backup", in.Notify.Backup}, {"notify_fault", in.Notify.Fault}, {"notify_stop", in.Notify.Stop}, {"notify", in.Notify.Generic}} {
			if h.h != nil {
				p(1, "%-10s %q", h.name, h.h.Args)
			}
		}
		g := in.GARP
		refresh := "off"
		if g.MasterRefresh > 0 {
			refresh = fmt.Sprintf("every %s ×%d", g.MasterRefresh, g.MasterRefreshRepeat)
		}
		p(1, "garp       %d at once, %d more after %s, refresh %s", g.MasterRepeat, g.MasterRepeat, g.MasterDelay, refresh)
	}
	for _, sg := range c.SyncGroups {
		p(0, "vrrp_sync_group %s (not enforced): %s", sg.Name, strings.Join(sg.Members, " "))
	}
	if k := c.Keeper; k != nil {
		p(0, "keeper")
		p(1, "node       %s", k.Node)
		p(1, "data_dir   %s", k.DataDir)
		p(1, "timing     %s", k.Timing)
		switch s := k.Service; s.Kind {
		case ServiceEmbedded:
			p(1, "service    embedded, listen %s, health %s", s.Listen, s.HealthListen)
		case ServiceDocker:
			p(1, "service    docker container %s%s", s.Container, addressText(s.Address))
		case ServiceExec:
			p(1, "service    exec %q, restart %s%s", s.Command, s.Restart, addressText(s.Address))
		case ServiceSystemd:
			p(1, "service    systemd unit %s%s", s.Unit, addressText(s.Address))
		}
		for _, ch := range k.Checks {
			p(1, "check      %s: %s %s every %s, timeout %s, fall %d, rise %d, %s, scope %s", ch.Name, ch.Kind, ch.Target, ch.Interval, ch.Timeout, ch.Fall, ch.Rise, weightText(ch.Weight, false), ch.Scope)
		}
		if k.Watchdog != "" {
			p(1, "watchdog   %s (petted while active)", k.Watchdog)
		}
		token := "no token"
		if k.API.Token != "" {
			token = "token set"
		}
		p(1, "api        %s (%s)", k.API.Listen, token)
	}
	return b.String()
}

func addressText(addr string) string {
	if addr == "" {
		return ", no address (only the driver's state is checked)"
	}
	return ", Milvus gRPC at " + addr
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func ownerText(prio int) string {
	if prio == OwnerPriority {
		return " (address owner)"
	}
	return ""
}

func weightText(w int, reverse bool) string {
	r := ""
	if reverse {
		r = " reverse"
	}
	switch {
	case w == 0 && reverse:
		return "weight 0 reverse (success puts the instance in FAULT)"
	case w == 0:
		return "weight 0 (failure puts the instance in FAULT)"
	case w > 0:
		return fmt.Sprintf("weight %+d%s (added while OK)", w, r)
	default:
		return fmt.Sprintf("weight %d%s (added while failing)", w, r)
	}
}

func addrOrPrimary(in *Instance) string {
	if in.SrcIP.IsValid() {
		return in.SrcIP.String()
	}
	return "the primary address of " + in.Interface
}

func joinAddrs[T fmt.Stringer](as []T) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}
