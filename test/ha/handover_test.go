package ha

import (
	"fmt"
	"testing"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/netlab"
)

// slowStopConfig is h's config with an exec service that takes about
// three seconds to stop after SIGTERM, like a server flushing on shutdown.
func (cl *cluster) slowStopConfig(h *netlab.Host) keeperConfig {
	return keeperConfig{
		kind:    "slowstop",
		dataDir: cl.data[h],
		service: execService("", "sh", "-c", "trap 'sleep 3; exit 0' TERM; while :; do sleep 1 & wait $!; done"),
	}
}

// Preemption while the old master's service takes seconds to stop: the
// node that yields must keep its VRRP loop running meanwhile, so it reports
// BACKUP behind the new master while its service is still stopping.
//
// Regression: the speaker called the keeper's gate on its loop, so a node
// stopping its service read no adverts and sent none (it looked like a
// backup that never hears the master: "master down timer expired: no
// advertisement received", gate refused "peer alive on storage"), then
// acted on a backlog of stale adverts.
func TestHandoverKeepsVRRPRunning(t *testing.T) {
	cl := newCluster(t)
	cl.configure(cl.slowStopConfig)
	cl.start(cl.b)
	cl.waitActive(cl.b, 20*time.Second)

	a := cl.a.Addr().Addr().String()
	for round := range 2 {
		cl.start(cl.a) // priority 150, preempts b
		stopping, heard := 0, 0
		var last string
		deadline := time.Now().Add(30 * time.Second)
		for {
			sb, errB := cl.status(cl.b)
			sa, errA := cl.status(cl.a)
			if errB == nil && sb.stopping() {
				stopping++
				if sb.State == "BACKUP" && sb.Master == a {
					heard++
				}
			}
			last = fmt.Sprintf("a: state %s active %v %v; b: state %s role %s master %s %v",
				sa.State, sa.Active, errA, sb.State, sb.Role, sb.Master, errB)
			if errA == nil && sa.Active && errB == nil && sb.Role == "standby" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: handover to a not done within 30 s (last: %s)", round, last)
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("round %d: b seen stopping %d times, %d of them BACKUP behind a", round, stopping, heard)
		if stopping < 2 {
			t.Fatalf("round %d: b's 3 s service stop was seen only %d times", round, stopping)
		}
		if heard == 0 {
			t.Fatalf("round %d: b never reported BACKUP behind a while stopping its service (VRRP loop blocked by the gate)", round)
		}
		// a leaves (SIGTERM: priority 0, its service stops); b takes over.
		must(t, cl.procs[cl.a].Stop())
		cl.waitActive(cl.b, 30*time.Second)
	}
}
