// Package netlab builds throw-away network labs out of Linux network
// namespaces: one "switch" namespace holding a bridge, and one namespace per
// host joined to the bridge by a veth pair (eth0 inside the host). It is used
// by every end-to-end test and by `milvus-ha demo`, so it is product code.
//
// Contract (the team's lab rules, enforced here):
//   - Hosts get addresses from 198.18.0.0/15 only; anything else is refused.
//     With Options.IPv6 the kernel adds the usual fe80:: link-local address
//     to eth0 (DAD off); otherwise IPv6 is disabled in every lab namespace.
//   - Every namespace and interface name carries the lab's per-run prefix
//     "mh" + 5 base36 digits of the creating PID + 3 random base36 digits
//     (10 chars, so prefix+suffix stays within the 15-char ifname limit).
//     Nothing is ever created in the caller's (root) namespace: the bridge
//     lives in "<prefix>-sw", hosts in "<prefix>-<host>".
//   - Processes started with Host.Start are tracked and stopped by PID
//     (SIGTERM, then SIGKILL to their process group); Close also kills, by
//     PID, anything still running inside the lab's namespaces, then deletes
//     the namespaces, which removes every link with them.
//   - Sweep removes labs whose creating PID no longer exists (crashed runs).
//
// Faults: Host.LinkDown/LinkUp take the host's switch port down (the host
// sees carrier loss), Lab.Cut/Heal drop all frames between two hosts only
// (an nftables bridge filter inside the switch namespace), Process.Kill
// simulates a crash. Probes: Host.Ping, Host.Neighbor and Host.WhoHas tell
// which MAC answers for an address.
//
// External tools: ip (iproute2) for namespace creation and `ip netns exec`,
// nft (nftables) for Cut/Heal. Everything else is netlink from Go.
package netlab
