package guard

import (
	"fmt"
	"os"
	"slices"
	"time"
)

// SyncLatency summarises MeasureSync.
type SyncLatency struct {
	Samples  int
	P50, Max time.Duration
}

// MeasureSync times n record-sized pwrite+fdatasync pairs on a scratch file
// in dir (removed afterwards): the cost of one renewal. config check warns
// when Timing.StorageTolerance is not well above Max.
func MeasureSync(dir string, n int) (SyncLatency, error) {
	if n <= 0 {
		return SyncLatency{}, fmt.Errorf("guard: measure sync: %d samples", n)
	}
	f, err := os.CreateTemp(dir, ".sync-probe-")
	if err != nil {
		return SyncLatency{}, fmt.Errorf("guard: measure sync: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	d := make([]time.Duration, n)
	for i := range d {
		rec := EncodeHeartbeat(Heartbeat{Epoch: 0, Node: "probe", Counter: uint64(i)})
		start := time.Now()
		if err := writeRecord(f, rec); err != nil {
			return SyncLatency{}, err
		}
		d[i] = time.Since(start)
	}
	slices.Sort(d)
	return SyncLatency{Samples: n, P50: d[n/2], Max: d[n-1]}, nil
}
