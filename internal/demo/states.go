package demo

import (
	"bytes"
	"context"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// notifyScript is the nodes' generic notify hook: it appends one line
// "<unix ns> <node> <STATE> <priority>" to the events file for each state
// change (argv: node, then keepalived's INSTANCE <name> <STATE> <priority>).
func notifyScript(events string) string {
	return "#!/bin/sh\necho \"$(date +%s%N) $1 $4 $5\" >> '" + events + "'\n"
}

// parseState parses one events line; ok is false for anything malformed.
func parseState(line string) (NodeState, bool) {
	f := strings.Fields(line)
	if len(f) != 4 {
		return NodeState{}, false
	}
	ns, err1 := strconv.ParseInt(f[0], 10, 64)
	prio, err2 := strconv.Atoi(f[3])
	if err1 != nil || err2 != nil || ns <= 0 {
		return NodeState{}, false
	}
	return NodeState{At: time.Unix(0, ns), Node: f[1], State: f[2], Priority: prio}, true
}

// followStates polls the events file and reports each new complete line
// until ctx ends, then reports what is left.
func followStates(ctx context.Context, path string, report func(NodeState)) {
	var off int64
	var partial []byte
	poll := func() {
		f, err := os.Open(path)
		if err != nil {
			return // not written yet
		}
		defer f.Close()
		b, err := io.ReadAll(io.NewSectionReader(f, off, 1<<20))
		if err != nil {
			return
		}
		off += int64(len(b))
		partial = append(partial, b...)
		for {
			i := bytes.IndexByte(partial, '\n')
			if i < 0 {
				break
			}
			if s, ok := parseState(string(partial[:i])); ok {
				report(s)
			}
			partial = partial[i+1:]
		}
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			poll()
			return
		case <-t.C:
			poll()
		}
	}
}
