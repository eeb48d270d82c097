package netlab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Host is one lab namespace with eth0 attached to the lab's bridge.
type Host struct {
	lab     *Lab
	name    string
	addr    netip.Prefix
	mac     net.HardwareAddr
	port    string // bridge-side veth name, in the switch namespace
	ns      netns.NsHandle
	nl      *netlink.Handle
	ifindex int
	ll      netip.Addr

	mu    sync.Mutex
	procs map[int]*Process
}

// Name is the host's name given to AddHost.
func (h *Host) Name() string { return h.name }

// Addr is eth0's address.
func (h *Host) Addr() netip.Prefix { return h.addr }

// MAC is eth0's hardware address (02:00 + the four IPv4 address bytes).
func (h *Host) MAC() net.HardwareAddr { return append(net.HardwareAddr(nil), h.mac...) }

// Ifname is the host's lab interface name, always "eth0".
func (h *Host) Ifname() string { return "eth0" }

// LinkLocal is eth0's IPv6 link-local address, without a zone (inside the
// host, name the zone by index: Go caches zone names process-wide, across
// namespaces); the zero Addr when the lab has no IPv6.
func (h *Host) LinkLocal() netip.Addr { return h.ll }

// NetNS is the name of the host's network namespace (for `ip netns exec`).
func (h *Host) NetNS() string { return h.lab.prefix + "-" + h.name }

// Do runs fn with its OS thread inside the host's network namespace, so
// sockets and netlink handles fn opens belong to the host. fn runs on a
// dedicated goroutine: goroutines it starts are NOT in the namespace
// (sockets already opened stay in it). Panics and t.FailNow propagate.
func (h *Host) Do(fn func() error) error { return inNamespace(h.ns, fn) }

// Command returns an unstarted command that runs name inside the host's
// namespace via `ip netns exec` (which execs, so the PID is the program's),
// in its own process group. Start it with Host.Start to have it tracked and
// stopped by Close; short commands may use Run/Output directly.
func (h *Host) Command(name string, args ...string) *exec.Cmd {
	return h.CommandContext(context.Background(), name, args...)
}

// CommandContext is Command with a context that kills the process (by PID)
// when done.
func (h *Host) CommandContext(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.NetNS(), name}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// Run runs a short command inside the host to completion and returns its
// combined output; a failure's error includes the output.
func (h *Host) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	var buf bytes.Buffer
	cmd := h.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return buf.Bytes(), fmt.Errorf("netlab: %s: %s %s: %w: %s", h.name, name,
			strings.Join(args, " "), err, strings.TrimSpace(buf.String()))
	}
	return buf.Bytes(), nil
}

// Process is a tracked process started in a host.
type Process struct {
	host  *Host
	cmd   *exec.Cmd
	grace time.Duration
	done  chan struct{}
	err   error // Wait's result, valid after done is closed
}

// Start starts cmd (normally from Command) and tracks it: Lab.Close stops
// it if it is still running.
func (h *Host) Start(cmd *exec.Cmd) (*Process, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("netlab: %s: start %s: %w", h.name, cmd.Path, err)
	}
	p := &Process{host: h, cmd: cmd, grace: h.lab.opts.StopGrace, done: make(chan struct{})}
	h.mu.Lock()
	h.procs[p.PID()] = p
	h.mu.Unlock()
	go func() {
		p.err = cmd.Wait()
		h.mu.Lock()
		delete(h.procs, p.PID())
		h.mu.Unlock()
		close(p.done)
	}()
	// `ip netns exec` enters the namespace just after fork; wait for it so
	// that, once Start returns, the process is visibly inside the host.
	for i := 0; i < 200 && !inNamespaceNow(p.PID(), h.NetNS()); i++ {
		select {
		case <-p.done:
			i = 200
		case <-time.After(5 * time.Millisecond):
		}
	}
	h.lab.log.Debug("process started", "host", h.name, "pid", p.PID(), "args", cmd.Args)
	return p, nil
}

// PID is the process ID.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait waits for the process to exit and returns its exit error.
func (p *Process) Wait() error {
	<-p.done
	return p.err
}

// Signal sends sig to the process (not its group).
func (p *Process) Signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return os.ErrProcessDone
	default:
	}
	if err := syscall.Kill(p.PID(), sig); err != nil {
		return fmt.Errorf("netlab: signal %v to pid %d: %w", sig, p.PID(), err)
	}
	return nil
}

// Stop sends SIGTERM, waits up to the lab's StopGrace, then SIGKILLs the
// process group. It returns once the process has exited; the exit status
// (normally "signal: terminated") is not reported as an error.
func (p *Process) Stop() error {
	if err := p.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-p.done:
		p.killGroup() // children the leader left behind
		return nil
	case <-time.After(p.grace):
	}
	return p.Kill()
}

// Kill SIGKILLs the process group at once (a crash: nothing is cleaned up)
// and waits for the leader to exit.
func (p *Process) Kill() error {
	p.killGroup()
	<-p.done
	return nil
}

func (p *Process) killGroup() {
	_ = syscall.Kill(-p.PID(), syscall.SIGKILL) // ESRCH: group already gone
}

// stopAll stops every tracked process of the host concurrently.
func (h *Host) stopAll() {
	h.mu.Lock()
	procs := make([]*Process, 0, len(h.procs))
	for _, p := range h.procs {
		procs = append(procs, p)
	}
	h.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Go(func() { _ = p.Stop() })
	}
	wg.Wait()
}

func (h *Host) close() error {
	if h.nl != nil {
		h.nl.Close()
	}
	if h.ns.IsOpen() {
		h.ns.Close()
	}
	return removeNamespace(h.NetNS())
}

// killNamespacePids SIGKILLs, by PID, every process whose network namespace
// is the named one (what `ip netns pids` lists), except ourselves.
// It waits (up to 5 s) for them to be gone so their links go with the
// namespace.
func killNamespacePids(name string) {
	var pids []int
	for _, pid := range namespacePids(name) {
		if pid != os.Getpid() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			pids = append(pids, pid)
		}
	}
	for _, pid := range pids {
		for i := 0; i < 500 && running(pid); i++ {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// running reports whether pid exists and is not a zombie (a killed child
// of ours stays a zombie until its Wait goroutine reaps it).
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// inNamespaceNow reports whether pid's network namespace is the named one.
func inNamespaceNow(pid int, name string) bool {
	var st syscall.Stat_t
	if err := syscall.Stat("/run/netns/"+name, &st); err != nil {
		return false
	}
	link, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/net")
	return err == nil && link == "net:["+strconv.FormatUint(st.Ino, 10)+"]"
}

func namespacePids(name string) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil && inNamespaceNow(pid, name) {
			pids = append(pids, pid)
		}
	}
	return pids
}
