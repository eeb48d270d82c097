package milvusapi

import (
	"bytes"
	"errors"
	"net"
	"sync"
	"time"
)

// http2Preface opens every HTTP/2 connection with prior knowledge, which is
// how gRPC clients start; REST clients speak HTTP/1.1.
const http2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// sniffTimeout bounds how long a new connection may take to send its first
// bytes before it is dropped.
const sniffTimeout = 10 * time.Second

// connMux splits one listener in two by the first bytes of each
// connection: the HTTP/2 preface goes to gRPC's own transport (far faster
// than grpc.Server.ServeHTTP), anything else to the HTTP/1.1 REST server.
// REST over HTTP/2 prior knowledge (h2c) is therefore not supported.
type connMux struct {
	ln   net.Listener
	grpc *chanListener
	http *chanListener
}

func newConnMux(ln net.Listener) *connMux {
	return &connMux{ln: ln, grpc: newChanListener(ln.Addr()), http: newChanListener(ln.Addr())}
}

// serve accepts until the listener is closed, then closes both sides.
func (m *connMux) serve() error {
	defer m.grpc.Close()
	defer m.http.Close()
	for {
		c, err := m.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		go m.route(c)
	}
}

func (m *connMux) route(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(sniffTimeout))
	buf := make([]byte, 0, len(http2Preface))
	isGRPC := false
	for {
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if !bytes.HasPrefix([]byte(http2Preface), buf) {
			break // not HTTP/2: REST
		}
		if len(buf) == len(http2Preface) {
			isGRPC = true
			break
		}
		if err != nil {
			c.Close()
			return
		}
	}
	_ = c.SetReadDeadline(time.Time{})
	pc := &peekedConn{Conn: c, head: buf}
	dst := m.http
	if isGRPC {
		dst = m.grpc
	}
	if !dst.deliver(pc) {
		c.Close()
	}
}

// peekedConn replays the sniffed bytes before the rest of the stream.
// Like any net.Conn it may be read from two goroutines at once (grpc-go's
// reader and a handover's discard after GOAWAY): the lock guards only the
// replayed bytes, never a blocking read.
type peekedConn struct {
	net.Conn
	mu   sync.Mutex
	head []byte // sniffed bytes not read yet
}

func (p *peekedConn) Read(b []byte) (int, error) {
	p.mu.Lock()
	if len(p.head) > 0 {
		n := copy(b, p.head)
		p.head = p.head[n:]
		p.mu.Unlock()
		return n, nil
	}
	p.mu.Unlock()
	return p.Conn.Read(b)
}

// chanListener is a net.Listener fed by connMux.
type chanListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) deliver(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }
