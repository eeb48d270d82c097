// Package failbench measures what a client sees of a failover:
// `milvus-ha bench failover`. It runs a milvus-ha pair and, in the same
// run, the recipe milvus-ha replaces (keepalived plus shell scripts that
// start and stop the server), each in its own network-namespace lab
// (package netlab), and reports per scenario the p50 and p99 of the
// client-visible unavailability through the VIP.
//
// # The client
//
// A gRPC client on the lab's client host speaks Milvus' MilvusService
// (raw milvus-proto stubs, no SDK) to VIP:19530, its sockets opened inside
// the client's namespace. It inserts one small row every Options.Interval
// (5 ms) with a short call timeout (200 ms) and, after every failure,
// drops its connection and dials again with a short connect timeout
// (50 ms): an impatient retrying client, so that the numbers are the
// server side's, not a client backoff's. Unavailability is the largest gap
// between consecutive successful calls around the event — for an abrupt
// fault, the last success before it to the first success after it. Its
// resolution is the median gap between successes outside faults, printed
// with the table.
//
// # Scenarios
//
//   - P1 host loss: the active host's link goes down (netlab LinkDown); its
//     processes live on and see carrier loss.
//   - P1' power loss: every process of the active host is frozen
//     (SIGSTOP), its link goes down, then they are killed: nothing the
//     host does after the fault reaches anyone, and the storage lease must
//     expire. The recipe's host loss is measured this way, because with
//     the link alone its master's server keeps running (see below).
//   - P2 with the host alive, two ways. Keeper kill -9 on the embedded
//     pair: the service runs inside the keeper and dies with it, so the
//     standby must wait out the storage lease. Service crash on a second
//     pair whose keepers run `milvus-ha serve` as an exec child: kill -9 of
//     the active child, the keeper lives and hands over to the ready
//     standby (which cold-starts its own child). The recipe's P2 is kill -9
//     of the master's server, which its check script notices; it shares
//     the exec row.
//   - P3 planned switchover (`milvus-ha switchover` on the active node)
//     and the resume that follows (`milvus-ha resume`: the preferred node
//     preempts back); the failed-calls column says whether the client saw
//     any error.
//   - P4: Options.Rows vectors of Options.Dim (FLAT index) are inserted
//     through the VIP in batches (load time reported), then switchovers
//     and resumes run with them in the store; P4 is the new active
//     keeper's own promote time from its history ("lease taken and
//     embedded serving in X") minus the store's wait for the lease (its
//     "log open for writing ... acquire=" log line), which belongs to the
//     old node's step-down and is shown in the breakdown instead.
//
// For milvus-ha each failover is split, from the new node's history and a
// 2 ms VIP watcher, into detection (fault → takeover decision), gate
// (lease, seal, promote, API), VIP on the new node, and VIP → client
// success.
//
// # The recipe
//
// keepalived (from PATH) with the recipe's two configurations (MASTER 110
// with a check script, interval 2, weight -20; BACKUP 91 with
// notify_master/notify_backup; auth PASS; advert_int and version left at
// their defaults, 1 s and v2), `milvus-ha serve` standing in for Milvus:
// running on the master from the start, cold-started by the backup's
// notify_master and stopped by notify_backup. The server's storage lease
// is 2 s (shorter ones let the stand-in fence itself on a loaded machine);
// the recipe moves the VIP ≥ 2.8 s after a fault, by which time a dead
// server's lease has expired, so the lease adds nothing there. With the link down but the master's server
// alive, that server keeps the lease and the backup's server cannot open
// the store (with real Milvus both would write it); that case is run once
// and reported as such.
//
// Repetitions alternate between the two rigs; P4 runs last on the
// milvus-ha pair alone. Options.Only (--only) runs some scenarios and
// starts only the rigs they need; Options.Keep (--keep) keeps every rig's
// directory (configurations, keeper and server logs) for a post-mortem. Needs root; processes are stopped by PID and every
// lab is removed before Run returns (directories of broken rigs are kept
// and named in the report).
package failbench
