package service

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// CheckDockerRunning succeeds when the container runs and is not paused
// or restarting, and, if it has a healthcheck, the engine reports it
// healthy ("starting" counts as not yet up). It is keepalived's
// `docker inspect -f {{.State.Running}}` check, done through the API.
func CheckDockerRunning(ctx context.Context, cli client.ContainerAPIClient, name string) error {
	info, err := inspectContainer(ctx, cli, name)
	if err != nil {
		return err
	}
	st := info.State
	switch {
	case !st.Running || st.Paused || st.Restarting:
		return fmt.Errorf("docker container %q is %s", name, describeState(st))
	case st.Health != nil && st.Health.Status == container.Unhealthy:
		return fmt.Errorf("docker container %q is unhealthy: %s", name, lastHealthOutput(st.Health))
	case st.Health != nil && st.Health.Status == container.Starting:
		return fmt.Errorf("docker container %q is running, health still starting", name)
	}
	return nil
}

// CheckMilvusGRPC calls MilvusService.CheckHealth at addr (host:port,
// plaintext) and succeeds when the server says it is healthy. Each call
// makes its own connection, so a server that restarted is seen fresh;
// ctx bounds the whole check.
func CheckMilvusGRPC(ctx context.Context, addr string) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("milvus check %s: %w", addr, err)
	}
	defer conn.Close()
	resp, err := milvuspb.NewMilvusServiceClient(conn).CheckHealth(ctx, &milvuspb.CheckHealthRequest{})
	if err != nil {
		return fmt.Errorf("milvus check %s: %w", addr, err)
	}
	if st := resp.GetStatus(); st != nil && (st.GetCode() != 0 || st.GetErrorCode() != 0) {
		return fmt.Errorf("milvus check %s: status %d: %s", addr, max(st.GetCode(), int32(st.GetErrorCode())), st.GetReason())
	}
	if !resp.GetIsHealthy() {
		why := strings.Join(resp.GetReasons(), "; ")
		if why == "" {
			why = "no reason given"
		}
		return fmt.Errorf("milvus check %s: %w: %s", addr, ErrUnhealthy, why)
	}
	return nil
}

// ErrUnhealthy is wrapped when a server answered and said it is unhealthy
// (as opposed to not answering).
var ErrUnhealthy = errors.New("unhealthy")
