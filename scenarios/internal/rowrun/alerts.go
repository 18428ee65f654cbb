package rowrun

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/faultline/faultline/chaos"
	"github.com/faultline/faultline/matrix"
	"github.com/faultline/faultline/matrix/alertreplay"
)

// AlertReplay samples the service's /metrics over a row's fault and replays the samples
// through the alert rules (docs/alerts.md describes the time mapping). It runs in an
// environment of its own, at the same time as the row: its traffic (the row's request
// repeated for a few seconds, health probes) would disturb what the row observes, and
// taking turns in one environment would double every row's time.
type AlertReplay struct {
	// Env is the replay's own environment, never the row's.
	Env *chaos.Env
	// Replayer evaluates the rules; its Step is the rule time one sample stands for.
	Replayer alertreplay.Replayer
	// Healthy is the number of samples taken before the faults are applied.
	Healthy int
	// Faulty is the number of samples taken while the faults hold.
	Faulty int
	// Interval is the real time between two samples.
	Interval time.Duration

	// metrics are the series the rules read (Replayer.Metrics), read once.
	metricsOnce sync.Once
	metrics     []string
	metricsErr  error
}

// readMetrics returns the series the rules read: all a sample needs to keep.
func (a *AlertReplay) readMetrics() ([]string, error) {
	a.metricsOnce.Do(func() { a.metrics, a.metricsErr = a.Replayer.Metrics() })
	return a.metrics, a.metricsErr
}

// resetOptions are the row's reset options with the service's health cache kept to one
// sample. The replay stretches every period inside the service as much as it stretches
// time (docs/alerts.md), and in production HEALTH_CACHE_TTL (1s) is far shorter than a
// scrape interval: a single failed ping is seen by at most one scrape. Cached for the
// default second, it would stand for 25 samples, over 12 minutes of rule time, and fire
// DatabaseUnavailable for one slow ping. Implementations without the variable ignore it.
func (a *AlertReplay) resetOptions(g matrix.Given, seededAt time.Time, cacheTTL time.Duration) []chaos.ResetOption {
	return append(ResetOptions(g, seededAt, cacheTTL), chaos.WithSUTEnv("HEALTH_CACHE_TTL="+a.Interval.String()))
}

// replayAlerts applies the row's fault in the replay's environment, from a fresh reset,
// while sampling. A row with several replicas is replayed on one of them, told the count:
// the rules are evaluated per instance, as Prometheus does. Between two samples the
// row's request and a GET /health/detailed are sent, as production traffic and a health
// probe would; they run beside the sampling, which keeps its cadence however slow they are
// (at most one of each in flight).
func (r *Runner) replayAlerts(ctx context.Context, row matrix.Row) (*matrix.AlertsObserved, error) {
	a := r.cfg.Alerts
	plan, err := PlanFaults(row.Given)
	if err != nil {
		return nil, err
	}
	// A scrape keeps only what the rules read: parsing the whole page 73 times a row was a
	// third of the harness's CPU.
	metrics, err := a.readMetrics()
	if err != nil {
		return nil, err
	}
	env := a.Env
	if err := env.Reset(ctx, a.resetOptions(row.Given, time.Now().UTC(), r.cfg.CacheTTL)...); err != nil {
		return nil, fmt.Errorf("reset: %w", err)
	}
	began := time.Now()
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
			traffic.start(func() { send(ctx, env.Client(), row.Request) })
		}
		probe.start(func() { env.Client().Health(ctx) })
		scrapes = append(scrapes, sampleMetrics(ctx, env, metrics))
		return nil
	}
	for range a.Healthy {
		if err := sample(false); err != nil {
			return nil, err
		}
	}
	// The faults stay until the next reset of the replay's environment.
	if _, err := plan.Apply(ctx, env); err != nil {
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
	if err := env.StopSUT(); err != nil {
		return nil, fmt.Errorf("service run: %w", err)
	}
	fired := res.Fired()
	if fired == nil {
		fired = []string{}
	}
	replay := res.String()
	if failed := failedChecks(env.Logs(), began); failed != "" {
		replay += "\n" + failed
	}
	return &matrix.AlertsObserved{Fired: fired, Replay: replay}, nil
}

// failedChecks says which of the service's health checks failed during the replay (which
// began sampling at began) and why, from its "Health check failed" log lines (the reference
// service logs them at debug): dependency_up only says that one did. The first few are
// listed, each with when it ended. "" when none failed or the service does not log them.
func failedChecks(logs chaos.Logs, began time.Time) string {
	recs := logs.Msg("Health check failed").Records()
	if len(recs) == 0 {
		return ""
	}
	per := map[string]int{}
	for _, r := range recs {
		per[r.Attr("dependency")]++
	}
	deps := slices.Sorted(maps.Keys(per))
	counts := make([]string, len(deps))
	for i, d := range deps {
		counts[i] = fmt.Sprintf("%s %d", d, per[d])
	}
	var each []string
	for _, r := range recs[:min(len(recs), listedChecks)] {
		when := "ended at an unknown time,"
		if !r.Time.IsZero() {
			when = fmt.Sprintf("ended %s into the replay,", r.Time.Sub(began).Round(time.Millisecond))
		}
		each = append(each, fmt.Sprintf("%s %s after %sms: %s", when, r.Attr("dependency"), r.Attr("duration_ms"), r.Attr("error")))
	}
	more := ""
	if len(recs) > listedChecks {
		more = fmt.Sprintf("; and %d more", len(recs)-listedChecks)
	}
	return fmt.Sprintf("failed health checks: %d (%s): %s%s", len(recs), strings.Join(counts, ", "), strings.Join(each, "; "), more)
}

// listedChecks is how many failed health checks a replay's observation lists.
const listedChecks = 4

// sampleMetrics reads the series called one of names from /metrics once; a failed read is
// a failed scrape, as Prometheus sees it.
func sampleMetrics(ctx context.Context, env *chaos.Env, names []string) alertreplay.Scrape {
	at := time.Now()
	m := env.Client().MetricsOf(ctx, names)
	if m.Err != nil || m.Status != http.StatusOK {
		return alertreplay.Scrape{At: at, Failed: true}
	}
	return scrapeOf(at, m.Snapshot)
}

// scrapeOf hands the series the chaos client parsed to the replay, which reads them as
// Prometheus stores them (histograms already split into _bucket, _sum and _count).
func scrapeOf(at time.Time, snap chaos.Snapshot) alertreplay.Scrape {
	s := alertreplay.Scrape{At: at}
	for _, smp := range snap.Samples() {
		s.Samples = append(s.Samples, alertreplay.Sample{Name: smp.Name, Labels: smp.Labels, Value: smp.Value})
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
