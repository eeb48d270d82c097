package vectordb

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestOpenNamesStatFailure: a data directory whose stat fails with another
// error than ENOENT, while a mkdir of it fails with EEXIST, is reported
// with the stat's error. A keeper started on a storage mount failing with
// EIO met exactly this (chaos bug 3: the mount root exists, its stat
// fails); a symlink loop gives the same pair of errors without FUSE.
func TestOpenNamesStatFailure(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Symlink("data", dir); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), dir, Options{NodeID: "a", Timing: testTiming})
	if !errors.Is(err, syscall.ELOOP) || errors.Is(err, os.ErrExist) {
		t.Fatalf("Open on a data directory whose stat fails with ELOOP: %v; want the ELOOP, not mkdir's EEXIST", err)
	}
}
