// Package netif is the VRRP speaker's network edge on Linux: it moves
// bytes and addresses, and knows nothing of VRRP semantics (the codec and
// state machine live in internal/vrrp).
//
//   - Conn: a raw IP protocol 112 socket bound to one interface and family,
//     set up like keepalived's (see Listen): multicast to 224.0.0.18 /
//     ff02::12 or unicast to each configured peer, TTL/hop limit 255, TOS
//     0xc0, own packets never returned, unicast packets only from peers.
//     Recv returns the VRRP payload plus source, destination and TTL, which
//     the codec needs for its checks (TTL 255, v3 pseudo-header checksum).
//     The IPv6 checksum is left to the codec (IPV6_CHECKSUM off; see Listen).
//   - VIPs: AddVIP / DelVIP / PresentVIPs / RemoveLeftoverVIPs through
//     netlink. A VIP is "ours" because the configuration lists it; at
//     start-up RemoveLeftoverVIPs deletes configured VIPs that a crash left
//     behind. IPv6 VIPs are added with IFA_F_NODAD.
//   - Announcements: GratuitousARP and UnsolicitedNA build keepalived's
//     exact frames, FrameSender writes them on an AF_PACKET socket, and
//     Announcer repeats them on keepalived's garp_master_delay / _repeat /
//     _refresh / garp_interval schedule until its context ends.
//   - WatchLinks streams up/down of tracked interfaces (netlink).
//
// Everything acts in the network namespace of the calling OS thread at the
// time a socket is opened (tests open them inside netlab.Host.Do).
package netif
