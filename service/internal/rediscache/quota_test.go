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
	// One call a second: the first replica's call takes the slot now, so the other
	// replica's next slot is about a second away, however close together they ask.
	const rate = 1.0
	if wait, ok, err := a.Reserve(ctx, rate, time.Second); err != nil || !ok || wait != 0 {
		t.Fatalf("first Reserve = %v, %v, %v; want granted at once", wait, ok, err)
	}
	// Too far ahead for half a second's patience: refused, and nothing taken.
	wait, ok, err := b.Reserve(ctx, rate, 500*time.Millisecond)
	if err != nil || ok || wait <= 500*time.Millisecond || wait > time.Second {
		t.Fatalf("the other replica's Reserve within 500ms = %v, %v, %v; want refused, a wait in (500ms, 1s]", wait, ok, err)
	}
	wait, ok, err = b.Reserve(ctx, rate, 2*time.Second)
	if err != nil || !ok || wait <= 500*time.Millisecond || wait > time.Second {
		t.Fatalf("the other replica's Reserve within 2s = %v, %v, %v; want the slot in (500ms, 1s]", wait, ok, err)
	}
	// That slot is taken: the next one is a second later.
	wait, ok, err = a.Reserve(ctx, rate, 3*time.Second)
	if err != nil || !ok || wait <= 1500*time.Millisecond || wait > 2*time.Second {
		t.Errorf("third Reserve = %v, %v, %v; want the slot after, in (1.5s, 2s]", wait, ok, err)
	}
	ttl, err := e.raw.PTTL(ctx, QuotaKey).Result()
	if err != nil || ttl <= 2*time.Second || ttl > 3*time.Second {
		t.Errorf("quota key %s expires in %v (%v); want when its last slot ends, in (2s, 3s]", QuotaKey, ttl, err)
	}
}

func TestQuotaGivesSlotsInTheOrderAsked(t *testing.T) {
	e := newEnv(t, nil, Options{})
	q := e.cache.Quota()
	ctx := t.Context()
	next := func() int64 {
		t.Helper()
		v, err := e.raw.Get(ctx, QuotaKey).Int64()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// One call a second (slow enough that no ask falls behind its slot). The first call goes
	// at once; each later caller gets the slot a second after the previous one's.
	var first int64
	for i := range 5 {
		wait, ok, err := q.Reserve(ctx, 1, 10*time.Second)
		if err != nil || !ok {
			t.Fatalf("Reserve %d = %v, %v, %v", i, wait, ok, err)
		}
		if lo, hi := time.Duration(i-1)*time.Second, time.Duration(i)*time.Second; wait > hi || (i > 0 && wait <= lo) {
			t.Errorf("Reserve %d waits %v, want in (%v, %v]", i, wait, lo, hi)
		}
		if i == 0 {
			first = next()
		}
	}
	// On Redis's clock the five slots are exactly a second apart: the next free one is
	// four seconds after the one the first call left.
	if got := next() - first; got != 4_000_000 {
		t.Errorf("next free slot %d µs after the first call's, want 4000000", got)
	}
	if _, _, err := q.Reserve(ctx, 0, time.Second); err == nil {
		t.Error("Reserve at rate 0 succeeded; want an error")
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
	_, _, err := q.Reserve(ctx, 20, time.Second)
	assertFailedWithin(t, err, time.Since(start), time.Second)
	start = time.Now()
	_, err = q.PausedUntil(ctx)
	assertFailedWithin(t, err, time.Since(start), time.Second)
	if e.errorsTotal() != 2 {
		t.Errorf("participants_cache_errors_total = %v, want 2", e.errorsTotal())
	}
}
