package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// The bounds make bench holds the service to (README, "Measured").
const (
	// minThroughputRatio: the service's throughput at saturation against the raw floor's.
	minThroughputRatio = 0.70
	// p99 with Redis hanging at most blackholeP99Factor x the healthy p99 + blackholeP99Slack.
	blackholeP99Factor = 1.5
	blackholeP99Slack  = 5 * time.Millisecond
	// MAX's limit per bot token, and the time all stale chats may take against the time
	// that limit needs.
	maxPerSecond      = 30
	refreshTimeFactor = 1.10
)

// target is one of make bench's bounds, as measured.
type target struct {
	name, measured, bound string
	met                   bool
}

func latencyTarget(healthy, blackhole time.Duration) target {
	bound := time.Duration(blackholeP99Factor*float64(healthy)) + blackholeP99Slack
	return target{
		name:     "p99 with Redis hanging",
		measured: fmt.Sprintf("%s (healthy %s)", ms(blackhole), ms(healthy)),
		bound:    fmt.Sprintf("<= %.1fx healthy + %s = %s", blackholeP99Factor, ms(blackholeP99Slack), ms(bound)),
		met:      blackhole <= bound,
	}
}

func throughputTarget(service, floor float64) target {
	ratio := 0.0
	if floor > 0 {
		ratio = service / floor
	}
	return target{
		name:     "throughput at saturation against the raw floor",
		measured: fmt.Sprintf("%.0f%% (%.0f against %.0f req/s)", 100*ratio, service, floor),
		bound:    fmt.Sprintf(">= %.0f%%", 100*minThroughputRatio),
		met:      ratio >= minThroughputRatio,
	}
}

func quotaTargets(q *quotaResult) []target {
	ideal := time.Duration(q.Chats) * time.Second / maxPerSecond
	bound := time.Duration(refreshTimeFactor * float64(ideal))
	refreshed := fmt.Sprintf("%s, %.2fx %d/%d s", q.Elapsed.Round(100*time.Millisecond), q.Elapsed.Seconds()/ideal.Seconds(), q.Chats, maxPerSecond)
	if !q.done() {
		refreshed = fmt.Sprintf("%d of %d in %s", q.Refreshed, q.Chats, q.Elapsed.Round(100*time.Millisecond))
	}
	return []target{
		{
			name:     "MAX calls in any 1 s window",
			measured: fmt.Sprintf("%d (%d answered 429)", q.Peak, q.TooMany),
			bound:    fmt.Sprintf("<= %d, none 429", maxPerSecond),
			met:      q.Peak <= maxPerSecond && q.TooMany == 0,
		},
		{
			name:     fmt.Sprintf("all %d stale chats refreshed by %d replicas", q.Chats, q.Replicas),
			measured: refreshed,
			bound:    fmt.Sprintf("<= %.0f%% of %d/%d s = %s", 100*refreshTimeFactor, q.Chats, maxPerSecond, bound.Round(100*time.Millisecond)),
			met:      q.done() && q.Elapsed <= bound,
		},
	}
}

// writeTargets prints the targets and fails naming those missed.
func writeTargets(w io.Writer, targets []target) error {
	_, _ = fmt.Fprint(w, "\n| target | measured | bound | met |\n|---|---|---|---|\n")
	var missed []string
	for _, t := range targets {
		met := "yes"
		if !t.met {
			met = "**no**"
			missed = append(missed, t.name)
		}
		_, _ = fmt.Fprintf(w, "| %s | %s | %s | %s |\n", t.name, t.measured, t.bound, met)
	}
	if len(missed) > 0 {
		return fmt.Errorf("%d of %d targets missed: %s", len(missed), len(targets), strings.Join(missed, "; "))
	}
	return nil
}
