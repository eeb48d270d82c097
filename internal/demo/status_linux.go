package demo

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// poller follows the keepers through their status API (GET /status on
// loopback inside each node's host), as an operator's monitoring would:
// every interval it reports each node's new transitions and events, and
// keeps the latest status for the scenario's checks. The HTTP connections
// are opened inside the hosts and kept alive, so a poll costs a request,
// not a process.
type poller struct {
	every   time.Duration
	onTrans func(node string, t transition)
	onEvent func(node string, e event)
	onReach func(node string, at time.Time, err error) // reachability changed; err nil = back

	mu   sync.Mutex
	last map[string]polled
}

// polled is a node's latest poll.
type polled struct {
	st  nodeStatus // the last status it gave
	at  time.Time  // when the latest poll ended
	err error      // its error; st is then older
}

// run polls the nodes until ctx ends.
func (p *poller) run(ctx context.Context, nodes []*node) {
	p.last = map[string]polled{}
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Go(func() { p.follow(ctx, n) })
	}
	wg.Wait()
}

func (p *poller) follow(ctx context.Context, n *node) {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var c net.Conn
			err := n.host.Do(func() error {
				var err error
				c, err = (&net.Dialer{Timeout: time.Second}).DialContext(ctx, network, addr)
				return err
			})
			return c, err
		},
		MaxIdleConnsPerHost: 1,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	var (
		cur     cursor
		reached = false
		known   = false // a keeper still starting is not news
	)
	tick := time.NewTicker(p.every)
	defer tick.Stop()
	for {
		st, err := getStatus(ctx, client, n.api)
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil && reached:
			reached = false
			p.onReach(n.name(), time.Now(), err)
		case err == nil && !reached:
			reached = true
			if known {
				p.onReach(n.name(), time.Now(), nil)
			}
			known = true
		}
		if err == nil {
			var ts []transition
			var es []event
			ts, es, cur = cur.news(st)
			for _, t := range ts {
				p.onTrans(n.name(), t)
			}
			for _, e := range es {
				p.onEvent(n.name(), e)
			}
		}
		p.mu.Lock()
		if err == nil {
			p.last[n.name()] = polled{st: st, at: time.Now()}
		} else {
			p.last[n.name()] = polled{st: p.last[n.name()].st, at: time.Now(), err: err}
		}
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// latest returns node's latest poll.
func (p *poller) latest(node string) polled {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last[node]
}

func getStatus(ctx context.Context, c *http.Client, api string) (nodeStatus, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+api+"/status", nil)
	if err != nil {
		return nodeStatus{}, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nodeStatus{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nodeStatus{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return nodeStatus{}, fmt.Errorf("GET /status: %s", resp.Status)
	}
	return parseStatus(b)
}
