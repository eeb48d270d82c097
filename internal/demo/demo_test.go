package demo

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
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

func TestMeasure(t *testing.T) {
	tests := []struct {
		name     string
		samples  []Sample
		from, to int
		want     Impact
	}{
		{
			name:    "no failure",
			samples: []Sample{ok(0, "a"), ok(10, "a"), ok(20, "b")},
			to:      30,
			want:    Impact{Slowest: time.Millisecond},
		},
		{
			name:    "one run of failures ends at the next answered request",
			samples: []Sample{ok(0, "a"), lost(10), lost(20), lost(30), ok(40, "b"), ok(50, "b")},
			to:      60,
			want:    Impact{Outage: 30 * time.Millisecond, Failed: 3, Slowest: time.Millisecond, Gaps: []Gap{{at(10), at(40)}}},
		},
		{
			name:    "two runs add up",
			samples: []Sample{lost(0), ok(10, "a"), lost(20), lost(30), ok(50, "b")},
			to:      60,
			want:    Impact{Outage: 40 * time.Millisecond, Failed: 3, Slowest: time.Millisecond, Gaps: []Gap{{at(0), at(10)}, {at(20), at(50)}}},
		},
		{
			name:    "a run still open at the window's end lasts until to",
			samples: []Sample{ok(0, "a"), lost(10), lost(20)},
			to:      100,
			want:    Impact{Outage: 90 * time.Millisecond, Failed: 2, Slowest: time.Millisecond, Gaps: []Gap{{at(10), at(100)}}},
		},
		{
			name:    "requests outside the window are ignored",
			samples: []Sample{lost(0), lost(5), ok(20, "a"), lost(200)},
			from:    10,
			to:      100,
			want:    Impact{Slowest: time.Millisecond},
		},
		{
			name: "a client that stalled is not an outage",
			samples: []Sample{ok(0, "a"), ok(400, "a"),
				{At: at(410), Latency: 80 * time.Millisecond, OK: true, ServedBy: "b"}},
			to:   500,
			want: Impact{Slowest: 80 * time.Millisecond},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Measure(tt.samples, at(tt.from), at(tt.to))
			if got.Outage != tt.want.Outage || got.Failed != tt.want.Failed || got.Slowest != tt.want.Slowest ||
				len(got.Gaps) != len(tt.want.Gaps) {
				t.Fatalf("Measure = %+v, want %+v", got, tt.want)
			}
			for i := range got.Gaps {
				if !got.Gaps[i].From.Equal(tt.want.Gaps[i].From) || !got.Gaps[i].To.Equal(tt.want.Gaps[i].To) {
					t.Fatalf("gap %d = %v, want %v", i, got.Gaps[i], tt.want.Gaps[i])
				}
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
		Name: "a", Priority: 150, VIP: netip.MustParsePrefix("198.18.0.100/24"), DataDir: dir,
		CheckFlag: filepath.Join(dir, "a-check-fails"), Notify: filepath.Join(dir, "notify.sh") + " a",
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
	if len(cfg.Instances) != 1 {
		t.Fatalf("%d instances, want 1", len(cfg.Instances))
	}
	in := cfg.Instances[0]
	if in.Priority != 150 || in.Interface != "eth0" || in.Version != 3 || in.Advert != 100*time.Millisecond || in.Nopreempt {
		t.Errorf("instance = priority %d, interface %q, version %d, advert %v, nopreempt %v",
			in.Priority, in.Interface, in.Version, in.Advert, in.Nopreempt)
	}
	if len(in.TrackScripts) != 1 || in.TrackScripts[0].Name != "chk_service" {
		t.Errorf("track_script = %+v", in.TrackScripts)
	}
	if len(in.VIPs) != 1 || in.VIPs[0].Prefix != spec.VIP {
		t.Errorf("VIPs = %+v, want %v", in.VIPs, spec.VIP)
	}
	s := cfg.Scripts["chk_service"]
	if s == nil || s.Weight != 0 || s.Fall != 1 || !strings.Contains(s.Command, spec.CheckFlag) {
		t.Errorf("check script = %+v", s)
	}
	if g := in.Notify.Generic; g == nil || g.Command != spec.Notify {
		t.Errorf("notify = %+v, want %q", g, spec.Notify)
	}
}

func TestParseState(t *testing.T) {
	s, ok := parseState("1735689600123456789 b MASTER 100")
	if !ok || s.Node != "b" || s.State != "MASTER" || s.Priority != 100 || s.At.UnixNano() != 1735689600123456789 {
		t.Fatalf("parseState = %+v, %v", s, ok)
	}
	for _, bad := range []string{"", "x b MASTER 100", "1 b MASTER", "1 b MASTER x", "-5 a BACKUP 1", "1 a B 1 extra"} {
		if _, ok := parseState(bad); ok {
			t.Errorf("parseState(%q) accepted", bad)
		}
	}
}

func FuzzParseState(f *testing.F) {
	f.Add("1735689600123456789 b MASTER 100")
	f.Add("1 a FAULT -3")
	f.Fuzz(func(t *testing.T, s string) { parseState(s) })
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
	for _, want := range []string{"host loss: a's link <down> & out", "20 ms", "MASTER", "no answer"} {
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
