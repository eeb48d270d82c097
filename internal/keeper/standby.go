package keeper

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// A VRRP backup is silent: the active node hears nothing from its peer. To
// know whether a standby is ready to take over (before handing over on a
// failed check, before accepting a switchover), each keeper that is a ready
// standby rewrites a small beacon record in the shared directory every
// heartbeat interval, and the active node watches it move (peerWatch). The
// beacon is advice only: safety rests on the storage lease.

const (
	beaconPrefix = "STANDBY-"
	beaconSize   = 256
	beaconMagic  = "MHASTBY1"
	beaconWhyMax = 160
	beaconNodeMx = 64
	// beaconStopping is the reason a stepping-down node gives: it still
	// holds the lease and will release it when its service stopped.
	beaconStopping = "stopping"
	// beaconActive: taking over or active, the VIP not added yet.
	beaconActive = "active"
	// beaconServing: active with the VIP; a peer handing its clients over
	// releases them when it reads this.
	beaconServing = "serving"
)

// beacon is one standby record.
type beacon struct {
	Node    string
	Counter uint64
	Ready   bool
	Why     string // why not ready
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errBadBeacon is wrapped by decodeBeacon errors.
var errBadBeacon = errors.New("bad standby beacon")

// Layout: magic[8] ready[1] counter[8] nodeLen[1] node[64] whyLen[1]
// why[160] pad crc32c[4] at 252.
func encodeBeacon(b beacon) [beaconSize]byte {
	var r [beaconSize]byte
	copy(r[0:8], beaconMagic)
	if b.Ready {
		r[8] = 1
	}
	binary.LittleEndian.PutUint64(r[9:17], b.Counter)
	node := truncUTF8(b.Node, beaconNodeMx)
	r[17] = byte(len(node))
	copy(r[18:18+beaconNodeMx], node)
	why := truncUTF8(b.Why, beaconWhyMax)
	r[82] = byte(len(why))
	copy(r[83:83+beaconWhyMax], why)
	binary.LittleEndian.PutUint32(r[252:256], crc32.Checksum(r[:252], castagnoli))
	return r
}

func decodeBeacon(r []byte) (beacon, error) {
	if len(r) != beaconSize {
		return beacon{}, fmt.Errorf("%w: %d bytes, want %d", errBadBeacon, len(r), beaconSize)
	}
	if string(r[0:8]) != beaconMagic {
		return beacon{}, fmt.Errorf("%w: magic %q", errBadBeacon, r[0:8])
	}
	if got, want := binary.LittleEndian.Uint32(r[252:256]), crc32.Checksum(r[:252], castagnoli); got != want {
		return beacon{}, fmt.Errorf("%w: checksum %08x, want %08x (torn write?)", errBadBeacon, got, want)
	}
	nl, wl := int(r[17]), int(r[82])
	if r[8] > 1 || nl == 0 || nl > beaconNodeMx || wl > beaconWhyMax {
		return beacon{}, fmt.Errorf("%w: ready %d, node length %d, reason length %d", errBadBeacon, r[8], nl, wl)
	}
	return beacon{Node: string(r[18 : 18+nl]), Counter: binary.LittleEndian.Uint64(r[9:17]), Ready: r[8] == 1, Why: string(r[83 : 83+wl])}, nil
}

// truncUTF8 cuts s to at most n bytes without splitting a rune.
func truncUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func beaconPath(dir, node string) string {
	return filepath.Join(dir, beaconPrefix+url.PathEscape(node))
}

// beaconFile is this node's beacon, rewritten in place (pwrite + fdatasync,
// like the lease records, so the peer reads the latest through its own
// open descriptor on a shared filesystem).
type beaconFile struct {
	mu      sync.Mutex
	f       *os.File
	node    string
	counter uint64
	syncing sync.WaitGroup // syncs in flight (close waits)
}

func openBeacon(dir, node string) (*beaconFile, error) {
	f, err := os.OpenFile(beaconPath(dir, node), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("keeper: standby beacon: %w", err)
	}
	return &beaconFile{f: f, node: node}, nil
}

// write rewrites the record and syncs it. The sync runs outside the lock:
// a write the peer waits for (serving, stopping) must not queue behind the
// periodic one's sync on a busy disk.
func (b *beaconFile) write(ready bool, why string) error {
	b.mu.Lock()
	b.counter++
	r := encodeBeacon(beacon{Node: b.node, Counter: b.counter, Ready: ready, Why: why})
	_, err := b.f.WriteAt(r[:], 0)
	b.syncing.Add(1)
	b.mu.Unlock()
	defer b.syncing.Done()
	if err != nil {
		return err
	}
	return unix.Fdatasync(int(b.f.Fd()))
}

// close closes the file after a write in progress (one may run on its
// own goroutine); later writes fail.
func (b *beaconFile) close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.syncing.Wait()
	return b.f.Close()
}

// readPeerBeacon reads the beacon of the other node in dir (any node but
// self). ok is false when there is none; a record that does not decode is
// an error (counted by the caller).
func readPeerBeacon(dir, self string) (b beacon, ok bool, err error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return beacon{}, false, err
	}
	own := filepath.Base(beaconPath(dir, self))
	for _, e := range ents {
		n := e.Name()
		if !strings.HasPrefix(n, beaconPrefix) || n == own {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return beacon{}, false, err
		}
		if len(data) == 0 {
			continue
		}
		b, err := decodeBeacon(data)
		if err != nil {
			return beacon{}, false, fmt.Errorf("%s: %w", n, err)
		}
		return b, true, nil
	}
	return beacon{}, false, nil
}
