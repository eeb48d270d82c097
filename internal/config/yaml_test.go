package config

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// issue5 is the native example from issue 5, verbatim apart from the
// commented alternatives.
const issue5 = `node: a                         # unique node name
interface: eth0
vip: 198.18.0.104/24
vrid: 51
priority: 110                   # the other node lower
advert_interval: 100ms
preempt: true                   # false = nopreempt; preempt_delay: 0s
auth_pass: ""                   # VRRPv2 PASS, for a keepalived peer
unicast_peers: []               # optional
data_dir: /mnt/shared/milvus    # the shared storage
service:
  embedded: {listen: ":19530", health_listen: ":9091"}    # the default
  # docker:  {container: milvus-standalone}
  # exec:    {command: ["/usr/bin/milvus", "run", "standalone"]}
  # systemd: {unit: milvus.service}
checks: []                      # extra checks: script, tcp, http, grpc
api: {listen: "127.0.0.1:9700"}
`

func parseY(t *testing.T, text string) (*Config, []Warning, error) {
	t.Helper()
	return ParseYAML("node.yaml", []byte(text))
}

// parseYClean parses a configuration that must load without an error or a
// warning.
func parseYClean(t *testing.T, text string) *Config {
	t.Helper()
	c, w, err := parseY(t, text)
	if err != nil {
		t.Fatal(err)
	}
	if len(w) != 0 {
		t.Errorf("warnings %v", warnStrings(w))
	}
	return c
}

func TestYAMLIssue5Example(t *testing.T) {
	c := parseYClean(t, issue5)
	if c.Format != FormatYAML || len(c.Instances) != 1 || c.Keeper == nil {
		t.Fatalf("%+v", c)
	}
	checkInstance(t, c.Instances[0], Instance{
		Name: NativeInstanceName, Interface: "eth0", State: StateBackup, VRID: 51, Priority: 110,
		Advert: 100 * time.Millisecond, Version: 3, DownTimerAdverts: 3,
		VIPs: []VIP{{Prefix: netip.MustParsePrefix("198.18.0.104/24")}},
		GARP: GARP{MasterDelay: 5 * time.Second, MasterRepeat: 5, MasterRefreshRepeat: 1, LowerPrioDelay: 5 * time.Second, LowerPrioRepeat: 5},
	})
	k := *c.Keeper
	k.pos, k.path = nil, ""
	want := Keeper{
		Node: "a", DataDir: "/mnt/shared/milvus", Timing: TimingNormal,
		Service: Service{Kind: ServiceEmbedded, Listen: ":19530", HealthListen: ":9091"},
		API:     API{Listen: "127.0.0.1:9700"},
	}
	if !reflect.DeepEqual(k, want) {
		t.Errorf("keeper\n got %+v\nwant %+v", k, want)
	}
}

func TestYAMLFull(t *testing.T) {
	const text = `node: b
interface: eth1
vip: [198.18.0.104/24, 198.18.0.105]
vrid: 52
priority: 90
advert_interval: 1s
auth_pass: secret
preempt: false
unicast_src_ip: 198.18.0.2
unicast_peers: [198.18.0.1]
data_dir: /srv/shared
timing: fast
service:
  exec: {command: ["/usr/bin/milvus", "run", "standalone"]}
checks:
  - {name: grpc, grpc: "127.0.0.1:19530", interval: 200ms, fall: 3, rise: 2}
  - script: "/usr/local/bin/check 'a b'"
    weight: -20
  - tcp: 127.0.0.1:19530
  - http: http://127.0.0.1:9091/healthz
    timeout: 300ms
  - docker: milvus-standalone
api: {listen: "198.18.0.2:9700", token: t0ken}
notify_master: /usr/local/bin/hook master
notify: "/usr/local/bin/all 'x y'"
`
	c := parseYClean(t, text)
	in := c.Instances[0]
	// auth_pass set and no version: VRRPv2, the only version with PASS.
	if in.Version != 2 || in.AuthType != AuthPass || in.AuthPass != "secret" || !in.Nopreempt || in.Advert != time.Second {
		t.Errorf("instance %+v", in)
	}
	if len(in.VIPs) != 2 || in.VIPs[1].Prefix != netip.MustParsePrefix("198.18.0.105/32") {
		t.Errorf("vips %+v", in.VIPs)
	}
	if in.SrcIP != netip.MustParseAddr("198.18.0.2") || !reflect.DeepEqual(in.UnicastPeers, []netip.Addr{netip.MustParseAddr("198.18.0.1")}) {
		t.Errorf("unicast %v %v", in.SrcIP, in.UnicastPeers)
	}
	if !reflect.DeepEqual(in.Notify.Master.Args, []string{"/usr/local/bin/hook", "master"}) || !reflect.DeepEqual(in.Notify.Generic.Args, []string{"/usr/local/bin/all", "x y"}) {
		t.Errorf("notify %+v", in.Notify)
	}
	k := c.Keeper
	if k.Timing != TimingFast || !reflect.DeepEqual(k.Service, Service{Kind: ServiceExec, Command: []string{"/usr/bin/milvus", "run", "standalone"}, Restart: "on-failure"}) {
		t.Errorf("keeper %+v", k)
	}
	wantChecks := []Check{
		{Name: "grpc", Kind: CheckGRPC, Target: "127.0.0.1:19530", Interval: 200 * time.Millisecond, Timeout: 200 * time.Millisecond, Fall: 3, Rise: 2, Scope: ScopeService, Pos: Pos{"node.yaml", 16}},
		{Name: "script-2", Kind: CheckScript, Target: "/usr/local/bin/check 'a b'", Args: []string{"/usr/local/bin/check", "a b"}, Interval: time.Second, Timeout: time.Second, Fall: 1, Rise: 1, Weight: -20, Scope: ScopeNode, Pos: Pos{"node.yaml", 17}},
		{Name: "tcp-3", Kind: CheckTCP, Target: "127.0.0.1:19530", Interval: time.Second, Timeout: time.Second, Fall: 1, Rise: 1, Scope: ScopeNode, Pos: Pos{"node.yaml", 19}},
		{Name: "http-4", Kind: CheckHTTP, Target: "http://127.0.0.1:9091/healthz", Interval: time.Second, Timeout: 300 * time.Millisecond, Fall: 1, Rise: 1, Scope: ScopeNode, Pos: Pos{"node.yaml", 20}},
		{Name: "docker-5", Kind: CheckDocker, Target: "milvus-standalone", Interval: time.Second, Timeout: time.Second, Fall: 1, Rise: 1, Scope: ScopeService, Pos: Pos{"node.yaml", 22}},
	}
	if !reflect.DeepEqual(k.Checks, wantChecks) {
		t.Errorf("checks\n got %+v\nwant %+v", k.Checks, wantChecks)
	}
	if k.API != (API{Listen: "198.18.0.2:9700", Token: "t0ken"}) {
		t.Errorf("api %+v", k.API)
	}
	if out := c.Describe(); !strings.Contains(out, "check      grpc: grpc 127.0.0.1:19530 every 200ms") || strings.Contains(out, "t0ken") {
		t.Errorf("describe:\n%s", out)
	}
}

func TestYAMLErrors(t *testing.T) {
	base := "node: a\ninterface: eth0\nvip: 198.18.0.104/24\nvrid: 51\ndata_dir: /srv/d\n" // 5 lines
	tests := []struct {
		name, text, err string
	}{
		{"unknown key", base + "prority: 3\n", "node.yaml:6: unknown key 'prority'"},
		{"unknown nested key", base + "api: {listen: \"127.0.0.1:1\", tokn: x}\n", "node.yaml:6: unknown key 'tokn' in api"},
		{"unknown service", base + "service:\n  podman: {}\n", "node.yaml:7: unknown key 'podman' in service"},
		{"unknown service key", base + "service:\n  docker:\n    name: x\n", "node.yaml:8: unknown key 'name' in service.docker"},
		{"two services", base + "service:\n  docker: {container: x}\n  systemd: {unit: y}\n", "node.yaml:8: service: give only one of embedded, docker, exec, systemd"},
		{"duplicate key", base + "vrid: 52\n", "node.yaml:6: key 'vrid' already given at line 4"},
		{"vrid range", strings.Replace(base, "vrid: 51", "vrid: 300", 1), "node.yaml:4: vrid 300 out of range 1..255"},
		{"vrid text", strings.Replace(base, "vrid: 51", "vrid: abc", 1), "node.yaml:4: vrid 'abc' is not a whole number"},
		{"priority range", base + "priority: 0\n", "node.yaml:6: priority 0 out of range 1..255"},
		{"advert without unit", base + "advert_interval: 100\n", "node.yaml:6: advert_interval 100 needs a unit, e.g. 100s or 100ms"},
		{"advert garbage", base + "advert_interval: fast\n", "node.yaml:6: advert_interval 'fast' is not a duration like 100ms or 2s"},
		{"advert v3 range", base + "advert_interval: 5ms\n", "node.yaml:6: advert_interval 5ms out of range 10ms..40.95s for VRRPv3"},
		{"advert v3 step", base + "advert_interval: 105ms\n", "node.yaml:6: advert_interval 105ms is not a multiple of 10ms, which VRRPv3 needs"},
		{"auth_pass with sub-second advert", base + "auth_pass: x\n",
			"node.yaml:1: advert_interval 100ms is not a whole number of seconds, which VRRPv2 needs; use version 3 for sub-second adverts"},
		{"auth_pass with v3", base + "auth_pass: x\nversion: 3\n", "node.yaml:6: auth_pass is VRRPv2 only (version 3 ignores authentication)"},
		{"auth_pass too long", base + "auth_pass: 123456789\nadvert_interval: 1s\n", "node.yaml:6: auth_pass must be 1..8 characters"},
		{"bad vip", strings.Replace(base, "198.18.0.104/24", "198.18.0.104/33", 1), "node.yaml:3: vip '198.18.0.104/33' is not an address or address/prefix"},
		{"missing vip", strings.Replace(base, "vip: 198.18.0.104/24\n", "", 1), "node.yaml:1: no vip (at least one VIP is required)"},
		{"missing vrid", strings.Replace(base, "vrid: 51\n", "", 1), "node.yaml:1: vrid is required"},
		{"missing interface", strings.Replace(base, "interface: eth0\n", "", 1), "node.yaml:1: interface is required"},
		{"missing node", strings.Replace(base, "node: a\n", "", 1), "node.yaml: node is required (a unique name for this node)"},
		{"missing data_dir", strings.Replace(base, "data_dir: /srv/d\n", "", 1), "node.yaml: data_dir is required (the shared storage directory)"},
		{"relative data_dir", strings.Replace(base, "/srv/d", "srv/d", 1), "node.yaml:5: data_dir srv/d must be an absolute path"},
		{"bad peer", base + "unicast_peers: [198.18.0.1, nope]\n", "node.yaml:6: unicast_peers 'nope' is not an IP address"},
		{"preempt not bool", base + "preempt: maybe\n", "node.yaml:6: preempt 'maybe' must be true or false"},
		{"timing", base + "timing: turbo\n", "node.yaml:6: timing 'turbo' must be fast, normal or safe"},
		{"check without kind", base + "checks:\n  - interval: 1s\n", "node.yaml:7: check needs one of script, tcp, http, grpc, docker"},
		{"check two kinds", base + "checks:\n  - {tcp: \"a:1\", http: \"http://a\"}\n", "node.yaml:7: check: give only one of script, tcp, http, grpc, docker"},
		{"check fall 0", base + "checks:\n  - tcp: a:1\n    fall: 0\n", "node.yaml:8: fall 0 out of range 1..1073741824"},
		{"check unknown key", base + "checks:\n  - tcp: a:1\n    retries: 3\n", "node.yaml:8: unknown key 'retries' in checks"},
		{"check names clash", base + "checks:\n  - {name: x, tcp: \"a:1\"}\n  - {name: x, tcp: \"a:2\"}\n", "node.yaml:8: check name 'x' used twice"},
		{"api without token beyond loopback", base + "api: {listen: \"0.0.0.0:9700\"}\n",
			"node.yaml:6: api.listen 0.0.0.0:9700 is not a loopback address: set api.token (state-changing calls need it)"},
		{"exec restart", base + "service:\n  exec: {command: [x], restart: sometimes}\n", "node.yaml:6: service.exec.restart 'sometimes' must be always, on-failure or never"},
		{"docker without container", base + "service:\n  docker: {}\n", "node.yaml:6: service.docker.container is required"},
		{"yaml syntax", base + "vip: [\n", "node.yaml:6: did not find expected node content"},
		{"tab indentation", base + "api:\n\tlisten: x\n", "node.yaml:7: found character that cannot start any token"},
		{"not a mapping", "- a\n- b\n", "node.yaml:1: configuration must be a mapping"},
		{"empty", "", "node.yaml: empty configuration"},
		{"two documents", base + "---\nnode: b\n", "node.yaml:6: more than one YAML document"},
		{"list for scalar", base + "priority: [1]\n", "node.yaml:6: priority must be a single value"},
		{"mixed families", strings.Replace(base, "198.18.0.104/24", "[198.18.0.104/24, \"2001:db8::1\"]", 1),
			"node.yaml:3: VIP 2001:db8::1/128 is not the same address family as 198.18.0.104/24"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := parseY(t, tt.text)
			if err == nil {
				t.Fatalf("no error: %+v", c)
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

func TestYAMLWarnings(t *testing.T) {
	base := "node: a\ninterface: eth0\nvip: 198.18.0.104/24\nvrid: 51\ndata_dir: /srv/d\n"
	_, w, err := parseY(t, base+"priority: 255\npreempt: false\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"node.yaml:7: preempt: false has no effect with priority 255 (the address owner always preempts)"}
	if got := warnStrings(w); !reflect.DeepEqual(got, want) {
		t.Errorf("got %q want %q", got, want)
	}
}

func TestLoadDetectsFormat(t *testing.T) {
	dir := t.TempDir()
	y := filepath.Join(dir, "node")
	if err := os.WriteFile(y, []byte(issue5), 0o644); err != nil {
		t.Fatal(err)
	}
	c, _, err := Load(y)
	if err != nil || c.Format != FormatYAML {
		t.Fatalf("yaml: %v %+v", err, c)
	}
	_, _, err = Load(filepath.Join(dir, "missing.yaml"))
	if err == nil || !strings.HasPrefix(err.Error(), filepath.Join(dir, "missing.yaml")+": cannot read: ") {
		t.Errorf("missing file: %v", err)
	}
}

func FuzzLoadYAML(f *testing.F) {
	f.Add([]byte(issue5))
	f.Add([]byte("node: a\nchecks:\n  - {tcp: \"a:1\", interval: 1s}\nservice: {exec: {command: [a]}}\nvip: &v 198.18.0.1\nx: *v\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, _, err := ParseYAML("f.yaml", data)
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error %T %v is not Errors", err, err)
			}
			for _, e := range es {
				if e.Pos.File != "f.yaml" {
					t.Fatalf("error without the file: %v", e)
				}
			}
			return
		}
		if c.Keeper == nil || len(c.Instances) != 1 {
			t.Fatalf("loaded without keeper or instance: %+v", c)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("loaded config does not validate: %v", err)
		}
		_ = c.Describe()
	})
}
