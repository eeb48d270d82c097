package speaker

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/milvus-ha/milvus-ha/internal/vrrp"
)

// Metrics are the speaker's Prometheus counters, shared by all instances of
// a process. A nil *Metrics counts nothing.
type Metrics struct {
	advertsSent     *prometheus.CounterVec
	advertsReceived *prometheus.CounterVec
	advertsRejected *prometheus.CounterVec
	transitions     *prometheus.CounterVec
	state           *prometheus.GaugeVec
}

// NewMetrics creates the counters and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		advertsSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "milvusha_vrrp_adverts_sent_total", Help: "VRRP advertisements sent."}, []string{"instance"}),
		advertsReceived: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "milvusha_vrrp_adverts_received_total", Help: "Valid VRRP advertisements received."}, []string{"instance"}),
		advertsRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "milvusha_vrrp_adverts_rejected_total", Help: "VRRP packets rejected, by reason."}, []string{"instance", "reason"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "milvusha_vrrp_transitions_total", Help: "VRRP state transitions, by new state."}, []string{"instance", "to"}),
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "milvusha_vrrp_state", Help: "1 for the instance's current VRRP state."}, []string{"instance", "state"}),
	}
	reg.MustRegister(m.advertsSent, m.advertsReceived, m.advertsRejected, m.transitions, m.state)
	return m
}

func (m *Metrics) sent(inst string) {
	if m != nil {
		m.advertsSent.WithLabelValues(inst).Inc()
	}
}

func (m *Metrics) received(inst string) {
	if m != nil {
		m.advertsReceived.WithLabelValues(inst).Inc()
	}
}

func (m *Metrics) rejected(inst string, r vrrp.Reason) {
	if m != nil {
		m.advertsRejected.WithLabelValues(inst, string(r)).Inc()
	}
}

func (m *Metrics) transition(inst string, to vrrp.State) {
	if m == nil {
		return
	}
	m.transitions.WithLabelValues(inst, to.String()).Inc()
	for _, s := range []vrrp.State{vrrp.StateBackup, vrrp.StateMaster, vrrp.StateFault, vrrp.StateStop} {
		v := 0.0
		if s == to {
			v = 1
		}
		m.state.WithLabelValues(inst, s.String()).Set(v)
	}
}

// rejectLog counts every rejected packet and logs at most one line per
// reason per rejectLogEvery, with the number suppressed meanwhile: a peer
// with the wrong password sends one packet per second forever.
type rejectLog struct {
	log        *slog.Logger
	metrics    *Metrics
	instance   string
	last       map[vrrp.Reason]time.Time
	suppressed map[vrrp.Reason]int
}

const rejectLogEvery = 10 * time.Second

func (r *rejectLog) note(err error, src netip.Addr) {
	reason := vrrp.Reason("unparsed")
	var re *vrrp.RejectError
	if errors.As(err, &re) {
		reason = re.Reason
	}
	r.metrics.rejected(r.instance, reason)
	now := time.Now()
	if t, ok := r.last[reason]; ok && now.Sub(t) < rejectLogEvery {
		if r.suppressed == nil {
			r.suppressed = map[vrrp.Reason]int{}
		}
		r.suppressed[reason]++
		return
	}
	r.last[reason] = now
	level := slog.LevelWarn
	if reason == vrrp.ReasonVRIDMismatch {
		level = slog.LevelDebug // another virtual router on the segment: normal
	}
	r.log.Log(context.Background(), level, "VRRP packet rejected", "reason", string(reason), "from", src,
		"err", err, "suppressed_since_last", r.suppressed[reason])
	delete(r.suppressed, reason)
}
