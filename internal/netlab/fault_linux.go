package netlab

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
)

// LinkDown takes the host's bridge port down: the host loses carrier on
// eth0 (IFF_LOWER_UP clears) and is cut from everyone, like a pulled cable.
func (h *Host) LinkDown() error { return h.setPort(false) }

// LinkUp undoes LinkDown.
func (h *Host) LinkUp() error { return h.setPort(true) }

func (h *Host) setPort(up bool) error {
	l := h.lab
	port, err := l.sw.LinkByName(h.port)
	if err != nil {
		return fmt.Errorf("netlab: %s port: %w", h.name, err)
	}
	if up {
		err = l.sw.LinkSetUp(port)
	} else {
		err = l.sw.LinkSetDown(port)
	}
	if err != nil {
		return fmt.Errorf("netlab: %s port up=%v: %w", h.name, up, err)
	}
	l.log.Debug("link", "host", h.name, "up", up)
	return nil
}

// Cut drops every frame between a and b in both directions (unicast,
// broadcast and multicast) while both keep talking to other hosts and keep
// carrier: a partition between exactly these two. It is an nftables rule in
// the bridge's forward hook, inside the switch namespace.
func (l *Lab) Cut(a, b *Host) error { return l.setCut(a, b, true) }

// Heal undoes Cut(a, b).
func (l *Lab) Heal(a, b *Host) error { return l.setCut(a, b, false) }

func (l *Lab) setCut(a, b *Host, cut bool) error {
	if a == b || a.lab != l || b.lab != l {
		return fmt.Errorf("netlab: cut needs two distinct hosts of this lab")
	}
	key := [2]string{a.port, b.port}
	slices.Sort(key[:])
	l.mu.Lock()
	defer l.mu.Unlock()
	if cut {
		l.cuts[key] = true
	} else {
		delete(l.cuts, key)
	}
	if err := l.applyCuts(); err != nil {
		return err
	}
	l.log.Debug("cut", "a", a.name, "b", b.name, "cut", cut)
	return nil
}

// applyCuts replaces the lab's nftables table with the current cut set in
// one atomic nft transaction. Caller holds l.mu.
func (l *Lab) applyCuts() error {
	if _, err := exec.LookPath("nft"); err != nil {
		return fmt.Errorf("netlab: Cut/Heal need nft (Debian package nftables): %w", err)
	}
	var sb strings.Builder
	table := "bridge " + l.prefix
	fmt.Fprintf(&sb, "table %s {}\nflush table %s\n", table, table)
	fmt.Fprintf(&sb, "table %s {\n\tchain cut {\n\t\ttype filter hook forward priority 0; policy accept;\n", table)
	keys := make([][2]string, 0, len(l.cuts))
	for k := range l.cuts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y [2]string) int { return strings.Compare(x[0]+x[1], y[0]+y[1]) })
	for _, k := range keys {
		fmt.Fprintf(&sb, "\t\tiifname %q oifname %q drop\n\t\tiifname %q oifname %q drop\n", k[0], k[1], k[1], k[0])
	}
	sb.WriteString("\t}\n}\n")
	cmd := exec.CommandContext(context.Background(), "ip", "netns", "exec", l.swName(), "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(sb.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("netlab: nft in %s: %w: %s", l.swName(), err, strings.TrimSpace(string(out)))
	}
	return nil
}
