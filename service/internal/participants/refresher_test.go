package participants_test

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/faultline/faultline/service/internal/chat"
	"github.com/faultline/faultline/service/internal/metrics"
	"github.com/faultline/faultline/service/internal/participants"
)

func list(t testing.TB, e *env) []chat.Chat {
	t.Helper()
	got, err := e.svc.List(t.Context(), chat.Page{Limit: 1000})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return got
}

func TestQueueCapacityAndFull(t *testing.T) {
	e := newEnv(t, func(c *participants.Config) { c.QueueSize = 2 })
	if g := testutil.ToFloat64(e.m.RefreshQueueCap); g != 2 {
		t.Errorf("queue capacity gauge = %v, want 2", g)
	}
	for id := int64(1); id <= 5; id++ {
		e.store.Put(linked(id, -100-id, 10, dbAt))
	}
	list(t, e) // no Run: queued refreshes stay queued
	if e.queueLen() != 2 {
		t.Errorf("queue length = %v, want 2", e.queueLen())
	}
	if d := e.dropped(metrics.ReasonQueueFull); d != 3 {
		t.Errorf("dropped{queue_full} = %v, want 3", d)
	}
	if d := e.dropped(metrics.ReasonMaxAPIUnavailable); d != 0 {
		t.Errorf("dropped{max_api_unavailable} = %v, want 0", d)
	}
	// A full queue is not a fallback: the data served is what it would have been anyway.
	if e.fallback(metrics.ReasonMaxAPIUnavailable) != 0 {
		t.Error("a full queue counted a fallback")
	}
}

func TestDedupWhileQueued(t *testing.T) {
	e := newEnv(t)
	for id := int64(1); id <= 3; id++ {
		e.store.Put(linked(id, -100-id, 10, dbAt))
	}
	list(t, e)
	list(t, e)
	_, _ = e.svc.Get(t.Context(), 2) // only the queueing matters
	if e.queueLen() != 3 {
		t.Errorf("queue length = %v after three requests for three chats, want 3", e.queueLen())
	}
	if e.dropped(metrics.ReasonQueueFull) != 0 {
		t.Error("dedup dropped instead of ignoring")
	}
}

// refreshInFlight starts a service with one stale linked chat (1, MAX -101, count 30 in
// MAX) and lists it, so that its background refresh is blocked inside MAX until release.
func refreshInFlight(t *testing.T) (*env, func()) {
	t.Helper()
	e := newEnv(t)
	e.store.Put(linked(1, -101, 10, dbAt))
	e.max.SetCount(-101, 30)
	release := e.max.Block()
	e.run(t)
	list(t, e)
	eventually(t, func() bool { return e.max.Calls() == 1 }, "the background refresh reaches MAX")
	return e, release
}

func TestDedupWhileRefreshing(t *testing.T) {
	e, release := refreshInFlight(t)
	list(t, e) // the chat is still stale, and its refresh in flight
	if e.queueLen() != 0 {
		t.Errorf("chat queued again while its refresh is in flight")
	}
	release()
	eventually(t, func() bool { return e.refreshes("success") == 1 }, "the refresh succeeds")
	if n := e.max.Calls(); n != 1 {
		t.Errorf("MAX calls = %d, want 1", n)
	}
	// Once done, the chat can be queued again when it is stale again. The success is
	// counted just before the worker lets go of the chat, so a list in between is still
	// deduplicated: keep listing until one queues it.
	e.clock.Advance(2 * time.Hour)
	eventually(t, func() bool { list(t, e); return e.refreshes("success") == 2 }, "the second refresh succeeds")
	if n := e.max.Calls(); n != 2 {
		t.Errorf("MAX calls = %d, want 2", n)
	}
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, func(c *participants.Config) {
		c.RateLimit = 2 // one call per 500ms of the fake clock
		c.Workers = 1
	})
	for id := int64(1); id <= 4; id++ {
		e.store.Put(linked(id, -100-id, 10, dbAt))
		e.max.SetCount(-100-id, int(id))
	}
	e.run(t)
	list(t, e)

	eventually(t, func() bool { return e.max.Calls() == 1 && e.clock.Waiters() == 1 },
		"the first call is made and the next waits for the limiter")
	e.clock.Advance(499 * time.Millisecond)
	// The waiter has not fired, so the worker is still blocked on it: no second call.
	if n := e.max.Calls(); n != 1 || e.clock.Waiters() != 1 {
		t.Fatalf("MAX calls = %d before the limiter allowed a second", n)
	}
	e.clock.Advance(time.Millisecond)
	eventually(t, func() bool { return e.max.Calls() == 2 && e.clock.Waiters() == 1 }, "the second call")
	e.clock.Advance(500 * time.Millisecond)
	eventually(t, func() bool { return e.max.Calls() == 3 && e.clock.Waiters() == 1 }, "the third call")
	e.clock.Advance(500 * time.Millisecond)
	eventually(t, func() bool { return e.refreshes("success") == 4 }, "all four refreshes")
}

func TestRateLimitRefusesAnOverlongWait(t *testing.T) {
	// One call per 10 s of the fake clock, with calls due within 1 s: a second refresh
	// would wait past its deadline, so it is refused rather than queued behind the limiter.
	e := newEnv(t, func(c *participants.Config) { c.RateLimit = 0.1 })
	e.store.Put(linked(1, -101, 10, dbAt), linked(2, -102, 10, dbAt))
	e.max.SetCount(-101, 1)
	e.max.SetCount(-102, 2)
	if got, err := e.svc.Refresh(t.Context(), 1); err != nil || got.Participants.Source != chat.SourceAPI {
		t.Fatalf("first refresh = %+v, %v", got, err)
	}
	got, err := e.svc.Refresh(t.Context(), 2)
	if err != nil || got.Participants.Source != chat.SourceDatabase {
		t.Fatalf("second refresh = %+v, %v; want database data", got, err)
	}
	if n := e.max.Calls(); n != 1 {
		t.Errorf("MAX calls = %d, want 1", n)
	}
	// The refusal is the service's own limit, not a MAX failure: it is counted as a refresh
	// not made, under its own reason, and no MAX error, failed refresh or ERROR log line
	// says MAX is failing (ParticipantsMaxAPIDown counts participants_max_api_errors_total).
	for _, reason := range metrics.MaxAPIErrorReasons {
		if n := e.maxErrors(reason); n != 0 {
			t.Errorf("max errors{%s} = %v, want 0", reason, n)
		}
	}
	if n := e.dropped(metrics.ReasonLocalRateLimit); n != 1 {
		t.Errorf("dropped{local_rate_limit} = %v, want 1", n)
	}
	if n := e.dropped(metrics.ReasonMaxAPIUnavailable); n != 0 {
		t.Errorf("dropped{max_api_unavailable} = %v, want 0", n)
	}
	if n := e.refreshes("failure"); n != 0 {
		t.Errorf("refreshes{failure} = %v, want 0", n)
	}
	if recs := e.logs.Find(msgMaxFailed); len(recs) != 0 {
		t.Errorf("a local refusal was logged as a MAX failure: %+v", recs)
	}
	// The answer is still the stored data, a fallback for the client.
	requireLog(t, e.logs, slog.LevelWarn, msgFallback, map[string]string{
		"reason": "max_api_unavailable", "chat_count": "1", "fallback_source": "database",
	})
}

// TestBackgroundLocalRateLimitIsNotAMaxFailure checks the same for a queued refresh that
// would wait for the rate limiter past its deadline.
func TestBackgroundLocalRateLimitIsNotAMaxFailure(t *testing.T) {
	e := newEnv(t, func(c *participants.Config) { c.RateLimit = 0.1; c.Workers = 1 })
	e.store.Put(linked(1, -101, 10, dbAt), linked(2, -102, 10, dbAt))
	e.max.SetCount(-101, 1)
	e.max.SetCount(-102, 2)
	e.run(t)
	list(t, e)
	eventually(t, func() bool { return e.refreshes("success")+e.dropped(metrics.ReasonLocalRateLimit) == 2 },
		"one refresh succeeds and the other is refused by the local limit")
	if n := e.dropped(metrics.ReasonLocalRateLimit); n != 1 {
		t.Errorf("dropped{local_rate_limit} = %v, want 1", n)
	}
	for _, reason := range metrics.MaxAPIErrorReasons {
		if n := e.maxErrors(reason); n != 0 {
			t.Errorf("max errors{%s} = %v, want 0", reason, n)
		}
	}
	if n := e.dropped(metrics.ReasonMaxAPIUnavailable); n != 0 {
		t.Errorf("dropped{max_api_unavailable} = %v, want 0", n)
	}
}

func TestBreakerOpensAndShortCircuits(t *testing.T) {
	e := newEnv(t) // BreakerFailures 3, cooldown 1h
	e.store.Put(linked(1, -101, 10, dbAt), linked(2, -102, 10, dbAt))
	e.cache.Put(2, 20, staleAt)
	e.max.Fail(&maxError{reason: "timeout"})

	for i := range 3 {
		got, err := e.svc.Refresh(t.Context(), 1)
		if err != nil || got.Participants.Source != chat.SourceDatabase {
			t.Fatalf("refresh %d = %+v, %v; want database data", i, got, err)
		}
	}
	if n := e.maxErrors("timeout"); n != 3 {
		t.Errorf("max errors{timeout} = %v, want 3", n)
	}
	if e.breakerState() != metrics.BreakerOpen {
		t.Fatalf("breaker state = %v, want open (2)", e.breakerState())
	}
	requireLog(t, e.logs, slog.LevelWarn, msgBreaker, map[string]string{
		"dependency": "max_api", "from": "closed", "to": "open",
	})

	// Open: a synchronous refresh does not call MAX and still answers.
	got, err := e.svc.Refresh(t.Context(), 1)
	if err != nil || got.Participants.Source != chat.SourceDatabase || got.Participants.Count != 10 {
		t.Fatalf("refresh while open = %+v, %v; want database data", got, err)
	}
	if n := e.max.Calls(); n != 3 {
		t.Errorf("MAX calls = %d, want 3: the open breaker must not call", n)
	}
	if n := e.maxErrors("circuit_open"); n != 1 {
		t.Errorf("max errors{circuit_open} = %v, want 1", n)
	}
	if n := len(e.logs.Find(msgMaxFailed)); n != 4 {
		t.Errorf("%d ERROR logs, want 4 (3 timeouts, 1 circuit_open)", n)
	}
	fallbackBefore := e.fallback(metrics.ReasonMaxAPIUnavailable) // 4, one per refresh
	logsBefore := len(e.logs.Find(msgFallback))

	// A list with two stale chats queues nothing, counts both as dropped, one fallback and
	// one WARN for the request.
	for req := 1; req <= 2; req++ {
		got := list(t, e)
		if got[0].Participants.Source != chat.SourceDatabase || got[1].Participants.Source != chat.SourceCache {
			t.Fatalf("served %v, want database and cache data", got)
		}
		if e.queueLen() != 0 {
			t.Fatalf("queued refreshes while the breaker is open")
		}
		if d := e.dropped(metrics.ReasonMaxAPIUnavailable); d != float64(2*req) {
			t.Errorf("dropped{max_api_unavailable} = %v after %d requests, want %d", d, req, 2*req)
		}
		if f := e.fallback(metrics.ReasonMaxAPIUnavailable) - fallbackBefore; f != float64(req) {
			t.Errorf("fallback{max_api_unavailable} rose by %v after %d requests, want %d", f, req, req)
		}
		recs := e.logs.Find(msgFallback)[logsBefore:]
		if len(recs) != req {
			t.Fatalf("%d new fallback logs after %d requests, want one per request", len(recs), req)
		}
		r := recs[req-1]
		if r.Level != slog.LevelWarn || r.Attrs["reason"] != "max_api_unavailable" ||
			r.Attrs["chat_count"] != "2" || r.Attrs["fallback_source"] != "mixed" {
			t.Errorf("fallback log = %+v", r)
		}
	}
	if n := e.max.Calls(); n != 3 {
		t.Errorf("MAX calls = %d, want still 3", n)
	}

	// The fallback source names the single source when all stale chats share it.
	e2 := newEnv(t, func(c *participants.Config) { c.BreakerFailures = 1 })
	e2.store.Put(linked(1, -101, 10, dbAt), linked(2, -102, 10, dbAt))
	e2.cache.Put(1, 20, staleAt)
	e2.cache.Put(2, 20, staleAt)
	e2.max.Fail(&maxError{reason: "connection"})
	_, _ = e2.svc.Refresh(t.Context(), 1) // opens the breaker
	list(t, e2)
	recs := e2.logs.Find(msgFallback)
	if last := recs[len(recs)-1]; last.Attrs["fallback_source"] != "cache" || last.Attrs["chat_count"] != "2" {
		t.Errorf("fallback log = %+v, want source cache for 2 chats", last)
	}
}

func TestBreakerIgnoresNotFound(t *testing.T) {
	e := newEnv(t)
	e.store.Put(linked(1, -101, 10, dbAt))
	// The fake knows no chat: every call is a 404.
	for range 5 {
		if _, err := e.svc.Refresh(t.Context(), 1); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.maxErrors("not_found"); n != 5 {
		t.Errorf("max errors{not_found} = %v, want 5", n)
	}
	if e.breakerState() != metrics.BreakerClosed || e.max.Calls() != 5 {
		t.Errorf("breaker state %v after 404s, MAX calls %d; want closed and 5", e.breakerState(), e.max.Calls())
	}
}

func TestBreakerRecovers(t *testing.T) {
	e := newEnv(t, func(c *participants.Config) {
		c.BreakerFailures = 2
		c.BreakerCooldown = 50 * time.Millisecond // the breaker runs on the wall clock
	})
	e.store.Put(linked(1, -101, 10, dbAt))
	e.max.Fail(&maxError{reason: "server_error"})
	_, _ = e.svc.Refresh(t.Context(), 1)
	_, _ = e.svc.Refresh(t.Context(), 1)
	if e.breakerState() != metrics.BreakerOpen {
		t.Fatalf("breaker state = %v, want open", e.breakerState())
	}
	e.max.Fail(nil)
	e.max.SetCount(-101, 30)
	eventually(t, func() bool {
		got, err := e.svc.Refresh(t.Context(), 1)
		return err == nil && got.Participants.Source == chat.SourceAPI
	}, "a probe after the cooldown succeeds")
	if e.breakerState() != metrics.BreakerClosed {
		t.Errorf("breaker state = %v, want closed", e.breakerState())
	}
	var transitions [][2]string
	for _, r := range e.logs.Find(msgBreaker) {
		transitions = append(transitions, [2]string{r.Attrs["from"], r.Attrs["to"]})
	}
	want := [][2]string{{"closed", "open"}, {"open", "half-open"}, {"half-open", "closed"}}
	if !slices.Equal(transitions, want) {
		t.Errorf("transitions = %v, want %v", transitions, want)
	}
}

func TestBackgroundFailuresOpenTheBreaker(t *testing.T) {
	e := newEnv(t, func(c *participants.Config) { c.Workers = 1 })
	for id := int64(1); id <= 3; id++ {
		e.store.Put(linked(id, -100-id, 10, dbAt))
	}
	e.max.Fail(&maxError{reason: "malformed"})
	e.run(t)
	list(t, e)
	eventually(t, func() bool {
		return e.breakerState() == metrics.BreakerOpen && e.maxErrors("malformed") == 3
	}, "three malformed answers open the breaker")
	if u := e.store.Updates(); len(u) != 0 {
		t.Errorf("failed refreshes wrote %v", u)
	}
	list(t, e)
	if e.queueLen() != 0 || e.dropped(metrics.ReasonMaxAPIUnavailable) != 3 {
		t.Errorf("queue %v, dropped{max_api_unavailable} %v; want 0 and 3", e.queueLen(), e.dropped(metrics.ReasonMaxAPIUnavailable))
	}
}

func TestRetryAfterPause(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter time.Duration
		pause      time.Duration
	}{
		{"Retry-After honoured", 3 * time.Second, 3 * time.Second},
		{"no Retry-After pauses a second", 0, time.Second},
		{"Retry-After capped at a minute", 10 * time.Minute, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.store.Put(linked(1, -101, 10, dbAt))
			e.max.Fail(&maxError{reason: "rate_limited", retryAfter: tt.retryAfter})
			got, err := e.svc.Refresh(t.Context(), 1)
			if err != nil || got.Participants.Source != chat.SourceDatabase {
				t.Fatalf("refresh = %+v, %v", got, err)
			}
			if n := e.maxErrors("rate_limited"); n != 1 {
				t.Errorf("max errors{rate_limited} = %v, want 1", n)
			}
			if e.breakerState() != metrics.BreakerClosed {
				t.Error("one 429 opened the breaker")
			}
			e.max.Fail(nil)
			e.max.SetCount(-101, 30)

			// Inside the pause: no call, no queueing, a fallback.
			e.clock.Advance(tt.pause - time.Millisecond)
			got, _ = e.svc.Refresh(t.Context(), 1)
			if got.Participants.Source != chat.SourceDatabase || e.max.Calls() != 1 {
				t.Errorf("refresh during the pause = %+v with %d MAX calls; want database data and 1 call",
					got.Participants, e.max.Calls())
			}
			list(t, e)
			if e.queueLen() != 0 || e.dropped(metrics.ReasonMaxAPIUnavailable) != 1 {
				t.Errorf("list during the pause: queue %v, dropped %v; want 0 and 1",
					e.queueLen(), e.dropped(metrics.ReasonMaxAPIUnavailable))
			}

			// After it: calls resume.
			e.clock.Advance(time.Millisecond)
			got, err = e.svc.Refresh(t.Context(), 1)
			if err != nil || got.Participants.Source != chat.SourceAPI || got.Participants.Count != 30 {
				t.Errorf("refresh after the pause = %+v, %v; want 30 from api", got, err)
			}
		})
	}
}

func TestRetryAfterPausesWorkers(t *testing.T) {
	e := newEnv(t, func(c *participants.Config) { c.Workers = 1 })
	e.store.Put(linked(1, -101, 10, dbAt), linked(2, -102, 10, dbAt))
	e.max.Fail(&maxError{reason: "rate_limited", retryAfter: 5 * time.Second})
	e.run(t)
	list(t, e)
	eventually(t, func() bool { return e.max.Calls() == 1 && e.clock.Waiters() == 1 },
		"the worker waits out the pause with the second chat")
	e.max.Fail(nil)
	e.max.SetCount(-102, 7)
	e.clock.Advance(4 * time.Second)
	if e.max.Calls() != 1 || e.clock.Waiters() != 1 {
		t.Fatalf("worker called MAX during the pause")
	}
	e.clock.Advance(time.Second)
	eventually(t, func() bool { return e.refreshes("success") == 1 }, "the second chat is refreshed after the pause")
	if u := e.store.Updates(); len(u) != 1 || u[0].ID != 2 || u[0].Count != 7 {
		t.Errorf("store writes = %v, want chat 2 = 7", u)
	}
}

// The pause begins as the 429 is read, before it is logged: a refresh that checks the pause
// while the failure is still being logged (another worker, just before its call) makes no
// call.
func TestRetryAfterPauseBeginsBeforeTheFailureIsLogged(t *testing.T) {
	e := newEnv(t)
	e.store.Put(linked(1, -101, 10, dbAt), linked(2, -102, 10, dbAt))
	e.max.Fail(&maxError{reason: "rate_limited", retryAfter: 5 * time.Second})
	var calls []int
	e.logs.OnRecord(func(r logRecord) {
		if r.Msg == msgMaxFailed && r.Attrs["chat_id"] == "1" {
			got, err := e.svc.Refresh(t.Context(), 2)
			if err != nil || got.Participants.Source != chat.SourceDatabase {
				t.Errorf("refresh while the 429 is logged = %+v, %v; want the database's data", got, err)
			}
			calls = append(calls, e.max.Calls())
		}
	})
	if _, err := e.svc.Refresh(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(calls, []int{1}) {
		t.Errorf("MAX calls seen while the 429 was logged: %v; want [1] (the 429 alone)", calls)
	}
}

func TestShutdownCancelsInFlightRefresh(t *testing.T) {
	before := runtime.NumGoroutine()
	e := newEnv(t)
	e.store.Put(linked(1, -101, 10, dbAt), linked(2, -102, 10, dbAt))
	e.max.SetCount(-101, 30)
	e.max.SetCount(-102, 30)
	e.max.Block() // never released: only cancellation ends the calls
	e.run(t)
	list(t, e)
	eventually(t, func() bool { return e.max.Calls() == 2 }, "both refreshes reach MAX")

	// A synchronous refresh waiting on the same flight ends too.
	refreshErr := make(chan error, 1)
	go func() {
		_, err := e.svc.Refresh(context.Background(), 1)
		refreshErr <- err
	}()
	eventually(t, func() bool { return goroutinesIn("participants.(*Service).refreshShared(") == 3 },
		"the synchronous refresh joins the background one")

	e.stopRun() // fails the test if Run does not return
	if n := e.max.Cancelled(); n != 2 {
		t.Errorf("cancelled MAX calls = %d, want 2", n)
	}
	select {
	case err := <-refreshErr:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("synchronous refresh at shutdown: %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("synchronous refresh did not end at shutdown")
	}
	if u, s := e.store.Updates(), e.cache.Sets(); len(u)+len(s) != 0 {
		t.Errorf("cancelled refreshes wrote: %v %v", u, s)
	}
	// Cancellation is not MAX's fault: nothing counted, nothing logged as a failure.
	if e.refreshes("failure")+e.maxErrors("timeout")+e.maxErrors("connection") != 0 || len(e.logs.Find(msgMaxFailed)) != 0 {
		t.Error("shutdown was counted as a MAX failure")
	}
	if e.breakerState() != metrics.BreakerClosed {
		t.Error("shutdown moved the breaker")
	}
	eventually(t, func() bool { return runtime.NumGoroutine() <= before }, "goroutines end (%d > %d)", runtime.NumGoroutine(), before)

	// After shutdown a refresh is refused, not started.
	if _, err := e.svc.Refresh(t.Context(), 1); !errors.Is(err, context.Canceled) {
		t.Errorf("refresh after shutdown: %v, want context.Canceled", err)
	}
	if n := e.max.Calls(); n != 2 {
		t.Errorf("MAX calls after shutdown = %d, want 2", n)
	}
}

func TestRunTwice(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := e.svc.Run(ctx); err != nil {
		t.Fatalf("first Run: %v", err)
	}
	if err := e.svc.Run(ctx); err == nil {
		t.Error("second Run accepted")
	}
}

func TestQueueGaugeFollowsWorkers(t *testing.T) {
	e := newEnv(t)
	for id := int64(1); id <= 3; id++ {
		e.store.Put(linked(id, -100-id, 10, dbAt))
		e.max.SetCount(-100-id, 1)
	}
	list(t, e)
	if e.queueLen() != 3 {
		t.Fatalf("queue length = %v, want 3", e.queueLen())
	}
	e.run(t)
	eventually(t, func() bool { return e.refreshes("success") == 3 && e.queueLen() == 0 }, "the queue drains")
	recs := e.logs.Find("Participants refreshed")
	if len(recs) != 3 || recs[0].Level != slog.LevelDebug || recs[0].Attrs["count"] != "1" {
		t.Errorf("refresh logs = %+v", recs)
	}
}
