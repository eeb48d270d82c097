package netif

import (
	"testing"
	"time"
)

func TestTimerFiresOnceNotEarly(t *testing.T) {
	tm, err := NewTimer()
	if err != nil {
		t.Fatal(err)
	}
	defer tm.Close()

	tm.Reset(time.Hour)
	tm.Stop()
	start := time.Now()
	tm.Reset(20 * time.Millisecond)
	select {
	case at := <-tm.C:
		if early := start.Add(20 * time.Millisecond).Sub(at); early > 0 {
			t.Fatalf("fired %v early", early)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("armed timer never fired")
	}
	select {
	case <-tm.C:
		t.Fatal("one-shot timer fired twice")
	case <-time.After(100 * time.Millisecond):
	}

	tm.Reset(-time.Second) // a past deadline fires at once
	select {
	case <-tm.C:
	case <-time.After(10 * time.Second):
		t.Fatal("timer reset to a past deadline never fired")
	}
}

func TestTimerStopDropsPendingTick(t *testing.T) {
	tm, err := NewTimer()
	if err != nil {
		t.Fatal(err)
	}
	defer tm.Close()
	tm.Reset(time.Nanosecond)
	time.Sleep(50 * time.Millisecond) // let the tick be queued
	tm.Stop()
	select {
	case <-tm.C:
		t.Fatal("tick received after Stop")
	default:
	}
}

// BenchmarkTimerLate reports how late the waiting goroutine runs after a
// 3.3 ms wait (ns/late: mean lateness), for the timerfd Timer and for
// time.Timer, whose wake-up goes through epoll_wait's millisecond timeout.
func BenchmarkTimerLate(b *testing.B) {
	const d = 3300 * time.Microsecond
	b.Run("timerfd", func(b *testing.B) {
		tm, err := NewTimer()
		if err != nil {
			b.Fatal(err)
		}
		defer tm.Close()
		var late time.Duration
		for b.Loop() {
			start := time.Now()
			tm.Reset(d)
			<-tm.C
			late += time.Since(start) - d
		}
		b.ReportMetric(float64(late.Nanoseconds())/float64(b.N), "ns/late")
	})
	b.Run("time.Timer", func(b *testing.B) {
		var late time.Duration
		for b.Loop() {
			start := time.Now()
			<-time.After(d)
			late += time.Since(start) - d
		}
		b.ReportMetric(float64(late.Nanoseconds())/float64(b.N), "ns/late")
	})
}
