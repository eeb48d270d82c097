package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
)

// Defaults for DockerConfig fields left zero.
const (
	DefaultDockerStopTimeout = 10 * time.Second
	DefaultDockerPoll        = 50 * time.Millisecond
)

// DockerConfig names the container the Docker driver controls. The
// container is created by the operator (docker create / compose); the
// driver only starts, stops and inspects it.
type DockerConfig struct {
	// Container is a name or an id.
	Container string
	// StopTimeout is the engine's grace time between the stop signal and
	// SIGKILL (whole seconds, rounded up; 0 means the default of 10 s).
	StopTimeout time.Duration
	// Ready, if set, must return nil before Start returns (the keeper
	// passes the Milvus CheckHealth call at the service address, so the
	// VIP moves only once the server answers). It is called once the
	// container runs and, if it has a HEALTHCHECK, the engine reports it
	// healthy; a server that listens early but is not yet healthy is
	// waited for either way.
	Ready func(ctx context.Context) error
	// Poll is how often Start inspects the container, and calls Ready,
	// while it waits (0 means DefaultDockerPoll).
	Poll   time.Duration
	Logger *slog.Logger
}

// Docker drives a container through the Docker Engine API.
type Docker struct {
	cli client.ContainerAPIClient
	cfg DockerConfig
	log *slog.Logger
}

// NewDockerClient connects to the engine named by the environment
// (DOCKER_HOST etc., default the local socket) and agrees on the API
// version with it, so older engines work too.
func NewDockerClient() (*client.Client, error) {
	return client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
}

// NewDocker returns a driver for cfg.Container using cli.
func NewDocker(cli client.ContainerAPIClient, cfg DockerConfig) (*Docker, error) {
	if cfg.Container == "" {
		return nil, errors.New("docker service: no container given")
	}
	if cfg.StopTimeout < 0 || cfg.Poll < 0 {
		return nil, errors.New("docker service: negative stop timeout or poll interval")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Docker{cli: cli, cfg: cfg, log: log.With("service", "docker:"+cfg.Container)}, nil
}

// Name returns "docker:" and the container.
func (d *Docker) Name() string { return "docker:" + d.cfg.Container }

// Inspect returns the engine's view of the container. A missing container
// is an error wrapping ErrNotFound.
func (d *Docker) Inspect(ctx context.Context) (container.InspectResponse, error) {
	return inspectContainer(ctx, d.cli, d.cfg.Container)
}

func inspectContainer(ctx context.Context, cli client.ContainerAPIClient, name string) (container.InspectResponse, error) {
	info, err := cli.ContainerInspect(ctx, name)
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return info, fmt.Errorf("docker container %q: %w (create it first, e.g. docker create --name %s ...)", name, ErrNotFound, name)
		}
		return info, fmt.Errorf("docker container %q: inspect: %w", name, err)
	}
	if info.ContainerJSONBase == nil || info.State == nil {
		return info, fmt.Errorf("docker container %q: inspect returned no state", name)
	}
	return info, nil
}

// Start starts the container unless it runs, then waits until it is up:
// running, healthy when it has a healthcheck, and passing Ready when one
// is set. A container that exits or turns unhealthy meanwhile makes Start
// fail with its exit code and last log lines.
func (d *Docker) Start(ctx context.Context) error {
	info, err := d.Inspect(ctx)
	if err != nil {
		return err
	}
	d.warnRestartPolicy(info)
	if info.State.Paused {
		// A paused container was stopped by someone on purpose; unpause
		// rather than fail, since the keeper wants it serving.
		if err := d.cli.ContainerUnpause(ctx, info.ID); err != nil {
			return fmt.Errorf("%s: unpause: %w", d.Name(), err)
		}
	} else if !info.State.Running {
		if err := d.cli.ContainerStart(ctx, info.ID, container.StartOptions{}); err != nil {
			return fmt.Errorf("%s: start: %w", d.Name(), err)
		}
		d.log.Info("container started", "id", shortID(info.ID))
	}
	return d.waitUp(ctx, info.ID)
}

func (d *Docker) waitUp(ctx context.Context, id string) error {
	poll := d.cfg.Poll
	if poll == 0 {
		poll = DefaultDockerPoll
	}
	var why string
	notUp := func() error { return fmt.Errorf("%s: not up (%s): %w", d.Name(), why, ctx.Err()) }
	for {
		info, err := d.Inspect(ctx)
		if err != nil {
			if ctx.Err() != nil && why != "" {
				return notUp()
			}
			return err
		}
		st := info.State
		up := false
		switch {
		case st.Running && !st.Restarting && st.Health != nil && st.Health.Status != container.NoHealthcheck:
			switch st.Health.Status {
			case container.Healthy:
				up = true
			case container.Unhealthy:
				return fmt.Errorf("%s: unhealthy: %s", d.Name(), lastHealthOutput(st.Health))
			default:
				why = "health: " + string(st.Health.Status)
			}
		case st.Running && !st.Restarting:
			up = true
		case st.Restarting:
			why = "restarting"
		default:
			return fmt.Errorf("%s: %s%s", d.Name(), describeState(st), d.logTail(ctx, id))
		}
		if up {
			if d.cfg.Ready == nil {
				return nil
			}
			err := d.cfg.Ready(ctx)
			if err == nil {
				return nil
			}
			why = "not ready: " + err.Error()
		}
		t := time.NewTimer(poll)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return notUp()
		}
	}
}

// Stop asks the engine to stop the container (stop signal, SIGKILL after
// StopTimeout) and then confirms by inspection that nothing runs. A
// missing container is an error wrapping ErrNotFound.
func (d *Docker) Stop(ctx context.Context) error {
	info, err := d.Inspect(ctx)
	if err != nil {
		return err
	}
	if isStopped(info.State) {
		return nil
	}
	timeout := int((d.stopTimeout() + time.Second - 1) / time.Second)
	if err := d.cli.ContainerStop(ctx, info.ID, container.StopOptions{Timeout: &timeout}); err != nil {
		return fmt.Errorf("%s: stop: %w", d.Name(), err)
	}
	info, err = d.Inspect(ctx)
	if err != nil {
		return fmt.Errorf("%s: confirm stop: %w", d.Name(), err)
	}
	if !isStopped(info.State) {
		return fmt.Errorf("%s: still %s after stop", d.Name(), describeState(info.State))
	}
	d.log.Info("container stopped", "id", shortID(info.ID), "state", describeState(info.State))
	return nil
}

func (d *Docker) stopTimeout() time.Duration {
	if d.cfg.StopTimeout == 0 {
		return DefaultDockerStopTimeout
	}
	return d.cfg.StopTimeout
}

// Status maps the engine's state: running and healthy (or without a
// healthcheck) is running; health "starting" or restarting is starting;
// unhealthy, paused, dead or OOM-killed is failed; created or exited is
// stopped.
func (d *Docker) Status(ctx context.Context) (Status, error) {
	info, err := d.Inspect(ctx)
	if err != nil {
		return Status{}, err
	}
	st := info.State
	s := Status{PID: st.Pid, Detail: describeState(st)}
	switch {
	case st.Paused, st.Dead, st.OOMKilled && !st.Running:
		s.State = StateFailed
	case st.Restarting:
		s.State = StateStarting
	case st.Running && st.Health != nil && st.Health.Status == container.Unhealthy:
		s.State = StateFailed
	case st.Running && st.Health != nil && st.Health.Status == container.Starting:
		s.State = StateStarting
	case st.Running:
		s.State = StateRunning
	default:
		s.State = StateStopped
	}
	return s, nil
}

// isStopped: no process of the container can run. A paused container
// still holds its processes (frozen, not gone), so it is not stopped.
func isStopped(st *container.State) bool {
	return !st.Running && !st.Paused && !st.Restarting && st.Pid == 0
}

func describeState(st *container.State) string {
	var b strings.Builder
	b.WriteString(string(st.Status))
	if st.Health != nil && st.Health.Status != container.NoHealthcheck && st.Running {
		b.WriteString(", health: " + string(st.Health.Status))
	}
	if !st.Running && (st.Status == container.StateExited || st.Status == container.StateDead) {
		fmt.Fprintf(&b, " (code %d)", st.ExitCode)
	}
	if st.OOMKilled {
		b.WriteString(", OOM-killed")
	}
	if st.Error != "" {
		b.WriteString(", error: " + st.Error)
	}
	return b.String()
}

func lastHealthOutput(h *container.Health) string {
	if len(h.Log) == 0 {
		return fmt.Sprintf("%d failing probe(s)", h.FailingStreak)
	}
	last := h.Log[len(h.Log)-1]
	return fmt.Sprintf("probe exit %d: %s", last.ExitCode, strings.TrimSpace(last.Output))
}

// logTail returns the container's last log lines for an error message,
// or "" when they cannot be read.
func (d *Docker) logTail(ctx context.Context, id string) string {
	rc, err := d.cli.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: "10"})
	if err != nil {
		return ""
	}
	defer rc.Close()
	var out bytes.Buffer
	lim := &limitedWriter{w: &out, n: 4 << 10}
	if _, err := stdcopy.StdCopy(lim, lim, rc); err != nil && out.Len() == 0 {
		return ""
	}
	if s := strings.TrimSpace(out.String()); s != "" {
		return "; last log lines:\n" + s
	}
	return ""
}

type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) > l.n {
		p = p[:l.n]
	}
	l.n -= len(p)
	if _, err := l.w.Write(p); err != nil {
		return 0, err
	}
	return n, nil
}

func (d *Docker) warnRestartPolicy(info container.InspectResponse) {
	if info.HostConfig != nil && info.HostConfig.RestartPolicy.IsAlways() {
		d.log.Warn("container has restart policy \"always\": the engine restarts it when the engine restarts, even on a node that is not the owner; use \"no\"")
	}
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
