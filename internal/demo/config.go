package demo

import (
	"fmt"
	"net/netip"
	"strings"
)

// NodeSpec is what the demo's node configs are made of.
type NodeSpec struct {
	Name     string       // node name, also the lab host's name
	Priority int          // VRRP priority; the preferred node is higher
	VIP      netip.Prefix // the service address, with its prefix length
	VRID     int          // VRRP router id, the same on both nodes
	DataDir  string       // the directory both nodes share
	API      string       // the keeper's status/control API (loopback inside the host)
	// CheckFlag makes the node's health check fail while this file exists
	// (a script check of weight 0: the active node hands over at once).
	CheckFlag string
}

// RenderNodeConfig returns the file name and text of a node's native
// configuration for `milvus-ha run --config`: the keeper with the embedded
// Milvus-compatible server on the shared directory, VRRPv3 with 100 ms
// adverts and preempt, its status API on loopback, and a script check the
// demo can make fail. It is the one place that knows the node config
// format.
func RenderNodeConfig(n NodeSpec) (file, text string) {
	var b strings.Builder
	fmt.Fprintf(&b, `# milvus-ha demo: node %[1]s
node: %[1]s
interface: eth0
vip: %[2]v
vrid: %[3]d
priority: %[4]d
advert_interval: 100ms
preempt: true
data_dir: %[5]s
service:
  embedded: {listen: ":19530", health_listen: ":9091"}
api: {listen: "%[6]s"}
checks:
  - {name: demo_check, script: "/bin/sh -c '! test -e %[7]s'", interval: 200ms, timeout: 1s, fall: 1, rise: 1, weight: 0}
`, n.Name, n.VIP, n.VRID, n.Priority, n.DataDir, n.API, n.CheckFlag)
	return n.Name + ".yaml", b.String()
}
