package rediscache

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/faultline/faultline/service/internal/chat"
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

// reserveCall asks q for one call of a budget of rate per second, without a claim.
func reserveCall(ctx context.Context, q *Quota, rate float64, maxWait time.Duration) (time.Duration, bool, error) {
	r, err := q.Reserve(ctx, chat.QuotaCall{Rate: rate, MaxWait: maxWait})
	return r.Wait, r.OK, err
}

// pausedUntil is the shared pause as a reservation answers it, which PausedUntil must
// answer alike.
func pausedUntil(t *testing.T, q *Quota) time.Time {
	t.Helper()
	r, err := q.Reserve(t.Context(), chat.QuotaCall{Rate: 1000, MaxWait: time.Second})
	if err != nil {
		t.Fatalf("Reserve: %v", err)
	}
	read, err := q.PausedUntil(t.Context())
	if err != nil || !read.Equal(r.PausedUntil) {
		t.Errorf("PausedUntil = %v, %v; want the reservation's %v", read, err, r.PausedUntil)
	}
	return r.PausedUntil
}

func TestQuotaIsSharedByReplicas(t *testing.T) {
	e := newEnv(t, nil, Options{})
	a, b := e.cache.Quota(), e.replica(t).Quota()
	ctx := t.Context()
	// One call a second: the first replica's call takes the slot now, so the other
	// replica's next slot is about a second away, however close together they ask.
	const rate = 1.0
	if wait, ok, err := reserveCall(ctx, a, rate, time.Second); err != nil || !ok || wait != 0 {
		t.Fatalf("first Reserve = %v, %v, %v; want granted at once", wait, ok, err)
	}
	// Too far ahead for half a second's patience: refused, and nothing taken.
	wait, ok, err := reserveCall(ctx, b, rate, 500*time.Millisecond)
	if err != nil || ok || wait <= 500*time.Millisecond || wait > time.Second {
		t.Fatalf("the other replica's Reserve within 500ms = %v, %v, %v; want refused, a wait in (500ms, 1s]", wait, ok, err)
	}
	wait, ok, err = reserveCall(ctx, b, rate, 2*time.Second)
	if err != nil || !ok || wait <= 500*time.Millisecond || wait > time.Second {
		t.Fatalf("the other replica's Reserve within 2s = %v, %v, %v; want the slot in (500ms, 1s]", wait, ok, err)
	}
	// That slot is taken: the next one is a second later.
	wait, ok, err = reserveCall(ctx, a, rate, 3*time.Second)
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
		wait, ok, err := reserveCall(ctx, q, 1, 10*time.Second)
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
	if _, _, err := reserveCall(ctx, q, 0, time.Second); err == nil {
		t.Error("Reserve at rate 0 succeeded; want an error")
	}
}

func TestPauseIsSharedAndOnlyExtended(t *testing.T) {
	e := newEnv(t, nil, Options{})
	a, b := e.cache.Quota(), e.replica(t).Quota()
	ctx := t.Context()
	if until := pausedUntil(t, b); !until.IsZero() {
		t.Fatalf("pause before any = %v; want zero", until)
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
	if until := pausedUntil(t, b); !until.Equal(long) {
		t.Errorf("pause = %v; want %v", until, long)
	}
	ttl, err := e.raw.PTTL(ctx, PauseKey).Result()
	if err != nil || ttl <= 0 || ttl > 5*time.Second {
		t.Errorf("pause key expires in %v (%v); want within 5s", ttl, err)
	}
	// What no replica writes is no pause.
	if err := e.raw.Set(ctx, PauseKey, "soon", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if until := pausedUntil(t, b); !until.IsZero() {
		t.Errorf("pause over a foreign value = %v; want zero", until)
	}
}

func TestQuotaFailsFastWhileRedisIsDown(t *testing.T) {
	proxy := testdb.NewProxy(t, server.Addr())
	e := newEnv(t, proxy, Options{Timeout: 100 * time.Millisecond, BreakerFailures: 100})
	q := e.cache.Quota()
	proxy.Refuse()
	ctx := context.Background()
	start := time.Now()
	_, _, err := reserveCall(ctx, q, 20, time.Second)
	assertFailedWithin(t, err, time.Since(start), time.Second)
	start = time.Now()
	err = q.Release(ctx, 1)
	assertFailedWithin(t, err, time.Since(start), time.Second)
	start = time.Now()
	_, err = q.PausedUntil(ctx)
	assertFailedWithin(t, err, time.Since(start), time.Second)
	if e.errorsTotal() != 3 {
		t.Errorf("participants_cache_errors_total = %v, want 3", e.errorsTotal())
	}
}

func TestClaimKeepsAChatToOneReplica(t *testing.T) {
	e := newEnv(t, nil, Options{})
	a, b := e.cache.Quota(), e.replica(t).Quota()
	ctx := t.Context()
	now := time.Now()
	// One call a second: the quota key outlives the test's steps, so a refused claim that
	// took a slot would show.
	call := chat.QuotaCall{Rate: 1, MaxWait: time.Minute, ChatID: 7, ClaimFor: time.Minute,
		FreshSince: now.Add(-time.Minute), FreshUntil: now.Add(5 * time.Second)}
	r, err := a.Reserve(ctx, call)
	if err != nil || !r.OK || r.Taken {
		t.Fatalf("first claim = %+v, %v; want a slot", r, err)
	}
	ttl, err := e.raw.PTTL(ctx, ClaimKey(7)).Result()
	if err != nil || ttl <= 0 || ttl > time.Minute {
		t.Errorf("claim %s expires in %v (%v); want within its minute", ClaimKey(7), ttl, err)
	}
	before, _ := e.raw.Get(ctx, QuotaKey).Result()
	// The other replica's claim of the same chat is refused and takes no slot; another chat
	// and an unclaimed call for the same chat are served.
	if r, err := b.Reserve(ctx, call); err != nil || r.OK || !r.Taken {
		t.Errorf("second claim = %+v, %v; want Taken", r, err)
	}
	if after, _ := e.raw.Get(ctx, QuotaKey).Result(); after != before {
		t.Errorf("a refused claim moved the quota from %s to %s", before, after)
	}
	other := call
	other.ChatID = 8
	if r, err := b.Reserve(ctx, other); err != nil || !r.OK || r.Taken {
		t.Errorf("claim of another chat = %+v, %v; want a slot", r, err)
	}
	if r, err := b.Reserve(ctx, chat.QuotaCall{Rate: 1, MaxWait: time.Minute}); err != nil || !r.OK {
		t.Errorf("unclaimed call = %+v, %v; want a slot", r, err)
	}
	// Released, the chat may be claimed again.
	if err := a.Release(ctx, 7); err != nil {
		t.Fatal(err)
	}
	if r, err := b.Reserve(ctx, call); err != nil || !r.OK || r.Taken {
		t.Errorf("claim after release = %+v, %v; want a slot", r, err)
	}
}

func TestClaimSkipsAChatStoredSinceItWasQueued(t *testing.T) {
	e := newEnv(t, nil, Options{})
	q := e.cache.Quota()
	ctx := t.Context()
	now := time.Now().UTC()
	call := chat.QuotaCall{Rate: 1000, MaxWait: time.Second, ChatID: 9, ClaimFor: time.Minute,
		FreshSince: now.Add(-time.Minute), FreshUntil: now.Add(5 * time.Second)}
	for _, tc := range []struct {
		name  string
		entry string
		taken bool
	}{
		{"fresh entry", `{"count":3,"updated_at":"` + now.Add(-time.Second).Format(time.RFC3339Nano) + `"}`, true},
		{"stale entry", `{"count":3,"updated_at":"` + now.Add(-time.Hour).Format(time.RFC3339Nano) + `"}`, false},
		{"entry from a clock ahead", `{"count":3,"updated_at":"` + now.Add(time.Hour).Format(time.RFC3339Nano) + `"}`, false},
		{"entry that does not decode", `{"count":`, false},
	} {
		if err := e.raw.Set(ctx, Key(9), tc.entry, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		if err := e.raw.Del(ctx, ClaimKey(9)).Err(); err != nil {
			t.Fatal(err)
		}
		r, err := q.Reserve(ctx, call)
		if err != nil || r.Taken != tc.taken || r.OK == tc.taken {
			t.Errorf("%s: Reserve = %+v, %v; want Taken %v", tc.name, r, err, tc.taken)
		}
	}
}
