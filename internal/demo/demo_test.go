package demo

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/config"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func at(msec int) time.Time { return t0.Add(time.Duration(msec) * time.Millisecond) }

func ok(msec int, by string) Sample {
	return Sample{At: at(msec), Latency: time.Millisecond, OK: true, ServedBy: by}
}

func lost(msec int) Sample { return Sample{At: at(msec), Latency: 500 * time.Millisecond} }

// done is an answered request that completed at msec (sent 1 ms before).
func done(msec int, by string) Sample {
	return Sample{At: at(msec - 1), Latency: time.Millisecond, OK: true, ServedBy: by}
}

func TestMeasure(t *testing.T) {
	tests := []struct {
		name        string
		samples     []Sample
		from, to    int
		outage      time.Duration
		last, first int // ms; first -1 = no answer after from
		failed      int
		gap         bool
	}{
		{
			name:    "steady answers: no outage, the longest gap is the pace",
			samples: []Sample{done(1, "a"), done(11, "a"), done(21, "b"), done(31, "b")},
			from:    5, to: 40,
			outage: 10 * time.Millisecond, last: 1, first: 11,
		},
		{
			name: "failover: from the last answer before to the first after",
			samples: []Sample{done(1, "a"), done(11, "a"), lost(20), lost(30), lost(40),
				done(301, "b"), done(311, "b")},
			from: 15, to: 400,
			outage: 290 * time.Millisecond, last: 11, first: 301, failed: 3, gap: true,
		},
		{
			name: "the longest of two gaps",
			samples: []Sample{done(1, "a"), lost(10), done(101, "a"), lost(110), lost(120),
				done(401, "b")},
			from: 5, to: 500,
			outage: 300 * time.Millisecond, last: 101, first: 401, failed: 3, gap: true,
		},
		{
			name:    "the old owner answering after the fault counts",
			samples: []Sample{done(1, "a"), done(11, "a"), done(21, "a"), done(121, "b")},
			from:    5, to: 200,
			outage: 100 * time.Millisecond, last: 21, first: 121, gap: true,
		},
		{
			name:    "no answer since from: the outage runs to the window's end",
			samples: []Sample{done(1, "a"), lost(10), lost(20)},
			from:    5, to: 100,
			outage: 99 * time.Millisecond, last: 1, first: -1, failed: 2, gap: true,
		},
		{
			name: "a slow answer with nothing failed below MinOutage is no outage",
			samples: []Sample{done(1, "a"),
				{At: at(5), Latency: 30 * time.Millisecond, OK: true, ServedBy: "a"}},
			from: 2, to: 100,
			outage: 34 * time.Millisecond, last: 1, first: 35,
		},
		{
			name:    "answers after to are not seen",
			samples: []Sample{done(1, "a"), lost(10), done(200, "b")},
			from:    5, to: 100,
			outage: 99 * time.Millisecond, last: 1, first: -1, failed: 1, gap: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Measure(tt.samples, at(tt.from), at(tt.to))
			wantFirst := time.Time{}
			if tt.first >= 0 {
				wantFirst = at(tt.first)
			}
			if got.Outage != tt.outage || !got.LastAnswer.Equal(at(tt.last)) || !got.FirstAnswer.Equal(wantFirst) ||
				got.Failed != tt.failed || (len(got.Gaps) > 0) != tt.gap {
				t.Fatalf("Measure = %+v\nwant outage %v from %d ms to %d ms, %d failed, gap %v", got, tt.outage, tt.last, tt.first, tt.failed, tt.gap)
			}
			if tt.gap && (!got.Gaps[0].From.Equal(got.LastAnswer) || got.Gaps[0].Len() != tt.outage) {
				t.Errorf("gap %+v does not match the outage", got.Gaps[0])
			}
		})
	}
}

func TestPreflight(t *testing.T) {
	have := func(names ...string) func(string) (string, error) {
		return func(n string) (string, error) {
			for _, h := range names {
				if h == n {
					return "/usr/sbin/" + n, nil
				}
			}
			return "", errors.New("not found")
		}
	}
	tests := []struct {
		name    string
		euid    int
		look    func(string) (string, error)
		wantErr string // "" = no error
	}{
		{"root with everything", 0, have("ip", "nft"), ""},
		{"not root", 1000, have("ip", "nft"), "demo needs root: it builds hosts as network namespaces (run: sudo go run ./cmd/milvus-ha demo)"},
		{"not root and no tools: root first", 1000, have(), "demo needs root"},
		{"no nft", 0, have("ip"), "demo needs nft (Debian package nftables"},
		{"nothing", 0, have(), "demo needs ip (Debian package iproute2, for network namespaces) and nft"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := preflight(tt.euid, tt.look)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("preflight: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("preflight = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
	if err := preflight(1000, have("ip", "nft")); !errors.Is(err, ErrNeedRoot) {
		t.Fatalf("not root: %v is not ErrNeedRoot", err)
	}
}

// The rendered node config goes through the real config loader and says
// what the demo relies on.
func TestRenderNodeConfigLoads(t *testing.T) {
	dir := t.TempDir()
	spec := NodeSpec{
		Name: "a", Priority: 150, VIP: netip.MustParsePrefix("198.18.0.100/24"), VRID: 51,
		DataDir: filepath.Join(dir, "shared"), API: "127.0.0.1:9700", CheckFlag: filepath.Join(dir, "a-check-fails"),
	}
	file, text := RenderNodeConfig(spec)
	path := filepath.Join(dir, file)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, warns, err := config.Load(path)
	if err != nil {
		t.Fatalf("config.Load: %v\n%s", err, text)
	}
	if len(warns) > 0 {
		t.Errorf("warnings: %v", warns)
	}
	if cfg.Format != config.FormatYAML || cfg.Keeper == nil {
		t.Fatalf("not a native keeper config (format %v):\n%s", cfg.Format, text)
	}
	k := cfg.Keeper
	if k.Node != "a" || k.DataDir != spec.DataDir || k.API.Listen != spec.API {
		t.Errorf("keeper = node %q, data_dir %q, api %q", k.Node, k.DataDir, k.API.Listen)
	}
	if k.Service.Kind != config.ServiceEmbedded || k.Service.Listen != ":19530" || k.Service.HealthListen != ":9091" {
		t.Errorf("service = %+v, want embedded on :19530, health :9091", k.Service)
	}
	if len(cfg.Instances) != 1 {
		t.Fatalf("%d instances, want 1", len(cfg.Instances))
	}
	in := cfg.Instances[0]
	if in.Priority != 150 || in.Interface != "eth0" || in.VRID != 51 || in.Advert != 100*time.Millisecond || in.Nopreempt {
		t.Errorf("instance = priority %d, interface %q, vrid %d, advert %v, nopreempt %v",
			in.Priority, in.Interface, in.VRID, in.Advert, in.Nopreempt)
	}
	if len(in.VIPs) != 1 || in.VIPs[0].Prefix != spec.VIP {
		t.Errorf("VIPs = %+v, want %v", in.VIPs, spec.VIP)
	}
	if len(k.Checks) != 1 {
		t.Fatalf("checks = %+v, want the demo's script check", k.Checks)
	}
	c := k.Checks[0]
	if c.Kind != config.CheckScript || c.Weight != 0 || c.Fall != 1 || c.Scope != config.ScopeNode ||
		!slices.Equal(c.Args, []string{"/bin/sh", "-c", "! test -e " + spec.CheckFlag}) {
		t.Errorf("check = %+v", c)
	}
}

// A keeper's status answer, as GET /status writes it.
const statusJSON = `{
  "node": "b", "state": "BACKUP", "active": false, "role": "standby", "priority": 100,
  "blocked": "peer alive on storage: promote: guard: peer alive on storage",
  "vip": "198.18.0.100/24", "lease_timeout_ms": 500,
  "transitions": [
    {"At": "2025-01-01T00:00:01Z", "From": 0, "To": 1, "Priority": 100, "Reason": "startup"},
    {"At": "2025-01-01T00:00:03Z", "From": 1, "To": 2, "Priority": 100, "Reason": "master down"}
  ],
  "events": [
    {"at": "2025-01-01T00:00:02Z", "kind": "refused", "detail": "peer alive on storage: x"},
    {"at": "2025-01-01T00:00:01Z", "kind": "start", "detail": "node b"}
  ]
}`

func TestParseStatusAndNews(t *testing.T) {
	st, err := parseStatus([]byte(statusJSON))
	if err != nil {
		t.Fatal(err)
	}
	if st.Node != "b" || st.State != "BACKUP" || st.Active || !strings.HasPrefix(st.Blocked, "peer alive on storage") {
		t.Fatalf("status = %+v", st)
	}
	ts, es, cur := cursor{}.news(st)
	if len(ts) != 2 || ts[0].To.String() != "BACKUP" || ts[1].To.String() != "MASTER" {
		t.Errorf("transitions = %+v", ts)
	}
	if len(es) != 2 || es[0].Kind != "start" || es[1].Kind != "refused" {
		t.Errorf("events not oldest first: %+v", es)
	}
	// Nothing new: nothing reported again.
	if ts, es, _ := cur.news(st); len(ts)+len(es) != 0 {
		t.Errorf("old history reported again: %+v %+v", ts, es)
	}
	// One new event.
	st.Events = append(st.Events, event{At: t0.Add(5 * time.Second), Kind: "promote"})
	if ts, es, _ := cur.news(st); len(ts) != 0 || len(es) != 1 || es[0].Kind != "promote" {
		t.Errorf("news = %+v %+v, want the promote only", ts, es)
	}
	for _, bad := range []string{"", "{", "[]", `{"node": "a"}`, `{"state": "MASTER"}`, `{"node": "a", "state": "BACKUP", "events": 3}`} {
		if _, err := parseStatus([]byte(bad)); err == nil {
			t.Errorf("parseStatus(%q) accepted", bad)
		}
	}
}

func FuzzParseStatus(f *testing.F) {
	f.Add([]byte(statusJSON))
	f.Add([]byte(`{"node":"a","state":"MASTER","events":[{"at":"x"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if st, err := parseStatus(b); err == nil {
			cursor{}.news(st)
		}
	})
}

func TestRefusalReason(t *testing.T) {
	for in, want := range map[string]string{
		"peer alive on storage: promote: guard: peer alive on storage: epoch 7": "peer alive on storage",
		"paused for maintenance": "paused for maintenance",
		"":                       "",
	} {
		if got := refusalReason(in); got != want {
			t.Errorf("refusalReason(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEchoReply(t *testing.T) {
	vip, self := netip.MustParseAddr("198.18.0.100"), netip.MustParseAddr("198.18.0.3")
	pkt := func(src, dst netip.Addr, typ byte, id, seq uint16) []byte {
		b := make([]byte, 28)
		b[0], b[9] = 0x45, 1
		copy(b[12:16], src.AsSlice())
		copy(b[16:20], dst.AsSlice())
		b[20] = typ
		b[24], b[25], b[26], b[27] = byte(id>>8), byte(id), byte(seq>>8), byte(seq)
		return b
	}
	if seq, ok := echoReply(pkt(vip, self, 0, 7, 513), vip, self, 7); !ok || seq != 513 {
		t.Fatalf("reply: seq %d ok %v", seq, ok)
	}
	for name, b := range map[string][]byte{
		"request":   pkt(self, vip, 8, 7, 1),
		"other id":  pkt(vip, self, 0, 8, 1),
		"other src": pkt(self, self, 0, 7, 1),
		"truncated": pkt(vip, self, 0, 7, 1)[:24],
		"empty":     nil,
	} {
		if _, ok := echoReply(b, vip, self, 7); ok {
			t.Errorf("%s accepted", name)
		}
	}
}

func FuzzEchoReply(f *testing.F) {
	vip, self := netip.MustParseAddr("198.18.0.100"), netip.MustParseAddr("198.18.0.3")
	f.Add([]byte{0x45, 0, 0, 28, 0, 0, 0, 0, 64, 1, 0, 0, 198, 18, 0, 100, 198, 18, 0, 3, 0, 0, 0, 0, 0, 7, 0, 1})
	f.Add([]byte{0x4f})
	f.Fuzz(func(t *testing.T, b []byte) { echoReply(b, vip, self, 7) })
}

// The plot is well-formed XML holding a point per sample, the actions'
// labels, the outage and the node states.
func TestWriteSVG(t *testing.T) {
	p := Plot{
		Start:   t0,
		Samples: []Sample{ok(0, "a"), ok(10, "a"), lost(20), lost(30), ok(40, "b"), ok(50, "b")},
		Marks:   []Mark{{At: at(15), Label: "host loss: a's link <down> & out"}},
		States:  []NodeState{{At: at(0), Node: "a", State: "MASTER"}, {At: at(15), Node: "a", State: "FAULT"}, {At: at(40), Node: "b", State: "MASTER"}},
		Steps:   []StepResult{{Impact: Impact{Gaps: []Gap{{at(20), at(40)}}}}},
		Nodes:   []string{"a", "b"},
	}
	var buf bytes.Buffer
	if err := WriteSVG(&buf, p); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(buf.Bytes()))
	counts := map[string]int{}
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, buf.String())
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			counts[tok.Name.Local]++
		case xml.CharData:
			text.Write(tok)
			text.WriteByte('\n')
		}
	}
	if counts["svg"] != 1 || counts["circle"] < 4+2 { // 4 answers + legend
		t.Errorf("elements %v", counts)
	}
	for _, want := range []string{"host loss: a's link <down> & out", "20 ms", "MASTER", "failed", "one request from the client host"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("SVG text lacks %q", want)
		}
	}
}

// Lines come out in time order whatever order they were said in, and
// untimed text comes after everything said before it.
func TestNarratorOrders(t *testing.T) {
	var buf bytes.Buffer
	n := newNarrator(&buf, t0, time.Hour)
	n.say(at(2000), "second")
	n.say(at(1000), "first")
	n.printf("table\n")
	n.say(at(500), "late")
	n.close()
	want := "t= +2.00s  second\n"
	got := buf.String()
	if !strings.HasPrefix(got, "t= +1.00s  first\n"+want+"table\n") || !strings.HasSuffix(got, "t= +0.50s  late\n") {
		t.Fatalf("narration:\n%s", got)
	}
}
