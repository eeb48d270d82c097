package failbench

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/keeper"
	"github.com/milvus-ha/milvus-ha/internal/netlab"
)

// Keeper settings of the milvus-ha pair: the defaults.
const (
	advert  = 100 * time.Millisecond
	apiAddr = "127.0.0.1:9700"
)

// pair is the milvus-ha rig: two keepers (a preferred, priority 150 with
// preempt; b 100) on one shared directory, the client on c. With exec the
// protected service is `milvus-ha serve` as each keeper's child (cold
// start on takeover, as in the recipe) instead of the embedded store.
type pair struct {
	*rigLab
	o      *Options
	exec   bool
	procs  map[*netlab.Host]*netlab.Process
	http   map[*netlab.Host]*http.Client
	client *client
}

func newPair(ctx context.Context, o *Options, exec bool) (_ *pair, err error) {
	name := "ha"
	if exec {
		name = "exec"
	}
	rl, err := newRigLab(ctx, name)
	if err != nil {
		return nil, err
	}
	p := &pair{rigLab: rl, o: o, exec: exec, procs: map[*netlab.Host]*netlab.Process{}, http: map[*netlab.Host]*http.Client{}}
	defer func() {
		if err != nil {
			p.keep = true
			p.close()
			err = fmt.Errorf("%w (logs in %s)", err, p.dir)
		}
	}()
	for _, h := range []*netlab.Host{p.a, p.b} {
		p.http[h] = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				var c net.Conn
				err := h.Do(func() error {
					var err error
					c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
					return err
				})
				return c, err
			},
		}}
	}
	p.client = newClient(p.c, vip.String()+":"+milvusPort, o.DialTimeout)
	if err := p.start(p.a); err != nil {
		return p, err
	}
	if err := p.waitActive(ctx, p.a, 30*time.Second); err != nil {
		return p, err
	}
	if err := p.start(p.b); err != nil {
		return p, err
	}
	if err := p.waitReady(ctx, p.a, 30*time.Second); err != nil {
		return p, err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := p.client.createCollection(cctx, workloadColl, workloadDim); err != nil {
		return p, err
	}
	return p, nil
}

func (p *pair) close() {
	if p.client != nil {
		p.client.close()
	}
	p.rigLab.close()
}

func (p *pair) config(h *netlab.Host) (string, error) {
	prio := 150
	if h == p.b {
		prio = 100
	}
	path := filepath.Join(p.dir, h.Name()+".yaml")
	service := fmt.Sprintf(`  embedded: {listen: ":%s", health_listen: ":9091"}`, milvusPort)
	if p.exec {
		args := append([]string{p.o.Binary, "serve", "--data", filepath.Join(p.data, "db"), "--node-id", h.Name()}, execServeArgs...)
		service = fmt.Sprintf("  exec:\n    command: [%s]\n    address: \"127.0.0.1:%s\"", quoteList(args), milvusPort)
	}
	// The exec pair runs without preemption unless asked: see execRep.
	text := fmt.Sprintf(`node: %s
interface: eth0
vip: %v/24
vrid: 51
priority: %d
advert_interval: %v
preempt: %v
data_dir: %s
service:
%s
api: {listen: "%s"}
`, h.Name(), vip, prio, advert, !p.exec || p.o.ExecPreempt, p.data, service, apiAddr)
	return path, os.WriteFile(path, []byte(text), 0o644)
}

// start runs a keeper in h (its log appended to <dir>/<host>.log).
func (p *pair) start(h *netlab.Host) error {
	conf, err := p.config(h)
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(p.dir, h.Name()+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close() // the child has its own descriptor
	cmd := h.Command(p.o.Binary, "run", "--config", conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	proc, err := h.Start(cmd)
	if err != nil {
		return err
	}
	p.procs[h] = proc
	return nil
}

// status asks h's keeper for its status.
func (p *pair) status(ctx context.Context, h *netlab.Host) (keeper.Status, error) {
	var st keeper.Status
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+apiAddr+"/status", nil)
	if err != nil {
		return st, err
	}
	resp, err := p.http[h].Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("failbench: status of %s: %w", h.Name(), err)
	}
	return st, nil
}

// control runs `milvus-ha <verb>` in h, as an operator would.
func (p *pair) control(ctx context.Context, h *netlab.Host, verb string) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := h.Run(cctx, p.o.Binary, verb, "--api", apiAddr)
	return err
}

func (p *pair) other(h *netlab.Host) *netlab.Host {
	if h == p.a {
		return p.b
	}
	return p.a
}

// waitActive waits until h's keeper reports itself active and MASTER.
func (p *pair) waitActive(ctx context.Context, h *netlab.Host, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var last string
	for {
		st, err := p.status(ctx, h)
		if err == nil && st.Active && st.State == "MASTER" {
			return nil
		}
		last = fmt.Sprintf("state %s active %v role %s blocked %q err %v", st.State, st.Active, st.Role, st.Blocked, err)
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			return fmt.Errorf("failbench: %s not active (last: %s): %w", h.Name(), last, err)
		}
	}
}

// waitReady waits until h is active, the other keeper is not, and h sees
// the other as a ready standby (its beacon on the shared storage).
func (p *pair) waitReady(ctx context.Context, h *netlab.Host, within time.Duration) error {
	if err := p.waitActive(ctx, h, within); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for {
		ok, last := p.readyNow(ctx, h)
		if ok {
			return nil
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return fmt.Errorf("failbench: %s not a ready standby (last: %s): %w", p.other(h).Name(), last, err)
		}
	}
}

// readyNow says whether h is active and sees the other keeper as a ready
// standby, and if not, what the two said.
func (p *pair) readyNow(ctx context.Context, h *netlab.Host) (bool, string) {
	o := p.other(h)
	st, err := p.status(ctx, o)
	hs, herr := p.status(ctx, h)
	// After a switchover the node is held out (FAULT) until resume.
	if err == nil && herr == nil && !st.Active && (p.exec || st.Role == "standby") && hs.Active && hs.Peer.Ready {
		return true, ""
	}
	return false, fmt.Sprintf("%s: state %s role %s blocked %q err %v; %s: active %v, sees peer ready %v (%s) err %v",
		o.Name(), st.State, st.Role, st.Blocked, err, h.Name(), hs.Active, hs.Peer.Ready, hs.Peer.Why, herr)
}

// waitEitherReady waits until one keeper is active and sees the other as
// a ready standby.
func (p *pair) waitEitherReady(ctx context.Context, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var last string
	for {
		for _, h := range []*netlab.Host{p.a, p.b} {
			var ok bool
			if ok, last = p.readyNow(ctx, h); ok {
				return nil
			}
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return fmt.Errorf("failbench: no active keeper with a ready standby (last: %s): %w", last, err)
		}
	}
}

var promoteRE = regexp.MustCompile(`serving in (\S+)$`)

// promoteAfter returns the first promote event of h's keeper after t0:
// when it finished, how long it took, and how often h's gate refused to
// take over before it (peer alive on storage, ...).
func (p *pair) promoteAfter(ctx context.Context, h *netlab.Host, t0 time.Time) (at time.Time, took time.Duration, refused int, ok bool) {
	st, err := p.status(ctx, h)
	if err != nil {
		return at, 0, 0, false
	}
	for _, ev := range st.Events {
		if !ev.At.After(t0) {
			continue
		}
		if ev.Kind == "refused" {
			refused++
		}
		if ev.Kind != "promote" {
			continue
		}
		m := promoteRE.FindStringSubmatch(ev.Detail)
		if m == nil {
			continue
		}
		d, err := time.ParseDuration(m[1])
		if err != nil {
			continue
		}
		return ev.At, d, refused, true
	}
	return at, 0, refused, false
}

// leaseFreedAfter returns when h's keeper first released the lease after
// t0: during a planned handover (its "handover" event says how long after
// the handover began), or else when it finished stepping down ("demote":
// VIP gone, service stopped, lease released).
func (p *pair) leaseFreedAfter(ctx context.Context, h *netlab.Host, t0 time.Time) (time.Time, bool) {
	st, err := p.status(ctx, h)
	if err != nil {
		return time.Time{}, false
	}
	for _, ev := range st.Events {
		if !ev.At.After(t0) {
			continue
		}
		if ev.Kind == "demote" {
			return ev.At, true
		}
		if m := handoverRE.FindStringSubmatch(ev.Detail); ev.Kind == "handover" && m != nil {
			took, err1 := time.ParseDuration(m[1])
			freed, err2 := time.ParseDuration(m[2])
			if err1 == nil && err2 == nil {
				return ev.At.Add(freed - took), true
			}
		}
	}
	return time.Time{}, false
}

var handoverRE = regexp.MustCompile(`in (\S+) \(lease released after (\S+)\)$`)

// keeperPID is the PID of h's running keeper.
func (p *pair) keeperPID(h *netlab.Host) int { return p.procs[h].PID() }

// servicePID is the PID of the exec service under h's keeper.
func (p *pair) servicePID(ctx context.Context, h *netlab.Host) (int, error) {
	for {
		if c := children(p.keeperPID(h)); len(c) == 1 {
			return c[0], nil
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return 0, fmt.Errorf("failbench: no single service child under the keeper on %s: %w", h.Name(), err)
		}
	}
}

// storeOpened finds, in h's keeper log, the store's first "log open for
// writing" line after t0 (logged by its successful promote attempt once the
// lease was taken and the previous epoch sealed): its time and the
// seal_and_tail it reports. Earlier attempts that met a live lease log
// nothing, so promote time without the lease wait is the keeper's promote
// event time − this line's time + seal_and_tail.
func (p *pair) storeOpened(h *netlab.Host, t0 time.Time) (at time.Time, sealTail time.Duration, ok bool) {
	b, err := os.ReadFile(filepath.Join(p.dir, h.Name()+".log"))
	if err != nil {
		return at, 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		m := openedRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		t, err1 := time.Parse(time.RFC3339Nano, m[1])
		d, err2 := time.ParseDuration(m[2])
		if err1 == nil && err2 == nil && t.After(t0) {
			return t, d, true
		}
	}
	return at, 0, false
}

var openedRE = regexp.MustCompile(`^time=(\S+) .*msg="log open for writing".* seal_and_tail=(\S+)`)

func quoteList(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = strconv.Quote(a)
	}
	return strings.Join(q, ", ")
}
