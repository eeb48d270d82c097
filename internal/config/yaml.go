package config

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// NativeInstanceName is the VRRP instance name of a native configuration
// (what the generic notify hook receives as <name>).
const NativeInstanceName = "milvus"

// Native defaults that differ from keepalived's.
const (
	DefaultNativeAdvert = 100 * time.Millisecond
	DefaultEmbedListen  = ":19530"
	DefaultEmbedHealth  = ":9091"
	DefaultAPIListen    = "127.0.0.1:9700"
	DefaultCheckEvery   = time.Second
)

// ParseYAML parses the native format. The keys of issue 5 are a public
// contract:
//
//	node: a                        # unique node name (required)
//	interface: eth0                # required
//	vip: 198.18.0.104/24           # or a list; /32 (/128) when no prefix
//	vrid: 51                       # required, 1..255
//	priority: 110                  # 1..255, default 100
//	advert_interval: 100ms         # default 100ms
//	version: 3                     # default 3, or 2 when auth_pass is set
//	preempt: true                  # false = nopreempt
//	preempt_delay: 0s
//	auth_pass: ""                  # VRRPv2 PASS, for a keepalived peer
//	unicast_src_ip: 198.18.0.1     # optional
//	unicast_peers: []              # optional
//	data_dir: /mnt/shared/milvus   # required, absolute
//	service: {embedded: {listen: ":19530", health_listen: ":9091"}}
//	  # or docker: {container: X} | exec: {command: [...], restart: on-failure}
//	  # | systemd: {unit: X}; docker, exec and systemd also take
//	  # address: host:port (the service's Milvus gRPC address)
//	checks:                        # optional extra checks
//	  - {name: n, script|tcp|http|grpc|docker: TARGET,
//	     interval: 1s, timeout: 1s, fall: 1, rise: 1, weight: 0,
//	     scope: node|service}      # default service for grpc, docker
//	api: {listen: "127.0.0.1:9700", token: ""}
//	timing: normal                 # fast | normal | safe
//	watchdog: /dev/watchdog        # optional, petted while active
//	notify_master|notify_backup|notify_fault|notify_stop|notify: "cmd args"
//
// Unknown keys are errors with file:line.
func ParseYAML(name string, data []byte) (*Config, []Warning, error) {
	d := &diag{}
	cfg := parseYAML(name, data, d)
	if cfg != nil && len(d.errs) == 0 {
		d.errs = append(d.errs, cfg.validate()...)
	}
	if err := d.err(); err != nil {
		return nil, d.warns, err
	}
	return cfg, d.warns, nil
}

var yamlLineErr = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func parseYAML(name string, data []byte, d *diag) *Config {
	file := Pos{File: name}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			d.errorf(file, "empty configuration")
			return nil
		}
		msg := err.Error()
		if m := yamlLineErr.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			d.errorf(Pos{File: name, Line: line}, "%s", m[2])
		} else {
			d.errorf(file, "%s", strings.TrimPrefix(msg, "yaml: "))
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.errorf(Pos{File: name, Line: extra.Line}, "more than one YAML document")
		return nil
	}
	doc := &root
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			d.errorf(file, "empty configuration")
			return nil
		}
		doc = doc.Content[0]
	}
	w := &ywalker{file: name, d: d}
	return w.top(doc)
}

type ywalker struct {
	file string
	d    *diag
}

func (w *ywalker) pos(n *yaml.Node) Pos { return Pos{File: w.file, Line: n.Line} }

func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; i < 8 && n.Kind == yaml.AliasNode && n.Alias != nil; i++ {
		n = n.Alias
	}
	return n
}

// mapping walks a mapping node, calling the handler of each key; unknown and
// duplicate keys are errors at the key's line.
func (w *ywalker) mapping(n *yaml.Node, where string, h map[string]func(k, v *yaml.Node)) {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.MappingNode {
		w.d.errorf(w.pos(n), "%s must be a mapping", where)
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		in := ""
		if where != "configuration" {
			in = " in " + where
		}
		if k.Kind != yaml.ScalarNode {
			w.d.errorf(w.pos(k), "keys%s must be plain words", in)
			continue
		}
		if line, dup := seen[k.Value]; dup {
			w.d.errorf(w.pos(k), "key '%s'%s already given at line %d", k.Value, in, line)
			continue
		}
		seen[k.Value] = k.Line
		fn, ok := h[k.Value]
		if !ok {
			w.d.errorf(w.pos(k), "unknown key '%s'%s", k.Value, in)
			continue
		}
		fn(k, v)
	}
}

func (w *ywalker) scalar(k, v *yaml.Node) (string, bool) {
	if v.Kind != yaml.ScalarNode {
		w.d.errorf(w.pos(v), "%s must be a single value", k.Value)
		return "", false
	}
	if v.Tag == "!!null" {
		return "", true
	}
	return v.Value, true
}

func (w *ywalker) str(k, v *yaml.Node, dst *string) {
	if s, ok := w.scalar(k, v); ok {
		*dst = s
	}
}

func (w *ywalker) integer(k, v *yaml.Node, min, max int, dst *int) {
	s, ok := w.scalar(k, v)
	if !ok {
		return
	}
	n, err := strconv.Atoi(s)
	if err != nil || v.Tag != "!!int" {
		w.d.errorf(w.pos(v), "%s '%s' is not a whole number", k.Value, s)
		return
	}
	if n < min || n > max {
		w.d.errorf(w.pos(v), "%s %d out of range %d..%d", k.Value, n, min, max)
		return
	}
	*dst = n
}

func (w *ywalker) boolean(k, v *yaml.Node, dst *bool) {
	s, ok := w.scalar(k, v)
	if !ok {
		return
	}
	switch s {
	case "true", "yes", "on":
		*dst = true
	case "false", "no", "off":
		*dst = false
	default:
		w.d.errorf(w.pos(v), "%s '%s' must be true or false", k.Value, s)
	}
}

func (w *ywalker) duration(k, v *yaml.Node, dst *time.Duration) {
	s, ok := w.scalar(k, v)
	if !ok {
		return
	}
	dur, err := time.ParseDuration(s)
	switch {
	case err != nil && v.Tag == "!!int" && s != "0":
		w.d.errorf(w.pos(v), "%s %s needs a unit, e.g. %ss or %sms", k.Value, s, s, s)
	case err != nil:
		w.d.errorf(w.pos(v), "%s '%s' is not a duration like 100ms or 2s", k.Value, s)
	case dur < 0:
		w.d.errorf(w.pos(v), "%s %s must not be negative", k.Value, s)
	default:
		*dst = dur
	}
}

func (w *ywalker) addr(k, v *yaml.Node, dst *netip.Addr) {
	s, ok := w.scalar(k, v)
	if !ok || s == "" {
		return
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" || a.Is4In6() {
		w.d.errorf(w.pos(v), "%s '%s' is not an IP address", k.Value, s)
		return
	}
	*dst = a
}

// list accepts a sequence or a single scalar and calls fn per item.
func (w *ywalker) list(k, v *yaml.Node, fn func(item *yaml.Node)) {
	switch v.Kind {
	case yaml.SequenceNode:
		for _, it := range v.Content {
			fn(resolve(it))
		}
	case yaml.ScalarNode:
		if v.Tag != "!!null" {
			fn(v)
		}
	default:
		w.d.errorf(w.pos(v), "%s must be a list", k.Value)
	}
}

func (w *ywalker) hook(k, v *yaml.Node, dst **Hook) {
	s, ok := w.scalar(k, v)
	if !ok || s == "" {
		return
	}
	argv, err := SplitCommand(s)
	if err != nil || len(argv) == 0 {
		w.d.errorf(w.pos(v), "%s '%s' is not a command line: %v", k.Value, s, err)
		return
	}
	*dst = &Hook{Command: s, Args: argv}
}

func (w *ywalker) top(doc *yaml.Node) *Config {
	g := defaultGlobal()
	g.GARP = g.GARP.resolved()
	cfg := &Config{Path: w.file, Format: FormatYAML, Global: g, Scripts: map[string]*Script{}}
	in := &Instance{
		Name:             NativeInstanceName,
		Pos:              Pos{File: w.file, Line: doc.Line},
		Priority:         DefaultPriority,
		Advert:           DefaultNativeAdvert,
		DownTimerAdverts: DefaultDownTimerAdverts,
		GARP:             g.GARP,
	}
	k := &Keeper{
		Timing:  TimingNormal,
		Service: Service{Kind: ServiceEmbedded, Listen: DefaultEmbedListen, HealthListen: DefaultEmbedHealth},
		API:     API{Listen: DefaultAPIListen},
		path:    w.file,
		pos:     map[string]Pos{},
	}
	preempt := true
	at := func(key string, p Pos) {
		// Validate looks positions up by keepalived keyword.
		if kw, ok := map[string]string{
			"vrid": "virtual_router_id", "advert_interval": "advert_int", "vip": "virtual_ipaddress",
			"unicast_peers": "unicast_peer", "preempt": "nopreempt",
		}[key]; ok {
			in.setPos(kw, p)
		}
		in.setPos(key, p)
		k.pos[key] = p
	}
	w.mapping(doc, "configuration", map[string]func(k, v *yaml.Node){
		"node":      func(kn, v *yaml.Node) { at("node", w.pos(kn)); w.str(kn, v, &k.Node) },
		"interface": func(kn, v *yaml.Node) { at("interface", w.pos(kn)); w.str(kn, v, &in.Interface) },
		"vip": func(kn, v *yaml.Node) {
			at("vip", w.pos(kn))
			w.list(kn, v, func(it *yaml.Node) { w.vip(kn, it, in) })
		},
		"vrid":            func(kn, v *yaml.Node) { at("vrid", w.pos(kn)); w.integer(kn, v, 1, 255, &in.VRID) },
		"priority":        func(kn, v *yaml.Node) { at("priority", w.pos(kn)); w.integer(kn, v, 1, 255, &in.Priority) },
		"advert_interval": func(kn, v *yaml.Node) { at("advert_interval", w.pos(kn)); w.duration(kn, v, &in.Advert) },
		"version":         func(kn, v *yaml.Node) { at("version", w.pos(kn)); w.integer(kn, v, 2, 3, &in.Version) },
		"preempt":         func(kn, v *yaml.Node) { at("preempt", w.pos(kn)); w.boolean(kn, v, &preempt) },
		"preempt_delay":   func(kn, v *yaml.Node) { at("preempt_delay", w.pos(kn)); w.duration(kn, v, &in.PreemptDelay) },
		"auth_pass":       func(kn, v *yaml.Node) { at("auth_pass", w.pos(kn)); w.str(kn, v, &in.AuthPass) },
		"unicast_src_ip":  func(kn, v *yaml.Node) { at("unicast_src_ip", w.pos(kn)); w.addr(kn, v, &in.SrcIP) },
		"unicast_peers": func(kn, v *yaml.Node) {
			at("unicast_peers", w.pos(kn))
			w.list(kn, v, func(it *yaml.Node) {
				var a netip.Addr
				w.addr(kn, it, &a)
				if a.IsValid() {
					in.UnicastPeers = append(in.UnicastPeers, a)
				}
			})
		},
		"data_dir": func(kn, v *yaml.Node) { at("data_dir", w.pos(kn)); w.str(kn, v, &k.DataDir) },
		"service":  func(kn, v *yaml.Node) { at("service", w.pos(kn)); w.service(v, &k.Service) },
		"checks": func(kn, v *yaml.Node) {
			at("checks", w.pos(kn))
			w.list(kn, v, func(it *yaml.Node) { w.check(it, k) })
		},
		"api": func(kn, v *yaml.Node) {
			at("api", w.pos(kn))
			w.mapping(v, "api", map[string]func(k, v *yaml.Node){
				"listen": func(kn, v *yaml.Node) { w.str(kn, v, &k.API.Listen) },
				"token":  func(kn, v *yaml.Node) { w.str(kn, v, &k.API.Token) },
			})
		},
		"watchdog": func(kn, v *yaml.Node) { at("watchdog", w.pos(kn)); w.str(kn, v, &k.Watchdog) },
		"timing": func(kn, v *yaml.Node) {
			at("timing", w.pos(kn))
			var s string
			w.str(kn, v, &s)
			k.Timing = Timing(s)
		},
		"notify_master": func(kn, v *yaml.Node) { at("notify", w.pos(kn)); w.hook(kn, v, &in.Notify.Master) },
		"notify_backup": func(kn, v *yaml.Node) { at("notify", w.pos(kn)); w.hook(kn, v, &in.Notify.Backup) },
		"notify_fault":  func(kn, v *yaml.Node) { at("notify", w.pos(kn)); w.hook(kn, v, &in.Notify.Fault) },
		"notify_stop":   func(kn, v *yaml.Node) { at("notify", w.pos(kn)); w.hook(kn, v, &in.Notify.Stop) },
		"notify":        func(kn, v *yaml.Node) { at("notify", w.pos(kn)); w.hook(kn, v, &in.Notify.Generic) },
	})
	if len(w.d.errs) > 0 {
		return nil
	}
	if in.AuthPass != "" {
		in.AuthType = AuthPass
	}
	if in.Version == 0 {
		switch {
		case len(in.VIPs) > 0 && in.VIPs[0].Prefix.Addr().Is6():
			in.Version = 3
		case in.AuthType == AuthPass:
			in.Version = 2 // PASS exists only in VRRPv2: a keepalived peer
		default:
			in.Version = 3
		}
	}
	in.State = StateBackup
	if in.Priority == OwnerPriority {
		in.State = StateMaster
	}
	in.Nopreempt = !preempt
	if in.Nopreempt && in.Priority == OwnerPriority {
		w.d.warnf(in.PosOf("preempt"), "preempt: false has no effect with priority 255 (the address owner always preempts)")
		in.Nopreempt = false
	}
	if in.Nopreempt && in.PreemptDelay > 0 {
		w.d.warnf(in.PosOf("preempt_delay"), "preempt_delay has no effect with preempt: false")
		in.PreemptDelay = 0
	}
	cfg.Instances = []*Instance{in}
	cfg.Keeper = k
	return cfg
}

func (w *ywalker) vip(k, v *yaml.Node, in *Instance) {
	s, ok := w.scalar(k, v)
	if !ok || s == "" {
		return
	}
	var pf netip.Prefix
	var err error
	if strings.Contains(s, "/") {
		pf, err = netip.ParsePrefix(s)
	} else {
		var a netip.Addr
		if a, err = netip.ParseAddr(s); err == nil {
			pf = netip.PrefixFrom(a, a.BitLen())
		}
	}
	if err != nil || pf.Addr().Zone() != "" || pf.Addr().Is4In6() {
		w.d.errorf(w.pos(v), "vip '%s' is not an address or address/prefix", s)
		return
	}
	for _, old := range in.VIPs {
		if old.Prefix.Addr() == pf.Addr() {
			w.d.errorf(w.pos(v), "vip %s listed twice", s)
			return
		}
	}
	in.VIPs = append(in.VIPs, VIP{Prefix: pf})
}

func (w *ywalker) service(v *yaml.Node, s *Service) {
	kinds := 0
	kind := func(kn *yaml.Node, k ServiceKind) {
		kinds++
		if kinds > 1 {
			w.d.errorf(w.pos(kn), "service: give only one of embedded, docker, exec, systemd")
		}
		*s = Service{Kind: k}
	}
	w.mapping(v, "service", map[string]func(k, v *yaml.Node){
		"embedded": func(kn, v *yaml.Node) {
			kind(kn, ServiceEmbedded)
			s.Listen, s.HealthListen = DefaultEmbedListen, DefaultEmbedHealth
			w.mapping(v, "service.embedded", map[string]func(k, v *yaml.Node){
				"listen":        func(kn, v *yaml.Node) { w.str(kn, v, &s.Listen) },
				"health_listen": func(kn, v *yaml.Node) { w.str(kn, v, &s.HealthListen) },
			})
		},
		"docker": func(kn, v *yaml.Node) {
			kind(kn, ServiceDocker)
			w.mapping(v, "service.docker", map[string]func(k, v *yaml.Node){
				"container": func(kn, v *yaml.Node) { w.str(kn, v, &s.Container) },
				"address":   func(kn, v *yaml.Node) { w.str(kn, v, &s.Address) },
			})
		},
		"exec": func(kn, v *yaml.Node) {
			kind(kn, ServiceExec)
			s.Restart = "on-failure"
			w.mapping(v, "service.exec", map[string]func(k, v *yaml.Node){
				"command": func(kn, v *yaml.Node) {
					w.list(kn, v, func(it *yaml.Node) {
						var a string
						w.str(kn, it, &a)
						s.Command = append(s.Command, a)
					})
				},
				"restart": func(kn, v *yaml.Node) { w.str(kn, v, &s.Restart) },
				"address": func(kn, v *yaml.Node) { w.str(kn, v, &s.Address) },
			})
		},
		"systemd": func(kn, v *yaml.Node) {
			kind(kn, ServiceSystemd)
			w.mapping(v, "service.systemd", map[string]func(k, v *yaml.Node){
				"unit":    func(kn, v *yaml.Node) { w.str(kn, v, &s.Unit) },
				"address": func(kn, v *yaml.Node) { w.str(kn, v, &s.Address) },
			})
		},
	})
}

func (w *ywalker) check(v *yaml.Node, k *Keeper) {
	c := Check{
		Pos:      w.pos(v),
		Interval: DefaultCheckEvery,
		Fall:     1,
		Rise:     1,
	}
	target := func(kind CheckKind) func(kn, v *yaml.Node) {
		return func(kn, v *yaml.Node) {
			if c.Kind != "" {
				w.d.errorf(w.pos(kn), "check: give only one of script, tcp, http, grpc, docker")
			}
			c.Kind = kind
			w.str(kn, v, &c.Target)
		}
	}
	w.mapping(v, "checks", map[string]func(k, v *yaml.Node){
		"name":     func(kn, v *yaml.Node) { w.str(kn, v, &c.Name) },
		"script":   target(CheckScript),
		"tcp":      target(CheckTCP),
		"http":     target(CheckHTTP),
		"grpc":     target(CheckGRPC),
		"docker":   target(CheckDocker),
		"interval": func(kn, v *yaml.Node) { w.duration(kn, v, &c.Interval) },
		"timeout":  func(kn, v *yaml.Node) { w.duration(kn, v, &c.Timeout) },
		"fall":     func(kn, v *yaml.Node) { w.integer(kn, v, 1, 1<<30, &c.Fall) },
		"rise":     func(kn, v *yaml.Node) { w.integer(kn, v, 1, 1<<30, &c.Rise) },
		"weight":   func(kn, v *yaml.Node) { w.integer(kn, v, -253, 253, &c.Weight) },
		"scope": func(kn, v *yaml.Node) {
			var s string
			w.str(kn, v, &s)
			c.Scope = CheckScope(s)
		},
	})
	if c.Kind == "" {
		w.d.errorf(c.Pos, "check needs one of script, tcp, http, grpc, docker")
		return
	}
	if c.Name == "" {
		c.Name = string(c.Kind) + "-" + strconv.Itoa(len(k.Checks)+1)
	}
	if c.Timeout == 0 {
		c.Timeout = c.Interval
	}
	if c.Scope == "" {
		c.Scope = ScopeNode
		if c.Kind == CheckGRPC || c.Kind == CheckDocker {
			c.Scope = ScopeService
		}
	}
	if c.Kind == CheckScript && c.Target != "" {
		argv, err := SplitCommand(c.Target)
		if err != nil || len(argv) == 0 {
			w.d.errorf(c.Pos, "check %s: script '%s' is not a command line: %v", c.Name, c.Target, err)
			return
		}
		c.Args = argv
	}
	k.Checks = append(k.Checks, c)
}
