package milvusapi

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's Prometheus collectors. Method labels are RPC
// names for gRPC ("Search") and "rest:<path>" for REST calls, so the two
// APIs can be told apart.
type metrics struct {
	requests    *prometheus.CounterVec   // method
	latency     *prometheus.HistogramVec // method
	errors      *prometheus.CounterVec   // method, code
	rowsWritten prometheus.Counter
	indexBuilds prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "milvus_ha", Subsystem: "api", Name: "requests_total",
			Help: "Requests received, by method.",
		}, []string{"method"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "milvus_ha", Subsystem: "api", Name: "request_duration_seconds",
			Help:    "Request latency, by method.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2.5, 14),
		}, []string{"method"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "milvus_ha", Subsystem: "api", Name: "errors_total",
			Help: "Failed requests, by method and Milvus status code (grpc_<Code> for transport-level failures, http_<status> for REST ones).",
		}, []string{"method", "code"}),
		rowsWritten: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "milvus_ha", Subsystem: "api", Name: "rows_written_total",
			Help: "Rows accepted by Insert and Upsert.",
		}),
		indexBuilds: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "milvus_ha", Subsystem: "api", Name: "index_builds_total",
			Help: "Indexes created through CreateIndex.",
		}),
	}
	reg.MustRegister(m.requests, m.latency, m.errors, m.rowsWritten, m.indexBuilds)
	return m
}

// observe records one finished request; code is the Milvus status code
// (0 for success).
func (m *metrics) observe(method string, start time.Time, code int32) {
	m.requests.WithLabelValues(method).Inc()
	m.latency.WithLabelValues(method).Observe(time.Since(start).Seconds())
	if code != 0 {
		m.errors.WithLabelValues(method, strconv.Itoa(int(code))).Inc()
	}
}

// failed records a request that failed before it reached a handler
// (undecodable message, auth failure, oversized body).
func (m *metrics) failed(method, code string) {
	m.requests.WithLabelValues(method).Inc()
	m.errors.WithLabelValues(method, code).Inc()
}
