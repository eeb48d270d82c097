// Package guard keeps the storage lease and the fencing epoch on the shared
// data directory, so that two hosts can never both write it, even when the
// network between them is cut. It implements the "Storage guard" section of
// DESIGN.md.
//
// # Files
//
// OWNER and HEARTBEAT are fixed-size records (RecordSize = 128 bytes, one
// sector: magic, format version, state, epoch, node id, counter, CRC32C;
// layout in record.go). Both are updated in place with pwrite + fdatasync
// on descriptors kept open, never by rename: a rename would leave the other
// node reading the old inode through its open descriptor. An empty file is
// "never written".
//
//   - OWNER = (epoch, node, active|released). The epoch is the fencing token:
//     it only grows, and each value is taken by exactly one node.
//   - HEARTBEAT = (epoch, node, counter), rewritten by the holder every
//     HeartbeatInterval after checking that OWNER is still its own.
//
// # Lease rules (pure core: Observer, Holder; time is passed in)
//
//  1. An observer samples OWNER+HEARTBEAT with its own monotonic clock. The
//     lease is expired when the content has not changed for LeaseTimeout:
//     the first read that returned a value completed at t0; a later read
//     that started at t1 and returned the same value proves the holder wrote
//     nothing in (t0, t1). No clock synchronisation between hosts. Only
//     fresh observation counts: if two reads start more than PauseThreshold
//     apart (the observer was paused, or nobody fed it), unchanged content
//     restarts the silence window at the later read.
//  2. A node never takes over while the holder's heartbeat moves: Acquire
//     returns *PeerAliveError (errors.Is ErrPeerAlive), "peer alive on
//     storage", when a read made during the call sees a change. A cut
//     network between the hosts with storage reachable is therefore not
//     split brain. The standby watches all along (Guard.Watch, every
//     PollInterval), so Acquire decides from the history it already has: a
//     holder silent for LeaseTimeout by the time VRRP makes this node
//     master is taken over at once, one silent for part of it is waited for
//     only the rest. A change the watch saw before the call does not refuse
//     (the holder was alive then); Acquire waits for the next change or the
//     expiry.
//  3. A released (or never written) OWNER may be taken at once: planned
//     switchover costs no lease wait.
//  4. Taking the lease writes OWNER = (epoch+1, me, active) and syncs it,
//     under an OFD lock on OWNER and after re-deciding on a read made under
//     that lock, so two nodes acquiring at once cannot both get epoch+1.
//  5. The holder serves only while its last successful renewal started less
//     than LeaseTimeout - SafetyMargin ago (Holder.Deadline). An observer
//     can decide expiry no earlier than LeaseTimeout after that renewal
//     started, so the holder stops SafetyMargin before anyone may take over.
//     A timer (independent of the heartbeat loop, which may be stuck in
//     I/O) ends the lease at the deadline, closes Lost() and calls the
//     WithOnLost callback: the keeper drops the VIP there. Renewal I/O runs
//     in its own goroutine. A cancelled Heartbeat returns only after the
//     renewal in flight finished (no stale HEARTBEAT write follows a
//     Release), and Close closes the files only then (no renewal writes a
//     closed file); the timer keeps running during that wait, and a lost
//     lease ends Heartbeat at once.
//  6. After a pause (two holder ticks further apart than PauseThreshold) the
//     holder answers MayServe with ErrRevalidate until a renewal that
//     started after the pause succeeded.
//  7. StillOwner (the WAL's post-fdatasync fencing check) is one pread of
//     OWNER on the open descriptor: nil only while held locally and OWNER
//     still shows (epoch, me, active). A foreign OWNER ends the holding.
//  8. ServeCheck is MayServe for the read path: one atomic load and one
//     time.Now (vDSO), no lock, no system call. Every change of the
//     holding (taken, tick, renewal, loss) publishes the instant until
//     which MayServe stays nil if nothing else happens (Holder.ServeUntil:
//     the deadline, or PauseThreshold after the last tick), kept on the
//     monotonic and on the wall clock. A process resumed after a pause
//     (SIGSTOP, VM freeze, host suspend: the wall clock ran on) longer
//     than that refuses from its first instant, before any of its
//     goroutines has run, and serves again only after a renewal that
//     started after the pause succeeded within the lease. AwaitServe is
//     the read path's form: a window that only lapsed (a late tick on a
//     loaded host) waits up to one lease timeout for the next published
//     window instead of failing the read at once.
//
// Data safety does not depend on the timing rules: it rests on rule 7 and
// the WAL's seal (see package wal). The timing rules keep a stale primary
// from serving reads (vectordb checks AwaitServe before every read) and
// keep the pair from flapping.
//
// # Clock
//
// The shell uses CLOCK_BOOTTIME (BootClock): monotonic, and it keeps running
// while the host is suspended, so a resumed holder sees its lease as old.
//
// # Timing
//
// PresetTiming derives Timing from the VRRP advert interval (fast, normal,
// safe; the table is on PresetTiming). Timing.WorstCaseTakeover is the
// longest time from the holder's death to the observer's expiry decision;
// Timing.StorageTolerance is the longest storage stall a holder survives.
//
// # What the shared filesystem must guarantee
//
// pwrite followed by fdatasync on one host must be visible to a pread
// started afterwards on the other host (linearizable for these operations),
// and fcntl OFD locks should work across hosts. A local filesystem, NFSv4
// mounted with actimeo=0 (or noac) and a cluster filesystem (GFS2, OCFS2)
// qualify; NFS with attribute caching does not (a stale cached HEARTBEAT
// would look like a dead peer).
package guard
