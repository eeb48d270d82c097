package ha

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/milvus-ha/milvus-ha/internal/netlab"
)

// serviceAddr is where a protected server (exec child, container, unit)
// serves Milvus inside its lab host's namespace.
const serviceAddr = "127.0.0.1:19530"

// keeperConfig is what differs between the keeper configs of the tests.
// The rest is the pair's: interface, VIP, VRID, advert interval,
// preemption, priority (a preferred) and API address.
type keeperConfig struct {
	kind    string // names the file: <host>-<kind>.yaml in the cluster's directory
	dataDir string // the keeper's data_dir
	service string // the body of the service section, indented two spaces
	extra   string // top-level lines added verbatim (watchdog)
}

// configure writes each keeper's config, given by kc, for start.
func (cl *cluster) configure(kc func(h *netlab.Host) keeperConfig) {
	for _, h := range []*netlab.Host{cl.a, cl.b} {
		k := kc(h)
		path := filepath.Join(cl.dir, h.Name()+"-"+k.kind+".yaml")
		text := fmt.Sprintf(`node: %s
interface: eth0
vip: %s/24
vrid: 51
priority: %d
advert_interval: %s
preempt: true
data_dir: %s
service:
%s
api: {listen: "%s"}
%s`, h.Name(), vip, cl.prio(h), advert, k.dataDir, k.service, apiAddr, k.extra)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			cl.t.Fatal(err)
		}
		cl.conf[h] = path
	}
}

// embeddedConfig is h's config for the embedded vector server on h's view
// of the shared directory.
func (cl *cluster) embeddedConfig(h *netlab.Host) keeperConfig {
	return keeperConfig{
		kind:    "embedded",
		dataDir: cl.data[h],
		service: `  embedded: {listen: ":19530", health_listen: ":9091"}`,
	}
}

// execConfig is h's config for the exec driver running `milvus-ha serve`
// as the keeper's child. The keeper holds its own lease in data_dir; the
// served store keeps its data (and its own lease) in data_dir/db.
func (cl *cluster) execConfig(h *netlab.Host) keeperConfig {
	command := serveCommand(h, filepath.Join(cl.data[h], "db"))
	return keeperConfig{kind: "exec", dataDir: cl.data[h], service: execService(serviceAddr, command...)}
}

// execService is the service section of the exec driver running command;
// address is left out when empty.
func execService(address string, command ...string) string {
	s := "  exec:\n    command: [" + strings.Join(quoted(command), ", ") + "]"
	if address != "" {
		s += "\n    address: " + strconv.Quote(address)
	}
	return s
}

// serveArgs are the arguments of `milvus-ha serve` for h's server on db,
// the standalone vector server that the exec, docker and systemd drivers
// protect (the image's entrypoint is the binary).
//
// The served store's lease tolerates a 1.4 s stall (lease - margin -
// heartbeat), like the failbench recipe's: with 500ms/100ms (300 ms) a
// freshly started server on a loaded CI host (load 10 on 2 cores) missed
// its first renewal, was fenced and exited 1 right after passing the
// keeper's Ready probe. The lease only delays a takeover from a server
// that died without releasing it; the keepers' own lease is unchanged.
func serveArgs(h *netlab.Host, db string) []string {
	return []string{"serve", "--data", db, "--node-id", h.Name(),
		"--listen", ":19530", "--health-listen", ":9091", "--lease-timeout", "2s", "--heartbeat", "200ms"}
}

// serveCommand is the command line of h's `milvus-ha serve` on db, run
// by the keeper (exec) or by systemd.
func serveCommand(h *netlab.Host, db string) []string {
	return append([]string{binary}, serveArgs(h, db)...)
}

// quoted quotes each argument as a C-style double-quoted string, which
// both YAML and systemd's ExecStart= read back as the argument.
func quoted(args []string) []string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = strconv.Quote(a)
	}
	return q
}
