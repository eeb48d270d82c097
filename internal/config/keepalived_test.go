package config

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// memFS is an in-memory fileSystem for include tests and fuzzing.
type memFS map[string]string

func (m memFS) ReadFile(name string) ([]byte, error) {
	if s, ok := m[name]; ok {
		return []byte(s), nil
	}
	return nil, fs.ErrNotExist
}

func (m memFS) Glob(pattern string) ([]string, error) {
	var out []string
	for name := range m {
		if ok, err := path.Match(pattern, name); err != nil {
			return nil, err
		} else if ok {
			out = append(out, name)
		}
	}
	return sortedKeys(set(out...)), nil
}

func parseKA(t *testing.T, text string) (*Config, []Warning, error) {
	t.Helper()
	return parseKeepalived("keepalived.conf", []byte(text), memFS{})
}

func mustParseKA(t *testing.T, text string) (*Config, []Warning) {
	t.Helper()
	c, w, err := parseKA(t, text)
	if err != nil {
		t.Fatalf("unexpected error:\n%v\nconfig:\n%s", err, text)
	}
	return c, w
}

// inst builds a minimal valid instance; extra lines start at line 7.
func inst(extra string) string {
	return "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  virtual_ipaddress {\n    198.18.0.10/24\n  }\n" + extra + "}\n"
}

func warnStrings(ws []Warning) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.String()
	}
	return out
}

// The recipe's two configs (seed document) load unchanged apart from the
// interface name and the addresses.
func TestRecipeMaster(t *testing.T) {
	c, w, err := Load("testdata/recipe/master.conf")
	if err != nil {
		t.Fatal(err)
	}
	if len(w) != 0 {
		t.Errorf("warnings: %v", warnStrings(w))
	}
	if c.Format != FormatKeepalived || c.Global.RouterID != "sol01" || c.Keeper != nil {
		t.Errorf("global: format %s router_id %q keeper %v", c.Format, c.Global.RouterID, c.Keeper)
	}
	s := c.Scripts["chk_milvus"]
	wantScript := &Script{
		Name: "chk_milvus", Pos: Pos{"testdata/recipe/master.conf", 6},
		Command: "/etc/keepalived/chk_milvus.sh", Args: []string{"/etc/keepalived/chk_milvus.sh"},
		Interval: 2 * time.Second, Timeout: 2 * time.Second, Weight: -20, Fall: 1, Rise: 1,
	}
	if !reflect.DeepEqual(s, wantScript) {
		t.Errorf("script:\n got %+v\nwant %+v", s, wantScript)
	}
	if len(c.Instances) != 1 {
		t.Fatalf("%d instances", len(c.Instances))
	}
	in := c.Instances[0]
	checkInstance(t, in, Instance{
		Name: "VI_SERVER", Interface: "eth0", State: StateMaster, VRID: 51, Priority: 110,
		Advert: time.Second, Version: 2, AuthType: AuthPass, AuthPass: "1111", DownTimerAdverts: 3,
		VIPs:         []VIP{{Prefix: netip.MustParsePrefix("198.18.0.104/24")}},
		TrackScripts: []TrackScript{{Name: "chk_milvus", Weight: -20, Pos: Pos{"testdata/recipe/master.conf", 25}}},
		GARP:         GARP{MasterDelay: 5 * time.Second, MasterRepeat: 5, MasterRefreshRepeat: 1, LowerPrioDelay: 5 * time.Second, LowerPrioRepeat: 5},
	})
	if in.Notify != (Notify{}) {
		t.Errorf("notify: %+v", in.Notify)
	}
}

func TestRecipeBackup(t *testing.T) {
	c, w, err := Load("testdata/recipe/backup.conf")
	if err != nil {
		t.Fatal(err)
	}
	if len(w) != 0 {
		t.Errorf("warnings: %v", warnStrings(w))
	}
	if c.Global.RouterID != "sol02" || len(c.Scripts) != 0 || len(c.Instances) != 1 {
		t.Fatalf("router_id %q, %d scripts, %d instances", c.Global.RouterID, len(c.Scripts), len(c.Instances))
	}
	in := c.Instances[0]
	checkInstance(t, in, Instance{
		Name: "VI_SERVER", Interface: "eth0", State: StateBackup, VRID: 51, Priority: 91,
		Advert: time.Second, Version: 2, AuthType: AuthPass, AuthPass: "1111", DownTimerAdverts: 3,
		VIPs: []VIP{{Prefix: netip.MustParsePrefix("198.18.0.104/24")}},
		GARP: GARP{MasterDelay: 5 * time.Second, MasterRepeat: 5, MasterRefreshRepeat: 1, LowerPrioDelay: 5 * time.Second, LowerPrioRepeat: 5},
	})
	wantMaster := &Hook{Command: "/etc/keepalived/start_docker.sh master", Args: []string{"/etc/keepalived/start_docker.sh", "master"}}
	wantBackup := &Hook{Command: "/etc/keepalived/stop_docker.sh backup", Args: []string{"/etc/keepalived/stop_docker.sh", "backup"}}
	if !reflect.DeepEqual(in.Notify.Master, wantMaster) || !reflect.DeepEqual(in.Notify.Backup, wantBackup) {
		t.Errorf("notify master %+v backup %+v", in.Notify.Master, in.Notify.Backup)
	}
	if in.Notify.Fault != nil || in.Notify.Stop != nil || in.Notify.Generic != nil {
		t.Errorf("unexpected hooks: %+v", in.Notify)
	}
}

// checkInstance compares the exported fields except positions.
func checkInstance(t *testing.T, got *Instance, want Instance) {
	t.Helper()
	g := *got
	g.Pos, g.pos, g.Notify = Pos{}, nil, Notify{} // notify hooks are checked by the callers
	if !reflect.DeepEqual(g, want) {
		t.Errorf("instance:\n got %+v\nwant %+v", g, want)
	}
}

// semanticCases are valid configs with the model keepalived gives them;
// TestKeepalivedAgrees also runs them through `keepalived -t`.
var semanticCases = []struct {
	name  string
	conf  string
	check func(t *testing.T, c *Config)
}{
	{
		// reference §0.5: `state MASTER` without a priority line means 255.
		name: "state MASTER without priority is the owner",
		conf: inst("state MASTER\n"),
		check: func(t *testing.T, c *Config) {
			if in := c.Instances[0]; in.Priority != 255 || in.State != StateMaster {
				t.Errorf("priority %d state %s", in.Priority, in.State)
			}
		},
	},
	{
		name: "priority 255 without state starts MASTER",
		conf: inst("priority 255\n"),
		check: func(t *testing.T, c *Config) {
			if in := c.Instances[0]; in.State != StateMaster {
				t.Errorf("state %s", in.State)
			}
		},
	},
	{
		name: "defaults: BACKUP, priority 100, VRRPv2, advert 1s, /32",
		conf: "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 7\n virtual_ipaddress {\n 198.18.0.10\n }\n}\n",
		check: func(t *testing.T, c *Config) {
			in := c.Instances[0]
			if in.State != StateBackup || in.Priority != 100 || in.Version != 2 || in.Advert != time.Second || in.Nopreempt || in.DownTimerAdverts != 3 {
				t.Errorf("%+v", in)
			}
			if in.VIPs[0].Prefix != netip.MustParsePrefix("198.18.0.10/32") {
				t.Errorf("vip %s", in.VIPs[0].Prefix)
			}
		},
	},
	{
		name: "IPv6 VIP: version 3 and /128",
		conf: "vrrp_instance VI_6 {\n interface eth0\n virtual_router_id 7\n advert_int 0.1\n virtual_ipaddress {\n fe80::10\n 2001:db8::10/64\n }\n}\n",
		check: func(t *testing.T, c *Config) {
			in := c.Instances[0]
			if in.Version != 3 || in.VIPs[0].Prefix.Bits() != 128 || in.VIPs[1].Prefix.Bits() != 64 || in.Advert != 100*time.Millisecond {
				t.Errorf("%+v", in)
			}
		},
	},
	{
		name: "global vrrp_version 3 and centisecond advert",
		conf: "global_defs {\n vrrp_version 3\n}\n" + inst("advert_int 0.02\n"),
		check: func(t *testing.T, c *Config) {
			if in := c.Instances[0]; in.Version != 3 || in.Advert != 20*time.Millisecond {
				t.Errorf("version %d advert %s", in.Version, in.Advert)
			}
		},
	},
	{
		name: "vrrp_script defaults (reference §3.1)",
		conf: "vrrp_script chk {\n script /bin/true\n}\n" + inst("track_script {\n chk\n}\n"),
		check: func(t *testing.T, c *Config) {
			s := c.Scripts["chk"]
			if s.Interval != time.Second || s.Timeout != time.Second || s.Weight != 0 || s.Rise != 1 || s.Fall != 1 || s.InitFail || s.Reverse {
				t.Errorf("%+v", s)
			}
		},
	},
	{
		name: "vrrp_script all keywords",
		conf: "vrrp_script chk {\n script \"/usr/bin/check --name 'a b'\"\n interval 3\n timeout 2\n weight 10 reverse\n rise 3\n fall 2\n user nobody nogroup\n init_fail\n}\n" + inst("track_script {\n chk\n}\n"),
		check: func(t *testing.T, c *Config) {
			want := &Script{Name: "chk", Pos: Pos{"keepalived.conf", 1}, Command: "/usr/bin/check --name 'a b'",
				Args: []string{"/usr/bin/check", "--name", "a b"}, Interval: 3 * time.Second, Timeout: 2 * time.Second,
				Weight: 10, Reverse: true, Rise: 3, Fall: 2, User: "nobody", Group: "nogroup", InitFail: true}
			if got := c.Scripts["chk"]; !reflect.DeepEqual(got, want) {
				t.Errorf("\n got %+v\nwant %+v", got, want)
			}
			if ts := c.Instances[0].TrackScripts[0]; ts.Weight != 10 || !ts.Reverse {
				t.Errorf("track inherits weight: %+v", ts)
			}
		},
	},
	{
		name: "track_script weight override, noreverse",
		conf: "vrrp_script a {\n script /bin/true\n weight 5 reverse\n}\nvrrp_script b {\n script /bin/true\n}\n" +
			inst("track_script {\n a weight -30 noreverse\n b weight 253\n}\ntrack_interface {\n lo weight -253 reverse\n}\n"),
		check: func(t *testing.T, c *Config) {
			in := c.Instances[0]
			wantTS := []TrackScript{{Name: "a", Weight: -30, Pos: Pos{"keepalived.conf", 15}}, {Name: "b", Weight: 253, Pos: Pos{"keepalived.conf", 16}}}
			if !reflect.DeepEqual(in.TrackScripts, wantTS) {
				t.Errorf("track_script %+v", in.TrackScripts)
			}
			wantTI := []TrackInterface{{Name: "lo", Weight: -253, Reverse: true}}
			if !reflect.DeepEqual(in.TrackInterfaces, wantTI) {
				t.Errorf("track_interface %+v", in.TrackInterfaces)
			}
		},
	},
	{
		name: "one-line blocks, braces on the next line, VIP options",
		conf: "vrrp_instance VI_1\n{\n interface eth0\n virtual_router_id 9\n virtual_ipaddress { 198.18.0.10/24 dev eth0 label eth0:vip brd 198.18.0.255 scope global no_track }\n authentication { auth_type PASS\n auth_pass secret }\n unicast_src_ip 198.18.0.1\n unicast_peer {\n 198.18.0.2\n }\n}\n",
		check: func(t *testing.T, c *Config) {
			in := c.Instances[0]
			want := VIP{Prefix: netip.MustParsePrefix("198.18.0.10/24"), Dev: "eth0", Label: "eth0:vip",
				Brd: netip.MustParseAddr("198.18.0.255"), Scope: "global", NoTrack: true}
			if len(in.VIPs) != 1 || in.VIPs[0] != want {
				t.Errorf("vips %+v", in.VIPs)
			}
			if in.AuthType != AuthPass || in.AuthPass != "secret" {
				t.Errorf("auth %q %q", in.AuthType, in.AuthPass)
			}
			if in.SrcIP != netip.MustParseAddr("198.18.0.1") || len(in.UnicastPeers) != 1 || in.UnicastPeers[0] != netip.MustParseAddr("198.18.0.2") {
				t.Errorf("unicast %s %v", in.SrcIP, in.UnicastPeers)
			}
		},
	},
	{
		name: "comments, quotes and escapes",
		conf: "global_defs {\n router_id a\\#b ! comment\n}\n" + inst(
			"notify_master \"/bin/echo a#b !c\" # trailing\n"+
				"notify_backup '/bin/echo' root wheel\n"+
				"notify \"/bin/printf 'x\\ty' \\\"q\\\"\"\n"+
				"notify_fault /bin/fault.sh\n"),
		check: func(t *testing.T, c *Config) {
			if c.Global.RouterID != "a#b" {
				t.Errorf("router_id %q", c.Global.RouterID)
			}
			n := c.Instances[0].Notify
			if !reflect.DeepEqual(n.Master.Args, []string{"/bin/echo", "a#b", "!c"}) {
				t.Errorf("master %q", n.Master.Args)
			}
			if !reflect.DeepEqual(n.Backup, &Hook{Command: "/bin/echo", Args: []string{"/bin/echo"}, User: "root", Group: "wheel"}) {
				t.Errorf("backup %+v", n.Backup)
			}
			if !reflect.DeepEqual(n.Generic.Args, []string{"/bin/printf", "x\ty", `q`}) {
				t.Errorf("generic %q", n.Generic.Args)
			}
			if !reflect.DeepEqual(n.Fault.Args, []string{"/bin/fault.sh"}) {
				t.Errorf("fault %q", n.Fault.Args)
			}
		},
	},
	{
		name: "global garp defaults are copied into instances parsed after them",
		conf: "global_defs {\n vrrp_garp_master_delay 1\n vrrp_garp_master_repeat 2\n vrrp_garp_master_refresh 60\n vrrp_garp_interval 0.001\n}\n" +
			inst("garp_master_repeat 3\ngarp_lower_prio_repeat 0\n"),
		check: func(t *testing.T, c *Config) {
			want := GARP{MasterDelay: time.Second, MasterRepeat: 3, MasterRefresh: time.Minute, MasterRefreshRepeat: 1,
				LowerPrioDelay: time.Second, LowerPrioRepeat: 0, Interval: time.Millisecond}
			if g := c.Instances[0].GARP; g != want {
				t.Errorf("\n got %+v\nwant %+v", g, want)
			}
		},
	},
	{
		name: "script_user is the default run-as identity",
		conf: "global_defs {\n script_user nobody nogroup\n}\nvrrp_script a {\n script /bin/true\n}\nvrrp_script b {\n script /bin/true\n user root\n}\n" +
			inst("track_script {\n a\n b\n}\nnotify_master /bin/true\nnotify_backup /bin/true root\n"),
		check: func(t *testing.T, c *Config) {
			if s := c.Scripts["a"]; s.User != "nobody" || s.Group != "nogroup" {
				t.Errorf("a runs as %q %q", s.User, s.Group)
			}
			if s := c.Scripts["b"]; s.User != "root" || s.Group != "" {
				t.Errorf("b runs as %q %q", s.User, s.Group)
			}
			n := c.Instances[0].Notify
			if n.Master.User != "nobody" || n.Backup.User != "root" {
				t.Errorf("hooks run as %q and %q", n.Master.User, n.Backup.User)
			}
		},
	},
	{
		name: "vrrp_min_garp",
		conf: "global_defs {\n vrrp_min_garp\n}\n" + inst(""),
		check: func(t *testing.T, c *Config) {
			if g := c.Instances[0].GARP; g.MasterRepeat != 1 || g.MasterDelay != 0 || g.MasterRefreshRepeat != 0 {
				t.Errorf("%+v", g)
			}
		},
	},
	{
		name: "nopreempt and preempt_delay with BACKUP",
		conf: inst("state BACKUP\nnopreempt\n") + strings.NewReplacer("VI_1", "VI_2", " 51", " 52").Replace(inst("preempt_delay 2.5\n")),
		check: func(t *testing.T, c *Config) {
			if a, b := c.Instances[0], c.Instances[1]; !a.Nopreempt || b.Nopreempt || b.PreemptDelay != 2500*time.Millisecond {
				t.Errorf("%+v\n%+v", a, b)
			}
		},
	},
	{
		name: "preempt after nopreempt wins",
		conf: inst("nopreempt\npreempt\npreempt_delay 1\n"),
		check: func(t *testing.T, c *Config) {
			if in := c.Instances[0]; in.Nopreempt || in.PreemptDelay != time.Second {
				t.Errorf("%+v", in)
			}
		},
	},
	{
		name: "unicast with check_unicast_src, dont_track_primary, down_timer_adverts",
		conf: "global_defs {\n vrrp_check_unicast_src\n}\n" + inst("dont_track_primary\ndown_timer_adverts 5\nunicast_peer {\n198.18.0.2\n198.18.0.3\n}\n"),
		check: func(t *testing.T, c *Config) {
			in := c.Instances[0]
			if !in.CheckUnicastSrc || !in.DontTrackPrimary || in.DownTimerAdverts != 5 || len(in.UnicastPeers) != 2 {
				t.Errorf("%+v", in)
			}
		},
	},
	{
		name: "sync group is parsed",
		conf: inst("") + strings.NewReplacer("VI_1", "VI_2", " 51", " 52").Replace(inst("")) + "vrrp_sync_group G {\n group {\n VI_1\n VI_2\n }\n}\n",
		check: func(t *testing.T, c *Config) {
			if len(c.SyncGroups) != 1 || !reflect.DeepEqual(c.SyncGroups[0].Members, []string{"VI_1", "VI_2"}) {
				t.Errorf("%+v", c.SyncGroups)
			}
		},
	},
}

func TestKeepalivedSemantics(t *testing.T) {
	for _, tt := range semanticCases {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := mustParseKA(t, tt.conf)
			tt.check(t, c)
		})
	}
}

func TestKeepalivedWarnings(t *testing.T) {
	tests := []struct {
		name  string
		conf  string
		warns []string
		check func(t *testing.T, c *Config)
	}{
		{
			name:  "unknown top-level keyword and its block are skipped",
			conf:  "bogus {\n priority 1\n}\n" + inst(""),
			warns: []string{"keepalived.conf:1: unknown keyword 'bogus' - ignored"},
		},
		{
			// reference §4: keepalived parses an unknown block's contents in the
			// enclosing block; we skip the block instead.
			name:  "unknown block inside an instance is skipped",
			conf:  inst("bogus_block { priority 77 }\n"),
			warns: []string{"keepalived.conf:7: unknown keyword 'bogus_block' in vrrp_instance - ignored"},
			check: func(t *testing.T, c *Config) {
				if p := c.Instances[0].Priority; p != 100 {
					t.Errorf("priority %d", p)
				}
			},
		},
		{
			name: "SMTP and friends are ignored",
			conf: "global_defs {\n notification_email {\n  a@example.com\n }\n smtp_server 192.0.2.1\n}\n" + inst("smtp_alert\n"),
			warns: []string{
				"keepalived.conf:2: notification_email is not used by milvus-ha - ignored",
				"keepalived.conf:5: smtp_server is not used by milvus-ha - ignored",
				"keepalived.conf:13: smtp_alert is not used by milvus-ha - ignored",
			},
		},
		{
			// reference §0.8: nopreempt is only honoured with state BACKUP.
			name:  "nopreempt with state MASTER is cleared",
			conf:  inst("state MASTER\npriority 150\nnopreempt\n"),
			warns: []string{"keepalived.conf:9: vrrp_instance VI_1: nopreempt only works with state BACKUP - clearing it"},
			check: func(t *testing.T, c *Config) {
				if c.Instances[0].Nopreempt {
					t.Error("nopreempt kept")
				}
			},
		},
		{
			name:  "preempt_delay with nopreempt is cleared",
			conf:  inst("nopreempt\npreempt_delay 3\n"),
			warns: []string{"keepalived.conf:8: vrrp_instance VI_1: preempt_delay is incompatible with nopreempt - clearing it"},
		},
		{
			name:  "nopreempt with priority 255 is cleared",
			conf:  inst("state BACKUP\npriority 255\nnopreempt\n"),
			warns: []string{"keepalived.conf:9: vrrp_instance VI_1: nopreempt is incompatible with priority 255 - resetting nopreempt"},
		},
		{
			// reference §0.2: keepalived ignores authentication{} for v3.
			name:  "v3 ignores authentication",
			conf:  inst("version 3\nauthentication {\n auth_type PASS\n auth_pass x\n}\n"),
			warns: []string{"keepalived.conf:9: vrrp_instance VI_1: VRRP version 3 does not support authentication - ignoring it"},
			check: func(t *testing.T, c *Config) {
				if in := c.Instances[0]; in.AuthType != AuthNone || in.AuthPass != "" {
					t.Errorf("auth kept: %q %q", in.AuthType, in.AuthPass)
				}
			},
		},
		{
			name:  "auth_pass is truncated to 8 characters",
			conf:  inst("authentication {\n auth_type PASS\n auth_pass 0123456789\n}\n"),
			warns: []string{"keepalived.conf:9: auth_pass truncated to 8 characters, as keepalived does"},
			check: func(t *testing.T, c *Config) {
				if p := c.Instances[0].AuthPass; p != "01234567" {
					t.Errorf("pass %q", p)
				}
			},
		},
		{
			name:  "auth_type without auth_pass is dropped",
			conf:  inst("authentication {\n auth_type PASS\n}\n"),
			warns: []string{"keepalived.conf:8: vrrp_instance VI_1: authentication specified but no auth_pass given - ignoring it"},
		},
		{
			name:  "unicast_src_ip without peers falls back to multicast",
			conf:  inst("unicast_src_ip 198.18.0.1\n"),
			warns: []string{"keepalived.conf:1: vrrp_instance VI_1: unicast keyword without any unicast_peer - using multicast"},
		},
		{
			name:  "owner ignores weighted track scripts",
			conf:  "vrrp_script chk {\n script /bin/true\n weight -10\n}\n" + inst("state MASTER\ntrack_script {\n chk\n}\n"),
			warns: []string{"keepalived.conf:13: vrrp_instance VI_1: weighted track_script chk cannot be used with priority 255 - ignoring it"},
			check: func(t *testing.T, c *Config) {
				if n := len(c.Instances[0].TrackScripts); n != 0 {
					t.Errorf("%d track scripts", n)
				}
			},
		},
		{
			name:  "duplicate track_script ignored",
			conf:  "vrrp_script chk {\n script /bin/true\n}\n" + inst("track_script {\n chk\n chk weight 5\n}\n"),
			warns: []string{"keepalived.conf:12: duplicate track_script chk - ignoring"},
		},
		{
			name: "sync group and no_accept",
			conf: inst("no_accept\n") + "vrrp_sync_group G {\n group {\n VI_1\n }\n global_tracking\n}\n",
			warns: []string{
				"keepalived.conf:7: no_accept is ignored: milvus-ha always lets the master accept traffic for the VIP",
				"keepalived.conf:13: global_tracking in vrrp_sync_group is ignored",
				"keepalived.conf:9: vrrp_sync_group G: milvus-ha does not keep the group's instances in the same state",
			},
		},
		{
			name:  "extra values",
			conf:  inst("priority 10 20\n"),
			warns: []string{"keepalived.conf:7: extra values after priority ignored: 20"},
		},
		{
			name:  "vrrp_script interval 0 means 1",
			conf:  "vrrp_script chk {\n script /bin/true\n interval 0\n}\n" + inst(""),
			warns: []string{"keepalived.conf:3: vrrp_script chk interval must be greater than 0, setting to 1"},
		},
		{
			name:  "missing include",
			conf:  "include conf.d/*.conf\n" + inst(""),
			warns: []string{"keepalived.conf:1: include conf.d/*.conf matched no files"},
		},
		{
			name: "track weights ±254 are clamped to ±253",
			conf: "vrrp_script chk {\n script /bin/true\n}\n" + inst("track_script {\n chk weight 254\n}\ntrack_interface {\n eth1 weight -254\n}\n"),
			warns: []string{
				"keepalived.conf:11: track_script chk: weight cannot be ±254, using ±253",
				"keepalived.conf:14: track_interface eth1: weight cannot be ±254, using ±253",
			},
			check: func(t *testing.T, c *Config) {
				if in := c.Instances[0]; in.TrackScripts[0].Weight != 253 || in.TrackInterfaces[0].Weight != -253 {
					t.Errorf("%+v %+v", in.TrackScripts, in.TrackInterfaces)
				}
			},
		},
		{
			// keepalived 2.2.7 takes whole seconds; ≥2.3.2 decimals, as we do.
			name:  "vrrp_script decimal interval and timeout",
			conf:  "vrrp_script chk {\n script /bin/true\n interval 0.5\n timeout 0.25\n}\n" + inst(""),
			warns: []string{},
			check: func(t *testing.T, c *Config) {
				if s := c.Scripts["chk"]; s.Interval != 500*time.Millisecond || s.Timeout != 250*time.Millisecond {
					t.Errorf("%+v", s)
				}
			},
		},
		{
			name:  "tracking the instance's own interface is ignored",
			conf:  inst("track_interface {\n eth0 weight -10\n}\n"),
			warns: []string{"keepalived.conf:7: vrrp_instance VI_1: ignoring track_interface eth0 since it is the instance's own interface"},
			check: func(t *testing.T, c *Config) {
				if n := len(c.Instances[0].TrackInterfaces); n != 0 {
					t.Errorf("%d tracked interfaces", n)
				}
			},
		},
		{
			name:  "keyword repeated",
			conf:  inst("priority 10\npriority 20\n"),
			warns: []string{"keepalived.conf:8: priority already set at line 7 - using the last value"},
			check: func(t *testing.T, c *Config) {
				if p := c.Instances[0].Priority; p != 20 {
					t.Errorf("priority %d", p)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, w := mustParseKA(t, tt.conf)
			if got := warnStrings(w); !reflect.DeepEqual(got, tt.warns) {
				t.Errorf("warnings:\n got %q\nwant %q", got, tt.warns)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

const script3 = "vrrp_script chk {\n script /bin/true\n}\n" // 3 lines

// errorCases are broken configs with the exact error; TestKeepalivedAgrees
// checks that keepalived flags the same line for some of them.
var errorCases = []struct {
	name string
	conf string
	err  string
}{
	{"priority out of range", inst("priority 300\n"), "keepalived.conf:7: priority 300 out of range 1..255"},
	{"priority not a number", inst("priority high\n"), "keepalived.conf:7: priority 'high' is not a whole number"},
	{"priority missing value", inst("priority\n"), "keepalived.conf:7: priority needs a value"},
	{"vrid 0", inst("virtual_router_id 0\n"), "keepalived.conf:7: virtual_router_id 0 out of range 1..255"},
	{"vrid 256", inst("virtual_router_id 256\n"), "keepalived.conf:7: virtual_router_id 256 out of range 1..255"},
	{"vrid missing", "vrrp_instance VI_1 {\n interface eth0\n virtual_ipaddress {\n 198.18.0.10\n }\n}\n",
		"keepalived.conf:1: vrrp_instance VI_1: virtual_router_id is required"},
	{"interface missing", "vrrp_instance VI_1 {\n virtual_router_id 3\n virtual_ipaddress {\n 198.18.0.10\n }\n}\n",
		"keepalived.conf:1: vrrp_instance VI_1: interface is required"},
	{"no VIP", "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 3\n}\n",
		"keepalived.conf:1: vrrp_instance VI_1: no virtual_ipaddress (at least one VIP is required)"},
	{"empty VIP block", "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 3\n virtual_ipaddress {\n }\n}\n",
		"keepalived.conf:4: vrrp_instance VI_1: no virtual_ipaddress (at least one VIP is required)"},
	{"no instance", "global_defs {\n router_id x\n}\n", "keepalived.conf: no vrrp_instance defined"},
	{"state lower case", inst("state master\n"), "keepalived.conf:7: state 'master' must be MASTER or BACKUP"},
	{"v2 sub-second advert", inst("advert_int 0.5\n"),
		"keepalived.conf:7: advert_int 0.5 is not a whole number of seconds, which VRRPv2 needs; use version 3 for sub-second adverts"},
	{"v3 advert not centiseconds", inst("version 3\nadvert_int 0.015\n"),
		"keepalived.conf:8: advert_int 0.015 is not a multiple of 10ms, which VRRPv3 needs"},
	{"v3 advert too long", inst("version 3\nadvert_int 41\n"),
		"keepalived.conf:8: advert_int 41 out of range 0.01..40.95 for VRRPv3"},
	{"advert too long", inst("advert_int 256\n"), "keepalived.conf:7: advert_int 256 out of range 0.01..255"},
	{"advert too short", inst("advert_int 0.001\n"), "keepalived.conf:7: advert_int 0.001 out of range 0.01..255"},
	{"advert not a number", inst("advert_int 1s\n"), "keepalived.conf:7: advert_int '1s' is not a number of seconds"},
	{"version 4", inst("version 4\n"), "keepalived.conf:7: version 4 out of range 2..3"},
	{"auth AH", inst("authentication {\n auth_type AH\n auth_pass x\n}\n"),
		"keepalived.conf:8: auth_type AH is not supported; use PASS or no authentication"},
	{"auth bogus", inst("authentication {\n auth_type pass\n}\n"), "keepalived.conf:8: auth_type 'pass' must be PASS"},
	{"use_vmac", inst("use_vmac\n"),
		"keepalived.conf:7: use_vmac is not supported (milvus-ha sends from the interface MAC, like keepalived's default)"},
	{"vmac_xmit_base", inst("vmac_xmit_base\n"), "keepalived.conf:7: vmac_xmit_base is not supported"},
	{"track_process", inst("track_process {\n p\n}\n"), "keepalived.conf:7: track_process is not supported; use a vrrp_script"},
	{"strict_mode", inst("strict_mode\n"),
		"keepalived.conf:7: strict_mode is not supported: it implies no_accept, which makes the VIP unreachable; remove it"},
	{"vrrp_strict", "global_defs {\n vrrp_strict\n}\n" + inst(""),
		"keepalived.conf:2: vrrp_strict is not supported: it implies no_accept, which makes the VIP unreachable, and silently rewrites state, authentication and preempt_delay; remove it"},
	{"notify_fifo", "global_defs {\n notify_fifo /run/ka.fifo\n}\n" + inst(""),
		"keepalived.conf:2: notify_fifo is not supported: milvus-ha runs notify scripts one at a time in transition order instead; use notify_* scripts"},
	{"mcast group", "global_defs {\n vrrp_mcast_group4 224.0.0.19\n}\n" + inst(""),
		"keepalived.conf:2: vrrp_mcast_group4 224.0.0.19 is not supported (only the standard group 224.0.0.18)"},
	{"unknown track_script", inst("track_script {\n chk_nope\n}\n"), "keepalived.conf:8: track_script chk_nope: no vrrp_script chk_nope defined"},
	{"script defined after the instance", inst("track_script {\n chk\n}\n") + script3,
		"keepalived.conf:8: track_script chk: vrrp_script chk is defined after vrrp_instance VI_1 (at keepalived.conf:11); keepalived would ignore it - move it before"},
	{"track_script bad option", script3 + inst("track_script {\n chk wieght 3\n}\n"), "keepalived.conf:11: track_script chk: unknown option 'wieght'"},
	{"track_script weight range", script3 + inst("track_script {\n chk weight 300\n}\n"), "keepalived.conf:11: weight 300 out of range -254..254"},
	{"script weight range", "vrrp_script chk {\n script /bin/true\n weight 300\n}\n" + inst(""), "keepalived.conf:3: weight 300 out of range -253..253"},
	{"script weight option", "vrrp_script chk {\n script /bin/true\n weight 3 inverse\n}\n" + inst(""), "keepalived.conf:3: unknown weight option 'inverse' (only reverse)"},
	{"script rise 0", "vrrp_script chk {\n script /bin/true\n rise 0\n}\n" + inst(""), "keepalived.conf:3: rise 0 out of range 1..2147483647"},
	{"script without script", "vrrp_script chk {\n interval 2\n}\n" + inst(""), "keepalived.conf:1: vrrp_script chk has no script"},
	{"script unterminated single quote", "vrrp_script chk {\n script \"/bin/sh -c 'exit 1\"\n}\n" + inst(""), "keepalived.conf:2: script: missing terminating '"},
	{"duplicate script", script3 + script3 + inst(""), "keepalived.conf:4: vrrp_script chk already defined at keepalived.conf:1"},
	{"missing close brace", "vrrp_instance VI_1 {\n interface eth0\n", "keepalived.conf:1: missing '}' to close vrrp_instance"},
	{"missing open brace", "vrrp_instance VI_1\n interface eth0\n", "keepalived.conf:1: missing '{' after vrrp_instance"},
	{"stray close brace", inst("") + "}\n", "keepalived.conf:8: unexpected '}'"},
	{"unterminated quote", inst("notify_master \"/bin/x\n"), "keepalived.conf:7: unterminated quote"},
	{"bad VIP", "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 3\n virtual_ipaddress {\n 198.18.0.300/24\n }\n}\n",
		"keepalived.conf:5: virtual_ipaddress '198.18.0.300/24' is not an address or address/prefix"},
	{"bad VIP option", inst("virtual_ipaddress {\n 198.18.0.11 peer 198.18.0.12\n}\n"), "keepalived.conf:8: virtual_ipaddress 198.18.0.11: unsupported option 'peer'"},
	{"VIP option without value", inst("virtual_ipaddress {\n 198.18.0.11 dev\n}\n"), "keepalived.conf:8: virtual_ipaddress 198.18.0.11: dev needs a value"},
	{"mixed families", inst("virtual_ipaddress {\n 2001:db8::1\n}\n"),
		"keepalived.conf:7: vrrp_instance VI_1: VIP 2001:db8::1/128 is not the same address family as 198.18.0.10/24"},
	{"IPv6 with v2", "vrrp_instance VI_1 {\n interface eth0\n version 2\n virtual_router_id 3\n virtual_ipaddress {\n 2001:db8::1\n }\n}\n",
		"keepalived.conf:3: vrrp_instance VI_1: VRRPv2 does not support IPv6; use version 3"},
	{"bad peer", inst("unicast_peer {\n 198.18.0.x\n}\n"), "keepalived.conf:8: unicast_peer '198.18.0.x' is not an IP address"},
	{"peer family", inst("unicast_peer {\n 2001:db8::2\n}\n"), "keepalived.conf:7: unicast_peer 2001:db8::2 is not the same address family as the VIPs"},
	{"duplicate instance", inst("") + inst(""), "keepalived.conf:8: vrrp_instance VI_1 already defined at keepalived.conf:1"},
	{"vrid clash", inst("") + strings.Replace(inst(""), "VI_1", "VI_2", 1),
		"keepalived.conf:10: virtual_router_id 51 on eth0 is already used by VI_1 (VRIDs must be unique per interface and address family)"},
	{"sync group notify", inst("") + "vrrp_sync_group G {\n group {\n VI_1\n }\n notify_master /bin/x\n}\n",
		"keepalived.conf:12: notify_master in vrrp_sync_group is not supported; put it in the vrrp_instance"},
	{"sync group unknown member", inst("") + "vrrp_sync_group G {\n group {\n VI_9\n }\n}\n", "keepalived.conf:8: vrrp_sync_group G: no vrrp_instance VI_9"},
	{"unicast_fault_no_peer without peers", inst("unicast_fault_no_peer\n"),
		"keepalived.conf:1: vrrp_instance VI_1: unicast_fault_no_peer set but no unicast_peer given"},
	{"includer", "includer x.conf\n" + inst(""), "keepalived.conf:1: includer is not supported; use include"},
	{"two errors are both reported", inst("priority 0\nvirtual_router_id 999\n"),
		"keepalived.conf:7: priority 0 out of range 1..255\nkeepalived.conf:8: virtual_router_id 999 out of range 1..255"},
}

func TestKeepalivedErrors(t *testing.T) {
	for _, tt := range errorCases {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := parseKA(t, tt.conf)
			if err == nil {
				t.Fatalf("no error; config %+v", c)
			}
			if c != nil {
				t.Error("config returned with an error")
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("error %T is not Errors", err)
			}
			if err.Error() != tt.err {
				t.Errorf("error:\n got %q\nwant %q", err.Error(), tt.err)
			}
		})
	}
}

func TestInclude(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	main := filepath.Join(dir, "keepalived.conf")
	write("keepalived.conf", "global_defs {\n router_id r1\n}\ninclude conf.d/*.conf\n")
	write("conf.d/10-script.conf", "vrrp_script chk {\n script /bin/true\n}\n")
	// one-line braces, as verified with keepalived in the reference (§4).
	write("conf.d/20-vi.conf", "vrrp_instance VI_1 { interface eth0\n virtual_router_id 5\n virtual_ipaddress { 198.18.0.10/24 }\n track_script { chk }\n}\n")
	c, w, err := Load(main)
	if err != nil {
		t.Fatal(err)
	}
	if len(w) != 0 {
		t.Errorf("warnings %v", warnStrings(w))
	}
	if c.Global.RouterID != "r1" || len(c.Instances) != 1 || len(c.Instances[0].TrackScripts) != 1 {
		t.Fatalf("%+v", c)
	}
	if want := (Pos{filepath.Join(dir, "conf.d/20-vi.conf"), 1}); c.Instances[0].Pos != want {
		t.Errorf("instance pos %v want %v", c.Instances[0].Pos, want)
	}

	// An error inside an included file names that file and line.
	write("conf.d/20-vi.conf", "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 5\n priority 300\n virtual_ipaddress { 198.18.0.10/24 }\n}\n")
	_, _, err = Load(main)
	if want := filepath.Join(dir, "conf.d/20-vi.conf") + ":4: priority 300 out of range 1..255"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}

	// Absolute include, and a file including itself.
	write("self.conf", "include "+filepath.Join(dir, "self.conf")+"\n")
	_, _, err = Load(filepath.Join(dir, "self.conf"))
	if err == nil || !strings.Contains(err.Error(), "self.conf:1: include ") || !strings.Contains(err.Error(), "includes itself") {
		t.Errorf("self include: %v", err)
	}
}

func TestIncludeMemFS(t *testing.T) {
	fsys := memFS{
		"etc/a.conf": "vrrp_instance VI_A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress { 198.18.0.1 }\n}\n",
		"etc/b.conf": "vrrp_instance VI_B {\n interface eth0\n virtual_router_id 2\n bogus\n virtual_ipaddress { 198.18.0.2 }\n}\n",
	}
	c, w, err := parseKeepalived("etc/keepalived.conf", []byte("include *.conf\n"), fsys)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Instances) != 2 || c.Instances[0].Name != "VI_A" || c.Instances[1].Name != "VI_B" {
		t.Fatalf("instances in glob order: %+v", c.Instances)
	}
	if got := warnStrings(w); !reflect.DeepEqual(got, []string{"etc/b.conf:4: unknown keyword 'bogus' in vrrp_instance - ignored"}) {
		t.Errorf("warnings %q", got)
	}
}

func TestLexer(t *testing.T) {
	decomments := []struct{ in, out string }{
		{"  router_id a # c", "router_id a"},
		{"a ! c", "a"},
		{`notify "a # b ! c" # x`, `notify "a # b ! c"`},
		{`a\#b \!c`, "a#b !c"},
		{`"x\#"`, `"x\#"`},
		{"a#b", "a"},
		{"'x # y'", "'x"}, // keepalived only honours double quotes here
	}
	for _, d := range decomments {
		if got, ok := decomment(d.in); !ok || got != d.out {
			t.Errorf("decomment(%q) = %q, %v; want %q", d.in, got, ok, d.out)
		}
	}
	if _, ok := decomment(`a "b`); ok {
		t.Error("unterminated quote accepted")
	}

	tokens := []struct {
		in  string
		out []string
	}{
		{`script "/bin/x a b"  y`, []string{"script", "/bin/x a b", "y"}},
		{`a"b c"d`, []string{"a", "b c", "d"}},
		{"\tx\t y ", []string{"x", "y"}},
		{`""`, []string{""}},
	}
	for _, tk := range tokens {
		if got, ok := splitTokens(tk.in); !ok || !reflect.DeepEqual(got, tk.out) {
			t.Errorf("splitTokens(%q) = %q; want %q", tk.in, got, tk.out)
		}
	}

	argvs := []struct {
		in  string
		out []string
		err bool
	}{
		{`/bin/x 'a b' "c d"`, []string{"/bin/x", "a b", "c d"}, false},
		{`a'b'"c" d`, []string{"abc", "d"}, false},
		{`\x41\102\t\n\\\"`, []string{"AB\t\n\\\""}, false},
		{`'it''s'`, []string{"its"}, false},
		{`"a\"b"`, []string{`a"b`}, false},
		{`\cA`, []string{"\x01"}, false},
		{`'x`, nil, true},
		{`x\`, nil, true},
		{`a\0b`, nil, true},
	}
	for _, a := range argvs {
		got, err := SplitCommand(a.in)
		if (err != nil) != a.err || !reflect.DeepEqual(got, a.out) {
			t.Errorf("SplitCommand(%q) = %q, %v; want %q err=%v", a.in, got, err, a.out, a.err)
		}
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		path, data string
		want       Format
	}{
		{"x.yaml", "global_defs {", FormatYAML},
		{"x.yml", "", FormatYAML},
		{"keepalived.conf", "node: a", FormatKeepalived},
		{"node", "# c\nnode: a\n", FormatYAML},
		{"cfg", "! Configuration File for keepalived\n", FormatKeepalived},
		{"cfg", "\n# c\nvrrp_instance VI_1 {\n", FormatKeepalived},
		{"cfg", "global_defs{\n", FormatKeepalived},
		{"cfg", "---\nvrid: 3\n", FormatYAML},
	}
	for _, tt := range tests {
		if got := Detect(tt.path, []byte(tt.data)); got != tt.want {
			t.Errorf("Detect(%q, %q) = %s, want %s", tt.path, tt.data, got, tt.want)
		}
	}
}

func TestDescribe(t *testing.T) {
	c, _, err := Load("testdata/recipe/master.conf")
	if err != nil {
		t.Fatal(err)
	}
	out := c.Describe()
	for _, want := range []string{
		"router_id sol01",
		"vrrp_script chk_milvus (testdata/recipe/master.conf:6)",
		"state      MASTER, priority 110",
		"vrid       51, VRRPv2, advert 1s",
		"takeover   backup waits 3.5703125s without adverts (3 × 1s + skew 570.3125ms)",
		"vip        198.18.0.104/24 dev eth0",
		"track      script chk_milvus, weight -20 (added while failing)",
		"auth       PASS (4 characters)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Describe lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "1111") {
		t.Error("Describe prints the password")
	}
}

func FuzzParseKeepalived(f *testing.F) {
	for _, name := range []string{"testdata/recipe/master.conf", "testdata/recipe/backup.conf"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(inst("notify \"/bin/x 'a' \\x41\"\nvirtual_ipaddress { 2001:db8::1/64 dev eth0 }\n")))
	f.Add([]byte("include *.conf\n{ } } {\n\"unterminated\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := memFS{"inc.conf": "vrrp_script chk {\n script /bin/true\n}\n"}
		c, _, err := parseKeepalived("k.conf", data, fsys)
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error %T %v is not Errors", err, err)
			}
			for _, e := range es {
				if e.Pos.File == "" {
					t.Fatalf("error without a file: %v", e)
				}
				if e.Pos.Line == 0 && !strings.HasPrefix(e.Msg, "no vrrp_instance") {
					t.Fatalf("error without a line: %v", e)
				}
			}
			return
		}
		if c == nil || len(c.Instances) == 0 {
			t.Fatal("no error and no instance")
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("loaded config does not validate: %v", err)
		}
		_ = c.Describe()
	})
}
