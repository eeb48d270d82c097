package netif

import (
	"bytes"
	"context"
	"encoding/hex"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/netlab"
)

// syncBuffer collects keepalived's console log for failure messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startKeepalived runs keepalived 2.x (VRRP only, no fork, console log) in h.
func startKeepalived(t *testing.T, h *netlab.Host, conf string) *syncBuffer {
	t.Helper()
	if _, err := exec.LookPath("keepalived"); err != nil {
		t.Skip("needs keepalived: not installed")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	log := &syncBuffer{}
	cmd := h.Command("keepalived", "-n", "-l", "-G", "-D", "--vrrp", "-f", path,
		"-p", filepath.Join(dir, "ka.pid"), "-r", filepath.Join(dir, "vrrp.pid"))
	cmd.Stdout, cmd.Stderr = log, log
	p, err := h.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.Stop()
		if t.Failed() {
			t.Logf("keepalived log:\n%s", log.String())
		}
	})
	return log
}

// waitFor polls cond until it holds; the bound only turns a hang into a
// failure (keepalived needs ~3.6 s to become master at advert_int 1).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func vipPresent(t *testing.T, h *netlab.Host, v VIP) bool {
	var present []VIP
	doT(t, h, func() error {
		var err error
		present, err = PresentVIPs([]VIP{v})
		return err
	})
	return len(present) == 1
}

// keepalived as owner (priority 255) becomes master at once: our Conn in
// another host receives its adverts as keepalived sent them, and its GARP
// is byte for byte the frame GratuitousARP builds.
func TestKeepalivedAdvertsAndGARPMatchOurs(t *testing.T) {
	_, a, b, c := lab(t, false)
	cb := listen(t, b, IPv4, Options{})
	capC, err := openCapture(c)
	if err != nil {
		t.Fatal(err)
	}
	defer capC.close()
	startKeepalived(t, a, `
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    advert_int 1
    virtual_ipaddress {
        198.18.0.100/24
    }
}
`)
	r := recv(t, cb)
	if r.Src != ipA || r.Dst != GroupV4 || r.TTL != 255 || len(r.Payload) != 20 {
		t.Fatalf("keepalived advert as received: %+v", r)
	}
	if r.Payload[0] != 0x21 || r.Payload[1] != 51 || r.Payload[2] != 255 || r.Payload[3] != 1 {
		t.Fatalf("keepalived advert payload %x", r.Payload)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	got, err := capC.next(ctx, func(f []byte) bool {
		return etherType(f) == 0x0806 && bytes.Equal(f[6:12], a.MAC()) && bytes.Equal(f[14+14:14+18], vip4.Addr().AsSlice())
	})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := GratuitousARP(a.MAC(), vip4.Addr())
	if hex.EncodeToString(got) != hex.EncodeToString(want) {
		t.Fatalf("keepalived GARP %x\n      ours GARP %x", got, want)
	}
}

// keepalived (master, priority 100) yields to an advert of priority 150
// that we send through Conn: our IP header (TTL, TOS, length) passes its
// receive checks. The advert is the captured VRRPv2 vector of the
// reference (§7.1: VRID 51, PASS "secret12", VIPs .100 and .101); its v2
// checksum does not cover IP addresses, so it is valid from any source.
func TestKeepalivedAcceptsOurAdverts(t *testing.T) {
	_, a, b, _ := lab(t, false)
	startKeepalived(t, a, `
vrrp_instance VI_1 {
    state MASTER
    priority 100
    interface eth0
    virtual_router_id 51
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass secret12
    }
    virtual_ipaddress {
        198.18.0.100/24
        198.18.0.101/24
    }
}
`)
	v := VIP{Prefix: vip4, Dev: "eth0"}
	waitFor(t, "keepalived to become master", func() bool { return vipPresent(t, a, v) })

	cb := listen(t, b, IPv4, Options{})
	advert := unhex(t, "2133960201014d5cc6120064c61200657365637265743132")
	waitFor(t, "keepalived to yield the VIP to our advert", func() bool {
		send(t, cb, string(advert), netip.Addr{})
		return !vipPresent(t, a, v)
	})
}

// keepalived with an IPv6 VIP: our v6 Conn receives its VRRPv3 adverts on
// ff02::12 (hop limit 255, from its link-local), and its unsolicited NA is
// byte for byte the frame UnsolicitedNA builds.
func TestKeepalivedIPv6AdvertsAndNAMatchOurs(t *testing.T) {
	_, a, b, c := lab(t, true)
	cb := listen(t, b, IPv6, Options{})
	capC, err := openCapture(c)
	if err != nil {
		t.Fatal(err)
	}
	defer capC.close()
	startKeepalived(t, a, `
vrrp_instance VI_6 {
    state MASTER
    interface eth0
    virtual_router_id 52
    advert_int 1
    virtual_ipaddress {
        fe80::100/64
    }
}
`)
	r := recv(t, cb)
	if r.Src != a.LinkLocal() || r.Dst != GroupV6 || r.TTL != 255 || len(r.Payload) != 8+16 {
		t.Fatalf("keepalived v6 advert as received: %+v", r)
	}
	if r.Payload[0] != 0x31 || r.Payload[1] != 52 {
		t.Fatalf("keepalived v6 advert payload %x", r.Payload)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	got, err := capC.next(ctx, func(f []byte) bool {
		return etherType(f) == 0x86dd && len(f) >= naLen && f[14+6] == 58 && f[54] == 136 &&
			bytes.Equal(f[54+8:54+24], vip6.Addr().AsSlice())
	})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := UnsolicitedNA(a.MAC(), vip6.Addr(), false)
	if hex.EncodeToString(got) != hex.EncodeToString(want) {
		t.Fatalf("keepalived NA %x\n      ours NA %x", got, want)
	}
}
