package wal

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/guard"
)

// crashTiming is relaxed so that a child on a loaded machine keeps its
// lease; the parent waits it out after each kill.
var crashTiming = guard.Timing{HeartbeatInterval: 50 * time.Millisecond, LeaseTimeout: 400 * time.Millisecond,
	SafetyMargin: 100 * time.Millisecond, PollInterval: 25 * time.Millisecond}

const crashSegmentSize = 64 << 10 // small: kills land in rotations too

// TestHelperProcess is the child of TestCrashSafety: it takes the lease,
// opens the WAL as primary and runs concurrent appenders, single records
// and batches of up to 24 records (some above MaxBatchBytes and
// SegmentSize), printing "A <id>" for every acknowledged record, until it
// is killed.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("WAL_CRASH_HELPER") != "1" {
		t.Skip("helper process for TestCrashSafety")
	}
	data := os.Getenv("WAL_CRASH_DIR")
	base, _ := strconv.ParseUint(os.Getenv("WAL_CRASH_BASE"), 10, 64)
	g, err := guard.Open(data, "child", crashTiming)
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	ctx := context.Background()
	epoch, err := g.Acquire(ctx)
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	go g.Heartbeat(ctx)
	w, err := OpenPrimary(filepath.Join(data, "wal"), epoch, g, Options{SegmentSize: crashSegmentSize, MaxBatchBytes: crashSegmentSize / 2})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	fmt.Println("READY", epoch)
	var next atomic.Uint64
	var outMu sync.Mutex
	for g := range 8 {
		go func() {
			r := rand.New(rand.NewPCG(rand.Uint64(), 1))
			for {
				var ids []uint64
				if g%2 == 0 {
					id := base + next.Add(1)
					if _, err := w.Append(ctx, payload(id, 64+r.IntN(2000))); err != nil {
						continue
					}
					ids = append(ids, id)
				} else {
					sizes := make([]int, 1+r.IntN(24))
					for k := range sizes {
						sizes[k] = 64 + r.IntN(6000)
					}
					ps := batchPayloads(base+next.Add(1), sizes)
					if _, err := w.AppendBatch(ctx, ps); err != nil {
						continue
					}
					for _, p := range ps {
						id, _ := checkPayload(p)
						ids = append(ids, id)
					}
				}
				outMu.Lock()
				for _, id := range ids {
					os.Stdout.WriteString("A " + strconv.FormatUint(id, 10) + "\n")
				}
				outMu.Unlock()
			}
		}()
	}
	select {}
}

// A child process appends concurrently and is SIGKILLed at random moments,
// 30 times. After each kill a verifier takes the lease, seals, and replays:
// every acknowledged record is present and whole (self-checking payloads,
// verified records, dense LSNs), across all rounds so far, and every batch
// is there whole or not at all.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("crash rounds take a few seconds")
	}
	data := t.TempDir()
	walDir := filepath.Join(data, "wal")
	rounds := 30
	acked := map[uint64]bool{}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	cuts, emptyRounds := 0, 0
	for round := range rounds {
		ids, ready := runChild(t, data, uint64(round+1)*1_000_000, rng)
		if !ready || len(ids) == 0 {
			emptyRounds++
		}
		for _, id := range ids {
			acked[id] = true
		}
		v, err := guard.Open(data, "verifier", crashTiming)
		if err != nil {
			t.Fatal(err)
		}
		e, err := v.Acquire(ctxT(t))
		if err != nil {
			t.Fatalf("round %d: verifier acquire: %v", round, err)
		}
		hbCtx, stopHB := context.WithCancel(context.Background())
		go v.Heartbeat(hbCtx)
		w, err := OpenPrimary(walDir, e, v, Options{SegmentSize: crashSegmentSize})
		if err != nil {
			t.Fatalf("round %d: open: %v", round, err)
		}
		cuts += len(w.Report().Cut)
		got, err := replayIDs(t, w, 1)
		if err != nil {
			t.Fatalf("round %d: replay: %v", round, err)
		}
		checkBatches(t, got)
		present := map[uint64]bool{}
		for _, id := range got {
			if present[id] {
				t.Fatalf("round %d: id %d twice", round, id)
			}
			present[id] = true
		}
		for id := range acked {
			if !present[id] {
				t.Fatalf("round %d: acknowledged id %d lost (%d acked, %d present)", round, id, len(acked), len(present))
			}
		}
		w.Close()
		stopHB()
		// A clean release lets the next child start at once; if a stall of
		// this machine cost the verifier its lease, the child waits it out.
		if err := v.Release(ctxT(t)); err != nil && !errors.Is(err, guard.ErrLeaseExpired) {
			t.Fatal(err)
		}
		v.Close()
	}
	t.Logf("%d rounds, %d acknowledged records all recovered, %d torn tails cut, %d rounds killed before any ack",
		rounds, len(acked), cuts, emptyRounds)
	if len(acked) == 0 {
		t.Fatal("no round acknowledged anything: the test proved nothing")
	}
}

// runChild starts the helper, kills it at a random moment (sometimes
// during its start-up: acquire, seal), and returns the ids it acknowledged
// (complete lines only).
func runChild(t *testing.T, data string, base uint64, rng *rand.Rand) ([]uint64, bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "WAL_CRASH_HELPER=1", "WAL_CRASH_DIR="+data, "WAL_CRASH_BASE="+strconv.FormatUint(base, 10))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	readyCh := make(chan struct{})
	var ids []uint64
	var errLine string
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "READY"):
				close(readyCh)
			case strings.HasPrefix(line, "A "):
				if id, err := strconv.ParseUint(line[2:], 10, 64); err == nil {
					ids = append(ids, id)
				}
			case strings.HasPrefix(line, "ERR"):
				errLine = line
			}
		}
	}()
	ready := false
	if rng.IntN(4) == 0 {
		time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond) // maybe mid acquire/seal
	} else {
		select {
		case <-readyCh:
			ready = true
		case <-done:
			cmd.Wait()
			t.Fatalf("child exited before it was ready: %s", errLine)
		case <-time.After(30 * time.Second):
			t.Fatal("child never became ready")
		}
		time.Sleep(time.Duration(10+rng.IntN(140)) * time.Millisecond)
	}
	syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
	<-done
	cmd.Wait()
	if errLine != "" {
		t.Fatalf("child: %s", errLine)
	}
	return ids, ready
}
