package chaos

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// What a SIGINT or SIGTERM of the test binary must undo. Test cleanups
// (t.Cleanup) do not run when the process is stopped by a signal, so
// without this a Ctrl-C left keepers running in the lab namespaces, the
// namespaces themselves (netlab.Sweep removes them only at the next run)
// and FUSE mounts whose server was gone (every access to them fails with
// ENOTCONN until someone runs umount -l).
var live struct {
	sync.Mutex
	clusters map[*cluster]bool
	mounts   map[*faultFS]bool
	// down is set by the signal handler: nothing registers any more.
	down bool
}

// errShuttingDown refuses new keepers and mounts once the handler runs.
var errShuttingDown = errors.New("chaos: the test binary is shutting down on a signal")

func registerCluster(cl *cluster) error {
	live.Lock()
	defer live.Unlock()
	if live.down {
		return errShuttingDown
	}
	if live.clusters == nil {
		live.clusters = map[*cluster]bool{}
	}
	live.clusters[cl] = true
	return nil
}

func unregisterCluster(cl *cluster) {
	live.Lock()
	defer live.Unlock()
	delete(live.clusters, cl)
}

func registerMount(f *faultFS) error {
	live.Lock()
	defer live.Unlock()
	if live.down {
		return errShuttingDown
	}
	if live.mounts == nil {
		live.mounts = map[*faultFS]bool{}
	}
	live.mounts[f] = true
	return nil
}

func unregisterMount(f *faultFS) {
	live.Lock()
	defer live.Unlock()
	delete(live.mounts, f)
}

// handleSignals tears everything down on SIGINT or SIGTERM, runs also (the
// binary's own files), and dies of the signal. The returned function stops
// handling.
func handleSignals(also func()) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			start := time.Now()
			fmt.Fprintf(os.Stderr, "chaos: %v: stopping keepers, unmounting storage layers, removing namespaces\n", sig)
			for _, err := range teardownAll() {
				fmt.Fprintf(os.Stderr, "chaos: cleanup: %v\n", err)
			}
			also()
			fmt.Fprintf(os.Stderr, "chaos: cleaned up in %v\n", time.Since(start).Round(time.Millisecond))
			// Die of the signal, as without a handler.
			signal.Reset(sig)
			_ = syscall.Kill(os.Getpid(), sig.(syscall.Signal))
			time.Sleep(time.Second)
			os.Exit(1)
		case <-done:
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}

// teardownAll undoes every live cluster and mount, in the order the test
// cleanups would: keepers first (storage faults healed, so none blocks
// on the way out), then the labs, then the mounts, then the run
// directories (unless -chaos.keep).
func teardownAll() []error {
	live.Lock()
	live.down = true
	clusters := make([]*cluster, 0, len(live.clusters))
	for cl := range live.clusters {
		clusters = append(clusters, cl)
	}
	mounts := make([]*faultFS, 0, len(live.mounts))
	for f := range live.mounts {
		mounts = append(mounts, f)
	}
	live.Unlock()
	var errs []error
	for _, cl := range clusters {
		errs = append(errs, cl.teardown()...)
	}
	for _, f := range mounts {
		if err := f.unmount(); err != nil {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", f.mountpoint, err))
		}
	}
	if !*flagKeep {
		for _, cl := range clusters {
			if err := os.RemoveAll(cl.dir); err != nil {
				errs = append(errs, err)
			}
			_ = os.Remove(filepath.Dir(cl.dir)) // t.TempDir's parent, if now empty
		}
	}
	return errs
}

// teardown stops cl's keepers and deletes its namespaces; no keeper starts
// any more (startNode refuses).
func (cl *cluster) teardown() []error {
	cl.closing.Store(true)
	for _, n := range cl.nodes {
		if n.fs != nil {
			n.fs.set(fsOK, 0)
		}
	}
	cl.stopAll()
	var errs []error
	if err := cl.lab.Close(); err != nil {
		errs = append(errs, fmt.Errorf("closing the lab: %w", err))
	}
	return errs
}

// TestSignalTeardown runs what a SIGINT or SIGTERM triggers (without a
// signal: the binary must not die here) on a cluster with a running keeper
// on its storage layer, and checks that nothing is left: no keeper
// process, no namespace, no FUSE mount, no run directory.
func TestSignalTeardown(t *testing.T) {
	storage := true
	if _, err := os.Stat("/dev/fuse"); err != nil {
		storage = false
	}
	cl := newCluster(t, t.TempDir(), storage)
	t.Cleanup(func() {
		live.Lock()
		live.down = false
		live.Unlock()
	})
	a := cl.nodes[0]
	must(t, cl.startNode(a))
	waitActive(t, cl, a, 60*time.Second)
	a.mu.Lock()
	p := a.proc
	a.mu.Unlock()

	if errs := teardownAll(); len(errs) > 0 {
		t.Errorf("teardown: %v", errs)
	}
	select {
	case <-p.Done():
	default:
		t.Errorf("keeper %d still running", p.PID())
	}
	if err := cl.startNode(a); !errors.Is(err, errShuttingDown) {
		t.Errorf("a keeper started after the teardown: %v", err)
	}
	for _, h := range cl.lab.Hosts() {
		if _, err := os.Stat(filepath.Join("/run/netns", h.NetNS())); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("namespace %s left: %v", h.NetNS(), err)
		}
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	must(t, err)
	if strings.Contains(string(mounts), cl.dir) {
		t.Errorf("a mount under %s is left:\n%s", cl.dir, mounts)
	}
	if _, err := os.Stat(cl.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("run directory left: %v", err)
	}
}
