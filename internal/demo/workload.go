package demo

import (
	"context"
	"net/netip"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/netlab"
)

// Target is what a workload aims at: requests leave from Client and go to
// VIP; the answering node is one of Nodes.
type Target struct {
	Client *netlab.Host
	VIP    netip.Addr
	Nodes  []*netlab.Host
	// Say narrates a line stamped at (set-up steps, for instance); nil
	// means silence.
	Say func(at time.Time, line string)
}

// Sample is the outcome of one client request.
type Sample struct {
	At       time.Time     // when the request was sent
	Latency  time.Duration // until its answer, or until the workload gave up
	OK       bool          // answered (and, for a writing workload, acknowledged) in time
	ServedBy string        // name of the node that answered; "" when !OK or unknown
}

// Done is when the request finished: its answer, or its timeout for a failed
// request.
func (s Sample) Done() time.Time { return s.At.Add(s.Latency) }

// Workload is the client traffic the demo drives through the VIP and
// watches during the faults. The demo only reads Samples: it learns who owns
// the VIP from ServedBy and measures outages from the gaps between answers,
// so any request/response workload fits (Milvus inserts, ICMP echoes).
type Workload interface {
	// Describe says in a few words what the workload does, for the demo's
	// header line.
	Describe() string
	// Noun names one request in the narration ("insert").
	Noun() string
	// Start begins sending requests and returns once it is set up. Each
	// request yields exactly one Sample, passed to record (from any
	// goroutine) when it is answered or has timed out, until Stop returns or
	// ctx ends.
	Start(ctx context.Context, tgt Target, record func(Sample)) error
	// RequestTimeout is the longest a request can take before its Sample
	// is recorded: once that long has passed, every earlier request has an
	// outcome.
	RequestTimeout() time.Duration
	// Stop ends the workload and verifies what it can about the run (a
	// writing workload reads back every acknowledged write). It returns a
	// one-line summary; an error means the verification failed.
	Stop(ctx context.Context) (string, error)
}
