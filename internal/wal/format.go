package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Segment header, format version 1, little-endian, HeaderSize bytes:
//
//	[0:8]   magic "MHAWALSG"
//	[8:10]  format version (1)
//	[10:16] reserved, zero
//	[16:24] epoch (must match the file name)
//	[24:32] seq (must match the file name)
//	[32:40] base LSN: the LSN of the first data record written after it
//	[40:44] CRC32C of [0:40]
//	[44:48] reserved, zero
//
// Record, RecordHeaderSize bytes of header then the payload:
//
//	[0:4]   CRC32C of everything after this field: [4:20+len]
//	[4:8]   payload length
//	[8]     type: 1 data, 2 seal, 3 marker
//	[9]     flags: bit 0 = last record of its group commit (batch end)
//	[10:12] reserved, zero
//	[12:20] LSN (data: the record's LSN; marker: last acknowledged LSN; seal: 0)
//	[20:]   payload
const (
	HeaderSize       = 48
	RecordHeaderSize = 20
	// FormatVersion is the segment format written by this package.
	FormatVersion = 1
	// MaxPayload is the largest payload Append accepts.
	MaxPayload = 64 << 20
)

const (
	typeData   = 1
	typeSeal   = 2
	typeMarker = 3

	flagBatchEnd = 1
)

var (
	segMagic   = [8]byte{'M', 'H', 'A', 'W', 'A', 'L', 'S', 'G'}
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

type segHeader struct {
	epoch, seq, base uint64
}

func (h segHeader) encode() []byte {
	b := make([]byte, HeaderSize)
	copy(b, segMagic[:])
	binary.LittleEndian.PutUint16(b[8:10], FormatVersion)
	binary.LittleEndian.PutUint64(b[16:24], h.epoch)
	binary.LittleEndian.PutUint64(b[24:32], h.seq)
	binary.LittleEndian.PutUint64(b[32:40], h.base)
	binary.LittleEndian.PutUint32(b[40:44], crc32.Checksum(b[:40], castagnoli))
	return b
}

func decodeSegHeader(b []byte) (segHeader, error) {
	if len(b) < HeaderSize {
		return segHeader{}, fmt.Errorf("segment header: %d bytes, want %d", len(b), HeaderSize)
	}
	if !bytes.Equal(b[:8], segMagic[:]) {
		return segHeader{}, fmt.Errorf("segment header: bad magic %q", b[:8])
	}
	if got, want := binary.LittleEndian.Uint32(b[40:44]), crc32.Checksum(b[:40], castagnoli); got != want {
		return segHeader{}, fmt.Errorf("segment header: checksum %08x, computed %08x", got, want)
	}
	if v := binary.LittleEndian.Uint16(b[8:10]); v != FormatVersion {
		return segHeader{}, fmt.Errorf("segment header: format version %d, this build reads %d", v, FormatVersion)
	}
	if !bytes.Equal(b[10:16], make([]byte, 6)) {
		return segHeader{}, fmt.Errorf("segment header: reserved bytes not zero")
	}
	return segHeader{
		epoch: binary.LittleEndian.Uint64(b[16:24]),
		seq:   binary.LittleEndian.Uint64(b[24:32]),
		base:  binary.LittleEndian.Uint64(b[32:40]),
	}, nil
}

// record is one decoded record; payload aliases the input buffer.
type record struct {
	typ     byte
	flags   byte
	lsn     uint64
	payload []byte
}

func (r record) batchEnd() bool { return r.flags&flagBatchEnd != 0 }

// appendRecord encodes a record onto dst.
func appendRecord(dst []byte, typ, flags byte, lsn uint64, payload []byte) []byte {
	start := len(dst)
	var h [RecordHeaderSize]byte
	binary.LittleEndian.PutUint32(h[4:8], uint32(len(payload)))
	h[8], h[9] = typ, flags
	binary.LittleEndian.PutUint64(h[12:20], lsn)
	dst = append(dst, h[:]...)
	dst = append(dst, payload...)
	c := crc32.Update(0, castagnoli, dst[start+4:])
	binary.LittleEndian.PutUint32(dst[start:start+4], c)
	return dst
}

// errIncomplete means the buffer ends inside the record: more bytes may
// still arrive (live tail) or the record is torn.
var errIncomplete = errors.New("incomplete record")

// errBadRecord is wrapped by every verification failure of a record.
var errBadRecord = errors.New("bad record")

// decodeRecord decodes the record at the start of b and returns it with its
// encoded size. It never accepts a record whose checksum fails.
func decodeRecord(b []byte) (record, int, error) {
	if len(b) < RecordHeaderSize {
		return record{}, 0, errIncomplete
	}
	n := binary.LittleEndian.Uint32(b[4:8])
	if n > MaxPayload {
		return record{}, 0, fmt.Errorf("%w: length %d above limit %d", errBadRecord, n, MaxPayload)
	}
	typ, flags := b[8], b[9]
	if typ < typeData || typ > typeMarker {
		return record{}, 0, fmt.Errorf("%w: type %d unknown", errBadRecord, typ)
	}
	if flags&^flagBatchEnd != 0 || b[10] != 0 || b[11] != 0 {
		return record{}, 0, fmt.Errorf("%w: flags %#x/reserved %#x %#x not zero", errBadRecord, flags, b[10], b[11])
	}
	size := RecordHeaderSize + int(n)
	if len(b) < size {
		return record{}, 0, errIncomplete
	}
	if got, want := binary.LittleEndian.Uint32(b[0:4]), crc32.Checksum(b[4:size], castagnoli); got != want {
		return record{}, 0, fmt.Errorf("%w: checksum %08x, computed %08x", errBadRecord, got, want)
	}
	return record{typ: typ, flags: flags, lsn: binary.LittleEndian.Uint64(b[12:20]), payload: b[RecordHeaderSize:size]}, size, nil
}

// Seal records where an earlier epoch's log ends. The new owner writes the
// seals of every unsealed earlier epoch as the first record of its epoch's
// segment 0.
type Seal struct {
	Epoch uint64 // the sealed epoch
	Seq   uint64 // its last segment at seal time; later segments are ignored
	// Length is the end of the last whole batch in that segment: recovery
	// reads it only up to here, and every record before must verify.
	Length int64
	// RawLength is the file size seen at seal time; RawLength-Length bytes
	// of torn tail were cut.
	RawLength int64
	// EndLSN is the LSN of the last data record of the sealed epoch (or of
	// the log before it, if the epoch wrote none).
	EndLSN uint64
}

const sealEntrySize = 40

func encodeSeals(seals []Seal) []byte {
	b := make([]byte, 4, 4+len(seals)*sealEntrySize)
	binary.LittleEndian.PutUint32(b, uint32(len(seals)))
	for _, s := range seals {
		var e [sealEntrySize]byte
		binary.LittleEndian.PutUint64(e[0:8], s.Epoch)
		binary.LittleEndian.PutUint64(e[8:16], s.Seq)
		binary.LittleEndian.PutUint64(e[16:24], uint64(s.Length))
		binary.LittleEndian.PutUint64(e[24:32], uint64(s.RawLength))
		binary.LittleEndian.PutUint64(e[32:40], s.EndLSN)
		b = append(b, e[:]...)
	}
	return b
}

func decodeSeals(b []byte) ([]Seal, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("seal record: %d bytes", len(b))
	}
	n := binary.LittleEndian.Uint32(b)
	if uint64(len(b)-4) != uint64(n)*sealEntrySize {
		return nil, fmt.Errorf("seal record: %d entries in %d bytes", n, len(b))
	}
	out := make([]Seal, n)
	for i := range out {
		e := b[4+i*sealEntrySize:]
		out[i] = Seal{
			Epoch:     binary.LittleEndian.Uint64(e[0:8]),
			Seq:       binary.LittleEndian.Uint64(e[8:16]),
			Length:    int64(binary.LittleEndian.Uint64(e[16:24])),
			RawLength: int64(binary.LittleEndian.Uint64(e[24:32])),
			EndLSN:    binary.LittleEndian.Uint64(e[32:40]),
		}
		if out[i].Length < 0 || out[i].RawLength < out[i].Length {
			return nil, fmt.Errorf("seal record: entry %d lengths %d/%d", i, out[i].Length, out[i].RawLength)
		}
	}
	return out, nil
}
