package milvusapi

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// A planned handover (Server.Hold, then Server.Release) moves clients to
// the peer without failing a call. A gRPC client retries a call on its own
// only when the server says it never processed it: an HTTP/2 GOAWAY whose
// last stream ID is below the call's stream. So every gRPC connection is
// watched at the level of HTTP/2 frame headers. While held, a connection
// stops giving grpc-go its bytes at the first HEADERS frame that opens a
// new stream (the new call stays unread in the socket) and lets everything
// else through, so calls in flight finish. On release the server writes a
// GOAWAY naming the last stream grpc-go saw, between two of grpc-go's own
// frames, and closes the connection: the held calls are retried on a new
// connection, which by then reaches the peer at the same address.
//
// REST (HTTP/1.1) has no such signal: requests that arrive while held wait
// and then get 503 with Retry-After.

// HTTP/2 framing, RFC 9113 §4.1 and §6.
const (
	frameHeaderLen   = 9
	frameData        = 0x0
	frameHeaders     = 0x1
	frameRSTStream   = 0x3
	frameGoAway      = 0x7
	flagEndStream    = 0x1
	clientPrefaceLen = len(http2Preface)
)

// holdGate is the handover state of one server: whether new calls are
// held, the live gRPC connections, and the REST requests in flight.
type holdGate struct {
	mu       sync.Mutex
	changed  *sync.Cond // held, released, open streams or rest changed
	held     bool
	released bool
	conns    map[*holdConn]struct{}
	rest     int
	waiters  int // connections stopped at a held call
}

func newHoldGate() *holdGate {
	g := &holdGate{conns: map[*holdConn]struct{}{}}
	g.changed = sync.NewCond(&g.mu)
	return g
}

// hold stops new calls and waits until none is in flight or ctx ends.
func (g *holdGate) hold(ctx context.Context) error {
	g.mu.Lock()
	g.held = true
	g.changed.Broadcast()
	g.mu.Unlock()
	stop := context.AfterFunc(ctx, func() {
		g.mu.Lock()
		g.changed.Broadcast()
		g.mu.Unlock()
	})
	defer stop()
	g.mu.Lock()
	defer g.mu.Unlock()
	for g.inFlightLocked() > 0 {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		g.changed.Wait()
	}
	return nil
}

// waiting is the number of connections whose next call is held.
func (g *holdGate) waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waiters
}

func (g *holdGate) inFlightLocked() int {
	n := g.rest
	for c := range g.conns {
		n += len(c.open)
	}
	return n
}

// release hands every held call back (GOAWAY, then close) and refuses
// what comes later. It does nothing unless hold was called.
func (g *holdGate) release() {
	g.mu.Lock()
	if !g.held || g.released {
		g.mu.Unlock()
		return
	}
	g.released = true
	conns := make([]*holdConn, 0, len(g.conns))
	for c := range g.conns {
		conns = append(conns, c)
	}
	g.changed.Broadcast()
	g.mu.Unlock()
	for _, c := range conns {
		c.goAway()
	}
}

// listener wraps the gRPC side of the connection mux.
func (g *holdGate) listener(ln net.Listener) net.Listener { return &holdListener{Listener: ln, g: g} }

type holdListener struct {
	net.Listener
	g *holdGate
}

func (l *holdListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.g.mu.Lock()
		released := l.g.released
		hc := &holdConn{Conn: c, g: l.g, open: map[uint32]struct{}{}, rpreface: clientPrefaceLen}
		if !released {
			l.g.conns[hc] = struct{}{}
		}
		l.g.mu.Unlock()
		if released {
			// Handed over: this connection reached us through a stale
			// neighbour entry; the client dials again.
			c.Close()
			continue
		}
		return hc, nil
	}
}

// restHandler holds REST requests like gRPC calls and counts them in flight.
func (g *holdGate) restHandler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		for g.held && !g.released {
			g.changed.Wait()
		}
		if g.released {
			g.mu.Unlock()
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Connection", "close")
			http.Error(w, "milvus-ha: handed over to the standby; retry", http.StatusServiceUnavailable)
			return
		}
		g.rest++
		g.mu.Unlock()
		defer func() {
			g.mu.Lock()
			g.rest--
			g.changed.Broadcast()
			g.mu.Unlock()
		}()
		h.ServeHTTP(w, r)
	})
}

// holdConn is one gRPC connection, tracked frame by frame. The read side
// (client to server) is only touched by grpc-go's reader goroutine, the
// write side under wmu; open and last are guarded by g.mu.
type holdConn struct {
	net.Conn
	g *holdGate

	// Read side: bytes read from the socket and not yet given to grpc-go
	// (in rstore), and where they are in the client's stream.
	rstore   []byte
	rbuf     []byte
	rpreface int // preface bytes still to pass
	rheader  int // bytes of the current frame header still to pass
	rpayload int // payload bytes of the current frame still to pass
	open     map[uint32]struct{}
	last     uint32 // highest stream ID given to grpc-go
	closed   bool   // Close was called (g.mu)

	wmu      sync.Mutex
	wfr      frameScanner
	goneAway bool
	close    sync.Once
}

// Read gives grpc-go what it may see now: while held, nothing from the
// first HEADERS frame that opens a new stream on.
func (c *holdConn) Read(p []byte) (int, error) {
	for {
		c.g.mu.Lock()
		n, blocked := c.grantLocked(len(p))
		if n > 0 {
			c.g.mu.Unlock()
			copy(p, c.rbuf[:n])
			c.rbuf = c.rbuf[n:]
			return n, nil
		}
		if blocked {
			c.g.waiters++
			for c.g.held && !c.g.released && !c.closed {
				c.g.changed.Wait()
			}
			c.g.waiters--
			released, closed := c.g.released, c.closed
			c.g.mu.Unlock()
			if closed {
				return 0, net.ErrClosed
			}
			if released {
				// grpc-go closes the connection on this EOF: the GOAWAY
				// must be out first.
				c.goAway()
				return 0, io.EOF
			}
			continue
		}
		c.g.mu.Unlock()
		if err := c.fill(); err != nil {
			return 0, err
		}
	}
}

// readBuf is the size of a connection's read buffer.
const readBuf = 32 << 10

// fill reads more of the socket into rbuf, reusing rstore.
func (c *holdConn) fill() error {
	if c.rstore == nil {
		c.rstore = make([]byte, 0, readBuf)
	}
	if cap(c.rbuf)-len(c.rbuf) < readBuf/2 {
		// Move what is left to the front (or grow, while held).
		c.rbuf = append(c.rstore[:0], c.rbuf...)
		if cap(c.rbuf)-len(c.rbuf) < readBuf/2 {
			c.rbuf = append(make([]byte, 0, len(c.rbuf)+readBuf), c.rbuf...)
		}
		c.rstore = c.rbuf[:0]
	}
	n, err := c.Conn.Read(c.rbuf[len(c.rbuf):cap(c.rbuf)])
	c.rbuf = c.rbuf[:len(c.rbuf)+n]
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// grantLocked walks rbuf from its head and returns how many bytes (at
// most max) may be given to grpc-go, updating the frame position and the
// open streams as if they were; blocked is true when it stopped at a new
// stream's HEADERS because new calls are held. g.mu held.
func (c *holdConn) grantLocked(max int) (n int, blocked bool) {
	for n < max && n < len(c.rbuf) {
		avail := min(max, len(c.rbuf)) - n
		switch {
		case c.rpreface > 0:
			k := min(avail, c.rpreface)
			c.rpreface -= k
			n += k
		case c.rheader > 0:
			k := min(avail, c.rheader)
			c.rheader -= k
			n += k
		case c.rpayload > 0:
			k := min(avail, c.rpayload)
			c.rpayload -= k
			n += k
		default:
			// A frame starts here: classify it from its whole header.
			if len(c.rbuf)-n < frameHeaderLen {
				return n, false
			}
			h := c.rbuf[n : n+frameHeaderLen]
			length := int(h[0])<<16 | int(h[1])<<8 | int(h[2])
			typ, stream := h[3], binary.BigEndian.Uint32(h[5:9])&0x7fffffff
			if typ == frameHeaders && stream > c.last {
				if c.g.held {
					return n, true
				}
				c.last = stream
				c.open[stream] = struct{}{}
			}
			if typ == frameRSTStream {
				c.finishLocked(stream)
			}
			c.rheader, c.rpayload = frameHeaderLen, length
		}
	}
	return n, false
}

func (c *holdConn) finishLocked(stream uint32) {
	if _, ok := c.open[stream]; ok {
		delete(c.open, stream)
		c.g.changed.Broadcast()
	}
}

// Write passes grpc-go's frames on and notes the streams they end.
func (c *holdConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.goneAway {
		return 0, net.ErrClosed
	}
	n, err := c.Conn.Write(p)
	c.wfr.scan(p[:n], func(typ, flags byte, stream uint32) {
		if typ == frameRSTStream || (typ == frameHeaders || typ == frameData) && flags&flagEndStream != 0 {
			c.g.mu.Lock()
			c.finishLocked(stream)
			c.g.mu.Unlock()
		}
	})
	return n, err
}

// goAway tells the client that no stream above the last one grpc-go saw
// was processed, then ends our side of the connection. Between two of
// grpc-go's frames only: in the middle of one it just ends it (the calls
// held there fail instead of being retried).
func (c *holdConn) goAway() {
	c.wmu.Lock()
	if !c.goneAway && c.wfr.atBoundary() {
		c.g.mu.Lock()
		last := c.last
		c.g.mu.Unlock()
		var f [frameHeaderLen + 8]byte
		f[2] = 8 // payload length
		f[3] = frameGoAway
		binary.BigEndian.PutUint32(f[9:13], last) // error code 0: NO_ERROR
		_, _ = c.Conn.Write(f[:])
	}
	c.goneAway = true
	c.wmu.Unlock()
	if cw, ok := c.socket().(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	_ = c.Close()
}

// socket is the TCP connection under the mux's replay wrapper.
func (c *holdConn) socket() net.Conn {
	if pc, ok := c.Conn.(*peekedConn); ok {
		return pc.Conn
	}
	return c.Conn
}

// lingerAfterGoAway bounds how long a connection that got a GOAWAY is
// read and discarded before it is closed: closing a socket with unread
// bytes (the held calls) sends a reset, which may overtake the GOAWAY in
// the client's hands.
const lingerAfterGoAway = time.Second

func (c *holdConn) Close() error {
	c.wmu.Lock()
	linger := c.goneAway
	c.wmu.Unlock()
	var err error
	c.close.Do(func() {
		if linger {
			go func() {
				_ = c.Conn.SetReadDeadline(time.Now().Add(lingerAfterGoAway))
				_, _ = io.Copy(io.Discard, c.Conn)
				c.Conn.Close()
			}()
		} else {
			err = c.Conn.Close()
		}
		c.g.mu.Lock()
		c.closed = true
		delete(c.g.conns, c)
		c.g.changed.Broadcast()
		c.g.mu.Unlock()
	})
	return err
}

// frameScanner follows frame boundaries in a byte stream of whole HTTP/2
// frames written in arbitrary pieces.
type frameScanner struct {
	hdr     [frameHeaderLen]byte
	nhdr    int // header bytes collected
	payload int // payload bytes still to skip
}

func (s *frameScanner) atBoundary() bool { return s.nhdr == 0 && s.payload == 0 }

// scan consumes b, calling fn for every frame header completed in it.
func (s *frameScanner) scan(b []byte, fn func(typ, flags byte, stream uint32)) {
	for len(b) > 0 {
		if s.payload > 0 {
			k := min(len(b), s.payload)
			s.payload -= k
			b = b[k:]
			continue
		}
		k := copy(s.hdr[s.nhdr:], b)
		s.nhdr += k
		b = b[k:]
		if s.nhdr < frameHeaderLen {
			return
		}
		s.nhdr = 0
		s.payload = int(s.hdr[0])<<16 | int(s.hdr[1])<<8 | int(s.hdr[2])
		fn(s.hdr[3], s.hdr[4], binary.BigEndian.Uint32(s.hdr[5:9])&0x7fffffff)
	}
}
