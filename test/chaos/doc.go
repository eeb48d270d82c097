// Package chaos is the fault-injection suite of milvus-ha, in the style of
// Jepsen and etcd's robustness tests: a real pair under randomized,
// combined faults, a recorded client history, and checkers that can fail.
// It is a separate module so the SDK's and porcupine's dependency trees
// stay out of the product's go.mod.
//
// # What runs (TestChaos, root)
//
// A network-namespace lab (internal/netlab): hosts a (priority 150,
// preempt) and b (100) each running `milvus-ha run` with the embedded
// server and 100 ms adverts on one shared directory, and a client host.
// -chaos.clients SDK clients (github.com/milvus-io/milvus/client/v2,
// dialing the VIP from inside the client namespace) run inserts, upserts,
// deletes, gets and queries on a key -> value collection (int64 key,
// varchar value unique per write, 4-d vector). Every operation is
// recorded with call and return times and an outcome:
//
//   - ok;
//   - failed, only when the request certainly did nothing: a validation
//     code, "not primary" (a standby never writes), or grpc-go's "Error
//     while dialing" (no transport: never sent);
//   - indeterminate otherwise: timeouts, lost connections, and "fenced" —
//     a primary that fails its post-sync fence check has already synced
//     the batch, which is inside the new owner's seal if it was synced in
//     time. The SDK's own retry of Unavailable is turned off per call so
//     one recorded operation is one attempt.
//
// Faults come in cycles of one to four overlapping faults, drawn from
// -chaos.seed (printed; the same seed replays the same schedule):
//
//	host-loss            LinkDown / LinkUp of a keeper host
//	kill                 kill -9 of a keeper, restart after 0.1-1 s
//	pause                SIGSTOP of the active keeper for 0.6-1.5 s (lease 0.5 s), SIGCONT;
//	                     meanwhile reads straight to its own address (see Checkers)
//	cut                  partition between a and b only (storage still shared)
//	storage-eio          every storage operation of one host fails with EIO
//	storage-hang         every storage operation of one host blocks (vanished mount)
//	slow-io              one host's writes and syncs take 100-600 ms each
//	flap                 one host's health check flips every 25-450 ms
//	switchover           2-3 rapid `milvus-ha switchover` + `resume` via the CLI
//	restart-in-recovery  kill -9 the active keeper, restart it, kill it again while it
//	                     opens its store; sometimes also kill the peer mid-takeover
//
// After each cycle every fault is undone and the loop waits for an
// acknowledged write called after the heal (60 s at most, else the run
// fails as stuck).
//
// # Storage faults: a FUSE layer per host
//
// Both hosts share one kernel, so a plain shared directory cannot fail for
// one host only, and a symlink swap or chmod would not touch the
// descriptors the keeper keeps open (root also ignores modes). Each host
// therefore reaches the shared directory through its own FUSE passthrough
// (go-fuse's loopback, served by the test process) that can fail every
// operation with EIO, block it, or delay writes and syncs: cut, vanished
// mount and slow storage for that host alone, hitting open descriptors too.
// Direct I/O and zero attribute/entry timeouts keep the two views coherent
// (pwrite+fdatasync on one visible to the next pread on the other), and
// locks are passed to the server, which takes OFD locks on its own
// descriptors, so the guard's OFD lock conflicts across hosts
// (TestFaultFS). Limits: faults are per system call, not per block; the
// page cache below is shared, as with real shared storage; a dm-delay or
// dm-error device would be closer to a disk but cannot be per host here.
// -chaos.storage=false turns the layer (and the storage faults) off.
//
// # Checkers
//
//   - porcupine, per key (a register; insert and upsert are puts since the
//     newest row wins, delete, get/query are reads). Indeterminate writes
//     return at +infinity; an indeterminate put whose unique value no read
//     ever saw is dropped (always linearizable at the end). A final read
//     of every key after the faults closes the history. During a pause
//     fault, reads also go straight to the frozen keeper's own address
//     (not the VIP), each for the key of the latest write acknowledged
//     since the freeze: its kernel queues them and the resumed process
//     answers them, so a primary answering from its old state is a
//     violation (bug 4). Through the VIP no such read exists: the peer
//     moves the clients (gratuitous ARP) before it acknowledges a write.
//     The report counts them: answered, refused (code 2, lease unproven),
//     cut (the keeper stopped its API first).
//   - set check: every acknowledged insert of the insert-only key range is
//     present at the end with its value; no key holds a value nobody wrote.
//   - two writers, after the run, from the disk and the logs with an
//     independent decoder of the WAL format: each epoch acquired by one
//     node; the committed log (sealed epochs up to their seal) is one dense
//     LSN chain; every acknowledged write is in it, in an epoch that was
//     still current when the write was sent (else: a two-writer interval).
//   - VIP: a netlink socket inside each keeper host samples eth0 every
//     20 ms. Both hosts holding the VIP while both keepers run, beyond
//     -chaos.vipwindow, fails the run; overlap while a keeper is frozen or
//     dead (it cannot remove an address) is reported apart.
//   - crashes: a keeper exit nobody injected, or a panic / fatal error /
//     race report in a keeper log, fails the run. A keeper still running
//     5 s after SIGTERM at the end gets SIGQUIT (stacks in its log).
//
// # Report
//
// -chaos.report=FILE.md writes the verdicts, faults by kind with the
// unavailability (longest time without a successful operation from the
// fault to recovery) p50/p99, operations by outcome and a table of cycles;
// FILE.svg plots client latency over time with the faults as bands, and
// FILE.history.tsv holds every operation.
//
// # Runs
//
//	go test -timeout 20m ./...                     # CI: 200 faults, about 5 minutes on 2 cores
//	go test -run TestChaos -chaos.faults=2000 -timeout 0 -chaos.report=/tmp/soak.md
//	go test -run TestChaos -chaos.seed=N           # replay a schedule
//	go test -run TestRepro                         # the reproducers of the bugs below
//
// # Bugs found
//
//	#  found by                         reproducer                              status
//	1  storage-hang + kill,             TestReproLeftoverVIPWhileStorageHangs   fixed (speaker.New removes leftover
//	   restart-in-recovery                                                      VIPs; the keeper builds the speaker
//	                                                                            before it opens the storage)
//	2  switchover, failback under       milvusapi                               fixed (milvusapi Options.Drain: the
//	   combined faults                  TestServeWithoutDrainDoesNotWaitFor-    keeper stops its API at once)
//	                                    Clients
//	3  storage-eio + kill               TestReproStartOnFailingStorageNamesEIO  fixed (vectordb.Open reports a
//	                                                                            failed stat of the data directory
//	                                                                            as it is)
//	4  review of pause (the VIP         TestReproStaleReadAfterPause            fixed (guard.ServeCheck before every
//	   clients could not see it)                                                read: vectordb.ErrLeaseUnproven)
//
// 1: a keeper restarted after kill -9 kept the VIP its predecessor left
// until its store had opened; keeper.New opened the store before the
// speaker removed leftover VIPs, so while storage hung both hosts held the
// VIP and the stale host answered ARP for it.
//
// 2: stepping down sometimes took exactly 5 s with clients busy: the API's
// graceful stop waited on connections whose VIP was already gone, with the
// lease still held and the peer waiting for it.
//
// 3: a keeper started on failing storage exits (status 1, by design; the
// suite restarts it like a supervisor) but reported "mkdir <data_dir>: file
// exists": the stat failed with EIO, MkdirAll fell back to mkdir, and
// EEXIST hid the I/O error.
//
// 4: a primary frozen past its lease answered, once resumed, the reads
// queued on its sockets from its old state, while the peer had taken over
// and acknowledged newer writes: stale reads (before the fix the
// reproducer's rounds mostly got stale answers, up to all 16 reads; the
// other reads were cut by the keeper stopping its API). Reads now need the
// lease proven at the instant they run.
//
// # Interrupting a run
//
// SIGINT or SIGTERM of the test binary stops the keepers (by PID), closes
// the labs (namespaces deleted), unmounts the storage layers and removes
// the run directories (unless -chaos.keep), then the binary dies of the
// signal (signal_test.go). The test binary's own -timeout cannot be caught
// that way (the testing package panics): TestChaos stops injecting five
// minutes before it, and netlab.Sweep removes a dead run's namespaces at
// the next run.
package chaos
