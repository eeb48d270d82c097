package vectordb

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
)

func TestStorageFailureKeepsReads(t *testing.T) {
	ctx := context.Background()
	l := newMemLog()
	db := openMem(t, l, Primary)
	mustCreate(t, db, testSchema("c"), IndexParams{Type: IndexFLAT, Metric: MetricL2})
	if _, err := db.Insert(ctx, "c", toBatch([]oRow{{id: 1, vec: make([]float32, testDim)}})); err != nil {
		t.Fatal(err)
	}
	l.failErr = errors.New("no space left on device")
	_, err := db.Insert(ctx, "c", toBatch([]oRow{{id: 2, vec: make([]float32, testDim)}}))
	if !errors.Is(err, ErrStorage) || db.Role() != RoleFailed {
		t.Fatalf("insert on a failing disk: %v, role %v", err, db.Role())
	}
	if _, err := db.DeleteByPK(ctx, "c", Column{Type: TypeInt64, Ints: []int64{1}}); !errors.Is(err, ErrStorage) {
		t.Fatalf("later write: %v", err)
	}
	if n, err := db.Count(ctx, "c", "", nil); err != nil || n != 1 {
		t.Fatalf("reads after the failure: %d, %v", n, err)
	}
	select {
	case <-db.Fenced():
	default:
		t.Fatal("Fenced() not closed after a storage failure")
	}
}

// TestDiskFull fills a small tmpfs: the write that does not fit fails,
// reads go on, and after space is freed every acknowledged row is back.
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts a tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("needs tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	ctx := context.Background()
	db, err := Open(ctx, dir, Options{NodeID: "a", Timing: testTiming, CheckpointBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateCollection(ctx, crashSchema()); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateIndex(ctx, crashCollName, "vec", IndexParams{Type: IndexFLAT, Metric: MetricL2}); err != nil {
		t.Fatal(err)
	}
	if err := db.Load(ctx, crashCollName); err != nil {
		t.Fatal(err)
	}
	acked := map[int64]bool{}
	var werr error
	for batch := int64(0); batch < 10_000; batch++ {
		if _, werr = db.Insert(ctx, crashCollName, crashBatch(batch)); werr != nil {
			break
		}
		acked[batch] = true
	}
	if !errors.Is(werr, ErrStorage) {
		t.Fatalf("filling the disk: %v", werr)
	}
	if n, err := db.Count(ctx, crashCollName, "", nil); err != nil || n != int64(len(acked)*crashRows) {
		t.Fatalf("reads on a full disk: %d, %v; want %d", n, err, len(acked)*crashRows)
	}
	db.Close()
	if out, err := exec.Command("mount", "-o", "remount,size=64m", dir).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v: %s", err, out)
	}
	checkCrashDir(t, dir, acked)
}
