package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/prometheus/procfs"

	"github.com/faultline/faultline/chaos"
)

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
	s := &saturation{workers: workers, d: d, cpu: map[string]time.Duration{}, requests: map[string]uint64{}}
	servers := []struct {
		name, url string
		pid       int
		rounds    *[]float64
	}{
		{"floor", f.URL() + "/chats/all", f.Pid(), &s.floor},
		{"service", fmt.Sprintf("%s/chats/all?limit=%d", env.URL(), n), env.SUTPid(), &s.service},
	}
	// Warm both up: connections opened, code paths hot.
	for _, srv := range servers {
		if _, err := saturate(ctx, srv.url, workers, time.Second); err != nil {
			return nil, err
		}
	}
	for range rounds {
		for _, srv := range servers {
			before, cpuErr := processCPU(srv.pid)
			m, err := saturate(ctx, srv.url, workers, d)
			if err != nil {
				return nil, err
			}
			if m.Success < 1 {
				return nil, fmt.Errorf("%s at saturation: %.1f%% succeeded (%s)", srv.name, 100*m.Success, codes(m.StatusCodes))
			}
			if after, err := processCPU(srv.pid); cpuErr == nil && err == nil {
				s.cpu[srv.name] += after - before
				s.requests[srv.name] += m.Requests
			}
			*srv.rounds = append(*srv.rounds, m.Throughput)
		}
	}
	return s, nil
}

// processCPU is the CPU time (user and system) process pid has used.
func processCPU(pid int) (time.Duration, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return 0, err
	}
	st, err := p.Stat()
	if err != nil {
		return 0, err
	}
	return time.Duration(st.CPUTime() * float64(time.Second)), nil
}
