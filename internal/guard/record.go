package guard

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// On-disk layout of OWNER (format version 1), little-endian, RecordSize bytes,
// always written whole at offset 0 with pwrite + fdatasync:
//
//	[0:8]     magic "MHAOWNER"
//	[8:10]    format version (1)
//	[10:12]   state (1 = active, 2 = released)
//	[12:20]   epoch
//	[20:84]   node id, NodeIDMax bytes, zero padded
//	[84:124]  reserved, zero
//	[124:128] CRC32C (Castagnoli) of [0:124]
//
// HEARTBEAT has the same size and framing with magic "MHAHBEAT", state 1,
// and the heartbeat counter in [84:92]. An empty file means "never written".
const (
	// RecordSize is the size of the OWNER and HEARTBEAT records. It fits in
	// one 512-byte sector, so a write is never split across sectors.
	RecordSize = 128
	// NodeIDMax is the longest node id, in bytes.
	NodeIDMax = 64
	// FormatVersion is the record format written by this package.
	FormatVersion = 1
)

var (
	ownerMagic     = [8]byte{'M', 'H', 'A', 'O', 'W', 'N', 'E', 'R'}
	heartbeatMagic = [8]byte{'M', 'H', 'A', 'H', 'B', 'E', 'A', 'T'}
	castagnoli     = crc32.MakeTable(crc32.Castagnoli)
)

// State is the lease state recorded in OWNER.
type State uint16

const (
	// StateNone means OWNER was never written: nobody has ever held the lease.
	StateNone State = 0
	// StateActive means Node holds the lease for Epoch while its heartbeat moves.
	StateActive State = 1
	// StateReleased means Node handed the lease back (planned switchover):
	// the peer may take it at once.
	StateReleased State = 2
)

func (s State) String() string {
	switch s {
	case StateNone:
		return "none"
	case StateActive:
		return "active"
	case StateReleased:
		return "released"
	}
	return fmt.Sprintf("state(%d)", uint16(s))
}

// Owner is the decoded OWNER record.
type Owner struct {
	Epoch uint64
	Node  string
	State State
}

// Free reports whether the lease may be taken without waiting: OWNER was
// never written or its holder released it.
func (o Owner) Free() bool { return o.State == StateNone || o.State == StateReleased }

func (o Owner) String() string {
	if o.State == StateNone {
		return "no owner"
	}
	return fmt.Sprintf("epoch %d node %q %s", o.Epoch, o.Node, o.State)
}

// Heartbeat is the decoded HEARTBEAT record.
type Heartbeat struct {
	Epoch   uint64
	Node    string
	Counter uint64
}

// ErrCorruptRecord is wrapped by every decode failure of OWNER or HEARTBEAT.
var ErrCorruptRecord = errors.New("guard: corrupt record")

// ErrBadNodeID is returned for an empty node id, one longer than NodeIDMax
// bytes, or one containing a NUL byte.
var ErrBadNodeID = errors.New("guard: bad node id")

func checkNodeID(id string) error {
	if id == "" || len(id) > NodeIDMax || bytes.IndexByte([]byte(id), 0) >= 0 {
		return fmt.Errorf("%w: %q (1..%d bytes, no NUL)", ErrBadNodeID, id, NodeIDMax)
	}
	return nil
}

func encode(magic [8]byte, state State, epoch uint64, node string, counter uint64) [RecordSize]byte {
	var b [RecordSize]byte
	copy(b[0:8], magic[:])
	binary.LittleEndian.PutUint16(b[8:10], FormatVersion)
	binary.LittleEndian.PutUint16(b[10:12], uint16(state))
	binary.LittleEndian.PutUint64(b[12:20], epoch)
	copy(b[20:20+NodeIDMax], node)
	binary.LittleEndian.PutUint64(b[84:92], counter)
	binary.LittleEndian.PutUint32(b[124:128], crc32.Checksum(b[:124], castagnoli))
	return b
}

// decode validates framing and returns the fields. n is the number of bytes
// read from the file; 0 means the file is empty (never written).
func decode(b []byte, magic [8]byte) (state State, epoch uint64, node string, counter uint64, err error) {
	if len(b) == 0 {
		return StateNone, 0, "", 0, nil
	}
	if len(b) != RecordSize {
		return 0, 0, "", 0, fmt.Errorf("%w: %d bytes, want %d", ErrCorruptRecord, len(b), RecordSize)
	}
	if !bytes.Equal(b[0:8], magic[:]) {
		return 0, 0, "", 0, fmt.Errorf("%w: bad magic %q", ErrCorruptRecord, b[0:8])
	}
	if got, want := binary.LittleEndian.Uint32(b[124:128]), crc32.Checksum(b[:124], castagnoli); got != want {
		return 0, 0, "", 0, fmt.Errorf("%w: checksum %08x, computed %08x", ErrCorruptRecord, got, want)
	}
	if v := binary.LittleEndian.Uint16(b[8:10]); v != FormatVersion {
		return 0, 0, "", 0, fmt.Errorf("%w: format version %d, this build reads %d", ErrCorruptRecord, v, FormatVersion)
	}
	state = State(binary.LittleEndian.Uint16(b[10:12]))
	if state != StateActive && state != StateReleased {
		return 0, 0, "", 0, fmt.Errorf("%w: state %d", ErrCorruptRecord, uint16(state))
	}
	nb := b[20 : 20+NodeIDMax]
	if i := bytes.IndexByte(nb, 0); i >= 0 {
		if bytes.IndexFunc(nb[i:], func(r rune) bool { return r != 0 }) >= 0 {
			return 0, 0, "", 0, fmt.Errorf("%w: bytes after the node id's end", ErrCorruptRecord)
		}
		nb = nb[:i]
	}
	reserved := b[84:124]
	if magic == heartbeatMagic {
		reserved = b[92:124]
	}
	if bytes.IndexFunc(reserved, func(r rune) bool { return r != 0 }) >= 0 {
		return 0, 0, "", 0, fmt.Errorf("%w: reserved bytes not zero", ErrCorruptRecord)
	}
	if len(nb) == 0 {
		return 0, 0, "", 0, fmt.Errorf("%w: empty node id", ErrCorruptRecord)
	}
	return state, binary.LittleEndian.Uint64(b[12:20]), string(nb), binary.LittleEndian.Uint64(b[84:92]), nil
}

// EncodeOwner returns the on-disk form of o.
func EncodeOwner(o Owner) [RecordSize]byte { return encode(ownerMagic, o.State, o.Epoch, o.Node, 0) }

// DecodeOwner parses an OWNER record; an empty slice is "no owner".
func DecodeOwner(b []byte) (Owner, error) {
	s, e, n, _, err := decode(b, ownerMagic)
	if err != nil {
		return Owner{}, fmt.Errorf("OWNER: %w", err)
	}
	return Owner{Epoch: e, Node: n, State: s}, nil
}

// EncodeHeartbeat returns the on-disk form of h.
func EncodeHeartbeat(h Heartbeat) [RecordSize]byte {
	return encode(heartbeatMagic, StateActive, h.Epoch, h.Node, h.Counter)
}

// DecodeHeartbeat parses a HEARTBEAT record; an empty slice is the zero value.
func DecodeHeartbeat(b []byte) (Heartbeat, error) {
	_, e, n, c, err := decode(b, heartbeatMagic)
	if err != nil {
		return Heartbeat{}, fmt.Errorf("HEARTBEAT: %w", err)
	}
	return Heartbeat{Epoch: e, Node: n, Counter: c}, nil
}
