package alertreplay

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Sample is one value of one series, as Prometheus would store it from a scrape: histogram and
// summary families are already split into their _bucket, _sum and _count series.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// Scrape is what one read of a service's /metrics returned.
type Scrape struct {
	// At is when the scrape was taken. Replay maps scrapes onto rule time by their order, not by
	// At, which is kept for reports.
	At      time.Time
	Samples []Sample
	// Failed marks a scrape that got no answer. Like Prometheus, the replay records up = 0 for
	// it and marks every series stale.
	Failed bool
}

// ParseText reads a Prometheus text exposition, the body of GET /metrics, into a Scrape taken
// at at.
func ParseText(at time.Time, r io.Reader) (Scrape, error) {
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return Scrape{}, fmt.Errorf("parse metrics text: %w", err)
	}
	s := Scrape{At: at}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			s.Samples = append(s.Samples, flatten(name, f.GetType(), m)...)
		}
	}
	return s, nil
}

// flatten returns the series one metric of a family is stored as.
func flatten(name string, typ dto.MetricType, m *dto.Metric) []Sample {
	base := map[string]string{}
	for _, lp := range m.GetLabel() {
		base[lp.GetName()] = lp.GetValue()
	}
	with := func(key, value string) map[string]string {
		l := make(map[string]string, len(base)+1)
		for k, v := range base {
			l[k] = v
		}
		l[key] = value
		return l
	}
	switch typ {
	case dto.MetricType_COUNTER:
		return []Sample{{Name: name, Labels: base, Value: m.GetCounter().GetValue()}}
	case dto.MetricType_GAUGE:
		return []Sample{{Name: name, Labels: base, Value: m.GetGauge().GetValue()}}
	case dto.MetricType_HISTOGRAM:
		h := m.GetHistogram()
		var out []Sample
		hasInf := false
		for _, b := range h.GetBucket() {
			hasInf = hasInf || math.IsInf(b.GetUpperBound(), 1)
			out = append(out, Sample{Name: name + "_bucket", Labels: with("le", formatFloat(b.GetUpperBound())), Value: float64(b.GetCumulativeCount())})
		}
		if !hasInf {
			out = append(out, Sample{Name: name + "_bucket", Labels: with("le", "+Inf"), Value: float64(h.GetSampleCount())})
		}
		return append(out,
			Sample{Name: name + "_sum", Labels: base, Value: h.GetSampleSum()},
			Sample{Name: name + "_count", Labels: base, Value: float64(h.GetSampleCount())})
	case dto.MetricType_SUMMARY:
		sm := m.GetSummary()
		var out []Sample
		for _, q := range sm.GetQuantile() {
			out = append(out, Sample{Name: name, Labels: with("quantile", formatFloat(q.GetQuantile())), Value: q.GetValue()})
		}
		return append(out,
			Sample{Name: name + "_sum", Labels: base, Value: sm.GetSampleSum()},
			Sample{Name: name + "_count", Labels: base, Value: float64(sm.GetSampleCount())})
	default:
		return []Sample{{Name: name, Labels: base, Value: m.GetUntyped().GetValue()}}
	}
}

// formatFloat writes a float the way client_golang writes le and quantile labels and the way
// promtool's series notation reads values.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
