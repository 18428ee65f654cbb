package matrix

// Metric names the rows refer to. The first four are the contract's; the others are the
// reference service's, and expectations on them are marked Reference.
const (
	MetricCacheErrors    = "participants_cache_errors_total"
	MetricMaxErrors      = "participants_max_api_errors_total"
	MetricFallback       = "participants_fallback_usage_total"
	MetricFreshness      = "participants_data_freshness_seconds"
	MetricHTTPRequests   = "http_requests_total"
	MetricHTTPDuration   = "http_request_duration_seconds"
	MetricBreakerState   = "circuit_breaker_state"
	MetricRefresh        = "participants_refresh_total"
	MetricRefreshDropped = "participants_refresh_dropped_total"
	MetricCacheCorrupt   = "participants_cache_corrupt_entries_total"
	MetricFutureTimes    = "participants_future_timestamps_total"
	metricQuotaLocal     = "participants_rate_limit_local_total"
	// The Go and process collectors' gauges of the service's own resources.
	MetricGoroutines = "go_goroutines"
	MetricOpenFDs    = "process_open_fds"
)

// Log messages the rows refer to. LogFallback is the contract's; the others are the reference
// service's.
const (
	LogFallback           = "Using fallback data source"
	LogMaxFailed          = "MAX API call failed"
	LogCacheFailed        = "Cache operation failed"
	LogBreaker            = "Circuit breaker state changed"
	LogRefreshed          = "Participants refreshed"
	LogHTTPRequest        = "HTTP request"
	logQuotaLocal         = "Shared MAX rate limit unavailable, using this replica's share"
	LevelDebug            = "DEBUG"
	LevelInfo             = "INFO"
	LevelWarn             = "WARN"
	LevelError            = "ERROR"
	FallbackCache         = "cache_unavailable"
	FallbackMax           = "max_api_unavailable"
	DroppedBackoff        = "failure_backoff"
	DroppedLocalRateLimit = "local_rate_limit"
	HealthHealthy         = "healthy"
	HealthDegraded        = "degraded"
	HealthUnhealthy       = "unhealthy"
	RetryAfterHeader      = "Retry-After"
)
