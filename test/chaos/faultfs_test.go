package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// faultFS is one host's view of the shared directory: a FUSE passthrough
// (go-fuse's loopback) mounted at a per-host path, served by this test
// process, that can fail or slow down every operation of that host only.
//
// Both hosts run in one kernel, so they would otherwise see one
// filesystem: a per-host layer is the only way to hit one host's storage.
// Coherence between the two views (DESIGN.md needs pwrite+fdatasync on one
// host to be visible to a later pread on the other) comes from direct I/O
// on every open file and zero entry/attribute timeouts: every read goes to
// the underlying file. Locks are passed to the server (EnableLocks), which
// takes OFD locks on its own descriptors, so the guard's OFD lock on OWNER
// conflicts across the two views as on a cluster filesystem.
//
// Limits: the fault is in the FUSE layer, not the block layer — a cut
// fails (or blocks) system calls at once instead of after a device
// timeout, and the page cache below stays shared (data synced before the
// cut stays readable by the other host, as with real shared storage).
type faultFS struct {
	mountpoint string
	server     *fuse.Server

	mode  atomic.Int32 // fsOK, fsEIO, fsHang
	delay atomic.Int64 // extra latency of writes and syncs, ns

	mu     sync.Mutex
	healed chan struct{} // closed when a hang ends

	injected atomic.Int64 // operations failed or delayed
	lastBad  time.Time    // when the last fault ended (zero while faulted or never)
	faulted  bool

	// The test's cleanup and the signal handler may both unmount.
	unmountOnce sync.Once
	unmountErr  error
}

// faultedWithin reports whether a fault is active or ended less than d ago.
func (f *faultFS) faultedWithin(d time.Duration) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.faulted || (!f.lastBad.IsZero() && time.Since(f.lastBad) <= d)
}

const (
	fsOK int32 = iota
	fsEIO
	fsHang
)

func mountFaultFS(underlying, mountpoint string) (*faultFS, error) {
	if err := os.MkdirAll(mountpoint, 0o755); err != nil {
		return nil, err
	}
	root, err := fs.NewLoopbackRoot(underlying)
	if err != nil {
		return nil, err
	}
	ffs := &faultFS{mountpoint: mountpoint, healed: make(chan struct{})}
	zero := time.Duration(0)
	opts := &fs.Options{
		EntryTimeout:    &zero,
		AttrTimeout:     &zero,
		NegativeTimeout: &zero,
		MountOptions: fuse.MountOptions{
			FsName:        "milvus-ha-chaos",
			Name:          "chaos",
			EnableLocks:   true,
			DirectMount:   true,
			DisableXAttrs: true,
			MaxBackground: 64,
		},
	}
	srv, err := fs.Mount(mountpoint, &faultNode{LoopbackNode: root.(*fs.LoopbackNode), ffs: ffs}, opts)
	if err != nil {
		return nil, fmt.Errorf("fuse mount %s: %w", mountpoint, err)
	}
	ffs.server = srv
	if err := registerMount(ffs); err != nil {
		return nil, errors.Join(err, ffs.unmount())
	}
	return ffs, nil
}

// unmount heals any fault first (blocked requests must finish), then
// unmounts, lazily if a dead process still holds the mount busy. Calls
// after the first return its result.
func (f *faultFS) unmount() error {
	f.unmountOnce.Do(func() {
		f.set(fsOK, 0)
		if err := f.server.Unmount(); err != nil {
			if out, err2 := exec.Command("umount", "-l", f.mountpoint).CombinedOutput(); err2 != nil {
				f.unmountErr = fmt.Errorf("%v; umount -l: %v: %s", err, err2, out)
				return
			}
		}
		unregisterMount(f)
	})
	return f.unmountErr
}

// set changes the fault: fsOK heals, fsEIO fails every operation, fsHang
// blocks every operation until healed; delay slows writes and syncs.
func (f *faultFS) set(mode int32, delay time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	old := f.mode.Swap(mode)
	f.delay.Store(int64(delay))
	bad := mode != fsOK || delay > 0
	if f.faulted && !bad {
		f.lastBad = time.Now()
	}
	f.faulted = bad
	if old == fsHang && mode != fsHang {
		close(f.healed)
		f.healed = make(chan struct{})
	}
}

// check applies the current fault to one operation.
func (f *faultFS) check(ctx context.Context) syscall.Errno {
	switch f.mode.Load() {
	case fsEIO:
		f.injected.Add(1)
		return syscall.EIO
	case fsHang:
		f.injected.Add(1)
		f.mu.Lock()
		healed := f.healed
		f.mu.Unlock()
		select {
		case <-healed:
		case <-ctx.Done(): // the caller was killed
			return syscall.EINTR
		}
		return f.check(ctx)
	}
	return 0
}

// slow delays a write or sync while slow storage is injected.
func (f *faultFS) slow(ctx context.Context) syscall.Errno {
	if d := time.Duration(f.delay.Load()); d > 0 {
		f.injected.Add(1)
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return syscall.EINTR
		}
	}
	return f.check(ctx)
}

type faultNode struct {
	*fs.LoopbackNode
	ffs *faultFS
}

func (n *faultNode) WrapChild(ctx context.Context, ops fs.InodeEmbedder) fs.InodeEmbedder {
	return &faultNode{LoopbackNode: ops.(*fs.LoopbackNode), ffs: n.ffs}
}

func (n *faultNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if e := n.ffs.check(ctx); e != 0 {
		return nil, e
	}
	return n.LoopbackNode.Lookup(ctx, name, out)
}

func (n *faultNode) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	if e := n.ffs.check(ctx); e != 0 {
		return e
	}
	if ff, ok := f.(*faultFile); ok {
		f = ff.LoopbackFile
	}
	return n.LoopbackNode.Getattr(ctx, f, out)
}

func (n *faultNode) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if e := n.ffs.slow(ctx); e != 0 {
		return e
	}
	if ff, ok := f.(*faultFile); ok {
		f = ff.LoopbackFile
	}
	return n.LoopbackNode.Setattr(ctx, f, in, out)
}

func (n *faultNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if e := n.ffs.check(ctx); e != 0 {
		return nil, e
	}
	return n.LoopbackNode.Mkdir(ctx, name, mode, out)
}

func (n *faultNode) Unlink(ctx context.Context, name string) syscall.Errno {
	if e := n.ffs.check(ctx); e != 0 {
		return e
	}
	return n.LoopbackNode.Unlink(ctx, name)
}

func (n *faultNode) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if e := n.ffs.slow(ctx); e != 0 {
		return e
	}
	if p, ok := newParent.(*faultNode); ok {
		newParent = p.LoopbackNode
	}
	return n.LoopbackNode.Rename(ctx, name, newParent, newName, flags)
}

func (n *faultNode) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if e := n.ffs.slow(ctx); e != 0 {
		return nil, e
	}
	if t, ok := target.(*faultNode); ok {
		target = t.LoopbackNode
	}
	return n.LoopbackNode.Link(ctx, target, name, out)
}

func (n *faultNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	if e := n.ffs.check(ctx); e != 0 {
		return nil, e
	}
	return n.LoopbackNode.Readdir(ctx)
}

func (n *faultNode) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if e := n.ffs.check(ctx); e != 0 {
		return nil, 0, e
	}
	return n.LoopbackNode.OpendirHandle(ctx, flags)
}

// Fsync on a directory (no file handle): the WAL and checkpoints sync
// directories after publishing a file.
func (n *faultNode) Fsync(ctx context.Context, f fs.FileHandle, flags uint32) syscall.Errno {
	if e := n.ffs.slow(ctx); e != 0 {
		return e
	}
	if ff, ok := f.(*faultFile); ok {
		return ff.Fsync(ctx, flags)
	}
	if fy, ok := f.(fs.FileFsyncer); ok {
		return fy.Fsync(ctx, flags)
	}
	return 0
}

func (n *faultNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if e := n.ffs.check(ctx); e != 0 {
		return nil, 0, e
	}
	fh, fl, e := n.LoopbackNode.Open(ctx, flags)
	if e != 0 {
		return nil, 0, e
	}
	return &faultFile{LoopbackFile: fh.(*fs.LoopbackFile), ffs: n.ffs}, fl | fuse.FOPEN_DIRECT_IO, 0
}

func (n *faultNode) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	if e := n.ffs.slow(ctx); e != 0 {
		return nil, nil, 0, e
	}
	in, fh, fl, e := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	if e != 0 {
		return nil, nil, 0, e
	}
	return in, &faultFile{LoopbackFile: fh.(*fs.LoopbackFile), ffs: n.ffs}, fl | fuse.FOPEN_DIRECT_IO, 0
}

// faultFile is an open file of the host: reads and writes fail while the
// storage is cut; writes and syncs wait while it is slow.
type faultFile struct {
	*fs.LoopbackFile
	ffs *faultFS
}

func (f *faultFile) Read(ctx context.Context, buf []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if e := f.ffs.check(ctx); e != 0 {
		return nil, e
	}
	return f.LoopbackFile.Read(ctx, buf, off)
}

func (f *faultFile) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if e := f.ffs.slow(ctx); e != 0 {
		return 0, e
	}
	return f.LoopbackFile.Write(ctx, data, off)
}

func (f *faultFile) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	if e := f.ffs.slow(ctx); e != 0 {
		return e
	}
	return f.LoopbackFile.Fsync(ctx, flags)
}

func (f *faultFile) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	if e := f.ffs.check(ctx); e != 0 {
		return e
	}
	return f.LoopbackFile.Getattr(ctx, out)
}

func (f *faultFile) Allocate(ctx context.Context, off uint64, size uint64, mode uint32) syscall.Errno {
	if e := f.ffs.slow(ctx); e != 0 {
		return e
	}
	return f.LoopbackFile.Allocate(ctx, off, size, mode)
}
