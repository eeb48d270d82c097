package netlab

import (
	"errors"
	"os"
	"sort"
	"syscall"
)

// Sweep removes the namespaces (and with them every link and nftables
// table) of labs whose creating process no longer exists, killing by PID
// whatever still runs inside them. Labs of live processes, including this
// one, are left alone. It returns the namespaces it removed.
func Sweep() ([]string, error) {
	ents, err := os.ReadDir("/run/netns")
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		pid, ok := pidOf(e.Name())
		if !ok || pidAlive(pid) {
			continue
		}
		names = append(names, e.Name())
	}
	sort.Strings(names)
	var removed []string
	var errs []error
	for _, n := range names {
		if err := removeNamespace(n); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, n)
	}
	return removed, errors.Join(errs...)
}

func pidAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
