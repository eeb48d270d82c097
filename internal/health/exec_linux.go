package health

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DefaultKillGrace is how long a timed-out process group gets between
// SIGTERM and SIGKILL (keepalived: 2 s).
const DefaultKillGrace = 2 * time.Second

// maxOutput bounds the output kept from one script or hook run.
const maxOutput = 8 << 10

// Command is a command line split into argv, with an optional run-as
// identity (keepalived's `user USER [GROUP]` / script_user).
type Command struct {
	Args  []string
	User  string
	Group string
}

// procResult is the outcome of one process run.
type procResult struct {
	exitCode int // -1 when killed by a signal or not started
	output   []byte
	timedOut bool
}

// runProcess runs cmd like keepalived's system_call_script: argv[0] is
// exec'd directly when it resolves to an executable, otherwise the command
// line goes to /bin/sh -c. The process gets its own process group and dies
// with us (PR_SET_PDEATHSIG). When ctx ends the group gets SIGTERM, then
// SIGKILL after grace; any members left after the leader exits are killed.
func runProcess(ctx context.Context, c Command, extra []string, grace time.Duration) (procResult, error) {
	res := procResult{exitCode: -1}
	if len(c.Args) == 0 {
		return res, errors.New("empty command")
	}
	argv := append(append([]string{}, c.Args...), extra...)
	var cmd *exec.Cmd
	if path, err := exec.LookPath(argv[0]); err == nil {
		cmd = exec.Command(path, argv[1:]...)
		cmd.Args[0] = argv[0]
	} else {
		cmd = exec.Command("/bin/sh", "-c", shellLine(argv))
	}
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if c.User != "" {
		cred, err := credential(c.User, c.Group)
		if err != nil {
			return res, err
		}
		attr.Credential = cred
	}
	cmd.SysProcAttr = attr
	out := &limitedBuffer{max: maxOutput}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = grace

	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("start %s: %w", argv[0], err)
	}
	pgid := cmd.Process.Pid
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()

	var werr error
	select {
	case werr = <-waited:
	case <-ctx.Done():
		res.timedOut = true
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case werr = <-waited:
		case <-time.After(grace):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			werr = <-waited
		}
		// Children that ignored SIGTERM or outlived the leader go too.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
	res.output = out.Bytes()
	if cmd.ProcessState != nil {
		res.exitCode = cmd.ProcessState.ExitCode()
	}
	if res.timedOut {
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return res, fmt.Errorf("killed: %w", context.Cause(ctx))
		}
		if cause := context.Cause(ctx); cause != ctx.Err() {
			return res, fmt.Errorf("timed out %v: %w", cause, ctx.Err())
		}
		return res, fmt.Errorf("timed out: %w", ctx.Err())
	}
	var exitErr *exec.ExitError
	switch {
	case werr == nil, errors.Is(werr, exec.ErrWaitDelay):
		// ErrWaitDelay: exited 0 but a background child kept the output
		// pipe open; the exit status is what counts.
		return res, nil
	case errors.As(werr, &exitErr) && res.exitCode >= 0:
		return res, fmt.Errorf("exit status %d", res.exitCode)
	default:
		return res, werr
	}
}

// shellLine quotes argv for /bin/sh as keepalived's cmd_str does, except
// that embedded single quotes are escaped; a first word starting with '<'
// or '>' (a redirection-only test) stays unquoted.
func shellLine(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		if i == 0 && (strings.HasPrefix(a, "<") || strings.HasPrefix(a, ">")) {
			parts[i] = a
			continue
		}
		parts[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(parts, " ")
}

func credential(userName, groupName string) (*syscall.Credential, error) {
	u, err := user.Lookup(userName)
	if err != nil {
		return nil, fmt.Errorf("run-as user: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("run-as user %s: uid %q", userName, u.Uid)
	}
	gidStr := u.Gid
	if groupName != "" {
		g, err := user.LookupGroup(groupName)
		if err != nil {
			return nil, fmt.Errorf("run-as group: %w", err)
		}
		gidStr = g.Gid
	}
	gid, err := strconv.ParseUint(gidStr, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("run-as group %s: gid %q", groupName, gidStr)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

// limitedBuffer keeps the first max bytes written and discards the rest.
type limitedBuffer struct {
	buf       bytes.Buffer
	max       int
	truncated bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room < len(p) {
		b.truncated = true
		b.buf.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *limitedBuffer) Bytes() []byte {
	if b.truncated {
		return append(b.buf.Bytes(), "…(truncated)"...)
	}
	return b.buf.Bytes()
}
