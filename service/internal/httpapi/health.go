package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/faultline/faultline/service/internal/chat"
	"github.com/faultline/faultline/service/internal/metrics"
)

// Health states of a dependency and of the service.
const (
	StatusHealthy   = "healthy"
	StatusUnhealthy = "unhealthy"
	StatusUnknown   = "unknown"
	StatusDegraded  = "degraded"
)

type healthJSON struct {
	Service      string            `json:"service"`
	Timestamp    string            `json:"timestamp"`
	Dependencies map[string]string `json:"dependencies"`
}

// ping runs p under timeout and reports the dependency's state. A failure is logged at
// debug with how long the ping took: the state change itself is logged by WatchHealth,
// the reason (refused, timed out connecting, no free connection) is here. The pingers'
// errors carry no secret (the stores redact them).
func (a *API) ping(ctx context.Context, dep string, p Pinger, timeout time.Duration) string {
	if p == nil {
		return StatusUnhealthy
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := p.Ping(ctx); err != nil {
		a.log.DebugContext(ctx, "Health check failed", "dependency", dep,
			"duration_ms", time.Since(start).Milliseconds(), "error", err.Error())
		return StatusUnhealthy
	}
	return StatusHealthy
}

func (a *API) setUp(dep, state string) {
	switch state {
	case StatusHealthy:
		a.deps.Metrics.DependencyUp.WithLabelValues(dep).Set(1)
	case StatusUnhealthy:
		a.deps.Metrics.DependencyUp.WithLabelValues(dep).Set(0)
	}
	// An unknown state leaves the gauge as it was: nothing was observed.
}

// HealthReport is the state of the service and of each dependency at one moment.
type HealthReport struct {
	// Service is healthy, degraded (Redis or MAX unhealthy) or unhealthy (no database).
	Service  string
	Database string
	Redis    string
	// MaxAPI is unknown until a MAX call has been observed.
	MaxAPI string
	At     time.Time
}

// CheckHealth reports every dependency and updates dependency_up. The database and Redis
// are pinged concurrently, each under its own deadline, so a check takes as long as the
// slower of the two at most. MAX is never called here: its state comes from observed
// calls (and from the MAX client's own rate-limited probe).
func (a *API) CheckHealth(ctx context.Context) HealthReport {
	return a.report(a.pingBoth(ctx))
}

// pingBoth pings the database and Redis as one check.
func (a *API) pingBoth(ctx context.Context) map[string]string {
	return a.pingDependencies(ctx, a.databaseProbe(), a.redisProbe())
}

// probe is how one dependency is pinged.
type probe struct {
	dep     string
	pinger  Pinger
	timeout time.Duration
}

func (a *API) databaseProbe() probe {
	return probe{dep: metrics.DepDatabase, pinger: a.deps.Database, timeout: a.cfg.DatabaseTimeout}
}

func (a *API) redisProbe() probe {
	return probe{dep: metrics.DepRedis, pinger: a.deps.Redis, timeout: a.cfg.RedisTimeout}
}

// pingDependencies pings the dependencies of probes side by side, as one numbered check,
// and records what it found in dependency_up, and any failure as bad news.
func (a *API) pingDependencies(ctx context.Context, probes ...probe) map[string]string {
	n := a.order.start()
	states := make([]string, len(probes))
	var wg sync.WaitGroup
	for i, p := range probes {
		wg.Go(func() { states[i] = a.ping(ctx, p.dep, p.pinger, p.timeout) })
	}
	wg.Wait()
	found := make(map[string]string, len(probes))
	for i, p := range probes {
		a.observed(p.dep, states[i], n)
		found[p.dep] = states[i]
	}
	return found
}

// observed records the state check n found a dependency in, unless a check that started
// later has been recorded already: a ping that hung for its whole deadline (a connection
// opened as the process starts, on a loaded host) must not overwrite the newer answer of
// one that began after it and answered first. The newest observation wins, as for data.
func (a *API) observed(dep, state string, n uint64) {
	if !a.order.record(dep, n) {
		return
	}
	a.setUp(dep, state)
	if state == StatusUnhealthy {
		a.news.report(dep)
	}
}

// checkOrder numbers the health checks as they start and remembers, per dependency, the
// newest one recorded.
type checkOrder struct {
	mu       sync.Mutex
	started  uint64
	recorded map[string]uint64
}

// start numbers a check that is starting.
func (o *checkOrder) start() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.started++
	return o.started
}

// record reports whether check n is the newest of dep's so far, and makes it so.
func (o *checkOrder) record(dep string, n uint64) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if n < o.recorded[dep] {
		return false
	}
	if o.recorded == nil {
		o.recorded = map[string]uint64{}
	}
	o.recorded[dep] = n
	return true
}

// report completes pinged states with MAX's observed state into a HealthReport.
func (a *API) report(pinged map[string]string) HealthReport {
	db, redis := pinged[metrics.DepDatabase], pinged[metrics.DepRedis]
	maxState := StatusUnknown
	if a.deps.Max != nil {
		switch s := a.deps.Max.Health(); s {
		case StatusHealthy, StatusUnhealthy:
			maxState = s
		}
	}
	a.setUp(metrics.DepMaxAPI, maxState)

	service := StatusHealthy
	switch {
	case db != StatusHealthy:
		// Without the database nothing can be served, not even fallback data.
		service = StatusUnhealthy
	case redis != StatusHealthy || maxState == StatusUnhealthy:
		service = StatusDegraded
	}
	return HealthReport{Service: service, Database: db, Redis: redis, MaxAPI: maxState, At: a.cfg.Now()}
}

// WatchHealth runs CheckHealth every interval until ctx is done, so dependency_up (and
// the alerts built on it) stay current when nobody polls /health/detailed. Changes of
// the service's state are logged.
func (a *API) WatchHealth(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	last := ""
	for {
		r := a.CheckHealth(ctx)
		if r.Service != last && ctx.Err() == nil {
			level := slog.LevelInfo
			if r.Service != StatusHealthy {
				level = slog.LevelWarn
			}
			a.log.Log(ctx, level, "Service health changed", "from", last, "to", r.Service,
				"database", r.Database, "redis", r.Redis, "max_api", r.MaxAPI)
			last = r.Service
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// healthDetailed answers /health/detailed: 200 unless the database is unhealthy. The
// pings are cached for HealthCacheTTL; MAX's state is read afresh, which costs nothing.
func (a *API) healthDetailed(w http.ResponseWriter, r *http.Request) {
	h := a.report(a.detailedChecks.get(r.Context(), a.pingBoth))
	status := http.StatusOK
	if h.Service == StatusUnhealthy {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, healthJSON{
		Service:   h.Service,
		Timestamp: h.At.UTC().Format(time.RFC3339Nano),
		Dependencies: map[string]string{
			metrics.DepDatabase: h.Database,
			metrics.DepRedis:    h.Redis,
			metrics.DepMaxAPI:   h.MaxAPI,
		},
	})
}

type statusJSON struct {
	Status string `json:"status"`
}

// livez says the process serves HTTP; it checks no dependency, so a dependency outage
// never gets the process restarted.
func (a *API) livez(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, statusJSON{Status: "alive"})
}

// readyz says whether requests can be served: that needs the database. The ping is
// cached for HealthCacheTTL.
func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	states := a.readyChecks.get(r.Context(), func(ctx context.Context) map[string]string {
		return a.pingDependencies(ctx, a.databaseProbe())
	})
	if states[metrics.DepDatabase] != StatusHealthy {
		writeErrorCode(w, http.StatusServiceUnavailable, chat.EDATABASEUNAVAILABLE, "database unavailable")
		return
	}
	writeJSON(w, http.StatusOK, statusJSON{Status: "ready"})
}
