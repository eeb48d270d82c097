package ha

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/milvus-ha/milvus-ha/internal/netlab"
)

// Keepers protecting a systemd unit each: the unit runs `milvus-ha serve`
// inside its lab host's network namespace (NetworkNamespacePath=, systemd
// 242 and later), both on the shared directory. The keeper drives it over
// D-Bus (internal/service's systemd driver: StartUnit, StopUnit,
// ActiveState); the test sets up and inspects through systemctl.
//
// The units are runtime unit files in /run/systemd/system, named after
// the lab and removed at the end. A transient unit (StartTransientUnit)
// would need no file, but systemd unloads it once it stops, and the
// keeper must be able to start its unit again after every stop.

// needSystemd skips the test, with the reason, where systemd is not the
// system manager (the check of sd_booted(3)) or too old for
// NetworkNamespacePath=.
func needSystemd(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		comm, _ := os.ReadFile("/proc/1/comm")
		t.Skipf("needs systemd: PID 1 is %q, not systemd (/run/systemd/system absent)", strings.TrimSpace(string(comm)))
	}
	v := mustRun(t, "systemctl", "show", "--property", "Version", "--value")
	major, _, _ := strings.Cut(v, ".")
	if n, err := strconv.Atoi(major); err != nil || n < 242 {
		t.Skipf("needs systemd 242 or later for NetworkNamespacePath=: the manager is %q", v)
	}
}

// systemdServers is the unit of each lab host.
type systemdServers map[*netlab.Host]string

// newSystemdServers writes each host's unit (not started: the keeper
// starts it) and configures the keepers to protect them.
func (cl *cluster) newSystemdServers() systemdServers {
	t := cl.t
	t.Helper()
	s := systemdServers{}
	for _, h := range []*netlab.Host{cl.a, cl.b} {
		unit := h.NetNS() + ".service"
		path := filepath.Join("/run/systemd/system", unit)
		text := fmt.Sprintf(`[Unit]
Description=milvus-ha test/ha server of lab host %s

[Service]
ExecStart=%s
NetworkNamespacePath=/run/netns/%s
KillMode=control-group
`, h.Name(), strings.Join(quoted(serveCommand(h, filepath.Join(cl.data[h], "db"))), " "), h.NetNS())
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		// Before the lab closes (cleanups run last-registered first).
		t.Cleanup(func() {
			ctx := context.Background()
			if _, err := runTool(ctx, "systemctl", "stop", unit); err != nil {
				t.Errorf("%v", err)
			}
			_, _ = runTool(ctx, "systemctl", "reset-failed", unit)
			if err := os.Remove(path); err != nil {
				t.Error(err)
			}
			if _, err := runTool(ctx, "systemctl", "daemon-reload"); err != nil {
				t.Errorf("%v", err)
			}
		})
		s[h] = unit
	}
	mustRun(t, "systemctl", "daemon-reload")
	cl.configure(func(h *netlab.Host) keeperConfig {
		return keeperConfig{kind: "systemd", dataDir: cl.data[h],
			service: fmt.Sprintf("  systemd: {unit: %s, address: %q}", s[h], serviceAddr)}
	})
	return s
}

func (s systemdServers) startStray(t *testing.T, h *netlab.Host) {
	mustRun(t, "systemctl", "start", s[h])
}

func (s systemdServers) pid(t *testing.T, h *netlab.Host) int {
	t.Helper()
	out := mustRun(t, "systemctl", "show", "--property", "MainPID", "--value", s[h])
	pid, err := strconv.Atoi(out)
	if err != nil {
		t.Fatalf("main pid of %s: %q: %v", s[h], out, err)
	}
	return pid
}

// The systemd driver through the keeper (managedFailover). Skips where
// systemd is not the system manager.
func TestSystemdFailover(t *testing.T) {
	needSystemd(t)
	cl := newCluster(t)
	cl.managedFailover(cl.newSystemdServers())
}
