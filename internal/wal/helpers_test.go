package wal

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"sync"
	"testing"
	"time"
)

// fakeFence is a Fence whose answer the test sets.
type fakeFence struct {
	mu  sync.Mutex
	err error
	// hook, if set, runs inside StillOwner (between a batch's sync and its
	// check: the critical interleaving of a takeover).
	hook func()
}

func (f *fakeFence) StillOwner() error {
	f.mu.Lock()
	hook := f.hook
	f.hook = nil
	f.mu.Unlock()
	if hook != nil {
		hook()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

func (f *fakeFence) set(err error) { f.mu.Lock(); f.err = err; f.mu.Unlock() }

var errTestNotOwner = errors.New("test: not owner")

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func openP(t testing.TB, dir string, epoch uint64, f Fence, opt Options) *WAL {
	t.Helper()
	w, err := OpenPrimary(dir, epoch, f, opt)
	if err != nil {
		t.Fatalf("open epoch %d: %v", epoch, err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// payload makes a self-checking payload: id, length, content, CRC, so that
// a half-visible or mixed-up record is detected.
func payload(id uint64, size int) []byte {
	if size < 16 {
		size = 16
	}
	b := make([]byte, size)
	binary.LittleEndian.PutUint64(b, id)
	for i := 8; i < size-4; i++ {
		b[i] = byte(id*31 + uint64(i))
	}
	binary.LittleEndian.PutUint32(b[size-4:], crc32.ChecksumIEEE(b[:size-4]))
	return b
}

func checkPayload(b []byte) (uint64, error) {
	if len(b) < 16 {
		return 0, fmt.Errorf("payload of %d bytes", len(b))
	}
	if binary.LittleEndian.Uint32(b[len(b)-4:]) != crc32.ChecksumIEEE(b[:len(b)-4]) {
		return 0, fmt.Errorf("payload checksum mismatch")
	}
	return binary.LittleEndian.Uint64(b), nil
}

// replayIDs replays from `from` and returns ids by LSN, checking payloads and LSN order.
func replayIDs(t testing.TB, w *WAL, from uint64) (map[uint64]uint64, error) {
	t.Helper()
	ids := map[uint64]uint64{}
	last := uint64(0)
	err := w.Replay(from, func(lsn uint64, p []byte) error {
		if lsn <= last || lsn < from {
			return fmt.Errorf("LSN %d after %d (from %d)", lsn, last, from)
		}
		last = lsn
		id, err := checkPayload(p)
		if err != nil {
			return fmt.Errorf("LSN %d: %w", lsn, err)
		}
		ids[lsn] = id
		return nil
	})
	return ids, err
}
