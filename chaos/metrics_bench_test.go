package chaos_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/faultline/faultline/chaos"
)

// metricsPage renders a /metrics page shaped like chatd's: the Go and process collectors,
// request histograms by route and status, and per-dependency counters and gauges.
func metricsPage(b testing.TB) []byte {
	b.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "http_request_duration_seconds", Buckets: prometheus.DefBuckets}, []string{"method", "route", "status"})
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total"}, []string{"method", "route", "status"})
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "participants_max_api_errors_total"}, []string{"reason"})
	state := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "circuit_breaker_state"}, []string{"dependency"})
	cacheOps := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "participants_cache_request_duration_seconds", Buckets: prometheus.DefBuckets}, []string{"operation"})
	reg.MustRegister(dur, reqs, errs, state, cacheOps)
	for _, op := range []string{"get", "set", "quota_take"} {
		cacheOps.WithLabelValues(op).Observe(0.001)
	}
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

// BenchmarkParseMetricsOf reads the same scrape keeping what the alert rules read: the
// replay's way (a few counters and gauges, and the cache operations' histogram's _count,
// which keeps that histogram whole).
func BenchmarkParseMetricsOf(b *testing.B) {
	page := metricsPage(b)
	names := []string{"circuit_breaker_state", "http_requests_total", "participants_max_api_errors_total", "participants_cache_request_duration_seconds_count"}
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := chaos.ParseMetricsOf(bytes.NewReader(page), names); err != nil {
			b.Fatal(err)
		}
	}
}

// TestParseMetricsOfKeepsWhatAFullParseKeeps holds ParseMetricsOf to its promise: the series
// of ParseMetrics with every other name dropped, whatever the names select (a whole
// family, one part of a histogram, a name the page lacks, none), on a page like chatd's and
// on lines the skipping must not misread (bounds written as another client writes them, a
// histogram without its +Inf bucket, a summary).
func TestParseMetricsOfKeepsWhatAFullParseKeeps(t *testing.T) {
	const edges = `# HELP bare
# TYPE bare counter
bare 3
# TYPE spaced gauge
spaced	7
# A free comment
# TYPE h histogram
h_bucket{le="1"} 1
h_bucket{le="+Inf"} 2
h_sum 0.5
h_count 2
# TYPE py histogram
py_bucket{le="1.0"} 1
py_bucket{le="2.5"} 2
py_count 2
py_sum 1.5
# TYPE s summary
s{quantile="0.50"} 0.1
s_count 3
s_sum 0.3

{"utf8.name",code="200"} 4
`
	pages := map[string][]byte{"chatd-like": metricsPage(t), "edges": []byte(edges)}
	selections := [][]string{
		{"circuit_breaker_state", "http_requests_total", "participants_max_api_errors_total", "http_request_duration_seconds_count"},
		{"http_request_duration_seconds_bucket"},
		{"go_goroutines", "process_open_fds"},
		{"bare", "spaced", "h_count", "utf8.name"},
		{"h_bucket", "h_sum"},
		{"py_bucket"},
		{"py_count", "s"},
		{"absent_total"},
		{},
	}
	for page, text := range pages {
		full, err := chaos.ParseMetrics(bytes.NewReader(text))
		if err != nil {
			t.Fatalf("%s: %v", page, err)
		}
		all, err := chaos.ParseMetricsWhere(bytes.NewReader(text), nil)
		if err != nil || !reflect.DeepEqual(all.Samples(), full.Samples()) {
			t.Errorf("%s, keeping all (nil): %v, %v; want every series, as ParseMetrics", page, all.Samples(), err)
		}
		for _, names := range selections {
			var want []chaos.Sample
			for _, s := range full.Samples() {
				if slices.Contains(names, s.Name) {
					want = append(want, s)
				}
			}
			got, err := chaos.ParseMetricsOf(bytes.NewReader(text), names)
			if err != nil {
				t.Fatalf("%s %v: %v", page, names, err)
			}
			if !reflect.DeepEqual(got.Samples(), want) {
				t.Errorf("%s, keeping %v:\n got %v\nwant %v", page, names, got.Samples(), want)
			}
		}
	}
}
