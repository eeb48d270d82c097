package wal

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// ApplyFunc receives one data record in LSN order. payload is valid only
// during the call. An error stops the read and is returned as is.
type ApplyFunc func(lsn uint64, payload []byte) error

// position is a byte position in the log: segment (epoch, seq), offset.
type position struct {
	epoch, seq uint64
	off        int64
}

func (p position) after(q position) bool {
	if p.epoch != q.epoch {
		return p.epoch > q.epoch
	}
	if p.seq != q.seq {
		return p.seq > q.seq
	}
	return p.off > q.off
}

func (p position) String() string { return fmt.Sprintf("%s:%d", SegmentName(p.epoch, p.seq), p.off) }

type pending struct {
	lsn     uint64
	payload []byte
	end     position
}

// cursor walks the log in order and applies the rules of recovery:
//   - sealed epochs are read up to their seal; everything there must verify;
//   - segments past the sealed one are ignored;
//   - in live mode (tailing an unsealed epoch) only whole records are read,
//     a bad or short record means "not written yet", and the last complete
//     batch is held back until a later batch (or the seal) proves it was
//     acknowledged: the writer starts batch k+1 only after batch k passed its
//     fencing check, so a batch followed by another one is committed, while
//     the very last one may belong to a fenced writer and end up past the seal.
type cursor struct {
	from    uint64
	started bool
	pos     position // next byte to read
	next    uint64   // next expected data LSN; 0 until the first header is read
	partial []pending
	held    []pending
	// released is the end of the last record handed to fn; batch/batchNext
	// the end of the last batch read and the next LSN there (a safe seal
	// scan start for Promote).
	released  position
	batch     position
	batchNext uint64
	epochs    int // epoch changes crossed
	sc        scanner
	f         *os.File
}

func (c *cursor) close() {
	if c.f != nil {
		c.f.Close()
		c.f = nil
	}
}

// place positions the cursor at the last live data segment whose base LSN
// is <= from, or at the start of the log.
func (c *cursor) place(v *view) (bool, error) {
	if len(v.groups) == 0 {
		return false, nil
	}
	c.pos = position{epoch: v.groups[0].epoch}
	from := max(c.from, 1)
	truncated := "" // a sealed epoch whose data segments were removed
	for gi := range v.groups {
		g := &v.groups[gi]
		seal, sealed := v.seals[g.epoch]
		if sealed && seal.Seq > 0 && truncated == "" {
			for q := uint64(1); q <= seal.Seq; q++ {
				if _, ok := g.seg(q); !ok {
					truncated = SegmentName(g.epoch, q)
					break
				}
			}
		}
		for _, s := range g.segs {
			if s.seq == 0 || sealed && s.seq > seal.Seq {
				continue
			}
			h, err := readSegHeader(s)
			if err != nil {
				return false, err
			}
			if h.base > from {
				if truncated != "" && c.pos == (position{epoch: v.groups[0].epoch}) {
					return false, fmt.Errorf("%w: asked for LSN %d, %s was removed and the log resumes at %d", ErrGap, c.from, truncated, h.base)
				}
				return true, nil
			}
			c.pos = position{epoch: s.epoch, seq: s.seq}
		}
	}
	return true, nil
}

// advance reads as far as the view allows. live: tail an unsealed epoch
// (hold back the last batch). stop, if set, bounds the newest epoch (the
// primary's own acknowledged end); without live every older epoch must be
// sealed.
func (c *cursor) advance(v *view, live bool, stop *position, fn ApplyFunc) error {
	if !c.started {
		ok, err := c.place(v)
		if err != nil || !ok {
			return err
		}
		c.started = true
	}
	for {
		g, gi := v.group(c.pos.epoch)
		if g == nil {
			return fmt.Errorf("wal: epoch %d vanished from %s while reading it", c.pos.epoch, v.dir)
		}
		seal, sealed := v.seals[g.epoch]
		own := stop != nil && stop.epoch == g.epoch
		if sealed {
			if err := c.clip(seal, fn); err != nil {
				return err
			}
		} else if !live && !own {
			return fmt.Errorf("wal: epoch %d is not sealed; only its owner's successor can read it", g.epoch)
		}
		if sealed && c.pos.seq > seal.Seq || own && c.pos.seq > stop.seq {
			if own {
				return nil
			}
			if !c.nextGroup(v, gi) {
				return nil
			}
			continue
		}
		seg, ok := g.seg(c.pos.seq)
		_, hasNext := g.seg(c.pos.seq + 1)
		laterExists := g.last().seq > c.pos.seq
		if !ok {
			if v.truncatedBefore(c.pos) {
				return fmt.Errorf("%w: %s was removed (truncated behind a checkpoint) before it was read",
					ErrGap, SegmentName(g.epoch, c.pos.seq))
			}
			if sealed || own || laterExists {
				return corrupt(v.dir+"/"+SegmentName(g.epoch, c.pos.seq), 0, "segment missing")
			}
			return nil // not created yet
		}
		limit, complete := seg.size, laterExists
		switch {
		case sealed:
			complete = true
			if c.pos.seq == seal.Seq {
				if seg.size < seal.Length {
					return corrupt(seg.path, seg.size, "file shorter than its seal (%d bytes)", seal.Length)
				}
				limit = seal.Length
			}
		case own:
			complete = true
			if c.pos.seq == stop.seq {
				limit = stop.off
			}
		}
		done, err := c.readSegment(seg, limit, complete, live && !sealed && !own, fn)
		if err != nil || !done {
			return err
		}
		switch {
		case sealed && c.pos.seq == seal.Seq:
			if c.next != 0 && seal.EndLSN+1 != c.next {
				return corrupt(seg.path, limit, "sealed epoch %d ends at LSN %d, seal says %d", g.epoch, c.next-1, seal.EndLSN)
			}
			if !c.nextGroup(v, gi) {
				return nil
			}
		case own && c.pos.seq == stop.seq:
			return nil
		case hasNext || sealed:
			c.pos = position{epoch: g.epoch, seq: c.pos.seq + 1}
		case laterExists:
			return corrupt(v.dir+"/"+SegmentName(g.epoch, c.pos.seq+1), 0, "segment missing")
		default:
			return nil // live: wait for more
		}
	}
}

// truncatedBefore reports whether data segment p lies before every data
// segment still present: TruncateBefore removed it.
func (v *view) truncatedBefore(p position) bool {
	if p.seq == 0 {
		return false
	}
	for _, g := range v.groups {
		for _, s := range g.segs {
			if s.seq > 0 {
				return s.epoch > p.epoch || s.epoch == p.epoch && s.seq > p.seq
			}
		}
	}
	return false
}

func (c *cursor) nextGroup(v *view, gi int) bool {
	if gi+1 >= len(v.groups) {
		return false
	}
	c.pos = position{epoch: v.groups[gi+1].epoch}
	c.epochs++
	return true
}

// clip applies the seal of the current epoch to what live mode read ahead:
// held records inside the seal are committed, those past it are dropped.
func (c *cursor) clip(seal Seal, fn ApplyFunc) error {
	if c.pos.epoch != seal.Epoch {
		return nil
	}
	end := position{epoch: seal.Epoch, seq: seal.Seq, off: seal.Length}
	dropped := false
	for _, p := range append(c.held, c.partial...) {
		if p.end.after(end) {
			if !dropped {
				c.next, dropped = p.lsn, true
			}
			continue
		}
		if err := fn(p.lsn, p.payload); err != nil {
			return err
		}
		c.released = p.end
	}
	clear(c.held)
	clear(c.partial)
	c.held, c.partial = c.held[:0], c.partial[:0]
	if c.released.after(end) {
		return fmt.Errorf("%w: record up to %v was applied but the seal of epoch %d ends at %v", ErrCorrupt, c.released, seal.Epoch, end)
	}
	if c.pos.after(end) {
		c.pos, c.batch = end, end
		if !dropped && c.next != 0 {
			c.next = seal.EndLSN + 1
		}
		c.batchNext = c.next
	}
	return nil
}

// readSegment reads [c.pos.off, limit) of seg. It returns done when limit
// is reached. complete: every byte must verify (sealed region, or a segment
// that has a successor); otherwise a bad or short record ends the read
// (not written yet). hold: keep the last complete batch back.
func (c *cursor) readSegment(seg segment, limit int64, complete, hold bool, fn ApplyFunc) (bool, error) {
	if c.pos.off == 0 {
		if limit < HeaderSize && !complete {
			return false, nil
		}
		h, err := readSegHeader(seg)
		if err != nil {
			return false, err
		}
		if c.next == 0 && h.base > max(c.from, 1) {
			return false, fmt.Errorf("%w: log starts at LSN %d (%s), asked for %d", ErrGap, h.base, seg.path, c.from)
		}
		if c.next != 0 && h.base != c.next {
			return false, corrupt(seg.path, 32, "base LSN %d, previous segment ended before %d", h.base, c.next)
		}
		c.next = h.base
		c.pos.off = HeaderSize
		c.batch, c.batchNext = c.pos, c.next
	}
	if c.f == nil || c.f.Name() != seg.path {
		c.close()
		f, err := os.Open(seg.path)
		if err != nil {
			return false, fmt.Errorf("wal: %w", err)
		}
		c.f = f
	}
	c.sc.reset(c.f, seg.path, c.pos.off, limit)
	for {
		rec, at, err := c.sc.next()
		if errors.Is(err, io.EOF) {
			return true, nil
		}
		if err != nil {
			if !errors.Is(err, errIncomplete) && !errors.Is(err, errBadRecord) {
				return false, err // I/O error
			}
			if complete {
				return false, corrupt(seg.path, at, "%v", err)
			}
			return false, nil // live tail: not written yet
		}
		end := position{epoch: seg.epoch, seq: seg.seq, off: c.sc.pos()}
		switch rec.typ {
		case typeSeal:
			if seg.seq != 0 || at != HeaderSize {
				return false, corrupt(seg.path, at, "seal record outside the head of segment 0")
			}
		case typeData:
			if seg.seq == 0 {
				return false, corrupt(seg.path, at, "data record in a seal segment")
			}
			if rec.lsn != c.next {
				return false, corrupt(seg.path, at, "LSN %d, expected %d", rec.lsn, c.next)
			}
			c.next++
			if rec.lsn >= c.from {
				if hold {
					c.partial = append(c.partial, pending{lsn: rec.lsn, payload: slices.Clone(rec.payload), end: end})
				} else {
					if err := fn(rec.lsn, rec.payload); err != nil {
						return false, err
					}
					c.released = end
				}
			}
		}
		c.pos = end
		if rec.batchEnd() {
			c.batch, c.batchNext = end, c.next
			if hold {
				for _, p := range c.held {
					if err := fn(p.lsn, p.payload); err != nil {
						return false, err
					}
					c.released = p.end
				}
				// Drop the delivered payloads (clear: a large batch must
				// not stay referenced from the slices' spare room).
				clear(c.held)
				c.held = append(c.held[:0], c.partial...)
				clear(c.partial)
				c.partial = c.partial[:0]
			}
		}
	}
}
