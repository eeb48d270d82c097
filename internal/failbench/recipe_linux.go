package failbench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"

	"github.com/milvus-ha/milvus-ha/internal/netlab"
)

// recipeRig is the recipe rebuilt in a lab: keepalived on a (MASTER, 110,
// check script) and b (BACKUP, 91, notify scripts), `milvus-ha serve`
// running on a from the start and cold-started on b by notify_master.
type recipeRig struct {
	*rigLab
	o      *Options
	files  recipeFiles
	ka     map[*netlab.Host]*netlab.Process // keepalived
	serveA *netlab.Process                  // a's server, started "by hand"
	client *client
}

// The server's storage lease in the recipe rig: 2 s, long enough that the
// stand-in does not fence itself on a loaded machine (which would fail the
// master over by itself). It adds nothing to the baseline: the recipe
// moves the VIP ≥ 2.8 s after a fault, by which time a dead server's lease
// has expired.
var recipeServeArgs = []string{"--listen", ":" + milvusPort, "--health-listen", ":9091", "--lease-timeout", "2s", "--heartbeat", "200ms"}

// execServeArgs are the exec pair's child server flags: its own store
// lease is the keepers' (normal preset at advert 100 ms).
var execServeArgs = []string{"--listen", ":" + milvusPort, "--health-listen", ":9091", "--lease-timeout", "500ms", "--heartbeat", "100ms"}

func newRecipe(ctx context.Context, o *Options) (_ *recipeRig, err error) {
	rl, err := newRigLab(ctx, "recipe")
	if err != nil {
		return nil, err
	}
	r := &recipeRig{rigLab: rl, o: o, ka: map[*netlab.Host]*netlab.Process{}}
	defer func() {
		if err != nil {
			r.keep = true
			r.close()
			err = fmt.Errorf("%w (logs in %s)", err, r.dir)
		}
	}()
	r.files = recipeFiles{dir: r.dir, binary: o.Binary, data: r.data, vip: vip, serveArgs: recipeServeArgs}
	for name, text := range map[string]string{
		"chk_milvus.sh":  r.files.checkScript(),
		"start_serve.sh": r.files.startScript(),
		"stop_serve.sh":  r.files.stopScript(),
	} {
		if err := os.WriteFile(r.files.script(name), []byte(text), 0o755); err != nil {
			return r, err
		}
	}
	if err := os.WriteFile(r.files.confPath("a"), []byte(r.files.masterConf()), 0o644); err != nil {
		return r, err
	}
	if err := os.WriteFile(r.files.confPath("b"), []byte(r.files.backupConf()), 0o644); err != nil {
		return r, err
	}
	r.client = newClient(r.c, vip.String()+":"+milvusPort, o.DialTimeout)
	if err := r.reset(ctx); err != nil {
		return r, err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := r.client.retry(cctx, 5*time.Second, func(ctx context.Context) error {
		return r.client.createCollection(ctx, workloadColl, workloadDim)
	}); err != nil {
		return r, err
	}
	return r, nil
}

func (r *recipeRig) close() {
	if r.client != nil {
		r.client.close()
	}
	r.rigLab.close()
}

func (r *recipeRig) startKeepalived(h *netlab.Host) error {
	logf, err := os.OpenFile(filepath.Join(r.dir, h.Name()+"-keepalived.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := h.Command(r.o.Keepalived, "-n", "-l", "-D", "-G", "--vrrp", "-f", r.files.confPath(h.Name()),
		"-p", filepath.Join(r.dir, h.Name()+"-keepalived.pid"), "-r", filepath.Join(r.dir, h.Name()+"-vrrp.pid"))
	cmd.Stdout, cmd.Stderr = logf, logf
	p, err := h.Start(cmd)
	if err != nil {
		return err
	}
	r.ka[h] = p
	return nil
}

// startServeA starts a's server as the recipe's operator does, by hand.
func (r *recipeRig) startServeA() error {
	logf, err := os.OpenFile(r.files.logPath("a"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	args := append([]string{"serve", "--data", r.data, "--node-id", "a"}, recipeServeArgs...)
	cmd := r.a.Command(r.o.Binary, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	p, err := r.a.Start(cmd)
	if err != nil {
		return err
	}
	r.serveA = p
	return os.WriteFile(r.files.pidPath("a"), []byte(strconv.Itoa(p.PID())+"\n"), 0o644)
}

// stopServeB stops, by the PID its notify script recorded, a server the
// backup's notify_master started.
func (r *recipeRig) stopServeB() {
	b, err := os.ReadFile(r.files.pidPath("b"))
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 500 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	os.Remove(r.files.pidPath("b"))
}

// reset puts the rig back to the recipe's starting point: everything
// stopped, a's server started by hand, then keepalived on both hosts; it
// waits until a holds the VIP and the client is served.
func (r *recipeRig) reset(ctx context.Context) error {
	for _, h := range []*netlab.Host{r.a, r.b} {
		if p := r.ka[h]; p != nil {
			_ = p.Stop()
			delete(r.ka, h)
		}
	}
	r.stopServeB()
	if r.serveA != nil {
		_ = r.serveA.Stop()
		r.serveA = nil
	}
	for _, h := range []*netlab.Host{r.a, r.b} {
		if err := r.dropVIP(h); err != nil {
			return err
		}
	}
	if err := r.a.LinkUp(); err != nil {
		return err
	}
	if err := r.startServeA(); err != nil {
		return err
	}
	for _, h := range []*netlab.Host{r.a, r.b} {
		if err := r.startKeepalived(h); err != nil {
			return err
		}
	}
	// Stable means: a alone holds the VIP for a whole Master_Down_Interval
	// plus a check-script interval (b would have taken over by then if a's
	// check were still failing from the start).
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	var since time.Time
	for {
		ha, err1 := r.holds(r.a)
		hb, err2 := r.holds(r.b)
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		switch {
		case !ha || hb:
			since = time.Time{}
		case since.IsZero():
			since = time.Now()
		case time.Since(since) > 6*time.Second:
			return r.client.retry(wctx, time.Second, func(ctx context.Context) error {
				s, err := r.client.svc()
				if err != nil {
					return err
				}
				_, err = s.GetVersion(ctx, &milvuspb.GetVersionRequest{})
				return err
			})
		}
		if err := sleep(wctx, 20*time.Millisecond); err != nil {
			return fmt.Errorf("failbench: recipe: a does not hold the VIP alone (a %v, b %v): %w", ha, hb, err)
		}
	}
}

// lastServeLine is the last line of b's server log, for notes.
func (r *recipeRig) lastServeLine() string {
	b, err := os.ReadFile(r.files.logPath("b"))
	if err != nil {
		return "b's server never started"
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return string(lines[len(lines)-1])
}
