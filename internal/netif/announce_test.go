package netif

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"
)

func TestAnnounceScheduleMatchesKeepalived(t *testing.T) {
	s := time.Second
	type burst struct {
		at     time.Duration
		repeat int
	}
	tests := []struct {
		name string
		cfg  AnnounceConfig
		want []burst // first bursts in order; fewer than 6 means the schedule ends
	}{
		{"defaults: burst of 5, another after 5 s, then nothing", DefaultAnnounceConfig(),
			[]burst{{0, 5}, {5 * s, 5}}},
		{"vrrp_min_garp: one packet, no second burst", AnnounceConfig{Repeat: 1, RefreshRepeat: 1},
			[]burst{{0, 1}}},
		{"refresh every 2 s, delay 5 s", AnnounceConfig{Delay: 5 * s, Repeat: 3, Refresh: 2 * s, RefreshRepeat: 1},
			[]burst{{0, 3}, {2 * s, 1}, {4 * s, 1}, {5 * s, 3}, {6 * s, 1}, {8 * s, 1}}},
		{"refresh coinciding with the delayed burst is merged", AnnounceConfig{Delay: 4 * s, Repeat: 2, Refresh: 2 * s, RefreshRepeat: 1},
			[]burst{{0, 2}, {2 * s, 1}, {4 * s, 2}, {6 * s, 1}, {8 * s, 1}, {10 * s, 1}}},
		{"repeat 0: only refreshes", AnnounceConfig{Delay: 5 * s, Refresh: 3 * s, RefreshRepeat: 2},
			[]burst{{3 * s, 2}, {6 * s, 2}, {9 * s, 2}, {12 * s, 2}, {15 * s, 2}, {18 * s, 2}}},
		{"nothing at all", AnnounceConfig{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []burst
			after := time.Duration(-1)
			for len(got) < 6 {
				at, rep, ok := tt.cfg.Next(after)
				if !ok {
					break
				}
				got = append(got, burst{at, rep})
				after = at
			}
			if len(got) != len(tt.want) {
				t.Fatalf("bursts %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("bursts %v, want %v", got, tt.want)
				}
			}
		})
	}
}

type fakeSender struct {
	frames   [][]byte
	failEach int // every n-th send fails
	onSend   func(n int)
}

func (f *fakeSender) Send(b []byte) error {
	f.frames = append(f.frames, b)
	n := len(f.frames)
	if f.onSend != nil {
		f.onSend(n)
	}
	if f.failEach > 0 && n%f.failEach == 0 {
		return errors.New("boom")
	}
	return nil
}

// SendFirst before Run changes who sends the first round, not what is
// sent.
func TestAnnouncerSendsRoundsOfAllFrames(t *testing.T) {
	for _, firstRound := range []bool{false, true} {
		fs := &fakeSender{failEach: 4}
		a := &Announcer{
			Config: AnnounceConfig{Delay: time.Millisecond, Repeat: 2, RefreshRepeat: 1},
			Sender: fs,
			Frames: [][]byte{{1}, {2}},
			Logger: slog.New(slog.DiscardHandler),
		}
		if firstRound {
			a.SendFirst()
			if len(fs.frames) != 2 {
				t.Fatalf("SendFirst sent %d frames, want one per VIP", len(fs.frames))
			}
		}
		if err := a.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		want := []byte{1, 2, 1, 2, 1, 2, 1, 2} // (repeat 2 × 2 VIPs) × 2 bursts
		if len(fs.frames) != len(want) {
			t.Fatalf("firstRound=%v: sent %d frames, want %d", firstRound, len(fs.frames), len(want))
		}
		for i, f := range fs.frames {
			if f[0] != want[i] {
				t.Fatalf("firstRound=%v: frame %d = %d, want %d (order: repeat outer, VIPs inner)", firstRound, i, f[0], want[i])
			}
		}
		if sent, failed := a.Counts(); sent != 6 || failed != 2 {
			t.Fatalf("firstRound=%v: counts sent=%d failed=%d, want 6 and 2 (errors do not stop later sends)", firstRound, sent, failed)
		}
	}
}

func TestAnnouncerStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	fs := &fakeSender{}
	fs.onSend = func(n int) {
		if n == 3 { // end of the first burst: leave MASTER
			cancel()
		}
	}
	a := &Announcer{
		Config: AnnounceConfig{Delay: time.Hour, Repeat: 3, Refresh: time.Hour, RefreshRepeat: 1},
		Sender: fs,
		Frames: [][]byte{{1}},
	}
	if err := a.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if len(fs.frames) != 3 {
		t.Fatalf("sent %d frames, want 3", len(fs.frames))
	}
}

func TestAnnouncerRejectsBadConfig(t *testing.T) {
	a := &Announcer{Config: AnnounceConfig{Repeat: -1}, Sender: &fakeSender{}}
	if err := a.Run(t.Context()); err == nil {
		t.Fatal("negative repeat accepted")
	}
	if err := (&Announcer{Config: DefaultAnnounceConfig()}).Run(t.Context()); err == nil {
		t.Fatal("nil sender accepted")
	}
}

// With packets spaced by Interval, SendFirst sends only the first frame and
// Run the rest of the burst, in order.
func TestAnnouncerSendFirstWithInterval(t *testing.T) {
	fs := &fakeSender{}
	a := &Announcer{
		Config: AnnounceConfig{Repeat: 2, RefreshRepeat: 1, Interval: time.Millisecond},
		Sender: fs,
		Frames: [][]byte{{1}, {2}},
		Logger: slog.New(slog.DiscardHandler),
	}
	a.SendFirst()
	if len(fs.frames) != 1 {
		t.Fatalf("SendFirst sent %d frames, want 1 (Interval spaces packets)", len(fs.frames))
	}
	if err := a.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := []byte{1, 2, 1, 2}
	if len(fs.frames) != len(want) {
		t.Fatalf("sent %d frames, want %d", len(fs.frames), len(want))
	}
	for i, f := range fs.frames {
		if f[0] != want[i] {
			t.Fatalf("frame %d = %d, want %d", i, f[0], want[i])
		}
	}
}
