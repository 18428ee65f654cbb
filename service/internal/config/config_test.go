package config

import (
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	secretToken    = "tok-SECRET-123"
	secretPassword = "pw-SECRET-456"
)

// env returns a getenv over the minimal valid environment with overrides applied; an
// override with an empty value unsets the variable.
func env(overrides map[string]string) func(string) string {
	m := map[string]string{
		EnvDatabaseURL: "postgres://chat:" + secretPassword + "@127.0.0.1:5432/chat?sslmode=disable",
		EnvRedisURL:    "redis://127.0.0.1:6379/0",
		EnvMaxAPIToken: secretToken,
	}
	for k, v := range overrides {
		m[k] = v
	}
	return func(k string) string { return m[k] }
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Config{
		HTTPAddr:                ":8080",
		DatabaseURL:             "postgres://chat:" + secretPassword + "@127.0.0.1:5432/chat?sslmode=disable",
		RedisURL:                "redis://127.0.0.1:6379/0",
		MaxAPIURL:               DefaultMaxAPIURL,
		MaxAPIToken:             secretToken,
		StaleAfter:              time.Hour,
		CacheTTL:                24 * time.Hour,
		LazyUpdate:              true,
		CacheErrorPolicy:        PolicyFallback,
		ClockSkewMax:            5 * time.Second,
		FailureBackoff:          10 * time.Minute,
		RedisTimeout:            100 * time.Millisecond,
		MaxAPITimeout:           2 * time.Second,
		DatabaseTimeout:         time.Second,
		DatabaseMaxConns:        10,
		DatabaseMinConns:        10,
		LogFormat:               LogJSON,
		LogLevel:                slog.LevelInfo,
		RefreshWorkers:          4,
		RefreshQueueSize:        1024,
		MaxAPIRateLimit:         20,
		Replicas:                1,
		MaxAPIBreakerFailures:   5,
		MaxAPIBreakerCooldown:   10 * time.Second,
		RedisBreakerFailures:    3,
		RedisBreakerCooldown:    2 * time.Second,
		DatabaseBreakerFailures: 5,
		DatabaseBreakerCooldown: time.Second,
		MaxHealthInterval:       5 * time.Second,
		HealthCheckInterval:     10 * time.Second,
		HealthCacheTTL:          time.Second,
		ShutdownTimeout:         10 * time.Second,
		MigrateTimeout:          time.Minute,
	}
	if c != want {
		t.Errorf("Load defaults:\n got %+v\nwant %+v", c, want)
	}
}

func TestLoadOverrides(t *testing.T) {
	c, err := Load(env(map[string]string{
		EnvHTTPAddr:                "127.0.0.1:9000",
		EnvMaxAPIURL:               "http://127.0.0.1:8081",
		EnvStaleAfter:              "30s",
		EnvCacheTTL:                "1m",
		EnvLazyUpdate:              "false",
		EnvCacheErrorPolicy:        "fail",
		EnvClockSkewMax:            "250ms",
		EnvFailureBackoff:          "90s",
		EnvRedisTimeout:            "50ms",
		EnvMaxAPITimeout:           "1s",
		EnvDatabaseTimeout:         "250ms",
		EnvDatabaseMaxConns:        "25",
		EnvDatabaseMinConns:        "3",
		EnvLogFormat:               "TEXT",
		EnvLogLevel:                "debug",
		EnvRefreshWorkers:          "2",
		EnvRefreshQueueSize:        "10",
		EnvMaxAPIRateLimit:         "29.5",
		EnvReplicas:                "3",
		EnvMaxAPIBreakerFailures:   "7",
		EnvMaxAPIBreakerCooldown:   "3s",
		EnvRedisBreakerFailures:    "1",
		EnvRedisBreakerCooldown:    "500ms",
		EnvDatabaseBreakerFailures: "2",
		EnvDatabaseBreakerCooldown: "4s",
		EnvMaxHealthInterval:       "1s",
		EnvHealthCheckInterval:     "2s",
		EnvHealthCacheTTL:          "0s",
		EnvShutdownTimeout:         "3s",
		EnvMigrateTimeout:          "9s",
	}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"HTTPAddr", c.HTTPAddr, "127.0.0.1:9000"},
		{"MaxAPIURL", c.MaxAPIURL, "http://127.0.0.1:8081"},
		{"StaleAfter", c.StaleAfter, 30 * time.Second},
		{"CacheTTL", c.CacheTTL, time.Minute},
		{"LazyUpdate", c.LazyUpdate, false},
		{"CacheErrorPolicy", c.CacheErrorPolicy, PolicyFail},
		{"ClockSkewMax", c.ClockSkewMax, 250 * time.Millisecond},
		{"FailureBackoff", c.FailureBackoff, 90 * time.Second},
		{"RedisTimeout", c.RedisTimeout, 50 * time.Millisecond},
		{"MaxAPITimeout", c.MaxAPITimeout, time.Second},
		{"DatabaseTimeout", c.DatabaseTimeout, 250 * time.Millisecond},
		{"DatabaseMaxConns", c.DatabaseMaxConns, 25},
		{"DatabaseMinConns", c.DatabaseMinConns, 3},
		{"LogFormat", c.LogFormat, LogText},
		{"LogLevel", c.LogLevel, slog.LevelDebug},
		{"RefreshWorkers", c.RefreshWorkers, 2},
		{"RefreshQueueSize", c.RefreshQueueSize, 10},
		{"MaxAPIRateLimit", c.MaxAPIRateLimit, 29.5},
		{"Replicas", c.Replicas, 3},
		{"MaxAPIBreakerFailures", c.MaxAPIBreakerFailures, 7},
		{"MaxAPIBreakerCooldown", c.MaxAPIBreakerCooldown, 3 * time.Second},
		{"RedisBreakerFailures", c.RedisBreakerFailures, 1},
		{"RedisBreakerCooldown", c.RedisBreakerCooldown, 500 * time.Millisecond},
		{"DatabaseBreakerFailures", c.DatabaseBreakerFailures, 2},
		{"DatabaseBreakerCooldown", c.DatabaseBreakerCooldown, 4 * time.Second},
		{"MaxHealthInterval", c.MaxHealthInterval, time.Second},
		{"HealthCheckInterval", c.HealthCheckInterval, 2 * time.Second},
		{"HealthCacheTTL", c.HealthCacheTTL, time.Duration(0)},
		{"ShutdownTimeout", c.ShutdownTimeout, 3 * time.Second},
		{"MigrateTimeout", c.MigrateTimeout, 9 * time.Second},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestLoadRejects(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantVar string
		// wantIn is a fragment the message must contain.
		wantIn string
	}{
		{"missing database url", map[string]string{EnvDatabaseURL: ""}, EnvDatabaseURL, "required"},
		{"blank database url", map[string]string{EnvDatabaseURL: "   "}, EnvDatabaseURL, "required"},
		{"missing redis url", map[string]string{EnvRedisURL: ""}, EnvRedisURL, "required"},
		{"missing token", map[string]string{EnvMaxAPIToken: ""}, EnvMaxAPIToken, "required"},
		{"blank token", map[string]string{EnvMaxAPIToken: " \n\t "}, EnvMaxAPIToken, "required"},
		{"token with a line break inside", map[string]string{EnvMaxAPIToken: secretToken + "\n" + secretToken}, EnvMaxAPIToken, "control character"},
		{"database url scheme", map[string]string{EnvDatabaseURL: "mysql://u:" + secretPassword + "@h/db"}, EnvDatabaseURL, "postgres://"},
		{"database url unparsable", map[string]string{EnvDatabaseURL: "postgres://u:" + secretPassword + "@h:port:x/%zz"}, EnvDatabaseURL, "not a valid URL"},
		{"database url without host", map[string]string{EnvDatabaseURL: "postgres:///db"}, EnvDatabaseURL, "no host"},
		{"redis url scheme", map[string]string{EnvRedisURL: "http://127.0.0.1:6379"}, EnvRedisURL, "redis://"},
		{"max url scheme", map[string]string{EnvMaxAPIURL: "ftp://x"}, EnvMaxAPIURL, "http://"},
		{"max url relative", map[string]string{EnvMaxAPIURL: "/api"}, EnvMaxAPIURL, ""},
		{"http addr", map[string]string{EnvHTTPAddr: "8080"}, EnvHTTPAddr, "host:port"},
		{"bad duration", map[string]string{EnvRedisTimeout: "100"}, EnvRedisTimeout, "duration"},
		{"zero duration", map[string]string{EnvDatabaseTimeout: "0s"}, EnvDatabaseTimeout, "between 1ms and 10s"},
		{"negative duration", map[string]string{EnvMaxAPITimeout: "-1s"}, EnvMaxAPITimeout, "between 1ms and 30s"},
		{"zero stale after", map[string]string{EnvStaleAfter: "0"}, EnvStaleAfter, "between 1s and 168h"},
		{"ttl equal to stale after", map[string]string{EnvStaleAfter: "1h", EnvCacheTTL: "1h"}, EnvCacheTTL, EnvStaleAfter},
		{"ttl shorter than stale after", map[string]string{EnvCacheTTL: "30m"}, EnvCacheTTL, "longer"},
		{"lazy update", map[string]string{EnvLazyUpdate: "maybe"}, EnvLazyUpdate, "true or false"},
		{"policy", map[string]string{EnvCacheErrorPolicy: "ignore"}, EnvCacheErrorPolicy, "fallback, fail"},
		{"log format", map[string]string{EnvLogFormat: "xml"}, EnvLogFormat, "json, text"},
		{"log level", map[string]string{EnvLogLevel: "loud"}, EnvLogLevel, "debug"},
		{"workers zero", map[string]string{EnvRefreshWorkers: "0"}, EnvRefreshWorkers, "between 1 and 64"},
		{"workers text", map[string]string{EnvRefreshWorkers: "four"}, EnvRefreshWorkers, "integer"},
		{"queue negative", map[string]string{EnvRefreshQueueSize: "-5"}, EnvRefreshQueueSize, "between 1 and 100000"},
		{"queue overflow", map[string]string{EnvRefreshQueueSize: "99999999999999999999"}, EnvRefreshQueueSize, "between 1 and 100000"},
		// The largest int32 used to pass, and allocated a queue of 32 GiB.
		{"queue of 2^31-1", map[string]string{EnvRefreshQueueSize: "2147483647"}, EnvRefreshQueueSize, "between 1 and 100000"},
		{"health check every nanosecond", map[string]string{EnvHealthCheckInterval: "1ns"}, EnvHealthCheckInterval, "between 1s and 1h"},
		{"rate above MAX limit", map[string]string{EnvMaxAPIRateLimit: "31"}, EnvMaxAPIRateLimit, "between 0.1 and 30"},
		{"rate zero", map[string]string{EnvMaxAPIRateLimit: "0"}, EnvMaxAPIRateLimit, "between 0.1 and 30"},
		{"rate too slow", map[string]string{EnvMaxAPIRateLimit: "1e-300"}, EnvMaxAPIRateLimit, "between 0.1 and 30"},
		{"rate NaN", map[string]string{EnvMaxAPIRateLimit: "NaN"}, EnvMaxAPIRateLimit, "number of requests"},
		{"rate Inf", map[string]string{EnvMaxAPIRateLimit: "+Inf"}, EnvMaxAPIRateLimit, "between 0.1 and 30"},
		{"rate overflow", map[string]string{EnvMaxAPIRateLimit: "1e400"}, EnvMaxAPIRateLimit, "between 0.1 and 30"},
		{"max breaker failures", map[string]string{EnvMaxAPIBreakerFailures: "0"}, EnvMaxAPIBreakerFailures, "between 1 and 1000"},
		{"redis breaker failures", map[string]string{EnvRedisBreakerFailures: "x"}, EnvRedisBreakerFailures, "integer"},
		{"min conns above max conns", map[string]string{EnvDatabaseMaxConns: "4", EnvDatabaseMinConns: "5"}, EnvDatabaseMinConns, "must not exceed DATABASE_MAX_CONNS (4)"},
		{"min conns negative", map[string]string{EnvDatabaseMinConns: "-1"}, EnvDatabaseMinConns, "between 0 and 1000"},
		{"database breaker failures", map[string]string{EnvDatabaseBreakerFailures: "-1"}, EnvDatabaseBreakerFailures, "between 1 and 1000"},
		{"redis cooldown", map[string]string{EnvRedisBreakerCooldown: "0s"}, EnvRedisBreakerCooldown, "between 100ms and 10m"},
		{"max cooldown", map[string]string{EnvMaxAPIBreakerCooldown: "soon"}, EnvMaxAPIBreakerCooldown, "duration"},
		{"database cooldown", map[string]string{EnvDatabaseBreakerCooldown: "-2s"}, EnvDatabaseBreakerCooldown, "between 100ms and 10m"},
		{"health interval below minimum", map[string]string{EnvMaxHealthInterval: "500ms"}, EnvMaxHealthInterval, "between 1s and 1h"},
		{"shutdown timeout", map[string]string{EnvShutdownTimeout: "0"}, EnvShutdownTimeout, "between 1s and 10m"},
		{"migrate timeout", map[string]string{EnvMigrateTimeout: "x"}, EnvMigrateTimeout, "duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(env(tt.env))
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *config.Error", err)
			}
			if ce.Var != tt.wantVar {
				t.Errorf("error names %s, want %s (%v)", ce.Var, tt.wantVar, err)
			}
			if !strings.Contains(err.Error(), tt.wantVar) || !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("error %q should name %s and say %q", err, tt.wantVar, tt.wantIn)
			}
			for _, secret := range []string{secretToken, secretPassword} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q leaks a secret", err)
				}
			}
		})
	}
}

// TestBounds checks every bounded variable at both ends of its range and just outside
// them: inside it is taken, outside it is refused with an error naming the variable.
func TestBounds(t *testing.T) {
	type probe struct {
		value string
		ok    bool
	}
	cases := map[string][]probe{}
	for name, b := range DurationBounds {
		cases[name] = []probe{
			{b.Min.String(), true}, {b.Max.String(), true},
			{(b.Min - time.Nanosecond).String(), false}, {(b.Max + time.Nanosecond).String(), false},
		}
	}
	for name, b := range IntBounds {
		cases[name] = []probe{
			{strconv.Itoa(b.Min), true}, {strconv.Itoa(b.Max), true},
			{strconv.Itoa(b.Min - 1), false}, {strconv.Itoa(b.Max + 1), false},
		}
	}
	cases[EnvMaxAPIRateLimit] = []probe{{"0.1", true}, {"30", true}, {"0.099", false}, {"30.01", false}}
	for name, probes := range cases {
		for _, pr := range probes {
			t.Run(name+"="+pr.value, func(t *testing.T) {
				overrides := map[string]string{name: pr.value}
				// The cache TTL must exceed the stale age: keep the other one out of the way.
				switch name {
				case EnvStaleAfter:
					overrides[EnvCacheTTL] = DurationBounds[EnvCacheTTL].Max.String()
				case EnvCacheTTL:
					overrides[EnvStaleAfter] = DurationBounds[EnvStaleAfter].Min.String()
				case EnvDatabaseMinConns:
					// Nor may the pool's minimum exceed its size.
					overrides[EnvDatabaseMaxConns] = strconv.Itoa(IntBounds[EnvDatabaseMaxConns].Max)
				}
				_, err := Load(env(overrides))
				if pr.ok && err != nil {
					t.Fatalf("Load refused a value in range: %v", err)
				}
				if !pr.ok {
					var ce *Error
					if !errors.As(err, &ce) || ce.Var != name || !strings.Contains(err.Error(), "between") {
						t.Fatalf("Load error = %v, want one naming %s and its range", err, name)
					}
				}
			})
		}
	}
}

func TestEveryDurationAndIntegerVariableIsBounded(t *testing.T) {
	// Load asks for the bounds of every variable it reads as a number; a missing entry
	// panics. Setting every variable at once proves each is read through a bounded parser.
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("a numeric variable has no bounds: %v", r)
		}
	}()
	if _, err := Load(env(nil)); err != nil {
		t.Fatal(err)
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	_, err := Load(env(map[string]string{
		EnvDatabaseURL:  "",
		EnvRedisTimeout: "x",
		EnvLogFormat:    "xml",
	}))
	if err == nil {
		t.Fatal("Load succeeded, want an error")
	}
	for _, name := range []string{EnvDatabaseURL, EnvRedisTimeout, EnvLogFormat} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
}

// TestTokenIsTrimmed checks that a token read from a mounted secret, which ends in a
// newline, is used without it.
func TestTokenIsTrimmed(t *testing.T) {
	for _, raw := range []string{secretToken + "\n", "  " + secretToken + "\r\n", "\t" + secretToken} {
		c, err := Load(env(map[string]string{EnvMaxAPIToken: raw}))
		if err != nil {
			t.Fatalf("Load with token %q: %v", raw, err)
		}
		if c.MaxAPIToken != secretToken {
			t.Errorf("token %q loaded as %q, want %q", raw, c.MaxAPIToken, secretToken)
		}
	}
}

func TestLogValueHidesSecrets(t *testing.T) {
	c, err := Load(env(map[string]string{EnvRedisURL: "redis://:" + secretPassword + "@127.0.0.1:6379/0"}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	var sb strings.Builder
	slog.New(slog.NewJSONHandler(&sb, nil)).Info("config", "config", c)
	out := sb.String()
	for _, secret := range []string{secretToken, secretPassword} {
		if strings.Contains(out, secret) {
			t.Errorf("logged config leaks a secret: %s", out)
		}
	}
	if !strings.Contains(out, "127.0.0.1:5432") || !strings.Contains(out, `"redis_timeout":"100ms"`) {
		t.Errorf("logged config should keep the database host and readable durations: %s", out)
	}
}

// An unset DATABASE_MIN_CONNS follows DATABASE_MAX_CONNS (a fixed-size pool), and zero
// keeps no connection open ahead of need.
func TestMinConnsFollowMaxConns(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want int
	}{
		{map[string]string{EnvDatabaseMaxConns: "3"}, 3},
		{map[string]string{EnvDatabaseMaxConns: "3", EnvDatabaseMinConns: "0"}, 0},
		{map[string]string{EnvDatabaseMaxConns: "3", EnvDatabaseMinConns: "3"}, 3},
	} {
		c, err := Load(env(tc.env))
		if err != nil {
			t.Fatalf("Load(%v): %v", tc.env, err)
		}
		if c.DatabaseMinConns != tc.want {
			t.Errorf("Load(%v): DatabaseMinConns %d, want %d", tc.env, c.DatabaseMinConns, tc.want)
		}
	}
}
