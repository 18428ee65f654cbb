package chaos_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/faultline/faultline/chaos"
)

// metricsPage renders a /metrics page shaped like chatd's: the Go and process collectors,
// request histograms by route and status, and per-dependency counters and gauges.
func metricsPage(b *testing.B) []byte {
	b.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "http_request_duration_seconds", Buckets: prometheus.DefBuckets}, []string{"method", "route", "status"})
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total"}, []string{"method", "route", "status"})
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "participants_max_api_errors_total"}, []string{"reason"})
	state := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "circuit_breaker_state"}, []string{"dependency"})
	reg.MustRegister(dur, reqs, errs, state)
	for _, route := range []string{"/chats/all", "/chats/{id}", "/chats/{id}/participants/refresh", "/health", "/health/detailed", "/metrics"} {
		for _, status := range []string{"200", "400", "404", "503"} {
			dur.WithLabelValues("GET", route, status).Observe(0.01)
			reqs.WithLabelValues("GET", route, status).Inc()
		}
	}
	for _, reason := range []string{"timeout", "server_error", "rate_limited", "unauthorized", "not_found", "malformed"} {
		errs.WithLabelValues(reason).Inc()
	}
	for _, dep := range []string{"database", "redis", "max_api"} {
		state.WithLabelValues(dep).Set(0)
	}
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequestWithContext(b.Context(), http.MethodGet, "/metrics", nil))
	return rec.Body.Bytes()
}

// BenchmarkParseMetrics is the cost of reading one scrape; the alert replay reads 73 per row.
func BenchmarkParseMetrics(b *testing.B) {
	page := metricsPage(b)
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := chaos.ParseMetrics(bytes.NewReader(page)); err != nil {
			b.Fatal(err)
		}
	}
}
