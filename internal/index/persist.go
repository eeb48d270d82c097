package index

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/bits"
	"unsafe"
)

// File format (all integers little-endian; see doc.go for the rationale):
//
//	header, 48 bytes:
//	  magic "MHAINDEX" | version u32 = 2 | kind u8 | metric u8 | flags u8 | 0 u8 |
//	  dim u32 | M u32 | efConstruction u32 | limit u32 | entry u64 | seed u64
//	per chunk of 4096 ids, for ids below limit (rows = ids in this chunk):
//	  u8 1 if the chunk holds any id, else u8 0 and nothing more, then
//	  present [64]u64 | deleted [64]u64 | vectors rows×dim f32
//	  HNSW only: level rows×u8 | layer-0 links rows×(2M+1) u32 |
//	             for each row with level > 0: level×(M+1) u32
//	trailer: CRC-32C (Castagnoli) of everything before it, u32.
//
// Each link list is [count, ids...]. entry is level<<32 | id, or all ones
// for an empty graph. M, efConstruction, entry and the link sections are 0
// or absent for FLAT.
//
// Vectors are stored as added. Version 1 differs only there: COSINE
// vectors were normalised (and the flags byte was 0). Such an index, read
// by this build, keeps its normalised vectors, says so in
// Stats.Normalised, and is written back as version 2 with flagNormalised.
const (
	fileMagic     = "MHAINDEX"
	fileVersion   = 2
	headerSize    = 48
	oldestVersion = 1 // the oldest version ReadFrom reads

	// flagNormalised: COSINE vectors are stored normalised.
	flagNormalised = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func littleEndian() bool { return binary.NativeEndian.Uint16([]byte{1, 0}) == 1 }

func f32bytes(s []float32) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*4)
}

func u32bytes(s []uint32) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*4)
}

type crcWriter struct {
	w   *bufio.Writer
	crc uint32
	n   int64
	err error
}

func (c *crcWriter) write(p []byte) {
	if c.err != nil {
		return
	}
	c.crc = crc32.Update(c.crc, castagnoli, p)
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
}

func (c *crcWriter) words(a *[chunkWords]atomicU64) {
	var b [chunkWords * 8]byte
	for i := range a {
		binary.LittleEndian.PutUint64(b[i*8:], a[i].Load())
	}
	c.write(b[:])
}

// WriteTo implements Index.
func (f *Flat) WriteTo(w io.Writer) (int64, error) {
	f.writeMu.Lock()
	defer f.writeMu.Unlock()
	return writeIndex(w, f.st, KindFlat, f.metric, HNSWParams{}, 0, nil)
}

// WriteTo implements Index.
func (h *HNSW) WriteTo(w io.Writer) (int64, error) {
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	return writeIndex(w, h.st, KindHNSW, h.metric, h.Params(), h.entry.Load(), h)
}

func writeIndex(w io.Writer, st *store, kind Kind, m Metric, p HNSWParams, entry uint64, h *HNSW) (int64, error) {
	if !littleEndian() {
		return 0, errors.New("index: persistence needs a little-endian host")
	}
	cw := &crcWriter{w: bufio.NewWriterSize(w, 1<<20)}
	limit := st.limit.Load()
	hdr := make([]byte, 0, headerSize)
	hdr = append(hdr, fileMagic...)
	hdr = binary.LittleEndian.AppendUint32(hdr, fileVersion)
	var flags byte
	if m == Cosine && !st.cosine {
		flags |= flagNormalised
	}
	hdr = append(hdr, byte(kind), byte(m), flags, 0)
	hdr = binary.LittleEndian.AppendUint32(hdr, uint32(st.dim))
	hdr = binary.LittleEndian.AppendUint32(hdr, uint32(p.M))
	hdr = binary.LittleEndian.AppendUint32(hdr, uint32(p.EfConstruction))
	hdr = binary.LittleEndian.AppendUint32(hdr, limit)
	hdr = binary.LittleEndian.AppendUint64(hdr, entry)
	hdr = binary.LittleEndian.AppendUint64(hdr, p.Seed)
	cw.write(hdr)
	t := st.chunks()
	for ci := 0; uint64(ci)<<chunkShift < uint64(limit); ci++ {
		c := t[ci]
		if c == nil {
			cw.write([]byte{0})
			continue
		}
		cw.write([]byte{1})
		rows := min(chunkSize, int(limit)-ci<<chunkShift)
		cw.words(&c.present)
		cw.words(&c.deleted)
		cw.write(f32bytes(c.vecs[:rows*st.dim]))
		if h == nil {
			continue
		}
		cw.write(c.level[:rows])
		cw.write(u32bytes(c.links0[:rows*(h.m0+1)]))
		for r := 0; r < rows; r++ {
			if c.level[r] > 0 {
				cw.write(u32bytes(c.upper[r]))
			}
		}
	}
	crc := cw.crc
	cw.write(binary.LittleEndian.AppendUint32(nil, crc))
	if cw.err == nil {
		cw.err = cw.w.Flush()
	}
	if cw.err != nil {
		return cw.n, fmt.Errorf("index: write: %w", cw.err)
	}
	return cw.n, nil
}

type crcReader struct {
	r   io.Reader
	crc uint32
}

func (c *crcReader) full(p []byte) error {
	if _, err := io.ReadFull(c.r, p); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: truncated", ErrCorrupt)
		}
		return err
	}
	c.crc = crc32.Update(c.crc, castagnoli, p)
	return nil
}

func (c *crcReader) words(a *[chunkWords]atomicU64) error {
	var b [chunkWords * 8]byte
	if err := c.full(b[:]); err != nil {
		return err
	}
	for i := range a {
		a[i].Store(binary.LittleEndian.Uint64(b[i*8:]))
	}
	return nil
}

// ReadFrom loads an index written by WriteTo (FLAT or HNSW), verifying the
// checksum and the graph's structure; a damaged file gives an error
// wrapping ErrCorrupt, never a panic or a half-loaded index.
func ReadFrom(r io.Reader) (Index, error) {
	if !littleEndian() {
		return nil, errors.New("index: persistence needs a little-endian host")
	}
	cr := &crcReader{r: bufio.NewReaderSize(r, 1<<20)}
	hdr := make([]byte, headerSize)
	if err := cr.full(hdr); err != nil {
		return nil, err
	}
	if string(hdr[:8]) != fileMagic {
		return nil, fmt.Errorf("%w: bad magic %q", ErrCorrupt, hdr[:8])
	}
	le := binary.LittleEndian
	version := le.Uint32(hdr[8:])
	if version < oldestVersion || version > fileVersion {
		return nil, fmt.Errorf("%w: version %d (this build reads %d to %d)", ErrCorrupt, version, oldestVersion, fileVersion)
	}
	kind, metric, flags := Kind(hdr[12]), Metric(hdr[13]), hdr[14]
	normalised := flags&flagNormalised != 0
	if version == 1 {
		normalised = metric == Cosine
	}
	if version == 1 && flags != 0 || flags&^flagNormalised != 0 || normalised && metric != Cosine || hdr[15] != 0 {
		return nil, fmt.Errorf("%w: version %d, metric %v, flags %#x %#x", ErrCorrupt, version, metric, flags, hdr[15])
	}
	dim := int(le.Uint32(hdr[16:]))
	p := HNSWParams{M: int(le.Uint32(hdr[20:])), EfConstruction: int(le.Uint32(hdr[24:])), Seed: le.Uint64(hdr[40:])}
	limit := le.Uint32(hdr[28:])
	entry := le.Uint64(hdr[32:])
	if limit > maxID+1 {
		return nil, fmt.Errorf("%w: limit %d", ErrCorrupt, limit)
	}
	var (
		st  *store
		idx Index
		h   *HNSW
	)
	switch kind {
	case KindFlat:
		f, err := NewFlat(dim, metric)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		st, idx = f.st, f
	case KindHNSW:
		var err error
		if p.M == 0 || p.EfConstruction == 0 {
			return nil, fmt.Errorf("%w: HNSW with M=%d efConstruction=%d", ErrCorrupt, p.M, p.EfConstruction)
		}
		h, err = NewHNSW(dim, metric, p)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		st, idx = h.st, h
	default:
		return nil, fmt.Errorf("%w: kind %d", ErrCorrupt, kind)
	}
	st.cosine = metric == Cosine && !normalised
	var flag [1]byte
	for ci := 0; uint64(ci)<<chunkShift < uint64(limit); ci++ {
		if err := cr.full(flag[:]); err != nil {
			return nil, err
		}
		if flag[0] == 0 {
			continue
		}
		if flag[0] != 1 {
			return nil, fmt.Errorf("%w: chunk %d flag %d", ErrCorrupt, ci, flag[0])
		}
		c := st.ensure(uint32(ci) << chunkShift)[ci]
		rows := min(chunkSize, int(limit)-ci<<chunkShift)
		if err := cr.words(&c.present); err != nil {
			return nil, err
		}
		if err := cr.words(&c.deleted); err != nil {
			return nil, err
		}
		vecs := c.vecs[:rows*dim]
		if err := cr.full(f32bytes(vecs)); err != nil {
			return nil, err
		}
		for r := 0; r < rows; r++ {
			c.norms[r] = st.norm(vecs[r*dim : (r+1)*dim])
		}
		for w := range c.present {
			c.claimed[w].Store(c.present[w].Load())
		}
		if h == nil {
			continue
		}
		if err := cr.full(c.level[:rows]); err != nil {
			return nil, err
		}
		if err := cr.full(u32bytes(c.links0[:rows*(h.m0+1)])); err != nil {
			return nil, err
		}
		for r := 0; r < rows; r++ {
			l := int(c.level[r])
			if l == 0 {
				continue
			}
			if l > maxLevel {
				return nil, fmt.Errorf("%w: node %d has level %d", ErrCorrupt, ci<<chunkShift+r, l)
			}
			c.upper[r] = make([]uint32, l*(h.m+1))
			if err := cr.full(u32bytes(c.upper[r])); err != nil {
				return nil, err
			}
		}
	}
	want := cr.crc
	var tr [4]byte
	if err := cr.full(tr[:]); err != nil {
		return nil, err
	}
	if got := le.Uint32(tr[:]); got != want {
		return nil, fmt.Errorf("%w: checksum %08x, computed %08x", ErrCorrupt, got, want)
	}
	if err := st.recount(limit); err != nil {
		return nil, err
	}
	if h != nil {
		if err := h.checkGraph(entry); err != nil {
			return nil, err
		}
		h.entry.Store(entry)
	}
	return idx, nil
}

// recount restores the counters from the bitmaps after a load.
func (st *store) recount(limit uint32) error {
	t := st.chunks()
	var live, dead int64
	for id := uint32(0); id < limit && int(id>>chunkShift) < len(t); id++ {
		c := t[id>>chunkShift]
		if c == nil {
			id |= chunkMask // skip the absent chunk
			continue
		}
		w := int(id&chunkMask) >> 6
		bit := uint64(1) << (id & 63)
		p, d := c.present[w].Load()&bit != 0, c.deleted[w].Load()&bit != 0
		switch {
		case p && d:
			dead++
		case p:
			live++
		case d:
			return fmt.Errorf("%w: id %d deleted but not present", ErrCorrupt, id)
		}
	}
	// Bits past limit would make scans read ids the file does not describe.
	if c := st.tail(limit); c != nil {
		for id := limit & chunkMask; id < chunkSize; id++ {
			if c.present[id>>6].Load()&(1<<(id&63)) != 0 {
				return fmt.Errorf("%w: id %d present beyond limit %d", ErrCorrupt, id, limit)
			}
		}
	}
	st.limit.Store(limit)
	st.live.Store(live)
	st.dead.Store(dead)
	return nil
}

// checkGraph verifies that every link names a present node, every list
// fits its capacity and the entry point exists: a search can then never
// index out of range, even on a file that was written by a buggy version.
func (h *HNSW) checkGraph(entry uint64) error {
	limit := h.st.limit.Load()
	if entry == noEntry {
		if h.st.live.Load()+h.st.dead.Load() != 0 {
			return fmt.Errorf("%w: nodes without an entry point", ErrCorrupt)
		}
		return nil
	}
	eid, elev := uint32(entry), int(entry>>32)
	if eid >= limit || !h.st.isPresent(eid) || elev > maxLevel {
		return fmt.Errorf("%w: entry point %d level %d", ErrCorrupt, eid, elev)
	}
	t := h.st.chunks()
	if int(t[eid>>chunkShift].level[eid&chunkMask]) != elev {
		return fmt.Errorf("%w: entry point level mismatch", ErrCorrupt)
	}
	for ci, c := range t {
		if c == nil {
			continue
		}
		for w := range c.present {
			for mask := c.present[w].Load(); mask != 0; mask &= mask - 1 {
				id := uint32(ci)<<chunkShift | uint32(w*64+bits.TrailingZeros64(mask))
				if err := h.checkNode(t, id, elev, limit); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// tail returns the chunk holding limit if limit falls inside one (so ids
// from limit to the chunk's end must be absent), else nil.
func (st *store) tail(limit uint32) *chunk {
	t := st.chunks()
	if limit&chunkMask == 0 || int(limit>>chunkShift) >= len(t) {
		return nil
	}
	return t[limit>>chunkShift]
}

func (h *HNSW) checkNode(t []*chunk, id uint32, top int, limit uint32) error {
	lv := int(t[id>>chunkShift].level[id&chunkMask])
	if lv > top {
		return fmt.Errorf("%w: node %d above the entry level", ErrCorrupt, id)
	}
	for l := 0; l <= lv; l++ {
		ls := h.links(t, id, l)
		if int(ls[0]) > len(ls)-1 {
			return fmt.Errorf("%w: node %d level %d has %d links", ErrCorrupt, id, l, ls[0])
		}
		for _, nb := range ls[1 : 1+ls[0]] {
			if nb >= limit || !h.st.isPresent(nb) || int(t[nb>>chunkShift].level[nb&chunkMask]) < l {
				return fmt.Errorf("%w: node %d level %d links to %d", ErrCorrupt, id, l, nb)
			}
		}
	}
	return nil
}
