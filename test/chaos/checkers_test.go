package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus/pkg/v2/util/merr"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/milvus-ha/milvus-ha/internal/wal"
)

// The checkers must be able to fail: each gets histories it has to reject.

func TestLinearizabilityChecker(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	put := func(key int64, v string, call, ret int, out outcome) op {
		return op{Kind: opUpsert, Key: key, Value: v, Call: ms(call), Return: ms(ret), Outcome: out}
	}
	del := func(key int64, call, ret int, out outcome) op {
		return op{Kind: opDelete, Key: key, Call: ms(call), Return: ms(ret), Outcome: out}
	}
	get := func(key int64, v string, call, ret int) op {
		return op{Kind: opGet, Key: key, Value: v, Call: ms(call), Return: ms(ret), Outcome: ok}
	}
	for _, tc := range []struct {
		name string
		ops  []op
		bad  []int64
	}{
		{"sequential", []op{put(1, "x", 0, 1, ok), get(1, "x", 2, 3), del(1, 4, 5, ok), get(1, "", 6, 7)}, nil},
		{"stale read after an acknowledged put", []op{put(1, "x", 0, 1, ok), put(1, "y", 2, 3, ok), get(1, "x", 4, 5)}, []int64{1}},
		{"lost write", []op{put(1, "x", 0, 1, ok), get(1, "", 2, 3)}, []int64{1}},
		{"read of a value never written", []op{get(2, "z", 0, 1)}, []int64{2}},
		{"concurrent put may be seen or not", []op{put(1, "x", 0, 10, ok), get(1, "", 1, 2), get(1, "x", 3, 4)}, nil},
		{"seen value cannot go back", []op{put(1, "x", 0, 10, ok), get(1, "x", 1, 2), get(1, "", 3, 4)}, []int64{1}},
		{"indeterminate put seen later", []op{put(1, "x", 0, 1, indeterminate), get(1, "", 2, 3), get(1, "x", 50, 51)}, nil},
		{"indeterminate put never seen", []op{put(1, "x", 0, 1, indeterminate), get(1, "", 2, 3)}, nil},
		{"indeterminate put seen, then gone without a delete", []op{put(1, "x", 0, 1, indeterminate), get(1, "x", 2, 3), get(1, "", 4, 5)}, []int64{1}},
		{"indeterminate delete explains a vanished value", []op{put(1, "x", 0, 1, ok), del(1, 2, 3, indeterminate), get(1, "x", 4, 5), get(1, "", 6, 7)}, nil},
		{"stale read of a resumed primary, sent after the peer's put", []op{put(1, "x", 0, 1, ok), put(1, "y", 2, 3, ok),
			{Client: directClients + 1, Kind: opGet, Key: 1, Value: "x", Call: ms(4), Return: ms(9), Outcome: ok, Direct: true}}, []int64{1}},
		{"failed put has no effect", []op{put(1, "x", 0, 1, failed), get(1, "x", 2, 3)}, []int64{1}},
		{"keys are independent", []op{put(1, "x", 0, 1, ok), put(2, "y", 0, 1, ok), get(2, "x", 2, 3), get(1, "x", 2, 3)}, []int64{2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := checkLinearizable(tc.ops, 10*time.Second, "")
			if fmt.Sprint(res.Violations) != fmt.Sprint(tc.bad) || len(res.Unknown) > 0 {
				t.Fatalf("violations %v unknown %v, want %v", res.Violations, res.Unknown, tc.bad)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want outcome
	}{
		{"nil", nil, ok},
		{"deadline", fmt.Errorf("insert: %w", context.DeadlineExceeded), indeterminate},
		{"never sent", status.Error(codes.Unavailable, `connection error: desc = "transport: Error while dialing: dial tcp 198.18.0.100:19530: connect: connection refused"`), failed},
		{"connection lost mid-call", status.Error(codes.Unavailable, "error reading from server: EOF"), indeterminate},
		{"reset", status.Error(codes.Internal, "stream terminated by RST_STREAM"), indeterminate},
		{"collection not found", merr.Error(&commonpb.Status{Code: 100, Reason: "collection not found"}), failed},
		{"standby", merr.Error(&commonpb.Status{Code: 1, Reason: "not primary: read-only standby"}), failed},
		{"read refused, lease unproven", merr.Error(&commonpb.Status{Code: 2, Reason: "storage lease unproven: refusing a possibly stale read", Retriable: true}), failed},
		{"fenced: may be inside the seal", merr.Error(&commonpb.Status{Code: 1, Reason: "fenced: storage lease lost"}), indeterminate},
		{"storage error", merr.Error(&commonpb.Status{Code: 1001, Reason: "wal: write failed"}), indeterminate},
		{"plain error", errors.New("something"), indeterminate},
	} {
		if got := classify(tc.err); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestIntervals(t *testing.T) {
	iv := func(a, b int) interval { return interval{time.Duration(a), time.Duration(b)} }
	got := intersect([]interval{iv(0, 10), iv(20, 30)}, []interval{iv(5, 25), iv(28, 40)})
	if fmt.Sprint(got) != fmt.Sprint([]interval{iv(5, 10), iv(20, 25), iv(28, 30)}) {
		t.Errorf("intersect: %v", got)
	}
	got = subtract([]interval{iv(0, 100)}, []interval{iv(10, 20), iv(15, 30), iv(90, 200)})
	if fmt.Sprint(got) != fmt.Sprint([]interval{iv(0, 10), iv(30, 90)}) {
		t.Errorf("subtract: %v", got)
	}
}

// fence is a wal.Fence the test flips.
type fence struct{ lost bool }

func (f *fence) StillOwner() error {
	if f.lost {
		return errors.New("fenced by test")
	}
	return nil
}

// TestTwoWriterCheck builds a real log with the product's WAL: node a
// writes epoch 1, node b takes epoch 2 (sealing 1), then a writes once
// more (past the seal, refused by its fence check). The check must accept
// the honest history and flag an acknowledgment from the deposed writer
// and a write acknowledged in an epoch after a newer one was taken.
func TestTwoWriterCheck(t *testing.T) {
	dir := t.TempDir()
	const salt = "v123456"
	val := func(c, s int) string { return fmt.Sprintf("%s-%02d-%09d", salt, c, s) }
	ctx := context.Background()
	fa := &fence{}
	wa, err := wal.OpenPrimary(filepath.Join(dir, "wal"), 1, fa, wal.Options{})
	must(t, err)
	for i := 1; i <= 3; i++ {
		if _, err := wa.Append(ctx, []byte("row "+val(0, i))); err != nil {
			t.Fatal(err)
		}
	}
	wb, err := wal.OpenPrimary(filepath.Join(dir, "wal"), 2, &fence{}, wal.Options{})
	must(t, err)
	fa.lost = true
	if _, err := wa.Append(ctx, []byte("row "+val(0, 4))); !errors.Is(err, wal.ErrFenced) {
		t.Fatalf("append past the seal: %v, want ErrFenced", err)
	}
	if _, err := wb.Append(ctx, []byte("row "+val(1, 1))); err != nil {
		t.Fatal(err)
	}
	wa.Close()
	wb.Close()

	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	logAt := func(d time.Duration, node string, epoch int) string {
		return fmt.Sprintf("time=%s level=INFO msg=\"guard: lease acquired\" node=%s node=%s epoch=%d previous=x\n",
			start.Add(d).Format(time.RFC3339Nano), node, node, epoch)
	}
	logA, logB := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	must(t, os.WriteFile(logA, []byte(logAt(time.Second, "a", 1)), 0o644))
	must(t, os.WriteFile(logB, []byte(logAt(10*time.Second, "b", 2)), 0o644))
	s := func(n int) time.Duration { return time.Duration(n) * time.Second }
	w := func(v string, call, ret time.Duration) op {
		return op{Kind: opInsert, Value: v, Call: call, Return: ret, Outcome: ok}
	}
	honest := []op{w(val(0, 1), s(2), s(3)), w(val(0, 3), s(5), s(11)), w(val(1, 1), s(11), s(12))}
	for _, tc := range []struct {
		name           string
		ops            []op
		intervals, bad int
	}{
		{"honest", honest, 0, 0},
		{"deposed writer acknowledged past the seal", append(honest, w(val(0, 4), s(12), s(13))), 0, 1},
		{"old epoch acknowledged a write sent after the new epoch", append(honest, w(val(0, 2), s(10)+1, s(14))), 1, 0},
		{"acknowledged before its epoch existed", append(honest, w(val(1, 1), s(1), s(2))), 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := checkTwoWriters(dir, []string{logA, logB}, start, tc.ops, salt, len(val(0, 0)))
			must(t, err)
			if rep.Epochs != 2 || rep.Late != 1 {
				t.Errorf("epochs %d late %d, want 2 and 1", rep.Epochs, rep.Late)
			}
			if len(rep.Intervals) != tc.intervals || len(rep.Problems) != tc.bad {
				t.Fatalf("intervals %v problems %v, want %d and %d", rep.Intervals, rep.Problems, tc.intervals, tc.bad)
			}
		})
	}
	// An epoch acquired twice is a problem of its own.
	must(t, os.WriteFile(logB, []byte(logAt(10*time.Second, "b", 2)+logAt(11*time.Second, "b", 1)), 0o644))
	rep, err := checkTwoWriters(dir, []string{logA, logB}, start, honest, salt, len(val(0, 0)))
	must(t, err)
	if len(rep.Problems) != 1 {
		t.Fatalf("problems %v, want the double acquisition of epoch 1", rep.Problems)
	}
}
