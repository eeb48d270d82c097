package demo

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// milvusHA is the milvus-ha executable the lab tests run in the node hosts;
// built only when the lab tests can run (root).
var milvusHA string

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	if Preflight() != nil {
		return m.Run() // the lab tests skip
	}
	dir, err := os.MkdirTemp("", "milvus-ha-demo-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "milvus-ha"), "../../cmd/milvus-ha").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building milvus-ha: %v\n%s", err, out)
		return 1
	}
	milvusHA = filepath.Join(dir, "milvus-ha")
	return m.Run()
}

func needLab(t *testing.T) {
	t.Helper()
	if err := Preflight(); err != nil {
		t.Skipf("needs root: %v", err)
	}
}

// ourNamespaces lists the lab namespaces this test process created (the
// netlab prefix encodes the creating PID).
func ourNamespaces(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir("/run/netns")
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("mh%05s", strconv.FormatInt(int64(os.Getpid()), 36))
	var ours []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			ours = append(ours, e.Name())
		}
	}
	return ours
}

// The quick scenario end to end with the keepers and the Milvus client:
// every failover and failback happens and is served by the expected node,
// the client sees host loss as an outage, every acknowledged insert is read
// back, the plot is written, and the lab is gone afterwards.
func TestQuickDemo(t *testing.T) {
	needLab(t)
	svg := filepath.Join(t.TempDir(), "timeline.svg")
	var out bytes.Buffer
	res, err := Run(t.Context(), Options{Binary: milvusHA, Out: &out, SVG: svg, Quick: true})
	t.Logf("demo output:\n%s", out.String())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := []struct{ fault, owner string }{
		{"host loss", "b"}, {"failback", "a"}, {"keeper killed", "b"}, {"failback", "a"},
	}
	if len(res.Steps) != len(want) {
		t.Fatalf("%d steps, want %d", len(res.Steps), len(want))
	}
	for i, w := range want {
		r := res.Steps[i]
		if r.Fault != w.fault || r.Owner != w.owner || r.Err != nil || r.Answered.Before(r.At) {
			t.Errorf("step %d = %s → %q (err %v), want %s → %s", i, r.Fault, r.Owner, r.Err, w.fault, w.owner)
		}
	}
	// With a's link down nothing answers until b takes over: the client
	// must have seen an outage.
	if hl := res.Steps[0]; hl.Outage < MinOutage || len(hl.Gaps) == 0 || hl.FirstAnswer.IsZero() {
		t.Errorf("host loss: no outage measured (%+v)", hl.Impact)
	}
	// Stop read every acknowledged insert back (it fails the run if one
	// is missing); the summary says how many.
	var acked int
	if _, err := fmt.Sscanf(res.Workload[strings.Index(res.Workload, "read back"):], "read back through the VIP: %d acknowledged writes, all present", &acked); err != nil || acked < 100 {
		t.Errorf("workload summary %q: %d acknowledged writes read back (%v)", res.Workload, acked, err)
	}
	if res.SVG != svg {
		t.Errorf("Result.SVG = %q, want %q", res.SVG, svg)
	}
	b, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	dec := xml.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("plot is not well-formed: %v", err)
		}
		if cd, ok := tok.(xml.CharData); ok {
			text.Write(cd)
			text.WriteByte('\n')
		}
	}
	for _, s := range []string{"host loss: a's link down", "keeper killed: kill -9 milvus-ha on a"} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("plot lacks the mark %q", s)
		}
	}
	for _, s := range []string{"VIP now answered by b", "lab removed", "b promote:", "a start:"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("narration lacks %q (takeover, cleanup, keeper events)", s)
		}
	}
	if left := ourNamespaces(t); len(left) > 0 {
		t.Errorf("namespaces left behind: %v", left)
	}
}

// Cancelling (Ctrl-C) in the middle of the scenario stops the demo and
// removes the lab and its processes.
func TestDemoCancelCleansUp(t *testing.T) {
	needLab(t)
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, Options{Binary: milvusHA, Out: pw, Quick: true})
		pw.CloseWithError(err)
		done <- err
	}()
	// Cancel as soon as the first fault is under way.
	var seen bytes.Buffer
	buf := make([]byte, 4096)
	for !strings.Contains(seen.String(), "host loss") {
		n, err := pr.Read(buf)
		seen.Write(buf[:n])
		if err != nil {
			t.Fatalf("demo ended before its first fault: %v\n%s", err, seen.String())
		}
	}
	cancel()
	go io.Copy(&seen, pr)
	err := <-done
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run after cancel = %v, want context.Canceled", err)
	}
	if left := ourNamespaces(t); len(left) > 0 {
		t.Errorf("namespaces left behind: %v", left)
	}
}

// A node binary that cannot run: the demo fails with a precise error,
// shows the nodes' logs and still removes the lab.
func TestDemoFailsCleanly(t *testing.T) {
	needLab(t)
	var out bytes.Buffer
	_, err := Run(t.Context(), Options{Binary: "/bin/false", Out: &out, Quick: true, StepTimeout: 2 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "never came up on a") {
		t.Fatalf("Run = %v, want the VIP never coming up", err)
	}
	if !strings.Contains(out.String(), "exited unexpectedly") {
		t.Errorf("narration does not report the dead nodes:\n%s", out.String())
	}
	if left := ourNamespaces(t); len(left) > 0 {
		t.Errorf("namespaces left behind: %v", left)
	}
}
