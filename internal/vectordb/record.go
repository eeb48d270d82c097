package vectordb

import (
	"fmt"
	"time"
)

// Log records. Every state change is one record; the first byte is the
// record format version, the second the operation:
//
//	v1 create-collection  id, schema version, created (unix ns), load state, schema
//	v1 drop-collection    id
//	v1 create-index       id, field name, index name, type, metric, M, efConstruction
//	v1 drop-index         id, field name
//	v1 set-load           id, load state
//	v1 insert             id, column count, columns in schema order (keys resolved, auto IDs filled)
//	v1 delete             id, key column (filters are resolved to keys before logging)
//	v1 part               id, index, count: ends each log entry of a write split
//	                      over count entries, after the entry's insert or delete
//	                      of one run of rows (split.go)
//
// Records are deterministic: applying the same records in the same order
// always yields the same rows with the same row ids. (A build older than
// the part record refuses a log that holds one: unknown op 8.)
const recordVersion = 1

type opcode byte

const (
	opCreateCollection opcode = 1
	opDropCollection   opcode = 2
	opCreateIndex      opcode = 3
	opDropIndex        opcode = 4
	opSetLoad          opcode = 5
	opInsert           opcode = 6
	opDelete           opcode = 7
	opPart             opcode = 8
)

type record struct {
	op     opcode
	coll   int64
	info   CollectionInfo // create-collection
	field  string         // create-index, drop-index
	index  IndexParams    // create-index (resolved)
	load   LoadState      // set-load
	cols   []Column       // insert
	pks    Column         // delete
	upsert bool           // insert: only for stats/logging, applied identically
	part   int            // part: index of this entry in its split write
	parts  int            // part: entries of the split write
}

func (r *record) encode(dst []byte) []byte {
	e := encoder{b: dst}
	e.byte(recordVersion)
	e.byte(byte(r.op))
	e.varint(r.coll)
	switch r.op {
	case opCreateCollection:
		e.uvarint(r.info.SchemaVersion)
		e.varint(r.info.CreatedAt.UnixNano())
		e.varint(int64(r.info.Load))
		encodeSchema(&e, &r.info.Schema)
	case opCreateIndex:
		e.string(r.field)
		e.string(r.index.Name)
		e.string(string(r.index.Type))
		e.string(string(r.index.Metric))
		e.uvarint(uint64(r.index.M))
		e.uvarint(uint64(r.index.EfConstruction))
	case opDropIndex:
		e.string(r.field)
	case opSetLoad:
		e.varint(int64(r.load))
	case opInsert:
		e.bool(r.upsert)
		e.uvarint(uint64(len(r.cols)))
		for i := range r.cols {
			encodeColumn(&e, &r.cols[i])
		}
	case opDelete:
		encodeColumn(&e, &r.pks)
	case opPart:
		e.uvarint(uint64(r.part))
		e.uvarint(uint64(r.parts))
	}
	return e.b
}

// decodeRecord parses a record. Column names are not stored; the applier
// matches columns to fields by position.
func decodeRecord(b []byte) (*record, error) {
	d := decoder{b: b}
	if v := d.byte(); v != recordVersion && d.err == nil {
		return nil, fmt.Errorf("%w: record format version %d, this build reads %d", errCorrupt, v, recordVersion)
	}
	r := &record{op: opcode(d.byte()), coll: d.varint()}
	switch r.op {
	case opCreateCollection:
		r.info.ID = r.coll
		r.info.SchemaVersion = d.uvarint()
		r.info.CreatedAt = time.Unix(0, d.varint())
		r.info.Load = LoadState(d.varint())
		r.info.Schema = decodeSchema(&d)
	case opDropCollection:
	case opCreateIndex:
		r.field = d.string()
		r.index.Name = d.string()
		r.index.Type = IndexType(d.string())
		r.index.Metric = Metric(d.string())
		r.index.M = int(d.uvarint())
		r.index.EfConstruction = int(d.uvarint())
	case opDropIndex:
		r.field = d.string()
	case opSetLoad:
		r.load = LoadState(d.varint())
	case opInsert:
		r.upsert = d.bool()
		n := d.count(3)
		r.cols = make([]Column, n)
		for i := range r.cols {
			r.cols[i] = decodeColumn(&d, "", false)
		}
	case opDelete:
		r.pks = decodeColumn(&d, "", false)
	case opPart:
		part, parts := d.uvarint(), d.uvarint()
		if d.err == nil && (parts < 2 || part >= parts || parts > 1<<31) {
			return nil, fmt.Errorf("%w: part %d of %d", errCorrupt, part, parts)
		}
		r.part, r.parts = int(part), int(parts)
	default:
		if d.err == nil {
			return nil, fmt.Errorf("%w: unknown op %d", errCorrupt, r.op)
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes after op %d", errCorrupt, len(d.b), r.op)
	}
	return r, nil
}
