package keeper

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// watchdog is an open watchdog device (Linux watchdog API): every write
// pets it; writing 'V' before close disarms it ("magic close"); closing
// without 'V' leaves it armed, so the host resets when its timeout passes
// without a pet. The keeper opens it before the service may write and pets
// it only while the lease is valid: a hung keeper, or one that lost the
// lease without being sure its service stopped, takes its host down rather
// than leave a writer behind.
type watchdog struct {
	f    *os.File
	path string
	// timeout is the device's timeout as it reports it (0 when it is not a
	// watchdog device, e.g. a file in a test).
	timeout time.Duration
}

// openWatchdog opens path and asks the device for a timeout of want
// (whole seconds, at least 1); a file that is not a watchdog device (tests
// use a regular file, appended to) is accepted and just written to.
func openWatchdog(path string, want time.Duration) (*watchdog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("watchdog: %w", err)
	}
	w := &watchdog{f: f, path: path}
	if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
		fd := int(f.Fd())
		secs := max(int(want/time.Second), 1)
		_ = unix.IoctlSetPointerInt(fd, unix.WDIOC_SETTIMEOUT, secs) // not every driver can
		if got, err := unix.IoctlGetInt(fd, unix.WDIOC_GETTIMEOUT); err == nil {
			w.timeout = time.Duration(got) * time.Second
		}
	}
	if err := w.pet(); err != nil {
		w.f.Close()
		return nil, err
	}
	return w, nil
}

func (w *watchdog) pet() error {
	if _, err := w.f.Write([]byte{'1'}); err != nil {
		return fmt.Errorf("watchdog: pet %s: %w", w.path, err)
	}
	return nil
}

// disarm is the magic close: the service is stopped, nothing to guard.
func (w *watchdog) disarm() error {
	_, werr := w.f.Write([]byte{'V'})
	cerr := w.f.Close()
	if werr != nil {
		return fmt.Errorf("watchdog: magic close %s: %w", w.path, werr)
	}
	return cerr
}

// abandon closes without disarming: the device stays armed and, unpetted,
// resets the host. Used when the keeper exits without being sure that its
// service stopped.
func (w *watchdog) abandon() error { return w.f.Close() }
