package demo

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/milvus-ha/milvus-ha/internal/vrrp"
)

// nodeStatus is the part of a keeper's GET /status the demo reads.
type nodeStatus struct {
	Node        string       `json:"node"`
	State       string       `json:"state"`
	Active      bool         `json:"active"`
	Role        string       `json:"role"`
	Priority    int          `json:"priority"`
	Blocked     string       `json:"blocked"`
	Transitions []transition `json:"transitions"`
	Events      []event      `json:"events"`
}

type transition struct {
	At       time.Time  `json:"At"`
	From     vrrp.State `json:"From"`
	To       vrrp.State `json:"To"`
	Priority int        `json:"Priority"`
	Reason   string     `json:"Reason"`
}

type event struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"`
	Detail string    `json:"detail"`
}

// parseStatus decodes a GET /status answer.
func parseStatus(b []byte) (nodeStatus, error) {
	var st nodeStatus
	if err := json.Unmarshal(b, &st); err != nil {
		return nodeStatus{}, fmt.Errorf("status answer: %w", err)
	}
	if st.Node == "" || st.State == "" {
		return nodeStatus{}, fmt.Errorf("status answer without node or state")
	}
	return st, nil
}

// cursor remembers how far a node's history has been reported.
type cursor struct{ trans, events time.Time }

// news returns the transitions and events of st newer than c, oldest
// first, and the advanced cursor. A keeper keeps a bounded history, so
// anything older than what it still lists is gone; a restarted keeper
// starts a new history, later than the old one.
func (c cursor) news(st nodeStatus) ([]transition, []event, cursor) {
	var ts []transition
	for _, t := range st.Transitions {
		if t.At.After(c.trans) {
			ts = append(ts, t)
		}
	}
	var es []event
	for _, e := range st.Events {
		if e.At.After(c.events) {
			es = append(es, e)
		}
	}
	slices.SortStableFunc(ts, func(a, b transition) int { return a.At.Compare(b.At) })
	slices.SortStableFunc(es, func(a, b event) int { return a.At.Compare(b.At) })
	if len(ts) > 0 {
		c.trans = ts[len(ts)-1].At
	}
	if len(es) > 0 {
		c.events = es[len(es)-1].At
	}
	return ts, es, c
}
