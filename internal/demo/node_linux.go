package demo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/netlab"
)

// node is one milvus-ha process slot in a lab host: its config, its log
// (appended across restarts) and the running process, if any.
type node struct {
	host     *netlab.Host
	binary   string
	conf     string
	log      string
	api      string // the keeper's status/control API, inside the host
	flag     string // the node's check script fails while this exists
	priority int

	proc     *netlab.Process
	stopping atomic.Bool // exits from now on are expected
	exited   func(n *node, err error)
}

func (n *node) name() string { return n.host.Name() }

// start runs `milvus-ha run --config` in the node's host; exited is called
// if the process ends before kill or the lab's Close.
func (n *node) start() error {
	logf, err := os.OpenFile(n.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("demo: %s log: %w", n.name(), err)
	}
	defer logf.Close() // the child has its own descriptor
	cmd := n.host.Command(n.binary, "run", "--config", n.conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	n.stopping.Store(false)
	p, err := n.host.Start(cmd)
	if err != nil {
		return fmt.Errorf("demo: start milvus-ha on %s: %w", n.name(), err)
	}
	n.proc = p
	go func() {
		err := p.Wait()
		if !n.stopping.Load() && n.exited != nil {
			n.exited(n, err)
		}
	}()
	return nil
}

// kill SIGKILLs the node's process group: a crash, nothing cleaned up.
func (n *node) kill() error {
	if n.proc == nil {
		return fmt.Errorf("demo: %s: no milvus-ha process", n.name())
	}
	n.stopping.Store(true)
	return n.proc.Kill()
}

// setCheck makes the node's check script fail (true) or pass.
func (n *node) setCheck(fail bool) error {
	if fail {
		return os.WriteFile(n.flag, []byte("failing on purpose (milvus-ha demo)\n"), 0o644)
	}
	if err := os.Remove(n.flag); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// control runs `milvus-ha <verb>` (switchover, resume, ...) in the node's
// host against its keeper, as an operator would.
func (n *node) control(ctx context.Context, verb string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := n.host.Run(ctx, n.binary, verb, "--api", n.api)
	return err
}

// logTail returns the last lines of the node's log.
func (n *node) logTail(lines int) string {
	b, err := os.ReadFile(n.log)
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}

func nodeFiles(dir, name string) (log, flag string) {
	return filepath.Join(dir, name+".log"), filepath.Join(dir, name+"-check-fails")
}
