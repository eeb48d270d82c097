package vectordb

import (
	"context"
	"errors"
	"fmt"
)

var errNoLog = errors.New("vectordb: the durable log (internal/wal) is not wired in yet")

// Open opens (creating if needed) the data directory dir. As Primary it
// takes the storage lease, recovers from the newest checkpoint plus the log
// and serves; as Standby it recovers the same way, then keeps tailing the
// owner's log until Promote.
func Open(ctx context.Context, dir string, opts Options) (*DB, error) {
	if opts.NodeID == "" {
		return nil, fmt.Errorf("%w: Options.NodeID is required", ErrInvalidArgument)
	}
	return nil, errNoLog
}

// openWith recovers a DB over an opened log backend and starts it.
func openWith(ctx context.Context, dir string, opts Options, wal logBackend) (*DB, error) {
	db := newDB(dir, opts, wal)
	if err := db.recover(); err != nil {
		db.closeCollections()
		return nil, fmt.Errorf("vectordb: recovery: %w", err)
	}
	db.start(opts.Mode)
	return db, nil
}
