package matrix

import "time"

// The service settings the rows are written against. Latency bounds, recovery times and seed
// ages are derived from them, so scenarios must start the service with BaseEnv.
const (
	staleAfter      = time.Hour
	cacheTTL        = 24 * time.Hour
	redisTimeout    = 200 * time.Millisecond
	maxTimeout      = time.Second
	databaseTimeout = 500 * time.Millisecond
	breakerCooldown = 2 * time.Second
	healthInterval  = 2 * time.Second
	clockSkewMax    = 5 * time.Minute
)

// BaseEnv returns the environment the rows assume, on top of the addresses and token the
// environment provides. The contract's variables come first; the rest are the reference
// service's and are ignored by other implementations, which is why bounds that depend on them
// (recovery times) are generous.
func BaseEnv() map[string]string {
	return map[string]string{
		"PARTICIPANTS_STALE_AFTER":        formatDuration(staleAfter),
		"PARTICIPANTS_CACHE_TTL":          formatDuration(cacheTTL),
		"PARTICIPANTS_LAZY_UPDATE":        "true",
		"PARTICIPANTS_CACHE_ERROR_POLICY": "fallback",
		"REDIS_TIMEOUT":                   formatDuration(redisTimeout),
		"MAX_API_TIMEOUT":                 formatDuration(maxTimeout),
		"DATABASE_TIMEOUT":                formatDuration(databaseTimeout),
		"LOG_FORMAT":                      "json",
		// Debug level, because "Participants refreshed" is a debug record some rows expect.
		"LOG_LEVEL":                 "debug",
		"MAX_API_BREAKER_FAILURES":  "5",
		"MAX_API_BREAKER_COOLDOWN":  formatDuration(breakerCooldown),
		"REDIS_BREAKER_FAILURES":    "3",
		"REDIS_BREAKER_COOLDOWN":    formatDuration(breakerCooldown),
		"DATABASE_BREAKER_FAILURES": "5",
		"DATABASE_BREAKER_COOLDOWN": "1s",
		"MAX_HEALTH_INTERVAL":       formatDuration(healthInterval),
		// The racing-writer rows (rows_race.go) seed another replica's observation up to a
		// minute ahead of the service's clock and expect it kept as newer; the reference
		// service distrusts times further ahead than CLOCK_SKEW_MAX (5s by default), so the
		// rows run with an allowance that covers their minute.
		"CLOCK_SKEW_MAX": formatDuration(clockSkewMax),
		// The reference opens its whole pool (10) before it serves by default. Rows run
		// side by side on two cores, and a connection costs 20 to 40 ms of CPU (PostgreSQL
		// starting a backend, the client's SCRAM exchange under -race), all at once at each of
		// the matrix's hundred-odd starts of the service: ten took the -race suite from
		// 3m24s to 4m40s, and the burst stalls the requests of the rows beside it. Two keep
		// the service's first health check and request from opening one.
		"DATABASE_MIN_CONNS": "2",
	}
}
