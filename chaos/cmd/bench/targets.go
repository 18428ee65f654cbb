package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/faultline/faultline/chaos"
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

// saturation is the throughputs (successful requests a second) of the service and of the
// raw floor, one per round, and the CPU time each process spent per request.
type saturation struct {
	workers        int
	d              time.Duration
	service, floor []float64
	cpu            map[string]time.Duration
	requests       map[string]uint64
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	sum := 0.0
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

func (s *saturation) write(w io.Writer) {
	_, _ = fmt.Fprintf(w, "\nAt saturation (%d requests in flight, %s a round, the floor and the service in turn), successful req/s:\n\n", s.workers, s.d)
	_, _ = fmt.Fprint(w, "| server | rounds | mean | CPU per request |\n|---|---|---|---|\n")
	for _, row := range []struct {
		name, key string
		xs        []float64
	}{{"raw floor (one query, one MGET, JSON; a process of its own)", "floor", s.floor}, {"service", "service", s.service}} {
		parts := make([]string, len(row.xs))
		for i, x := range row.xs {
			parts[i] = fmt.Sprintf("%.0f", x)
		}
		cpu := "n/a"
		if n := s.requests[row.key]; n > 0 && s.cpu[row.key] > 0 {
			cpu = fmt.Sprintf("%.2f ms", float64(s.cpu[row.key])/float64(n)/float64(time.Millisecond))
		}
		_, _ = fmt.Fprintf(w, "| %s | %s | %.0f | %s |\n", row.name, strings.Join(parts, ", "), mean(row.xs), cpu)
	}
}

// compareSaturation measures the service and the raw floor at saturation on the same n
// fresh chats, in turn for rounds rounds, so that the machine's drift touches both alike.
func compareSaturation(ctx context.Context, env *chaos.Env, n, workers, rounds int, d time.Duration) (*saturation, error) {
	rows, entries, maxChats := seedChats(n, time.Now().UTC(), 5*time.Minute)
	if err := env.Reset(ctx, chaos.WithChats(rows...), chaos.WithCache(entries...), chaos.WithMaxChats(maxChats...)); err != nil {
		return nil, fmt.Errorf("reset: %w", err)
	}
	f, err := startFloor(ctx, env, n)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	urls := map[string]string{
		"service": fmt.Sprintf("%s/chats/all?limit=%d", env.URL(), n),
		"floor":   f.URL() + "/chats/all",
	}
	pids := map[string]int{"service": env.SUTPid(), "floor": f.cmd.Process.Pid}
	// Warm both up: connections opened, code paths hot.
	for _, u := range urls {
		if _, err := saturate(ctx, u, workers, time.Second); err != nil {
			return nil, err
		}
	}
	s := &saturation{workers: workers, d: d, cpu: map[string]time.Duration{}, requests: map[string]uint64{}}
	for range rounds {
		for _, name := range []string{"floor", "service"} {
			before, cpuErr := processCPU(pids[name])
			m, err := saturate(ctx, urls[name], workers, d)
			if err != nil {
				return nil, err
			}
			if m.Success < 1 {
				return nil, fmt.Errorf("%s at saturation: %.1f%% succeeded (%s)", name, 100*m.Success, codes(m.StatusCodes))
			}
			if after, err := processCPU(pids[name]); cpuErr == nil && err == nil {
				s.cpu[name] += after - before
				s.requests[name] += m.Requests
			}
			if name == "floor" {
				s.floor = append(s.floor, m.Throughput)
			} else {
				s.service = append(s.service, m.Throughput)
			}
		}
	}
	return s, nil
}

// processCPU is the CPU time (user and system) process pid has used, from /proc.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command name, which is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("/proc stat: no command name")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("/proc stat: too few fields")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	// /proc counts in USER_HZ, 100 a second on Linux.
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// write prints the quota case.
func (q *quotaResult) write(w io.Writer) {
	_, _ = fmt.Fprintf(w, "\n%d stale chats listed on %d replicas (pages of %d, in turn), MAX_API_RATE_LIMIT=%d for the deployment, MAX limiting at %d a second:\n\n",
		q.Chats, q.Replicas, quotaPage, q.Budget, maxPerSecond)
	_, _ = fmt.Fprint(w, "| MAX calls | answered 429 | busiest 1 s window | refreshed | time | lists p50 | lists p99 | lists ok |\n|---|---|---|---|---|---|---|---|\n")
	_, _ = fmt.Fprintf(w, "| %d | %d | %d | %d of %d | %s | %s | %s | %.1f%% |\n", q.Calls, q.TooMany, q.Peak, q.Refreshed, q.Chats,
		q.Elapsed.Round(100*time.Millisecond), ms(q.Lists.Latencies.P50), ms(q.Lists.Latencies.P99), 100*q.Lists.Success)
}
