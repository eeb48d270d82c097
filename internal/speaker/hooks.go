package speaker

import (
	"context"
	"log/slog"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/config"
	"github.com/milvus-ha/milvus-ha/internal/vrrp"
)

// hookQueue runs an instance's notify scripts (placeholder until the
// health package's serial queue is wired in).
type hookQueue struct{}

func newHookQueue(*config.Instance, *slog.Logger) *hookQueue { return &hookQueue{} }
func (*hookQueue) notify(vrrp.State, uint8)                  {}
func (*hookQueue) close(time.Duration)                       {}

func (in *Instance) startScripts(context.Context, chan<- trackResult) error { return nil }
