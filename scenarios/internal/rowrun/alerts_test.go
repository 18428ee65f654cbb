package rowrun

import (
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/chaos"
)

// The replay reads the series the chaos client parsed: histograms split into the series
// Prometheus stores, every label kept.
func TestScrapeOfHandsEverySeriesToTheReplay(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := scrapeOf(at, snapshot(t, `# HELP participants_cache_errors_total Failed operations.
# TYPE participants_cache_errors_total counter
participants_cache_errors_total 3
# HELP participants_cache_request_duration_seconds Latency.
# TYPE participants_cache_request_duration_seconds histogram
participants_cache_request_duration_seconds_bucket{operation="get",le="0.005"} 4
participants_cache_request_duration_seconds_bucket{operation="get",le="+Inf"} 5
participants_cache_request_duration_seconds_sum{operation="get"} 0.5
participants_cache_request_duration_seconds_count{operation="get"} 5
`))
	if !s.At.Equal(at) || s.Failed {
		t.Errorf("At = %v, Failed = %v", s.At, s.Failed)
	}
	got := map[string]float64{}
	for _, smp := range s.Samples {
		got[smp.Name+" "+smp.Labels["operation"]+" "+smp.Labels["le"]] = smp.Value
	}
	want := map[string]float64{
		"participants_cache_errors_total  ":                            3,
		"participants_cache_request_duration_seconds_bucket get 0.005": 4,
		"participants_cache_request_duration_seconds_bucket get +Inf":  5,
		"participants_cache_request_duration_seconds_sum get ":         0.5,
		"participants_cache_request_duration_seconds_count get ":       5,
	}
	if len(got) != len(want) {
		t.Errorf("got %d series, want %d: %v", len(got), len(want), got)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%q = %v (present %v), want %v", k, g, ok, v)
		}
	}
}

// A replay's failed health checks are counted per dependency, and each one's time and
// reason are shown: dependency_up alone cannot say why an alert fired.
func TestFailedChecksSaysWhichAndWhy(t *testing.T) {
	logs, err := chaos.ParseLogs(strings.NewReader(strings.Join([]string{
		`{"time":"2026-12-05T10:00:00Z","level":"INFO","msg":"Server started"}`,
		`{"time":"2026-12-05T10:00:01.5Z","level":"DEBUG","msg":"Health check failed","dependency":"redis","duration_ms":200,"error":"ping redis: i/o timeout"}`,
		`{"time":"2026-12-05T10:00:01.9Z","level":"DEBUG","msg":"Health check failed","dependency":"database","duration_ms":501,"error":"ping: timeout"}`,
		`{"time":"2026-12-05T10:00:02Z","level":"DEBUG","msg":"Health check failed","dependency":"redis","duration_ms":3,"error":"ping redis: refused"}`,
	}, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	want := "failed health checks: 3 (database 1, redis 2): ended 500ms into the replay, redis after 200ms: ping redis: i/o timeout; " +
		"ended 900ms into the replay, database after 501ms: ping: timeout; ended 1s into the replay, redis after 3ms: ping redis: refused"
	if got := failedChecks(logs, time.Date(2026, 12, 5, 10, 0, 1, 0, time.UTC)); got != want {
		t.Errorf("failedChecks = %q\nwant            %q", got, want)
	}
	line := `{"level":"DEBUG","msg":"Health check failed","dependency":"database","duration_ms":501,"error":"ping: timeout"}`
	many, err := chaos.ParseLogs(strings.NewReader(strings.Repeat(line+"\n", listedChecks+2)))
	if err != nil {
		t.Fatal(err)
	}
	if got := failedChecks(many, time.Time{}); strings.Count(got, "ping: timeout") != listedChecks || !strings.HasSuffix(got, "; and 2 more") {
		t.Errorf("failedChecks of %d = %q, want %d listed and 2 more", listedChecks+2, got, listedChecks)
	}
	quiet, err := chaos.ParseLogs(strings.NewReader(`{"level":"INFO","msg":"Service started"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := failedChecks(quiet, time.Time{}); got != "" {
		t.Errorf("failedChecks with no failure = %q, want empty", got)
	}
}
