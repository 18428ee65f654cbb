package participants_test

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/faultline/faultline/service/internal/chat"
	"github.com/faultline/faultline/service/internal/metrics"
	"github.com/faultline/faultline/service/internal/participants"
)

const (
	msgFallback  = "Using fallback data source"
	msgMaxFailed = "MAX API call failed"
	msgBreaker   = "Circuit breaker state changed"
)

// TestEnrichmentMatrix runs every combination of cache state, MAX outcome and cache error
// policy through a list request and the background refresh it triggers. The stored row
// is always older than the stale age, so whatever the database serves needs a refresh.
func TestEnrichmentMatrix(t *testing.T) {
	type served struct {
		source chat.Source
		count  int
		at     time.Time
	}
	caches := []struct {
		name    string
		setup   func(*fakeCache)
		served  served
		refresh bool
	}{
		{"fresh", func(c *fakeCache) { c.Put(1, 20, freshAt) }, served{chat.SourceCache, 20, freshAt}, false},
		{"stale", func(c *fakeCache) { c.Put(1, 20, staleAt) }, served{chat.SourceCache, 20, staleAt}, true},
		{"missing", func(*fakeCache) {}, served{chat.SourceDatabase, 10, dbAt}, true},
		{"error", func(c *fakeCache) { c.Fail(errors.New("redis: connection refused")) }, served{chat.SourceDatabase, 10, dbAt}, true},
	}
	maxes := []struct {
		name string
		ok   bool
	}{{"max ok", true}, {"max error", false}}
	policies := []participants.Policy{participants.PolicyFallback, participants.PolicyFail}

	for _, cs := range caches {
		for _, mx := range maxes {
			for _, policy := range policies {
				t.Run(fmt.Sprintf("cache %s/%s/%s", cs.name, mx.name, policy), func(t *testing.T) {
					e := newEnv(t, func(c *participants.Config) { c.Policy = policy })
					e.store.Put(linked(1, -101, 10, dbAt))
					cs.setup(e.cache)
					if mx.ok {
						e.max.SetCount(-101, 30)
					} else {
						e.max.Fail(&maxError{reason: "server_error"})
					}
					e.run(t)

					got, err := e.svc.List(t.Context(), chat.Page{Limit: 1000})

					if cs.name == "error" && policy == participants.PolicyFail {
						if code := chat.ErrorCode(err); code != chat.ECACHEUNAVAILABLE {
							t.Fatalf("List error code = %q (err %v), want cache_unavailable", code, err)
						}
						if f := e.fallback(metrics.ReasonCacheUnavailable); f != 0 {
							t.Errorf("fallback{cache_unavailable} = %v, want 0 in strict mode", f)
						}
						if len(e.logs.Find(msgFallback)) != 0 {
							t.Error("strict mode logged a fallback")
						}
						if e.queueLen() != 0 || e.max.Calls() != 0 {
							t.Error("strict mode refreshed after failing the request")
						}
						if len(e.store.Updates()) != 0 || len(e.cache.Sets()) != 0 {
							t.Error("a failed request wrote")
						}
						return
					}
					if err != nil {
						t.Fatalf("List: %v", err)
					}
					if len(got) != 1 {
						t.Fatalf("List returned %d chats, want 1", len(got))
					}
					p := got[0].Participants
					if p.Source != cs.served.source || p.Count != cs.served.count || !p.UpdatedAt.Equal(cs.served.at) {
						t.Errorf("served %s %d at %v, want %s %d at %v",
							p.Source, p.Count, p.UpdatedAt, cs.served.source, cs.served.count, cs.served.at)
					}
					wantAge := t0.Sub(cs.served.at).Seconds()
					if g := testutil.ToFloat64(e.m.DataFreshness); g != wantAge {
						t.Errorf("freshness = %v, want %v", g, wantAge)
					}
					if gets := e.cache.Gets(); len(gets) != 1 || !slices.Equal(gets[0], []int64{1}) {
						t.Errorf("cache gets = %v, want one multi-get of [1]", gets)
					}

					if cs.name == "error" {
						if f := e.fallback(metrics.ReasonCacheUnavailable); f != 1 {
							t.Errorf("fallback{cache_unavailable} = %v, want 1", f)
						}
						requireLog(t, e.logs, slog.LevelWarn, msgFallback, map[string]string{
							"reason": "cache_unavailable", "chat_count": "1", "fallback_source": "database",
							"error": "redis: connection refused",
						})
					} else if n := len(e.logs.Find(msgFallback)); n != 0 {
						t.Errorf("%d fallback logs, want none", n)
					}
					if f := e.fallback(metrics.ReasonMaxAPIUnavailable); f != 0 {
						t.Errorf("fallback{max_api_unavailable} = %v, want 0 with the breaker closed", f)
					}

					if !cs.refresh {
						// A fresh entry queues nothing: the queue is empty at once and MAX is
						// never asked.
						if e.queueLen() != 0 || e.max.Calls() != 0 || e.refreshes("success")+e.refreshes("failure") != 0 {
							t.Errorf("fresh data was refreshed")
						}
						if len(e.store.Updates()) != 0 || len(e.cache.Sets()) != 0 {
							t.Error("fresh data caused writes")
						}
						return
					}

					if !mx.ok {
						eventually(t, func() bool { return e.refreshes("failure") == 1 }, "the refresh fails")
						if n := e.maxErrors("server_error"); n != 1 {
							t.Errorf("max errors{server_error} = %v, want 1", n)
						}
						requireLog(t, e.logs, slog.LevelError, msgMaxFailed, map[string]string{
							"chat_id": "1", "max_chat_id": "-101", "reason": "server_error", "error": "fake max: server_error",
						})
						if u, s := e.store.Updates(), e.cache.Sets(); len(u) != 0 || len(s) != 0 {
							t.Errorf("a failed refresh wrote: store %v, cache %v", u, s)
						}
						return
					}

					eventually(t, func() bool { return e.refreshes("success") == 1 }, "the refresh succeeds")
					want := []write{{ID: 1, Count: 30, At: t0}}
					if u := e.store.Updates(); !slices.Equal(u, want) {
						t.Errorf("store writes = %v, want %v", u, want)
					}
					if s := e.cache.Sets(); !slices.Equal(s, want) {
						t.Errorf("cache writes = %v, want %v", s, want)
					}
					if e.maxErrors("server_error") != 0 || len(e.logs.Find(msgMaxFailed)) != 0 {
						t.Error("a successful refresh counted or logged a failure")
					}

					// The next request serves the refreshed count: from the cache, or from the
					// database when the cache is down.
					again, err := e.svc.List(t.Context(), chat.Page{Limit: 1000})
					if err != nil {
						t.Fatal(err)
					}
					wantSource := chat.SourceCache
					if cs.name == "error" {
						wantSource = chat.SourceDatabase
					}
					if p := again[0].Participants; p.Count != 30 || p.Source != wantSource || !p.UpdatedAt.Equal(t0) {
						t.Errorf("after the refresh served %+v, want 30 from %s at %v", p, wantSource, t0)
					}
				})
			}
		}
	}
}

func TestLazyUpdateOff(t *testing.T) {
	e := newEnv(t, func(c *participants.Config) { c.LazyUpdate = false })
	e.store.Put(linked(1, -101, 10, dbAt), linked(2, -102, 0, time.Time{}))
	e.cache.Put(1, 20, freshAt)
	e.max.SetCount(-101, 30)

	got, err := e.svc.List(t.Context(), chat.Page{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range got {
		if c.Participants.Source != chat.SourceDatabase {
			t.Errorf("chat %d source %s, want database", c.ID, c.Participants.Source)
		}
	}
	if got[0].Participants.Count != 10 {
		t.Errorf("chat 1 count %d, want the stored 10", got[0].Participants.Count)
	}
	if g := e.cache.Gets(); len(g) != 0 {
		t.Errorf("cache asked %v with lazy update off", g)
	}
	// Without Run, a queued refresh would stay in the queue.
	if e.queueLen() != 0 {
		t.Error("refresh queued with lazy update off")
	}
	if e.fallback(metrics.ReasonCacheUnavailable)+e.fallback(metrics.ReasonMaxAPIUnavailable) != 0 {
		t.Error("fallback counted with lazy update off")
	}
	if g := testutil.ToFloat64(e.m.DataFreshness); g != t0.Sub(dbAt).Seconds() {
		t.Errorf("freshness = %v, want the stored row's age", g)
	}

	// Even with the cache down nothing degrades: the cache is not used.
	e.cache.Fail(errors.New("down"))
	if _, err := e.svc.List(t.Context(), chat.Page{Limit: 1000}); err != nil {
		t.Errorf("List with cache down and lazy update off: %v", err)
	}
	if _, err := e.svc.Get(t.Context(), 1); err != nil {
		t.Errorf("Get with cache down and lazy update off: %v", err)
	}
}

func TestUnlinkedChats(t *testing.T) {
	e := newEnv(t)
	e.store.Put(unlinked(1, 5, dbAt), linked(2, -102, 10, dbAt), unlinked(3, 0, time.Time{}))
	got, err := e.svc.List(t.Context(), chat.Page{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if g := e.cache.Gets(); len(g) != 1 || !slices.Equal(g[0], []int64{2}) {
		t.Errorf("cache gets = %v, want one get of the linked chat [2]", g)
	}
	if e.queueLen() != 1 {
		t.Errorf("queue length %v, want 1 (only the linked stale chat)", e.queueLen())
	}
	if got[0].Participants.Source != chat.SourceDatabase || got[0].Participants.Count != 5 {
		t.Errorf("unlinked chat served %+v, want the stored 5 from database", got[0].Participants)
	}
	if got[2].Participants.Known() {
		t.Errorf("unlinked chat never counted served %+v, want unknown", got[2].Participants)
	}

	// A page of unlinked chats asks the cache nothing.
	e2 := newEnv(t)
	e2.store.Put(unlinked(1, 5, dbAt))
	if _, err := e2.svc.List(t.Context(), chat.Page{Limit: 1000}); err != nil {
		t.Fatal(err)
	}
	if g := e2.cache.Gets(); len(g) != 0 {
		t.Errorf("cache asked %v for a page without linked chats", g)
	}
	if e2.queueLen() != 0 {
		t.Error("unlinked chat queued for refresh")
	}
}

func TestNewerOfCacheAndDatabase(t *testing.T) {
	tests := []struct {
		name       string
		dbAt       time.Time
		cacheAt    *time.Time
		wantSource chat.Source
		wantCount  int
		refresh    bool
	}{
		{"cache newer", staleAt, &freshAt, chat.SourceCache, 20, false},
		{"database newer", freshAt, &staleAt, chat.SourceDatabase, 10, false},
		{"tie goes to the cache", freshAt, &freshAt, chat.SourceCache, 20, false},
		{"both stale, cache newer", dbAt, &staleAt, chat.SourceCache, 20, true},
		{"cache entry without time loses", freshAt, &time.Time{}, chat.SourceDatabase, 10, false},
		{"database never counted", time.Time{}, &staleAt, chat.SourceCache, 20, true},
		{"nothing known anywhere", time.Time{}, nil, chat.SourceDatabase, 10, true},
		// The contract refreshes every missing entry, so a cold cache warms up even when
		// the database row is fresh.
		{"cache entry missing, database fresh", freshAt, nil, chat.SourceDatabase, 10, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.store.Put(linked(1, -101, 10, tt.dbAt))
			if tt.cacheAt != nil {
				e.cache.Put(1, 20, *tt.cacheAt)
			}
			got, err := e.svc.Get(t.Context(), 1)
			if err != nil {
				t.Fatal(err)
			}
			if p := got.Participants; p.Source != tt.wantSource || p.Count != tt.wantCount {
				t.Errorf("served %d from %s, want %d from %s", p.Count, p.Source, tt.wantCount, tt.wantSource)
			}
			if queued := e.queueLen() == 1; queued != tt.refresh {
				t.Errorf("queued for refresh = %v, want %v", queued, tt.refresh)
			}
		})
	}
}

// TestUnreadableCacheRefreshesOnlyStaleData checks that while the cache cannot be read,
// a fresh database row is served without asking MAX: an outage of the cache must not turn
// every request into refreshes.
func TestUnreadableCacheRefreshesOnlyStaleData(t *testing.T) {
	e := newEnv(t)
	e.store.Put(linked(1, -101, 10, freshAt), linked(2, -102, 11, dbAt))
	e.cache.Fail(errors.New("redis: i/o timeout"))
	got, err := e.svc.List(t.Context(), chat.Page{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range got {
		if c.Participants.Source != chat.SourceDatabase {
			t.Errorf("chat %d served from %s, want database", c.ID, c.Participants.Source)
		}
	}
	if q := e.queueLen(); q != 1 {
		t.Errorf("queued %v refreshes, want 1 (only the stale chat)", q)
	}
}

func TestFreshnessGauge(t *testing.T) {
	e := newEnv(t)
	e.store.Put(linked(1, -101, 10, dbAt), linked(2, -102, 0, time.Time{}), unlinked(3, 1, dbAt.Add(-time.Hour)),
		linked(5, -105, 7, staleAt))
	e.cache.Put(1, 20, freshAt)
	if _, err := e.svc.List(t.Context(), chat.Page{Limit: 1000}); err != nil {
		t.Fatal(err)
	}
	// Chat 1 is served from the fresh cache, chat 2 is unknown (ignored), chat 5 is 2h old.
	// Chat 3 is older still but unlinked: its count is never refreshed, so its age says
	// nothing about the refresh path and would keep a staleness alert firing for ever.
	if g := testutil.ToFloat64(e.m.DataFreshness); g != t0.Sub(staleAt).Seconds() {
		t.Errorf("freshness = %v, want %v", g, t0.Sub(staleAt).Seconds())
	}

	// Get does not touch it: it describes list responses.
	e.store.Put(unlinked(4, 1, t0.Add(-48*time.Hour)))
	if _, err := e.svc.Get(t.Context(), 4); err != nil {
		t.Fatal(err)
	}
	if g := testutil.ToFloat64(e.m.DataFreshness); g != t0.Sub(staleAt).Seconds() {
		t.Errorf("freshness after Get = %v, want unchanged", g)
	}

	empty := newEnv(t)
	empty.m.DataFreshness.Set(99)
	if _, err := empty.svc.List(t.Context(), chat.Page{Limit: 1000}); err != nil {
		t.Fatal(err)
	}
	if g := testutil.ToFloat64(empty.m.DataFreshness); g != 0 {
		t.Errorf("freshness of an empty list = %v, want 0", g)
	}
}

func TestStoreErrorsPassThrough(t *testing.T) {
	e := newEnv(t)
	down := chat.Wrap(errors.New("dial tcp: connection refused"), chat.EDATABASEUNAVAILABLE, "database unavailable")
	e.store.FailList(down)
	e.store.FailGet(down)
	if _, err := e.svc.List(t.Context(), chat.Page{Limit: 10}); chat.ErrorCode(err) != chat.EDATABASEUNAVAILABLE {
		t.Errorf("List error %v, want database_unavailable", err)
	}
	if _, err := e.svc.Get(t.Context(), 1); chat.ErrorCode(err) != chat.EDATABASEUNAVAILABLE {
		t.Errorf("Get error %v, want database_unavailable", err)
	}
	if _, err := e.svc.Refresh(t.Context(), 1); chat.ErrorCode(err) != chat.EDATABASEUNAVAILABLE {
		t.Errorf("Refresh error %v, want database_unavailable", err)
	}
	if g := e.cache.Gets(); len(g) != 0 {
		t.Errorf("cache asked %v after the database failed", g)
	}
}

func TestGet(t *testing.T) {
	e := newEnv(t)
	e.store.Put(linked(1, -101, 10, dbAt))
	e.cache.Put(1, 20, freshAt)
	got, err := e.svc.Get(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != 1 || got.Name != "chat 1" || got.MaxChatID != -101 || got.Participants.Source != chat.SourceCache {
		t.Errorf("Get = %+v", got)
	}
	if _, err := e.svc.Get(t.Context(), 2); chat.ErrorCode(err) != chat.ENOTFOUND {
		t.Errorf("Get of an unknown chat: %v, want not_found", err)
	}

	e.cache.Fail(errors.New("timeout"))
	got, err = e.svc.Get(t.Context(), 1)
	if err != nil || got.Participants.Source != chat.SourceDatabase {
		t.Fatalf("Get with cache down = %+v, %v; want database data", got, err)
	}
	if f := e.fallback(metrics.ReasonCacheUnavailable); f != 1 {
		t.Errorf("fallback{cache_unavailable} = %v, want 1", f)
	}
	requireLog(t, e.logs, slog.LevelWarn, msgFallback, map[string]string{"chat_count": "1", "fallback_source": "database"})
}

func TestCacheFallbackCountsOncePerRequest(t *testing.T) {
	e := newEnv(t)
	for id := int64(1); id <= 5; id++ {
		e.store.Put(linked(id, -100-id, 10, freshAt))
	}
	e.store.Put(unlinked(6, 1, freshAt))
	e.cache.Fail(errors.New("refused"))
	if _, err := e.svc.List(t.Context(), chat.Page{Limit: 1000}); err != nil {
		t.Fatal(err)
	}
	if f := e.fallback(metrics.ReasonCacheUnavailable); f != 1 {
		t.Errorf("fallback{cache_unavailable} = %v, want 1 for one request", f)
	}
	requireLog(t, e.logs, slog.LevelWarn, msgFallback, map[string]string{"chat_count": "6", "reason": "cache_unavailable"})
	if e.queueLen() != 0 {
		t.Error("fresh database data queued for refresh")
	}
}

func TestPaging(t *testing.T) {
	e := newEnv(t)
	for id := int64(1); id <= 5; id++ {
		e.store.Put(linked(id, -100-id, 10, freshAt))
	}
	got, err := e.svc.List(t.Context(), chat.Page{Limit: 2, Offset: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != 2 || got[1].ID != 3 {
		t.Errorf("page = %v, want chats 2 and 3", got)
	}
	if g := e.cache.Gets(); len(g) != 1 || !slices.Equal(g[0], []int64{2, 3}) {
		t.Errorf("cache gets = %v, want the page's ids", g)
	}
}

func TestConfig(t *testing.T) {
	if err := participants.DefaultConfig().Validate(); err != nil {
		t.Errorf("defaults invalid: %v", err)
	}
	bad := participants.DefaultConfig()
	bad.CacheTTL = bad.StaleAfter
	bad.RateLimit = 31
	bad.Policy = "ignore"
	err := bad.Validate()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, field := range []string{"CacheTTL", "RateLimit", "Policy"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error %q does not name %s", err, field)
		}
	}
}

func TestFutureTimesAreServedAsNowAndRefreshed(t *testing.T) {
	e := newEnv(t, func(c *participants.Config) { c.ClockSkewMax = 5 * time.Second })
	// Chat 1: the database row and the cache entry come from replicas with clocks an hour
	// and two hours ahead. Chat 2: a fresh entry 3s ahead, within the allowance.
	e.store.Put(linked(1, -101, 10, t0.Add(time.Hour)), linked(2, -102, 20, freshAt))
	e.cache.Put(1, 11, t0.Add(2*time.Hour))
	e.cache.Put(2, 21, t0.Add(3*time.Second))

	got, err := e.svc.List(t.Context(), chat.Page{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if p := got[0].Participants; p.Count != 11 || p.Source != chat.SourceCache || !p.UpdatedAt.Equal(t0) {
		t.Errorf("chat 1 served %+v, want the cache's 11 observed now (%v)", p, t0)
	}
	if p := got[1].Participants; p.Count != 21 || !p.UpdatedAt.Equal(t0.Add(3*time.Second)) {
		t.Errorf("chat 2 served %+v, want 21 at its own time, 3s ahead being within the allowance", p)
	}
	// Trusted, chat 1 would look fresh for two more hours; it is refreshed instead.
	if q := e.queueLen(); q != 1 {
		t.Errorf("queued %v refreshes, want 1 (chat 1)", q)
	}
	for src, want := range map[string]float64{"cache": 1, "database": 1} {
		if n := testutil.ToFloat64(e.m.FutureTimestamps.WithLabelValues(src)); n != want {
			t.Errorf("future timestamps{%s} = %v, want %v", src, n, want)
		}
	}
	if g := testutil.ToFloat64(e.m.DataFreshness); g != 0 {
		t.Errorf("freshness = %v, want 0: a clamped time is now", g)
	}
}

func TestRefreshReplacesAStoredTimeFromTheFuture(t *testing.T) {
	e := newEnv(t, func(c *participants.Config) { c.ClockSkewMax = 5 * time.Second })
	e.store.Put(linked(1, -101, 10, t0.Add(time.Hour)))
	e.max.SetCount(-101, 30)
	got, err := e.svc.Refresh(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	// The store overwrites a time from beyond the allowance, so MAX's count is the answer.
	if p := got.Participants; p.Count != 30 || p.Source != chat.SourceAPI || !p.UpdatedAt.Equal(t0) {
		t.Errorf("Refresh = %+v, want MAX's 30 (source api) at %v", p, t0)
	}

	// When MAX fails, the stored count is served, observed now rather than an hour ahead.
	e.max.Fail(&maxError{reason: "server_error"})
	e.store.Put(linked(2, -102, 20, t0.Add(time.Hour)))
	got, err = e.svc.Refresh(t.Context(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if p := got.Participants; p.Count != 20 || p.Source != chat.SourceDatabase || !p.UpdatedAt.Equal(t0) {
		t.Errorf("Refresh with MAX failing = %+v, want the stored 20 (source database) at %v", p, t0)
	}
}
