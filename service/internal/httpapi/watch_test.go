package httpapi

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/faultline/faultline/service/internal/metrics"
)

// TestWatchHealthKeepsDependencyUpCurrent checks that dependency_up follows the
// dependencies with nobody calling /health/detailed, and that WatchHealth returns when
// its context ends.
func TestWatchHealthKeepsDependencyUpCurrent(t *testing.T) {
	e := newTestEnv(t, fakeMax("healthy"))
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { e.api.WatchHealth(ctx, 10*time.Millisecond) })
	defer func() { cancel(); wg.Wait() }()

	up := func(dep string) float64 { return testutil.ToFloat64(e.metrics.DependencyUp.WithLabelValues(dep)) }
	waitFor(t, func() bool {
		return up(metrics.DepRedis) == 1 && up(metrics.DepDatabase) == 1 && up(metrics.DepMaxAPI) == 1
	},
		"every dependency reported up")

	e.redis.SetErr(errBoom)
	waitFor(t, func() bool { return up(metrics.DepRedis) == 0 }, "redis reported down")
	if up(metrics.DepDatabase) != 1 {
		t.Error("a Redis failure marked the database down")
	}
	waitFor(t, func() bool { return strings.Contains(e.logs.String(), `"to":"degraded"`) },
		"the change to degraded logged")

	e.redis.SetErr(nil)
	waitFor(t, func() bool { return up(metrics.DepRedis) == 1 }, "redis reported up again")

	cancel()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("WatchHealth did not return after its context ended")
	}
}

// TestCheckHealthLeavesUnknownMaxUnset checks that a MAX never observed exports no
// dependency_up series: a 0 there would fire ParticipantsMaxAPIDown on an idle instance.
func TestCheckHealthLeavesUnknownMaxUnset(t *testing.T) {
	e := newTestEnv(t, fakeMax("unknown"))
	r := e.api.CheckHealth(t.Context())
	if r.MaxAPI != StatusUnknown || r.Service != StatusHealthy {
		t.Errorf("report = %+v, want max unknown and service healthy", r)
	}
	if n := testutil.CollectAndCount(e.metrics.DependencyUp); n != 2 {
		t.Errorf("dependency_up has %d series, want 2 (database and redis only)", n)
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// firstHangsPinger's first ping waits for release and then fails; every later one answers.
type firstHangsPinger struct {
	calls   atomic.Int32
	started chan struct{}
	release chan struct{}
}

func (p *firstHangsPinger) Ping(ctx context.Context) error {
	if p.calls.Add(1) > 1 {
		return nil
	}
	close(p.started)
	<-p.release
	return errBoom
}

// A check that hung and failed after a newer check answered does not overwrite the newer
// answer: dependency_up keeps the newest observation, as the data path does. A newer
// failure is still recorded.
func TestOlderCheckDoesNotOverwriteANewerOne(t *testing.T) {
	e := newTestEnv(t, nil)
	p := &firstHangsPinger{started: make(chan struct{}), release: make(chan struct{})}
	e.api.deps.Database = p
	up := func() float64 { return testutil.ToFloat64(e.metrics.DependencyUp.WithLabelValues(metrics.DepDatabase)) }

	older := make(chan HealthReport)
	go func() { older <- e.api.CheckHealth(t.Context()) }()
	<-p.started
	if r := e.api.CheckHealth(t.Context()); r.Database != StatusHealthy || up() != 1 {
		t.Fatalf("the newer check: %+v, dependency_up %v; want healthy and 1", r, up())
	}
	close(p.release)
	if r := <-older; r.Database != StatusUnhealthy {
		t.Errorf("the older check reported %q, want unhealthy (its own answer)", r.Database)
	}
	if up() != 1 {
		t.Errorf("dependency_up{database} = %v after the older check failed last, want 1 (the newer check's)", up())
	}

	e.api.deps.Database = &fakePinger{Err: errBoom}
	e.api.CheckHealth(t.Context())
	if up() != 0 {
		t.Errorf("dependency_up{database} = %v after a newer check failed, want 0", up())
	}
}
