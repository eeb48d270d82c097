package demo

import (
	"fmt"
	"net/netip"
	"strings"
)

// NodeSpec is what differs between the demo's two nodes.
type NodeSpec struct {
	Name      string       // node name, also the lab host's name
	Priority  int          // VRRP priority; the preferred node is higher
	VIP       netip.Prefix // the service address, with its prefix length
	DataDir   string       // the directory both nodes share
	CheckFlag string       // the node's service check fails while this file exists
	Notify    string       // command line that receives the node's state changes
}

// RenderNodeConfig returns the file name and text of a node's
// configuration for `milvus-ha run --config`. It is the one place that
// knows the node config format: today a keepalived.conf (VRRPv3, 100 ms
// adverts, preempt, a check script whose failure puts the node in FAULT so
// it resigns at once, and a generic notify hook); when the keeper lands it
// renders node.yaml with data_dir and the embedded service instead.
func RenderNodeConfig(n NodeSpec) (file, text string) {
	var b strings.Builder
	fmt.Fprintf(&b, `! milvus-ha demo: node %[1]s (a keepalived.conf; milvus-ha reads it natively)
global_defs {
  router_id %[1]s
}

! The protected service's health. weight 0: a failure puts the node in
! FAULT, so a master resigns at once (priority-0 advert) instead of waiting
! for the backup's down timer.
vrrp_script chk_service {
  script "/bin/sh -c '! test -e %[2]s'"
  interval 0.2
  timeout 1
  fall 1
  rise 1
  weight 0
}

vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority %[3]d
  version 3
  advert_int 0.1
  virtual_ipaddress {
    %[4]v
  }
  track_script {
    chk_service
  }
  notify "%[5]s"
}
`, n.Name, n.CheckFlag, n.Priority, n.VIP, n.Notify)
	return n.Name + ".conf", b.String()
}
