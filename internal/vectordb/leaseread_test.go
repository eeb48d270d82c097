package vectordb

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/guard"
)

// heldLog is the in-memory log with a storage lease whose time the test
// passes in: the guard's pure lease core (guard.Holder) at instant now.
type heldLog struct {
	*memLogHandle
	h   *guard.Holder
	now time.Duration
}

func (l *heldLog) awaitServe(context.Context) error {
	if l.h == nil {
		return guard.ErrNotHolding
	}
	return l.h.MayServe(l.now)
}

// keeperTiming is the keepers' lease at 100 ms adverts (preset normal):
// serve window 400 ms, pause threshold 200 ms.
var keeperTiming = guard.Timing{HeartbeatInterval: 100 * time.Millisecond, LeaseTimeout: 500 * time.Millisecond,
	SafetyMargin: 100 * time.Millisecond, PollInterval: 50 * time.Millisecond}

// readEach runs one read of each kind and returns their errors.
func readEach(db *DB) map[string]error {
	ctx := context.Background()
	_, get := db.Get(ctx, "c", Column{Type: TypeInt64, Ints: []int64{1}}, nil)
	_, query := db.Query(ctx, "c", QueryRequest{Filter: "id > 0"})
	_, count := db.Count(ctx, "c", "", nil)
	_, search := db.Search(ctx, "c", SearchRequest{Vectors: [][]float32{make([]float32, testDim)}, TopK: 1})
	return map[string]error{"get": get, "query": query, "count": count, "search": search}
}

// A primary answers reads only while it can prove its lease (DESIGN.md:
// "after a pause (GC, SIGSTOP, VM freeze) it must revalidate before
// answering anything"). Time is passed in: each step moves the lease's
// clock, feeds the holder a tick or a renewal, or reads.
func TestReadsNeedTheLease(t *testing.T) {
	const ms = time.Millisecond
	type step struct {
		kind       string // "tick", "renew" (at..end), "lose", "read"
		at, end    time.Duration
		want       error // of "read": nil (served) or the guard's reason
		wantLeaseE error // of "tick" / "renew"
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"a primary that ticks and renews serves", []step{
			{kind: "read", at: 10 * ms},
			{kind: "tick", at: 100 * ms}, {kind: "renew", at: 100 * ms, end: 110 * ms},
			{kind: "tick", at: 200 * ms}, {kind: "renew", at: 200 * ms, end: 210 * ms},
			{kind: "read", at: 250 * ms}}},
		{"SIGSTOP past the lease: refused on resuming, never served again", []step{
			{kind: "tick", at: 100 * ms}, {kind: "renew", at: 100 * ms, end: 110 * ms},
			{kind: "read", at: 150 * ms},
			// Frozen from 150 ms to 1.3 s (pause fault: 0.6-1.5 s); the
			// peer took over at about 600 ms and wrote.
			{kind: "read", at: 1300 * ms, want: guard.ErrLeaseExpired},
			{kind: "tick", at: 1301 * ms, wantLeaseE: guard.ErrLeaseExpired},
			{kind: "read", at: 1302 * ms, want: guard.ErrLeaseExpired},
			{kind: "renew", at: 1302 * ms, end: 1310 * ms, wantLeaseE: guard.ErrLeaseExpired},
			{kind: "read", at: 1311 * ms, want: guard.ErrLeaseExpired}}},
		{"a heartbeat stalled for less than the lease: refused until a renewal proves the lease", []step{
			{kind: "tick", at: 100 * ms}, {kind: "renew", at: 100 * ms, end: 110 * ms},
			// No tick from 100 ms to 330 ms: past the pause threshold.
			{kind: "read", at: 299 * ms},
			{kind: "read", at: 310 * ms, want: guard.ErrRevalidate},
			{kind: "tick", at: 330 * ms},
			{kind: "read", at: 331 * ms, want: guard.ErrRevalidate},
			{kind: "renew", at: 335 * ms, end: 345 * ms},
			{kind: "read", at: 346 * ms}}},
		{"renewals failing (slow or failing storage): refused from the deadline", []step{
			{kind: "tick", at: 100 * ms}, {kind: "tick", at: 200 * ms}, {kind: "tick", at: 300 * ms},
			{kind: "read", at: 399 * ms},
			{kind: "read", at: 400 * ms, want: guard.ErrLeaseExpired}}},
		{"OWNER taken over: refused at once", []step{
			{kind: "lose", at: 50 * ms},
			{kind: "read", at: 51 * ms, want: guard.ErrNotOwner}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &heldLog{memLogHandle: newMemLog().handle(true), h: guard.NewHolder(keeperTiming, 1, 0)}
			db, err := openWith(context.Background(), t.TempDir(), Options{NodeID: "t", Mode: Primary}, l)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			mustCreate(t, db, testSchema("c"), IndexParams{Type: IndexFLAT, Metric: MetricL2})
			if _, err := db.Insert(context.Background(), "c", toBatch([]oRow{{id: 1, vec: make([]float32, testDim)}})); err != nil {
				t.Fatal(err)
			}
			for i, s := range tt.steps {
				l.now = s.at
				var err error
				switch s.kind {
				case "tick":
					err = l.h.Tick(s.at)
				case "renew":
					err = l.h.Renewed(s.at, s.end)
				case "lose":
					l.h.Lose(guard.ErrNotOwner)
				case "read":
					for kind, err := range readEach(db) {
						switch {
						case s.want == nil && err != nil:
							t.Fatalf("step %d: %s at %v: %v, want it served", i, kind, s.at, err)
						case s.want != nil && (!errors.Is(err, ErrLeaseUnproven) || !errors.Is(err, s.want)):
							t.Fatalf("step %d: %s at %v: %v, want %v (%v)", i, kind, s.at, err, ErrLeaseUnproven, s.want)
						}
					}
				}
				if !errors.Is(err, s.wantLeaseE) || (s.wantLeaseE == nil && err != nil) {
					t.Fatalf("step %d: %s at %v: %v, want %v", i, s.kind, s.at, err, s.wantLeaseE)
				}
			}
		})
	}
}

// A standby is not asked for the lease (it never holds it; its reads lag
// the owner by nature), and a log without a lease (the in-memory log of
// tests) serves as before.
func TestReadsWithoutLease(t *testing.T) {
	ml := newMemLog()
	pl := &heldLog{memLogHandle: ml.handle(true), h: guard.NewHolder(keeperTiming, 1, 0)}
	primary, err := openWith(context.Background(), t.TempDir(), Options{NodeID: "a", Mode: Primary}, pl)
	if err != nil {
		t.Fatal(err)
	}
	defer primary.Close()
	mustCreate(t, primary, testSchema("c"), IndexParams{Type: IndexFLAT, Metric: MetricL2})
	if _, err := primary.Insert(context.Background(), "c", toBatch([]oRow{{id: 1, vec: make([]float32, testDim)}})); err != nil {
		t.Fatal(err)
	}
	standby, err := openWith(context.Background(), t.TempDir(), Options{NodeID: "b", Mode: Standby}, &heldLog{memLogHandle: ml.handle(false)})
	if err != nil {
		t.Fatal(err)
	}
	defer standby.Close()
	deadline := time.Now().Add(10 * time.Second)
	for standby.LoadState("c") != LoadStateLoaded && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	for kind, err := range readEach(standby) {
		if err != nil {
			t.Errorf("standby %s: %v", kind, err)
		}
	}
	plain := openMem(t, newMemLog(), Primary)
	mustCreate(t, plain, testSchema("c"), IndexParams{Type: IndexFLAT, Metric: MetricL2})
	for kind, err := range readEach(plain) {
		if err != nil {
			t.Errorf("primary of a log without a lease, %s: %v", kind, err)
		}
	}
}
