package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"
)

// newControlCmds are the clients of a running keeper's control API:
// status, history (GET) and switchover, pause, resume (POST).
func newControlCmds() []*cobra.Command {
	type call struct {
		name, method, path, short string
	}
	calls := []call{
		{"status", "GET", "/status", "Show the node's state, priority, store role, VIP and recent transitions"},
		{"history", "GET", "/history", "Show the node's recent events with their reasons"},
		{"switchover", "POST", "/switchover", "Hand the service over to the peer (planned, no acknowledged write lost)"},
		{"pause", "POST", "/pause", "Maintenance: no automatic takeover until resume"},
		{"resume", "POST", "/resume", "End a pause or a switchover hold"},
	}
	var cmds []*cobra.Command
	for _, c := range calls {
		var api, token string
		cmd := &cobra.Command{
			Use:   c.name,
			Short: c.short,
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				if token == "" {
					token = os.Getenv("MILVUS_HA_TOKEN")
				}
				req, err := http.NewRequestWithContext(cmd.Context(), c.method, "http://"+api+c.path, nil)
				if err != nil {
					return err
				}
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
				if err != nil {
					return fmt.Errorf("%s: %w", c.name, err)
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				var out bytes.Buffer
				if json.Indent(&out, body, "", "  ") != nil {
					out.Write(body)
				}
				fmt.Fprintln(cmd.OutOrStdout(), out.String())
				if resp.StatusCode >= 300 {
					return fmt.Errorf("%s: %s", c.name, resp.Status)
				}
				return nil
			},
		}
		cmd.Flags().StringVar(&api, "api", "127.0.0.1:9700", "the keeper's control API address")
		cmd.Flags().StringVar(&token, "token", "", "bearer token for state-changing calls (default $MILVUS_HA_TOKEN)")
		cmds = append(cmds, cmd)
	}
	return cmds
}
