package keeper

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/docker/docker/client"

	"github.com/milvus-ha/milvus-ha/internal/config"
	"github.com/milvus-ha/milvus-ha/internal/health"
	"github.com/milvus-ha/milvus-ha/internal/service"
)

// serviceCheckName is the keeper's own check of the protected service.
const serviceCheckName = "service"

// CheckStatus is one check as /status shows it.
type CheckStatus struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Scope  string `json:"scope"`
	Weight int    `json:"weight"`
	State  string `json:"state"` // unknown, ok, failed
	// Running is false for a service check on a node that is not active.
	Running  bool      `json:"running"`
	Detail   string    `json:"detail,omitempty"`
	Since    time.Time `json:"since,omitzero"`
	Failures uint64    `json:"failures"`
}

// checkDef is one check the keeper runs: a configured one or its own
// service check.
type checkDef struct {
	cfg    config.Check
	check  health.Check
	status CheckStatus
	state  health.State
}

func (c *checkDef) service() bool { return c.cfg.Scope == config.ScopeService }

// checkFunc adapts a function to health.Check.
type checkFunc func(ctx context.Context) error

func (f checkFunc) Run(ctx context.Context) error { return f(ctx) }

// buildChecks turns the configured checks into runnable ones and adds the
// keeper's own service check.
func (k *Keeper) buildChecks() ([]*checkDef, error) {
	var defs []*checkDef
	var docker client.ContainerAPIClient
	for _, c := range k.cfg.Keeper.Checks {
		d := &checkDef{cfg: c}
		switch c.Kind {
		case config.CheckScript:
			d.check = &health.Script{Command: health.Command{Args: c.Args}}
		case config.CheckTCP:
			d.check = &health.TCP{Addr: c.Target}
		case config.CheckHTTP:
			d.check = &health.HTTP{URL: c.Target}
		case config.CheckGRPC:
			target := c.Target
			d.check = checkFunc(func(ctx context.Context) error { return service.CheckMilvusGRPC(ctx, target) })
		case config.CheckDocker:
			if docker == nil {
				cli, err := service.NewDockerClient()
				if err != nil {
					return nil, fmt.Errorf("keeper: check %s: %w", c.Name, err)
				}
				docker = cli
			}
			name, cli := c.Target, docker
			d.check = checkFunc(func(ctx context.Context) error { return service.CheckDockerRunning(ctx, cli, name) })
		default:
			return nil, fmt.Errorf("keeper: check %s: kind %q not supported", c.Name, c.Kind)
		}
		defs = append(defs, d)
	}
	// The service itself, every heartbeat: a crash must be seen within a
	// few adverts (DESIGN.md: service crash → handover under 0.2 s). Three
	// failures in a row, so that a slow answer or two on a busy host is not
	// a failover (a refused connection fails at once, so a dead API is
	// seen after three heartbeats); a process exit is reported by the
	// driver at once.
	defs = append(defs, &checkDef{
		cfg: config.Check{
			Name: serviceCheckName, Kind: "service", Scope: config.ScopeService,
			Interval: k.timing.HeartbeatInterval, Timeout: max(k.timing.LeaseTimeout, time.Second),
			Fall: 3, Rise: 1,
		},
		check: checkFunc(func(ctx context.Context) error { return k.svc.check(ctx) }),
	})
	for _, d := range defs {
		d.status = CheckStatus{Name: d.cfg.Name, Kind: string(d.cfg.Kind), Scope: string(d.cfg.Scope), Weight: d.cfg.Weight, State: health.Unknown.String()}
		k.metrics.checkState(d.cfg.Name, health.Unknown)
	}
	return defs, nil
}

// startChecks starts the runners of the node checks (for the life of the
// keeper) or of the service checks (while active) and returns the function
// that stops them.
func (k *Keeper) startChecks(ctx context.Context, service bool) context.CancelFunc {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, d := range k.checks {
		if d.service() != service {
			continue
		}
		k.mu.Lock()
		d.status.Running = true
		k.mu.Unlock()
		r := &health.Runner{Name: d.cfg.Name, Check: d.check, Interval: d.cfg.Interval, Timeout: d.cfg.Timeout,
			Rise: d.cfg.Rise, Fall: d.cfg.Fall, Logger: k.log}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = r.Run(ctx, func(res health.Result) { k.onCheckResult(ctx, d, res) })
		}()
	}
	return func() {
		cancel()
		wg.Wait()
		// A check that does not run has no result: a stopped service is
		// not a failing one.
		k.mu.Lock()
		for _, d := range k.checks {
			if d.service() == service {
				d.status.Running, d.state = false, health.Unknown
				d.status.State, d.status.Detail = health.Unknown.String(), ""
				k.metrics.checkState(d.cfg.Name, health.Unknown)
			}
		}
		k.mu.Unlock()
	}
}

func (k *Keeper) onCheckResult(ctx context.Context, d *checkDef, res health.Result) {
	if ctx.Err() != nil {
		return
	}
	k.setCheck(d, res.State, res.Err)
	if d.cfg.Weight != 0 && res.State != health.Unknown && res.Changed {
		// keepalived semantics: the weight moves the VRRP priority.
		if err := k.speaker.Track(ctx, "check "+d.cfg.Name, d.cfg.Weight, res.State == health.OK); err != nil && ctx.Err() == nil {
			k.log.Warn("could not update the VRRP priority from a check", "check", d.cfg.Name, "err", err)
		}
	}
	if res.Changed {
		k.evaluate(ctx)
	}
}

// setCheck records a check's tracked state.
func (k *Keeper) setCheck(d *checkDef, st health.State, err error) {
	detail := ""
	if err != nil {
		detail = err.Error()
	}
	k.mu.Lock()
	changed := d.state != st
	d.state = st
	d.status.State, d.status.Detail = st.String(), detail
	if changed {
		d.status.Since = time.Now()
		if st == health.Failed {
			d.status.Failures++
		}
	}
	k.mu.Unlock()
	if changed {
		k.metrics.checkState(d.cfg.Name, st)
		if st == health.Failed {
			k.record("check", fmt.Sprintf("%s failed: %s", d.cfg.Name, detail))
		} else if st == health.OK {
			k.record("check", d.cfg.Name+" ok")
		}
	}
}

// serviceFailed marks the keeper's own service check failed at once (the
// driver saw the service exit) and re-decides.
func (k *Keeper) serviceFailed(why string) {
	for _, d := range k.checks {
		if d.cfg.Name == serviceCheckName {
			k.mu.Lock()
			running := d.status.Running
			k.mu.Unlock()
			if running {
				k.setCheck(d, health.Failed, errors.New(why))
				k.evaluate(context.Background())
			}
		}
	}
}

// failingLocked lists the weight-0 checks failing now. k.mu held.
func (k *Keeper) failingLocked() []failure {
	var fs []failure
	for _, d := range k.checks {
		if d.cfg.Weight == 0 && d.state == health.Failed {
			fs = append(fs, failure{Check: d.cfg.Name, Service: d.service(), Detail: d.status.Detail})
		}
	}
	slices.SortFunc(fs, func(a, b failure) int {
		if a.Check < b.Check {
			return -1
		}
		if a.Check > b.Check {
			return 1
		}
		return 0
	})
	return fs
}

func (k *Keeper) checkStatuses() []CheckStatus {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]CheckStatus, len(k.checks))
	for i, d := range k.checks {
		out[i] = d.status
	}
	return out
}
