package netif

import (
	"context"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// LinkState is the state of a tracked interface.
type LinkState struct {
	Name string
	// Up is what keepalived calls "interface up": administratively up
	// (IFF_UP) and with carrier (IFF_RUNNING / lower up).
	Up bool
	// Gone is true when the interface was deleted.
	Gone bool
}

// WatchLinks reports the state of the named interfaces: first the current
// state of each, in the order given (Gone for a missing one), then every
// change of Up or Gone, until ctx ends or the netlink subscription fails;
// then the channel is closed. The netlink sockets belong to the calling
// thread's network namespace.
func WatchLinks(ctx context.Context, names ...string) (<-chan LinkState, error) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	updates := make(chan netlink.LinkUpdate, 64)
	done := make(chan struct{})
	errCh := make(chan error, 1)
	err := netlink.LinkSubscribeWithOptions(updates, done, netlink.LinkSubscribeOptions{
		ListExisting: true,
		ErrorCallback: func(err error) {
			select {
			case errCh <- err:
			default:
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("netif: link subscribe: %w", err)
	}
	// Subscribed first, queried second: a change in between shows up as an
	// extra update after the initial state, never as a lost one.
	initial := make([]LinkState, 0, len(names))
	for _, n := range names {
		s := LinkState{Name: n, Gone: true}
		if l, err := netlink.LinkByName(n); err == nil {
			s = stateOf(n, l.Attrs().RawFlags)
		}
		initial = append(initial, s)
	}
	out := make(chan LinkState, 16)
	go func() {
		defer close(out)
		defer close(done)
		last := map[string]LinkState{}
		emit := func(s LinkState) bool {
			if prev, ok := last[s.Name]; ok && prev == s {
				return true
			}
			last[s.Name] = s
			select {
			case out <- s:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for _, s := range initial {
			if !emit(s) {
				return
			}
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-errCh:
				return // subscription broken; closing tells the caller
			case u, ok := <-updates:
				if !ok {
					return
				}
				name := u.Attrs().Name
				if !want[name] {
					continue
				}
				s := LinkState{Name: name, Gone: true}
				if u.Header.Type != unix.RTM_DELLINK {
					s = stateOf(name, u.IfInfomsg.Flags)
				}
				if !emit(s) {
					return
				}
			}
		}
	}()
	return out, nil
}

func stateOf(name string, flags uint32) LinkState {
	return LinkState{Name: name, Up: flags&unix.IFF_UP != 0 && flags&unix.IFF_RUNNING != 0}
}
