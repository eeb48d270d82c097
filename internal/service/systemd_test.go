package service

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/prop"
)

// systemd does not run here (PID 1 is not systemd), so these tests put a
// fake org.freedesktop.systemd1 on a private dbus-daemon. The driver and
// go-systemd speak real D-Bus to it: method names, arguments, the
// JobRemoved signal and the Properties interface are exercised on the
// wire. TestSystemdReal runs against systemd itself where it is PID 1.

const (
	sdManagerPath = dbus.ObjectPath("/org/freedesktop/systemd1")
	sdUnitIface   = "org.freedesktop.systemd1.Unit"
	sdSvcIface    = "org.freedesktop.systemd1.Service"
)

// fakeUnit scripts what the fake systemd does with a unit's jobs.
type fakeUnit struct {
	startResult, stopResult string // JobRemoved result; "" means never finish
	afterStart, afterStop   string // ActiveState once the job ran
	killMode                string
	props                   *prop.Properties
}

type fakeSystemd struct {
	conn  *dbus.Conn
	mu    sync.Mutex
	calls []string
	units map[string]*fakeUnit
	job   uint32
}

// fakeManager is exported on the bus; its methods are the D-Bus methods.
type fakeManager struct{ f *fakeSystemd }

func (m fakeManager) StartUnit(name, mode string) (dbus.ObjectPath, *dbus.Error) {
	return m.f.runJob("StartUnit", name, mode)
}

func (m fakeManager) StopUnit(name, mode string) (dbus.ObjectPath, *dbus.Error) {
	return m.f.runJob("StopUnit", name, mode)
}

func (f *fakeSystemd) runJob(method, name, mode string) (dbus.ObjectPath, *dbus.Error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, method+" "+name+" "+mode)
	u := f.units[name]
	if u == nil || u.killMode == "" {
		return "", &dbus.Error{Name: "org.freedesktop.systemd1.NoSuchUnit", Body: []any{"Unit " + name + " not found."}}
	}
	f.job++
	id := f.job
	job := dbus.ObjectPath(fmt.Sprintf("/org/freedesktop/systemd1/job/%d", id))
	result, state := u.startResult, u.afterStart
	if method == "StopUnit" {
		result, state = u.stopResult, u.afterStop
	}
	u.props.SetMust(sdUnitIface, "ActiveState", state)
	pid := uint32(0)
	if state == "active" {
		pid = 4242
	}
	u.props.SetMust(sdSvcIface, "MainPID", pid)
	if result != "" {
		// As systemd does: the reply first, the signal when the job ends.
		go f.conn.Emit(sdManagerPath, "org.freedesktop.systemd1.Manager.JobRemoved", id, job, name, result)
	}
	return job, nil
}

func (f *fakeSystemd) setState(unit, state string) {
	f.units[unit].props.SetMust(sdUnitIface, "ActiveState", state)
}

func (f *fakeSystemd) callLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// dialBus opens an authenticated connection to the private bus.
func dialBus(ctx context.Context, addr string) (*dbus.Conn, error) {
	c, err := dbus.Dial(addr, dbus.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	if err := c.Auth([]dbus.Auth{dbus.AuthExternal(strconv.Itoa(os.Getuid()))}); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.Hello(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// startFakeSystemd runs a private dbus-daemon with a fake systemd on it
// and returns the fake and a Connect function for SystemdConfig.
func startFakeSystemd(t *testing.T, units map[string]*fakeUnit) (*fakeSystemd, func(context.Context) (*sdbus.Conn, error)) {
	t.Helper()
	daemon, err := exec.LookPath("dbus-daemon")
	if err != nil {
		t.Skip("needs dbus-daemon (package dbus-daemon): not in PATH")
	}
	dir := t.TempDir()
	addr := "unix:path=" + filepath.Join(dir, "bus")
	cmd := exec.Command(daemon, "--session", "--nofork", "--nopidfile", "--address="+addr, "--print-address")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	// stderr stays closed: the daemon's warnings (fd limits in a
	// container) are noise here.
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// The daemon prints its address once it listens.
	if !bufio.NewScanner(out).Scan() {
		t.Fatal("dbus-daemon printed no address")
	}
	ctx := testCtx(t)
	conn, err := dialBus(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	f := &fakeSystemd{conn: conn, units: units}
	if err := conn.Export(fakeManager{f}, sdManagerPath, "org.freedesktop.systemd1.Manager"); err != nil {
		t.Fatal(err)
	}
	for name, u := range units {
		load := "loaded"
		if u.killMode == "" {
			load = "not-found" // what systemd reports for a unit it has no file for
		}
		p, err := prop.Export(conn, dbus.ObjectPath("/org/freedesktop/systemd1/unit/"+sdbus.PathBusEscape(name)), prop.Map{
			sdUnitIface: {
				"LoadState":   {Value: load},
				"ActiveState": {Value: "inactive"},
				"SubState":    {Value: "dead"},
			},
			sdSvcIface: {
				"KillMode": {Value: u.killMode},
				"MainPID":  {Value: uint32(0)},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		u.props = p
	}
	reply, err := conn.RequestName("org.freedesktop.systemd1", dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own org.freedesktop.systemd1: %v, %v", reply, err)
	}
	connect := func(ctx context.Context) (*sdbus.Conn, error) {
		return sdbus.NewConnection(func() (*dbus.Conn, error) { return dialBus(ctx, addr) })
	}
	return f, connect
}

func newTestSystemd(t *testing.T, unit string, connect func(context.Context) (*sdbus.Conn, error), log *slog.Logger) *Systemd {
	t.Helper()
	d, err := NewSystemd(SystemdConfig{Unit: unit, Connect: connect, Poll: 5 * time.Millisecond, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

func TestSystemdStartStop(t *testing.T) {
	f, connect := startFakeSystemd(t, map[string]*fakeUnit{
		"milvus.service": {startResult: "done", afterStart: "active", stopResult: "done", afterStop: "inactive", killMode: "control-group"},
	})
	ctx := testCtx(t)
	d := newTestSystemd(t, "milvus.service", connect, nil)
	if d.Name() != "systemd:milvus.service" {
		t.Errorf("Name() = %q", d.Name())
	}
	if st, err := d.Status(ctx); err != nil || st.State != StateStopped {
		t.Fatalf("initial status: %v, %v", st, err)
	}
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := d.Status(ctx)
	if err != nil || st.State != StateRunning || st.PID != 4242 {
		t.Fatalf("after Start: %+v, %v", st, err)
	}
	if err := d.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err := d.Status(ctx); err != nil || st.State != StateStopped {
		t.Fatalf("after Stop: %v, %v", st, err)
	}
	// A dropped connection is re-opened.
	d.Close()
	if _, err := d.Status(ctx); err != nil {
		t.Fatalf("after reconnect: %v", err)
	}
	want := []string{"StartUnit milvus.service replace", "StopUnit milvus.service replace"}
	if got := f.callLog(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("D-Bus calls = %q, want %q", got, want)
	}
}

func TestSystemdFailures(t *testing.T) {
	f, connect := startFakeSystemd(t, map[string]*fakeUnit{
		"fails.service":    {startResult: "failed", afterStart: "failed", killMode: "control-group"},
		"lingers.service":  {stopResult: "done", afterStop: "deactivating", killMode: "control-group"},
		"hangs.service":    {afterStart: "activating", killMode: "control-group"},
		"exits.service":    {startResult: "done", afterStart: "inactive", killMode: "control-group"},
		"missing.service":  {},
		"slow.service":     {startResult: "done", afterStart: "activating", killMode: "control-group"},
		"process.service":  {startResult: "done", afterStart: "active", killMode: "process"},
		"stopfail.service": {stopResult: "timeout", afterStop: "failed", killMode: "control-group"},
	})
	ctx := testCtx(t)

	t.Run("start job failed", func(t *testing.T) {
		err := newTestSystemd(t, "fails.service", connect, nil).Start(ctx)
		if err == nil || !strings.Contains(err.Error(), "start job: failed") || !strings.Contains(err.Error(), "unit is failed") {
			t.Fatalf("Start = %v", err)
		}
	})
	t.Run("start done but unit not active", func(t *testing.T) {
		err := newTestSystemd(t, "exits.service", connect, nil).Start(ctx)
		if err == nil || !strings.Contains(err.Error(), "unit is inactive") {
			t.Fatalf("Start = %v", err)
		}
	})
	t.Run("stop leaves the unit deactivating", func(t *testing.T) {
		err := newTestSystemd(t, "lingers.service", connect, nil).Stop(ctx)
		if err == nil || !strings.Contains(err.Error(), "still deactivating") {
			t.Fatalf("Stop = %v; a unit still deactivating is not certainly stopped", err)
		}
	})
	t.Run("stop job timed out", func(t *testing.T) {
		err := newTestSystemd(t, "stopfail.service", connect, nil).Stop(ctx)
		if err == nil || !strings.Contains(err.Error(), "stop job: timeout") {
			t.Fatalf("Stop = %v", err)
		}
	})
	t.Run("job never finishes", func(t *testing.T) {
		short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		err := newTestSystemd(t, "hangs.service", connect, nil).Start(short)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "start job not finished") {
			t.Fatalf("Start = %v", err)
		}
	})
	t.Run("activating until active", func(t *testing.T) {
		d := newTestSystemd(t, "slow.service", connect, nil)
		res := make(chan error, 1)
		go func() { res <- d.Start(ctx) }()
		// Start polls while the unit is activating; it must not return yet.
		select {
		case err := <-res:
			t.Fatalf("Start returned while activating: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
		f.setState("slow.service", "active")
		if err := <-res; err != nil {
			t.Fatal(err)
		}
	})
	t.Run("missing unit", func(t *testing.T) {
		d := newTestSystemd(t, "missing.service", connect, nil)
		if _, err := d.Status(ctx); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Status = %v", err)
		}
		if err := d.Start(ctx); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Start = %v", err)
		}
		if was, err := EnsureStopped(ctx, d); was || err != nil {
			t.Fatalf("EnsureStopped = %v, %v", was, err)
		}
	})
	t.Run("KillMode=process warns", func(t *testing.T) {
		h := &logCapture{}
		d := newTestSystemd(t, "process.service", connect, slog.New(h))
		if err := d.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if !h.has("KillMode=process") {
			t.Fatalf("no KillMode warning in %q", h.lines)
		}
	})
}

// Start waits for Ready after the unit is active (a Type=simple unit is
// active before its server answers), fails with Ready's last error when
// ctx ends first, and fails at once when the unit dies meanwhile.
func TestSystemdStartWaitsReady(t *testing.T) {
	f, connect := startFakeSystemd(t, map[string]*fakeUnit{
		"milvus.service": {startResult: "done", afterStart: "active", stopResult: "done", afterStop: "inactive", killMode: "control-group"},
	})
	ctx := testCtx(t)
	var ready atomic.Bool
	d, err := NewSystemd(SystemdConfig{Unit: "milvus.service", Connect: connect, Poll: 5 * time.Millisecond,
		Ready: func(context.Context) error {
			if !ready.Load() {
				return errors.New("connection refused")
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)

	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	err = d.Start(short)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "not ready: connection refused") {
		t.Fatalf("Start with Ready failing = %v", err)
	}

	res := make(chan error, 1)
	go func() { res <- d.Start(ctx) }()
	select {
	case err := <-res:
		t.Fatalf("Start returned before Ready passed: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	ready.Store(true)
	if err := <-res; err != nil {
		t.Fatal(err)
	}

	ready.Store(false)
	go func() { res <- d.Start(ctx) }()
	time.Sleep(50 * time.Millisecond)
	f.setState("milvus.service", "failed")
	if err := <-res; err == nil || !strings.Contains(err.Error(), "unit is failed") {
		t.Fatalf("Start while the unit failed = %v", err)
	}
}

func TestNewSystemdRejects(t *testing.T) {
	for _, unit := range []string{"", "milvus", "a/b.service", "a b.service"} {
		if _, err := NewSystemd(SystemdConfig{Unit: unit}); err == nil {
			t.Errorf("NewSystemd(%q) accepted", unit)
		}
	}
}

// TestSystemdReal drives a transient unit file through the real systemd.
func TestSystemdReal(t *testing.T) {
	comm, err := os.ReadFile("/proc/1/comm")
	if err != nil || strings.TrimSpace(string(comm)) != "systemd" {
		t.Skipf("needs systemd as PID 1: PID 1 is %q", strings.TrimSpace(string(comm)))
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: writes a unit to /run/systemd/system")
	}
	ctx := testCtx(t)
	unit := "milvus-ha-svctest-" + runID() + ".service"
	path := filepath.Join("/run/systemd/system", unit)
	if err := os.WriteFile(path, []byte("[Service]\nExecStart=/bin/sleep 1000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := sdbus.NewSystemConnectionContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	reload := func() {
		if err := c.ReloadContext(ctx); err != nil {
			t.Fatal(err)
		}
	}
	reload()
	t.Cleanup(func() {
		ch := make(chan string, 1)
		c.StopUnitContext(context.Background(), unit, "replace", ch)
		os.Remove(path)
		c.ReloadContext(context.Background())
	})
	d := newTestSystemd(t, unit, nil, nil)
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := d.Status(ctx)
	if err != nil || st.State != StateRunning || st.PID == 0 || !alive(st.PID) {
		t.Fatalf("after Start: %+v, %v", st, err)
	}
	if err := d.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if alive(st.PID) {
		t.Fatalf("main pid %d alive after Stop", st.PID)
	}
	if st, err := d.Status(ctx); err != nil || st.State != StateStopped {
		t.Fatalf("after Stop: %v, %v", st, err)
	}
}
