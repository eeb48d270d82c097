package ha

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/netlab"
)

// waitPeerReady waits until h sees a ready standby (its beacon moving).
func (cl *cluster) waitPeerReady(h *netlab.Host) {
	cl.t.Helper()
	waitFor(cl.t, 20*time.Second, h.Name()+" sees a ready standby", func() bool { return cl.keeperStatus(h).Peer.Ready })
}

// failoverFromA starts the pair with a writer through the VIP, waits
// until a, active, sees b as a ready standby, applies fault to a, and
// waits until b is active and writes go on.
func (cl *cluster) failoverFromA(fault func()) *load {
	cl.t.Helper()
	cl.startPair()
	l := cl.startLoad()
	cl.waitPeerReady(cl.a)
	fault()
	cl.waitActive(cl.b, 30*time.Second)
	l.w.waitProgress(cl.t, 20, 30*time.Second)
	return l
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
	cl.configure(cl.execConfig)
	l := cl.failoverFromA(func() {
		child := cl.servicePID(cl.a)
		t.Logf("fault: kill -9 of the service (pid %d) on a", child)
		must(t, syscall.Kill(child, syscall.SIGKILL))
	})
	cl.assertHandedOver(cl.a, "service")
	l.finish()
}

// The embedded API stops answering on the active host (its own loopback
// CheckHealth is rejected by a firewall rule inside a's namespace; clients
// reach the VIP on eth0 and are not affected): the keeper's service check
// fails and a hands over to b at once.
func TestEmbeddedAPIFailure(t *testing.T) {
	cl := newCluster(t)
	cl.configure(cl.embeddedConfig)
	l := cl.failoverFromA(func() {
		t.Log("fault: a's own API check rejected")
		rule := []string{"INPUT", "-i", "lo", "-p", "tcp", "--dport", "19530", "-j", "REJECT", "--reject-with", "tcp-reset"}
		if out, err := cl.a.Run(t.Context(), "iptables", append([]string{"-I"}, rule...)...); err != nil {
			t.Fatalf("iptables: %v: %s", err, out)
		}
		t.Cleanup(func() { _, _ = cl.a.Run(context.Background(), "iptables", append([]string{"-D"}, rule...)...) })
	})
	cl.assertHandedOver(cl.a, "service")
	l.finish()
}
