package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestNewRegistersContractNames(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	m.CacheErrors.Inc()
	m.DataFreshness.Set(3)
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	got := map[string]bool{}
	for _, f := range families {
		got[f.GetName()] = true
	}
	for _, name := range []string{
		"participants_cache_errors_total",
		"participants_max_api_errors_total",
		"participants_fallback_usage_total",
		"participants_data_freshness_seconds",
		"circuit_breaker_state",
		"go_goroutines",
	} {
		if !got[name] {
			t.Errorf("metric %s is not registered", name)
		}
	}
}

func TestMaxAPIErrorReasonsStartAtZero(t *testing.T) {
	reg := prometheus.NewRegistry()
	New(reg)
	if n := testutil.CollectAndCount(reg, "participants_max_api_errors_total"); n != len(MaxAPIErrorReasons) {
		t.Fatalf("participants_max_api_errors_total has %d series, want %d", n, len(MaxAPIErrorReasons))
	}
	err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP participants_fallback_usage_total Requests answered from a fallback data source, by the reason the primary source was unavailable.
# TYPE participants_fallback_usage_total counter
participants_fallback_usage_total{reason="cache_unavailable"} 0
participants_fallback_usage_total{reason="max_api_unavailable"} 0
`), "participants_fallback_usage_total")
	if err != nil {
		t.Fatal(err)
	}
}
