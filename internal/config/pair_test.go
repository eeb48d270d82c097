package config

import (
	"strings"
	"testing"
)

const pairBase = `node: a
interface: eth0
vip: 198.18.0.104/24
vrid: 51
priority: 150
advert_interval: 100ms
data_dir: /srv/shared
`

func TestComparePeer(t *testing.T) {
	peerOf := func(repl ...string) string {
		s := strings.Replace(pairBase, "node: a", "node: b", 1)
		s = strings.Replace(s, "priority: 150", "priority: 100", 1)
		for i := 0; i+1 < len(repl); i += 2 {
			s = strings.Replace(s, repl[i], repl[i+1], 1)
		}
		return s
	}
	tests := []struct {
		name     string
		self     string
		peer     string
		errs     []string
		warnings []string
	}{
		{name: "matching pair", self: pairBase, peer: peerOf()},
		{name: "same node name", self: pairBase, peer: peerOf("node: b", "node: a"), errs: []string{`a.yaml:1: node "a" is also the peer's name (b.yaml:1)`}},
		{name: "vrid clash", self: pairBase, peer: peerOf("vrid: 51", "vrid: 52"), errs: []string{"a.yaml:4: vrid 51, the peer has 52 (b.yaml:4)"}},
		{name: "vip differs", self: pairBase, peer: peerOf("198.18.0.104/24", "198.18.0.105/24"), errs: []string{"a.yaml:3: vip 198.18.0.104/24, the peer has 198.18.0.105/24"}},
		{name: "advert differs", self: pairBase, peer: peerOf("100ms", "200ms"), errs: []string{"a.yaml:6: advert_interval 100ms, the peer has 200ms"}},
		{name: "auth differs", self: strings.Replace(pairBase, "100ms", "1s", 1) + "auth_pass: x\n", peer: peerOf("100ms", "1s"),
			errs: []string{"version 2, the peer uses 3", "a.yaml:8: auth_pass differs"}},
		{name: "same priority with preempt", self: pairBase, peer: peerOf("priority: 100", "priority: 150"), errs: []string{"a.yaml:5: priority 150 equals the peer's (b.yaml:5) with preempt on"}},
		{name: "same priority without preempt", self: pairBase + "preempt: false\n", peer: peerOf("priority: 100", "priority: 150") + "preempt: false\n"},
		{name: "two owners", self: strings.Replace(pairBase, "150", "255", 1), peer: peerOf("priority: 100", "priority: 255"), errs: []string{"both nodes have priority 255"}},
		{name: "timing differs", self: pairBase + "timing: fast\n", peer: peerOf(), errs: []string{"timing fast, the peer has normal"}},
		{name: "data_dir differs", self: pairBase, peer: peerOf("/srv/shared", "/srv/other"), warnings: []string{"a.yaml:7: data_dir /srv/shared, the peer has /srv/other (b.yaml:7): data_dir not shared?"}},
		{name: "data_dir same after cleaning", self: pairBase, peer: peerOf("/srv/shared", "/srv//shared/")},
		{name: "service kind differs", self: pairBase, peer: peerOf() + "service: {exec: {command: [x]}}\n", warnings: []string{"service embedded, the peer runs exec"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _, err := ParseYAML("a.yaml", []byte(tt.self))
			if err != nil {
				t.Fatal(err)
			}
			b, _, err := ParseYAML("b.yaml", []byte(tt.peer))
			if err != nil {
				t.Fatal(err)
			}
			warns, errs := a.ComparePeer(b)
			if len(errs) != len(tt.errs) {
				t.Fatalf("errors %v, want %d matching %q", errs, len(tt.errs), tt.errs)
			}
			for i, e := range errs {
				if !strings.Contains(e.Error(), tt.errs[i]) {
					t.Errorf("error %q does not contain %q", e, tt.errs[i])
				}
			}
			if len(warns) != len(tt.warnings) {
				t.Fatalf("warnings %v, want %q", warnStrings(warns), tt.warnings)
			}
			for i, w := range warns {
				if !strings.Contains(w.String(), tt.warnings[i]) {
					t.Errorf("warning %q does not contain %q", w, tt.warnings[i])
				}
			}
		})
	}
}

func TestComparePeerNeedsNative(t *testing.T) {
	a, _, err := ParseYAML("a.yaml", []byte(pairBase))
	if err != nil {
		t.Fatal(err)
	}
	k, _, err := ParseKeepalived("k.conf", []byte("vrrp_instance v {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n 198.18.0.104/24\n }\n}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, errs := a.ComparePeer(k); len(errs) != 1 {
		t.Fatalf("errors %v", errs)
	}
}

func TestYAMLKeeperExtras(t *testing.T) {
	text := pairBase + `watchdog: /dev/watchdog
service:
  exec: {command: [x], address: "127.0.0.1:19530"}
checks:
  - {grpc: "127.0.0.1:19530"}
  - {http: "http://127.0.0.1:9091/healthz", scope: service}
  - {tcp: "198.18.0.9:80"}
`
	c, _, err := ParseYAML("a.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	k := c.Keeper
	if k.Watchdog != "/dev/watchdog" || k.Service.Address != "127.0.0.1:19530" {
		t.Errorf("keeper %+v", k)
	}
	if got := [3]CheckScope{k.Checks[0].Scope, k.Checks[1].Scope, k.Checks[2].Scope}; got != [3]CheckScope{ScopeService, ScopeService, ScopeNode} {
		t.Errorf("scopes %v", got)
	}
	bad := []struct{ text, err string }{
		{pairBase + "watchdog: dev/watchdog\n", "a.yaml:8: watchdog dev/watchdog must be an absolute path"},
		{pairBase + "service: {docker: {container: m, address: nope}}\n", "a.yaml:8: service address 'nope' is not host:port"},
		{pairBase + "checks: [{script: x, scope: everywhere}]\n", "check script-1: scope 'everywhere' must be node or service"},
		{pairBase + "checks: [{grpc: 'h:1', weight: 10}]\n", "check grpc-1: scope service needs weight 0"},
	}
	for _, b := range bad {
		_, _, err := ParseYAML("a.yaml", []byte(b.text))
		if err == nil || !strings.Contains(err.Error(), b.err) {
			t.Errorf("%q: error %v, want %q", b.text, err, b.err)
		}
	}
}
