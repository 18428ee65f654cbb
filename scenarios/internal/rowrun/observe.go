package rowrun

import (
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/faultline/faultline/chaos"
	"github.com/faultline/faultline/contract"
	"github.com/faultline/faultline/fakes/maxapi"
	"github.com/faultline/faultline/matrix"
)

// standardGauges are recorded for every row, so the report shows the state the service
// ended in even where no row asks for it.
var standardGauges = []string{matrix.MetricFreshness, matrix.MetricBreakerState, "dependency_up"}

// metricsRead returns whether a series is one an observation of a row expecting e reads:
// a counter (counterDeltas), or a metric, gauge or resource the row names. A scrape parses
// only these: every other family of the page (the Go runtime's, the latency histograms')
// is skipped unparsed, which the row's polling would otherwise pay for every 100 ms. A
// malformed line in a skipped family goes unseen during the row; the whole page is parsed
// once at every reset (the environment's baseline), which refuses a malformed one.
func metricsRead(e matrix.Expected) func(name string) bool {
	names := map[string]bool{}
	for _, n := range slices.Concat(metricNames(e.Metrics), gaugeNames(e.Gauges), standardGauges) {
		names[n] = true
	}
	for _, r := range e.Resources {
		names[r.Name] = true
	}
	if e.Recovery != nil {
		for _, n := range gaugeNames(e.Recovery.Gauges) {
			names[n] = true
		}
	}
	return func(name string) bool { return names[name] || isCounter(name) }
}

// metricsObserved is what a row expecting e observes of the metrics: the counters' deltas
// over the row (start to now) and over its measured requests, the gauges now and the
// resources' growth; every series it reads is one metricsRead(e) accepts.
func metricsObserved(e matrix.Expected, start, now, measured, measuredEnd chaos.Snapshot) ([]matrix.MetricDelta, []matrix.GaugeValue, []matrix.ResourceDelta) {
	names := metricNames(e.Metrics)
	deltas := append(counterDeltas(now.Delta(start), names, false), counterDeltas(measuredEnd.Delta(measured), names, true)...)
	return deltas, gauges(now, append(gaugeNames(e.Gauges), standardGauges...)), resources(start, now, e.Resources)
}

// isCounter is the convention counterDeltas reads counters by.
func isCounter(name string) bool { return strings.HasSuffix(name, "_total") }

// counterDeltas returns the series of counters (by the _total convention) that moved, and
// every series of the expected metrics, moved or not, so an expectation of "no change"
// meets a recorded zero.
func counterDeltas(d chaos.Snapshot, expected []string, measured bool) []matrix.MetricDelta {
	var out []matrix.MetricDelta
	for _, name := range d.Names() {
		// Every counter, and the other series a row asks for (a histogram's _count).
		want := slices.Contains(expected, name)
		if !want && !isCounter(name) {
			continue
		}
		for _, s := range d.Series(name) {
			if s.Value == 0 && !want {
				continue
			}
			out = append(out, matrix.MetricDelta{Name: name, Labels: labelsOrNil(s.Labels), Delta: s.Value, Measured: measured})
		}
	}
	return out
}

func metricNames(es []matrix.MetricExpectation) []string {
	var out []string
	for _, e := range es {
		if !slices.Contains(out, e.Name) {
			out = append(out, e.Name)
		}
	}
	return out
}

func gaugeNames(gs []matrix.GaugeExpectation) []string {
	var out []string
	for _, g := range gs {
		if !slices.Contains(out, g.Name) {
			out = append(out, g.Name)
		}
	}
	return out
}

// gauges returns every series of the named gauges.
func gauges(s chaos.Snapshot, names []string) []matrix.GaugeValue {
	var out []matrix.GaugeValue
	seen := map[string]bool{}
	for _, name := range names {
		if seen[name] {
			continue
		}
		seen[name] = true
		for _, smp := range s.Series(name) {
			out = append(out, matrix.GaugeValue{Name: name, Labels: labelsOrNil(smp.Labels), Value: smp.Value})
		}
	}
	return out
}

func labelsOrNil(l map[string]string) map[string]string {
	if len(l) == 0 {
		return nil
	}
	return maps.Clone(l)
}

// logEvents converts the service's JSON log records. The request log lines of the harness's
// own /metrics scrapes are left out: no row is about them and they would drown the rest.
func logEvents(l chaos.Logs) []matrix.LogEvent {
	var out []matrix.LogEvent
	for _, r := range l.Records() {
		if !r.JSON {
			continue
		}
		if r.Msg == matrix.LogHTTPRequest && r.Attr("route") == contract.PathMetrics {
			continue
		}
		attrs := make(map[string]any, len(r.Attrs))
		for k, v := range r.Attrs {
			switch k {
			case "time", "level", "msg":
			default:
				attrs[k] = v
			}
		}
		if len(attrs) == 0 {
			attrs = nil
		}
		out = append(out, matrix.LogEvent{Time: r.Time, Level: r.Level, Msg: r.Msg, Attrs: attrs})
	}
	return out
}

// maxCalls converts the fake MAX journal.
func maxCalls(journal []maxapi.Call) []matrix.MaxCall {
	out := make([]matrix.MaxCall, 0, len(journal))
	for _, c := range journal {
		path := c.Path
		if c.Query != "" {
			path += "?" + c.Query
		}
		out = append(out, matrix.MaxCall{Method: c.Method, Path: path, Status: c.Status, At: c.Time})
	}
	return out
}

// healthKeys maps the health JSON's dependency keys onto the matrix's dependencies.
var healthKeys = map[string]matrix.Dependency{
	"database": matrix.Postgres,
	"redis":    matrix.Redis,
	"max_api":  matrix.MaxAPI,
}

func healthObservation(h chaos.HealthResponse) *matrix.HealthObservation {
	o := &matrix.HealthObservation{Status: h.Status, Service: h.Health.Service, Dependencies: map[matrix.Dependency]string{}}
	for k, v := range h.Health.Dependencies {
		if d, ok := healthKeys[k]; ok {
			o.Dependencies[d] = v
		}
	}
	if h.Status != http.StatusOK && h.Status != http.StatusServiceUnavailable {
		o.Service = ""
	}
	return o
}

// resources reads the expected resource gauges at the start of the row and now (summed over
// their series; a gauge the service does not export is left out, and Compare says so).
func resources(start, now chaos.Snapshot, want []matrix.ResourceExpectation) []matrix.ResourceDelta {
	var out []matrix.ResourceDelta
	for _, r := range want {
		if !start.Has(r.Name) || !now.Has(r.Name) {
			continue
		}
		out = append(out, matrix.ResourceDelta{Name: r.Name, Start: start.Value(r.Name), End: now.Value(r.Name)})
	}
	return out
}
