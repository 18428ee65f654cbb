package matrix

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// LatencyThreshold is how far a row's latency must move between two reports to count as a
// change: by more than Ratio of the baseline's value and by more than Min, both. Slowing down
// in one of Quantiles, over at least MinSamples requests on both sides, is a regression.
type LatencyThreshold struct {
	Ratio float64       `json:"ratio"`
	Min   time.Duration `json:"min"`
	// Quantiles are the ones whose slowing down is a regression (the others are listed as
	// changes only); empty means RegressionQuantiles.
	Quantiles []string `json:"quantiles,omitempty"`
}

// The latency quantiles reports compare.
const (
	QuantileP50 = "p50"
	QuantileP95 = "p95"
	QuantileMax = "max"
)

// MinSamples is the fewest requests a quantile is judged over: the latency of one or two
// requests on a loaded machine is weather, listed as a change but never a regression.
const MinSamples = 5

// RegressionQuantiles are the quantiles a slower row regresses on by default: p95, of the
// measured and of the warm-up requests (the warm-up is where requests pay a dependency's
// timeout before a breaker opens). The median of a warm-up flips between its two modes,
// breaker open or not, from run to run, and the maximum is one request: both are listed,
// not judged (the measurement is in README, "Baselines").
func RegressionQuantiles() []string { return []string{QuantileP95} }

// DefaultLatencyThreshold is the release gate's: 50 % and 100 ms, on p95. Identical runs on
// two loaded cores moved p95 by up to 89 ms (README, "Baselines").
func DefaultLatencyThreshold() LatencyThreshold {
	return LatencyThreshold{Ratio: 0.5, Min: 100 * time.Millisecond, Quantiles: RegressionQuantiles()}
}

func (t LatencyThreshold) beyond(base, now time.Duration) bool {
	d := (now - base).Abs()
	return d > t.Min && float64(d) > t.Ratio*float64(base)
}

func orDefault(s, def []string) []string {
	if len(s) == 0 {
		return def
	}
	return s
}

// regresses reports whether slowing down in quantile q, of the measured or the warm-up
// requests, is a regression.
func (t LatencyThreshold) regresses(q string) bool {
	return slices.Contains(orDefault(t.Quantiles, RegressionQuantiles()), strings.TrimPrefix(q, warmUp))
}

// String renders the threshold as the gate's flag takes it, e.g. "50% and 20ms".
func (t LatencyThreshold) String() string {
	return formatFloat(t.Ratio*100) + "% and " + t.Min.String()
}

// ChangeKind says how a row differs between a baseline and a newer report.
type ChangeKind string

// The change kinds.
const (
	ChangeNew     ChangeKind = "new"     // in the newer report only
	ChangeGone    ChangeKind = "gone"    // in the baseline only
	ChangeChanged ChangeKind = "changed" // in both, with a difference
)

// LatencyChange is one latency quantile of a row that moved beyond the threshold.
type LatencyChange struct {
	Quantile string        `json:"quantile"`
	Base     time.Duration `json:"base"`
	New      time.Duration `json:"new"`
}

// String renders the change, e.g. "p95 12ms → 410ms (+398ms)".
func (c LatencyChange) String() string {
	sign := "+"
	if c.New < c.Base {
		sign = "-"
	}
	return fmt.Sprintf("%s %s → %s (%s%s)", c.Quantile, roundLatency(c.Base), roundLatency(c.New), sign, roundLatency((c.New - c.Base).Abs()))
}

func roundLatency(d time.Duration) time.Duration {
	if d < 10*time.Millisecond {
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(100 * time.Microsecond)
}

// MetricChange is a counter series whose delta over the row differs between the reports;
// a nil side had no such series.
type MetricChange struct {
	Series string   `json:"series"`
	Base   *float64 `json:"base"`
	New    *float64 `json:"new"`
}

// String renders the change, e.g. "participants_cache_errors_total{reason="timeout"} 3 → 9".
func (c MetricChange) String() string {
	side := func(v *float64) string {
		if v == nil {
			return "absent"
		}
		return formatFloat(*v)
	}
	return fmt.Sprintf("%s %s → %s", c.Series, side(c.Base), side(c.New))
}

// RowChange is how one row differs between a baseline report and a newer one.
type RowChange struct {
	ID    string     `json:"id"`
	Title string     `json:"title,omitempty"`
	Kind  ChangeKind `json:"kind"`
	// Base and New are the row's results in each report; empty on the side it is absent from.
	Base Result `json:"base,omitempty"`
	New  Result `json:"new,omitempty"`
	// Latency lists the quantiles of the measured and the warm-up requests that moved beyond
	// the threshold.
	Latency []LatencyChange `json:"latency,omitempty"`
	// AlertsBase and AlertsNew are the alerts each replay fired, set when both replayed and
	// the sets differ.
	AlertsBase []string `json:"alerts_base,omitempty"`
	AlertsNew  []string `json:"alerts_new,omitempty"`
	// Metrics are the counter series whose deltas differ.
	Metrics []MetricChange `json:"metrics,omitempty"`
	// Regressions say how the row got worse than in the baseline; none for a change that
	// is no regression.
	Regressions []string `json:"regressions,omitempty"`
	// Accepted is the reason the accepted-changes file gives for this row's regressions.
	Accepted string `json:"accepted,omitempty"`
}

// Notable reports whether the change is one a release decision looks at: a result, a new or
// gone row, a latency beyond the threshold or the alerts fired. Counter deltas alone differ
// by a few between any two runs (background work races the row's end), so they are listed
// but not notable.
func (c RowChange) Notable() bool {
	return c.Kind != ChangeChanged || c.Base != c.New || len(c.Latency) > 0 || c.AlertsNew != nil || c.AlertsBase != nil
}

// Refused reports whether the change refuses a release: a regression nobody accepted.
func (c RowChange) Refused() bool { return len(c.Regressions) > 0 && c.Accepted == "" }

// Summary describes the change in one line: result, latency, alerts, metrics.
func (c RowChange) Summary() string {
	var parts []string
	switch c.Kind {
	case ChangeNew:
		parts = append(parts, "new row, "+string(c.New))
	case ChangeGone:
		parts = append(parts, "gone from the catalogue (was "+string(c.Base)+")")
	default:
		if c.Base != c.New {
			parts = append(parts, fmt.Sprintf("%s → %s", c.Base, c.New))
		}
	}
	for _, l := range c.Latency {
		parts = append(parts, l.String())
	}
	if c.AlertsBase != nil || c.AlertsNew != nil {
		parts = append(parts, fmt.Sprintf("alerts fired %s → %s", alertList(c.AlertsBase), alertList(c.AlertsNew)))
	}
	switch n := len(c.Metrics); n {
	case 0:
	case 1:
		parts = append(parts, "1 metric delta differs")
	default:
		parts = append(parts, plural(n, "metric delta")+" differ")
	}
	return strings.Join(parts, "; ")
}

func alertList(fired []string) string {
	if len(fired) == 0 {
		return "none"
	}
	return strings.Join(fired, ", ")
}

// Comparison is a report compared with a baseline (the last release's report): the rows
// that changed, and which regressions an accepted-changes file accepts.
type Comparison struct {
	// Baseline describes the baseline report: its commit and when it was made.
	Baseline string           `json:"baseline"`
	Latency  LatencyThreshold `json:"latency"`
	// Rows are the rows that changed, in the newer report's order, then the gone ones.
	Rows []RowChange `json:"rows,omitempty"`
	// Unused are accepted changes for rows that did not regress: stale entries to remove.
	Unused []string `json:"unused_acceptances,omitempty"`
}

// Refused returns the regressions nobody accepted.
func (c *Comparison) Refused() []RowChange {
	if c == nil {
		return nil
	}
	return slices.DeleteFunc(slices.Clone(c.Rows), func(r RowChange) bool { return !r.Refused() })
}

// Regressed counts the rows that regressed, accepted or not.
func (c *Comparison) Regressed() int {
	if c == nil {
		return 0
	}
	n := 0
	for _, r := range c.Rows {
		if len(r.Regressions) > 0 {
			n++
		}
	}
	return n
}

// Change returns the change of the row, if it changed.
func (c *Comparison) Change(id string) (RowChange, bool) {
	if c == nil {
		return RowChange{}, false
	}
	i := slices.IndexFunc(c.Rows, func(r RowChange) bool { return r.ID == id })
	if i < 0 {
		return RowChange{}, false
	}
	return c.Rows[i], true
}

// OrderedChanges lists the changes for people: refused regressions first, then accepted
// ones, then the rest, each in report order.
func OrderedChanges(c *Comparison) []RowChange {
	if c == nil {
		return nil
	}
	rank := func(r RowChange) int {
		switch {
		case r.Refused():
			return 0
		case len(r.Regressions) > 0:
			return 1
		}
		return 2
	}
	out := slices.Clone(c.Rows)
	slices.SortStableFunc(out, func(a, b RowChange) int { return rank(a) - rank(b) })
	return out
}

// Line summarises the comparison in one line.
func (c *Comparison) Line() string {
	notable := 0
	for _, r := range c.Rows {
		if r.Notable() {
			notable++
		}
	}
	line := fmt.Sprintf("against the baseline (%s): %d rows changed, %d regressed (%d accepted)",
		c.Baseline, notable, c.Regressed(), c.Regressed()-len(c.Refused()))
	if n := len(c.Rows) - notable; n > 0 {
		line += fmt.Sprintf(", %d more with only counter deltas that differ", n)
	}
	return line
}

// Describe names a report for a comparison: its commit and when it ran, from the run's
// metadata.
func Describe(rep Report) string {
	run := rep.Summary.Run
	var parts []string
	if c := run.Meta["commit"]; c != "" {
		parts = append(parts, "commit "+c)
	}
	switch {
	case !run.Started.IsZero():
		parts = append(parts, "run "+run.Started.UTC().Format(time.RFC3339))
	case run.Meta["generated"] != "":
		parts = append(parts, "generated "+run.Meta["generated"])
	}
	if len(parts) == 0 {
		return "unnamed report"
	}
	return strings.Join(parts, ", ")
}

// CompareReports lists how each row of now differs from the baseline: results, new and
// gone rows, latency beyond the threshold, alerts fired, metric deltas. A row regressed when
// it passed in the baseline and failed or was skipped now, when a quantile of
// t.Quantiles got slower beyond the threshold, or when it is gone. A row missing from now
// (a partial run) is not judged: the gate decides about missing rows.
func CompareReports(base, now Report, t LatencyThreshold) Comparison {
	c := Comparison{Baseline: Describe(base), Latency: t}
	old := map[string]RowResult{}
	for _, r := range base.Rows {
		old[r.ID] = r
	}
	for _, r := range now.Rows {
		b, ok := old[r.ID]
		delete(old, r.ID)
		ch := RowChange{ID: r.ID, Title: r.Title, Kind: ChangeChanged, Base: b.Result, New: r.Result}
		if !ok {
			ch.Kind, ch.Base = ChangeNew, ""
			c.Rows = append(c.Rows, ch)
			continue
		}
		if ch.diff(b, r, t) {
			c.Rows = append(c.Rows, ch)
		}
	}
	for _, b := range base.Rows {
		if _, gone := old[b.ID]; gone {
			c.Rows = append(c.Rows, RowChange{ID: b.ID, Title: b.Title, Kind: ChangeGone, Base: b.Result,
				Regressions: []string{"gone: the baseline had this row, this report does not"}})
		}
	}
	return c
}

// diff fills the change from the two results of one row and reports whether anything changed.
func (c *RowChange) diff(b, r RowResult, t LatencyThreshold) bool {
	if b.Result != r.Result && b.Result == ResultPassed && (r.Result == ResultFailed || r.Result == ResultSkipped) {
		c.Regressions = append(c.Regressions, fmt.Sprintf("result %s → %s", b.Result, r.Result))
	}
	if b.Observed != nil && r.Observed != nil {
		for _, w := range []struct {
			name      string
			base, now Latency
		}{{"", b.Observed.Latency, r.Observed.Latency}, {warmUp, b.Observed.WarmUpLatency, r.Observed.WarmUpLatency}} {
			ls := latencyChanges(w.name, w.base, w.now, t)
			c.Latency = append(c.Latency, ls...)
			for _, l := range ls {
				if l.New > l.Base && t.regresses(l.Quantile) && min(w.base.Count, w.now.Count) >= MinSamples {
					c.Regressions = append(c.Regressions, "slower: "+l.String())
				}
			}
		}
		if b.Observed.Alerts != nil && r.Observed.Alerts != nil {
			bf, nf := sortedSet(b.Observed.Alerts.Fired), sortedSet(r.Observed.Alerts.Fired)
			if !slices.Equal(bf, nf) {
				c.AlertsBase, c.AlertsNew = orEmpty(bf), orEmpty(nf)
			}
		}
		c.Metrics = metricChanges(b.Observed.Metrics, r.Observed.Metrics)
	}
	return b.Result != r.Result || len(c.Latency) > 0 || c.AlertsNew != nil || len(c.Metrics) > 0
}

// warmUp prefixes the quantiles of the warm-up requests, which the measured latency leaves
// out: a service that got slower before its breaker opens shows there.
const warmUp = "warm-up "

func latencyChanges(window string, b, n Latency, t LatencyThreshold) []LatencyChange {
	if b.Count == 0 || n.Count == 0 {
		return nil
	}
	var out []LatencyChange
	for _, q := range []struct {
		name       string
		base, next time.Duration
	}{{QuantileP50, b.P50, n.P50}, {QuantileP95, b.P95, n.P95}, {QuantileMax, b.Max, n.Max}} {
		if t.beyond(q.base, q.next) {
			out = append(out, LatencyChange{Quantile: window + q.name, Base: q.base, New: q.next})
		}
	}
	return out
}

// metricChanges compares the series' deltas, by name, labels and window.
func metricChanges(base, now []MetricDelta) []MetricChange {
	b, n := metricsBySeries(base), metricsBySeries(now)
	keys := slices.Sorted(maps.Keys(b))
	for k := range n {
		if _, ok := b[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out []MetricChange
	for _, k := range keys {
		bv, bok := b[k]
		nv, nok := n[k]
		if bok && nok && bv == nv {
			continue
		}
		ch := MetricChange{Series: k}
		if bok {
			ch.Base = &bv
		}
		if nok {
			ch.New = &nv
		}
		out = append(out, ch)
	}
	return out
}

func metricsBySeries(ms []MetricDelta) map[string]float64 {
	out := map[string]float64{}
	for _, m := range ms {
		if !harnessSeries(m) {
			out[measuredSeries(m.Name, m.Labels, m.Measured)] += m.Delta
		}
	}
	return out
}

// harnessSeries reports whether a counter measures the harness or the machine rather than the
// service's behaviour: the Go runtime's and the process's own counters (allocations, CPU,
// network bytes), and the harness's scrapes of /metrics. They differ between any two runs.
func harnessSeries(m MetricDelta) bool {
	return strings.HasPrefix(m.Name, "go_") || strings.HasPrefix(m.Name, "process_") ||
		(m.Name == MetricHTTPRequests && m.Labels["route"] == "/metrics")
}

// measuredSeries names a series, marking a delta over the measured window.
func measuredSeries(name string, labels map[string]string, measured bool) string {
	s := seriesName(name, labels)
	if measured {
		s += " (measured)"
	}
	return s
}

func sortedSet(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
