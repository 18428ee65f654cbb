package rowrun

import (
	"testing"
	"time"
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
