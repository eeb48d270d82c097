package vectordb

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// sampleRecords covers every opcode and column type.
func sampleRecords() []*record {
	s, _ := normalizeSchema(testSchema("c"))
	cols, err := normalizeBatch(&s, toBatch([]oRow{randRow(rand.New(rand.NewPCG(1, 1)), 5), {id: 6, vec: make([]float32, testDim)}}), false, nil)
	if err != nil {
		panic(err)
	}
	return []*record{
		{op: opCreateCollection, coll: 3, info: CollectionInfo{ID: 3, Schema: s, SchemaVersion: 77, CreatedAt: time.Unix(0, 12345), Load: LoadStateNotLoad}},
		{op: opDropCollection, coll: 3},
		{op: opCreateIndex, coll: 3, field: "vec", index: IndexParams{Name: "i", Type: IndexHNSW, Metric: MetricIP, M: 8, EfConstruction: 64}},
		{op: opDropIndex, coll: 3, field: "vec"},
		{op: opSetLoad, coll: 3, load: LoadStateLoaded},
		{op: opInsert, coll: 3, cols: cols, upsert: true},
		{op: opDelete, coll: 3, pks: Column{Type: TypeVarChar, Strings: []string{"a", ""}}},
		{op: opPart, coll: 3, part: 1, parts: 4},
	}
}

func TestRecordRoundTrip(t *testing.T) {
	recs := sampleRecords()
	var bufs [][]byte
	for _, r := range recs {
		bufs = append(bufs, r.encode(nil))
	}
	split, err := splitGroup(encodeGroup(bufs))
	if err != nil || len(split) != len(recs) {
		t.Fatalf("group: %d records, %v", len(split), err)
	}
	for i, b := range split {
		got, err := decodeRecord(b)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		// Names are not stored (columns are positional) and nothing else
		// may differ.
		want := *recs[i]
		for j := range want.cols {
			want.cols[j].Name, want.cols[j].IsDynamic = "", false
		}
		if !bytes.Equal(got.encode(nil), b) || got.op != want.op || got.coll != want.coll ||
			!reflect.DeepEqual(got.info.Schema, want.info.Schema) || got.index != want.index || got.load != want.load ||
			got.part != want.part || got.parts != want.parts {
			t.Fatalf("record %d differs after a round trip:\n%+v\n%+v", i, got, want)
		}
	}
}

// FuzzDecodeRecord: arbitrary bytes never panic, and whatever decodes is
// stable: its encoding decodes to a record with the same encoding (input
// bytes themselves need not be canonical, e.g. a bool byte of 0x30).
func FuzzDecodeRecord(f *testing.F) {
	for _, r := range sampleRecords() {
		f.Add(r.encode(nil))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b)
		if err != nil {
			return
		}
		out := r.encode(nil)
		r2, err := decodeRecord(out)
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if again := r2.encode(nil); !bytes.Equal(again, out) {
			t.Fatalf("encoding not stable:\n%x\n%x", out, again)
		}
	})
}

func FuzzSplitGroup(f *testing.F) {
	f.Add(encodeGroup([][]byte{{1, 2}, {}, {3}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := splitGroup(b)
		if err != nil {
			return
		}
		again, err := splitGroup(encodeGroup(recs))
		if err != nil || len(again) != len(recs) {
			t.Fatalf("split/join/split of %x: %d records, %v", b, len(again), err)
		}
		for i := range recs {
			if !bytes.Equal(again[i], recs[i]) {
				t.Fatalf("record %d of %x changed", i, b)
			}
		}
	})
}
