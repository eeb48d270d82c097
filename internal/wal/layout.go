package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// Errors. Every error the package returns wraps one of these or an I/O
// error, except AppendBatch's refusal of an empty batch (a caller's bug).
var (
	// ErrFenced: another node took the lease (or this node lost it). The
	// batch that saw it was not acknowledged, and the WAL refuses all
	// further writes: the caller must step down.
	ErrFenced = errors.New("wal: fenced: this node no longer owns the log")
	// ErrCorrupt: a record inside a sealed region (or a complete segment)
	// failed verification. Never silently skipped. Concrete type *CorruptError.
	ErrCorrupt = errors.New("wal: corrupt")
	// ErrClosed: the WAL was closed.
	ErrClosed = errors.New("wal: closed")
	// ErrBroken: a write or fdatasync failed; the on-disk tail is unknown, so
	// the WAL refuses further writes (reopen under a new epoch to continue).
	ErrBroken = errors.New("wal: write failed, log closed for writing")
	// ErrTooLarge: a payload above MaxPayload (nothing of its batch is
	// written).
	ErrTooLarge = errors.New("wal: payload too large")
	// ErrGap: the log no longer holds the records the caller asked for
	// (they were truncated behind a checkpoint).
	ErrGap = errors.New("wal: requested LSN no longer in the log")
)

// CorruptError locates a verification failure.
type CorruptError struct {
	Path   string
	Offset int64
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("corrupt WAL at %s:%d: %s", e.Path, e.Offset, e.Reason)
}

// Unwrap makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }

func corrupt(path string, off int64, format string, args ...any) error {
	return &CorruptError{Path: path, Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// SegmentName is the file name of segment seq of epoch; zero-padded so that
// lexical order is log order.
func SegmentName(epoch, seq uint64) string { return fmt.Sprintf("%020d-%010d.log", epoch, seq) }

func parseSegmentName(name string) (epoch, seq uint64, ok bool) {
	if len(name) != 20+1+10+4 || !strings.HasSuffix(name, ".log") || name[20] != '-' {
		return 0, 0, false
	}
	if _, err := fmt.Sscanf(name, "%020d-%010d.log", &epoch, &seq); err != nil {
		return 0, 0, false
	}
	return epoch, seq, SegmentName(epoch, seq) == name
}

const tmpPrefix = ".tmp-"

type segment struct {
	epoch, seq uint64
	path       string
	size       int64
}

type group struct {
	epoch uint64
	segs  []segment // sorted by seq
}

func (g *group) seg(seq uint64) (segment, bool) {
	i, ok := slices.BinarySearchFunc(g.segs, seq, func(s segment, q uint64) int {
		return cmpU64(s.seq, q)
	})
	if !ok {
		return segment{}, false
	}
	return g.segs[i], true
}

func (g *group) last() segment { return g.segs[len(g.segs)-1] }

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// view is a snapshot of the directory: segments grouped by epoch, and the
// seals that apply to each epoch.
type view struct {
	dir    string
	groups []group
	seals  map[uint64]Seal
	// ignored are epochs left out of groups: published after a later
	// epoch's owner listed the log (see loadView).
	ignored []uint64
}

func (v *view) group(epoch uint64) (*group, int) {
	for i := range v.groups {
		if v.groups[i].epoch == epoch {
			return &v.groups[i], i
		}
	}
	return nil, -1
}

// loadView lists dir (readdir first, then stat each file, so that a
// segment seen with a successor has its final size) and reads the seal
// records of every group with epoch >= floor, newest first: a group's seal
// record counts only if it lies inside that group's own sealed region.
func loadView(dir string, floor uint64) (*view, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	v := &view{dir: dir, seals: map[uint64]Seal{}}
	for _, e := range ents {
		ep, seq, ok := parseSegmentName(e.Name())
		if !ok {
			continue
		}
		p := filepath.Join(dir, e.Name())
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue // truncated meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("wal: %w", err)
		}
		s := segment{epoch: ep, seq: seq, path: p, size: fi.Size()}
		if n := len(v.groups); n > 0 && v.groups[n-1].epoch == ep {
			v.groups[n-1].segs = append(v.groups[n-1].segs, s)
		} else {
			v.groups = append(v.groups, group{epoch: ep, segs: []segment{s}})
		}
	}
	for i := len(v.groups) - 1; i >= 0 && v.groups[i].epoch >= floor; i-- {
		g := &v.groups[i]
		if _, sealed := v.seals[g.epoch]; !sealed && i < len(v.groups)-1 {
			// Nobody sealed this epoch, yet a later epoch exists: its
			// segment 0 appeared after the later owner listed the log, so
			// its writer was already fenced when it published it (its
			// post-publish check read the newer OWNER) and acknowledged
			// nothing. Ignore it, and its seal record.
			v.ignored = append(v.ignored, g.epoch)
			continue
		}
		seals, err := v.readSealRecord(g)
		if err != nil {
			return nil, err
		}
		for _, s := range seals {
			if _, done := v.seals[s.Epoch]; !done && s.Epoch < g.epoch {
				v.seals[s.Epoch] = s
			}
		}
	}
	if len(v.ignored) > 0 {
		v.groups = slices.DeleteFunc(v.groups, func(g group) bool { return slices.Contains(v.ignored, g.epoch) })
	}
	return v, nil
}

// readSealRecord returns the seals recorded in g's segment 0. Segment 0 is
// published (linked into place) only once its header and seal record are
// synced, so a missing or bad one is corruption, unless g's own seal says it
// ends before it.
func (v *view) readSealRecord(g *group) ([]Seal, error) {
	s0, ok := g.seg(0)
	limit := int64(-1)
	if seal, sealed := v.seals[g.epoch]; sealed && seal.Seq == 0 {
		limit = seal.Length
	}
	if !ok {
		if limit == 0 {
			return nil, nil
		}
		return nil, corrupt(filepath.Join(v.dir, SegmentName(g.epoch, 0)), 0, "epoch %d has no seal segment", g.epoch)
	}
	if limit < 0 || limit > s0.size {
		limit = s0.size
	}
	if limit < HeaderSize+RecordHeaderSize {
		return nil, corrupt(s0.path, limit, "seal segment ends before its seal record")
	}
	f, err := os.Open(s0.path)
	if err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	defer f.Close()
	b := make([]byte, limit)
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, corrupt(s0.path, 0, "read seal segment: %v", err)
	}
	h, err := decodeSegHeader(b)
	if err != nil {
		return nil, corrupt(s0.path, 0, "%v", err)
	}
	if h.epoch != g.epoch || h.seq != 0 {
		return nil, corrupt(s0.path, 0, "header names epoch %d seq %d", h.epoch, h.seq)
	}
	rec, _, err := decodeRecord(b[HeaderSize:])
	if err != nil {
		return nil, corrupt(s0.path, HeaderSize, "seal record: %v", err)
	}
	if rec.typ != typeSeal {
		return nil, corrupt(s0.path, HeaderSize, "first record has type %d, want seal", rec.typ)
	}
	seals, err := decodeSeals(rec.payload)
	if err != nil {
		return nil, corrupt(s0.path, HeaderSize+RecordHeaderSize, "%v", err)
	}
	return seals, nil
}

// readSegHeader reads and checks the header of s.
func readSegHeader(s segment) (segHeader, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return segHeader{}, fmt.Errorf("wal: %w", err)
	}
	defer f.Close()
	b := make([]byte, HeaderSize)
	if _, err := f.ReadAt(b, 0); err != nil {
		return segHeader{}, corrupt(s.path, 0, "read header: %v", err)
	}
	h, err := decodeSegHeader(b)
	if err != nil {
		return segHeader{}, corrupt(s.path, 0, "%v", err)
	}
	if h.epoch != s.epoch || h.seq != s.seq {
		return segHeader{}, corrupt(s.path, 0, "header names epoch %d seq %d", h.epoch, h.seq)
	}
	return h, nil
}

// scanner reads records sequentially from [off, limit) of a file through a
// reusable buffer. Returned payloads are valid until the next call.
type scanner struct {
	f     *os.File
	path  string
	base  int64 // file offset of buf[0]
	r, w  int   // unread data is buf[r:w]
	limit int64
	buf   []byte
}

func (s *scanner) reset(f *os.File, path string, off, limit int64) {
	s.f, s.path, s.base, s.r, s.w, s.limit = f, path, off, 0, 0, limit
	if s.buf == nil {
		s.buf = make([]byte, 1<<20)
	}
}

// pos is the file offset of the next unread byte.
func (s *scanner) pos() int64 { return s.base + int64(s.r) }

func (s *scanner) fill(need int) error {
	if s.w-s.r >= need {
		return nil
	}
	if s.r > 0 {
		copy(s.buf, s.buf[s.r:s.w])
		s.w -= s.r
		s.base += int64(s.r)
		s.r = 0
	}
	if need > len(s.buf) {
		nb := make([]byte, max(need, 2*len(s.buf)))
		copy(nb, s.buf[:s.w])
		s.buf = nb
	}
	for s.w < need {
		avail := s.limit - (s.base + int64(s.w))
		if avail <= 0 {
			return errIncomplete
		}
		n := int(min(int64(len(s.buf)-s.w), avail))
		m, err := s.f.ReadAt(s.buf[s.w:s.w+n], s.base+int64(s.w))
		s.w += m
		if errors.Is(err, io.EOF) {
			if s.w < need {
				return errIncomplete
			}
			break
		}
		if err != nil {
			return fmt.Errorf("wal: read %s: %w", s.path, err)
		}
	}
	return nil
}

// next returns the next record and its offset; io.EOF exactly at limit,
// errIncomplete if the region ends inside a record, another error for a
// record that fails verification.
func (s *scanner) next() (record, int64, error) {
	at := s.pos()
	if at >= s.limit {
		return record{}, at, io.EOF
	}
	if err := s.fill(RecordHeaderSize); err != nil {
		return record{}, at, err
	}
	if n := binary.LittleEndian.Uint32(s.buf[s.r+4:]); n <= MaxPayload {
		if err := s.fill(RecordHeaderSize + int(n)); err != nil {
			return record{}, at, err
		}
	}
	rec, size, err := decodeRecord(s.buf[s.r:s.w])
	if err != nil {
		return record{}, at, err
	}
	s.r += size
	return rec, at, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("wal: fsync dir %s: %w", dir, err)
	}
	return nil
}

// fdatasync syncs f's data through its raw connection, which keeps the
// descriptor referenced so that a concurrent Close cannot recycle it.
func fdatasync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err == nil {
		cerr := rc.Control(func(fd uintptr) { err = unix.Fdatasync(int(fd)) })
		if cerr != nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("wal: fdatasync %s: %w", f.Name(), err)
	}
	return nil
}

// publish creates segment name in dir atomically with the given content:
// written to a temporary file, synced, then hard-linked into place (which
// fails if the name exists, so two writers of one epoch cannot both
// succeed), and the directory synced. A segment therefore never exists
// with a torn header.
func publish(dir, name string, content []byte) (*os.File, error) {
	tmp, err := os.CreateTemp(dir, tmpPrefix+name+"-")
	if err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(content); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("wal: write %s: %w", tmp.Name(), err)
	}
	if err := fdatasync(tmp); err != nil {
		tmp.Close()
		return nil, err
	}
	final := filepath.Join(dir, name)
	if err := os.Link(tmp.Name(), final); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("wal: publish %s: %w", name, err)
	}
	tmp.Close()
	if err := syncDir(dir); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(final, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	return f, nil
}
