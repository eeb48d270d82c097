package keeper

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/milvus-ha/milvus-ha/internal/health"
)

type metrics struct {
	promoteSeconds prometheus.Histogram
	refusals       prometheus.Counter
	unauthorized   prometheus.Counter
	handovers      prometheus.Counter
	stopFailures   prometheus.Counter
	beaconErrors   prometheus.Counter
	checkOK        *prometheus.GaugeVec
	checkFailures  *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry, k *Keeper) *metrics {
	m := &metrics{
		promoteSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "milvusha_keeper_promote_seconds",
			Help:    "Time from the VRRP decision to take over until the lease is held and the service serves.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		refusals: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "milvusha_keeper_takeover_refusals_total",
			Help: "Times this node did not take over (peer alive on storage, paused, service or watchdog error).",
		}),
		unauthorized: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "milvusha_keeper_api_unauthorized_total",
			Help: "Control API calls refused for a missing or wrong token.",
		}),
		handovers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "milvusha_keeper_check_handovers_total",
			Help: "Times the active node handed over at once because a weight-0 check failed (fast path).",
		}),
		stopFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "milvusha_keeper_service_stop_failures_total",
			Help: "Step-downs whose service stop was not confirmed (the lease was kept).",
		}),
		beaconErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "milvusha_keeper_standby_beacon_errors_total",
			Help: "Reads of the peer's standby beacon that failed or did not decode.",
		}),
		checkOK: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "milvusha_keeper_check_state",
			Help: "Tracked state of each health check: 1 ok, 0 failed, -1 unknown (not run yet, or a service check on a node that is not active).",
		}, []string{"check"}),
		checkFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "milvusha_keeper_check_failures_total",
			Help: "Times each health check entered the failed state.",
		}, []string{"check"}),
	}
	active := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "milvusha_keeper_active", Help: "1 while this node serves the service behind the VIP.",
	}, func() float64 { return b2f(k.isActive()) })
	serviceUp := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "milvusha_keeper_service_running", Help: "1 while the protected service may run on this node (active, or a stop not yet confirmed).",
	}, func() float64 { return b2f(k.svc != nil && k.svc.busy()) })
	leaseValid := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "milvusha_keeper_lease_valid_seconds", Help: "How long this node may still serve on its storage lease (0 when not holding; external services only).",
	}, func() float64 {
		if k.svc == nil {
			return 0
		}
		return k.svc.lease().ValidFor.Seconds()
	})
	peerReady := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "milvusha_keeper_peer_ready", Help: "1 while the peer's standby beacon says it is ready to take over.",
	}, func() float64 {
		ok, _ := k.peerReady()
		return b2f(ok)
	})
	reg.MustRegister(m.promoteSeconds, m.refusals, m.unauthorized, m.handovers, m.stopFailures, m.beaconErrors,
		m.checkOK, m.checkFailures, active, serviceUp, leaseValid, peerReady,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) checkState(name string, s health.State) {
	v := -1.0
	switch s {
	case health.OK:
		v = 1
	case health.Failed:
		v = 0
		m.checkFailures.WithLabelValues(name).Inc()
	}
	m.checkOK.WithLabelValues(name).Set(v)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
