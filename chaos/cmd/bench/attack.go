package main

import (
	"context"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// attackTimeout bounds every request of an attack.
const attackTimeout = 5 * time.Second

// collect gathers an attack's results into metrics until the attack ends or ctx is done
// (then the attack is stopped and ctx's error returned).
func collect(ctx context.Context, a *vegeta.Attacker, results <-chan *vegeta.Result) (*vegeta.Metrics, error) {
	var m vegeta.Metrics
	for {
		select {
		case <-ctx.Done():
			a.Stop()
			for range results {
			}
			return nil, ctx.Err()
		case r, ok := <-results:
			if !ok {
				m.Close()
				return &m, nil
			}
			m.Add(r)
		}
	}
}

// saturate sends GET url with workers requests in flight at all times for d: the
// throughput at saturation is the metrics' Throughput (successful requests per second).
func saturate(ctx context.Context, url string, workers int, d time.Duration) (*vegeta.Metrics, error) {
	a := vegeta.NewAttacker(vegeta.Timeout(attackTimeout), vegeta.KeepAlive(true),
		vegeta.Workers(uint64(workers)), vegeta.MaxWorkers(uint64(workers))) //nolint:gosec // G115: workers is checked positive
	target := vegeta.NewStaticTargeter(vegeta.Target{Method: "GET", URL: url})
	return collect(ctx, a, a.Attack(target, vegeta.Rate{Freq: 0}, d, "saturate"))
}

// cycle is a targeter that sends GET to each URL in turn, round and round; the attack's
// workers call it concurrently.
func cycle(urls []string) vegeta.Targeter {
	var next atomic.Uint64
	return func(t *vegeta.Target) error {
		if t == nil {
			return vegeta.ErrNilTarget
		}
		i := next.Add(1) - 1
		*t = vegeta.Target{Method: "GET", URL: urls[i%uint64(len(urls))]}
		return nil
	}
}
