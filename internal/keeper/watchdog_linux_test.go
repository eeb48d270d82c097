package keeper

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A regular file stands in for /dev/watchdog: each pet is one byte, the
// magic close a final 'V'.
func TestWatchdogFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "watchdog")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := openWatchdog(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if w.timeout != 0 {
		t.Errorf("a regular file reported a watchdog timeout %v", w.timeout)
	}
	if err := w.pet(); err != nil {
		t.Fatal(err)
	}
	if err := w.disarm(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "11V" {
		t.Fatalf("watchdog file %q, want two pets and the magic close", b)
	}
	w, err = openWatchdog(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.abandon(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "11V1" {
		t.Fatalf("abandon wrote %q", b)
	}
	if _, err := openWatchdog(filepath.Join(t.TempDir(), "missing"), time.Second); err == nil {
		t.Fatal("opened a missing watchdog")
	}
}
