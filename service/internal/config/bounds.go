package config

import (
	"fmt"
	"strings"
	"time"
)

// Range is the closed interval a numeric setting must lie in.
type Range[T int | time.Duration] struct {
	Min, Max T
}

// DurationBounds are the ranges of the duration variables. They keep every setting
// within what the service can act on: a timeout or interval of a nanosecond would spin,
// one of years would never fire.
var DurationBounds = map[string]Range[time.Duration]{
	EnvStaleAfter:              {time.Second, 7 * 24 * time.Hour},
	EnvCacheTTL:                {2 * time.Second, 30 * 24 * time.Hour},
	EnvClockSkewMax:            {0, time.Hour},
	EnvFailureBackoff:          {time.Second, 24 * time.Hour},
	EnvRedisTimeout:            {time.Millisecond, 10 * time.Second},
	EnvMaxAPITimeout:           {time.Millisecond, 30 * time.Second},
	EnvDatabaseTimeout:         {time.Millisecond, 10 * time.Second},
	EnvMaxAPIBreakerCooldown:   {100 * time.Millisecond, 10 * time.Minute},
	EnvRedisBreakerCooldown:    {100 * time.Millisecond, 10 * time.Minute},
	EnvDatabaseBreakerCooldown: {100 * time.Millisecond, 10 * time.Minute},
	EnvMaxHealthInterval:       {time.Second, time.Hour},
	EnvHealthCheckInterval:     {time.Second, time.Hour},
	EnvHealthCacheTTL:          {0, time.Minute},
	EnvShutdownTimeout:         {time.Second, 10 * time.Minute},
	EnvMigrateTimeout:          {time.Second, time.Hour},
}

// IntBounds are the ranges of the integer variables. Sizes are bounded by what they
// allocate or open (a queue slot, a goroutine, a connection), counts by what still means
// something (a breaker that needs a million failures never opens).
var IntBounds = map[string]Range[int]{
	EnvRefreshWorkers:          {1, 64},
	EnvReplicas:                {1, 100},
	EnvDatabaseMaxConns:        {1, 1000},
	EnvDatabaseMinConns:        {0, 1000},
	EnvRefreshQueueSize:        {1, 100_000},
	EnvMaxAPIBreakerFailures:   {1, 1000},
	EnvRedisBreakerFailures:    {1, 1000},
	EnvDatabaseBreakerFailures: {1, 1000},
}

// durationBound returns the range of a duration variable. Every variable read as a
// duration has one; a missing entry is a bug, caught by the first Load in any test.
func durationBound(name string) Range[time.Duration] {
	b, ok := DurationBounds[name]
	if !ok {
		panic(fmt.Sprintf("config: no bounds for duration variable %s", name))
	}
	return b
}

// intBound returns the range of an integer variable, like durationBound.
func intBound(name string) Range[int] {
	b, ok := IntBounds[name]
	if !ok {
		panic(fmt.Sprintf("config: no bounds for integer variable %s", name))
	}
	return b
}

// formatDuration writes d as it would be configured: 168h, not 168h0m0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
