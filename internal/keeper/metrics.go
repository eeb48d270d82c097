package keeper

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

type metrics struct {
	promoteSeconds prometheus.Histogram
	refusals       prometheus.Counter
	unauthorized   prometheus.Counter
}

func newMetrics(reg *prometheus.Registry, k *Keeper) *metrics {
	m := &metrics{
		promoteSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "milvusha_keeper_promote_seconds",
			Help:    "Time from the VRRP decision to take over until the store is primary and the API serves.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		refusals: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "milvusha_keeper_takeover_refusals_total",
			Help: "Times this node did not take over (peer alive on storage, paused, store error).",
		}),
		unauthorized: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "milvusha_keeper_api_unauthorized_total",
			Help: "Control API calls refused for a missing or wrong token.",
		}),
	}
	active := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "milvusha_keeper_active", Help: "1 while this node serves the store behind the VIP.",
	}, func() float64 {
		if k.isActive() {
			return 1
		}
		return 0
	})
	reg.MustRegister(m.promoteSeconds, m.refusals, m.unauthorized, active,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
