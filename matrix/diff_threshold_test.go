package matrix

import (
	"testing"
	"time"
)

func TestLatencyThresholdNeedsBothTheShareAndTheFloor(t *testing.T) {
	th := DefaultLatencyThreshold()
	ms := time.Millisecond
	for _, tc := range []struct {
		base, now time.Duration
		want      bool
	}{
		{3 * ms, 90 * ms, false},    // +2900 %, but only 87 ms: what identical runs do
		{3 * ms, 104 * ms, true},    // +3300 % and 101 ms
		{300 * ms, 440 * ms, false}, // 140 ms, but only 47 %
		{200 * ms, 420 * ms, true},  // 220 ms and 110 %: REDIS_TIMEOUT 100ms → 400ms
		{400 * ms, 190 * ms, true},  // faster counts as a change too
		{0, 101 * ms, true},
	} {
		if got := th.beyond(tc.base, tc.now); got != tc.want {
			t.Errorf("%s → %s: beyond %v, want %v", tc.base, tc.now, got, tc.want)
		}
	}
	if th.String() != "50% and 100ms" {
		t.Errorf("threshold %q", th)
	}
}

func TestLatencyRegressionIsASlowerP95OfEnoughRequests(t *testing.T) {
	r := row(t, "redis-blackhole.max-up.cache-fresh")
	result := func(l, warm Latency) RowResult {
		o := perfect(r)
		o.Latency, o.WarmUpLatency = l, warm
		return RowResult{ID: r.ID, Result: ResultPassed, Observed: &o}
	}
	ms := time.Millisecond
	measured := Latency{Count: 20, P50: 2 * ms, P95: 4 * ms, Max: 9 * ms}
	warm := Latency{Count: 5, P50: 14 * ms, P95: 216 * ms, Max: 216 * ms}
	base := result(measured, warm)
	for name, tc := range map[string]struct {
		now        RowResult
		changes    int
		regression bool
	}{
		"same":              {base, 0, false},
		"max only slower":   {result(Latency{Count: 20, P50: 2 * ms, P95: 4 * ms, Max: 190 * ms}, warm), 1, false},
		"p95 slower":        {result(Latency{Count: 20, P50: 2 * ms, P95: 160 * ms, Max: 190 * ms}, warm), 2, true},
		"warm-up p50 flips": {result(measured, Latency{Count: 5, P50: 204 * ms, P95: 216 * ms, Max: 216 * ms}), 1, false},
		"warm-up p95 slower, as with REDIS_TIMEOUT=400ms": {result(measured, Latency{Count: 5, P50: 24 * ms, P95: 432 * ms, Max: 432 * ms}), 2, true},
		"faster":           {result(measured, Latency{Count: 5, P50: 14 * ms, P95: 20 * ms, Max: 20 * ms}), 2, false},
		"too few requests": {result(measured, Latency{Count: 4, P50: 14 * ms, P95: 432 * ms, Max: 432 * ms}), 2, false},
	} {
		c := RowChange{ID: r.ID, Kind: ChangeChanged}
		c.diff(base, tc.now, DefaultLatencyThreshold())
		if len(c.Latency) != tc.changes || (len(c.Regressions) > 0) != tc.regression {
			t.Errorf("%s: latency changes %v, regressions %v; want %d changes, regression %v", name, c.Latency, c.Regressions, tc.changes, tc.regression)
		}
	}
	// Asked for, the maximum regresses too.
	th := DefaultLatencyThreshold()
	th.Quantiles = []string{QuantileMax}
	c := RowChange{ID: r.ID}
	c.diff(base, result(Latency{Count: 20, P50: 2 * ms, P95: 4 * ms, Max: 190 * ms}, warm), th)
	if len(c.Regressions) != 1 {
		t.Errorf("max as a regression quantile: %v", c.Regressions)
	}
}

func TestCountersOfTheHarnessAreNoChange(t *testing.T) {
	d := func(name string, labels map[string]string, v float64) MetricDelta {
		return MetricDelta{Name: name, Labels: labels, Delta: v}
	}
	base := []MetricDelta{d("go_memstats_mallocs_total", nil, 100), d("process_cpu_seconds_total", nil, 0.1),
		d(MetricHTTPRequests, map[string]string{"route": "/metrics"}, 11), d(MetricHTTPRequests, map[string]string{"route": "/chats/all"}, 20),
		d(MetricFallback, map[string]string{"reason": "cache_unavailable"}, 20)}
	now := []MetricDelta{d("go_memstats_mallocs_total", nil, 90), d("process_cpu_seconds_total", nil, 0.3),
		d(MetricHTTPRequests, map[string]string{"route": "/metrics"}, 13), d(MetricHTTPRequests, map[string]string{"route": "/chats/all"}, 20),
		d(MetricCacheErrors, nil, 3)}
	got := metricChanges(base, now)
	if len(got) != 2 || got[0].String() != `participants_cache_errors_total absent → 3` ||
		got[1].String() != `participants_fallback_usage_total{reason="cache_unavailable"} 20 → absent` {
		t.Errorf("metric changes %v", got)
	}
	c := RowChange{Kind: ChangeChanged, Base: ResultPassed, New: ResultPassed, Metrics: got}
	if c.Notable() || c.Refused() {
		t.Error("counter deltas alone are notable")
	}
}
