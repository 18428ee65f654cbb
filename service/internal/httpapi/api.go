// Package httpapi is chatd's HTTP interface: the chi router, the handlers of the chat and
// health endpoints, JSON errors and the middleware every request passes through (request
// id, panic recovery, request log, metrics, body limit). It knows the rest of the service
// only through the small interfaces defined here.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/faultline/faultline/service/internal/chat"
	"github.com/faultline/faultline/service/internal/metrics"
)

// ChatService answers the chat endpoints.
type ChatService interface {
	List(ctx context.Context, page chat.Page) ([]chat.Chat, error)
	Get(ctx context.Context, id int64) (chat.Chat, error)
	Refresh(ctx context.Context, id int64) (chat.Chat, error)
}

// Pinger checks that a dependency answers. Implementations bound the check with their
// own deadline; the API adds one too so a misbehaving Pinger cannot hang a probe. A Pinger
// that is also a FailureCounter keeps the health endpoints from serving a cached "healthy"
// after its callers saw it fail.
type Pinger interface {
	Ping(ctx context.Context) error
}

// MaxHealth reports the MAX Bot API's state from recent observations without calling it:
// "healthy", "unhealthy" or "unknown".
type MaxHealth interface {
	Health() string
}

// DefaultBodyLimit is the largest request body accepted.
const DefaultBodyLimit = 1 << 20

// Deps are the collaborators of the API. Logger, Metrics and Gatherer are required; a
// nil Max reports "unknown".
type Deps struct {
	Chats    ChatService
	Database Pinger
	Redis    Pinger
	Max      MaxHealth
	Metrics  *metrics.Metrics
	// Gatherer is what /metrics exposes: the registry Metrics was registered on.
	Gatherer prometheus.Gatherer
	Logger   *slog.Logger
}

// Config tunes the API.
type Config struct {
	// DatabaseTimeout and RedisTimeout bound the health and readiness pings.
	DatabaseTimeout time.Duration
	RedisTimeout    time.Duration
	// HealthCacheTTL is how long /health/detailed and /readyz reuse their dependency
	// pings, so a flood of probes costs the dependencies one ping per TTL. A dependency
	// reported unhealthy meanwhile (by a check, or a request that found the database
	// unavailable) is not served as healthy from the cache. Zero pings on every probe.
	HealthCacheTTL time.Duration
	// BodyLimit is the largest accepted request body in bytes; DefaultBodyLimit if zero.
	BodyLimit int64
	// Now is the clock of health timestamps; time.Now if nil.
	Now func() time.Time
}

// API is chatd's HTTP handler.
type API struct {
	deps    Deps
	cfg     Config
	log     *slog.Logger
	router  *chi.Mux
	handler http.Handler

	news           *badNews
	order          checkOrder
	detailedChecks *checkCache
	readyChecks    *checkCache
}

var _ http.Handler = (*API)(nil)

// New builds the router and its middleware.
func New(deps Deps, cfg Config) *API {
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = DefaultBodyLimit
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DatabaseTimeout <= 0 {
		cfg.DatabaseTimeout = time.Second
	}
	if cfg.RedisTimeout <= 0 {
		cfg.RedisTimeout = time.Second
	}
	counters := map[string]FailureCounter{}
	if c, ok := deps.Database.(FailureCounter); ok {
		counters[metrics.DepDatabase] = c
	}
	if c, ok := deps.Redis.(FailureCounter); ok {
		counters[metrics.DepRedis] = c
	}
	a := &API{deps: deps, cfg: cfg, log: deps.Logger, news: newBadNews(counters)}
	a.detailedChecks = &checkCache{ttl: cfg.HealthCacheTTL, now: cfg.Now, news: a.news,
		deps: []string{metrics.DepDatabase, metrics.DepRedis}}
	a.readyChecks = &checkCache{ttl: cfg.HealthCacheTTL, now: cfg.Now, news: a.news,
		deps: []string{metrics.DepDatabase}}

	r := chi.NewRouter()
	// The order matters: the request id is needed by everything after it, and the log
	// and metrics middleware sit outside recovery so a panic is logged and counted as the
	// 500 the client received.
	r.Use(a.requestID, a.observe, a.recoverPanic, a.limitBody)
	r.NotFound(a.notFound)
	r.MethodNotAllowed(a.methodNotAllowed)

	r.Get("/chats/all", a.listChats)
	r.Get("/chats/{id}", a.getChat)
	r.Post("/chats/{id}/participants/refresh", a.refreshChat)
	r.Get("/health/detailed", a.healthDetailed)
	r.Get("/livez", a.livez)
	r.Get("/readyz", a.readyz)
	r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(deps.Gatherer, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(deps.Logger.Handler(), slog.LevelError),
	}))

	a.router = r
	a.handler = r
	return a
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.handler.ServeHTTP(w, r)
}
