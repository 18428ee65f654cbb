package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/faultline/faultline/service/internal/metrics"
)

type pingMode int

const (
	pingOK pingMode = iota
	pingErr
	pingHang
)

func (m pingMode) String() string { return [...]string{"ok", "error", "hang"}[m] }

func (m pingMode) apply(p *fakePinger) {
	switch m {
	case pingErr:
		p.Err = errBoom
	case pingHang:
		p.Hang = true
	}
}

func TestHealthDetailedMatrix(t *testing.T) {
	modes := []pingMode{pingOK, pingErr, pingHang}
	maxes := []struct {
		name  string
		max   MaxHealth
		state string
		up    float64 // -1: gauge not set
	}{
		{"max healthy", fakeMax("healthy"), "healthy", 1},
		{"max unhealthy", fakeMax("unhealthy"), "unhealthy", 0},
		{"max unknown", fakeMax("unknown"), "unknown", -1},
		{"max nonsense", fakeMax("purple"), "unknown", -1},
		{"max absent", nil, "unknown", -1},
	}
	for _, db := range modes {
		for _, redis := range modes {
			for _, mx := range maxes {
				t.Run(db.String()+"/"+redis.String()+"/"+mx.name, func(t *testing.T) {
					e := newTestEnv(t, mx.max)
					db.apply(e.db)
					redis.apply(e.redis)

					start := time.Now()
					rec := e.do(http.MethodGet, "/health/detailed", "")
					if d := time.Since(start); d > 5*time.Second {
						t.Errorf("health took %s; the ping deadlines are 100ms", d)
					}

					wantService, wantStatus := "healthy", http.StatusOK
					switch {
					case db != pingOK:
						wantService, wantStatus = "unhealthy", http.StatusServiceUnavailable
					case redis != pingOK || mx.state == "unhealthy":
						wantService = "degraded"
					}
					state := func(m pingMode) string {
						if m == pingOK {
							return "healthy"
						}
						return "unhealthy"
					}
					if rec.Code != wantStatus {
						t.Errorf("status %d, want %d", rec.Code, wantStatus)
					}
					var body struct {
						Service      string            `json:"service"`
						Timestamp    string            `json:"timestamp"`
						Dependencies map[string]string `json:"dependencies"`
					}
					if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
						t.Fatalf("body %s: %v", rec.Body, err)
					}
					if body.Service != wantService {
						t.Errorf("service %q, want %q", body.Service, wantService)
					}
					if body.Timestamp != "2026-07-01T12:00:00Z" {
						t.Errorf("timestamp %q", body.Timestamp)
					}
					want := map[string]string{"database": state(db), "redis": state(redis), "max_api": mx.state}
					if len(body.Dependencies) != 3 {
						t.Errorf("dependencies %v, want exactly database, redis, max_api", body.Dependencies)
					}
					for k, v := range want {
						if body.Dependencies[k] != v {
							t.Errorf("dependencies[%s] = %q, want %q", k, body.Dependencies[k], v)
						}
					}

					up := func(m pingMode) float64 {
						if m == pingOK {
							return 1
						}
						return 0
					}
					if got := testutil.ToFloat64(e.metrics.DependencyUp.WithLabelValues(metrics.DepDatabase)); got != up(db) {
						t.Errorf("dependency_up{database} = %v, want %v", got, up(db))
					}
					if got := testutil.ToFloat64(e.metrics.DependencyUp.WithLabelValues(metrics.DepRedis)); got != up(redis) {
						t.Errorf("dependency_up{redis} = %v, want %v", got, up(redis))
					}
					var maxUp string
					if mx.up >= 0 {
						maxUp = `dependency_up{dependency="max_api"}`
					}
					exported := gatherText(t, e)
					if maxUp != "" && !strings.Contains(exported, maxUp) {
						t.Errorf("dependency_up{max_api} not exported")
					}
					if maxUp == "" && strings.Contains(exported, `dependency_up{dependency="max_api"}`) {
						t.Errorf("dependency_up{max_api} exported although MAX was never observed")
					}
					if mx.up >= 0 {
						if got := testutil.ToFloat64(e.metrics.DependencyUp.WithLabelValues(metrics.DepMaxAPI)); got != mx.up {
							t.Errorf("dependency_up{max_api} = %v, want %v", got, mx.up)
						}
					}
				})
			}
		}
	}
}

func gatherText(t testing.TB, e *testEnv) string {
	t.Helper()
	rec := e.do(http.MethodGet, "/metrics", "")
	return rec.Body.String()
}

func TestHealthPingsConcurrently(t *testing.T) {
	e := newTestEnv(t, nil)
	dbStarted := make(chan struct{}, 1)
	redisStarted := make(chan struct{}, 1)
	// Each pinger waits for the other to start. Run one after the other, the first would
	// give up at its deadline without seeing the second.
	e.db.Started, e.db.WaitFor = dbStarted, redisStarted
	e.redis.Started, e.redis.WaitFor = redisStarted, dbStarted
	if rec := e.do(http.MethodGet, "/health/detailed", ""); rec.Code != http.StatusOK {
		t.Fatalf("status %d body %s", rec.Code, rec.Body)
	}
	if !e.db.SawOther || !e.redis.SawOther {
		t.Errorf("pings did not overlap (database saw redis: %v, redis saw database: %v)", e.db.SawOther, e.redis.SawOther)
	}
}
