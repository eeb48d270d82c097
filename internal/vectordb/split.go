package vectordb

import (
	"encoding/binary"
	"fmt"
)

// Split writes. A write whose record encodes to more than maxRecordBytes
// (an insert, upsert or delete of many rows: Milvus clients send up to
// 256 MiB) is logged as row chunks: entry k of n holds the record of the
// k-th run of rows, at most maxRecordBytes, followed by a part record
// (k, n). The n entries are appended as one atomic batch
// (logBackend.Append), so the log holds all of them or none, and they are
// applied only together, under one lock of the collection: no reader, on
// the primary or on a standby, sees part of the write. Applying the chunks
// in order gives the same rows, row ids and tombstones as applying the
// whole record.

// splitEntries encodes r, whose whole record is size bytes, as the log
// entries of a split write. Chunks aim at half the limit, so that uneven
// rows rarely need a second try; a chunk still too large is halved. A
// single row above the limit cannot be logged. Each chunk is encoded in
// place in its entry (the part record, which needs the chunk count, comes
// last), so the entries are the only copy of the write.
func splitEntries(r *record, size int) ([][]byte, error) {
	rows := r.rows()
	if r.op != opInsert && r.op != opDelete || rows < 1 {
		return nil, fmt.Errorf("%w: request encodes to %d bytes, limit %d", ErrInvalidArgument, size, maxRecordBytes)
	}
	var entries [][]byte
	var encode func(from, to int) error
	encode = func(from, to int) error {
		// The chunk goes after room for its length; the length is then
		// written right before it.
		const room = binary.MaxVarintLen64
		b := r.slice(from, to).encode(make([]byte, room))
		n := len(b) - room
		if n <= maxRecordBytes {
			var l [binary.MaxVarintLen64]byte
			k := binary.PutUvarint(l[:], uint64(n))
			copy(b[room-k:], l[:k])
			entries = append(entries, b[room-k:])
			return nil
		}
		if to-from == 1 {
			return fmt.Errorf("%w: row %d encodes to %d bytes, limit %d", ErrInvalidArgument, from, n, maxRecordBytes)
		}
		mid := from + (to-from)/2
		if err := encode(from, mid); err != nil {
			return err
		}
		return encode(mid, to)
	}
	per := max(1, int(int64(rows)*int64(maxRecordBytes/2)/int64(size)))
	for from := 0; from < rows; from += per {
		if err := encode(from, min(from+per, rows)); err != nil {
			return nil, err
		}
	}
	for k := range entries {
		part := (&record{op: opPart, coll: r.coll, part: k, parts: len(entries)}).encode(nil)
		entries[k] = append(binary.AppendUvarint(entries[k], uint64(len(part))), part...)
	}
	return entries, nil
}

// rows is the row count of an insert or delete record.
func (r *record) rows() int {
	switch r.op {
	case opInsert:
		if len(r.cols) > 0 {
			return r.cols[0].Len()
		}
	case opDelete:
		return r.pks.Len()
	}
	return 0
}

// slice returns rows [from, to) of an insert or delete record, sharing
// storage.
func (r *record) slice(from, to int) *record {
	out := *r
	if r.op == opDelete {
		out.pks = r.pks.slice(from, to)
		return &out
	}
	out.cols = make([]Column, len(r.cols))
	for i := range r.cols {
		out.cols[i] = r.cols[i].slice(from, to)
	}
	return &out
}

// slice returns rows [from, to) of c, sharing storage.
func (c *Column) slice(from, to int) Column {
	out := Column{Name: c.Name, Type: c.Type, IsDynamic: c.IsDynamic, Dim: c.Dim}
	if c.Valid != nil {
		out.Valid = c.Valid[from:to]
	}
	switch c.Type {
	case TypeBool:
		out.Bools = c.Bools[from:to]
	case TypeInt8, TypeInt16, TypeInt32, TypeInt64:
		out.Ints = c.Ints[from:to]
	case TypeFloat:
		out.Floats = c.Floats[from:to]
	case TypeDouble:
		out.Doubles = c.Doubles[from:to]
	case TypeVarChar:
		out.Strings = c.Strings[from:to]
	case TypeJSON:
		out.JSON = c.JSON[from:to]
	case TypeArray:
		out.Arrays = c.Arrays[from:to]
	case TypeFloatVector:
		out.Vectors = c.Vectors[from*c.Dim : to*c.Dim]
	}
	return out
}

// splitWrite gathers the parts of a split write while the log is replayed
// (recovery, standby, promote: one goroutine at a time).
type splitWrite struct {
	parts []*record // the chunks read so far, in order
	n     int       // how many the write has
	last  uint64    // LSN of the last part read
}

// add takes one entry of a split write (its chunk and its part record) and
// returns the whole write's chunks once its last part is read, nil before.
// Part 0 starts a write afresh: a replay restarted after an error or a
// failed promote delivers the write again from its first entry. Parts out
// of sequence mean a damaged log.
func (s *splitWrite) add(lsn uint64, recs []*record) ([]*record, error) {
	p, c := recs[len(recs)-1], recs[0]
	if len(recs) != 2 || c.coll != p.coll || c.op != opInsert && c.op != opDelete {
		return nil, fmt.Errorf("%w: part %d of a split write holds %d records, want an insert or delete of collection %d and the part", errCorrupt, p.part, len(recs), p.coll)
	}
	if p.part == 0 {
		s.parts, s.n = s.parts[:0], p.parts
	} else if p.parts != s.n || p.part != len(s.parts) || lsn != s.last+1 || c.coll != s.parts[0].coll || c.op != s.parts[0].op {
		return nil, fmt.Errorf("%w: part %d of %d out of sequence (have %d of %d, last at entry %d)", errCorrupt, p.part, p.parts, len(s.parts), s.n, s.last)
	}
	s.parts, s.last = append(s.parts, c), lsn
	if len(s.parts) < s.n {
		return nil, nil
	}
	whole := s.parts
	s.reset()
	return whole, nil
}

// pending reports whether a split write was started but not finished.
func (s *splitWrite) pending() bool { return len(s.parts) > 0 }

// reset forgets a write in progress (the replay starts over).
func (s *splitWrite) reset() { s.parts, s.n, s.last = nil, 0, 0 }
