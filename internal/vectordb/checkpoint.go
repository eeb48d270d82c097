package vectordb

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/milvus-ha/milvus-ha/internal/index"
)

// Checkpoints. A checkpoint is the state after log record L:
//
//	checkpoints/ckpt-<L>-e<epoch>.manifest      the catalog, written last
//	checkpoints/coll-<id>-<L>-e<epoch>.snap     one collection's rows
//	checkpoints/coll-<id>-<L>-e<epoch>.f<field>.idx  its index (internal/index format)
//
// Every file is written to a temporary name, fsynced, renamed and the
// directory fsynced, so a file that exists under its final name is
// complete. Recovery uses the manifest with the highest L whose files all
// verify, then replays the log after L. A collection that did not change
// since the previous checkpoint keeps its old files (the manifest names
// them). Files are named by the writer's epoch: a deposed primary only
// deletes files of its own or older epochs, never the new owner's.
const (
	ckptDir       = "checkpoints"
	manifestMagic = "MHVCKPT1"
	snapMagic     = "MHVSNAP1"
	ckptVersion   = 1
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// ckptWriter writes length-prefixed blocks with a running CRC-32C.
type ckptWriter struct {
	w   *bufio.Writer
	crc hash.Hash32
	err error
}

func (w *ckptWriter) write(p []byte) {
	if w.err != nil {
		return
	}
	w.crc.Write(p)
	_, w.err = w.w.Write(p)
}

func (w *ckptWriter) block(p []byte) {
	var l [4]byte
	binary.LittleEndian.PutUint32(l[:], uint32(len(p)))
	w.write(l[:])
	w.write(p)
}

// writeAtomic creates path via a temporary file: fill writes the content,
// then the file is synced, renamed into place and the directory synced.
func writeAtomic(path string, fill func(w *bufio.Writer) error) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(&syncingWriter{f: f}, 1<<20)
	err = fill(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

// writeBlocks is writeAtomic for this package's block files: magic,
// blocks, CRC-32C trailer.
func writeBlocks(path, magic string, fill func(w *ckptWriter)) error {
	return writeAtomic(path, func(bw *bufio.Writer) error {
		w := &ckptWriter{w: bw, crc: crc32.New(crcTable)}
		w.write([]byte(magic))
		fill(w)
		if w.err == nil {
			var t [4]byte
			binary.LittleEndian.PutUint32(t[:], w.crc.Sum32())
			_, w.err = w.w.Write(t[:])
		}
		return w.err
	})
}

// syncEvery bounds the dirty data a checkpoint leaves in the page cache.
// Without it, hundreds of MB of checkpoint reach the disk in one journal
// commit, and the lease heartbeat's fdatasync (and the log's) waits behind
// it long enough to lose the lease.
const syncEvery = 16 << 20

type syncingWriter struct {
	f     *os.File
	dirty int
}

func (w *syncingWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.dirty += n
	if err == nil && w.dirty >= syncEvery {
		w.dirty = 0
		err = unix.Fdatasync(int(w.f.Fd()))
	}
	return n, err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// ckptReader reads what ckptWriter wrote, checking the CRC at the end.
type ckptReader struct {
	r   *bufio.Reader
	crc hash.Hash32
}

func openCkpt(path, magic string) (*ckptReader, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	r := &ckptReader{r: bufio.NewReaderSize(f, 1<<20), crc: crc32.New(crcTable)}
	m := make([]byte, len(magic))
	if err := r.full(m); err != nil || string(m) != magic {
		f.Close()
		return nil, nil, fmt.Errorf("%w: %s: bad magic", errCorrupt, path)
	}
	return r, f, nil
}

func (r *ckptReader) full(p []byte) error {
	if _, err := io.ReadFull(r.r, p); err != nil {
		return fmt.Errorf("%w: truncated checkpoint file: %w", errCorrupt, err)
	}
	r.crc.Write(p)
	return nil
}

// block reads one length-prefixed block (at most max bytes).
func (r *ckptReader) block(max int) ([]byte, error) {
	var l [4]byte
	if err := r.full(l[:]); err != nil {
		return nil, err
	}
	n := int(binary.LittleEndian.Uint32(l[:]))
	if n > max {
		return nil, fmt.Errorf("%w: block of %d bytes, at most %d expected", errCorrupt, n, max)
	}
	b := make([]byte, n)
	return b, r.full(b)
}

// blockInto reads one block of exactly len(dst) bytes into dst.
func (r *ckptReader) blockInto(dst []byte) error {
	var l [4]byte
	if err := r.full(l[:]); err != nil {
		return err
	}
	if n := int(binary.LittleEndian.Uint32(l[:])); n != len(dst) {
		return fmt.Errorf("%w: block of %d bytes, %d expected", errCorrupt, n, len(dst))
	}
	return r.full(dst)
}

func (r *ckptReader) end() error {
	sum := r.crc.Sum32()
	var t [4]byte
	if _, err := io.ReadFull(r.r, t[:]); err != nil {
		return fmt.Errorf("%w: missing checksum", errCorrupt)
	}
	if binary.LittleEndian.Uint32(t[:]) != sum {
		return fmt.Errorf("%w: checksum mismatch", errCorrupt)
	}
	if _, err := r.r.ReadByte(); err != io.EOF {
		return fmt.Errorf("%w: data after checksum", errCorrupt)
	}
	return nil
}

// collSnap is a consistent capture of one collection at a log position:
// rows [0, rows) of append-only columns never change, so only the
// tombstones are copied.
type collSnap struct {
	info    CollectionInfo
	rows    int
	deleted bitset
	fields  []fieldSnap
}

type fieldSnap struct {
	col    Column // scalar columns truncated to rows
	chunks [][]float32
	dim    int
	index  *vindex
}

// snapshot captures c (caller holds c.mu at least for reading).
func (c *collection) snapshot() collSnap {
	s := collSnap{info: c.info, rows: c.rows, deleted: c.deleted.clone()}
	s.info.Schema.Fields = slices.Clone(c.info.Schema.Fields)
	for _, fs := range c.fields {
		f := fieldSnap{col: truncColumn(fs.col, c.rows), index: fs.index}
		if fs.vecs != nil {
			f.chunks = slices.Clone(fs.vecs.chunks)
			f.dim = fs.vecs.dim
		}
		s.fields = append(s.fields, f)
	}
	return s
}

func truncColumn(c Column, n int) Column {
	switch c.Type {
	case TypeBool:
		c.Bools = c.Bools[:n:n]
	case TypeInt8, TypeInt16, TypeInt32, TypeInt64:
		c.Ints = c.Ints[:n:n]
	case TypeFloat:
		c.Floats = c.Floats[:n:n]
	case TypeDouble:
		c.Doubles = c.Doubles[:n:n]
	case TypeVarChar:
		c.Strings = c.Strings[:n:n]
	case TypeJSON:
		c.JSON = c.JSON[:n:n]
	case TypeArray:
		c.Arrays = c.Arrays[:n:n]
	}
	if c.Valid != nil {
		c.Valid = c.Valid[:n:n]
	}
	return c
}

// maxBlock bounds one block on read: a column of strings or JSON of a
// full collection, or one vector chunk.
const maxBlock = 1 << 30

func snapName(id int64, lsn, epoch uint64) string {
	return fmt.Sprintf("coll-%d-%020d-e%d.snap", id, lsn, epoch)
}

// writeSnap writes the collection's files; returns their names (the .snap
// first).
func writeSnap(dir string, s *collSnap, lsn, epoch uint64) ([]string, error) {
	name := snapName(s.info.ID, lsn, epoch)
	files := []string{name}
	type idxFile struct {
		field   int64
		name    string
		indexed uint32
		params  IndexParams
	}
	var idx []idxFile
	for i, f := range s.fields {
		if f.index == nil {
			continue
		}
		fid := s.info.Schema.Fields[i].ID
		in := idxFile{field: fid, name: fmt.Sprintf("%s.f%d.idx", strings.TrimSuffix(name, ".snap"), fid), params: f.index.params}
		// Rows below indexed are in the index before WriteTo starts.
		in.indexed = f.index.indexed.Load()
		err := writeAtomic(filepath.Join(dir, in.name), func(w *bufio.Writer) error {
			_, err := f.index.ann.WriteTo(w)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("checkpoint index %q: %w", in.params.Name, err)
		}
		idx = append(idx, in)
		files = append(files, in.name)
	}
	err := writeBlocks(filepath.Join(dir, name), snapMagic, func(w *ckptWriter) {
		e := encoder{}
		e.uvarint(ckptVersion)
		e.uvarint(lsn)
		e.varint(s.info.ID)
		e.uvarint(s.info.SchemaVersion)
		e.varint(s.info.CreatedAt.UnixNano())
		e.varint(int64(s.info.Load))
		encodeSchema(&e, &s.info.Schema)
		e.uvarint(uint64(s.rows))
		e.uvarint(uint64(len(s.deleted)))
		for _, x := range s.deleted {
			e.u64(x)
		}
		e.uvarint(uint64(len(idx)))
		for _, in := range idx {
			e.varint(in.field)
			e.string(in.name)
			e.uvarint(uint64(in.indexed))
			e.string(in.params.Name)
			e.string(string(in.params.Type))
			e.string(string(in.params.Metric))
			e.uvarint(uint64(in.params.M))
			e.uvarint(uint64(in.params.EfConstruction))
		}
		w.block(e.b)
		for _, f := range s.fields {
			if f.dim == 0 {
				e := encoder{}
				encodeColumn(&e, &f.col)
				w.block(e.b)
				continue
			}
			left := s.rows
			var scratch []float32
			for k, ch := range f.chunks {
				if left == 0 {
					break
				}
				n := min(left, chunkRows)
				if ch == nil { // released: the index holds the rows
					scratch = scratch[:0]
					for r := uint32(k) << chunkShift; r < uint32(k)<<chunkShift+uint32(n); r++ {
						v, err := f.index.ann.Vector(r)
						if err != nil && w.err == nil {
							w.err = fmt.Errorf("row %d from its index: %w", r, err)
						}
						scratch = append(scratch, v...)
					}
					ch = scratch
				}
				w.block(f32bytes(ch[:n*f.dim]))
				left -= n
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("checkpoint collection %q: %w", s.info.Schema.Name, err)
	}
	return files, nil
}

// f32bytes views floats as little-endian bytes (checkpoints are only
// written and read on little-endian hosts; see nativeLE).
func f32bytes(v []float32) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
}

// readSnap loads a collection written by writeSnap.
func readSnap(dir, name string, log func(msg string, args ...any)) (*collection, uint64, error) {
	r, f, err := openCkpt(filepath.Join(dir, name), snapMagic)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	head, err := r.block(maxBlock)
	if err != nil {
		return nil, 0, err
	}
	d := decoder{b: head}
	if v := d.uvarint(); v != ckptVersion {
		return nil, 0, fmt.Errorf("%w: snapshot format %d, this build reads %d", errCorrupt, v, ckptVersion)
	}
	lsn := d.uvarint()
	var info CollectionInfo
	info.ID = d.varint()
	info.SchemaVersion = d.uvarint()
	info.CreatedAt = time.Unix(0, d.varint())
	info.Load = LoadState(d.varint())
	info.Schema = decodeSchema(&d)
	rows := int(d.uvarint())
	deleted := make(bitset, d.count(8))
	for i := range deleted {
		deleted[i] = d.u64()
	}
	type idxFile struct {
		field   int64
		name    string
		indexed uint32
		params  IndexParams
	}
	idx := make([]idxFile, d.count(4))
	for i := range idx {
		idx[i].field = d.varint()
		idx[i].name = d.string()
		idx[i].indexed = uint32(d.uvarint())
		idx[i].params.Name = d.string()
		idx[i].params.Type = IndexType(d.string())
		idx[i].params.Metric = Metric(d.string())
		idx[i].params.M = int(d.uvarint())
		idx[i].params.EfConstruction = int(d.uvarint())
	}
	if d.err != nil {
		return nil, 0, d.err
	}
	if rows > 1<<31 || len(info.Schema.Fields) == 0 {
		return nil, 0, fmt.Errorf("%w: snapshot header", errCorrupt)
	}
	c := newCollection(info)
	c.rows = rows
	// Indexes first: a full chunk the index already holds is not kept twice
	// (see vindex.release).
	for _, in := range idx {
		fs := c.fieldByID(in.field)
		if fs == nil || fs.vecs == nil {
			return nil, 0, fmt.Errorf("%w: index on unknown field %d in %s", errCorrupt, in.field, name)
		}
		ann, err := readIndex(filepath.Join(dir, in.name))
		if err != nil {
			// The graph can always be rebuilt from the rows.
			log("checkpoint index unusable, rebuilding", "file", in.name, "err", err)
			ann, in.indexed = nil, 0
		}
		v, err := newVindex(in.params, fs.f.Dim, ann, nil)
		if err != nil {
			return nil, 0, err
		}
		v.indexed.Store(min(in.indexed, uint32(rows)))
		fs.index = v
	}
	var scratch []float32
	for _, fs := range c.fields {
		if fs.vecs != nil {
			covered := 0
			if fs.index != nil {
				covered = int(fs.index.indexed.Load()) >> chunkShift
			}
			left := rows
			for k := 0; left > 0; k++ {
				n := min(left, chunkRows)
				var ch []float32
				if k < covered && n == chunkRows && fs.index.holdsChunk(k) {
					scratch = slices.Grow(scratch[:0], n*fs.f.Dim)[:n*fs.f.Dim]
					if err := r.blockInto(f32bytes(scratch)); err != nil {
						return nil, 0, err
					}
				} else {
					ch = make([]float32, n*fs.f.Dim, chunkRows*fs.f.Dim)
					if err := r.blockInto(f32bytes(ch)); err != nil {
						return nil, 0, err
					}
				}
				fs.vecs.chunks = append(fs.vecs.chunks, ch)
				fs.vecs.n += n
				left -= n
			}
			continue
		}
		b, err := r.block(maxBlock)
		if err != nil {
			return nil, 0, err
		}
		d := decoder{b: b}
		col := decodeColumn(&d, fs.f.Name, fs.f.IsDynamic)
		if d.err != nil || col.Len() != rows || col.Type != fs.f.Type {
			return nil, 0, fmt.Errorf("%w: column %q of %s", errCorrupt, fs.f.Name, name)
		}
		if fs.f.Nullable && col.Valid == nil {
			col.Valid = make([]bool, rows)
			for i := range col.Valid {
				col.Valid[i] = true
			}
		}
		fs.col = col
	}
	if err := r.end(); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", name, err)
	}
	c.deleted = deleted
	c.live = rows
	for r := range uint32(rows) {
		if deleted.has(r) {
			c.live--
			continue
		}
		if c.pkInt != nil {
			c.pkInt[c.pk.col.Ints[r]] = r
		} else {
			c.pkStr[c.pk.col.Strings[r]] = r
		}
	}
	return c, lsn, nil
}

func readIndex(path string) (index.Index, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return index.ReadFrom(bufio.NewReaderSize(f, 1<<20))
}

// manifest is the catalog of a checkpoint.
type manifest struct {
	lsn, epoch uint64
	nextID     int64
	lastTS     uint64
	autoID     int64
	colls      [][]string // per collection: its files, the .snap first
}

func manifestName(lsn, epoch uint64) string {
	return fmt.Sprintf("ckpt-%020d-e%d.manifest", lsn, epoch)
}

func writeManifest(dir string, m *manifest) error {
	return writeBlocks(filepath.Join(dir, manifestName(m.lsn, m.epoch)), manifestMagic, func(w *ckptWriter) {
		e := encoder{}
		e.uvarint(ckptVersion)
		e.uvarint(m.lsn)
		e.uvarint(m.epoch)
		e.varint(m.nextID)
		e.uvarint(m.lastTS)
		e.varint(m.autoID)
		e.uvarint(uint64(len(m.colls)))
		for _, files := range m.colls {
			e.uvarint(uint64(len(files)))
			for _, f := range files {
				e.string(f)
			}
		}
		w.block(e.b)
	})
}

func readManifest(path string) (*manifest, error) {
	r, f, err := openCkpt(path, manifestMagic)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := r.block(64 << 20)
	if err != nil {
		return nil, err
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	d := decoder{b: b}
	if v := d.uvarint(); v != ckptVersion {
		return nil, fmt.Errorf("%w: manifest format %d, this build reads %d", errCorrupt, v, ckptVersion)
	}
	m := &manifest{lsn: d.uvarint(), epoch: d.uvarint(), nextID: d.varint(), lastTS: d.uvarint(), autoID: d.varint()}
	m.colls = make([][]string, d.count(2))
	for i := range m.colls {
		m.colls[i] = make([]string, d.count(1))
		for j := range m.colls[i] {
			m.colls[i][j] = d.string()
		}
	}
	return m, d.err
}

// manifests lists the checkpoint manifests in dir, newest first.
func manifests(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "ckpt-") && strings.HasSuffix(e.Name(), ".manifest") {
			out = append(out, e.Name())
		}
	}
	// Zero-padded LSNs sort lexically; the epoch suffix breaks ties.
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(b, a) })
	return out, nil
}

// fileEpoch extracts the writer's epoch from a checkpoint file name.
func fileEpoch(name string) (uint64, bool) {
	i := strings.LastIndex(name, "-e")
	if i < 0 {
		return 0, false
	}
	rest := name[i+2:]
	j := strings.IndexByte(rest, '.')
	if j < 0 {
		return 0, false
	}
	e, err := strconv.ParseUint(rest[:j], 10, 64)
	return e, err == nil
}
