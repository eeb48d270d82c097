package service

import (
	"context"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
)

// Start (spawn) and Stop (SIGTERM, reap, group confirmed empty) of a child.
func BenchmarkExecStartStop(b *testing.B) {
	ctx := context.Background()
	d, err := NewExec(ExecConfig{Args: []string{"sleep", "1000"}, Logger: discardLogger()})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := d.Start(ctx); err != nil {
			b.Fatal(err)
		}
		if err := d.Stop(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// From a crash of the child to the restarted child running: what the
// keeper waits for when a restart policy handles a crash.
func BenchmarkExecCrashToRestart(b *testing.B) {
	ctx := context.Background()
	d, err := NewExec(ExecConfig{
		Args:    []string{"sleep", "1000"},
		Logger:  discardLogger(),
		Restart: RestartPolicy{Mode: RestartOnFailure, MaxRestarts: -1, Backoff: time.Nanosecond, MaxBackoff: time.Nanosecond},
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := d.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer d.Stop(ctx)
	for b.Loop() {
		st, _ := d.Status(ctx)
		old := st.PID
		if err := signalGroup(old, syscall.SIGKILL); err != nil {
			b.Fatal(err)
		}
		for {
			st, _ := d.Status(ctx)
			if st.State == StateRunning && st.PID != old {
				break
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
}

// One CheckMilvusGRPC (new connection + RPC) against a local server.
func BenchmarkCheckMilvusGRPC(b *testing.B) {
	addr := startHealthServer(b, &healthServer{resp: &milvuspb.CheckHealthResponse{Status: &commonpb.Status{}, IsHealthy: true}})
	ctx := context.Background()
	for b.Loop() {
		if err := CheckMilvusGRPC(ctx, addr); err != nil {
			b.Fatal(err)
		}
	}
}

// Docker Start (engine start, then Milvus CheckHealth until `milvus-ha
// serve` answers, as the keeper configures it) and Stop (SIGTERM,
// confirmed by inspect).
func BenchmarkDockerStartStop(b *testing.B) {
	cli, img := needDocker(b)
	api := freePort(b)
	name := testContainer(b, cli, img, serveCmd(api, freePort(b)), nil)
	d, err := NewDocker(cli, DockerConfig{Container: name, Ready: milvusReady("127.0.0.1:" + strconv.Itoa(api)), Poll: 5 * time.Millisecond, Logger: discardLogger()})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var start, stop time.Duration
	for b.Loop() {
		t0 := time.Now()
		if err := d.Start(ctx); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := d.Stop(ctx); err != nil {
			b.Fatal(err)
		}
		start += t1.Sub(t0)
		stop += time.Since(t1)
	}
	b.ReportMetric(float64(start.Milliseconds())/float64(b.N), "start-ms/op")
	b.ReportMetric(float64(stop.Milliseconds())/float64(b.N), "stop-ms/op")
}
