package alertreplay

import (
	"math"
	"strconv"
	"time"
)

// Sample is one value of one series, as Prometheus would store it from a scrape: histogram and
// summary families are already split into their _bucket, _sum and _count series.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// Scrape is what one read of a service's /metrics returned. The harness parses each read
// once, only the series the rules read (Replayer.Metrics, chaos.ParseMetricsOf), and hands
// them over as Samples.
type Scrape struct {
	// At is when the scrape was taken. Replay maps scrapes onto rule time by their order, not by
	// At, which is kept for reports.
	At      time.Time
	Samples []Sample
	// Failed marks a scrape that got no answer. Like Prometheus, the replay records up = 0 for
	// it and marks every series stale.
	Failed bool
}

// formatFloat writes a float the way promtool's series notation reads values.
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
