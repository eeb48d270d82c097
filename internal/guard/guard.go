package guard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// File names in the shared directory.
const (
	OwnerFile     = "OWNER"
	HeartbeatFile = "HEARTBEAT"
)

// ErrPeerAlive is returned by Acquire while another owner's heartbeat still
// moves: the lease is held, whatever VRRP says. Match with errors.Is; the
// concrete error is *PeerAliveError.
var ErrPeerAlive = errors.New("guard: peer alive on storage")

// ErrNotHolding is returned by calls that need the lease when this node does
// not hold it.
var ErrNotHolding = errors.New("guard: this node does not hold the lease")

// ErrClosed is returned by Heartbeat once Close was called.
var ErrClosed = errors.New("guard: closed")

// PeerAliveError says who holds the lease.
type PeerAliveError struct {
	Owner Owner
	// Silence is how long OWNER and HEARTBEAT had been unchanged when the
	// movement was seen (normally less than a heartbeat interval).
	Silence time.Duration
}

func (e *PeerAliveError) Error() string {
	return fmt.Sprintf("guard: peer alive on storage: %s, heartbeat moved %v ago", e.Owner, e.Silence)
}

// Unwrap makes errors.Is(err, ErrPeerAlive) true.
func (e *PeerAliveError) Unwrap() error { return ErrPeerAlive }

// Clock returns the current instant on a monotonic clock.
type Clock func() time.Duration

// BootClock reads CLOCK_BOOTTIME: monotonic, and it keeps counting while
// the host is suspended, so a node that sleeps sees its lease as old.
func BootClock() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		panic("guard: clock_gettime(CLOCK_BOOTTIME): " + err.Error()) // cannot fail on Linux >= 2.6.39
	}
	return time.Duration(ts.Nano())
}

// Option configures a Guard.
type Option func(*Guard)

// WithClock replaces the clock (tests simulate pauses with it).
func WithClock(c Clock) Option { return func(g *Guard) { g.clock = c } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(g *Guard) { g.log = l } }

// WithOnLost sets a callback run (in its own goroutine) when a held lease is
// lost involuntarily: expired or taken over. The keeper drops the VIP there.
// It fires at the holder's deadline, SafetyMargin before any observer may
// take over.
func WithOnLost(f func(error)) Option { return func(g *Guard) { g.onLost = f } }

// Stats are cumulative counters.
type Stats struct {
	Renewals        uint64 // successful heartbeat renewals
	RenewalErrors   uint64 // failed renewals (I/O errors; the lease keeps running down)
	RenewalsSkipped uint64 // ticks skipped because the previous renewal was still blocked in I/O
	OwnerChecks     uint64 // StillOwner calls
	Acquired        uint64 // leases taken
	Lost            uint64 // leases lost involuntarily
	LockUnsupported uint64 // acquires done without an OFD lock (filesystem refused it)
	WatchErrors     uint64 // Watch reads of OWNER/HEARTBEAT that failed
}

// Guard is the I/O shell around Observer and Holder for one node.
// All methods are safe for concurrent use.
type Guard struct {
	dir    string
	node   string
	timing Timing
	clock  Clock
	log    *slog.Logger
	onLost func(error)

	ownerF, beatF *os.File

	// renewIO is one renewal's I/O (renew); tests wrap it to hold a
	// renewal in I/O.
	renewIO func(epoch uint64) error
	// renewing counts renewal goroutines in flight: Close waits for them
	// before it closes the files they write.
	renewing sync.WaitGroup

	acqMu sync.Mutex // serialises Acquire and Release
	mu    sync.Mutex // guards the fields below
	obs   *Observer
	hold  *Holder
	// lostCh is closed when the current holding ends (any reason).
	lostCh  chan struct{}
	timer   *time.Timer
	counter uint64
	// closed is set by Close: no renewal starts after it, and no renewal
	// extends the lease any more.
	closed bool
	// watched and watchErr are Watch's last observation and read error.
	watched  Status
	watchErr error
	// window is the holding's serve window for ServeCheck (serve.go),
	// published under mu at every change of the holding.
	window atomic.Pointer[serveWindow]

	stats struct {
		renewals, renewalErrors, renewalsSkipped, ownerChecks, acquired, lost, lockUnsupported, watchErrors atomic.Uint64
	}
}

// Open opens (creating if needed) OWNER and HEARTBEAT in dir. It does not
// take the lease.
func Open(dir, nodeID string, t Timing, opts ...Option) (*Guard, error) {
	if err := checkNodeID(nodeID); err != nil {
		return nil, err
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	g := &Guard{dir: dir, node: nodeID, timing: t, clock: BootClock, log: slog.Default(), obs: NewObserver(t)}
	g.renewIO = g.renew
	for _, o := range opts {
		o(g)
	}
	var err error
	created := false
	open := func(name string) *os.File {
		if err != nil {
			return nil
		}
		p := filepath.Join(dir, name)
		if _, serr := os.Stat(p); errors.Is(serr, os.ErrNotExist) {
			created = true
		}
		var f *os.File
		f, err = os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			err = fmt.Errorf("guard: %w", err)
		}
		return f
	}
	g.ownerF, g.beatF = open(OwnerFile), open(HeartbeatFile)
	if err == nil && created {
		err = syncDir(dir)
	}
	if err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}

// Close ends Heartbeat (it returns ErrClosed), waits for a renewal still in
// I/O, then stops the lease timer and closes the files. It does not release
// the lease (a crash does not either); call Release for a clean handover.
// While Close waits, the lease timer still ends the lease at its deadline:
// a renewal stuck on hung storage delays Close, never the end of the lease.
func (g *Guard) Close() error {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	// No renewal starts after closed is set (Heartbeat checks it under mu
	// before renewing.Add), so this waits for the last one.
	g.renewing.Wait()
	g.mu.Lock()
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
	g.mu.Unlock()
	var errs []error
	for _, f := range []*os.File{g.ownerF, g.beatF} {
		if f != nil {
			errs = append(errs, f.Close())
		}
	}
	return errors.Join(errs...)
}

// Node returns this node's id.
func (g *Guard) Node() string { return g.node }

// Timing returns the lease timing.
func (g *Guard) Timing() Timing { return g.timing }

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("guard: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("guard: fsync %s: %w", dir, err)
	}
	return nil
}

func readRecord(f *os.File) ([]byte, error) {
	var b [RecordSize]byte
	n, err := f.ReadAt(b[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("guard: read %s: %w", f.Name(), err)
	}
	return b[:n], nil
}

func writeRecord(f *os.File, b [RecordSize]byte) error {
	if _, err := f.WriteAt(b[:], 0); err != nil {
		return fmt.Errorf("guard: write %s: %w", f.Name(), err)
	}
	if err := fdatasync(f); err != nil {
		return fmt.Errorf("guard: fdatasync %s: %w", f.Name(), err)
	}
	return nil
}

// fdatasync syncs f's data through its raw connection, which keeps the
// descriptor referenced so that a concurrent Close cannot recycle it.
func fdatasync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Fdatasync(int(fd)) }); err != nil {
		return err
	}
	return serr
}

// ReadOwner preads the OWNER record.
func (g *Guard) ReadOwner() (Owner, error) {
	b, err := readRecord(g.ownerF)
	if err != nil {
		return Owner{}, err
	}
	o, err := DecodeOwner(b)
	if err != nil {
		return Owner{}, fmt.Errorf("guard: %s: %w", g.ownerF.Name(), err)
	}
	return o, nil
}

// Epoch preads OWNER and returns the epoch recorded there (0 if never
// written). It is one pread on a descriptor kept open.
func (g *Guard) Epoch() (uint64, error) {
	o, err := g.ReadOwner()
	return o.Epoch, err
}

func (g *Guard) sample() (Sample, error) {
	o, err := g.ReadOwner()
	if err != nil {
		return Sample{}, err
	}
	b, err := readRecord(g.beatF)
	if err != nil {
		return Sample{}, err
	}
	s := Sample{Owner: o}
	copy(s.Beat[:], b)
	return s, nil
}

// Status is what Observe reports.
type Status struct {
	Owner     Owner
	Heartbeat Heartbeat // zero if HEARTBEAT is empty or undecodable
	Verdict   Verdict
	// Silence is how long OWNER and HEARTBEAT have been seen unchanged by
	// this node (its own clock).
	Silence time.Duration
	// Holding, Epoch and ValidFor describe this node's own lease.
	Holding  bool
	Epoch    uint64
	ValidFor time.Duration
}

// Observe reads OWNER and HEARTBEAT once, feeds the observer and returns the
// status. Watch calls it every PollInterval.
func (g *Guard) Observe() (Status, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.observeLocked()
}

func (g *Guard) observeLocked() (Status, error) {
	start := g.clock()
	s, err := g.sample()
	if err != nil {
		return Status{}, err
	}
	end := g.clock()
	st := Status{Owner: s.Owner, Verdict: g.obs.Observe(start, end, s), Silence: g.obs.Silence(end)}
	st.Heartbeat, _ = DecodeHeartbeat(trimEmpty(s.Beat[:]))
	if h := g.hold; h != nil && h.Lost(end) == nil {
		st.Holding, st.Epoch, st.ValidFor = true, h.Epoch(), h.Deadline()-end
	}
	return st, nil
}

// Watch observes OWNER and HEARTBEAT every PollInterval until ctx ends (it
// returns ctx.Err()) or the guard is closed (ErrClosed). A standby runs it
// from the moment it is a standby, so that, when VRRP makes it master,
// Acquire decides from the history: a holder silent for LeaseTimeout
// already is taken over at once, one silent for part of it is waited for
// only the rest. While this node holds the lease Watch does not read (a
// read hung on storage must not hold the lock the lease timer needs); the
// gap restarts the silence window, so the history after a holding starts
// afresh. A failed read is logged (once per run of failures) and counted
// (Stats.WatchErrors); it feeds nothing, so reads that keep failing restart
// the window too: a watch that cannot see never makes a lease look expired.
func (g *Guard) Watch(ctx context.Context) error {
	tick := time.NewTicker(g.timing.PollInterval)
	defer tick.Stop()
	failing := false
	for {
		g.mu.Lock()
		if g.closed {
			g.mu.Unlock()
			return ErrClosed
		}
		if h := g.hold; h == nil || h.Lost(g.clock()) != nil {
			st, err := g.observeLocked()
			if err == nil {
				g.watched = st
			}
			g.watchErr = err
			g.mu.Unlock()
			switch {
			case err != nil && !failing:
				g.log.Warn("guard: watching the lease: read failed; the silence window restarts once reads succeed again", "node", g.node, "err", err)
			case err == nil && failing:
				g.log.Info("guard: watching the lease: reads succeed again", "node", g.node)
			}
			if err != nil {
				g.stats.watchErrors.Add(1)
			}
			failing = err != nil
		} else {
			g.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Last returns Watch's last successful observation and the error of its
// last read (nil if that read succeeded). Before Watch's first read it
// returns the zero Status.
func (g *Guard) Last() (Status, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.watched, g.watchErr
}

// trimEmpty maps an all-zero record (empty file) to an empty slice.
func trimEmpty(b []byte) []byte {
	for _, c := range b {
		if c != 0 {
			return b
		}
	}
	return nil
}

// Acquire takes the lease and returns the new epoch. It returns at once
// (nil error) if this node already holds the lease. Otherwise it observes
// OWNER and HEARTBEAT until the lease is free (released or never taken) or
// expired (unchanged for LeaseTimeout), and returns a *PeerAliveError
// (errors.Is ErrPeerAlive) as soon as it sees the holder's heartbeat move.
// The silence a Watch saw before the call counts (Observer.AcquireVerdict):
// with a Watch running the wait is only what is left of LeaseTimeout, none
// if the holder has been silent that long; without one it is at most about
// LeaseTimeout + PollInterval. To take the lease, it writes OWNER =
// (epoch+1, this node, active) and syncs it, then HEARTBEAT, under an OFD
// lock on OWNER, after deciding again on a read made under that lock, so
// that two nodes acquiring at once get distinct epochs. Start Heartbeat
// right after.
func (g *Guard) Acquire(ctx context.Context) (uint64, error) {
	g.acqMu.Lock()
	defer g.acqMu.Unlock()
	g.mu.Lock()
	if h := g.hold; h != nil && h.Lost(g.clock()) == nil {
		g.mu.Unlock()
		return h.Epoch(), nil
	}
	begin := g.clock()
	g.mu.Unlock()

	poll := time.NewTicker(g.timing.PollInterval)
	defer poll.Stop()
	for {
		epoch, done, err := g.tryAcquire(ctx, begin)
		if done || err != nil {
			return epoch, err
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("guard: acquire: %w", ctx.Err())
		case <-poll.C:
		}
	}
}

// observeAcquireLocked is observeLocked with the verdict of an acquisition
// that began at begin.
func (g *Guard) observeAcquireLocked(begin time.Duration) (Status, error) {
	st, err := g.observeLocked()
	st.Verdict = g.obs.AcquireVerdict(st.Verdict, begin)
	return st, err
}

func (g *Guard) tryAcquire(ctx context.Context, begin time.Duration) (uint64, bool, error) {
	g.mu.Lock()
	st, err := g.observeAcquireLocked(begin)
	g.mu.Unlock()
	if err != nil {
		return 0, false, err
	}
	switch st.Verdict {
	case Alive:
		return 0, false, &PeerAliveError{Owner: st.Owner, Silence: st.Silence}
	case Unknown:
		return 0, false, nil
	}
	unlock, err := g.lockOwner(ctx)
	if err != nil {
		return 0, false, err
	}
	defer unlock()
	g.mu.Lock()
	defer g.mu.Unlock()
	// Decide again on a read made under the lock: the decision and the write
	// below must not be separated by another node's write.
	st, err = g.observeAcquireLocked(begin)
	if err != nil {
		return 0, false, err
	}
	switch st.Verdict {
	case Alive:
		return 0, false, &PeerAliveError{Owner: st.Owner, Silence: st.Silence}
	case Unknown:
		return 0, false, nil
	}
	epoch := st.Owner.Epoch + 1
	start := g.clock()
	if err := writeRecord(g.ownerF, EncodeOwner(Owner{Epoch: epoch, Node: g.node, State: StateActive})); err != nil {
		return 0, false, err
	}
	g.counter = st.Heartbeat.Counter + 1
	if err := writeRecord(g.beatF, EncodeHeartbeat(Heartbeat{Epoch: epoch, Node: g.node, Counter: g.counter})); err != nil {
		return 0, false, err
	}
	if o, err := g.ReadOwner(); err != nil || o != (Owner{Epoch: epoch, Node: g.node, State: StateActive}) {
		return 0, false, fmt.Errorf("%w: OWNER read back as %v (%v) right after writing epoch %d", ErrNotOwner, o, err, epoch)
	}
	g.hold = NewHolder(g.timing, epoch, start)
	g.lostCh = make(chan struct{})
	g.armLocked()
	g.stats.acquired.Add(1)
	g.log.Info("guard: lease acquired", "node", g.node, "epoch", epoch, "previous", st.Owner.String(),
		"silence", st.Silence, "verdict", st.Verdict.String())
	return epoch, true, nil
}

// lockOwner takes an OFD write lock on the OWNER record, polling so that ctx
// is honoured. Filesystems without OFD locks are tolerated (logged,
// counted): the epoch read-back and the WAL's exclusive segment creation
// still catch most races.
func (g *Guard) lockOwner(ctx context.Context) (func(), error) {
	rc, err := g.ownerF.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("guard: %w", err)
	}
	fcntl := func(lk *unix.Flock_t) error {
		var ferr error
		if err := rc.Control(func(fd uintptr) { ferr = unix.FcntlFlock(fd, unix.F_OFD_SETLK, lk) }); err != nil {
			return err
		}
		return ferr
	}
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: 0, Len: RecordSize}
	for {
		err := fcntl(&lk)
		switch {
		case err == nil:
			return func() {
				ul := unix.Flock_t{Type: unix.F_UNLCK, Whence: 0, Start: 0, Len: RecordSize}
				_ = fcntl(&ul)
			}, nil
		case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.EINTR):
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("guard: waiting for OWNER lock: %w", ctx.Err())
			case <-time.After(time.Millisecond):
			}
		case errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOLCK) || errors.Is(err, unix.EOPNOTSUPP):
			g.stats.lockUnsupported.Add(1)
			g.log.Warn("guard: OFD lock unsupported on the shared directory; acquiring without it", "dir", g.dir, "err", err)
			return func() {}, nil
		default:
			return nil, fmt.Errorf("guard: lock %s: %w", g.ownerF.Name(), err)
		}
	}
}

// armLocked (re)arms the timer that ends the lease at the holder's deadline,
// independent of the heartbeat loop (which may be stuck in I/O).
func (g *Guard) armLocked() {
	g.publishLocked()
	h := g.hold
	if g.timer != nil {
		g.timer.Stop()
	}
	var t *time.Timer
	t = time.AfterFunc(max(h.Deadline()-g.clock(), 0), func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		// A timer replaced by a renewal, or stopped by Close, whose
		// function was already running.
		if g.hold != h || g.timer != t {
			return
		}
		if err := h.Lost(g.clock()); err != nil {
			g.endLocked(err)
			return
		}
		g.armLocked()
	})
	g.timer = t
}

// endLocked records the end of the current holding and notifies.
func (g *Guard) endLocked(err error) {
	h := g.hold
	if h == nil || g.lostCh == nil {
		return
	}
	h.Lose(err)
	g.publishLocked()
	select {
	case <-g.lostCh:
		return // already ended
	default:
	}
	close(g.lostCh)
	if g.timer != nil {
		g.timer.Stop()
	}
	if errors.Is(err, ErrReleased) {
		return
	}
	g.stats.lost.Add(1)
	g.log.Error("guard: lease lost", "node", g.node, "epoch", h.Epoch(), "err", err)
	if g.onLost != nil {
		go g.onLost(err)
	}
}

// Lost returns a channel closed when the current holding ends (expired,
// taken over, or released). Without a holding it returns a closed channel.
func (g *Guard) Lost() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.lostCh == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return g.lostCh
}

// Held returns the epoch this node holds and whether the lease is held now.
func (g *Guard) Held() (uint64, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.hold == nil || g.hold.Lost(g.clock()) != nil {
		return 0, false
	}
	return g.hold.Epoch(), true
}

// ValidUntil is the wall-clock-free instant (on the process's monotonic
// time.Now) until which this node may serve; the zero Time if it does not
// hold the lease.
func (g *Guard) ValidUntil() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.hold == nil {
		return time.Time{}
	}
	now := g.clock()
	if g.hold.Lost(now) != nil {
		return time.Time{}
	}
	return time.Now().Add(g.hold.Deadline() - now)
}

// MayServe returns nil if this node may answer requests now: it holds the
// lease, its last renewal is younger than the serve window, and it has
// renewed since any detected pause.
func (g *Guard) MayServe() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.hold == nil {
		return ErrNotHolding
	}
	return g.hold.MayServe(g.clock())
}

// heldLocked returns the current holding if it is not lost, else
// ErrNotHolding or why it was lost. g.mu is held.
func (g *Guard) heldLocked() (*Holder, error) {
	h := g.hold
	if h == nil {
		return nil, ErrNotHolding
	}
	if err := h.Lost(g.clock()); err != nil {
		return nil, err
	}
	return h, nil
}

// StillOwner is the fencing check: it returns nil only if this node holds
// the lease (not lost or released locally) and a fresh pread of OWNER still
// shows this node's epoch, active. The WAL calls it after every fdatasync
// and acknowledges the batch only on nil. A foreign OWNER ends the holding.
func (g *Guard) StillOwner() error {
	g.stats.ownerChecks.Add(1)
	g.mu.Lock()
	h, err := g.heldLocked()
	g.mu.Unlock()
	if err != nil {
		return err
	}
	o, err := g.ReadOwner()
	if err != nil {
		return err
	}
	if want := (Owner{Epoch: h.Epoch(), Node: g.node, State: StateActive}); o != want {
		err := fmt.Errorf("%w: OWNER is %s, this node holds epoch %d", ErrNotOwner, o, h.Epoch())
		g.mu.Lock()
		if g.hold == h {
			g.endLocked(err)
		}
		g.mu.Unlock()
		return err
	}
	return nil
}

// Heartbeat renews the lease every HeartbeatInterval until ctx ends, the
// lease is lost or Close is called, and returns why it stopped. Each renewal
// preads OWNER (still ours?), then pwrites HEARTBEAT with the next counter
// and syncs it. Renewal I/O runs in its own goroutine so that a hung storage
// cannot delay the end of the lease (the lease timer fires at the deadline
// whatever the renewal is doing); failed renewals are logged and counted,
// and the lease runs down to its deadline. When ctx ends, Heartbeat returns
// only after its renewal in flight finished, so a Release that follows is
// never overtaken by a stale HEARTBEAT write. When the lease ends (or Close
// is called) it returns at once, so a renewal stuck on hung storage never
// delays that report; Close waits for the renewal before closing the files.
func (g *Guard) Heartbeat(ctx context.Context) error {
	g.mu.Lock()
	h, closed := g.hold, g.closed
	g.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if h == nil {
		return ErrNotHolding
	}
	type result struct {
		start, end time.Duration
		err        error
	}
	results := make(chan result, 1) // a renewal never blocks on sending
	inflight := false
	tick := time.NewTicker(g.timing.HeartbeatInterval)
	defer tick.Stop()
	lost := g.Lost()
	for {
		select {
		case <-ctx.Done():
			if inflight {
				<-results
			}
			return ctx.Err()
		case <-lost:
			g.mu.Lock()
			err := h.Lost(g.clock())
			g.mu.Unlock()
			return err
		case <-tick.C:
			g.mu.Lock()
			if g.closed {
				g.mu.Unlock()
				return ErrClosed
			}
			if g.hold != h {
				g.mu.Unlock()
				return ErrNotHolding
			}
			if err := h.Tick(g.clock()); err != nil {
				g.endLocked(err)
				g.mu.Unlock()
				return err
			}
			g.publishLocked()
			if inflight {
				g.mu.Unlock()
				g.stats.renewalsSkipped.Add(1)
				continue
			}
			inflight = true
			// Added under mu while not closed: Close's Wait sees it.
			g.renewing.Add(1)
			g.mu.Unlock()
			go func() {
				defer g.renewing.Done()
				start := g.clock()
				err := g.renewIO(h.Epoch())
				results <- result{start, g.clock(), err}
			}()
		case r := <-results:
			inflight = false
			g.mu.Lock()
			switch {
			case g.hold != h:
			case errors.Is(r.err, ErrNotOwner):
				g.endLocked(r.err)
			case r.err != nil:
				g.stats.renewalErrors.Add(1)
				g.log.Warn("guard: heartbeat renewal failed", "node", g.node, "epoch", h.Epoch(),
					"err", r.err, "valid_for", h.Deadline()-g.clock())
			case g.closed:
				// Close is stopping the timer: a renewal no longer extends
				// the lease.
			default:
				if err := h.Renewed(r.start, r.end); err != nil {
					g.endLocked(err)
				} else {
					g.stats.renewals.Add(1)
					g.armLocked()
				}
			}
			g.mu.Unlock()
		}
	}
}

func (g *Guard) renew(epoch uint64) error {
	o, err := g.ReadOwner()
	if err != nil {
		return err
	}
	if want := (Owner{Epoch: epoch, Node: g.node, State: StateActive}); o != want {
		return fmt.Errorf("%w: OWNER is %s, this node holds epoch %d", ErrNotOwner, o, epoch)
	}
	g.mu.Lock()
	g.counter++
	c := g.counter
	g.mu.Unlock()
	return writeRecord(g.beatF, EncodeHeartbeat(Heartbeat{Epoch: epoch, Node: g.node, Counter: c}))
}

// Release hands the lease back for a planned switchover: under the OWNER
// lock it checks that OWNER is still this node's epoch and rewrites it as
// released (same epoch), synced. The peer may then take the lease at once.
// Stop writing (close the WAL) before calling it.
func (g *Guard) Release(ctx context.Context) error {
	g.acqMu.Lock()
	defer g.acqMu.Unlock()
	g.mu.Lock()
	h, err := g.heldLocked()
	if err != nil {
		g.mu.Unlock()
		return err
	}
	// From here on nothing local may use the lease.
	g.endLocked(ErrReleased)
	g.mu.Unlock()

	unlock, err := g.lockOwner(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	o, err := g.ReadOwner()
	if err != nil {
		return err
	}
	if want := (Owner{Epoch: h.Epoch(), Node: g.node, State: StateActive}); o != want {
		return fmt.Errorf("%w: OWNER is %s, not releasing", ErrNotOwner, o)
	}
	if err := writeRecord(g.ownerF, EncodeOwner(Owner{Epoch: h.Epoch(), Node: g.node, State: StateReleased})); err != nil {
		return err
	}
	g.log.Info("guard: lease released", "node", g.node, "epoch", h.Epoch())
	return nil
}

// Stats returns the counters.
func (g *Guard) Stats() Stats {
	return Stats{
		Renewals:        g.stats.renewals.Load(),
		RenewalErrors:   g.stats.renewalErrors.Load(),
		RenewalsSkipped: g.stats.renewalsSkipped.Load(),
		OwnerChecks:     g.stats.ownerChecks.Load(),
		Acquired:        g.stats.acquired.Load(),
		Lost:            g.stats.lost.Load(),
		LockUnsupported: g.stats.lockUnsupported.Load(),
		WatchErrors:     g.stats.watchErrors.Load(),
	}
}
