package service

import (
	"bytes"
	"fmt"
	"strconv"
	"testing"
	"time"
)

func TestRestartPolicyNext(t *testing.T) {
	onFailure := RestartPolicy{Mode: RestartOnFailure, MaxRestarts: 3, Backoff: 100 * time.Millisecond, MaxBackoff: time.Second, ResetAfter: time.Minute}
	for _, tc := range []struct {
		name        string
		p           RestartPolicy
		streak      int
		failed      bool
		ran         time.Duration
		wantRestart bool
		wantDelay   time.Duration
		wantStreak  int
	}{
		{"never restarts a failure", RestartPolicy{}, 0, true, 0, false, 0, 0},
		{"on-failure ignores a clean exit", onFailure, 0, false, 0, false, 0, 0},
		{"first restart waits Backoff", onFailure, 0, true, time.Second, true, 100 * time.Millisecond, 1},
		{"backoff doubles", onFailure, 1, true, time.Second, true, 200 * time.Millisecond, 2},
		{"backoff doubles again", onFailure, 2, true, time.Second, true, 400 * time.Millisecond, 3},
		{"gives up after MaxRestarts", onFailure, 3, true, time.Second, false, 0, 3},
		{"a long run resets the streak", onFailure, 3, true, time.Minute, true, 100 * time.Millisecond, 1},
		{"backoff capped", RestartPolicy{Mode: RestartOnFailure, MaxRestarts: -1, Backoff: time.Second, MaxBackoff: 3 * time.Second}, 10, true, 0, true, 3 * time.Second, 11},
		{"unlimited", RestartPolicy{Mode: RestartOnFailure, MaxRestarts: -1}, 1000, true, 0, true, DefaultMaxBackoff, 1001},
		{"defaults", RestartPolicy{Mode: RestartOnFailure}, 0, true, 0, true, DefaultBackoff, 1},
		{"default limit", RestartPolicy{Mode: RestartOnFailure}, DefaultMaxRestarts, true, 0, false, 0, DefaultMaxRestarts},
		{"default reset", RestartPolicy{Mode: RestartOnFailure}, DefaultMaxRestarts, true, DefaultResetAfter, true, DefaultBackoff, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, d, s := tc.p.Next(tc.streak, tc.failed, tc.ran)
			if r != tc.wantRestart || d != tc.wantDelay || s != tc.wantStreak {
				t.Fatalf("Next(%d, %v, %v) = %v, %v, %d; want %v, %v, %d",
					tc.streak, tc.failed, tc.ran, r, d, s, tc.wantRestart, tc.wantDelay, tc.wantStreak)
			}
		})
	}
}

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		in         string
		state      byte
		ppid, pgrp int
		ok         bool
	}{
		{"123 (sleep) S 1 123 123 0 -1", 'S', 1, 123, true},
		{"7 (a) b) (c) Z 5 6 6 0", 'Z', 5, 6, true},
		{"9 (with space) R 2 3 4", 'R', 2, 3, true},
		{"9 (x) R 2", 0, 0, 0, false},
		{"9 (x) RR 2 3", 0, 0, 0, false},
		{"9 (x) \x80 2 3", 0, 0, 0, false},
		{"9 x R 2 3", 0, 0, 0, false},
		{"9 (x) R a 3", 0, 0, 0, false},
		{"", 0, 0, 0, false},
	} {
		state, ppid, pgrp, ok := parseStat([]byte(tc.in))
		if state != tc.state || ppid != tc.ppid || pgrp != tc.pgrp || ok != tc.ok {
			t.Errorf("parseStat(%q) = %q %d %d %v", tc.in, state, ppid, pgrp, ok)
		}
	}
}

// FuzzParseStat: any input is either rejected or yields the fields that a
// re-rendered line yields again.
func FuzzParseStat(f *testing.F) {
	f.Add([]byte("123 (sleep) S 1 123 123 0 -1"))
	f.Add([]byte("7 (a) b) Z 5 6"))
	f.Add([]byte(")"))
	f.Fuzz(func(t *testing.T, b []byte) {
		state, ppid, pgrp, ok := parseStat(b)
		if !ok {
			return
		}
		i := bytes.LastIndexByte(b, ')')
		again := fmt.Sprintf("1 (%s) %s %s %s", b[:i], []byte{state}, strconv.Itoa(ppid), strconv.Itoa(pgrp))
		s2, p2, g2, ok2 := parseStat([]byte(again))
		if !ok2 || s2 != state || p2 != ppid || g2 != pgrp {
			t.Fatalf("%q parsed as %q %d %d, re-rendered %q as %q %d %d %v", b, state, ppid, pgrp, again, s2, p2, g2, ok2)
		}
	})
}
