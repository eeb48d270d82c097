package milvusapi

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestConnMux: the HTTP/2 preface routes to the gRPC side with every byte
// replayed; HTTP/1.1 (even a request shorter than the preface) to REST.
func TestConnMux(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := newConnMux(ln)
	done := make(chan error, 1)
	go func() { done <- m.serve() }()

	// REST side: a tiny HTTP server.
	go func() {
		_ = http.Serve(m.http, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "rest:"+r.URL.Path)
		}))
	}()
	// gRPC side: echo what was received.
	go func() {
		for {
			c, err := m.grpc.Accept()
			if err != nil {
				return
			}
			go func() {
				buf := make([]byte, len(http2Preface)+5)
				if _, err := io.ReadFull(c, buf); err == nil {
					_, _ = c.Write(buf)
				}
				c.Close()
			}()
		}
	}()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	// Send the preface in two pieces: sniffing must wait for all of it.
	_, _ = io.WriteString(c, http2Preface[:5])
	time.Sleep(10 * time.Millisecond)
	_, _ = io.WriteString(c, http2Preface[5:]+"hello")
	got, _ := io.ReadAll(c)
	c.Close()
	if string(got) != http2Preface+"hello" {
		t.Fatalf("gRPC side got %q", got)
	}

	c, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(c, "GET /x HTTP/1.0\r\n\r\n") // shorter than the preface
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	c.Close()
	if string(body) != "rest:/x" {
		t.Fatalf("REST side answered %q", body)
	}

	ln.Close()
	if err := <-done; err == nil {
		t.Fatal("serve returned nil after the listener closed")
	}
	if _, err := m.grpc.Accept(); err == nil {
		t.Fatal("gRPC side still accepting after close")
	}
}
