package rediscache

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/faultline/faultline/service/internal/metrics"
	"github.com/faultline/faultline/service/internal/testdb"
)

// replica is a second cache on the same Redis database as e's: another replica's view.
func (e *env) replica(t *testing.T) *Cache {
	t.Helper()
	opts := e.opts
	opts.Metrics = metrics.New(prometheus.NewRegistry())
	c, err := New(e.url, opts)
	if err != nil {
		t.Fatalf("new cache: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestQuotaIsSharedByReplicas(t *testing.T) {
	e := newEnv(t, nil, Options{})
	a, b := e.cache.Quota(), e.replica(t).Quota()
	ctx := t.Context()
	// One call a second with a burst of one: the first replica's call leaves no room for
	// the second's for about a second, however close together they ask.
	const rate = 1.0
	if wait, err := a.Take(ctx, rate); err != nil || wait != 0 {
		t.Fatalf("first Take = %v, %v; want granted", wait, err)
	}
	wait, err := b.Take(ctx, rate)
	if err != nil {
		t.Fatal(err)
	}
	if wait <= 0 || wait > time.Second {
		t.Fatalf("the other replica's Take right after: wait %v, want in (0, 1s]", wait)
	}
	// A refused Take takes nothing: asking again still finds the first call's interval.
	if again, err := b.Take(ctx, rate); err != nil || again <= 0 || again > wait {
		t.Errorf("second refused Take = %v, %v; want a wait in (0, %v]", again, err, wait)
	}
	if n, err := e.raw.Exists(ctx, "rate:"+QuotaKey).Result(); err != nil || n != 1 {
		t.Errorf("quota key rate:%s exists = %d, %v", QuotaKey, n, err)
	}
}

func TestQuotaSpacesCallsAtTheRate(t *testing.T) {
	e := newEnv(t, nil, Options{})
	q := e.cache.Quota()
	ctx := t.Context()
	if _, err := q.Take(ctx, 20); err != nil {
		t.Fatal(err)
	}
	wait, err := q.Take(ctx, 20)
	if err != nil {
		t.Fatal(err)
	}
	// 20 a second is one every 50 ms, less what passed between the two calls.
	if wait <= 0 || wait > 50*time.Millisecond {
		t.Errorf("wait after a call at 20/s = %v, want in (0, 50ms]", wait)
	}
	if _, err := q.Take(ctx, 0); err == nil {
		t.Error("Take at rate 0 succeeded; want an error")
	}
}

func TestPauseIsSharedAndOnlyExtended(t *testing.T) {
	e := newEnv(t, nil, Options{})
	a, b := e.cache.Quota(), e.replica(t).Quota()
	ctx := t.Context()
	if until, err := b.PausedUntil(ctx); err != nil || !until.IsZero() {
		t.Fatalf("PausedUntil before any pause = %v, %v; want zero", until, err)
	}
	now := time.Now()
	long := now.Add(5 * time.Second).Truncate(time.Millisecond)
	if err := a.Pause(ctx, long, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// Another replica's shorter pause does not cut it.
	if err := b.Pause(ctx, now.Add(time.Second), time.Second); err != nil {
		t.Fatal(err)
	}
	until, err := b.PausedUntil(ctx)
	if err != nil || !until.Equal(long) {
		t.Errorf("PausedUntil = %v, %v; want %v", until, err, long)
	}
	ttl, err := e.raw.PTTL(ctx, PauseKey).Result()
	if err != nil || ttl <= 0 || ttl > 5*time.Second {
		t.Errorf("pause key expires in %v (%v); want within 5s", ttl, err)
	}
	// What no replica writes is no pause.
	if err := e.raw.Set(ctx, PauseKey, "soon", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if until, err := b.PausedUntil(ctx); err != nil || !until.IsZero() {
		t.Errorf("PausedUntil over a foreign value = %v, %v; want zero", until, err)
	}
}

func TestQuotaFailsFastWhileRedisIsDown(t *testing.T) {
	proxy := testdb.NewProxy(t, server.Addr())
	e := newEnv(t, proxy, Options{Timeout: 100 * time.Millisecond, BreakerFailures: 100})
	q := e.cache.Quota()
	proxy.Refuse()
	ctx := context.Background()
	start := time.Now()
	_, err := q.Take(ctx, 20)
	assertFailedWithin(t, err, time.Since(start), time.Second)
	start = time.Now()
	_, err = q.PausedUntil(ctx)
	assertFailedWithin(t, err, time.Since(start), time.Second)
	if e.errorsTotal() != 2 {
		t.Errorf("participants_cache_errors_total = %v, want 2", e.errorsTotal())
	}
}
