package netif

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Timer is a one-shot timer on a timerfd. The Go runtime sleeps in
// epoll_wait, whose timeout is whole milliseconds, so a goroutine waiting
// on a time.Timer wakes up to a millisecond late (BenchmarkTimerLate: about
// 1 ms against 0.1 ms here); the VRRP down timer is the failover time, and
// keepalived's timerfd fires within microseconds. A timerfd read through
// the runtime's poller wakes as soon as the kernel's timer expires.
//
// Like time.Timer, a Timer may deliver one expiry that raced a Reset or
// Stop; its reader must treat a tick as "check your deadlines", which the
// VRRP machine's Tick does.
type Timer struct {
	// C receives the time of each expiry.
	C <-chan time.Time

	fd int
	f  *os.File
}

// NewTimer returns a stopped timer. Close releases it.
func NewTimer() (*Timer, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("netif: timerfd: %w", err)
	}
	c := make(chan time.Time, 1)
	t := &Timer{C: c, fd: fd, f: os.NewFile(uintptr(fd), "timerfd")}
	go t.read(c)
	return t, nil
}

func (t *Timer) read(c chan<- time.Time) {
	var buf [8]byte // the expiry count, not needed
	for {
		if _, err := t.f.Read(buf[:]); err != nil {
			if !errors.Is(err, os.ErrClosed) {
				panic(fmt.Sprintf("netif: timerfd read: %v", err)) // only EBADF/EINVAL: a bug
			}
			return
		}
		select {
		case c <- time.Now():
		default: // the reader has a tick pending already
		}
	}
}

// Reset arms the timer to fire once after d (at once when d <= 0) and
// drops an expiry not yet received.
func (t *Timer) Reset(d time.Duration) {
	t.set(max(d, time.Nanosecond)) // an all-zero value would disarm it
}

// Stop disarms the timer and drops an expiry not yet received.
func (t *Timer) Stop() { t.set(0) }

func (t *Timer) set(d time.Duration) {
	select { // before arming: a short d may expire at once
	case <-t.C:
	default:
	}
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	if err := unix.TimerfdSettime(t.fd, 0, &spec, nil); err != nil {
		panic(fmt.Sprintf("netif: timerfd settime: %v", err)) // only EBADF/EINVAL: a bug
	}
}

// Close stops the timer and releases its descriptor.
func (t *Timer) Close() error { return t.f.Close() }
