// Package wal is the write-ahead log of the embedded store: segments named
// by fencing epoch, checksummed records, group commit, a post-sync fencing
// check, and seals that make a takeover safe. Payloads are opaque: the
// store encodes its own operations.
//
// # On-disk format (FormatVersion 1)
//
// The log directory holds segments named SegmentName(epoch, seq):
// "<epoch, 20 digits>-<seq, 10 digits>.log", so lexical order is log order.
// Every segment starts with a 48-byte header (magic "MHAWALSG", version,
// epoch, seq, base LSN, CRC32C); records follow: CRC32C (Castagnoli) of the
// rest, payload length, type (data, seal, marker), flags (bit 0 = last
// record of its group commit), LSN, payload. Layouts are in format.go.
//
// Segment 0 of each epoch is the seal segment: its header and exactly one
// seal record, listing for every earlier epoch that was not sealed yet its
// last segment, the sealed length (end of the last whole batch), the raw
// length seen, and the last LSN. Data goes to segments 1, 2, ... A segment
// is created under a temporary name, synced, and hard-linked into place
// (link fails if the name exists), so a segment never exists with a torn
// header and two writers of one epoch cannot both create it.
//
// # LSN
//
// An LSN is a global, dense, monotonic record number (uint64, first record
// 1). Each data record stores its LSN, segment headers store the base LSN,
// and recovery checks that they chain. Seal and marker records take no LSN.
// A checkpoint covering up to LSN X is followed by Replay(X+1) and
// TruncateBefore(X+1).
//
// # Commit (Append, AppendBatch)
//
// Concurrent Append and AppendBatch calls queue; one writer goroutine takes
// all queued requests (up to MaxBatchBytes, but never part of one
// AppendBatch), writes their records contiguously (one pwrite, or one per
// MaxBatchBytes for a larger batch), one fdatasync, then calls
// Fence.StillOwner (one pread of OWNER). Only if that succeeds are the
// records acknowledged. Otherwise the whole batch fails with ErrFenced and
// the WAL refuses every later write: the caller steps down. A write or sync
// error fails with ErrBroken likewise (after a failed fdatasync the page
// cache state is unknown). The next batch is written only after the
// previous one was acknowledged.
//
// # Atomic batches
//
// A group commit is atomic for every reader: only its last record carries
// the batch-end flag, and nothing reads a record as committed before the
// batch end that follows it. Recovery and seals end at the last whole
// batch (a torn batch is cut whole, however many of its records verify),
// Replay stops at the last acknowledged batch end, and a Tailer delivers
// a batch only once it has read its end. An AppendBatch is never divided
// between group commits, so its payloads (each at most MaxPayload, in
// total any size) are durable and delivered all together or not at all,
// never interleaved with another writer's records. A batch never spans
// segments: one larger than SegmentSize starts a new segment and makes it
// that much longer, as a single large record always did. This is the
// batch-end flag of format version 1; the format is unchanged.
//
// # Safety argument (DESIGN.md, mapped to code)
//
// Takeover by node B (OpenPrimary, seal): B has written OWNER = (e+1, B) and
// synced it (guard.Acquire). B then lists the log, fdatasyncs the last
// segment of every unsealed earlier epoch, computes the end of its last
// whole batch (sealGroup) and publishes segment 0 of e+1 holding those
// seals. Commit on node A (commit): write, fdatasync, re-read OWNER. If A
// read epoch e after its sync, B's OWNER write came later, so B's sync and
// length read came later still: the batch is inside B's seal. Nothing
// acknowledged is lost. If A reads e+1, it does not acknowledge. Records A
// writes after B read the length are past the seal and recovery ignores
// them (cursor.advance: sealed epochs are read up to the seal, later
// segments of a sealed epoch are skipped).
//
// An epoch that nobody sealed although a later epoch exists is ignored
// whole (loadView): its segment 0 was published after the later owner listed
// the log, so its writer's post-publish fencing check already failed and it
// acknowledged nothing.
//
// Corruption is never silent loss. Inside a sealed region every record must
// verify, or reading fails with *CorruptError ("corrupt WAL at file:offset").
// At seal time the incomplete tail after the last whole batch (torn write,
// or a batch that was never acknowledged) is cut and reported (Report.Cut),
// unless a verifying record that ends a batch follows the damage, which
// means data that may have been acknowledged was damaged: the seal is
// refused with *CorruptError. (A conservative rule: a batch persisted out
// of order by a power loss, its end on disk but an earlier page not, can
// trip it too, and then needs an operator. Records of a batch whose end is
// missing do not: that batch was never acknowledged.)
//
// # Warm standby (Tailer)
//
// A Tailer reads the live epoch as it grows: whole records only, never past
// a record that does not verify yet. It holds back the newest batch until
// another batch or an idle marker follows it: the writer starts a batch
// only after the previous one passed its fencing check, so a batch with a
// successor was acknowledged and lies before any future seal; the newest
// one may be a fenced writer's last and end up past the seal. When the
// next epoch's seal appears, the held batch is applied if inside it and
// dropped otherwise. Promote acquires nothing itself: the caller takes the
// lease (guard.Acquire), then Promote seals (scanning only from the last
// batch the tailer verified) and applies the rest up to the seal.
//
// # Files kept
//
// TruncateBefore removes whole data segments behind a checkpoint; seal
// segments are kept (about 120 bytes per takeover) so that a late write by
// a stale writer can never make an old epoch look unsealed.
//
// # Filesystem requirements
//
// Linearizable pwrite/pread + fdatasync across the two hosts, durable
// directory fsync, and link(2) failing on an existing name: a local
// filesystem, NFSv4 with actimeo=0 (or noac), or a cluster filesystem.
package wal
