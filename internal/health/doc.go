// Package health tracks health checks and runs notify hooks with
// keepalived's semantics (reference §3.1, §3.2), with two deliberate
// improvements: a check never runs twice at once, and the notify hooks of
// one instance run one at a time in transition order.
//
// The package has a pure core and thin I/O shells:
//
//   - Tracker is keepalived's vrrp_script rise/fall counter: no I/O, no
//     clock. Step(ok) returns whether the tracked state changed. Adjustment
//     and Down turn a state and a weight into a priority delta or a FAULT
//     hold, and EffectivePriority clamps the sum the way keepalived does.
//   - Check is one probe (Run(ctx) error; nil means healthy). Script runs a
//     command line like keepalived (argv exec'd directly when argv[0] is an
//     executable, else /bin/sh -c), in its own process group, killed as a
//     group on timeout; TCP connects; HTTP expects a 2xx answer. Other
//     checks (gRPC CheckHealth, docker) implement the same interface.
//   - Runner runs a Check every interval with a timeout, feeds a Tracker and
//     reports every Result through a callback until its context ends.
//   - Notifier is a per-instance serial queue of notify hooks: for each
//     transition the state's hook (notify_master/backup/fault/stop), then
//     the generic notify hook with the extra argv
//     INSTANCE <name> <STATE> <priority>, each bounded by a timeout, exit
//     code and output logged with slog.
package health
