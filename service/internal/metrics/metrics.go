// Package metrics defines every Prometheus collector the service exports. Collectors are
// registered on a registry the caller injects, so tests and several service instances
// in one process never share state.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Label values shared by the service's packages.
const (
	// Fallback reasons.
	ReasonCacheUnavailable  = "cache_unavailable"
	ReasonMaxAPIUnavailable = "max_api_unavailable"
	ReasonQueueFull         = "queue_full"
	// ReasonLocalRateLimit is a refresh refused by the service's own MAX rate limiter
	// (MAX_API_RATE_LIMIT): MAX was not asked, and says nothing about MAX.
	ReasonLocalRateLimit = "local_rate_limit"
	// ReasonFailureBackoff is a refresh skipped because MAX recently answered that it does
	// not know the chat, or refused the request for it (PARTICIPANTS_FAILURE_BACKOFF).
	ReasonFailureBackoff = "failure_backoff"
	// ReasonRefreshedElsewhere is a background refresh skipped because another replica
	// refreshes the chat or just stored a count of it.
	ReasonRefreshedElsewhere = "refreshed_elsewhere"

	// Dependencies.
	DepDatabase = "database"
	DepRedis    = "redis"
	DepMaxAPI   = "max_api"

	// Refresh results.
	ResultSuccess = "success"
	ResultFailure = "failure"
)

// Breaker states as exported by circuit_breaker_state.
const (
	BreakerClosed   = 0
	BreakerHalfOpen = 1
	BreakerOpen     = 2
)

// Metrics holds the service's collectors.
type Metrics struct {
	CacheErrors      prometheus.Counter
	CacheCorrupt     prometheus.Counter
	FutureTimestamps *prometheus.CounterVec // source
	MaxAPIErrors     *prometheus.CounterVec // reason
	FallbackUsage    *prometheus.CounterVec // reason
	DataFreshness    prometheus.Gauge
	HTTPRequests     *prometheus.CounterVec   // method, route, status
	HTTPDuration     *prometheus.HistogramVec // method, route
	DependencyUp     *prometheus.GaugeVec     // dependency
	BreakerState     *prometheus.GaugeVec     // dependency
	RefreshTotal     *prometheus.CounterVec   // result
	RefreshDropped   *prometheus.CounterVec   // reason
	QuotaLocal       prometheus.Counter
	QuotaLate        prometheus.Counter
	RefreshQueueLen  prometheus.Gauge
	RefreshQueueCap  prometheus.Gauge
	MaxAPIDuration   prometheus.Histogram
	CacheDuration    *prometheus.HistogramVec // operation
	DatabaseDuration *prometheus.HistogramVec // operation
	DatabaseErrors   *prometheus.CounterVec   // operation
	BuildInfo        *prometheus.GaugeVec     // version
}

// MaxAPIErrorReasons lists every value of the reason label of
// participants_max_api_errors_total. Each is initialised to zero so that rates and
// alerts see the series before the first error.
var MaxAPIErrorReasons = []string{
	"timeout", "connection", "rate_limited", "unauthorized", "not_found",
	"client_error", "server_error", "malformed", "too_large", "circuit_open",
}

// New creates the collectors and registers them, with the Go and process collectors,
// on reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		CacheErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "participants_cache_errors_total",
			Help: "Failed participants cache (Redis) operations, including calls refused by the open circuit breaker.",
		}),
		CacheCorrupt: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "participants_cache_corrupt_entries_total",
			Help: "Participants cache entries that could not be decoded and were treated as missing.",
		}),
		FutureTimestamps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "participants_future_timestamps_total",
			Help: "Participant counts read with an observation time further in the future than CLOCK_SKEW_MAX (a replica's clock runs ahead), by source (cache, database); each was served as observed now and refreshed.",
		}, []string{"source"}),
		MaxAPIErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "participants_max_api_errors_total",
			Help: "Failed MAX Bot API calls by reason.",
		}, []string{"reason"}),
		FallbackUsage: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "participants_fallback_usage_total",
			Help: "Requests answered from a fallback data source, by the reason the primary source was unavailable.",
		}, []string{"reason"}),
		DataFreshness: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "participants_data_freshness_seconds",
			Help: "Age of the oldest known participant count of a MAX-linked chat in the last list response.",
		}),
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests served, by method, route pattern and status code.",
		}, []string{"method", "route", "status"}),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "HTTP request latency by method and route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route"}),
		DependencyUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dependency_up",
			Help: "Whether the last health check of a dependency succeeded (1) or failed (0).",
		}, []string{"dependency"}),
		BreakerState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "circuit_breaker_state",
			Help: "State of a dependency's circuit breaker: 0 closed, 1 half-open, 2 open.",
		}, []string{"dependency"}),
		RefreshTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "participants_refresh_total",
			Help: "Participant count refreshes from the MAX Bot API, by result.",
		}, []string{"result"}),
		RefreshDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "participants_refresh_dropped_total",
			Help: "Refreshes not made, by reason: background refreshes not queued or dropped from the queue, requested refreshes refused by the local rate limit, and refreshes skipped while a chat is backed off.",
		}, []string{"reason"}),
		QuotaLocal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "participants_rate_limit_local_total",
			Help: "MAX calls let through by this replica's share of MAX_API_RATE_LIMIT (MAX_API_RATE_LIMIT / REPLICAS) because the limit shared through Redis could not be asked.",
		}),
		QuotaLate: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "participants_rate_limit_late_total",
			Help: "Slots of the shared MAX rate limit given up because the call would have been made more than half a slot after its slot (a slow Redis answer or a busy replica); the call reserves another.",
		}),
		RefreshQueueLen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "participants_refresh_queue_length",
			Help: "Background refreshes waiting in the queue.",
		}),
		RefreshQueueCap: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "participants_refresh_queue_capacity",
			Help: "Capacity of the background refresh queue.",
		}),
		MaxAPIDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "participants_max_api_request_duration_seconds",
			Help:    "Latency of MAX Bot API calls, successful or not.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		CacheDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "participants_cache_request_duration_seconds",
			Help:    "Latency of participants cache (Redis) operations, successful or not.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5},
		}, []string{"operation"}),
		DatabaseDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "database_query_duration_seconds",
			Help:    "Latency of PostgreSQL queries, successful or not.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"operation"}),
		DatabaseErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "database_errors_total",
			Help: "Failed PostgreSQL operations, including calls refused by the open circuit breaker.",
		}, []string{"operation"}),
		BuildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "chatd_build_info",
			Help: "Always 1; the version label names the running build.",
		}, []string{"version"}),
	}
	reg.MustRegister(
		m.CacheErrors, m.CacheCorrupt, m.FutureTimestamps, m.MaxAPIErrors, m.FallbackUsage, m.DataFreshness,
		m.HTTPRequests, m.HTTPDuration, m.DependencyUp, m.BreakerState,
		m.RefreshTotal, m.RefreshDropped, m.QuotaLocal, m.QuotaLate, m.RefreshQueueLen, m.RefreshQueueCap,
		m.MaxAPIDuration, m.CacheDuration, m.DatabaseDuration, m.DatabaseErrors, m.BuildInfo,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	for _, r := range MaxAPIErrorReasons {
		m.MaxAPIErrors.WithLabelValues(r)
	}
	for _, r := range []string{ReasonCacheUnavailable, ReasonMaxAPIUnavailable} {
		m.FallbackUsage.WithLabelValues(r)
	}
	for _, r := range []string{ReasonQueueFull, ReasonMaxAPIUnavailable, ReasonLocalRateLimit, ReasonFailureBackoff, ReasonRefreshedElsewhere} {
		m.RefreshDropped.WithLabelValues(r)
	}
	for _, src := range []string{"cache", "database"} {
		m.FutureTimestamps.WithLabelValues(src)
	}
	for _, r := range []string{ResultSuccess, ResultFailure} {
		m.RefreshTotal.WithLabelValues(r)
	}
	for _, d := range []string{DepDatabase, DepRedis, DepMaxAPI} {
		m.BreakerState.WithLabelValues(d)
	}
	return m
}
