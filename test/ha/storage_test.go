package ha

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/milvus-ha/milvus-ha/internal/netlab"
)

// Storage lost on one host only. Each host reaches the shared directory
// through its own FUSE mount (a loopback of the same directory, served by
// this test process, with direct I/O so that no page cache hides the other
// host's writes, as NFS with actimeo=0 would). The fault aborts the active
// host's FUSE connection through fusectl: every access through that mount,
// including on descriptors already open, fails from then on (ENOTCONN),
// while the other host's mount keeps working. A per-host bind mount would
// not do: unmounting it leaves open descriptors working.

// directNode is a loopback node whose files are opened with direct I/O.
type directNode struct{ fs.LoopbackNode }

func (n *directNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, fl, errno := n.LoopbackNode.Open(ctx, flags)
	return fh, fl | fuse.FOPEN_DIRECT_IO, errno
}

func (n *directNode) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	ino, fh, fl, errno := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	return ino, fh, fl | fuse.FOPEN_DIRECT_IO, errno
}

// hostMount is one host's view of the shared directory.
type hostMount struct {
	dir  string
	conn string // fusectl connection directory
}

// mountShared mounts a loopback of shared at dir for one host.
func mountShared(t *testing.T, shared, dir, fusectl string) *hostMount {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(shared, &st); err != nil {
		t.Fatal(err)
	}
	rd := &fs.LoopbackRoot{Path: shared, Dev: st.Dev}
	//lint:ignore SA1019 the deprecated hook is one line here; NodeWrapChilder would need a wrapper type for a test-only loopback
	rd.NewNode = func(r *fs.LoopbackRoot, _ *fs.Inode, _ string, _ *syscall.Stat_t) fs.InodeEmbedder {
		return &directNode{fs.LoopbackNode{RootData: r}}
	}
	//lint:ignore SA1019 see above
	root := rd.NewNode(rd, nil, "", &st)
	rd.RootNode = root
	zero := time.Duration(0)
	srv, err := fs.Mount(dir, root, &fs.Options{
		MountOptions:    fuse.MountOptions{DirectMount: true, AllowOther: true, FsName: "mha-shared", Name: "mhaloop"},
		AttrTimeout:     &zero,
		EntryTimeout:    &zero,
		NegativeTimeout: &zero,
	})
	if err != nil {
		t.Fatalf("FUSE mount at %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := srv.Unmount(); err != nil {
			_ = unix.Unmount(dir, unix.MNT_DETACH)
		}
	})
	if err := syscall.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	return &hostMount{dir: dir, conn: filepath.Join(fusectl, fmt.Sprint(unix.Minor(st.Dev)))}
}

// abort cuts the host off its storage.
func (m *hostMount) abort(t *testing.T) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(m.conn, "abort"), []byte("1"), 0o200); err != nil {
		t.Fatalf("aborting the FUSE connection: %v", err)
	}
	if _, err := os.Stat(filepath.Join(m.dir, "OWNER")); err == nil {
		t.Fatal("storage still reachable after the abort")
	}
}

// mountFusectl mounts the FUSE control filesystem in the test's directory.
func mountFusectl(t *testing.T, dir string) string {
	t.Helper()
	if _, err := exec.LookPath("fusermount"); err != nil {
		if _, err := os.Stat("/dev/fuse"); err != nil {
			t.Skip("needs FUSE: no /dev/fuse")
		}
	}
	p := filepath.Join(dir, "fusectl")
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("fusectl", p, "fusectl", 0, ""); err != nil {
		t.Fatalf("mount fusectl: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(p, unix.MNT_DETACH) })
	return p
}

// The active host loses the shared storage: it steps down (its lease runs
// out, the VIP goes), b takes over, and every acknowledged write is there.
func TestStorageLoss(t *testing.T) {
	for _, kind := range []string{"embedded", "exec"} {
		t.Run(kind, func(t *testing.T) {
			cl := newCluster(t)
			ctl := mountFusectl(t, cl.dir)
			mounts := map[*netlab.Host]*hostMount{}
			for _, h := range []*netlab.Host{cl.a, cl.b} {
				mounts[h] = mountShared(t, cl.data[h], filepath.Join(cl.dir, "mnt-"+h.Name()), ctl)
				cl.data[h] = mounts[h].dir
			}
			if kind == "exec" {
				cl.configure(cl.execConfig)
			} else {
				cl.configure(cl.embeddedConfig)
			}
			l := cl.failoverFromA(func() {
				t.Log("fault: a loses the shared storage")
				mounts[cl.a].abort(t)
			})
			if st := cl.keeperStatus(cl.a); st.Active {
				t.Fatalf("a still active without storage: %+v", st.nodeStatus)
			}
			l.finish()
		})
	}
}
