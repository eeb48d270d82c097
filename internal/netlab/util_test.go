package netlab

import (
	"testing"
	"time"
)

// waitInNamespace waits until `ip netns exec` has moved pid into ns.
func waitInNamespace(t *testing.T, pid int, ns string) {
	t.Helper()
	for !inNamespaceNow(pid, ns) {
		if !running(pid) {
			t.Fatalf("pid %d exited before entering %s", pid, ns)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
