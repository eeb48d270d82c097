package wal

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Tailer follows the log read-only, for a warm standby: it applies every
// sealed epoch up to its seal and the current (unsealed) epoch as the
// primary appends, one batch behind (see cursor), reading whole records
// only and never past a tail that may still be being written. When a new
// epoch appears (a takeover by another node) it applies the old epoch up to
// the seal the new owner recorded and moves on.
//
// Its methods are safe for concurrent use (they serialise); after Promote
// or Close, Poll and Follow return ErrClosed.
type Tailer struct {
	dir string
	opt Options

	mu   sync.Mutex
	c    cursor
	done bool
}

// Progress is where a tailer stands.
type Progress struct {
	Epoch   uint64 // epoch being read
	NextLSN uint64 // next LSN expected (0 before the first segment is read)
	Epochs  int    // epoch changes crossed since OpenTailer
}

// OpenTailer starts a tailer that delivers records with LSN >= from (the
// first LSN not covered by the caller's checkpoint).
func OpenTailer(dir string, from uint64, opt Options) (*Tailer, error) {
	return &Tailer{dir: dir, opt: opt.withDefaults(), c: cursor{from: from}}, nil
}

// Poll applies whatever became readable since the last call.
func (t *Tailer) Poll(fn ApplyFunc) (Progress, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return t.progress(), ErrClosed
	}
	v, err := loadView(t.dir, t.c.pos.epoch)
	if err != nil {
		return t.progress(), err
	}
	err = t.c.advance(v, true, nil, fn)
	return t.progress(), err
}

func (t *Tailer) progress() Progress {
	return Progress{Epoch: t.c.pos.epoch, NextLSN: t.c.next, Epochs: t.c.epochs}
}

// Follow polls every interval until ctx ends or an error occurs.
func (t *Tailer) Follow(ctx context.Context, interval time.Duration, fn ApplyFunc) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if _, err := t.Poll(fn); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Promote turns the standby into the primary of epoch, which the caller has
// just acquired: it seals the previous epoch (scanning only from the last
// batch this tailer verified), applies the records between what was already
// applied and the seal, and returns the WAL ready for Append. The tailer is
// finished afterwards.
func (t *Tailer) Promote(epoch uint64, fence Fence, fn ApplyFunc) (*WAL, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return nil, ErrClosed
	}
	defer t.c.close()
	var hint *sealHint
	if t.c.started && t.c.next != 0 {
		hint = &sealHint{pos: t.c.batch, next: t.c.batchNext}
	}
	w, err := openPrimary(t.dir, epoch, fence, t.opt, hint)
	if err != nil {
		return nil, err
	}
	v, err := loadView(t.dir, t.c.pos.epoch)
	if err == nil {
		stop := w.ackedPos
		err = t.c.advance(v, false, &stop, fn)
	}
	if err == nil && t.c.next != w.next {
		err = fmt.Errorf("%w: standby reached LSN %d, log continues at %d", ErrCorrupt, t.c.next, w.next)
	}
	if err != nil {
		w.Close()
		return nil, err
	}
	t.done = true
	return w, nil
}

// Close releases the tailer's file handle; later calls return ErrClosed.
func (t *Tailer) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done = true
	t.c.close()
}
