package vectordb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/guard"
	"github.com/milvus-ha/milvus-ha/internal/wal"
)

// walDir is the log's subdirectory of the data directory.
const walDir = "wal"

// tailInterval is how often a standby polls the log for new entries.
const tailInterval = 5 * time.Millisecond

// walBackend is the production logBackend: the storage guard (lease and
// fencing epoch) and the WAL of internal/wal in the data directory.
type walBackend struct {
	dir  string
	node string
	log  *slog.Logger
	g    *guard.Guard

	mu     sync.Mutex
	w      *wal.WAL    // primary
	t      *wal.Tailer // standby
	stopHB context.CancelFunc
	hbDone chan struct{}
	// stopWatch ends the standby's lease watch (nil when none runs).
	stopWatch context.CancelFunc
	watchDone chan struct{}
}

// guardTiming resolves the lease timing from the options.
func guardTiming(o Options) guard.Timing {
	if o.Timing != (guard.Timing{}) {
		return o.Timing
	}
	if o.LeaseTimeout > 0 && o.HeartbeatInterval > 0 {
		return guard.Timing{
			HeartbeatInterval: o.HeartbeatInterval, LeaseTimeout: o.LeaseTimeout,
			SafetyMargin: o.LeaseTimeout / 5, PollInterval: max(o.HeartbeatInterval/2, time.Millisecond),
		}
	}
	t, _ := guard.PresetTiming(guard.PresetNormal, 100*time.Millisecond)
	return t
}

// openWAL opens the guard, and as primary takes the lease and opens the
// log for writing (sealing the previous owner's epoch).
func openWAL(ctx context.Context, dir string, o Options, lg *slog.Logger) (*walBackend, error) {
	g, err := guard.Open(dir, o.NodeID, guardTiming(o), guard.WithLogger(lg))
	if err != nil {
		return nil, err
	}
	b := &walBackend{dir: dir, node: o.NodeID, log: lg, g: g}
	// A standby may start before any primary ever wrote: the tailer needs
	// the (empty) log directory to exist.
	if err := os.MkdirAll(filepath.Join(dir, walDir), 0o755); err != nil {
		g.Close()
		return nil, err
	}
	if o.Mode == Primary {
		if err := b.becomePrimary(ctx, nil); err != nil {
			g.Close()
			return nil, err
		}
		return b, nil
	}
	// A standby watches the owner's heartbeat from now on, so that Promote
	// after the owner's death waits only what is left of the lease timeout
	// (nothing if the owner died a lease timeout ago), not a full one.
	wctx, stop := context.WithCancel(context.Background())
	b.stopWatch, b.watchDone = stop, make(chan struct{})
	go func() {
		defer close(b.watchDone)
		_ = g.Watch(wctx) // ends with the context or the guard
	}()
	return b, nil
}

// endWatch stops the standby's lease watch and waits for it.
func (b *walBackend) endWatch() {
	b.mu.Lock()
	stop, done := b.stopWatch, b.watchDone
	b.stopWatch, b.watchDone = nil, nil
	b.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

// becomePrimary takes the lease, starts heartbeats and opens the log for
// writing: directly, or through the standby's tailer (which then delivers
// the unread tail to fn).
func (b *walBackend) becomePrimary(ctx context.Context, fn func(uint64, []byte) error) error {
	start := time.Now()
	epoch, err := b.g.Acquire(ctx)
	if err != nil {
		return err // still a standby: the watch goes on
	}
	acquired := time.Now()
	hctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := b.g.Heartbeat(hctx); err != nil && hctx.Err() == nil {
			b.log.Error("storage lease heartbeat stopped", "err", err)
		}
	}()
	var w *wal.WAL
	opt := wal.Options{Logger: b.log}
	b.mu.Lock()
	t := b.t
	b.mu.Unlock()
	if t != nil {
		w, err = t.Promote(epoch, b.g, fn)
	} else {
		w, err = wal.OpenPrimary(filepath.Join(b.dir, walDir), epoch, b.g, opt)
	}
	if err != nil {
		cancel()
		<-done
		return mapWALErr(err)
	}
	b.mu.Lock()
	b.w, b.t, b.stopHB, b.hbDone = w, nil, cancel, done
	b.mu.Unlock()
	// Primary now: the watch (idle while the lease is held) is done, and
	// ending it off the path to the log's opening costs the takeover nothing.
	b.endWatch()
	for _, c := range w.Report().Cut {
		b.log.Warn("sealed the previous epoch's log, cutting an unacknowledged tail", "cut", c.String())
	}
	b.log.Info("log open for writing", "epoch", epoch, "acquire", acquired.Sub(start), "seal_and_tail", time.Since(acquired))
	return nil
}

// mapWALErr gives log errors the DB's kinds.
func mapWALErr(err error) error {
	switch {
	case errors.Is(err, wal.ErrFenced):
		return fmt.Errorf("%w: %w", ErrFenced, err)
	case errors.Is(err, wal.ErrGap):
		return fmt.Errorf("%w: %w", errLogGap, err)
	case errors.Is(err, wal.ErrClosed):
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return err
}

func (b *walBackend) Append(ctx context.Context, entries [][]byte) (uint64, error) {
	b.mu.Lock()
	w := b.w
	b.mu.Unlock()
	if w == nil {
		return 0, ErrNotPrimary
	}
	first, err := w.AppendBatch(ctx, entries)
	if err != nil {
		return 0, mapWALErr(err)
	}
	return first + uint64(len(entries)) - 1, nil
}

// Replay reads the log after a checkpoint: a primary up to the end, a
// standby (which starts its tailer here) as far as is safely readable.
func (b *walBackend) Replay(after uint64, fn func(uint64, []byte) error) error {
	b.mu.Lock()
	w := b.w
	b.mu.Unlock()
	if w != nil {
		return mapWALErr(w.Replay(after+1, fn))
	}
	t, err := wal.OpenTailer(filepath.Join(b.dir, walDir), after+1, wal.Options{Logger: b.log})
	if err != nil {
		return err
	}
	b.mu.Lock()
	if b.t != nil {
		b.t.Close()
	}
	b.t = t
	b.mu.Unlock()
	_, err = t.Poll(fn)
	return mapWALErr(err)
}

func (b *walBackend) Tail(ctx context.Context, fn func(uint64, []byte) error) error {
	b.mu.Lock()
	t := b.t
	b.mu.Unlock()
	if t == nil {
		return fmt.Errorf("%w: no tailer", ErrInvalidArgument)
	}
	return mapWALErr(t.Follow(ctx, tailInterval, fn))
}

func (b *walBackend) Promote(ctx context.Context, fn func(uint64, []byte) error) error {
	return b.becomePrimary(ctx, fn)
}

func (b *walBackend) TruncateBefore(lsn uint64) error {
	b.mu.Lock()
	w := b.w
	b.mu.Unlock()
	if w == nil {
		return ErrNotPrimary
	}
	_, err := w.TruncateBefore(lsn + 1)
	return err
}

func (b *walBackend) Epoch() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.w == nil {
		return 0
	}
	return b.w.Epoch()
}

// Close stops writing, then hands the lease back (a clean handover lets
// the peer take over without waiting for the lease to expire).
func (b *walBackend) Close() error {
	b.mu.Lock()
	w, t, stop, done := b.w, b.t, b.stopHB, b.hbDone
	b.w, b.t = nil, nil
	b.mu.Unlock()
	b.endWatch()
	var errs []error
	if t != nil {
		t.Close()
	}
	if w != nil {
		errs = append(errs, w.Close())
		stop()
		<-done
		if err := b.g.Release(context.Background()); err != nil && !errors.Is(err, guard.ErrNotHolding) {
			b.log.Warn("releasing the storage lease", "err", err)
		}
	}
	errs = append(errs, b.g.Close())
	return errors.Join(errs...)
}

// awaitServe is the lease's verdict for a read (guard.Guard.AwaitServe).
func (b *walBackend) awaitServe(ctx context.Context) error { return b.g.AwaitServe(ctx) }

// lost is closed when the lease ends (nil channel before it is held).
func (b *walBackend) lost() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.w == nil {
		return nil
	}
	return b.g.Lost()
}
