package demo

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// ErrNeedRoot is returned by Preflight when the demo does not run as root.
var ErrNeedRoot = errors.New("demo needs root: it builds hosts as network namespaces (run: sudo go run ./cmd/milvus-ha demo)")

// tools are the external programs the demo's lab needs, with the Debian
// package that provides each.
var tools = []struct{ name, pkg, why string }{
	{"ip", "iproute2", "network namespaces"},
	{"nft", "nftables", "the lab's traffic cuts between hosts"},
}

// Preflight checks that the demo can build its lab: root, and the tools
// the lab runs. Its error says exactly what is missing.
func Preflight() error { return preflight(os.Geteuid(), exec.LookPath) }

func preflight(euid int, lookPath func(string) (string, error)) error {
	if euid != 0 {
		return ErrNeedRoot
	}
	var missing []string
	for _, t := range tools {
		if _, err := lookPath(t.name); err != nil {
			missing = append(missing, fmt.Sprintf("%s (Debian package %s, for %s)", t.name, t.pkg, t.why))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("demo needs %s: not found in PATH %q", strings.Join(missing, " and "), os.Getenv("PATH"))
	}
	return nil
}
