package vectordb

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
)

// logBackend is what the DB needs from the write-ahead log and the storage
// guard together (walBackend in production, an in-memory log in tests).
// Each log entry is one group of records (see encodeGroup) with one LSN;
// LSNs are positive and increase by one per entry.
type logBackend interface {
	// Append makes the entries durable as one atomic batch (every reader
	// gets all of them or none), confirms that this node still owns the
	// directory, and returns the LSN of the last; the others precede it
	// densely. An error means none of them may be acknowledged; errors
	// wrapping ErrFenced mean the lease is lost.
	Append(ctx context.Context, entries [][]byte) (uint64, error)
	// Replay calls fn for every entry with LSN > after, in order, up to the
	// current end (a standby: as far as it can safely read). Entries no
	// longer held give an error wrapping errLogGap.
	Replay(after uint64, fn func(lsn uint64, entry []byte) error) error
	// Tail keeps calling fn for new entries until ctx ends (standby).
	Tail(ctx context.Context, fn func(lsn uint64, entry []byte) error) error
	// Promote takes the lease, seals the previous owner's log, passes the
	// entries not yet delivered to fn and makes Append usable.
	Promote(ctx context.Context, fn func(lsn uint64, entry []byte) error) error
	// TruncateBefore drops entries with LSN <= lsn (a checkpoint holds them).
	TruncateBefore(lsn uint64) error
	// Epoch is this node's fencing epoch (0 while it never owned the log);
	// checkpoint files carry it.
	Epoch() uint64
	// Close stops heartbeats and closes files.
	Close() error
}

// errLogGap: the log no longer holds the entries after a position (they
// were truncated behind a checkpoint).
var errLogGap = errors.New("vectordb: log truncated past the replay position")

// Size limits: the log takes entries up to 64 MiB (wal.MaxPayload). A
// group of records fits in one entry with room for framing; a write whose
// record would be larger is logged as row chunks of at most maxRecordBytes,
// one per entry, appended as one atomic batch (see split.go).
const maxGroupBytes = 56 << 20

// maxRecordBytes is the largest record in a log entry: a variable so that
// tests split writes without building 48 MiB of rows.
var maxRecordBytes = 48 << 20

// encodeGroup frames records as one log entry: per record a uvarint length
// and the record.
func encodeGroup(recs [][]byte) []byte {
	n := 0
	for _, r := range recs {
		n += len(r) + binary.MaxVarintLen32
	}
	out := make([]byte, 0, n)
	for _, r := range recs {
		out = binary.AppendUvarint(out, uint64(len(r)))
		out = append(out, r...)
	}
	return out
}

// splitGroup is encodeGroup's inverse.
func splitGroup(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, fmt.Errorf("%w: bad record framing in log entry", errCorrupt)
		}
		out = append(out, b[k:k+int(n)])
		b = b[k+int(n):]
	}
	return out, nil
}
