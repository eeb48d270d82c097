package wal

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Cut reports a torn tail left out of a seal: bytes written by a writer
// that never synced or never acknowledged them.
type Cut struct {
	Path   string
	Offset int64 // where the sealed region ends
	Bytes  int64 // how many bytes were left out
	Reason string
}

func (c Cut) String() string {
	return fmt.Sprintf("%s: cut %d bytes of torn tail at offset %d (%s)", c.Path, c.Bytes, c.Offset, c.Reason)
}

// sealHint is a position a promoting tailer has already verified (a batch
// boundary) and the next LSN there, so the seal scan starts from it.
type sealHint struct {
	pos  position
	next uint64
}

// sealGroup seals epoch g at the end of the last whole batch of its last
// segment, after syncing that segment: the new owner has already written
// OWNER, so every batch the old owner acknowledged was synced before this
// sync returns and lies before the end found here.
func sealGroup(g *group, hint *sealHint) (Seal, *Cut, error) {
	last := g.last()
	f, err := os.Open(last.path)
	if err != nil {
		return Seal{}, nil, fmt.Errorf("wal: %w", err)
	}
	defer f.Close()
	if err := fdatasync(f); err != nil {
		return Seal{}, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		return Seal{}, nil, fmt.Errorf("wal: %w", err)
	}
	raw := fi.Size()
	last.size = raw
	h, err := readSegHeader(last)
	if err != nil {
		return Seal{}, nil, err
	}
	start, next := int64(HeaderSize), h.base
	if hint != nil && hint.pos.epoch == last.epoch && hint.pos.seq == last.seq && hint.pos.off >= HeaderSize && hint.pos.off <= raw {
		start, next = hint.pos.off, hint.next
	}
	valid, validNext := start, next
	var sc scanner
	sc.reset(f, last.path, start, raw)
	for {
		rec, at, err := sc.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err == nil {
			switch {
			case rec.typ == typeSeal && (last.seq != 0 || at != HeaderSize):
				err = fmt.Errorf("%w: seal record outside the head of segment 0", errBadRecord)
			case rec.typ == typeData && last.seq == 0:
				err = fmt.Errorf("%w: data record in a seal segment", errBadRecord)
			case rec.typ == typeData && rec.lsn != next:
				err = fmt.Errorf("%w: LSN %d, expected %d", errBadRecord, rec.lsn, next)
			}
		}
		if err != nil {
			if !errors.Is(err, errIncomplete) && !errors.Is(err, errBadRecord) {
				return Seal{}, nil, err
			}
			if after, ok := validRecordAfter(f, at+1, raw, validNext); ok {
				return Seal{}, nil, corrupt(last.path, at, "%v, yet a valid record follows at offset %d: refusing to seal over it", err, after)
			}
			break
		}
		if rec.typ == typeData {
			next++
		}
		if rec.batchEnd() {
			valid, validNext = sc.pos(), next
		}
	}
	s := Seal{Epoch: g.epoch, Seq: last.seq, Length: valid, RawLength: raw, EndLSN: validNext - 1}
	if valid < raw {
		return s, &Cut{Path: last.path, Offset: valid, Bytes: raw - valid, Reason: "incomplete batch at the end of an unsealed epoch"}, nil
	}
	return s, nil, nil
}

// validRecordAfter looks for a verifying data record with LSN >= minLSN
// that ends a batch anywhere in [from, end): if one exists, the damage
// before it is not a torn tail but corruption of data that may have been
// acknowledged. A record that does not end a batch proves nothing: its
// batch may be the torn one (a multi-record batch persisted in part, out of
// order), which was never acknowledged.
func validRecordAfter(f *os.File, from, end int64, minLSN uint64) (int64, bool) {
	if from >= end {
		return 0, false
	}
	b := make([]byte, end-from)
	n, _ := f.ReadAt(b, from)
	b = b[:n]
	for i := 0; i+RecordHeaderSize <= len(b); i++ {
		if rec, _, err := decodeRecord(b[i:]); err == nil && rec.typ == typeData && rec.batchEnd() && rec.lsn >= minLSN {
			return from + int64(i), true
		}
	}
	return 0, false
}
