package demo

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"golang.org/x/net/bpf"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// tcpPacket builds an IPv4 TCP segment (no options) for the parser tests.
func tcpPacket(src, dst netip.Addr, sport, dport uint16, flags byte) []byte {
	b := make([]byte, 40)
	b[0], b[9] = 0x45, 6
	copy(b[12:16], src.AsSlice())
	copy(b[16:20], dst.AsSlice())
	b[20], b[21], b[22], b[23] = byte(sport>>8), byte(sport), byte(dport>>8), byte(dport)
	b[32] = 5 << 4
	b[33] = flags
	return b
}

const (
	flagSYN = 0x02
	flagACK = 0x10
)

func TestSynAck(t *testing.T) {
	vip, client := netip.MustParseAddr("198.18.0.100"), netip.MustParseAddr("198.18.0.3")
	if p, ok := synAck(tcpPacket(vip, client, 19530, 40001, flagSYN|flagACK), vip, 19530); !ok || p != 40001 {
		t.Fatalf("SYN-ACK: port %d ok %v", p, ok)
	}
	withOptions := tcpPacket(vip, client, 19530, 40002, flagSYN|flagACK)
	withOptions[0] = 0x46 // a 24-byte IPv4 header: the TCP header moves
	withOptions = append(withOptions[:20], append([]byte{1, 1, 1, 1}, withOptions[20:]...)...)
	if p, ok := synAck(withOptions, vip, 19530); !ok || p != 40002 {
		t.Errorf("SYN-ACK after IP options: port %d ok %v", p, ok)
	}
	for name, b := range map[string][]byte{
		"SYN only":        tcpPacket(vip, client, 19530, 40001, flagSYN),
		"ACK only":        tcpPacket(vip, client, 19530, 40001, flagACK),
		"other source":    tcpPacket(client, vip, 19530, 40001, flagSYN|flagACK),
		"other port":      tcpPacket(vip, client, 9091, 40001, flagSYN|flagACK),
		"truncated":       tcpPacket(vip, client, 19530, 40001, flagSYN|flagACK)[:30],
		"bad header size": append([]byte{0x41}, tcpPacket(vip, client, 19530, 40001, flagSYN|flagACK)[1:]...),
		"empty":           nil,
	} {
		if _, ok := synAck(b, vip, 19530); ok {
			t.Errorf("%s accepted", name)
		}
	}
}

func FuzzSynAck(f *testing.F) {
	vip, client := netip.MustParseAddr("198.18.0.100"), netip.MustParseAddr("198.18.0.3")
	f.Add(tcpPacket(vip, client, 19530, 40001, flagSYN|flagACK))
	f.Add([]byte{0x4f, 0, 0, 0, 0, 0, 0, 0, 0, 6})
	f.Fuzz(func(t *testing.T, b []byte) { synAck(b, vip, 19530) })
}

// The kernel filter lets SYN-ACKs through and keeps everything else out
// (run in x/net/bpf's VM, which follows the kernel's semantics).
func TestSynAckFilter(t *testing.T) {
	raw, err := synAckFilter()
	if err != nil {
		t.Fatal(err)
	}
	ins, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatal("filter does not disassemble")
	}
	vm, err := bpf.NewVM(ins)
	if err != nil {
		t.Fatal(err)
	}
	vip, client := netip.MustParseAddr("198.18.0.100"), netip.MustParseAddr("198.18.0.3")
	udp := tcpPacket(vip, client, 19530, 40001, flagSYN|flagACK)
	udp[9] = 17
	for _, tc := range []struct {
		name string
		pkt  []byte
		pass bool
	}{
		{"SYN-ACK", tcpPacket(vip, client, 19530, 40001, flagSYN|flagACK), true},
		{"SYN-ACK with PSH", tcpPacket(vip, client, 19530, 40001, flagSYN|flagACK|0x08), true},
		{"data ACK", tcpPacket(vip, client, 19530, 40001, flagACK|0x08), false},
		{"SYN", tcpPacket(client, vip, 40001, 19530, flagSYN), false},
		{"UDP", udp, false},
	} {
		n, err := vm.Run(tc.pkt)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if (n > 0) != tc.pass {
			t.Errorf("%s: filter returned %d, want pass=%v", tc.name, n, tc.pass)
		}
	}
}

func TestErrKinds(t *testing.T) {
	kinds := map[string]int{}
	for _, err := range []error{
		status.Error(codes.Unavailable, "connection refused"),
		status.Error(codes.DeadlineExceeded, "timeout"),
		status.Error(codes.Unavailable, "reset"),
		statusErr(&commonpb.Status{Code: 100, ErrorCode: commonpb.ErrorCode_CollectionNotExists, Reason: "no such collection"}),
		fmt.Errorf("wrapped: %w", statusErr(&commonpb.Status{ErrorCode: commonpb.ErrorCode_UnexpectedError})),
	} {
		kinds[errKind(err)]++
	}
	want := " (2 Unavailable, 1 DeadlineExceeded, 1 refused with Milvus code 1, 1 refused with Milvus code 100)"
	if got := describeKinds(kinds); got != want {
		t.Errorf("describeKinds = %q\nwant %q", got, want)
	}
	if statusErr(&commonpb.Status{}) != nil {
		t.Error("success status is an error")
	}
	if err := statusErr(nil); err == nil || errors.As(err, new(*milvusErr)) {
		t.Errorf("nil status: %v", err)
	}
}
