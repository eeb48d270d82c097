package chaos

import (
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Reproducers of the bugs the suite found (table in doc.go). Every bug
// listed there is fixed, and its reproducer runs always.

// holdsVIP reports whether n's eth0 carries the VIP, read inside n.
func holdsVIP(t *testing.T, n *node) bool {
	t.Helper()
	var has bool
	err := n.h.Do(func() error {
		link, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		addrs, err := netlink.AddrList(link, unix.AF_INET)
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap() == netip.MustParseAddr(vip) {
				has = true
			}
		}
		return nil
	})
	must(t, err)
	return has
}

// startPair starts a (preferred) until it is active, then b.
func startPair(t *testing.T, storage bool) *cluster {
	cl := newCluster(t, t.TempDir(), storage)
	a, b := cl.nodes[0], cl.nodes[1]
	must(t, cl.startNode(a))
	waitActive(t, cl, a, 60*time.Second)
	must(t, cl.startNode(b))
	waitStandby(t, cl, b, 60*time.Second)
	return cl
}

func waitStandby(t *testing.T, cl *cluster, n *node, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if st, err := cl.status(t.Context(), n); err == nil && st.Role == "standby" && st.State == "BACKUP" {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s not a ready standby within %v", n.name, within)
}

// Bug 1 (fixed): a keeper restarted after a crash kept the VIP its
// predecessor left on the interface until its store had opened. The
// speaker removed leftover VIPs when it started, but keeper.New opened the
// store (storage I/O) before that; with hung or slow storage the host kept
// answering ARP for the VIP while the peer had taken over. Now speaker.New
// removes them, and the keeper builds the speaker before the service.
func TestReproLeftoverVIPWhileStorageHangs(t *testing.T) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("needs /dev/fuse: %v", err)
	}
	cl := startPair(t, true)
	a, b := cl.nodes[0], cl.nodes[1]
	cl.killNode(a) // kill -9: nobody removes the VIP
	if !holdsVIP(t, a) {
		t.Fatal("the VIP is gone from a after kill -9; the reproducer's premise does not hold")
	}
	a.fs.set(fsHang, 0)
	must(t, cl.startNode(a))
	waitActive(t, cl, b, 60*time.Second)
	// The restarted keeper had all this time (a lease and more) to remove
	// the leftover address.
	if holdsVIP(t, a) && holdsVIP(t, b) {
		t.Fatal("both hosts hold the VIP: the restarted keeper on a did not remove the address its crashed predecessor left, because its storage hangs")
	}
	a.fs.set(fsOK, 0)
}

// Bug 3 (fixed): a keeper started while its storage fails exits (status
// 1, as designed: a supervisor restarts it) but named the wrong failure:
// "mkdir <data_dir>: file exists" instead of the I/O error. The stat of
// the data directory (the mount root) failed with EIO, MkdirAll then tried
// mkdir, which failed with EEXIST, and that is what got reported. Now
// vectordb.Open reports a failed stat as it is (its unit test,
// TestOpenNamesStatFailure, gets the same pair of errors from a symlink
// loop).
func TestReproStartOnFailingStorageNamesEIO(t *testing.T) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("needs /dev/fuse: %v", err)
	}
	cl := newCluster(t, t.TempDir(), true)
	a := cl.nodes[0]
	a.fs.set(fsEIO, 0)
	must(t, cl.startNode(a))
	a.mu.Lock()
	p := a.proc
	a.mu.Unlock()
	select {
	case <-p.Done():
	case <-time.After(60 * time.Second):
		t.Fatal("the keeper did not exit on failing storage")
	}
	a.fs.set(fsOK, 0)
	last := lastLine(a.logPath)
	if !strings.Contains(last, "input/output error") {
		t.Fatalf("the keeper's last words do not name the I/O error%s", last)
	}
}
