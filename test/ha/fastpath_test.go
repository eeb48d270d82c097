package ha

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/netlab"
)

// keeperStatus is the part of /status these tests read beyond nodeStatus.
type keeperStatus struct {
	nodeStatus
	Hold   string `json:"hold"`
	Events []struct {
		Kind   string `json:"kind"`
		Detail string `json:"detail"`
	} `json:"events"`
	Peer struct {
		Ready bool   `json:"ready"`
		Why   string `json:"why"`
	} `json:"peer"`
}

func (cl *cluster) keeperStatus(h *netlab.Host) keeperStatus {
	cl.t.Helper()
	ctx, cancel := context.WithTimeout(cl.t.Context(), 3*time.Second)
	defer cancel()
	out, err := h.Run(ctx, binary, "status", "--api", apiAddr)
	if err != nil {
		cl.t.Fatalf("status of %s: %v", h.Name(), err)
	}
	var st keeperStatus
	if err := json.Unmarshal(out, &st); err != nil {
		cl.t.Fatalf("status of %s: %v: %s", h.Name(), err, out)
	}
	return st
}

// waitPeerReady waits until h sees a ready standby (its beacon moving).
func (cl *cluster) waitPeerReady(h *netlab.Host) {
	cl.t.Helper()
	waitFor(cl.t, 20*time.Second, h.Name()+" sees a ready standby", func() bool { return cl.keeperStatus(h).Peer.Ready })
}

// assertHandedOver checks that h left through the fast path: a handover
// event naming the failed check, and a hold that keeps it out.
func (cl *cluster) assertHandedOver(h *netlab.Host, check string) {
	cl.t.Helper()
	st := cl.keeperStatus(h)
	if st.Active {
		cl.t.Fatalf("%s still active: %+v", h.Name(), st.nodeStatus)
	}
	for _, e := range st.Events {
		if e.Kind == "handover" && strings.Contains(e.Detail, "check "+check) {
			cl.t.Logf("%s: %s; hold: %s", h.Name(), e.Detail, st.Hold)
			if !strings.Contains(st.Hold, "service failed here") {
				cl.t.Fatalf("%s not held out after its service failed: hold %q", h.Name(), st.Hold)
			}
			return
		}
	}
	cl.t.Fatalf("%s has no handover event for check %s: %+v", h.Name(), check, st.Events)
}

// The service crashes on the active host (kill -9 of the exec child): the
// keeper hands over at once instead of restarting it, because b is a
// ready standby; a stays out (no failback) while its hold lasts.
func TestExecServiceCrash(t *testing.T) {
	cl := newCluster(t)
	data := filepath.Join(cl.dir, "data")
	for _, h := range []*netlab.Host{cl.a, cl.b} {
		conf := cl.execConfig(h, data, "")
		cl.startConfig(h, conf)
		if h == cl.a {
			cl.waitActive(cl.a, 30*time.Second)
		}
	}
	c := cl.client()
	createCollection(t, c)
	w, stopWriter := startWriter(t, c)
	w.waitProgress(t, 20, 20*time.Second)
	cl.waitPeerReady(cl.a)

	child := cl.servicePID(cl.a)
	t.Logf("fault: kill -9 of the service (pid %d) on a", child)
	must(t, syscall.Kill(child, syscall.SIGKILL))
	cl.waitActive(cl.b, 20*time.Second)
	w.waitProgress(t, 20, 20*time.Second)
	cl.assertHandedOver(cl.a, "service")

	stopWriter()
	acked, fails := w.snapshot()
	t.Logf("total: %d acknowledged, %d failed attempts", len(acked), fails)
	checkAcked(t, c, acked)
}

// The embedded API stops answering on the active host (its own loopback
// CheckHealth is rejected by a firewall rule inside a's namespace; clients
// reach the VIP on eth0 and are not affected): the keeper's service check
// fails and a hands over to b at once.
func TestEmbeddedAPIFailure(t *testing.T) {
	cl := newCluster(t)
	cl.start(cl.a)
	cl.waitActive(cl.a, 20*time.Second)
	cl.start(cl.b)
	c := cl.client()
	createCollection(t, c)
	w, stopWriter := startWriter(t, c)
	w.waitProgress(t, 20, 20*time.Second)
	cl.waitPeerReady(cl.a)

	t.Log("fault: a's own API check rejected")
	rule := []string{"INPUT", "-i", "lo", "-p", "tcp", "--dport", "19530", "-j", "REJECT", "--reject-with", "tcp-reset"}
	if out, err := cl.a.Run(t.Context(), "iptables", append([]string{"-I"}, rule...)...); err != nil {
		t.Fatalf("iptables: %v: %s", err, out)
	}
	t.Cleanup(func() { _, _ = cl.a.Run(context.Background(), "iptables", append([]string{"-D"}, rule...)...) })
	cl.waitActive(cl.b, 20*time.Second)
	w.waitProgress(t, 20, 20*time.Second)
	cl.assertHandedOver(cl.a, "service")

	stopWriter()
	acked, fails := w.snapshot()
	t.Logf("total: %d acknowledged, %d failed attempts", len(acked), fails)
	checkAcked(t, c, acked)
}
