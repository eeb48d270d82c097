// Package keeper runs one node of a milvus-ha pair: the VRRP speaker, the
// storage guard and the protected service, in the order DESIGN.md argues.
//
// # Becoming active and stepping down
//
// Becoming active happens inside the speaker's gate, after the first
// advert and before anything else goes on the wire: the watchdog is armed
// (if configured), the storage lease is taken (epoch bumped) and the
// service brought up; only then does the speaker add the VIP and send
// gratuitous ARPs. Stepping down runs the other way: the speaker removes
// the VIP, then the keeper stops the service and releases the lease.
//
//   - embedded (default): the warm-standby store is promoted in place (the
//     store takes the lease through the guard, seals the previous owner's
//     log and fences its own writes) and the Milvus API served; stepping
//     down stops the API and reopens the store as a standby.
//   - docker, exec, systemd: the service knows nothing of the lease, so the
//     keeper is its fence. It holds the lease itself (guard), starts the
//     service only while holding it, stops a service it finds running at
//     start-up, and releases the lease only after the driver confirmed the
//     stop. A stop that cannot be confirmed keeps the lease (renewed, so
//     the peer waits) and is retried; after a few failures the watchdog is
//     no longer petted. A lost lease kills the service at once and drops
//     the VIP. An exec child dies with the keeper (the driver's Pdeathsig).
//
// # Planned handover
//
// When this node leaves MASTER for a peer that is a ready standby or
// taking over already (switchover, a preempting peer, shutdown), the
// speaker keeps the VIP while the keeper hands the clients over
// (speaker.Handover): the embedded API holds new calls unread, lets those
// in flight finish, and the store closes, which releases the lease. The
// peer, which takes over at once on the priority-0 advert (no skew: it is
// the only backup), finds the lease free, promotes, adds the VIP and
// announces it, then says so in its beacon ("serving"). Only then does
// this node hand the held calls back with an HTTP/2 GOAWAY below them,
// which gRPC clients retry on their own on a new connection, now to the
// peer; then the VIP goes and the usual step-down follows. This node
// waits for that signal at most handoverOverlap (150 ms) after it released
// the lease, since the peer may add the VIP from then on: the VIP is never
// on both hosts for longer than the announcement window, even when this
// node's storage is too slow to show the peer's beacon. A switchover
// holds and releases the lease before it resigns, so the peer's first
// attempt succeeds. An external service cannot hold its clients: its
// step-down is the usual one.
//
// The storage guard is the tie-breaker. A gate that cannot take the lease
// because the peer's heartbeat still moves ("peer alive on storage": the
// network between the hosts is cut but the peer is alive) refuses MASTER
// and is retried every lease timeout. While the old master is handing
// over (priority-0 advert, preemption) the gate waits up to a lease timeout
// for the release instead of refusing at once.
//
// # Health checks and the fast path
//
// Configured checks (script, tcp, http, grpc, docker) run with
// interval/timeout/fall/rise; so does the keeper's own check of the
// service while active (embedded: the store is primary and the API answers
// CheckHealth; external: the driver reports it running, and Milvus answers
// at service address when one is configured; an exec child's exit counts
// at once). Checks with a weight move the VRRP priority like keepalived's
// track_script. Weight-0 checks go through checkPolicy: on the active node
// a failure hands over at once (inhibit: priority-0 adverts, then the
// usual step-down) when the peer is a ready standby, and otherwise keeps
// serving; a backup whose node checks fail is held out, and so is one that
// could not take over now (its standby is not ready, or it cannot write
// to the shared storage) until it is healthy again: preempting would only
// stop the peer's service each time its own gate refused. A node whose
// service failed (it handed over for a failed service check, or the
// service did not start when it tried to take over) stays out for a
// minute while the peer lives (its beacon moves), so that with preemption
// it does not pull the service back and forth; with the peer dead it may
// try at once. A VRRP backup sends nothing, so readiness comes from a
// standby beacon each keeper rewrites in the shared directory while it
// could take over (STANDBY-<node>).
//
// # Watchdog
//
// With `watchdog: PATH` the keeper opens the device before the service may
// write, pets it every heartbeat while the lease is valid, and magic-closes
// it once the service is stopped: a hung keeper (or one that lost its
// lease with the stop unconfirmed) resets its host rather than leave a
// writer behind. Failing to open it refuses the takeover.
//
// # Control API
//
// GET /status, /primary, /standby, /health, /history, /metrics; POST
// /switchover (needs a ready standby), /pause, /resume. Every
// state-changing call needs the bearer token when one is configured;
// without a token the API must listen on loopback only (New refuses
// otherwise). A wrong or missing token is a 401 and a counter.
package keeper
