package config

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// kaCheck runs `keepalived -t` (config test mode) on text written to a file
// and returns its messages, minus the script-security notice keepalived
// prints for every config with scripts and no enable_script_security.
func kaCheck(t *testing.T, bin, iface, text string) (file string, msgs []string) {
	t.Helper()
	text = strings.ReplaceAll(text, "eth0", iface)
	file = filepath.Join(t.TempDir(), "keepalived.conf")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-t", "-f", file).CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("keepalived -t: %v", err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" && !strings.HasPrefix(l, "SECURITY VIOLATION - scripts are being executed") {
			msgs = append(msgs, l)
		}
	}
	return file, msgs
}

// labInterface picks an interface keepalived accepts in -t mode.
func labInterface(t *testing.T) string {
	ifs, err := net.Interfaces()
	if err != nil {
		t.Skip("needs network interfaces: ", err)
	}
	for _, i := range ifs {
		if i.Name == "eth0" {
			return i.Name
		}
	}
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback == 0 && i.Flags&net.FlagMulticast != 0 {
			return i.Name
		}
	}
	t.Skip("needs a non-loopback multicast interface for keepalived -t")
	return ""
}

// TestKeepalivedAgrees cross-checks the parser with the real keepalived
// 2.2.7: every config we accept as plain keepalived semantics is accepted
// by `keepalived -t` without a message, and for range errors keepalived
// points at the same line we do.
func TestKeepalivedAgrees(t *testing.T) {
	bin, err := exec.LookPath("keepalived")
	if err != nil {
		t.Skip("needs keepalived: ", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: keepalived -t")
	}
	iface := labInterface(t)
	dir := t.TempDir()
	chk := filepath.Join(dir, "chk.sh")
	if err := os.WriteFile(chk, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	good := map[string]string{}
	for _, name := range []string{"master.conf", "backup.conf"} {
		b, err := os.ReadFile(filepath.Join("testdata/recipe", name))
		if err != nil {
			t.Fatal(err)
		}
		// keepalived -t checks that scripts exist; the recipe's do not here.
		r := strings.NewReplacer("/etc/keepalived/chk_milvus.sh", chk,
			"/etc/keepalived/start_docker.sh", chk, "/etc/keepalived/stop_docker.sh", chk)
		good["recipe "+name] = r.Replace(string(b))
	}
	for _, c := range semanticCases {
		good[c.name] = strings.NewReplacer("/bin/true", chk, "/bin/echo", chk, "/bin/printf", chk,
			"/bin/fault.sh", chk, "/usr/bin/check", chk, "wheel", "root").Replace(c.conf)
	}
	for name, text := range good {
		t.Run("accepts/"+name, func(t *testing.T) {
			if _, _, err := parseKA(t, text); err != nil {
				t.Fatalf("we reject: %v", err)
			}
			if _, msgs := kaCheck(t, bin, iface, text); len(msgs) > 0 {
				t.Errorf("keepalived -t complains:\n%s\nconfig:\n%s", strings.Join(msgs, "\n"), text)
			}
		})
	}

	sameLine := set("priority out of range", "priority not a number", "vrid 0", "vrid 256",
		"state lower case", "advert too long", "version 4", "auth bogus", "bad VIP",
		"script weight range", "script rise 0", "track_script weight range", "bad peer")
	lineRE := regexp.MustCompile(`\(([^:]+): Line (\d+)\)`)
	for _, c := range errorCases {
		if !sameLine[c.name] {
			continue
		}
		t.Run("flags/"+c.name, func(t *testing.T) {
			ourLine := strings.TrimPrefix(strings.SplitN(c.err, ":", 3)[1], "")
			file, msgs := kaCheck(t, bin, iface, c.conf)
			var lines []string
			for _, m := range msgs {
				if sm := lineRE.FindStringSubmatch(m); sm != nil && sm[1] == file {
					lines = append(lines, sm[2])
				}
			}
			if !set(lines...)[ourLine] {
				t.Errorf("we say %q; keepalived flags lines %v:\n%s", c.err, lines, strings.Join(msgs, "\n"))
			}
		})
	}
	if len(sameLine) == 0 {
		t.Fatal("no cases")
	}
}
