// Package vrrp is the protocol core of the milvus-ha VRRP speaker: the
// VRRPv2/v3 wire codec and the election state machine, both pure (no
// sockets, goroutines or clock). It is compatible with keepalived 2.2.7, so a
// pair may mix one keepalived node and one milvus-ha node.
//
// # Codec
//
// Packet is one advertisement. Packet.Marshal builds the VRRP payload (the
// shell adds the IP header: protocol 112, TTL 255, TOS 0xc0 like keepalived)
// and Parse decodes one, checking what any receiver must check: version,
// exact length, checksum, type, VRID (not 0), auth type, interval. Expect.Check then checks
// the packet against the local instance the way keepalived does: VRID, TTL
// 255 for multicast (unicast is not TTL-checked), version, v2 auth type and
// password, v2 interval, VIP count and set, unicast/multicast, optional
// unicast peer list. Both return *RejectError, whose Reason is a stable
// metric label. A rejected advert must be dropped and counted, never given to
// the Machine: keepalived treats it as missing, and so a persistent mismatch
// ends in both nodes master. The shell should make that loud.
//
// Formats: VRRPv2 (IPv4 only) always carries keepalived's 8-byte
// authentication trailer (zeros, or the PASS password); VRRPv3 over IPv4 and
// IPv6 has none and a centisecond interval. Checksums: v2 over the message;
// v3 IPv6 with the RFC 8200 pseudo-header; v3 IPv4 is written with
// keepalived's pseudo-header (real destination) and read in any of the three
// forms found in the field (pseudo-header, RFC 9568 message-only as Cisco and
// keepalived ≥ 2.2.8 v3_checksum_as_v2 send it, and the keepalived ≤ 1.3.6
// unicast form); Packet.Checksum reports which, and can be set to send
// another. The captured keepalived packets of reference §7.1 are test vectors
// and round-trip byte for byte. Parse never panics (fuzzed).
//
// # State machine
//
// Machine follows etcd raft's shape: the shell calls Start, Tick, Receive,
// SetTrack, Inhibit, Resign and Shutdown with the current time, carries out
// the returned actions in order, and calls Tick again at Deadline. It is not
// safe for concurrent use: one goroutine of the shell owns it.
//
// States are Initialize → Backup ⇄ Master, Fault (entered from Backup or
// Master, left to Backup), and the terminal Stop. Actions:
//   - ActionSendAdvert{Priority}: send one advert (priority 0 = resigning).
//   - ActionStateChange{From, To, Reason, Priority}: entering Master means
//     add the VIPs and announce them; leaving it means remove them. When a
//     node becomes master the advert comes first, so the old master drops
//     the VIPs before our gratuitous ARPs (keepalived's order).
//   - ActionLowerPriorityMaster: as master we heard a router that should be
//     backup (a split brain healing): refresh ARP/ND for the VIPs.
//
// Invariants (checked by the randomized simulation after every input):
// adverts with a non-zero priority are sent only by a master; priority 0 only
// when leaving Master; a Fault instance sends nothing and ignores adverts; the
// instance is in Fault exactly while a weight-0 track fails or an inhibit is
// on; Deadline is set exactly in Backup and Master and always moves past now
// after Tick. Once adverts flow both ways and nothing changes for about two
// Master_Down_Intervals (plus any preempt delay), exactly one eligible node is
// master, and with preemption on everywhere it has the highest effective
// priority (ties: whichever got there first).
//
// # Matching keepalived 2.2.7
//
//   - Master_Down_Interval = down_timer_adverts·Master_Adver_Interval +
//     Skew_Time, skew from the effective priority, in keepalived's integer
//     microseconds; a v3 backup follows the master's interval, a master uses
//     its own.
//   - Every instance starts in Backup and waits the full Master_Down_Interval,
//     even with `state MASTER` (Config.StartMaster), unless it is the owner
//     (priority 255) and StartMaster: then Master at once.
//   - Backup: priority 0 → take over after Skew_Time; priority ≥ ours, or
//     nopreempt, or preempt delay still running → accept (reset timer); else
//     discard (the timer keeps running). The preempt delay starts at the first
//     lower-priority advert and is cancelled by one with priority ≥ ours.
//     nopreempt is ignored for the owner.
//   - Master: priority 0 → advert at once; lower priority, or equal with a
//     lower address → advert at once and stay; higher, or equal with a higher
//     address → Backup without a priority-0 advert; equal from our own address
//     → ignored; two owners → ours drops to 254 (keepalived's "CONFIGURATION
//     ERROR" workaround).
//   - Tracks (SetTrack): weight 0 failing → Fault; positive weight added while
//     ok, negative while failing; effective priority clamped to 1..254, the
//     owner's 255 fixed. A priority change in Backup shifts the running down
//     timer by the skew difference; in Master it goes into the next advert.
//     A weight-0 track failing before Start starts the instance in Fault.
//   - Fault from Master sends priority 0 twice; leaving Fault → Backup with a
//     full Master_Down_Interval (owner + StartMaster → Master).
//   - Shutdown: a master sends priority 0; Stop is reported for every state.
//
// # Deliberate differences
//
//   - IPsec-AH authentication (v2 auth type 2) is not supported: Marshal
//     returns ErrAuthAHUnsupported, Parse rejects with auth_ah_unsupported.
//   - A v3 advert with interval 0 is rejected (bad_interval), per RFC 9568.
//   - Inhibit is ours: an administrative hold that behaves like Fault (the
//     keeper holds the instance down while it cannot take the storage lease).
//   - Resign is an explicit call: priority 0, then Backup with a full
//     Master_Down_Interval so that a backup (Skew_Time) takes over first.
//     keepalived only does this internally (a VIP removed behind its back)
//     and there re-arms to Skew_Time. Resign alone does not keep a
//     higher-priority node away: lower its priority or Inhibit as well.
//   - Config.SoleBackup is ours: the only backup of a pair takes over at
//     once on the master's priority-0 advert, without Skew_Time (which only
//     orders several backups). A keepalived peer keeps its skew.
//   - Options keepalived has that live in the shell or are not offered:
//     garp_* timing, lower_prio_no_advert / higher_prio_send_advert
//     (behaviour fixed at keepalived's defaults), sync groups, VMAC,
//     per-peer min/max TTL, skip_check_adv_addr.
//   - keepalived `reverse` tracks are SetTrack(name, -weight, !result).
package vrrp
