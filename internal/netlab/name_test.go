package netlab

import (
	"net/netip"
	"strings"
	"testing"
)

func TestPrefixEncodesPID(t *testing.T) {
	for _, pid := range []int{1, 4242, 4194304} {
		p, err := newPrefix(pid)
		if err != nil {
			t.Fatal(err)
		}
		if len(p) != prefixLen || !strings.HasPrefix(p, "mh") {
			t.Fatalf("prefix %q: want mh + %d chars", p, prefixLen-2)
		}
		if len(p+"p99") > 15 || len(p+"br") > 15 {
			t.Fatalf("prefix %q too long for interface names", p)
		}
		got, ok := pidOf(p + "-sw")
		if !ok || got != pid {
			t.Fatalf("pidOf(%q) = %d, %v; want %d", p+"-sw", got, ok, pid)
		}
	}
}

func TestPidOfRejectsForeignNames(t *testing.T) {
	for _, n := range []string{"", "mh", "r1-a", "mh00001abc", "mhAAAAAabc-x", "xmh00001abc-sw", "mh0000abc-sw"} {
		if pid, ok := pidOf(n); ok {
			t.Errorf("pidOf(%q) = %d, want no match", n, pid)
		}
	}
}

func TestCheckAddr(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"198.18.0.1/24", true},
		{"198.19.255.254/16", true},
		{"198.18.0.1/15", true},
		{"198.18.0.1/32", true},
		{"198.18.0.1/8", false}, // on-link route would leave the range
		{"198.17.255.1/24", false},
		{"198.20.0.1/24", false},
		{"10.0.0.1/24", false},
		{"192.168.1.1/24", false},
		{"2001:2::1/64", false},
		{"fe80::1/64", false},
		{"198.18.0.0/24", false}, // network address
	}
	for _, tt := range tests {
		err := CheckAddr(netip.MustParsePrefix(tt.addr))
		if (err == nil) != tt.ok {
			t.Errorf("CheckAddr(%s) = %v, want ok=%v", tt.addr, err, tt.ok)
		}
	}
	if CheckAddr(netip.Prefix{}) == nil {
		t.Error("CheckAddr(zero) accepted")
	}
}
