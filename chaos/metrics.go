package chaos

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Sample is one series of a metrics snapshot. Histograms and summaries appear as their
// _bucket, _sum and _count series, as in the text format.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// String prints the sample as in the text format, for example
// participants_max_api_errors_total{reason="timeout"} 3.
func (s Sample) String() string { return fmt.Sprintf("%s%s %g", s.Name, seriesKey(s.Labels), s.Value) }

// Snapshot is the SUT's /metrics at one moment, indexed by metric name.
type Snapshot struct {
	Time   time.Time
	series map[string][]Sample
}

// ParseMetrics reads the Prometheus text format.
func ParseMetrics(r io.Reader) (Snapshot, error) {
	return parseMetrics(r, nil)
}

// ParseMetricsOf reads the Prometheus text format keeping only the series called one of
// names (as the text format names them: a histogram's x_count, not x); see
// ParseMetricsWhere.
func ParseMetricsOf(r io.Reader, names []string) (Snapshot, error) {
	keep := make(map[string]bool, len(names))
	for _, n := range names {
		keep[n] = true
	}
	return ParseMetricsWhere(r, func(name string) bool { return keep[name] })
}

// ParseMetricsWhere reads the Prometheus text format keeping only the series whose name
// (as the text format names it: a histogram's x_count, not x) keep accepts. It gives the
// same series as ParseMetrics followed by dropping the others, at a fraction of the cost
// for a page that is mostly other metrics: the # HELP lines and the sample lines of every
// family none of whose series keep accepts are skipped before parsing. A family with a
// series kept is parsed whole, with its # TYPE, as a histogram or summary read by type is
// normalised from all its lines (le="1.0" becomes le="1", a missing +Inf bucket is added
// from _count). A malformed line of a family not kept is not seen, so not refused. A nil
// keep keeps every series, as ParseMetrics does.
func ParseMetricsWhere(r io.Reader, keep func(name string) bool) (Snapshot, error) {
	if keep == nil {
		return parseMetrics(r, nil)
	}
	text, err := io.ReadAll(r)
	if err != nil {
		return Snapshot{}, fmt.Errorf("read metrics: %w", err)
	}
	wanted := map[string]bool{}
	wantedFamily := func(name string) bool {
		w, seen := wanted[name]
		if !seen {
			w = familyKept(name, keep) || familyKept(family(name), keep)
			wanted[name] = w
		}
		return w
	}
	kept := make([]byte, 0, len(text))
	for line := range bytes.Lines(text) {
		if !skippable(line, wantedFamily) {
			kept = append(kept, line...)
		}
	}
	return parseMetrics(bytes.NewReader(kept), keep)
}

// familyKept reports whether keep accepts a series of the family called f, by any name the
// text format may give it.
func familyKept(f string, keep func(string) bool) bool {
	return keep(f) || keep(f+"_bucket") || keep(f+"_count") || keep(f+"_sum")
}

// family is the family a series name may belong to: the name without a histogram's or
// summary's _bucket, _count or _sum (a counter named x_count is then its own family and
// x's too, which only keeps a few lines more).
func family(name string) string {
	for _, suffix := range []string{"_bucket", "_count", "_sum"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			return base
		}
	}
	return name
}

// skippable reports whether the parser can do without a line of the text format: a # HELP
// line, or the sample line of a series whose family is not wanted. Any other line (a
// # TYPE line, a blank line, another comment, a sample whose name is quoted) is left to the
// parser.
func skippable(line []byte, wanted func(name string) bool) bool {
	if bytes.HasPrefix(line, []byte("# HELP ")) {
		return true
	}
	end := bytes.IndexAny(line, "{ \t")
	if end <= 0 || line[0] == '#' {
		return false
	}
	return !wanted(string(line[:end]))
}

// parseMetrics parses the text format; a non-nil keep drops every series it does not accept.
func parseMetrics(r io.Reader, keep func(name string) bool) (Snapshot, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return Snapshot{}, fmt.Errorf("parse metrics: %w", err)
	}
	fams := slices.Collect(maps.Values(families))
	vec, err := expfmt.ExtractSamples(&expfmt.DecodeOptions{Timestamp: model.Now()}, fams...)
	if err != nil {
		return Snapshot{}, fmt.Errorf("extract samples: %w", err)
	}
	byName := make(map[string][]keyed)
	for _, smp := range vec {
		name := string(smp.Metric[model.MetricNameLabel])
		if keep != nil && !keep(name) {
			continue
		}
		labels := make(map[string]string, len(smp.Metric)-1)
		for k, v := range smp.Metric {
			if k != model.MetricNameLabel {
				labels[string(k)] = string(v)
			}
		}
		byName[name] = append(byName[name], keyed{seriesKey(labels), Sample{Name: name, Labels: labels, Value: float64(smp.Value)}})
	}
	return Snapshot{Time: time.Now(), series: sortedSeries(byName)}, nil
}

// Value returns the sum of the series called name whose labels include every given pair,
// for example Value("participants_max_api_errors_total", "reason", "timeout"). With no
// pairs it sums over all label values. A metric that is absent counts as 0.
func (s Snapshot) Value(name string, labelPairs ...string) float64 {
	var sum float64
	for _, smp := range s.Series(name, labelPairs...) {
		sum += smp.Value
	}
	return sum
}

// Series returns the series called name whose labels include every given pair.
func (s Snapshot) Series(name string, labelPairs ...string) []Sample {
	if len(labelPairs)%2 != 0 {
		panic(fmt.Sprintf("chaos: metric %s: label pairs must come as key, value: %q", name, labelPairs))
	}
	var out []Sample
next:
	for _, smp := range s.series[name] {
		for i := 0; i < len(labelPairs); i += 2 {
			if smp.Labels[labelPairs[i]] != labelPairs[i+1] {
				continue next
			}
		}
		out = append(out, smp)
	}
	return out
}

// Samples returns every series of the snapshot, by name and then labels.
func (s Snapshot) Samples() []Sample {
	var out []Sample
	for _, name := range s.Names() {
		out = append(out, s.series[name]...)
	}
	return out
}

// Has reports whether the snapshot holds a series called name.
func (s Snapshot) Has(name string) bool { return len(s.series[name]) > 0 }

// Names lists the metric names in the snapshot, sorted.
func (s Snapshot) Names() []string {
	return slices.Sorted(maps.Keys(s.series))
}

// Delta returns after minus before for every series of after; a series absent from
// before counts from 0. For counters this is what happened in between; for gauges it is
// the change.
func Delta(before, after Snapshot) Snapshot {
	d := Snapshot{Time: after.Time, series: make(map[string][]Sample, len(after.series))}
	for name, samples := range after.series {
		old := make(map[string]float64, len(before.series[name]))
		for _, smp := range before.series[name] {
			old[seriesKey(smp.Labels)] = smp.Value
		}
		out := make([]Sample, len(samples))
		for i, smp := range samples {
			out[i] = Sample{Name: name, Labels: smp.Labels, Value: smp.Value - old[seriesKey(smp.Labels)]}
		}
		d.series[name] = out
	}
	return d
}

// Delta returns s minus before; see the function Delta.
func (s Snapshot) Delta(before Snapshot) Snapshot { return Delta(before, s) }

// Combine merges the snapshots of several replicas as an alerting query aggregates them
// across instances: series of the same name and labels are summed when they are
// cumulative (the name ends in _total, _count, _sum or _bucket, as counters and the parts
// of histograms and summaries do), and for every other series (gauges) the largest value
// is kept. A series present in some snapshots only is taken from those. The result's Time
// is the latest of theirs.
func Combine(snaps ...Snapshot) Snapshot {
	byName := make(map[string][]keyed)
	index := make(map[string]map[string]int) // name, series key -> position in byName[name]
	var out Snapshot
	for _, s := range snaps {
		if s.Time.After(out.Time) {
			out.Time = s.Time
		}
		for name, samples := range s.series {
			sum := cumulative(name)
			at := index[name]
			if at == nil {
				at = make(map[string]int, len(samples))
				index[name] = at
			}
			for _, smp := range samples {
				key := seriesKey(smp.Labels)
				i, ok := at[key]
				if !ok {
					at[key] = len(byName[name])
					byName[name] = append(byName[name], keyed{key, Sample{Name: name, Labels: smp.Labels, Value: smp.Value}})
					continue
				}
				acc := &byName[name][i].smp
				if sum {
					acc.Value += smp.Value
				} else {
					acc.Value = max(acc.Value, smp.Value)
				}
			}
		}
	}
	out.series = sortedSeries(byName)
	return out
}

// keyed is a sample with its series key rendered once: sorting by keys computed in the
// comparison made parsing a /metrics page cost several times more than reading it.
type keyed struct {
	key string
	smp Sample
}

// sortedSeries is a snapshot's series: each name's samples in series key order.
func sortedSeries(byName map[string][]keyed) map[string][]Sample {
	out := make(map[string][]Sample, len(byName))
	for name, ks := range byName {
		slices.SortFunc(ks, func(a, b keyed) int { return strings.Compare(a.key, b.key) })
		samples := make([]Sample, len(ks))
		for i, k := range ks {
			samples[i] = k.smp
		}
		out[name] = samples
	}
	return out
}

// cumulative reports whether a series of this name accumulates over the life of the
// process, so that the replicas' values add up.
func cumulative(name string) bool {
	for _, suffix := range []string{"_total", "_count", "_sum", "_bucket"} {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return false
}

// String prints the non-zero series, one per line, for failure messages and reports.
func (s Snapshot) String() string {
	var sb strings.Builder
	for _, name := range s.Names() {
		for _, smp := range s.series[name] {
			if smp.Value == 0 {
				continue
			}
			sb.WriteString(smp.String())
			sb.WriteByte('\n')
		}
	}
	return sb.String()
}

func seriesKey(labels map[string]string) string {
	if len(labels) == 0 {
		return ""
	}
	keys := slices.Sorted(maps.Keys(labels))
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(labels[k]))
	}
	b.WriteByte('}')
	return b.String()
}
