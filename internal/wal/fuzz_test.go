package wal

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"
)

// FuzzRecord: decoding never panics and never accepts a record whose
// checksum fails; an accepted record re-encodes to the same bytes.
func FuzzRecord(f *testing.F) {
	f.Add(appendRecord(nil, typeData, flagBatchEnd, 42, []byte("hello")))
	f.Add(appendRecord(nil, typeMarker, flagBatchEnd, 7, nil))
	f.Add(appendRecord(nil, typeSeal, flagBatchEnd, 0, encodeSeals([]Seal{{Epoch: 1, Seq: 2, Length: 3, RawLength: 4, EndLSN: 5}})))
	f.Add(appendRecord(nil, typeData, 0, 1, bytes.Repeat([]byte{0xab}, 300))[:100])
	f.Add(make([]byte, 40))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, n, err := decodeRecord(b)
		if err != nil {
			if n != 0 {
				t.Fatalf("error %v with size %d", err, n)
			}
			return
		}
		if n < RecordHeaderSize || n > len(b) || n != RecordHeaderSize+len(rec.payload) {
			t.Fatalf("size %d of %d bytes, payload %d", n, len(b), len(rec.payload))
		}
		if binary.LittleEndian.Uint32(b) != crc32.Checksum(b[4:n], castagnoli) {
			t.Fatal("accepted a record whose checksum fails")
		}
		if re := appendRecord(nil, rec.typ, rec.flags, rec.lsn, rec.payload); !bytes.Equal(re, b[:n]) {
			t.Fatalf("re-encodes to %x, was %x", re, b[:n])
		}
		if rec.typ == typeSeal {
			decodeSeals(rec.payload) // must not panic
		}
	})
}

// FuzzSegHeader: never panics; an accepted header re-encodes identically.
func FuzzSegHeader(f *testing.F) {
	f.Add(segHeader{epoch: 3, seq: 4, base: 5}.encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := decodeSegHeader(b)
		if err != nil {
			return
		}
		if re := h.encode(); !bytes.Equal(re[:44], b[:44]) {
			t.Fatalf("re-encodes to %x, was %x", re, b[:HeaderSize])
		}
	})
}
