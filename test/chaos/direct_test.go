package chaos

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/milvus-io/milvus/client/v2/milvusclient"
	"github.com/milvus-io/milvus/pkg/v2/util/merr"
)

// Reads straight to a frozen primary (bug 4 in doc.go). The workload's
// clients talk to the VIP: while a keeper is frozen its peer takes over,
// announces the VIP, and only then acknowledges writes, so no client read
// sent after such a write reaches the frozen host, and porcupine could not
// see that host answer from its old state once resumed. The pause fault
// therefore also sends reads to the frozen host's own address, each for
// the key of the latest write acknowledged since the freeze began: its
// kernel queues them, its process answers them after SIGCONT, and an
// answer older than that write is a porcupine violation.

const (
	directEvery = 30 * time.Millisecond // how often a new acknowledged write is looked for
	directMax   = 24                    // reads per pause
	// directClients numbers the direct reads as porcupine clients, clear
	// of the workload's, the final reads' (999) and the pending writes'
	// (1000 and up).
	directClients = 1 << 24
)

// directStats counts the reads sent to frozen primaries, by answer.
type directStats struct {
	answered, refused, cut atomic.Int64
}

// directReader reads from one frozen host; start it right after the freeze.
type directReader struct {
	in   *injector
	c    *milvusclient.Client
	from time.Duration // the freeze
	stop chan struct{}
}

// newDirectReader connects to n's own API address before n is frozen (a
// connection made during the freeze would wait for it to end). nil if n
// does not answer, e.g. it is not the active node after all.
func (in *injector) newDirectReader(ctx context.Context, n *node) *directReader {
	c, err := newClientAt(ctx, in.cl.client, n.h.Addr().Addr().String()+":19530", 500*time.Millisecond)
	if err != nil {
		return nil
	}
	return &directReader{in: in, c: c, stop: make(chan struct{})}
}

// run sends reads until end is called; reads still waiting for the
// thawed host finish in the background (injector.bg).
func (d *directReader) run(ctx context.Context, from time.Duration) {
	d.from = from
	in := d.in
	in.bg.Add(1)
	go func() {
		defer in.bg.Done()
		var reads sync.WaitGroup
		defer func() {
			reads.Wait()
			d.c.Close(context.Background())
		}()
		tick := time.NewTicker(directEvery)
		defer tick.Stop()
		var last *op
		for sent := 0; sent < directMax; {
			select {
			case <-d.stop:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			w := in.hist.lastAcked.Load()
			if w == nil || w == last || w.Return <= d.from {
				continue
			}
			last = w
			o := op{Client: directClients + int(in.directIDs.Add(1)), Kind: []opKind{opGet, opQuery}[sent%2], Key: w.Key, Direct: true}
			sent++
			reads.Add(1)
			go func() {
				defer reads.Done()
				d.read(ctx, o)
			}()
		}
	}()
}

func (d *directReader) read(ctx context.Context, o op) {
	octx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	o.Call = d.in.cl.since()
	v, err := read(octx, d.c, o.Kind, o.Key)
	o.Return = d.in.cl.since()
	o.Value, o.Outcome = v, classify(err)
	switch {
	case err == nil:
		d.in.direct.answered.Add(1)
	case merr.Code(err) == codeUnavailable:
		d.in.direct.refused.Add(1)
	default:
		d.in.direct.cut.Add(1)
	}
	if err != nil {
		if ctx.Err() != nil {
			return // cut short by the end of the run
		}
		o.Err = err.Error()
	}
	d.in.hist.add(o)
}

// end stops sending (the host was thawed).
func (d *directReader) end() { close(d.stop) }
