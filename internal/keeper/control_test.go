package keeper

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/milvus-ha/milvus-ha/internal/config"
	"github.com/milvus-ha/milvus-ha/internal/speaker"
	"github.com/milvus-ha/milvus-ha/internal/vrrp"
)

// fakeSpeaker stands in for the VRRP instance: the handlers' logic only
// reads its status and sets inhibits. (The real thing is proven in test/ha.)
type fakeSpeaker struct {
	mu       sync.Mutex
	status   vrrp.Status
	inhibits map[string]bool
	calls    int
	tracks   map[string]string // name -> "weight ok"
}

func (f *fakeSpeaker) Run(ctx context.Context) error { <-ctx.Done(); return nil }
func (f *fakeSpeaker) Close() error                  { return nil }
func (f *fakeSpeaker) Status() (vrrp.Status, []speaker.Transition) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status, nil
}
func (f *fakeSpeaker) Inhibit(_ context.Context, reason string, on bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.inhibits == nil {
		f.inhibits = map[string]bool{}
	}
	f.inhibits[reason] = on
	return nil
}
func (f *fakeSpeaker) Track(_ context.Context, name string, weight int, ok bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tracks == nil {
		f.tracks = map[string]string{}
	}
	f.tracks[name] = fmt.Sprint(weight, " ", ok)
	return nil
}

// fakeService is a protected service that is always fine.
type fakeService struct{ active bool }

func (s *fakeService) activate(context.Context) error   { s.active = true; return nil }
func (s *fakeService) deactivate(context.Context) error { s.active = false; return nil }
func (s *fakeService) standbyReady() error              { return nil }
func (s *fakeService) busy() bool                       { return s.active }
func (s *fakeService) mayServe() bool                   { return s.active }
func (s *fakeService) escalate() bool                   { return false }
func (s *fakeService) check(context.Context) error      { return nil }
func (s *fakeService) handOver(context.Context) (func(), error) {
	return nil, fmt.Errorf("fake: nothing to hand over")
}
func (s *fakeService) role() string {
	if s.active {
		return "primary"
	}
	return "standby"
}
func (s *fakeService) lease() leaseInfo { return leaseInfo{} }
func (s *fakeService) close()           {}

func testKeeper(t *testing.T, token string) (*Keeper, *fakeSpeaker) {
	t.Helper()
	cfg, _, err := config.ParseYAML("a.yaml", []byte("node: a\ninterface: eth0\nvip: 198.18.0.100/24\nvrid: 51\ndata_dir: /srv/x\napi: {listen: '127.0.0.1:0', token: '"+token+"'}\n"))
	if err != nil {
		t.Fatal(err)
	}
	sp := &fakeSpeaker{status: vrrp.Status{State: vrrp.StateBackup, Priority: 100}}
	k := &Keeper{cfg: cfg, inst: cfg.Instances[0], log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		reg: prometheus.NewRegistry(), speaker: sp, svc: &fakeService{}}
	k.timing, _ = Timing(config.TimingNormal, 100*time.Millisecond)
	k.peers.stale = 500 * time.Millisecond
	k.policy.serviceHold = serviceHold
	k.metrics = newMetrics(k.reg, k)
	if k.checks, err = k.buildChecks(); err != nil {
		t.Fatal(err)
	}
	if k.beacon, err = openBeacon(t.TempDir(), "a"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.beacon.close() })
	return k, sp
}

// makeMaster puts the fake in MASTER with the service active.
func makeMaster(k *Keeper, sp *fakeSpeaker) {
	sp.status = vrrp.Status{State: vrrp.StateMaster, Priority: 100, Master: netip.MustParseAddr("198.18.0.1"), MasterPriority: 100}
	k.active = true
	k.svc.(*fakeService).active = true
}

// peerSeen feeds a moving, ready standby beacon, last changed ago.
func peerSeen(k *Keeper, ago time.Duration) {
	now := time.Now()
	k.peers.observe(now.Add(-ago-time.Second), beacon{Node: "b", Counter: 1, Ready: true}, true)
	k.peers.observe(now.Add(-ago), beacon{Node: "b", Counter: 2, Ready: true}, true)
}

func call(t *testing.T, h http.Handler, method, path, token string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func TestSwitchover(t *testing.T) {
	tests := []struct {
		name  string
		setup func(k *Keeper, sp *fakeSpeaker)
		code  int
		body  string
	}{
		{"backup has nothing to hand over", func(k *Keeper, sp *fakeSpeaker) { peerSeen(k, 0) }, 409, "not the active MASTER"},
		{"no standby ever seen", func(k *Keeper, sp *fakeSpeaker) { makeMaster(k, sp) }, 409, "no ready standby to hand over to: no standby beacon"},
		{"dead peer: beacon stale for longer than Master_Down_Interval", func(k *Keeper, sp *fakeSpeaker) {
			makeMaster(k, sp)
			peerSeen(k, 2*time.Second)
		}, 409, "standby b not seen for"},
		{"peer not ready", func(k *Keeper, sp *fakeSpeaker) {
			makeMaster(k, sp)
			now := time.Now()
			k.peers.observe(now.Add(-time.Second), beacon{Node: "b", Counter: 1}, true)
			k.peers.observe(now, beacon{Node: "b", Counter: 2, Why: "VRRP FAULT"}, true)
		}, 409, "not ready (VRRP FAULT)"},
		{"paused", func(k *Keeper, sp *fakeSpeaker) { makeMaster(k, sp); peerSeen(k, 0); k.paused = true }, 409, "paused"},
		{"ready standby: handed over", func(k *Keeper, sp *fakeSpeaker) { makeMaster(k, sp); peerSeen(k, 0) }, 200, "handed over to b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, sp := testKeeper(t, "")
			tt.setup(k, sp)
			code, body := call(t, k.handler(), "POST", "/switchover", "")
			if code != tt.code || !strings.Contains(body, tt.body) {
				t.Fatalf("got %d %s, want %d ~%q", code, body, tt.code, tt.body)
			}
			// A refused switchover changes nothing.
			if handed := sp.inhibits[reasonSwitchover]; handed != (tt.code == 200) || (tt.code != 200 && sp.calls != 0) {
				t.Fatalf("inhibits %v after %d calls", sp.inhibits, sp.calls)
			}
		})
	}
}

func TestPauseTwice(t *testing.T) {
	k, _ := testKeeper(t, "")
	h := k.handler()
	if code, body := call(t, h, "POST", "/pause", ""); code != 200 {
		t.Fatalf("first pause: %d %s", code, body)
	}
	if code, body := call(t, h, "POST", "/pause", ""); code != 409 || !strings.Contains(body, "already paused") {
		t.Fatalf("second pause: %d %s", code, body)
	}
	if !k.Status().Paused {
		t.Fatal("not paused")
	}
	if err := k.BecomeMaster(context.Background()); err == nil || !strings.Contains(err.Error(), "paused") {
		t.Fatalf("gate while paused: %v", err)
	}
	if code, _ := call(t, h, "POST", "/resume", ""); code != 200 || k.Status().Paused {
		t.Fatalf("resume: %d", code)
	}
}

func TestToken(t *testing.T) {
	k, _ := testKeeper(t, "s3cret")
	h := k.handler()
	for _, tok := range []string{"", "wrong"} {
		if code, body := call(t, h, "POST", "/pause", tok); code != 401 || !strings.Contains(body, "missing or wrong token") {
			t.Fatalf("token %q: %d %s", tok, code, body)
		}
	}
	if _, m := call(t, h, "GET", "/metrics", ""); !strings.Contains(m, "milvusha_keeper_api_unauthorized_total 2") {
		t.Fatal("unauthorized counter is not 2")
	}
	if k.Status().Paused {
		t.Fatal("paused without a valid token")
	}
	if code, _ := call(t, h, "POST", "/pause", "s3cret"); code != 200 {
		t.Fatalf("valid token refused: %d", code)
	}
	// Reads need no token.
	if code, _ := call(t, h, "GET", "/status", ""); code != 200 {
		t.Fatalf("status: %d", code)
	}
}

func TestRoleProbesAndStatus(t *testing.T) {
	k, sp := testKeeper(t, "")
	h := k.handler()
	if code, _ := call(t, h, "GET", "/primary", ""); code != 503 {
		t.Fatalf("/primary on a backup: %d", code)
	}
	if code, _ := call(t, h, "GET", "/standby", ""); code != 200 {
		t.Fatalf("/standby on a backup: %d", code)
	}
	makeMaster(k, sp)
	if code, _ := call(t, h, "GET", "/primary", ""); code != 200 {
		t.Fatalf("/primary on the active node: %d", code)
	}
	_, body := call(t, h, "GET", "/status", "")
	for _, want := range []string{`"name": "service"`, `"scope": "service"`, `"peer": {`, `"state": "MASTER"`} {
		if !strings.Contains(body, want) {
			t.Errorf("status lacks %s:\n%s", want, body)
		}
	}
	_, metrics := call(t, h, "GET", "/metrics", "")
	for _, want := range []string{`milvusha_keeper_check_state{check="service"} -1`, "milvusha_keeper_active 1", "milvusha_keeper_peer_ready 0"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestControlListen(t *testing.T) {
	for _, tt := range []struct {
		api config.API
		ok  bool
	}{
		{config.API{Listen: "127.0.0.1:9700"}, true},
		{config.API{Listen: "[::1]:9700"}, true},
		{config.API{Listen: "localhost:9700"}, true},
		{config.API{Listen: ""}, true},
		{config.API{Listen: ":9700"}, false},
		{config.API{Listen: "198.18.0.1:9700"}, false},
		{config.API{Listen: "198.18.0.1:9700", Token: "t"}, true},
		{config.API{Listen: "garbage"}, false},
	} {
		if err := checkControlListen(tt.api); (err == nil) != tt.ok {
			t.Errorf("%+v: %v", tt.api, err)
		}
	}
}
