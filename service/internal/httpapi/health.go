package httpapi

import (
	"context"
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

// ping runs p under timeout and reports the dependency's state.
func ping(ctx context.Context, p Pinger, timeout time.Duration) string {
	if p == nil {
		return StatusUnhealthy
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := p.Ping(ctx); err != nil {
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

// healthDetailed reports every dependency. The database and Redis are pinged
// concurrently, each under its own deadline, so the probe takes as long as the slower of
// the two at most. MAX is never called here: its state comes from observed calls.
func (a *API) healthDetailed(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var db, redis string
	var wg sync.WaitGroup
	wg.Go(func() { db = ping(ctx, a.deps.Database, a.cfg.DatabaseTimeout) })
	wg.Go(func() { redis = ping(ctx, a.deps.Redis, a.cfg.RedisTimeout) })
	maxState := StatusUnknown
	if a.deps.Max != nil {
		switch s := a.deps.Max.Health(); s {
		case StatusHealthy, StatusUnhealthy:
			maxState = s
		}
	}
	wg.Wait()

	a.setUp(metrics.DepDatabase, db)
	a.setUp(metrics.DepRedis, redis)
	a.setUp(metrics.DepMaxAPI, maxState)

	service := StatusHealthy
	status := http.StatusOK
	switch {
	case db != StatusHealthy:
		// Without the database nothing can be served, not even fallback data.
		service = StatusUnhealthy
		status = http.StatusServiceUnavailable
	case redis != StatusHealthy || maxState == StatusUnhealthy:
		service = StatusDegraded
	}
	writeJSON(w, status, healthJSON{
		Service:   service,
		Timestamp: a.cfg.Now().UTC().Format(time.RFC3339Nano),
		Dependencies: map[string]string{
			metrics.DepDatabase: db,
			metrics.DepRedis:    redis,
			metrics.DepMaxAPI:   maxState,
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

// readyz says whether requests can be served: that needs the database.
func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	if ping(r.Context(), a.deps.Database, a.cfg.DatabaseTimeout) != StatusHealthy {
		a.setUp(metrics.DepDatabase, StatusUnhealthy)
		writeErrorCode(w, http.StatusServiceUnavailable, chat.EDATABASEUNAVAILABLE, "database unavailable")
		return
	}
	a.setUp(metrics.DepDatabase, StatusHealthy)
	writeJSON(w, http.StatusOK, statusJSON{Status: "ready"})
}
