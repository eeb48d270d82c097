package chaos

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestFaultFS checks the storage layer the suite relies on: two per-host
// views of one directory stay coherent (a synced write in one is read at
// once in the other), OFD locks conflict across views, and a cut or hang
// hits one view only.
func TestFaultFS(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: FUSE mounts")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("needs /dev/fuse: %v", err)
	}
	dir := t.TempDir()
	shared := filepath.Join(dir, "shared")
	must(t, os.Mkdir(shared, 0o755))
	var views [2]*faultFS
	for i, name := range []string{"a", "b"} {
		f, err := mountFaultFS(shared, filepath.Join(dir, name))
		must(t, err)
		t.Cleanup(func() { must(t, f.unmount()) })
		views[i] = f
	}
	a, b := views[0], views[1]
	fa, err := os.OpenFile(filepath.Join(a.mountpoint, "OWNER"), os.O_CREATE|os.O_RDWR, 0o644)
	must(t, err)
	defer fa.Close()
	fb, err := os.OpenFile(filepath.Join(b.mountpoint, "OWNER"), os.O_RDWR, 0)
	must(t, err)
	defer fb.Close()

	// Coherence: overwrite in place on a, read on b's open descriptor.
	for _, v := range []string{"epoch-1", "epoch-2"} {
		_, err := fa.WriteAt([]byte(v), 0)
		must(t, err)
		must(t, fa.Sync())
		got := make([]byte, len(v))
		_, err = fb.ReadAt(got, 0)
		must(t, err)
		if string(got) != v {
			t.Fatalf("b reads %q after a synced %q", got, v)
		}
	}

	// OFD locks conflict across the views.
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	must(t, unix.FcntlFlock(fa.Fd(), unix.F_OFD_SETLK, &lk))
	lkb := lk
	if err := unix.FcntlFlock(fb.Fd(), unix.F_OFD_SETLK, &lkb); !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EACCES) {
		t.Fatalf("second OFD lock through the other view: %v, want EAGAIN", err)
	}
	lk.Type = unix.F_UNLCK
	must(t, unix.FcntlFlock(fa.Fd(), unix.F_OFD_SETLK, &lk))

	// A cut fails a's operations, b is unaffected.
	a.set(fsEIO, 0)
	if _, err := fa.WriteAt([]byte("x"), 0); !errors.Is(err, syscall.EIO) {
		t.Fatalf("write during the cut: %v, want EIO", err)
	}
	if _, err := os.Stat(filepath.Join(a.mountpoint, "OWNER")); !errors.Is(err, syscall.EIO) {
		t.Fatalf("stat during the cut: %v, want EIO", err)
	}
	_, err = fb.WriteAt([]byte("epoch-3"), 0)
	must(t, err)
	must(t, fb.Sync())
	a.set(fsOK, 0)
	got := make([]byte, 7)
	_, err = fa.ReadAt(got, 0)
	must(t, err)
	if string(got) != "epoch-3" {
		t.Fatalf("a reads %q after healing, want epoch-3", got)
	}

	// A hang blocks a's sync until healed; slow storage delays it.
	a.set(fsHang, 0)
	done := make(chan error, 1)
	go func() { done <- fa.Sync() }()
	select {
	case err := <-done:
		t.Fatalf("sync returned during a hang: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	a.set(fsOK, 0)
	must(t, <-done)
	a.set(fsOK, 200*time.Millisecond)
	start := time.Now()
	must(t, fa.Sync())
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("slow sync took %v, want at least the injected 200ms", d)
	}
	a.set(fsOK, 0)
}
