package vectordb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unsafe"
)

// Binary encoding shared by log records and checkpoint files: varints for
// integers and lengths, raw little-endian IEEE floats, length-prefixed
// strings. The decoder never panics on malformed input: it records the
// first error and returns zero values from then on.

var errCorrupt = errors.New("vectordb: corrupt record")

// nativeLE: vectors are copied as raw memory when the host is little-endian.
var nativeLE = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

type encoder struct{ b []byte }

func (e *encoder) byte(v byte)      { e.b = append(e.b, v) }
func (e *encoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}
func (e *encoder) bytes(v []byte) { e.uvarint(uint64(len(v))); e.b = append(e.b, v...) }
func (e *encoder) string(v string) {
	e.uvarint(uint64(len(v)))
	e.b = append(e.b, v...)
}
func (e *encoder) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }

func (e *encoder) float32s(v []float32) {
	if nativeLE && len(v) > 0 {
		e.b = append(e.b, unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))...)
		return
	}
	for _, f := range v {
		e.u32(math.Float32bits(f))
	}
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", errCorrupt, what)
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail("short byte")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) bool() bool { return d.byte() != 0 }

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length that must fit in the remaining input at minSize
// bytes per element (so a corrupt length cannot trigger a huge allocation).
func (d *decoder) count(minSize int) int {
	v := d.uvarint()
	if minSize < 1 {
		minSize = 1
	}
	if v > uint64(len(d.b)/minSize) {
		d.fail("length beyond end of input")
		return 0
	}
	return int(v)
}

func (d *decoder) raw(n int) []byte {
	if n < 0 || n > len(d.b) {
		d.fail("short input")
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.count(1)
	return append([]byte(nil), d.raw(n)...)
}

func (d *decoder) string() string { return string(d.raw(d.count(1))) }

func (d *decoder) u64() uint64 {
	b := d.raw(8)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

func (d *decoder) float32s(n int) []float32 {
	b := d.raw(4 * n)
	if b == nil || n == 0 {
		return nil
	}
	out := make([]float32, n)
	if nativeLE {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), 4*n), b)
		return out
	}
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// encodeSchema / decodeSchema: the schema as stored in records and
// checkpoints.
func encodeSchema(e *encoder, s *Schema) {
	e.string(s.Name)
	e.string(s.Description)
	e.bool(s.AutoID)
	e.bool(s.EnableDynamic)
	e.uvarint(uint64(len(s.Fields)))
	for _, f := range s.Fields {
		e.varint(f.ID)
		e.string(f.Name)
		e.string(f.Description)
		e.varint(int64(f.Type))
		var flags byte
		for i, b := range []bool{f.IsPrimary, f.AutoID, f.Nullable, f.IsDynamic} {
			if b {
				flags |= 1 << i
			}
		}
		e.byte(flags)
		e.uvarint(uint64(f.Dim))
		e.uvarint(uint64(f.MaxLength))
		e.varint(int64(f.ElementType))
		e.uvarint(uint64(f.MaxCapacity))
	}
}

func decodeSchema(d *decoder) Schema {
	var s Schema
	s.Name = d.string()
	s.Description = d.string()
	s.AutoID = d.bool()
	s.EnableDynamic = d.bool()
	n := d.count(8)
	for range n {
		var f Field
		f.ID = d.varint()
		f.Name = d.string()
		f.Description = d.string()
		f.Type = DataType(d.varint())
		flags := d.byte()
		f.IsPrimary, f.AutoID, f.Nullable, f.IsDynamic = flags&1 != 0, flags&2 != 0, flags&4 != 0, flags&8 != 0
		f.Dim = int(d.uvarint())
		f.MaxLength = int(d.uvarint())
		f.ElementType = DataType(d.varint())
		f.MaxCapacity = int(d.uvarint())
		s.Fields = append(s.Fields, f)
	}
	return s
}

// encodeColumn writes n rows of a column of type t (vectors: dim given).
func encodeColumn(e *encoder, c *Column) {
	n := c.Len()
	e.varint(int64(c.Type))
	e.uvarint(uint64(n))
	if c.Valid != nil {
		e.byte(1)
		bits := make([]byte, (n+7)/8)
		for i, v := range c.Valid {
			if v {
				bits[i/8] |= 1 << (i % 8)
			}
		}
		e.b = append(e.b, bits...)
	} else {
		e.byte(0)
	}
	switch c.Type {
	case TypeBool:
		for _, v := range c.Bools {
			e.bool(v)
		}
	case TypeInt8, TypeInt16, TypeInt32, TypeInt64:
		for _, v := range c.Ints {
			e.varint(v)
		}
	case TypeFloat:
		e.float32s(c.Floats)
	case TypeDouble:
		for _, v := range c.Doubles {
			e.u64(math.Float64bits(v))
		}
	case TypeVarChar:
		for _, v := range c.Strings {
			e.string(v)
		}
	case TypeJSON:
		for _, v := range c.JSON {
			e.bytes(v)
		}
	case TypeArray:
		for i := range c.Arrays {
			encodeColumn(e, &c.Arrays[i])
		}
	case TypeFloatVector:
		e.uvarint(uint64(c.Dim))
		e.float32s(c.Vectors)
	}
}

func decodeColumn(d *decoder, name string, dynamic bool) Column {
	c := Column{Name: name, IsDynamic: dynamic, Type: DataType(d.varint())}
	n := d.count(0)
	if d.byte() == 1 {
		bits := d.raw((n + 7) / 8)
		if d.err == nil {
			c.Valid = make([]bool, n)
			for i := range c.Valid {
				c.Valid[i] = bits[i/8]&(1<<(i%8)) != 0
			}
		}
	}
	if d.err != nil {
		return c
	}
	switch c.Type {
	case TypeBool:
		b := d.raw(n)
		c.Bools = make([]bool, len(b))
		for i, v := range b {
			c.Bools[i] = v != 0
		}
	case TypeInt8, TypeInt16, TypeInt32, TypeInt64:
		c.Ints = make([]int64, n)
		for i := range c.Ints {
			c.Ints[i] = d.varint()
		}
	case TypeFloat:
		c.Floats = d.float32s(n)
		if c.Floats == nil {
			c.Floats = []float32{}
		}
	case TypeDouble:
		c.Doubles = make([]float64, n)
		for i := range c.Doubles {
			c.Doubles[i] = math.Float64frombits(d.u64())
		}
	case TypeVarChar:
		c.Strings = make([]string, n)
		for i := range c.Strings {
			c.Strings[i] = d.string()
		}
	case TypeJSON:
		c.JSON = make([][]byte, n)
		for i := range c.JSON {
			c.JSON[i] = d.bytes()
		}
	case TypeArray:
		c.Arrays = make([]Column, n)
		for i := range c.Arrays {
			c.Arrays[i] = decodeColumn(d, "", false)
		}
	case TypeFloatVector:
		c.Dim = int(d.uvarint())
		if c.Dim <= 0 || c.Dim > MaxDim {
			d.fail("bad vector dim")
			return c
		}
		if n > len(d.b)/(4*c.Dim) {
			d.fail("vector data beyond end of input")
			return c
		}
		c.Vectors = d.float32s(n * c.Dim)
	default:
		d.fail(fmt.Sprintf("unknown column type %d", c.Type))
	}
	return c
}
