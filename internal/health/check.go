package health

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Check is one health probe. Run returns nil when the target is healthy;
// it must return promptly once ctx is done (the Runner sets the timeout).
type Check interface {
	Run(ctx context.Context) error
}

// Script is a keepalived-style check script: exit code 0 is healthy,
// anything else (including being killed at the timeout) is a failure.
type Script struct {
	Command Command
	// KillGrace is the time between SIGTERM and SIGKILL on timeout;
	// 0 means DefaultKillGrace.
	KillGrace time.Duration
}

// Run runs the script once.
func (s *Script) Run(ctx context.Context) error {
	grace := s.KillGrace
	if grace <= 0 {
		grace = DefaultKillGrace
	}
	res, err := runProcess(ctx, s.Command, nil, grace)
	if err != nil {
		if out := bytes.TrimSpace(res.output); len(out) > 0 {
			return fmt.Errorf("%s: %w: %s", s.Command.Args[0], err, out)
		}
		if len(s.Command.Args) > 0 {
			return fmt.Errorf("%s: %w", s.Command.Args[0], err)
		}
	}
	return err
}

// TCP is healthy when a TCP connection to Addr (host:port) succeeds.
type TCP struct {
	Addr string
}

// Run dials once.
func (c *TCP) Run(ctx context.Context) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.Addr)
	if err != nil {
		return err
	}
	return conn.Close()
}

// HTTP is healthy when a GET of URL answers 2xx.
type HTTP struct {
	URL string
	// Client defaults to a client without keep-alives, so every probe
	// exercises a fresh connection the way a failing-over client would.
	Client *http.Client
}

var probeClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}

// Run sends one GET request.
func (c *HTTP) Run(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return err
	}
	client := c.Client
	if client == nil {
		client = probeClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("GET %s: %s", c.URL, resp.Status)
	}
	return nil
}
