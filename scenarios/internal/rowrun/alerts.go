package rowrun

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/faultline/faultline/matrix"
	"github.com/faultline/faultline/matrix/alertreplay"
)

// AlertReplay samples the service's /metrics over a row's fault and replays the samples
// through the alert rules (docs/alerts.md describes the time mapping).
type AlertReplay struct {
	// Replayer evaluates the rules; its Step is the rule time one sample stands for.
	Replayer alertreplay.Replayer
	// Healthy is the number of samples taken before the faults are applied.
	Healthy int
	// Faulty is the number of samples taken while the faults hold.
	Faulty int
	// Interval is the real time between two samples.
	Interval time.Duration
}

// replayAlerts runs the row's fault a second time, from a fresh reset, while sampling: the
// sampling traffic must not disturb what the row itself observes. Between two samples the
// row's request and a GET /health/detailed are sent, as production traffic and a health
// probe would; they run beside the sampling, which keeps its cadence however slow they are
// (at most one of each in flight).
func (r *Runner) replayAlerts(ctx context.Context, row matrix.Row) (*matrix.AlertsObserved, error) {
	a := r.cfg.Alerts
	plan, err := PlanFaults(row.Given)
	if err != nil {
		return nil, err
	}
	if err := r.reset(ctx, row, time.Now().UTC()); err != nil {
		return nil, fmt.Errorf("reset: %w", err)
	}
	tick := time.NewTicker(a.Interval)
	defer tick.Stop()
	var traffic, probe inFlight
	defer traffic.wait()
	defer probe.wait()
	scrapes := make([]alertreplay.Scrape, 0, a.Healthy+a.Faulty)
	sample := func(withTraffic bool) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		if withTraffic {
			traffic.start(func() { send(ctx, r.env.Client(), row.Request) })
		}
		probe.start(func() { r.env.Client().Health(ctx) })
		scrapes = append(scrapes, r.sampleMetrics(ctx))
		return nil
	}
	for range a.Healthy {
		if err := sample(false); err != nil {
			return nil, err
		}
	}
	for _, f := range plan.Passing {
		undo, err := r.env.Inject(ctx, f)
		if err != nil {
			return nil, err
		}
		if err := undo(ctx); err != nil {
			return nil, err
		}
	}
	if _, err := r.env.Inject(ctx, plan.Held...); err != nil {
		return nil, err
	}
	for range a.Faulty {
		if err := sample(true); err != nil {
			return nil, err
		}
	}
	traffic.wait()
	probe.wait()
	res, err := a.Replayer.Replay(ctx, scrapes)
	if err != nil {
		return nil, err
	}
	if err := r.env.StopSUT(); err != nil {
		return nil, fmt.Errorf("service run: %w", err)
	}
	fired := res.Fired()
	if fired == nil {
		fired = []string{}
	}
	return &matrix.AlertsObserved{Fired: fired, Replay: res.String()}, nil
}

// sampleMetrics reads /metrics once; a failed read is a failed scrape, as Prometheus sees it.
func (r *Runner) sampleMetrics(ctx context.Context) alertreplay.Scrape {
	at := time.Now()
	m := r.env.Client().Metrics(ctx)
	if m.Err != nil || m.Status != http.StatusOK {
		return alertreplay.Scrape{At: at, Failed: true}
	}
	s, err := alertreplay.ParseText(at, bytes.NewReader(m.Body))
	if err != nil {
		return alertreplay.Scrape{At: at, Failed: true}
	}
	return s
}

// inFlight runs at most one call at a time in the background: a call still running when
// the next is due is not doubled.
type inFlight struct {
	mu   sync.Mutex
	busy bool
	wg   sync.WaitGroup
}

func (f *inFlight) start(call func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.busy {
		return
	}
	f.busy = true
	f.wg.Go(func() {
		call()
		f.mu.Lock()
		f.busy = false
		f.mu.Unlock()
	})
}

func (f *inFlight) wait() { f.wg.Wait() }
