package rowrun

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/faultline/faultline/chaos"
	"github.com/faultline/faultline/fakes/maxapi"
	"github.com/faultline/faultline/matrix"
)

func snapshot(t *testing.T, text string) chaos.Snapshot {
	t.Helper()
	s, err := chaos.ParseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCounterDeltasKeepExpectedZerosOnly(t *testing.T) {
	before := snapshot(t, `# TYPE participants_fallback_usage_total counter
participants_fallback_usage_total{reason="cache_unavailable"} 1
participants_fallback_usage_total{reason="max_api_unavailable"} 0
# TYPE participants_cache_errors_total counter
participants_cache_errors_total 2
# TYPE go_gc_cycles_total counter
go_gc_cycles_total 5
# TYPE participants_data_freshness_seconds gauge
participants_data_freshness_seconds 10
`)
	after := snapshot(t, `# TYPE participants_fallback_usage_total counter
participants_fallback_usage_total{reason="cache_unavailable"} 4
participants_fallback_usage_total{reason="max_api_unavailable"} 0
# TYPE participants_cache_errors_total counter
participants_cache_errors_total 2
# TYPE go_gc_cycles_total counter
go_gc_cycles_total 5
# TYPE participants_data_freshness_seconds gauge
participants_data_freshness_seconds 99
`)
	got := counterDeltas(after.Delta(before), []string{matrix.MetricCacheErrors}, true)
	want := map[string]float64{
		`participants_cache_errors_total`:                               0,
		`participants_fallback_usage_total{reason="cache_unavailable"}`: 3,
	}
	if len(got) != len(want) {
		t.Fatalf("deltas %+v, want %v", got, want)
	}
	for _, d := range got {
		key := d.Name
		if r, ok := d.Labels["reason"]; ok {
			key += `{reason="` + r + `"}`
		}
		if v, ok := want[key]; !ok || v != d.Delta || !d.Measured {
			t.Errorf("delta %+v (want %v)", d, want)
		}
	}
}

func TestGaugesReadEverySeriesOnce(t *testing.T) {
	s := snapshot(t, `# TYPE circuit_breaker_state gauge
circuit_breaker_state{dependency="database"} 0
circuit_breaker_state{dependency="redis"} 2
`)
	got := gauges(s, []string{matrix.MetricBreakerState, matrix.MetricBreakerState, "absent"})
	if len(got) != 2 || got[1].Labels["dependency"] != "redis" || got[1].Value != 2 {
		t.Errorf("%+v", got)
	}
}

func TestLogEventsLeaveOutTheHarnessScrapes(t *testing.T) {
	l, err := chaos.ParseLogs(strings.NewReader(`not json
{"time":"2026-07-01T12:00:00Z","level":"INFO","msg":"HTTP request","route":"/metrics","status":200}
{"time":"2026-07-01T12:00:01Z","level":"INFO","msg":"HTTP request","route":"/chats/all","status":200}
{"time":"2026-07-01T12:00:02Z","level":"WARN","msg":"Using fallback data source","reason":"cache_unavailable","chat_count":3}
`))
	if err != nil {
		t.Fatal(err)
	}
	got := logEvents(l)
	if len(got) != 2 || got[0].Attrs["route"] != "/chats/all" || got[1].Level != "WARN" {
		t.Fatalf("%+v", got)
	}
	if _, ok := got[1].Attrs["msg"]; ok {
		t.Error("msg kept among the attributes")
	}
	if !got[1].Time.Equal(time.Date(2026, 7, 1, 12, 0, 2, 0, time.UTC)) || got[1].Attrs["chat_count"] == nil {
		t.Errorf("%+v", got[1])
	}
}

func TestHealthObservationNamesTheDatabasePostgres(t *testing.T) {
	h := chaos.HealthResponse{Response: chaos.Response{Status: http.StatusServiceUnavailable},
		Health: chaos.Health{Service: "unhealthy", Dependencies: map[string]string{"database": "unhealthy", "redis": "healthy", "max_api": "unknown"}}}
	o := healthObservation(h)
	if o.Status != 503 || o.Service != "unhealthy" || o.Dependencies[matrix.Postgres] != "unhealthy" ||
		o.Dependencies[matrix.Redis] != "healthy" || o.Dependencies[matrix.MaxAPI] != "unknown" {
		t.Errorf("%+v", o)
	}
}

func TestMaxCallsKeepTheQuery(t *testing.T) {
	at := time.Now()
	got := maxCalls([]maxapi.Call{{Method: "GET", Path: "/chats/-1001", Status: 503, Time: at}, {Method: "GET", Path: "/me", Query: "x=1", Status: 200, Time: at}})
	if len(got) != 2 || got[0].Path != "/chats/-1001" || got[0].Status != 503 || got[1].Path != "/me?x=1" || !got[1].At.Equal(at) {
		t.Errorf("%+v", got)
	}
}

func TestCounterDeltasTakeAHistogramCountOnlyWhenAsked(t *testing.T) {
	text := func(n int) string {
		return fmt.Sprintf(`# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{route="/chats/all",le="+Inf"} %d
http_request_duration_seconds_sum{route="/chats/all"} 0.5
http_request_duration_seconds_count{route="/chats/all"} %d
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds_count %d
`, n, n, n)
	}
	d := snapshot(t, text(3)).Delta(snapshot(t, text(1)))
	got := counterDeltas(d, []string{"http_request_duration_seconds_count"}, false)
	if len(got) != 1 || got[0].Name != "http_request_duration_seconds_count" || got[0].Delta != 2 {
		t.Errorf("deltas %+v, want the asked _count only, delta 2", got)
	}
	if got := counterDeltas(d, nil, false); len(got) != 0 {
		t.Errorf("deltas %+v, want none when no _count is asked for", got)
	}
}

// chatdPage renders a /metrics page shaped like chatd's after n list requests: the Go and
// process collectors, a latency histogram, counters, gauges.
func chatdPage(t *testing.T, n int) []byte {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "http_request_duration_seconds", Buckets: prometheus.DefBuckets}, []string{"route"})
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total"}, []string{"route"})
	fallback := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "participants_fallback_usage_total"}, []string{"reason"})
	queue := prometheus.NewGauge(prometheus.GaugeOpts{Name: "participants_refresh_queue_length"})
	state := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: matrix.MetricBreakerState}, []string{"dependency"})
	up := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "dependency_up"}, []string{"dependency"})
	fresh := prometheus.NewGauge(prometheus.GaugeOpts{Name: matrix.MetricFreshness})
	reg.MustRegister(dur, reqs, fallback, queue, state, up, fresh)
	for i := range n {
		dur.WithLabelValues("/chats/all").Observe(float64(i) / 100)
		reqs.WithLabelValues("/chats/all").Inc()
		fallback.WithLabelValues("cache_unavailable").Add(2)
	}
	queue.Set(float64(n))
	state.WithLabelValues("redis").Set(2)
	up.WithLabelValues("redis").Set(0)
	fresh.Set(float64(10 * n))
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/metrics", nil))
	return rec.Body.Bytes()
}

// TestMetricsReadKeepsEverySeriesAnObservationReads: a row's scrapes parse only the series
// metricsRead accepts, and what the row observes of them is what it observes of a whole
// parse of the same pages.
func TestMetricsReadKeepsEverySeriesAnObservationReads(t *testing.T) {
	e := matrix.Expected{
		Metrics:   []matrix.MetricExpectation{{Name: "http_request_duration_seconds_count"}},
		Gauges:    []matrix.GaugeExpectation{{Name: "participants_refresh_queue_length"}},
		Resources: []matrix.ResourceExpectation{{Name: "go_goroutines"}},
		Recovery:  &matrix.Recovery{Gauges: []matrix.GaugeExpectation{{Name: "go_threads"}}},
	}
	keep := metricsRead(e)
	pages := [][]byte{chatdPage(t, 1), chatdPage(t, 3), chatdPage(t, 4), chatdPage(t, 9)}
	parse := func(whole bool) []chaos.Snapshot {
		var out []chaos.Snapshot
		for _, p := range pages {
			var s chaos.Snapshot
			var err error
			if whole {
				s, err = chaos.ParseMetrics(bytes.NewReader(p))
			} else {
				s, err = chaos.ParseMetricsWhere(bytes.NewReader(p), keep)
			}
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}
	whole, part := parse(true), parse(false)
	if part[0].Has("go_memstats_alloc_bytes") || part[0].Has("http_request_duration_seconds_bucket") {
		t.Errorf("kept %v: want only what an observation reads", part[0].Names())
	}
	if !part[0].Has("go_threads") {
		t.Errorf("kept %v: want the recovery's gauge go_threads", part[0].Names())
	}
	observed := func(s []chaos.Snapshot) string {
		m, g, r := metricsObserved(e, s[0], s[3], s[1], s[2])
		return fmt.Sprintf("%+v\n%+v\n%+v", m, g, r)
	}
	got, want := observed(part), observed(whole)
	if got != want {
		t.Errorf("observed of the kept series:\n%s\nof the whole pages:\n%s", got, want)
	}
	for _, name := range append([]string{"participants_fallback_usage_total", "go_goroutines", "participants_refresh_queue_length"}, standardGauges...) {
		if !strings.Contains(want, name) {
			t.Fatalf("the pages do not exercise the observation's %s:\n%s", name, want)
		}
	}
}
