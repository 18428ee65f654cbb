package config

import (
	"errors"
	"log/slog"
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
		RedisTimeout:            100 * time.Millisecond,
		MaxAPITimeout:           2 * time.Second,
		DatabaseTimeout:         time.Second,
		LogFormat:               LogJSON,
		LogLevel:                slog.LevelInfo,
		RefreshWorkers:          4,
		RefreshQueueSize:        1024,
		MaxAPIRateLimit:         20,
		MaxAPIBreakerFailures:   5,
		MaxAPIBreakerCooldown:   10 * time.Second,
		RedisBreakerFailures:    3,
		RedisBreakerCooldown:    2 * time.Second,
		DatabaseBreakerFailures: 5,
		DatabaseBreakerCooldown: time.Second,
		MaxHealthInterval:       5 * time.Second,
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
		EnvRedisTimeout:            "50ms",
		EnvMaxAPITimeout:           "1s",
		EnvDatabaseTimeout:         "250ms",
		EnvLogFormat:               "TEXT",
		EnvLogLevel:                "debug",
		EnvRefreshWorkers:          "2",
		EnvRefreshQueueSize:        "10",
		EnvMaxAPIRateLimit:         "29.5",
		EnvMaxAPIBreakerFailures:   "7",
		EnvMaxAPIBreakerCooldown:   "3s",
		EnvRedisBreakerFailures:    "1",
		EnvRedisBreakerCooldown:    "500ms",
		EnvDatabaseBreakerFailures: "2",
		EnvDatabaseBreakerCooldown: "4s",
		EnvMaxHealthInterval:       "1s",
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
		{"RedisTimeout", c.RedisTimeout, 50 * time.Millisecond},
		{"MaxAPITimeout", c.MaxAPITimeout, time.Second},
		{"DatabaseTimeout", c.DatabaseTimeout, 250 * time.Millisecond},
		{"LogFormat", c.LogFormat, LogText},
		{"LogLevel", c.LogLevel, slog.LevelDebug},
		{"RefreshWorkers", c.RefreshWorkers, 2},
		{"RefreshQueueSize", c.RefreshQueueSize, 10},
		{"MaxAPIRateLimit", c.MaxAPIRateLimit, 29.5},
		{"MaxAPIBreakerFailures", c.MaxAPIBreakerFailures, 7},
		{"MaxAPIBreakerCooldown", c.MaxAPIBreakerCooldown, 3 * time.Second},
		{"RedisBreakerFailures", c.RedisBreakerFailures, 1},
		{"RedisBreakerCooldown", c.RedisBreakerCooldown, 500 * time.Millisecond},
		{"DatabaseBreakerFailures", c.DatabaseBreakerFailures, 2},
		{"DatabaseBreakerCooldown", c.DatabaseBreakerCooldown, 4 * time.Second},
		{"MaxHealthInterval", c.MaxHealthInterval, time.Second},
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
		{"database url scheme", map[string]string{EnvDatabaseURL: "mysql://u:" + secretPassword + "@h/db"}, EnvDatabaseURL, "postgres://"},
		{"database url unparsable", map[string]string{EnvDatabaseURL: "postgres://u:" + secretPassword + "@h:port:x/%zz"}, EnvDatabaseURL, "not a valid URL"},
		{"database url without host", map[string]string{EnvDatabaseURL: "postgres:///db"}, EnvDatabaseURL, "no host"},
		{"redis url scheme", map[string]string{EnvRedisURL: "http://127.0.0.1:6379"}, EnvRedisURL, "redis://"},
		{"max url scheme", map[string]string{EnvMaxAPIURL: "ftp://x"}, EnvMaxAPIURL, "http://"},
		{"max url relative", map[string]string{EnvMaxAPIURL: "/api"}, EnvMaxAPIURL, ""},
		{"http addr", map[string]string{EnvHTTPAddr: "8080"}, EnvHTTPAddr, "host:port"},
		{"bad duration", map[string]string{EnvRedisTimeout: "100"}, EnvRedisTimeout, "duration"},
		{"zero duration", map[string]string{EnvDatabaseTimeout: "0s"}, EnvDatabaseTimeout, "greater than zero"},
		{"negative duration", map[string]string{EnvMaxAPITimeout: "-1s"}, EnvMaxAPITimeout, "greater than zero"},
		{"zero stale after", map[string]string{EnvStaleAfter: "0"}, EnvStaleAfter, "greater than zero"},
		{"ttl equal to stale after", map[string]string{EnvStaleAfter: "1h", EnvCacheTTL: "1h"}, EnvCacheTTL, EnvStaleAfter},
		{"ttl shorter than stale after", map[string]string{EnvCacheTTL: "30m"}, EnvCacheTTL, "longer"},
		{"lazy update", map[string]string{EnvLazyUpdate: "maybe"}, EnvLazyUpdate, "true or false"},
		{"policy", map[string]string{EnvCacheErrorPolicy: "ignore"}, EnvCacheErrorPolicy, "fallback, fail"},
		{"log format", map[string]string{EnvLogFormat: "xml"}, EnvLogFormat, "json, text"},
		{"log level", map[string]string{EnvLogLevel: "loud"}, EnvLogLevel, "debug"},
		{"workers zero", map[string]string{EnvRefreshWorkers: "0"}, EnvRefreshWorkers, "positive"},
		{"workers text", map[string]string{EnvRefreshWorkers: "four"}, EnvRefreshWorkers, "positive"},
		{"queue negative", map[string]string{EnvRefreshQueueSize: "-5"}, EnvRefreshQueueSize, "positive"},
		{"queue overflow", map[string]string{EnvRefreshQueueSize: "99999999999"}, EnvRefreshQueueSize, "positive"},
		{"rate above MAX limit", map[string]string{EnvMaxAPIRateLimit: "31"}, EnvMaxAPIRateLimit, "at most 30"},
		{"rate zero", map[string]string{EnvMaxAPIRateLimit: "0"}, EnvMaxAPIRateLimit, "positive"},
		{"rate NaN", map[string]string{EnvMaxAPIRateLimit: "NaN"}, EnvMaxAPIRateLimit, "positive"},
		{"rate Inf", map[string]string{EnvMaxAPIRateLimit: "+Inf"}, EnvMaxAPIRateLimit, "at most 30"},
		{"max breaker failures", map[string]string{EnvMaxAPIBreakerFailures: "0"}, EnvMaxAPIBreakerFailures, "positive"},
		{"redis breaker failures", map[string]string{EnvRedisBreakerFailures: "x"}, EnvRedisBreakerFailures, "positive"},
		{"database breaker failures", map[string]string{EnvDatabaseBreakerFailures: "-1"}, EnvDatabaseBreakerFailures, "positive"},
		{"redis cooldown", map[string]string{EnvRedisBreakerCooldown: "0s"}, EnvRedisBreakerCooldown, "greater than zero"},
		{"max cooldown", map[string]string{EnvMaxAPIBreakerCooldown: "soon"}, EnvMaxAPIBreakerCooldown, "duration"},
		{"database cooldown", map[string]string{EnvDatabaseBreakerCooldown: "-2s"}, EnvDatabaseBreakerCooldown, "greater than zero"},
		{"health interval below minimum", map[string]string{EnvMaxHealthInterval: "500ms"}, EnvMaxHealthInterval, "at least 1s"},
		{"shutdown timeout", map[string]string{EnvShutdownTimeout: "0"}, EnvShutdownTimeout, "greater than zero"},
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
	if !strings.Contains(out, "127.0.0.1:5432") {
		t.Errorf("logged config should keep the database host: %s", out)
	}
}
