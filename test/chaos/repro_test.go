package chaos

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/milvus-io/milvus/client/v2/milvusclient"
	"github.com/milvus-io/milvus/pkg/v2/util/merr"
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

// Bug 4 (fixed): a primary frozen past its lease (SIGSTOP, a VM freeze)
// answered, once resumed, the reads queued on its sockets from its old
// state, although the peer had taken over and acknowledged newer writes
// meanwhile: a stale read. The suite's clients could not show it (they
// talk to the VIP, and the peer's gratuitous ARP moves them before it
// acknowledges anything), so this reproducer, and the pause fault since,
// also read straight from the frozen host's own address. Now a store that
// cannot prove its lease refuses reads (vectordb.ErrLeaseUnproven, Milvus
// code 2) from the first instant after it resumes (guard.ServeCheck).
//
// Whether the queued reads are answered at all is a race with the keeper
// stopping its API once it sees the lease lost (before the fix about two
// rounds in three showed stale reads), so the test runs three rounds.
func TestReproStaleReadAfterPause(t *testing.T) {
	cl := startPair(t, false)
	ctx := t.Context()
	c, err := newClient(ctx, cl.client)
	must(t, err)
	defer c.Close(context.Background())
	must(t, createCollection(ctx, c))
	const key = 1
	put := func(v string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			wctx, cancel := context.WithTimeout(ctx, opTimeout)
			_, err := c.Upsert(wctx, milvusclient.NewColumnBasedInsertOption(coll).
				WithInt64Column("id", []int64{key}).
				WithVarcharColumn("val", []string{v}).
				WithFloatVectorColumn("vec", dim, [][]float32{make([]float32, dim)}), noRetry)
			cancel()
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("upsert %q: %v", v, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	const rounds, reads = 3, 16
	answered, refused := 0, 0
	for round := range rounds {
		active, standby := settled(t, cl, 60*time.Second)
		old, fresh := fmt.Sprintf("old-%d", round), fmt.Sprintf("new-%d", round)
		put(old)
		direct, err := newClientAt(ctx, cl.client, active.h.Addr().Addr().String()+":19530", 30*time.Second)
		must(t, err)
		if v, err := read(ctx, direct, opGet, key); err != nil || v != old {
			t.Fatalf("round %d: read from %s before the pause: %q, %v", round, active.name, v, err)
		}
		if !cl.freeze(active) {
			t.Fatalf("round %d: %s is not running", round, active.name)
		}
		waitActive(t, cl, standby, 60*time.Second)
		put(fresh) // acknowledged by the peer, through the VIP
		// Reads sent to the frozen host: its kernel queues them, its
		// process answers them after SIGCONT.
		type answer struct {
			v   string
			err error
		}
		answers := make(chan answer, reads)
		for i := range reads {
			kind := []opKind{opGet, opQuery}[i%2]
			go func() {
				rctx, cancel := context.WithTimeout(ctx, 3*opTimeout)
				defer cancel()
				v, err := read(rctx, direct, kind, key)
				answers <- answer{v, err}
			}()
		}
		time.Sleep(300 * time.Millisecond)
		cl.thaw(active)
		for range reads {
			r := <-answers
			switch {
			case r.err == nil:
				answered++
				if r.v != fresh {
					t.Errorf("round %d: stale read: %s answered %q after %s had acknowledged %q", round, active.name, r.v, standby.name, fresh)
				}
			case merr.Code(r.err) == 2:
				refused++
			}
		}
		direct.Close(context.Background())
	}
	t.Logf("%d reads sent to a frozen primary: %d answered, %d refused as unproven, the others cut by the API's stop", rounds*reads, answered, refused)
}

// settled waits until one keeper is active and the other a ready standby.
func settled(t *testing.T, cl *cluster, within time.Duration) (active, standby *node) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		var sts [2]nodeStatus
		var errs [2]error
		for i, n := range cl.nodes {
			sts[i], errs[i] = cl.status(t.Context(), n)
		}
		for i := range cl.nodes {
			j := 1 - i
			if errs[i] == nil && errs[j] == nil && sts[i].Active && sts[j].Role == "standby" && sts[j].State == "BACKUP" {
				return cl.nodes[i], cl.nodes[j]
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("the pair did not settle (one active, one ready standby) within %v", within)
	return nil, nil
}
