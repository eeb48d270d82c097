// Package service holds the drivers that start and stop the protected
// server, and single-shot health checks for it.
//
// The keeper calls a Driver inside its ordered actions:
//
//	becoming active: take lease, bump epoch → seal → Driver.Start → add VIP
//	stepping down:   remove VIP → Driver.Stop → release lease
//
// # The contract: Stop must be certain
//
// The embedded store re-reads the OWNER record before it acknowledges a
// write, so it fences itself. An external server (a child process, a
// container, a systemd unit) knows nothing of the lease: the keeper is its
// fence. The keeper lets the lease go only after Stop returned nil, so a nil
// from Stop means that nothing the driver started can still write. When a
// driver cannot be sure (ctx ended, the engine is unreachable, a process is
// stuck in the kernel) Stop returns an error and the keeper keeps the lease
// (and, if it must give it up anyway, relies on the watchdog). Start and
// Stop are idempotent, so the keeper simply retries.
//
// Start returns only once the server answers where the driver can be told
// how to ask: exec, docker and systemd take a Ready probe (the keeper
// passes Milvus CheckHealth at the service address), because a process,
// a running container or an active unit is up well before its server
// answers, and the VIP must not move before that.
//
// At start-up, while it is not the owner, the keeper runs EnsureStopped: a
// server left running by a previous keeper, an operator or a container
// restart policy is stopped before anything else happens.
//
// A driver whose Start is "promote a warm standby" and whose Stop is
// "demote to standby" (the embedded store) fits the same interface; its
// Status reports StateStopped for a healthy standby.
//
// # What each driver guarantees
//
// Exec runs the server as a child of the keeper, in its own process group,
// with Pdeathsig=SIGKILL: if the keeper dies (kill -9, OOM, panic) the
// kernel kills the server at once, so a server never outlives its fence.
// The fork happens on an OS thread that is locked for the life of the
// process, because Pdeathsig fires when the forking thread ends, and Go
// ends threads whose goroutine exits while locked. Stop sends StopSignal to
// the whole group, SIGKILL after StopTimeout, and returns nil only when no
// process of the group can run any more (zombies are ignored: they cannot
// write). When the server crashes, the rest of its group is killed before
// the exit is reported or a restart begins, so a stray worker never writes
// beside a new instance. Limits: Pdeathsig reaches only the direct child,
// so processes the server forks survive a kill -9 of the keeper unless the
// server takes them down itself; and a process that leaves the group
// (setsid, setpgid) escapes Stop. Servers that fork or daemonize belong in
// a container or a systemd unit, whose cgroup holds every process.
//
// Docker stops the container through the Engine API (SIGTERM, SIGKILL after
// the timeout, done by the engine on the container's cgroup) and then
// inspects it: nil means the engine reports it neither running, paused nor
// restarting. A container with restart policy "always" is started again by
// the engine when the engine restarts, even on a node that is not the
// owner; use "no" (the driver warns otherwise).
//
// Systemd stops the unit through systemd's D-Bus API, waits for the stop
// job and then reads ActiveState: nil means inactive or failed. systemd
// kills the unit's whole cgroup unless the unit sets KillMode=process or
// none (the driver warns about those).
//
// # Health checks
//
// CheckDockerRunning and CheckMilvusGRPC are single-shot probes; interval,
// timeout, fall and rise are applied by the caller (internal/health).
package service
