package vectordb

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// memLog is an in-memory logBackend for tests of the engine proper: it is
// shared by a "primary" and a "standby" DB like the directory would be.
type memLog struct {
	mu      sync.Mutex
	cond    *sync.Cond
	recs    [][]byte
	base    uint64 // LSN of recs[0] is base+1
	owner   int    // epoch of the node allowed to append
	failErr error  // injected Append failure
	appends int    // successful Append calls
}

type memLogHandle struct {
	l     *memLog
	epoch int
	pos   uint64 // last entry delivered by Replay or Tail
}

func newMemLog() *memLog {
	l := &memLog{owner: 1}
	l.cond = sync.NewCond(&l.mu)
	return l
}

// handle opens the log as a node; primary handles take ownership.
func (l *memLog) handle(primary bool) *memLogHandle {
	l.mu.Lock()
	defer l.mu.Unlock()
	if primary {
		l.owner++
		return &memLogHandle{l: l, epoch: l.owner}
	}
	return &memLogHandle{l: l}
}

func (h *memLogHandle) Append(ctx context.Context, entries [][]byte) (uint64, error) {
	l := h.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failErr != nil {
		return 0, l.failErr
	}
	if h.epoch != l.owner {
		return 0, fmt.Errorf("%w: epoch %d, owner is %d", ErrFenced, h.epoch, l.owner)
	}
	for _, e := range entries {
		l.recs = append(l.recs, append([]byte(nil), e...))
	}
	l.appends++
	l.cond.Broadcast()
	return l.base + uint64(len(l.recs)), nil
}

func (h *memLogHandle) Replay(after uint64, fn func(uint64, []byte) error) error {
	return h.replay(after, func(lsn uint64, b []byte) error {
		h.pos = lsn
		return fn(lsn, b)
	})
}

func (h *memLogHandle) replay(after uint64, fn func(uint64, []byte) error) error {
	l := h.l
	l.mu.Lock()
	recs, base := l.recs, l.base
	l.mu.Unlock()
	if after < base {
		return fmt.Errorf("%w: asked for entries after %d, log starts at %d", errLogGap, after, base+1)
	}
	for i, r := range recs {
		lsn := base + uint64(i) + 1
		if lsn <= after {
			continue
		}
		if err := fn(lsn, r); err != nil {
			return err
		}
	}
	return nil
}

func (h *memLogHandle) Tail(ctx context.Context, fn func(uint64, []byte) error) error {
	l := h.l
	after := h.pos
	stop := context.AfterFunc(ctx, func() {
		l.mu.Lock()
		l.cond.Broadcast()
		l.mu.Unlock()
	})
	defer stop()
	for {
		if err := h.replay(after, func(lsn uint64, b []byte) error {
			after, h.pos = lsn, lsn
			return fn(lsn, b)
		}); err != nil {
			return err
		}
		l.mu.Lock()
		for ctx.Err() == nil && l.base+uint64(len(l.recs)) <= after {
			l.cond.Wait()
		}
		l.mu.Unlock()
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

func (h *memLogHandle) Promote(ctx context.Context, fn func(uint64, []byte) error) error {
	h.l.mu.Lock()
	h.l.owner++
	h.epoch = h.l.owner
	h.l.mu.Unlock()
	return h.Replay(h.pos, fn)
}

func (h *memLogHandle) TruncateBefore(lsn uint64) error {
	l := h.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if lsn > l.base {
		n := min(int(lsn-l.base), len(l.recs))
		l.recs = l.recs[n:]
		l.base += uint64(n)
	}
	return nil
}

func (h *memLogHandle) Close() error { return nil }

func (h *memLogHandle) Epoch() uint64 { return uint64(h.epoch) }

func errorsIs(err, target error) bool { return errors.Is(err, target) }

func runtimeGosched() { time.Sleep(time.Millisecond) }
