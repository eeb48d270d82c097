package keeper

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/milvus-ha/milvus-ha/internal/config"
	"github.com/milvus-ha/milvus-ha/internal/speaker"
	"github.com/milvus-ha/milvus-ha/internal/vrrp"
)

// Status is what GET /status returns.
type Status struct {
	Node        string               `json:"node"`
	State       string               `json:"state"` // VRRP state
	Active      bool                 `json:"active"`
	Role        string               `json:"role"` // service role: primary, standby, stopping, fenced, ...
	Service     string               `json:"service"`
	Priority    uint8                `json:"priority"`
	Paused      bool                 `json:"paused"`
	Blocked     string               `json:"blocked,omitempty"`
	Hold        string               `json:"hold,omitempty"` // why the checks hold this node out, or why it stays despite them
	VIP         string               `json:"vip"`
	Master      string               `json:"master,omitempty"`
	MasterPrio  uint8                `json:"master_priority,omitempty"`
	Faults      []string             `json:"faults,omitempty"`
	LeaseMillis int64                `json:"lease_timeout_ms"`
	Lease       leaseInfo            `json:"lease"`
	Peer        PeerStatus           `json:"peer"`
	Checks      []CheckStatus        `json:"checks"`
	Watchdog    string               `json:"watchdog,omitempty"`
	Transitions []speaker.Transition `json:"transitions"`
	Events      []Event              `json:"events"`
}

// PeerStatus is what this node knows of the other one: its standby beacon
// on the shared storage (a VRRP backup sends nothing).
type PeerStatus struct {
	Ready    bool      `json:"ready"`
	Why      string    `json:"why,omitempty"`
	Node     string    `json:"node,omitempty"`
	LastSeen time.Time `json:"last_seen,omitzero"`
}

func (k *Keeper) isActive() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.active
}

// peerReady reports whether a standby could take over now, and why not.
func (k *Keeper) peerReady() (bool, string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.peerErr != "" {
		return false, "standby beacon unreadable: " + k.peerErr
	}
	return k.peers.ready(time.Now())
}

// Status returns a snapshot of the node.
func (k *Keeper) Status() Status {
	vs, trans := k.speaker.Status()
	ready, why := k.peerReady()
	st := Status{
		Node: k.cfg.Keeper.Node, State: vs.State.String(), Role: k.svc.role(), Service: string(k.cfg.Keeper.Service.Kind),
		Priority: vs.Priority, VIP: k.inst.VIPs[0].Prefix.String(), Faults: vs.Faults,
		LeaseMillis: k.timing.LeaseTimeout.Milliseconds(), Lease: k.svc.lease(),
		Checks: k.checkStatuses(), Transitions: trans,
	}
	k.mu.Lock()
	st.Active, st.Paused, st.Blocked, st.Hold = k.active, k.paused, k.blocked, k.checkWhy
	st.Peer = PeerStatus{Ready: ready, Why: why, Node: k.peers.last.Node, LastSeen: k.peers.lastSeen()}
	if k.wd != nil {
		st.Watchdog = fmt.Sprintf("armed: %s, %d pets", k.wd.path, k.wdPets)
	} else if k.cfg.Keeper.Watchdog != "" {
		st.Watchdog = "disarmed: " + k.cfg.Keeper.Watchdog
	}
	st.Events = append([]Event(nil), k.events...)
	k.mu.Unlock()
	if vs.Master.IsValid() {
		st.Master, st.MasterPrio = vs.Master.String(), vs.MasterPriority
	}
	return st
}

// checkControlListen refuses a control API that listens beyond loopback
// without a token (config validation says the same; the keeper enforces
// it for configurations built in code).
func checkControlListen(api config.API) error {
	if api.Listen != "" && api.Token == "" && !loopbackListen(api.Listen) {
		return fmt.Errorf("keeper: control API %s listens beyond loopback without a token: set api.token", api.Listen)
	}
	return nil
}

func loopbackListen(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// handler is the status and control API.
func (k *Keeper) handler() http.Handler {
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
	return mux
}

// startControl serves the API on cfg.Keeper.API.Listen.
func (k *Keeper) startControl() (*http.Server, error) {
	api := k.cfg.Keeper.API
	if api.Listen == "" {
		return &http.Server{}, nil
	}
	if err := checkControlListen(api); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", api.Listen)
	if err != nil {
		return nil, fmt.Errorf("keeper: control API listen %s: %w", api.Listen, err)
	}
	srv := &http.Server{Handler: k.handler(), ReadHeaderTimeout: 5 * time.Second}
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
// Without a configured token only loopback listeners are allowed
// (checkControlListen), so the check is then skipped.
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

// switchover hands the service to the peer: the service holds the
// clients' calls and releases the lease (beginHandOver), then this node
// leaves MASTER with a priority-0 advert, so the peer takes over at once,
// and HandOver hands the held calls to the peer once it serves at the VIP. The node stays out
// until /resume, so that a preempting higher priority does not pull the
// service straight back. It needs a ready standby: handing over to a dead
// peer would only end the service.
func (k *Keeper) switchover(w http.ResponseWriter, r *http.Request) {
	st := k.Status()
	switch {
	case st.State != vrrp.StateMaster.String() || !st.Active:
		writeJSON(w, http.StatusConflict, map[string]string{"error": "this node is " + st.State + ", not the active MASTER: nothing to hand over"})
		return
	case st.Paused:
		writeJSON(w, http.StatusConflict, map[string]string{"error": "paused for maintenance: POST /resume first"})
		return
	case !st.Peer.Ready:
		writeJSON(w, http.StatusConflict, map[string]string{"error": "no ready standby to hand over to: " + st.Peer.Why})
		return
	}
	// Hold the clients and free the lease first, so that the peer's gate
	// finds it free when our priority-0 advert reaches it.
	h, err := k.beginHandOver()
	if err != nil {
		k.log.Info("switchover without holding the clients", "reason", err)
	} else {
		_ = h.wait(r.Context(), k.handoverStep()) // HandOver looks again
		k.mu.Lock()
		k.handoff = h
		k.mu.Unlock()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := k.speaker.Inhibit(ctx, reasonSwitchover, true); err != nil {
		// Only when the speaker's loop has ended (shutting down): the
		// store is closed already, hand the held calls back.
		k.mu.Lock()
		h, k.handoff = k.handoff, nil
		k.mu.Unlock()
		if h != nil {
			go h.finish()
		}
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	k.record("switchover", "handing over to "+st.Peer.Node)
	writeJSON(w, http.StatusOK, map[string]string{"result": "handed over to " + st.Peer.Node + "; POST /resume lets this node take part again"})
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
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	_ = k.speaker.Inhibit(ctx, reasonSwitchover, false)
	_ = k.speaker.Inhibit(ctx, speaker.GateReason, false)
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
