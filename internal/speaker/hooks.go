package speaker

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/config"
	"github.com/milvus-ha/milvus-ha/internal/health"
	"github.com/milvus-ha/milvus-ha/internal/vrrp"
)

// hookQueue feeds an instance's transitions to a health.Notifier, which runs
// the notify scripts one at a time in transition order.
type hookQueue struct {
	n    *health.Notifier
	done chan struct{}
}

func newHookQueue(inst *config.Instance, log *slog.Logger) *hookQueue {
	n := health.NewNotifier(health.NotifierConfig{
		Instance: inst.Name,
		Hooks: health.Hooks{
			Master:  command(inst.Notify.Master),
			Backup:  command(inst.Notify.Backup),
			Fault:   command(inst.Notify.Fault),
			Stop:    command(inst.Notify.Stop),
			Generic: command(inst.Notify.Generic),
		},
		Logger: log,
	})
	q := &hookQueue{n: n, done: make(chan struct{})}
	go func() {
		defer close(q.done)
		_ = n.Run(context.Background())
	}()
	return q
}

func command(h *config.Hook) *health.Command {
	if h == nil {
		return nil
	}
	return &health.Command{Args: h.Args, User: h.User, Group: h.Group}
}

var hookStates = map[vrrp.State]health.HookState{
	vrrp.StateMaster: health.HookMaster,
	vrrp.StateBackup: health.HookBackup,
	vrrp.StateFault:  health.HookFault,
	vrrp.StateStop:   health.HookStop,
}

func (q *hookQueue) notify(s vrrp.State, prio uint8) {
	if hs, ok := hookStates[s]; ok {
		q.n.Notify(hs, int(prio))
	}
}

// close waits up to grace for queued hooks (keepalived gives STOP scripts
// 1 s at shutdown); hooks still running after that are abandoned.
func (q *hookQueue) close(grace time.Duration) {
	go q.n.Close()
	select {
	case <-q.done:
	case <-time.After(grace):
	}
}

// startScripts runs every track_script of the instance with its vrrp_script
// settings and sends each result to out.
func (in *Instance) startScripts(ctx context.Context, out chan<- trackResult) error {
	for _, ts := range in.cfg.TrackScripts {
		s, ok := in.opts.Scripts[ts.Name]
		if !ok {
			return fmt.Errorf("speaker: instance %s: track_script %q is not defined", in.cfg.Name, ts.Name)
		}
		r := &health.Runner{
			Name:     "script " + s.Name,
			Check:    &health.Script{Command: health.Command{Args: s.Args, User: s.User, Group: s.Group}},
			Interval: s.Interval,
			Timeout:  s.Timeout,
			Rise:     s.Rise,
			Fall:     s.Fall,
			InitFail: s.InitFail,
			Logger:   in.log,
		}
		go r.Run(ctx, func(res health.Result) {
			if !res.Changed && res.State != health.Unknown {
				return
			}
			select {
			case out <- newTrackResult(r.Name, ts.Weight, ts.Reverse, res.State == health.OK):
			case <-ctx.Done():
			}
		})
	}
	return nil
}
