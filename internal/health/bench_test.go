package health

import (
	"context"
	"testing"
)

func BenchmarkTrackerStep(b *testing.B) {
	tr := NewTracker(2, 3, false)
	i := 0
	for b.Loop() {
		tr.Step(i%7 != 0)
		i++
	}
}

// BenchmarkScriptCheck measures one fork/exec/wait of a trivial check
// script: the floor for sub-second script intervals.
func BenchmarkScriptCheck(b *testing.B) {
	s := &Script{Command: Command{Args: []string{"/bin/true"}}}
	ctx := context.Background()
	for b.Loop() {
		if err := s.Run(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScriptCheckShell(b *testing.B) {
	s := &Script{Command: Command{Args: []string{"exit", "0"}}} // a shell builtin: /bin/sh -c
	ctx := context.Background()
	for b.Loop() {
		if err := s.Run(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
