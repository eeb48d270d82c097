package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// spawnThread runs every fork of the exec driver on one OS thread that is
// locked and never exits. Pdeathsig is tied to the thread that forked the
// child, not to the process: if that thread ends, the kernel sends the
// signal as if the keeper had died. The Go runtime ends a thread when a
// goroutine exits while locked to it (netlink and namespace code does
// that), so forking from an arbitrary thread could kill the service at
// random. A thread that is locked for ever is never handed to anyone else.
var spawnThread struct {
	once sync.Once
	reqs chan func()
}

func onSpawnThread(f func()) {
	spawnThread.once.Do(func() {
		spawnThread.reqs = make(chan func())
		go func() {
			runtime.LockOSThread()
			for f := range spawnThread.reqs {
				f()
			}
		}()
	})
	done := make(chan struct{})
	spawnThread.reqs <- func() { f(); close(done) }
	<-done
}

// childSysProcAttr puts the child in its own process group (so Stop can
// signal everything it forked) and makes the kernel SIGKILL it when the
// keeper dies, so no server outlives the process that fences it.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// signalGroup sends sig to every process in group pgid. A group that no
// longer exists is not an error.
//
// pgid is the leader's pid. The kernel does not hand that number to a new
// process while any member of the group lives, so a live group cannot be
// confused with a stranger; only an empty group can, and signalling an
// empty group is harmless unless the number was reused within the few
// milliseconds between the leader's exit and this call.
func signalGroup(pgid int, sig syscall.Signal) error {
	if pgid <= 1 {
		return fmt.Errorf("refusing to signal process group %d", pgid)
	}
	if err := syscall.Kill(-pgid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal group %d with %v: %w", pgid, sig, err)
	}
	return nil
}

// groupMembers lists the processes of group pgid that can still run.
// Zombies are left out: they cannot write, and whether one is reaped
// depends on the init process of the machine or container, not on us.
func groupMembers(pgid int) ([]int, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + name + "/stat")
		if err != nil {
			continue // exited while we looked
		}
		state, _, pgrp, ok := parseStat(b)
		if !ok || pgrp != pgid || state == 'Z' || state == 'X' {
			continue
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// parseStat reads state, ppid and pgrp from /proc/PID/stat. The command
// name in parentheses may itself hold spaces and parentheses, so the
// fields are counted from the last ')'.
func parseStat(b []byte) (state byte, ppid, pgrp int, ok bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, 0, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 3 || len(f[0]) != 1 || !isLetter(f[0][0]) {
		return 0, 0, 0, false
	}
	ppid, err1 := strconv.Atoi(string(f[1]))
	pgrp, err2 := strconv.Atoi(string(f[2]))
	if err1 != nil || err2 != nil {
		return 0, 0, 0, false
	}
	return f[0][0], ppid, pgrp, true
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// killGroupAndWait SIGKILLs group pgid until no member can run, or ctx
// ends. It is how the driver becomes certain that nothing it started is
// left: a worker forked by a crashed server must not keep writing while a
// new instance starts, nor after Stop.
func killGroupAndWait(ctx context.Context, pgid int) error {
	wait := time.Millisecond
	for {
		pids, err := groupMembers(pgid)
		if err != nil {
			return fmt.Errorf("list group %d: %w", pgid, err)
		}
		if len(pids) == 0 {
			return nil
		}
		if err := signalGroup(pgid, syscall.SIGKILL); err != nil {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("process group %d still has %d live process(es) %v: %w", pgid, len(pids), pids, ctx.Err())
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}
