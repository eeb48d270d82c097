package netlab

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"net/netip"
	"regexp"
	"strconv"
)

const (
	pidDigits  = 5 // 36^5 > 2^22, the largest Linux pid_max
	randDigits = 3
	prefixLen  = 2 + pidDigits + randDigits
)

// prefixRE matches the per-run prefix at the start of a namespace name and
// captures the PID digits.
var prefixRE = regexp.MustCompile(`^mh([0-9a-z]{5})[0-9a-z]{3}-`)

// labRange is the only IPv4 range lab hosts may use (RFC 2544 benchmarking).
var labRange = netip.MustParsePrefix("198.18.0.0/15")

// hostNameRE keeps namespace names readable and shell-safe.
var hostNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,19}$`)

// newPrefix returns "mh" + base36(pid) padded to 5 + 3 random base36 digits.
func newPrefix(pid int) (string, error) {
	p := strconv.FormatInt(int64(pid), 36)
	if len(p) > pidDigits {
		return "", fmt.Errorf("netlab: pid %d does not fit the name scheme", pid)
	}
	n, err := rand.Int(rand.Reader, big.NewInt(36*36*36))
	if err != nil {
		return "", fmt.Errorf("netlab: random prefix: %w", err)
	}
	r := strconv.FormatInt(n.Int64(), 36)
	return fmt.Sprintf("mh%0*s%0*s", pidDigits, p, randDigits, r), nil
}

// pidOf returns the PID encoded in a lab namespace name, or false when the
// name does not follow the scheme.
func pidOf(nsName string) (int, bool) {
	m := prefixRE.FindStringSubmatch(nsName)
	if m == nil {
		return 0, false
	}
	pid, err := strconv.ParseInt(m[1], 36, 64)
	if err != nil || pid <= 0 {
		return 0, false
	}
	return int(pid), true
}

// CheckAddr reports whether p may be given to a lab host: an IPv4 address
// inside 198.18.0.0/15 with a prefix no wider than /15, so that neither the
// address nor the on-link route reaches outside the range.
func CheckAddr(p netip.Prefix) error {
	if !p.IsValid() {
		return fmt.Errorf("netlab: invalid address %v", p)
	}
	if !p.Addr().Is4() || !labRange.Contains(p.Addr()) || p.Bits() < labRange.Bits() {
		return fmt.Errorf("netlab: address %v outside %v (the only range labs may use)", p, labRange)
	}
	if p.Addr() == p.Masked().Addr() && p.Bits() < 31 {
		return fmt.Errorf("netlab: address %v is the network address", p)
	}
	return nil
}
