package vectordb

import (
	"context"
	"errors"
)

// logBackend is what the DB needs from the write-ahead log and the storage
// guard together. LSNs are positive, strictly increasing, one per record.
type logBackend interface {
	// Append makes the records durable as one group commit, confirms that
	// this node still owns the directory, and returns the LSN of the last
	// record. An error means none of the records may be acknowledged;
	// errors wrapping ErrFenced mean the lease is lost.
	Append(ctx context.Context, recs [][]byte) (uint64, error)
	// Replay calls fn for every record with LSN > after, in order, up to
	// the current end (sealed epochs only up to their seal).
	Replay(after uint64, fn func(lsn uint64, rec []byte) error) error
	// Tail is Replay that, once at the end, waits for new records until
	// ctx ends (standby).
	Tail(ctx context.Context, after uint64, fn func(lsn uint64, rec []byte) error) error
	// Promote takes the lease and seals the previous owner's log; records
	// after that point come from this node.
	Promote(ctx context.Context) error
	// TruncateBefore drops log records with LSN <= lsn (covered by a
	// checkpoint).
	TruncateBefore(lsn uint64) error
	// Oldest returns the LSN of the oldest record still held (0: none yet
	// written); replaying from a position before Oldest-1 would miss records.
	Oldest() uint64
	// Epoch is this node's fencing epoch (0 before it ever owned the log);
	// checkpoint files carry it.
	Epoch() uint64
	// Close stops heartbeats and closes files.
	Close() error
}

// errLogGap: the log no longer holds the records after a position (they
// were truncated behind a checkpoint).
var errLogGap = errors.New("vectordb: log truncated past the replay position")
