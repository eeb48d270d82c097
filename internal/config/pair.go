package config

import (
	"fmt"
	"path/filepath"
	"slices"
)

// ComparePeer checks the two native configurations of a pair against each
// other for what one file cannot show: settings that must match for the
// two nodes to agree on one VIP and one lease (VRID, VIPs, advert
// interval, version, authentication, lease timing), and settings that
// could put both nodes in charge at once (the same node name, the same
// priority with preemption, two address owners). Errors are reported at
// the key's line in this node's file c. A data_dir that differs is only a
// warning: the same storage may be mounted at different paths.
func (c *Config) ComparePeer(peer *Config) ([]Warning, Errors) {
	d := &diag{}
	if c.Keeper == nil || peer.Keeper == nil || len(c.Instances) != 1 || len(peer.Instances) != 1 {
		d.errorf(Pos{File: c.Path}, "--peer compares two native configurations (one VRRP instance and a keeper section each)")
		return d.warns, d.errs
	}
	a, b := c.Instances[0], peer.Instances[0]
	ka, kb := c.Keeper, peer.Keeper
	other := func(key string) string { return kb.PosOf(key).String() }
	if ka.Node == kb.Node {
		d.errorf(ka.PosOf("node"), "node %q is also the peer's name (%s): the lease cannot tell the two nodes apart", ka.Node, other("node"))
	}
	if a.VRID != b.VRID {
		d.errorf(a.PosOf("vrid"), "vrid %d, the peer has %d (%s): the two nodes would not hear each other", a.VRID, b.VRID, other("vrid"))
	}
	if !slices.EqualFunc(a.VIPs, b.VIPs, func(x, y VIP) bool { return x.Prefix == y.Prefix }) {
		d.errorf(a.PosOf("vip"), "vip %s, the peer has %s (%s): adverts would be rejected and both nodes become master",
			joinAddrs(vipPrefixes(a.VIPs)), joinAddrs(vipPrefixes(b.VIPs)), other("vip"))
	}
	if a.Advert != b.Advert {
		d.errorf(a.PosOf("advert_interval"), "advert_interval %s, the peer has %s (%s): the lease timing derives from it and must be equal", a.Advert, b.Advert, other("advert_interval"))
	}
	if a.Version != b.Version {
		d.errorf(a.PosOf("version"), "VRRP version %d, the peer uses %d (%s)", a.Version, b.Version, other("version"))
	}
	if a.AuthType != b.AuthType || a.AuthPass != b.AuthPass {
		d.errorf(a.PosOf("auth_pass"), "auth_pass differs from the peer's (%s): adverts would be rejected and both nodes become master", other("auth_pass"))
	}
	if ka.Timing != kb.Timing {
		d.errorf(ka.PosOf("timing"), "timing %s, the peer has %s (%s): both nodes must use the same lease timing", ka.Timing, kb.Timing, other("timing"))
	}
	switch {
	case a.Priority == OwnerPriority && b.Priority == OwnerPriority:
		d.errorf(a.PosOf("priority"), "both nodes have priority 255 (%s): both claim to own the VIP", other("priority"))
	case a.Priority == b.Priority && (!a.Nopreempt || !b.Nopreempt):
		d.errorf(a.PosOf("priority"), "priority %d equals the peer's (%s) with preempt on: give the preferred node the higher priority", a.Priority, other("priority"))
	}
	if filepath.Clean(ka.DataDir) != filepath.Clean(kb.DataDir) {
		d.warnf(ka.PosOf("data_dir"), "data_dir %s, the peer has %s (%s): data_dir not shared? Both must be the same shared storage", ka.DataDir, kb.DataDir, other("data_dir"))
	}
	if ka.Service.Kind != kb.Service.Kind {
		d.warnf(ka.PosOf("service"), "service %s, the peer runs %s (%s)", ka.Service.Kind, kb.Service.Kind, other("service"))
	}
	return d.warns, d.errs
}

func vipPrefixes(vs []VIP) []fmt.Stringer {
	out := make([]fmt.Stringer, len(vs))
	for i, v := range vs {
		out[i] = v.Prefix
	}
	return out
}
