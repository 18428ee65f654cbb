package chaos

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"
)

// Latencies summarises n probes: their sorted durations and how they ended.
type Latencies struct {
	Durations []time.Duration
	// Statuses counts answers by HTTP status; requests without an answer count under 0.
	Statuses map[int]int
}

// MeasureLatency runs probe n times one after another and collects the latencies.
// It stops early when ctx is done.
func MeasureLatency(ctx context.Context, n int, probe func(context.Context) Response) Latencies {
	l := Latencies{Statuses: make(map[int]int)}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		r := probe(ctx)
		l.Durations = append(l.Durations, r.Latency)
		l.Statuses[r.Status]++
	}
	slices.Sort(l.Durations)
	return l
}

// Percentile returns the p-th percentile (0 < p <= 100) by the nearest-rank method, or 0
// when nothing was measured.
func (l Latencies) Percentile(p float64) time.Duration {
	if len(l.Durations) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(l.Durations))))
	rank = min(max(rank, 1), len(l.Durations))
	return l.Durations[rank-1]
}

// Max returns the slowest latency.
func (l Latencies) Max() time.Duration { return l.Percentile(100) }

// String prints the usual percentiles.
func (l Latencies) String() string {
	return fmt.Sprintf("n=%d p50=%s p90=%s p99=%s max=%s statuses=%v", len(l.Durations),
		l.Percentile(50), l.Percentile(90), l.Percentile(99), l.Max(), l.Statuses)
}
