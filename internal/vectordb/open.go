package vectordb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
)

// Open opens (creating if needed) the data directory dir. As Primary it
// takes the storage lease, recovers from the newest checkpoint plus the log
// and serves; as Standby it recovers the same way, then keeps tailing the
// owner's log until Promote.
func Open(ctx context.Context, dir string, opts Options) (*DB, error) {
	if opts.NodeID == "" {
		return nil, fmt.Errorf("%w: Options.NodeID is required", ErrInvalidArgument)
	}
	lg := opts.Logger
	if lg == nil {
		lg = slog.Default()
	}
	if err := makeDataDir(dir); err != nil {
		return nil, fmt.Errorf("vectordb: %w", err)
	}
	b, err := openWAL(ctx, dir, opts, lg)
	if err != nil {
		return nil, fmt.Errorf("vectordb: opening %s: %w", dir, err)
	}
	db, err := openWith(ctx, dir, opts, b)
	if err != nil {
		b.Close()
		return nil, err
	}
	db.watchLease(b)
	return db, nil
}

// makeDataDir creates dir (and its parents) unless it exists. A stat of
// dir that fails for another reason than "does not exist" is reported as
// it is: os.MkdirAll would go on to mkdir, and for a directory that exists
// but cannot be read (the root of a storage mount failing with EIO) it
// reports mkdir's EEXIST, which hides the real failure.
func makeDataDir(dir string) error {
	if _, err := os.Stat(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.MkdirAll(dir, 0o755)
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

// watchLease fences the DB as soon as the lease ends, not only at its next
// write, so the keeper steps down promptly.
func (db *DB) watchLease(b *walBackend) {
	db.bg.Add(1)
	go func() {
		defer db.bg.Done()
		for {
			lost := b.lost()
			if lost == nil { // standby: wait for Promote
				select {
				case <-db.promoted:
					continue
				case <-db.done:
					return
				}
			}
			select {
			case <-lost:
				if db.Role() == RolePrimary && !db.closed.Load() {
					db.fail(RoleFenced, fmt.Errorf("%w: storage lease ended", ErrFenced))
				}
				return
			case <-db.done:
				return
			}
		}
	}()
}
