package vrrp

import (
	"testing"
	"time"
)

func BenchmarkMarshalV3(b *testing.B) {
	p := captures[4].want
	for b.Loop() {
		if _, err := p.Marshal(nodeA, Group4); err != nil {
			b.Fatal(err)
		}
	}
}

// The receive path of the shell: Parse, Expect.Check, Machine.Receive.
func BenchmarkReceiveV2Pass(b *testing.B) {
	payload, src, dst, ttl := split(b, captures[1].ip)
	exp := expectFor(&captures[1].want, dst)
	m, _ := NewMachine(Config{Version: 2, Priority: 100, AdvertInterval: time.Second, Addr: nodeB})
	m.Start(t0)
	now := t0
	for b.Loop() {
		p, err := Parse(payload, src, dst)
		if err == nil {
			err = exp.Check(p, src, dst, ttl)
		}
		if err != nil {
			b.Fatal(err)
		}
		now = now.Add(time.Second)
		m.Receive(p, src, now)
	}
}
