// Package config reads chatd's configuration from the environment. Every variable has a
// typed field, a default where the contract gives one, and a validation rule; an invalid
// value is a startup error that names the variable and never repeats a secret.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// CachePolicy says what a participants cache error does to a request.
type CachePolicy string

// The cache error policies.
const (
	// PolicyFallback serves database data when the cache fails.
	PolicyFallback CachePolicy = "fallback"
	// PolicyFail fails the request when the cache fails (strict mode).
	PolicyFail CachePolicy = "fail"
)

// LogFormat is the encoding of log lines on stderr.
type LogFormat string

// The log formats.
const (
	LogJSON LogFormat = "json"
	LogText LogFormat = "text"
)

// The variables chatd reads. Their names are part of the service contract.
//
//nolint:gosec // G101: these are variable names, not credentials.
const (
	EnvHTTPAddr                = "HTTP_ADDR"
	EnvDatabaseURL             = "DATABASE_URL"
	EnvRedisURL                = "REDIS_URL"
	EnvMaxAPIURL               = "MAX_API_URL"
	EnvMaxAPIToken             = "MAX_API_TOKEN"
	EnvStaleAfter              = "PARTICIPANTS_STALE_AFTER"
	EnvCacheTTL                = "PARTICIPANTS_CACHE_TTL"
	EnvLazyUpdate              = "PARTICIPANTS_LAZY_UPDATE"
	EnvCacheErrorPolicy        = "PARTICIPANTS_CACHE_ERROR_POLICY"
	EnvClockSkewMax            = "CLOCK_SKEW_MAX"
	EnvFailureBackoff          = "PARTICIPANTS_FAILURE_BACKOFF"
	EnvRedisTimeout            = "REDIS_TIMEOUT"
	EnvMaxAPITimeout           = "MAX_API_TIMEOUT"
	EnvDatabaseTimeout         = "DATABASE_TIMEOUT"
	EnvDatabaseMaxConns        = "DATABASE_MAX_CONNS"
	EnvDatabaseMinConns        = "DATABASE_MIN_CONNS"
	EnvLogFormat               = "LOG_FORMAT"
	EnvLogLevel                = "LOG_LEVEL"
	EnvRefreshWorkers          = "REFRESH_WORKERS"
	EnvRefreshQueueSize        = "REFRESH_QUEUE_SIZE"
	EnvMaxAPIRateLimit         = "MAX_API_RATE_LIMIT"
	EnvReplicas                = "REPLICAS"
	EnvMaxAPIBreakerFailures   = "MAX_API_BREAKER_FAILURES"
	EnvMaxAPIBreakerCooldown   = "MAX_API_BREAKER_COOLDOWN"
	EnvRedisBreakerFailures    = "REDIS_BREAKER_FAILURES"
	EnvRedisBreakerCooldown    = "REDIS_BREAKER_COOLDOWN"
	EnvDatabaseBreakerFailures = "DATABASE_BREAKER_FAILURES"
	EnvDatabaseBreakerCooldown = "DATABASE_BREAKER_COOLDOWN"
	EnvMaxHealthInterval       = "MAX_HEALTH_INTERVAL"
	EnvHealthCheckInterval     = "HEALTH_CHECK_INTERVAL"
	EnvHealthCacheTTL          = "HEALTH_CACHE_TTL"
	EnvShutdownTimeout         = "SHUTDOWN_TIMEOUT"
	EnvMigrateTimeout          = "MIGRATE_TIMEOUT"
)

// DefaultMaxAPIURL is the public MAX Bot API.
const DefaultMaxAPIURL = "https://platform-api2.max.ru"

// MaxAPIRateLimitCeiling is the MAX Bot API's own limit in requests per second; chatd must
// stay within it.
const MaxAPIRateLimitCeiling = 30

// MinMaxAPIRateLimit is the slowest MAX rate chatd accepts: one call every ten seconds.
// Slower, almost every refresh would be refused for waiting longer than its deadline.
const MinMaxAPIRateLimit = 0.1

// Config is chatd's validated configuration.
type Config struct {
	HTTPAddr    string
	DatabaseURL string // secret: carries the database password
	RedisURL    string // secret: may carry the Redis password
	MaxAPIURL   string
	MaxAPIToken string // secret

	StaleAfter       time.Duration
	CacheTTL         time.Duration
	LazyUpdate       bool
	CacheErrorPolicy CachePolicy
	// ClockSkewMax is how far in the future an observation time (from Redis or the
	// database) may lie and still be trusted.
	ClockSkewMax time.Duration
	// FailureBackoff is how long a chat's refreshes are suspended after MAX answered
	// not_found or client_error for it.
	FailureBackoff time.Duration

	RedisTimeout    time.Duration
	MaxAPITimeout   time.Duration
	DatabaseTimeout time.Duration
	// DatabaseMaxConns is the size of the database connection pool.
	DatabaseMaxConns int
	// DatabaseMinConns connections are opened before the service serves and kept open, so
	// a request does not pay for opening one (a process started, a password exchange: tens
	// of milliseconds on an idle host, hundreds on a saturated one). DatabaseMaxConns when
	// unset: a fixed-size pool.
	DatabaseMinConns int

	LogFormat LogFormat
	LogLevel  slog.Level

	RefreshWorkers   int
	RefreshQueueSize int
	// MaxAPIRateLimit is in requests per second, for the whole deployment: replicas share
	// it through Redis.
	MaxAPIRateLimit float64
	// Replicas is the expected number of replicas; while Redis cannot be asked, each keeps
	// to MaxAPIRateLimit / Replicas.
	Replicas int

	MaxAPIBreakerFailures   int
	MaxAPIBreakerCooldown   time.Duration
	RedisBreakerFailures    int
	RedisBreakerCooldown    time.Duration
	DatabaseBreakerFailures int
	DatabaseBreakerCooldown time.Duration

	MaxHealthInterval time.Duration
	// HealthCheckInterval is how often chatd checks its dependencies by itself, so
	// dependency_up stays current when nobody calls /health/detailed.
	HealthCheckInterval time.Duration
	// HealthCacheTTL is how long /health/detailed and /readyz reuse their dependency
	// pings; zero pings on every probe.
	HealthCacheTTL  time.Duration
	ShutdownTimeout time.Duration
	// MigrateTimeout bounds applying the migrations, including waiting for the lock held
	// by a concurrent migrate.
	MigrateTimeout time.Duration
}

// Load reads the configuration through getenv (os.Getenv in production; a map in tests).
// An unset or empty variable takes its default. Every number and duration must lie within
// its bounds (see Bounds). All problems are reported at once, joined, each naming its
// variable.
func Load(getenv func(string) string) (Config, error) {
	p := parser{getenv: getenv}
	c := Config{
		HTTPAddr:    p.str(EnvHTTPAddr, ":8080"),
		DatabaseURL: p.required(EnvDatabaseURL),
		RedisURL:    p.required(EnvRedisURL),
		MaxAPIURL:   p.str(EnvMaxAPIURL, DefaultMaxAPIURL),
		MaxAPIToken: p.token(EnvMaxAPIToken),

		StaleAfter:       p.duration(EnvStaleAfter, time.Hour),
		CacheTTL:         p.duration(EnvCacheTTL, 24*time.Hour),
		LazyUpdate:       p.boolean(EnvLazyUpdate, true),
		CacheErrorPolicy: CachePolicy(p.oneOf(EnvCacheErrorPolicy, string(PolicyFallback), string(PolicyFallback), string(PolicyFail))),
		ClockSkewMax:     p.duration(EnvClockSkewMax, 5*time.Second),
		FailureBackoff:   p.duration(EnvFailureBackoff, 10*time.Minute),

		RedisTimeout:    p.duration(EnvRedisTimeout, 100*time.Millisecond),
		MaxAPITimeout:   p.duration(EnvMaxAPITimeout, 2*time.Second),
		DatabaseTimeout: p.duration(EnvDatabaseTimeout, time.Second),

		DatabaseMaxConns: p.integer(EnvDatabaseMaxConns, 10),

		LogFormat: LogFormat(p.oneOf(EnvLogFormat, string(LogJSON), string(LogJSON), string(LogText))),
		LogLevel:  p.level(EnvLogLevel, slog.LevelInfo),

		RefreshWorkers:   p.integer(EnvRefreshWorkers, 4),
		RefreshQueueSize: p.integer(EnvRefreshQueueSize, 1024),
		MaxAPIRateLimit:  p.rate(EnvMaxAPIRateLimit, 20),
		Replicas:         p.integer(EnvReplicas, 1),

		MaxAPIBreakerFailures:   p.integer(EnvMaxAPIBreakerFailures, 5),
		MaxAPIBreakerCooldown:   p.duration(EnvMaxAPIBreakerCooldown, 10*time.Second),
		RedisBreakerFailures:    p.integer(EnvRedisBreakerFailures, 3),
		RedisBreakerCooldown:    p.duration(EnvRedisBreakerCooldown, 2*time.Second),
		DatabaseBreakerFailures: p.integer(EnvDatabaseBreakerFailures, 5),
		DatabaseBreakerCooldown: p.duration(EnvDatabaseBreakerCooldown, time.Second),

		MaxHealthInterval:   p.duration(EnvMaxHealthInterval, 5*time.Second),
		HealthCheckInterval: p.duration(EnvHealthCheckInterval, 10*time.Second),
		HealthCacheTTL:      p.duration(EnvHealthCacheTTL, time.Second),
		ShutdownTimeout:     p.duration(EnvShutdownTimeout, 10*time.Second),
		MigrateTimeout:      p.duration(EnvMigrateTimeout, time.Minute),
	}

	p.url(EnvDatabaseURL, c.DatabaseURL, "postgres", "postgresql")
	p.url(EnvRedisURL, c.RedisURL, "redis", "rediss")
	p.url(EnvMaxAPIURL, c.MaxAPIURL, "http", "https")
	if c.HTTPAddr != "" && !strings.Contains(c.HTTPAddr, ":") {
		p.fail(EnvHTTPAddr, fmt.Sprintf("want host:port or :port, got %q", c.HTTPAddr))
	}
	if !p.failed(EnvStaleAfter) && !p.failed(EnvCacheTTL) && c.CacheTTL <= c.StaleAfter {
		p.fail(EnvCacheTTL, fmt.Sprintf("must be longer than %s (%s), so stale data can be served while MAX is down",
			EnvStaleAfter, c.StaleAfter))
	}
	c.DatabaseMinConns = p.integer(EnvDatabaseMinConns, c.DatabaseMaxConns)
	if !p.failed(EnvDatabaseMinConns) && !p.failed(EnvDatabaseMaxConns) && c.DatabaseMinConns > c.DatabaseMaxConns {
		p.fail(EnvDatabaseMinConns, fmt.Sprintf("must not exceed %s (%d), got %d", EnvDatabaseMaxConns,
			c.DatabaseMaxConns, c.DatabaseMinConns))
	}
	if err := errors.Join(p.errs...); err != nil {
		return Config{}, fmt.Errorf("invalid configuration: %w", err)
	}
	return c, nil
}

// LogValue implements slog.LogValuer so the configuration can be logged at startup
// without its secrets: URLs are reduced to scheme, host and path, the token is omitted.
// Durations are written as Go durations ("100ms"), as they are configured.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("http_addr", c.HTTPAddr),
		slog.String("database", redactURL(c.DatabaseURL)),
		slog.String("redis", redactURL(c.RedisURL)),
		slog.String("max_api_url", redactURL(c.MaxAPIURL)),
		slog.String("stale_after", c.StaleAfter.String()),
		slog.String("cache_ttl", c.CacheTTL.String()),
		slog.Bool("lazy_update", c.LazyUpdate),
		slog.String("cache_error_policy", string(c.CacheErrorPolicy)),
		slog.String("clock_skew_max", c.ClockSkewMax.String()),
		slog.String("failure_backoff", c.FailureBackoff.String()),
		slog.String("redis_timeout", c.RedisTimeout.String()),
		slog.String("max_api_timeout", c.MaxAPITimeout.String()),
		slog.String("database_timeout", c.DatabaseTimeout.String()),
		slog.Int("database_max_conns", c.DatabaseMaxConns),
		slog.Int("database_min_conns", c.DatabaseMinConns),
		slog.Int("refresh_workers", c.RefreshWorkers),
		slog.Int("refresh_queue_size", c.RefreshQueueSize),
		slog.Float64("max_api_rate_limit", c.MaxAPIRateLimit),
		slog.Int("replicas", c.Replicas),
	)
}

// redactURL keeps only the parts of a URL that are safe to log.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// Error is a problem with one variable. Its message never contains the value of a
// secret variable.
type Error struct {
	Var    string
	Reason string
}

// Error implements the error interface.
func (e *Error) Error() string { return e.Var + ": " + e.Reason }

// parser collects the errors of all variables so that one start reports them all.
type parser struct {
	getenv func(string) string
	errs   []error
}

func (p *parser) fail(name, reason string) {
	p.errs = append(p.errs, &Error{Var: name, Reason: reason})
}

// failed reports whether name has a problem already, so that a rule relating two
// variables does not pile a second complaint on a value that was replaced by its default.
func (p *parser) failed(name string) bool {
	for _, err := range p.errs {
		var e *Error
		if errors.As(err, &e) && e.Var == name {
			return true
		}
	}
	return false
}

func (p *parser) str(name, def string) string {
	if v := strings.TrimSpace(p.getenv(name)); v != "" {
		return v
	}
	return def
}

// required returns a secret or mandatory value untrimmed, because whitespace may be part
// of a password; it is never echoed.
func (p *parser) required(name string) string {
	v := p.getenv(name)
	if strings.TrimSpace(v) == "" {
		p.fail(name, "is required")
		return ""
	}
	return v
}

// token returns a bearer secret without the white space around it: a token mounted from
// a file usually ends in a newline, which would otherwise be sent in the Authorization
// header, and which net/http refuses there. A token that is empty once trimmed, or that
// holds a character no header may carry, is refused without being echoed.
func (p *parser) token(name string) string {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		p.fail(name, "is required")
		return ""
	}
	if strings.ContainsFunc(v, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		p.fail(name, "contains a control character (line break, tab or similar) inside the token")
		return ""
	}
	return v
}

// duration parses a Go duration within the bounds of name in Bounds.
func (p *parser) duration(name string, def time.Duration) time.Duration {
	b := durationBound(name)
	v := p.str(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		p.fail(name, fmt.Sprintf("want a Go duration such as 500ms or 2s, got %q", v))
		return def
	}
	if d < b.Min || d > b.Max {
		p.fail(name, fmt.Sprintf("must be between %s and %s, got %q", formatDuration(b.Min), formatDuration(b.Max), v))
		return def
	}
	return d
}

func (p *parser) boolean(name string, def bool) bool {
	v := p.str(name, "")
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.fail(name, fmt.Sprintf("want true or false, got %q", v))
		return def
	}
	return b
}

func (p *parser) oneOf(name, def string, allowed ...string) string {
	v := p.str(name, def)
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return a
		}
	}
	p.fail(name, fmt.Sprintf("want one of %s, got %q", strings.Join(allowed, ", "), v))
	return def
}

func (p *parser) level(name string, def slog.Level) slog.Level {
	v := p.str(name, "")
	if v == "" {
		return def
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(v)); err != nil {
		p.fail(name, fmt.Sprintf("want debug, info, warn or error, got %q", v))
		return def
	}
	return l
}

// integer parses a decimal integer within the bounds of name in Bounds.
func (p *parser) integer(name string, def int) int {
	b := intBound(name)
	v := p.str(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		p.fail(name, fmt.Sprintf("want an integer, got %q", v))
		return def
	}
	if err != nil || n < int64(b.Min) || n > int64(b.Max) {
		p.fail(name, fmt.Sprintf("must be between %d and %d, got %q", b.Min, b.Max, v))
		return def
	}
	return int(n)
}

func (p *parser) rate(name string, def float64) float64 {
	v := p.str(name, "")
	if v == "" {
		return def
	}
	r, err := strconv.ParseFloat(v, 64)
	if (err != nil && !errors.Is(err, strconv.ErrRange)) || math.IsNaN(r) {
		p.fail(name, fmt.Sprintf("want a number of requests per second, got %q", v))
		return def
	}
	if r < MinMaxAPIRateLimit || r > MaxAPIRateLimitCeiling {
		p.fail(name, fmt.Sprintf("must be between %v and %d (the MAX API limit), got %q",
			MinMaxAPIRateLimit, MaxAPIRateLimitCeiling, v))
		return def
	}
	return r
}

// url checks the form of a URL without ever echoing it: it may hold a password, and
// url.Parse errors quote their whole input.
func (p *parser) url(name, raw string, schemes ...string) {
	if raw == "" {
		return
	}
	u, err := url.Parse(raw)
	if err != nil {
		p.fail(name, "is not a valid URL")
		return
	}
	ok := false
	for _, s := range schemes {
		if strings.EqualFold(u.Scheme, s) {
			ok = true
		}
	}
	if !ok {
		p.fail(name, fmt.Sprintf("want a %s:// URL", strings.Join(schemes, ":// or ")))
		return
	}
	if u.Host == "" {
		p.fail(name, "has no host")
	}
}
