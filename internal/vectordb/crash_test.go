package vectordb

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The crash test: a child process inserts concurrently and prints every
// acknowledged batch (in odd rounds each one a split write); the parent
// kills it with SIGKILL at a random moment, reopens the directory and
// checks that every acknowledged batch is there, whole, and that no batch
// is there in part.

const (
	crashEnv      = "VECTORDB_CRASH_CHILD"
	crashRows     = 50
	crashDim      = 16
	crashWriters  = 4
	crashRounds   = 6
	crashCollName = "crash"
)

func crashSchema() Schema {
	return Schema{Name: crashCollName, Fields: []Field{
		{Name: "id", Type: TypeInt64, IsPrimary: true},
		{Name: "vec", Type: TypeFloatVector, Dim: crashDim},
		{Name: "batch", Type: TypeInt64},
	}}
}

// crashVec derives a row's vector from its key, so content can be checked.
func crashVec(pk int64) []float32 {
	v := make([]float32, crashDim)
	for i := range v {
		v[i] = float32(pk%1000) + float32(i)/16
	}
	return v
}

func crashBatch(batch int64) *Batch {
	id := Column{Name: "id", Type: TypeInt64}
	vec := Column{Name: "vec", Type: TypeFloatVector, Dim: crashDim}
	b := Column{Name: "batch", Type: TypeInt64}
	for i := range int64(crashRows) {
		pk := batch*crashRows + i
		id.Ints = append(id.Ints, pk)
		vec.Vectors = append(vec.Vectors, crashVec(pk)...)
		b.Ints = append(b.Ints, batch)
	}
	return &Batch{Columns: []Column{id, vec, b}}
}

// TestCrashChild is the child's body; it only runs when the parent asks.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("helper process for TestCrashSafety")
	}
	round, _ := strconv.ParseInt(os.Getenv(crashEnv+"_ROUND"), 10, 64)
	if round%2 == 1 {
		// Odd rounds log every batch as a split write: several entries
		// in one atomic append, which a kill must never leave in part.
		maxRecordBytes = 1 << 10
	}
	ctx := context.Background()
	db, err := Open(ctx, dir, Options{NodeID: "child", Timing: testTiming, CheckpointBytes: 256 << 10})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	if !db.HasCollection(crashCollName) {
		if err := db.CreateCollection(ctx, crashSchema()); err != nil {
			fmt.Println("create:", err)
			os.Exit(2)
		}
		if err := db.CreateIndex(ctx, crashCollName, "vec", IndexParams{Type: IndexHNSW, Metric: MetricL2, M: 8, EfConstruction: 32}); err != nil {
			fmt.Println("index:", err)
			os.Exit(2)
		}
		if err := db.Load(ctx, crashCollName); err != nil {
			fmt.Println("load:", err)
			os.Exit(2)
		}
	}
	fmt.Println("ready")
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range int64(crashWriters) {
		wg.Go(func() {
			for s := int64(0); ; s++ {
				batch := round*1_000_000 + w*100_000 + s
				if _, err := db.Insert(ctx, crashCollName, crashBatch(batch)); err != nil {
					fmt.Println("insert:", err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Println("ack", batch)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns and kills processes")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(13, 13))
	acked := map[int64]bool{}
	for round := range int64(crashRounds) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v=false")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir, fmt.Sprintf("%s_ROUND=%d", crashEnv, round))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Wait until the child serves, then let it write for a while.
		if l := <-lines; l != "ready" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("round %d: child said %q", round, l)
		}
		kill := time.After(time.Duration(50+rng.IntN(400)) * time.Millisecond)
		n := 0
	read:
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					break read
				}
				if b, ok := strings.CutPrefix(l, "ack "); ok {
					v, _ := strconv.ParseInt(b, 10, 64)
					acked[v] = true
					n++
				} else {
					t.Errorf("round %d: child: %s", round, l)
				}
			case <-kill:
				cmd.Process.Signal(syscall.SIGKILL)
				kill = nil
			}
		}
		cmd.Wait()
		t.Logf("round %d: %d batches acknowledged before SIGKILL", round, n)
		checkCrashDir(t, dir, acked)
	}
}

// checkCrashDir opens dir as primary and checks the rows against acked.
func checkCrashDir(t *testing.T, dir string, acked map[int64]bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var db *DB
	var err error
	for {
		db, err = Open(ctx, dir, Options{NodeID: "checker", Timing: testTiming})
		if err == nil {
			break
		}
		if !errorsIs(err, errPeerAlive) {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // the dead child's heartbeat was still fresh
	}
	defer db.Close()
	b, err := db.Query(ctx, crashCollName, QueryRequest{Filter: "batch >= 0", OutputFields: []string{"batch", "vec"}})
	if err != nil {
		t.Fatal(err)
	}
	perBatch := map[int64]int{}
	ids := b.Column("id").Ints
	for i, batch := range b.Column("batch").Ints {
		perBatch[batch]++
		if !slices.Equal(b.Column("vec").Vectors[i*crashDim:(i+1)*crashDim], crashVec(ids[i])) {
			t.Fatalf("row %d: vector does not match its key", ids[i])
		}
	}
	for batch, n := range perBatch {
		if n != crashRows {
			t.Fatalf("batch %d is half-visible: %d of %d rows", batch, n, crashRows)
		}
	}
	for batch := range acked {
		if perBatch[batch] != crashRows {
			t.Fatalf("acknowledged batch %d lost (%d rows present)", batch, perBatch[batch])
		}
	}
	res, err := db.Search(ctx, crashCollName, SearchRequest{Vectors: [][]float32{crashVec(7)}, TopK: 3})
	if err != nil || len(res[0].Scores) == 0 {
		t.Fatalf("search after recovery: %v", err)
	}
}
