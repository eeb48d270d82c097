// Package speaker is the VRRP daemon: the I/O shell around the pure state
// machine of package vrrp. One Instance per vrrp_instance owns a raw VRRP
// socket (package netif), feeds the machine with received adverts, timer
// ticks and tracked script and interface results, and carries out the
// machine's actions in order: adverts, VIPs added or removed through
// netlink, gratuitous ARP / unsolicited NA bursts on keepalived's schedule,
// notify hooks run one at a time in transition order.
//
// All access to the machine happens on the goroutine that runs Run; control
// calls (Resign, Inhibit) are handed to it over a channel. A Gate lets the
// keeper take the storage lease and promote its service between "the
// machine decided to become master" (and sent its first advert) and "the
// VIP is added": if the gate refuses, the VIP is never added and the
// instance steps back with priority-0 adverts. Gate calls run on their own
// goroutine, never on the loop: a keeper starting or stopping its service
// must not leave the instance deaf and mute meanwhile. A Gate that also
// implements Handover is called with the VIPs still on the interface when
// MASTER is left, so that its service can move its clients to the peer
// over the connections they made to the VIPs; the VIPs go when it returns,
// then LeftMaster runs.
//
// Invalid packets are counted by reason and logged at most once per reason
// every ten seconds; like keepalived, the machine never sees them.
package speaker
