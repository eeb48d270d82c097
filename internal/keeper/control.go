package keeper

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/milvus-ha/milvus-ha/internal/speaker"
	"github.com/milvus-ha/milvus-ha/internal/vrrp"
)

// Status is what GET /status returns.
type Status struct {
	Node        string               `json:"node"`
	State       string               `json:"state"` // VRRP state
	Active      bool                 `json:"active"`
	Role        string               `json:"role"` // store role: primary, standby, fenced, ...
	Priority    uint8                `json:"priority"`
	Paused      bool                 `json:"paused"`
	Blocked     string               `json:"blocked,omitempty"`
	VIP         string               `json:"vip"`
	Master      string               `json:"master,omitempty"`
	MasterPrio  uint8                `json:"master_priority,omitempty"`
	Faults      []string             `json:"faults,omitempty"`
	LeaseMillis int64                `json:"lease_timeout_ms"`
	Transitions []speaker.Transition `json:"transitions"`
	Events      []Event              `json:"events"`
}

func (k *Keeper) isActive() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.active
}

// Status returns a snapshot of the node.
func (k *Keeper) Status() Status {
	vs, trans := k.speaker.Status()
	k.mu.Lock()
	defer k.mu.Unlock()
	role := "closed"
	if k.db != nil {
		role = k.db.Role().String()
	}
	st := Status{
		Node: k.cfg.Keeper.Node, State: vs.State.String(), Active: k.active, Role: role,
		Priority: vs.Priority, Paused: k.paused, Blocked: k.blocked,
		VIP: k.inst.VIPs[0].Prefix.String(), Faults: vs.Faults,
		LeaseMillis: k.timing.LeaseTimeout.Milliseconds(),
		Transitions: trans, Events: append([]Event(nil), k.events...),
	}
	if vs.Master.IsValid() {
		st.Master, st.MasterPrio = vs.Master.String(), vs.MasterPriority
	}
	return st
}

// The inhibit reasons the control API sets.
const (
	reasonSwitchover = "planned switchover (POST /resume to rejoin)"
	reasonPause      = "paused for maintenance"
)

// startControl serves the status and control API on cfg.Keeper.API.Listen.
func (k *Keeper) startControl(ctx context.Context) (*http.Server, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, k.Status()) })
	mux.HandleFunc("GET /history", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, k.Status().Events) })
	mux.HandleFunc("GET /primary", func(w http.ResponseWriter, r *http.Request) { k.roleProbe(w, k.isActive()) })
	mux.HandleFunc("GET /standby", func(w http.ResponseWriter, r *http.Request) {
		st := k.Status()
		k.roleProbe(w, !st.Active && st.Role == "standby")
	})
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		st := k.Status()
		k.roleProbe(w, st.Role == "primary" || st.Role == "standby")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(k.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("POST /switchover", k.authorized(k.switchover))
	mux.HandleFunc("POST /pause", k.authorized(k.pause))
	mux.HandleFunc("POST /resume", k.authorized(k.resume))

	listen := k.cfg.Keeper.API.Listen
	if listen == "" {
		return &http.Server{}, nil
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("keeper: control API listen %s: %w", listen, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			k.log.Error("control API stopped", "err", err)
		}
	}()
	return srv, nil
}

func (k *Keeper) roleProbe(w http.ResponseWriter, ok bool) {
	if ok {
		writeJSON(w, http.StatusOK, map[string]string{"node": k.cfg.Keeper.Node, "result": "yes"})
		return
	}
	writeJSON(w, http.StatusServiceUnavailable, map[string]string{"node": k.cfg.Keeper.Node, "result": "no"})
}

// authorized requires "Authorization: Bearer <token>" on state-changing calls.
// Without a configured token only loopback listeners are allowed (config
// validation refuses the rest), so the check is then skipped.
func (k *Keeper) authorized(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token := k.cfg.Keeper.API.Token
		if token != "" {
			got := r.Header.Get("Authorization")
			if subtle.ConstantTimeCompare([]byte(got), []byte("Bearer "+token)) != 1 {
				k.metrics.unauthorized.Inc()
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong token"})
				return
			}
		}
		h(w, r)
	}
}

// switchover hands the service to the peer: this node leaves MASTER with a
// priority-0 advert (the VIP goes, the store is demoted and the lease
// released), so the peer takes over after its skew time and takes the
// released lease at once. The node stays out until /resume, so that a
// preempting higher priority does not pull the service straight back.
func (k *Keeper) switchover(w http.ResponseWriter, r *http.Request) {
	st := k.Status()
	if st.State != vrrp.StateMaster.String() {
		writeJSON(w, http.StatusConflict, map[string]string{"error": "this node is " + st.State + ", not MASTER: nothing to hand over"})
		return
	}
	if st.Master == "" {
		writeJSON(w, http.StatusConflict, map[string]string{"error": "no peer seen"})
		return
	}
	if err := k.speaker.Inhibit(r.Context(), reasonSwitchover, true); err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	k.record("switchover", "handing over to the peer")
	writeJSON(w, http.StatusOK, map[string]string{"result": "handed over; POST /resume lets this node take part again"})
}

func (k *Keeper) pause(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	was := k.paused
	k.paused = true
	k.mu.Unlock()
	if was {
		writeJSON(w, http.StatusConflict, map[string]string{"error": "already paused"})
		return
	}
	k.record("pause", "no automatic takeover until /resume")
	writeJSON(w, http.StatusOK, map[string]string{"result": "paused"})
}

func (k *Keeper) resume(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	was := k.paused
	k.paused = false
	k.mu.Unlock()
	// Resume also ends a switchover hold and any gate refusal.
	_ = k.speaker.Inhibit(r.Context(), reasonSwitchover, false)
	_ = k.speaker.Inhibit(r.Context(), speaker.GateReason, false)
	k.record("resume", fmt.Sprintf("automatic transitions on (was paused: %v)", was))
	writeJSON(w, http.StatusOK, map[string]string{"result": "resumed"})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
