package chaos

import (
	"bufio"
	"bytes"
	binpkg "encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"time"
)

// This file checks "never two writers" after a run, from what is on the
// shared disk and in the keepers' logs, without the product's own reader:
// an independent decoder of the documented WAL format (internal/wal
// doc.go and format.go).
//
//   - Every epoch was acquired by exactly one node (the guard's "lease
//     acquired" log lines; rule 4 of internal/guard).
//   - The committed log — each sealed epoch up to its seal, the last epoch
//     up to its last whole batch — is one dense LSN chain: two nodes never
//     committed the same LSN.
//   - Every acknowledged write is in the committed log, and in an epoch
//     that was still current when the write was sent: a write found in
//     epoch e whose call came after epoch e' > e was acquired was
//     acknowledged by a deposed writer. That is a two-writer interval,
//     from the acquisition of e' to the write's return.

var (
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
	le         = binpkg.LittleEndian
)

const (
	walHeader    = 48
	walRecHeader = 20
	recData      = 1
	recSeal      = 2
	recMarker    = 3
)

type walRecord struct {
	typ     byte
	end     bool // last record of its group commit
	lsn     uint64
	off     int64 // offset of the record in its segment
	next    int64 // offset after it
	payload []byte
}

type walSegment struct {
	epoch, seq, base uint64
	path             string
	size             int64
	recs             []walRecord
	torn             int64 // bytes after the last verifying record
}

type walSeal struct {
	epoch, seq    uint64
	length, raw   int64
	endLSN        uint64
	sealedByEpoch uint64
}

type epochInfo struct {
	epoch     uint64
	segs      []*walSegment
	seal      *walSeal
	committed []walRecord // data records in the committed log
	late      int         // data records outside it (deposed writer, unacknowledged tail)
	ignored   bool        // unsealed although a later epoch exists: acknowledged nothing
	node      string      // who acquired it (from the logs)
	acquired  time.Duration
}

type walScan struct {
	epochs    []*epochInfo
	byEpoch   map[uint64]*epochInfo
	problems  []string // format or chain violations
	lateTotal int
	tornBytes int64
}

var segName = regexp.MustCompile(`^(\d{20})-(\d{10})\.log$`)

func readSegment(path string, epoch, seq uint64) (*walSegment, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := &walSegment{epoch: epoch, seq: seq, path: path, size: int64(len(b))}
	if len(b) < walHeader {
		return nil, fmt.Errorf("%s: %d bytes, shorter than a header", path, len(b))
	}
	h := b[:walHeader]
	switch {
	case string(h[:8]) != "MHAWALSG":
		return nil, fmt.Errorf("%s: bad magic", path)
	case le.Uint32(h[40:44]) != crc32.Checksum(h[:40], castagnoli):
		return nil, fmt.Errorf("%s: header checksum", path)
	case le.Uint64(h[16:24]) != epoch || le.Uint64(h[24:32]) != seq:
		return nil, fmt.Errorf("%s: header names epoch %d seq %d", path, le.Uint64(h[16:24]), le.Uint64(h[24:32]))
	}
	s.base = le.Uint64(h[32:40])
	off := int64(walHeader)
	for off+walRecHeader <= int64(len(b)) {
		r := b[off:]
		n := int64(le.Uint32(r[4:8]))
		if off+walRecHeader+n > int64(len(b)) || r[8] < recData || r[8] > recMarker {
			break
		}
		if le.Uint32(r[0:4]) != crc32.Checksum(r[4:walRecHeader+n], castagnoli) {
			break
		}
		s.recs = append(s.recs, walRecord{
			typ: r[8], end: r[9]&1 != 0, lsn: le.Uint64(r[12:20]),
			off: off, next: off + walRecHeader + n, payload: r[walRecHeader : walRecHeader+n],
		})
		off += walRecHeader + n
	}
	s.torn = int64(len(b)) - off
	return s, nil
}

// scanWAL reads every segment under dir/wal and builds the committed log.
func scanWAL(dir string) (*walScan, error) {
	ents, err := os.ReadDir(filepath.Join(dir, "wal"))
	if err != nil {
		return nil, err
	}
	ws := &walScan{byEpoch: map[uint64]*epochInfo{}}
	for _, e := range ents {
		m := segName.FindStringSubmatch(e.Name())
		if m == nil {
			continue // temporary names of segments being published
		}
		epoch, _ := strconv.ParseUint(m[1], 10, 64)
		seq, _ := strconv.ParseUint(m[2], 10, 64)
		seg, err := readSegment(filepath.Join(dir, "wal", e.Name()), epoch, seq)
		if err != nil {
			ws.problems = append(ws.problems, err.Error())
			continue
		}
		ei := ws.byEpoch[epoch]
		if ei == nil {
			ei = &epochInfo{epoch: epoch}
			ws.byEpoch[epoch] = ei
			ws.epochs = append(ws.epochs, ei)
		}
		ei.segs = append(ei.segs, seg)
	}
	sort.Slice(ws.epochs, func(i, j int) bool { return ws.epochs[i].epoch < ws.epochs[j].epoch })
	for _, ei := range ws.epochs {
		sort.Slice(ei.segs, func(i, j int) bool { return ei.segs[i].seq < ei.segs[j].seq })
	}
	// Seals: the first record of each epoch's segment 0. Only the seals of
	// valid epochs count. The last epoch is valid; an earlier epoch is
	// valid if a valid later epoch sealed it, and ignored otherwise (its
	// segment 0 was published after the next owner listed the log, so it
	// acknowledged nothing — internal/wal loadView). Resolve from the top.
	sealsBy := map[uint64][]*walSeal{}
	for _, ei := range ws.epochs {
		if len(ei.segs) == 0 || ei.segs[0].seq != 0 {
			continue
		}
		s0 := ei.segs[0]
		if len(s0.recs) == 0 || s0.recs[0].typ != recSeal {
			continue // published header, seal record not (yet) written
		}
		p := s0.recs[0].payload
		if len(p) < 4 || len(p)-4 != int(le.Uint32(p))*40 {
			ws.problems = append(ws.problems, fmt.Sprintf("%s: malformed seal record", s0.path))
			continue
		}
		for i := 0; i < int(le.Uint32(p)); i++ {
			e := p[4+40*i:]
			sealsBy[ei.epoch] = append(sealsBy[ei.epoch], &walSeal{
				epoch: le.Uint64(e[0:8]), seq: le.Uint64(e[8:16]),
				length: int64(le.Uint64(e[16:24])), raw: int64(le.Uint64(e[24:32])),
				endLSN: le.Uint64(e[32:40]), sealedByEpoch: ei.epoch,
			})
		}
	}
	for i := len(ws.epochs) - 1; i >= 0; i-- {
		ei := ws.epochs[i]
		if i < len(ws.epochs)-1 && ei.seal == nil {
			ei.ignored = true
			continue
		}
		for _, s := range sealsBy[ei.epoch] {
			t := ws.byEpoch[s.epoch]
			if t == nil {
				continue // its segments were truncated behind a checkpoint
			}
			if t.seal != nil {
				ws.problems = append(ws.problems, fmt.Sprintf("epoch %d sealed twice (by epochs %d and %d)", s.epoch, t.seal.sealedByEpoch, ei.epoch))
				continue
			}
			t.seal = s
		}
	}
	last := uint64(0)
	if len(ws.epochs) > 0 {
		last = ws.epochs[len(ws.epochs)-1].epoch
	}
	for _, ei := range ws.epochs {
		ws.committedRegion(ei, ei.epoch == last)
	}
	// One dense LSN chain across epochs.
	var prev uint64
	for _, ei := range ws.epochs {
		for _, r := range ei.committed {
			if prev != 0 && r.lsn != prev+1 {
				ws.problems = append(ws.problems, fmt.Sprintf("epoch %d: committed LSN %d follows %d: two writers or a gap", ei.epoch, r.lsn, prev))
			}
			prev = r.lsn
		}
	}
	return ws, nil
}

// committedRegion splits an epoch's data records into committed and late.
func (ws *walScan) committedRegion(ei *epochInfo, isLast bool) {
	for _, seg := range ei.segs {
		ws.tornBytes += seg.torn
		var pending []walRecord // records of a batch whose end is not seen yet
		for _, r := range seg.recs {
			if r.typ != recData {
				continue
			}
			in := false
			switch {
			case ei.seal != nil:
				in = seg.seq < ei.seal.seq || (seg.seq == ei.seal.seq && r.next <= ei.seal.length)
			case isLast:
				in = true // up to the last whole batch, below
			}
			// An epoch that nobody sealed while a later one exists was
			// never acknowledged from (internal/wal: loadView).
			if !in {
				ei.late++
				continue
			}
			pending = append(pending, r)
			if r.end {
				ei.committed = append(ei.committed, pending...)
				pending = pending[:0]
			}
		}
		ei.late += len(pending)
	}
	ws.lateTotal += ei.late
}

// acquisition is one "guard: lease acquired" log line.
type acquisition struct {
	node  string
	epoch uint64
	at    time.Duration
}

var acquiredLine = regexp.MustCompile(`^time=(\S+) level=\w+ msg="guard: lease acquired" .*?node=(\S+) epoch=(\d+)`)

// parseAcquisitions reads the lease acquisitions from a keeper log.
func parseAcquisitions(path string, start time.Time) ([]acquisition, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []acquisition
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := acquiredLine.FindSubmatch(sc.Bytes())
		if m == nil {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, string(m[1]))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		epoch, _ := strconv.ParseUint(string(m[3]), 10, 64)
		out = append(out, acquisition{node: string(bytes.Trim(m[2], `"`)), epoch: epoch, at: t.Sub(start)})
	}
	return out, sc.Err()
}

// twoWriterReport is the outcome of the check.
type twoWriterReport struct {
	Epochs     int
	Late       int   // data records outside the committed log
	TornBytes  int64 // incomplete tails
	Intervals  []string
	MaxOverlap time.Duration
	Problems   []string // chain, seal and attribution problems
	NotInWAL   int      // acknowledged writes whose value is in no segment (truncated behind a checkpoint)
}

// checkTwoWriters runs the check over the shared directory, the keeper
// logs and the acknowledged writes of the history. valueLen is the fixed
// length of a written value; salt starts every value.
func checkTwoWriters(dir string, logs []string, start time.Time, ops []op, salt string, valueLen int) (twoWriterReport, error) {
	var rep twoWriterReport
	ws, err := scanWAL(dir)
	if err != nil {
		return rep, err
	}
	rep.Epochs, rep.Late, rep.TornBytes = len(ws.epochs), ws.lateTotal, ws.tornBytes
	rep.Problems = append(rep.Problems, ws.problems...)

	acq := map[uint64]acquisition{}
	for _, l := range logs {
		as, err := parseAcquisitions(l, start)
		if err != nil {
			return rep, err
		}
		for _, a := range as {
			if old, dup := acq[a.epoch]; dup {
				rep.Problems = append(rep.Problems, fmt.Sprintf("epoch %d acquired twice: by %s at %v and by %s at %v", a.epoch, old.node, old.at, a.node, a.at))
				continue
			}
			acq[a.epoch] = a
		}
	}
	for _, ei := range ws.epochs {
		if a, ok := acq[ei.epoch]; ok {
			ei.node, ei.acquired = a.node, a.at
		}
	}

	// Where each value landed in the committed log.
	where := map[string]uint64{}
	late := map[string]bool{}
	index := func(p []byte, fn func(string)) {
		for i := 0; ; {
			j := bytes.Index(p[i:], []byte(salt))
			if j < 0 || i+j+valueLen > len(p) {
				return
			}
			fn(string(p[i+j : i+j+valueLen]))
			i += j + 1
		}
	}
	for _, ei := range ws.epochs {
		for _, r := range ei.committed {
			index(r.payload, func(v string) { where[v] = ei.epoch })
		}
		for _, seg := range ei.segs {
			for _, r := range seg.recs {
				index(r.payload, func(v string) { late[v] = true })
			}
		}
	}
	// The epochs in order of acquisition, to find the first later one.
	var order []acquisition
	for _, a := range acq {
		order = append(order, a)
	}
	sort.Slice(order, func(i, j int) bool { return order[i].epoch < order[j].epoch })
	for _, o := range ops {
		if o.Outcome != ok || (o.Kind != opInsert && o.Kind != opUpsert) {
			continue
		}
		e, found := where[o.Value]
		if !found {
			if late[o.Value] {
				rep.Problems = append(rep.Problems, fmt.Sprintf("acknowledged write %s (key %d, returned at %v) is only past a seal: a deposed writer acknowledged it", o.Value, o.Key, o.Return))
			} else {
				rep.NotInWAL++
			}
			continue
		}
		if a, ok := acq[e]; ok && a.at > o.Return {
			rep.Problems = append(rep.Problems, fmt.Sprintf("write %s acknowledged at %v lies in epoch %d, acquired later at %v", o.Value, o.Return, e, a.at))
		}
		for _, a := range order {
			if a.epoch > e && a.at < o.Call {
				d := o.Return - a.at
				rep.Intervals = append(rep.Intervals, fmt.Sprintf("epoch %d (%s) acknowledged %s (call %v, return %v) after epoch %d was acquired by %s at %v",
					e, ws.byEpoch[e].node, o.Value, o.Call, o.Return, a.epoch, a.node, a.at))
				rep.MaxOverlap = max(rep.MaxOverlap, d)
				break
			}
		}
	}
	return rep, nil
}
