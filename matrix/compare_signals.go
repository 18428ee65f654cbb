package matrix

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

func (c *comparison) metrics() {
	haveMeasured := slices.ContainsFunc(c.obs.Metrics, func(d MetricDelta) bool { return d.Measured })
	for _, m := range c.row.Expected.Metrics {
		item := seriesName(m.Name, m.Labels)
		measured := m.Measured
		if measured && !haveMeasured {
			if c.row.Request.WarmUp > 0 {
				c.add(FieldMetrics, item+" (measured)", m.Delta.String(), "no measured-window deltas recorded", m.Reference)
				continue
			}
			// Without warm-up the two windows start together.
			measured = false
		}
		var sum float64
		for _, d := range c.obs.Metrics {
			if d.Measured == measured && d.Name == m.Name && subset(m.Labels, d.Labels) {
				sum += d.Delta
			}
		}
		if !m.Delta.Contains(sum) {
			if m.Measured {
				item += " (measured)"
			}
			c.addOver(FieldMetrics, item, m.Delta, sum, "delta "+formatFloat(sum), m.Reference)
			c.out[len(c.out)-1].Expected = "delta " + m.Delta.String()
		}
	}
	c.gauges(FieldMetrics, "", c.row.Expected.Gauges, c.obs.Gauges)
}

func (c *comparison) gauges(f Field, prefix string, want []GaugeExpectation, got []GaugeValue) {
	for _, g := range want {
		item := prefix + seriesName(g.Name, g.Labels)
		exp := gaugeRange(g)
		found := false
		for _, v := range got {
			if v.Name != g.Name || !subset(g.Labels, v.Labels) {
				continue
			}
			found = true
			if (g.Min != nil && v.Value < *g.Min) || (g.Max != nil && v.Value > *g.Max) {
				c.add(f, item, exp, formatFloat(v.Value), g.Reference)
			}
		}
		if !found {
			c.add(f, item, exp, "not exported", g.Reference)
		}
	}
}

func gaugeRange(g GaugeExpectation) string {
	switch {
	case g.Min != nil && g.Max != nil && *g.Min == *g.Max:
		return "= " + formatFloat(*g.Min)
	case g.Min != nil && g.Max != nil:
		return formatFloat(*g.Min) + ".." + formatFloat(*g.Max)
	case g.Min != nil:
		return ">= " + formatFloat(*g.Min)
	case g.Max != nil:
		return "<= " + formatFloat(*g.Max)
	}
	return "any"
}

func (c *comparison) logs() {
	for _, l := range c.row.Expected.Logs {
		n := 0
		for _, ev := range c.obs.Logs {
			if c.obs.Phases.contains(ev.Time, l.Measured) && logMatches(l, ev) {
				n++
			}
		}
		if !l.Count.Contains(float64(n)) {
			item := describeLog(l)
			if l.Measured {
				item += " (measured)"
			}
			c.addOver(FieldLogs, item, l.Count, float64(n), strconv.Itoa(n), l.Reference)
		}
	}
}

func logMatches(l LogExpectation, ev LogEvent) bool {
	if l.Level != "" && !strings.EqualFold(l.Level, ev.Level) {
		return false
	}
	if l.Msg != "" && l.Msg != ev.Msg {
		return false
	}
	for k, v := range l.Attrs {
		got, ok := ev.Attrs[k]
		if !ok || attrText(got) != v {
			return false
		}
	}
	return true
}

// attrText renders a decoded JSON attribute the way expectations spell it: numbers without
// exponent or trailing zeros, so the expectation "3" matches a JSON 3.
func attrText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return formatFloat(x)
	}
	return fmt.Sprint(v)
}

func describeLog(l LogExpectation) string {
	parts := []string{}
	if l.Level != "" {
		parts = append(parts, l.Level)
	} else {
		parts = append(parts, "any level")
	}
	if l.Msg != "" {
		parts = append(parts, strconv.Quote(l.Msg))
	} else {
		parts = append(parts, "any message")
	}
	if len(l.Attrs) > 0 {
		parts = append(parts, formatLabels(l.Attrs))
	}
	return strings.Join(parts, " ")
}
