// Package vrrpbench measures VRRP failover speed in a network-namespace lab
// (package netlab) for milvus-ha and, with identical settings in the same
// run, for keepalived: `milvus-ha bench vrrp`.
//
// What is measured: a master (priority 150) and a backup (priority 100) run
// the same keepalived.conf except for router_id and priority; a client host
// sends an ARP who-has for the VIP every Options.ProbeInterval and records,
// with kernel receive timestamps (SO_TIMESTAMPNS), every ARP frame that
// claims the VIP (a reply to the probe or a gratuitous ARP) and its sender
// MAC. One sample is the time from the master's host loss (its bridge port
// taken down, netlab Host.LinkDown) to the first frame in which the backup
// claims the VIP. After each sample the master's link comes back, it
// preempts, and the next sample starts at a random phase of the advert
// cycle. The probe's own resolution (the achieved gap between probes) is
// measured and printed with the table.
//
// Theory, for the backup: Master_Down_Interval = 3·advert + Skew_Time, with
// Skew_Time (256−100)/256 s for v2 and (256−100)/256·advert for v3. As the
// last advert arrived anywhere within one interval before the loss, a
// sample falls in [MDI − advert, MDI] plus the time to add the VIP.
// Because that phase dominates the spread, the client also timestamps the
// VRRP adverts passing by, and each sample reports the part that belongs
// to the daemon alone: "late" = first claim − (master's last advert + MDI),
// split into the down timer's lateness (the backup's first advert as
// master) and the VIP + gratuitous ARP path after it. A repetition in
// which the master had already been silent for more than 1.5 adverts when
// its link went down (the machine stalled it) is thrown away, counted as
// disturbed and repeated.
//
// Needs root (network namespaces). The milvus-ha binary under test is
// Options.Binary (the running executable for the CLI); keepalived is looked
// up in PATH and skipped with a note when absent. Processes are stopped by
// PID and every lab is removed before Run returns.
package vrrpbench
