package keeper

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/milvus-ha/milvus-ha/internal/config"
	"github.com/milvus-ha/milvus-ha/internal/guard"
)

// Plan is what `milvus-ha config check` reports about a native
// configuration beyond its syntax: the lease timing of the chosen preset,
// the resulting worst-case failover time, and what the data directory
// looks like from this host.
type Plan struct {
	Preset     config.Timing
	Timing     guard.Timing
	MasterDown time.Duration // VRRP Master_Down_Interval at this node's priority
	// WorstCase is MasterDown + Timing.WorstCaseTakeover: the longest time
	// from the active host's death to the lease being taken here, before
	// the service is promoted or started.
	WorstCase time.Duration
	Service   config.ServiceKind
	Sync      *guard.SyncLatency // nil when not measured
	FSType    string             // filesystem of data_dir, "" if unknown
	Warnings  []string
	Errors    []string
}

// promoteTarget is the embedded store's promote budget (issue 5: P4).
const promoteTarget = 100 * time.Millisecond

// CheckPlan computes the plan of cfg (which must have a keeper section).
// With samples > 0 and an existing data_dir it measures the storage's
// write+sync latency there (guard.MeasureSync) and warns when the lease
// would not survive it.
func CheckPlan(cfg *config.Config, samples int) Plan {
	k, in := cfg.Keeper, cfg.Instances[0]
	p := Plan{Preset: k.Timing, Service: k.Service.Kind, MasterDown: in.MasterDownInterval()}
	t, err := Timing(k.Timing, in.Advert)
	if err != nil {
		p.Errors = append(p.Errors, err.Error())
		return p
	}
	p.Timing = t
	p.WorstCase = p.MasterDown + t.WorstCaseTakeover()
	warn := func(format string, args ...any) { p.Warnings = append(p.Warnings, fmt.Sprintf(format, args...)) }

	st, err := os.Stat(k.DataDir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		p.Errors = append(p.Errors, fmt.Sprintf("data_dir %s does not exist (mount the shared storage there)", k.DataDir))
	case err != nil:
		p.Errors = append(p.Errors, fmt.Sprintf("data_dir %s: %v", k.DataDir, err))
	case !st.IsDir():
		p.Errors = append(p.Errors, fmt.Sprintf("data_dir %s is not a directory", k.DataDir))
	default:
		p.FSType = fsType(k.DataDir)
		if p.FSType != "" && localFS[p.FSType] {
			warn("data_dir %s is on a local filesystem (%s): the peer cannot share it unless both keepers run on this host; use NFSv4 (actimeo=0) or a cluster filesystem", k.DataDir, p.FSType)
		}
		if p.FSType == "nfs" {
			warn("data_dir %s is on NFS: mount it with actimeo=0 (or noac), or a cached HEARTBEAT looks like a dead peer", k.DataDir)
		}
		if samples > 0 {
			if sl, err := guard.MeasureSync(k.DataDir, samples); err != nil {
				warn("could not measure the storage's sync latency: %v", err)
			} else {
				p.Sync = &sl
				if sl.Max >= t.StorageTolerance() {
					warn("storage tolerance %v (lease timeout %v - safety margin %v - heartbeat %v) is not above the measured sync latency (max %v): the lease would be lost on a slow sync; choose timing: safe or a longer advert_interval",
						t.StorageTolerance(), t.LeaseTimeout, t.SafetyMargin, t.HeartbeatInterval, sl.Max)
				}
			}
		}
	}
	if in.Priority == config.OwnerPriority && !in.Nopreempt {
		warn("priority 255 makes this node the address owner: it always preempts, and if the peer has 255 too both claim the VIP (compare with --peer)")
	}
	if k.Service.Kind != config.ServiceEmbedded {
		if k.Service.Address == "" {
			warn("service.%s has no address: the keeper cannot check that Milvus answers, only that the %s runs", k.Service.Kind, k.Service.Kind)
		}
		if k.Watchdog == "" {
			warn("no watchdog: an external service does not fence itself, so a hung keeper could leave it writing after the peer took over; set watchdog: /dev/watchdog")
		} else if t.LeaseTimeout < time.Second {
			warn("watchdog timeouts are whole seconds (at least 1s) but the lease times out after %v: a hung keeper's service may write for up to %v after the peer took over; choose timing: safe or a longer advert_interval",
				t.LeaseTimeout, time.Second-t.LeaseTimeout)
		}
	}
	return p
}

const gfs2Magic = 0x01161970 // not in x/sys/unix

// localFS are filesystem types one host cannot share with another.
var localFS = map[string]bool{"ext2/3/4": true, "xfs": true, "btrfs": true, "tmpfs": true, "overlay": true}

func fsType(dir string) string {
	var s unix.Statfs_t
	if err := unix.Statfs(dir, &s); err != nil {
		return ""
	}
	switch uint32(s.Type) {
	case unix.EXT4_SUPER_MAGIC:
		return "ext2/3/4"
	case unix.XFS_SUPER_MAGIC:
		return "xfs"
	case unix.BTRFS_SUPER_MAGIC:
		return "btrfs"
	case unix.TMPFS_MAGIC:
		return "tmpfs"
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "overlay"
	case unix.NFS_SUPER_MAGIC:
		return "nfs"
	case unix.FUSE_SUPER_MAGIC:
		return "fuse"
	case unix.CIFS_SUPER_MAGIC, unix.SMB2_SUPER_MAGIC:
		return "cifs"
	case gfs2Magic:
		return "gfs2"
	case unix.OCFS2_SUPER_MAGIC:
		return "ocfs2"
	}
	return fmt.Sprintf("0x%x", uint32(s.Type))
}

// String renders the plan as `config check` prints it.
func (p Plan) String() string {
	var b strings.Builder
	t := p.Timing
	fmt.Fprintf(&b, "failover plan\n")
	fmt.Fprintf(&b, "  lease      preset %s: heartbeat %v, lease timeout %v, safety margin %v, storage tolerance %v\n",
		p.Preset, t.HeartbeatInterval, t.LeaseTimeout, t.SafetyMargin, t.StorageTolerance())
	promote := "promote (target " + promoteTarget.String() + ")"
	total := p.WorstCase + promoteTarget
	if p.Service != config.ServiceEmbedded {
		promote = "the service's start time"
		total = p.WorstCase
	}
	ms := func(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }
	what := "worst case"
	if p.Service != config.ServiceEmbedded {
		what = "worst case (+ the service's start time)"
	}
	fmt.Fprintf(&b, "  failover   %s %v = VRRP Master_Down_Interval %v + lease takeover %v + %s\n",
		what, ms(total), ms(p.MasterDown), t.WorstCaseTakeover(), promote)
	fmt.Fprintf(&b, "  typical    about %v: the standby watches the lease all along, so the two waits overlap\n",
		ms(max(p.MasterDown, t.WorstCaseTakeover())+total-p.WorstCase))
	if p.FSType != "" {
		fmt.Fprintf(&b, "  storage    %s\n", p.FSType)
	}
	if p.Sync != nil {
		fmt.Fprintf(&b, "  sync       write+fdatasync p50 %v, max %v over %d samples (tolerance %v)\n",
			p.Sync.P50, p.Sync.Max, p.Sync.Samples, t.StorageTolerance())
	}
	return b.String()
}
