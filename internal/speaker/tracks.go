package speaker

import (
	"context"
	"fmt"

	"github.com/milvus-ha/milvus-ha/internal/netif"
)

// trackResult is one result of a tracked script or interface for the loop.
type trackResult struct {
	name   string // as reasons show it: "script chk", "interface eth0"
	weight int
	ok     bool
}

// startTracks starts watching what the instance tracks: its own interface
// (unless dont_track_primary; weight 0, so down means FAULT, as keepalived
// does), track_interface entries and track_script entries. Results arrive
// on the returned channel until ctx ends.
func (in *Instance) startTracks(ctx context.Context) (<-chan trackResult, error) {
	out := make(chan trackResult, 16)
	type link struct {
		weight  int
		reverse bool
	}
	links := map[string]link{}
	var names []string
	if !in.cfg.DontTrackPrimary {
		links[in.cfg.Interface] = link{}
		names = append(names, in.cfg.Interface)
	}
	for _, t := range in.cfg.TrackInterfaces {
		if _, dup := links[t.Name]; !dup {
			names = append(names, t.Name)
		}
		links[t.Name] = link{t.Weight, t.Reverse}
	}
	if len(names) > 0 {
		states, err := netif.WatchLinks(ctx, names...)
		if err != nil {
			return nil, fmt.Errorf("speaker: instance %s: watching interfaces: %w", in.cfg.Name, err)
		}
		go func() {
			for ls := range states {
				l := links[ls.Name]
				select {
				case out <- newTrackResult("interface "+ls.Name, l.weight, l.reverse, ls.Up && !ls.Gone):
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	if err := in.startScripts(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// newTrackResult applies keepalived's "reverse": the weight's sign flips and
// so does the meaning of success.
func newTrackResult(name string, weight int, reverse, ok bool) trackResult {
	if reverse {
		return trackResult{name: name, weight: -weight, ok: !ok}
	}
	return trackResult{name: name, weight: weight, ok: ok}
}
