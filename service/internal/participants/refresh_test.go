package participants_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/faultline/faultline/service/internal/chat"
	"github.com/faultline/faultline/service/internal/metrics"
	"github.com/faultline/faultline/service/internal/participants"
)

func TestRefreshSuccess(t *testing.T) {
	e := newEnv(t)
	e.store.Put(linked(1, -101, 10, dbAt))
	e.cache.Put(1, 20, staleAt)
	e.max.SetCount(-101, 30)
	e.clock.Advance(1234567 * time.Nanosecond) // sub-microsecond part is dropped

	got, err := e.svc.Refresh(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	at := t0.Add(1234 * time.Microsecond)
	want := chat.Participants{Count: 30, UpdatedAt: at, Source: chat.SourceAPI}
	if got.Participants != want || got.ID != 1 || got.MaxChatID != -101 || got.Name != "chat 1" {
		t.Errorf("Refresh = %+v, want participants %+v", got, want)
	}
	if j := e.journal.all(); !slices.Equal(j, []string{"store:1", "cache:1"}) {
		t.Errorf("writes = %v, want the database first, then the cache", j)
	}
	if u := e.store.Updates(); len(u) != 1 || u[0] != (write{ID: 1, Count: 30, At: at}) {
		t.Errorf("store writes = %v", u)
	}
	if e.refreshes("success") != 1 || e.fallback(metrics.ReasonMaxAPIUnavailable) != 0 {
		t.Error("success not counted, or counted as a fallback")
	}
	requireLog(t, e.logs, slog.LevelDebug, "Participants refreshed", map[string]string{"chat_id": "1", "count": "30"})
}

// A refresh that succeeds but brings an older observation than the database holds (another
// replica refreshed later) answers with the database's newer count, not MAX's older one.
func TestRefreshServesTheNewerStoredCount(t *testing.T) {
	e := newEnv(t)
	newer := t0.Add(time.Minute)
	e.store.Put(linked(1, -101, 10, newer))
	e.max.SetCount(-101, 30)

	got, err := e.svc.Refresh(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	want := chat.Participants{Count: 10, UpdatedAt: newer, Source: chat.SourceDatabase}
	if got.Participants != want {
		t.Errorf("Refresh = %+v, want the newer stored %+v", got.Participants, want)
	}
	if e.refreshes("success") != 1 {
		t.Error("the MAX call succeeded and is counted as such")
	}
}

func TestRefreshMaxFailure(t *testing.T) {
	for _, reason := range []string{"timeout", "connection", "rate_limited", "unauthorized", "not_found",
		"client_error", "server_error", "malformed", "too_large"} {
		t.Run(reason, func(t *testing.T) {
			e := newEnv(t)
			e.store.Put(linked(1, -101, 10, dbAt))
			e.cache.Put(1, 20, freshAt) // the answer is database data even when the cache is newer
			e.max.Fail(&maxError{reason: reason})

			got, err := e.svc.Refresh(t.Context(), 1)
			if err != nil {
				t.Fatalf("Refresh: %v; a MAX failure must answer with database data", err)
			}
			want := chat.Participants{Count: 10, UpdatedAt: dbAt, Source: chat.SourceDatabase}
			if got.Participants != want {
				t.Errorf("Refresh = %+v, want %+v", got.Participants, want)
			}
			if u, s := e.store.Updates(), e.cache.Sets(); len(u)+len(s) != 0 {
				t.Errorf("failed refresh wrote: %v %v", u, s)
			}
			if n := e.maxErrors(reason); n != 1 {
				t.Errorf("max errors{%s} = %v, want 1", reason, n)
			}
			if e.refreshes("failure") != 1 {
				t.Error("failure not counted")
			}
			if n := e.fallback(metrics.ReasonMaxAPIUnavailable); n != 1 {
				t.Errorf("fallback{max_api_unavailable} = %v, want 1", n)
			}
			requireLog(t, e.logs, slog.LevelError, msgMaxFailed, map[string]string{
				"chat_id": "1", "max_chat_id": "-101", "reason": reason,
			})
			requireLog(t, e.logs, slog.LevelWarn, msgFallback, map[string]string{
				"reason": "max_api_unavailable", "chat_count": "1", "fallback_source": "database",
			})
		})
	}
}

func TestRefreshNegativeCountIsMalformed(t *testing.T) {
	e := newEnv(t)
	e.store.Put(linked(1, -101, 10, dbAt))
	e.max.SetCount(-101, -5)
	got, err := e.svc.Refresh(t.Context(), 1)
	if err != nil || got.Participants.Source != chat.SourceDatabase {
		t.Fatalf("Refresh = %+v, %v", got, err)
	}
	if e.maxErrors("malformed") != 1 || len(e.store.Updates()) != 0 {
		t.Error("a negative count was not rejected as malformed")
	}
}

func TestRefreshNotFoundAndConflict(t *testing.T) {
	e := newEnv(t)
	e.store.Put(unlinked(2, 5, dbAt))
	if _, err := e.svc.Refresh(t.Context(), 1); chat.ErrorCode(err) != chat.ENOTFOUND {
		t.Errorf("refresh of an unknown chat: %v, want not_found", err)
	}
	if _, err := e.svc.Refresh(t.Context(), 2); chat.ErrorCode(err) != chat.ECONFLICT {
		t.Errorf("refresh of an unlinked chat: %v, want conflict", err)
	}
	if e.max.Calls() != 0 || len(e.store.Updates()) != 0 {
		t.Error("MAX asked or store written for a chat that cannot be refreshed")
	}
}

func TestRefreshWithLazyUpdateOff(t *testing.T) {
	e := newEnv(t, func(c *participants.Config) { c.LazyUpdate = false })
	e.store.Put(linked(1, -101, 10, dbAt))
	e.max.SetCount(-101, 30)
	got, err := e.svc.Refresh(t.Context(), 1)
	if err != nil || got.Participants.Source != chat.SourceAPI {
		t.Errorf("explicit refresh with lazy update off = %+v, %v; want api", got, err)
	}
}

func TestRefreshStoreWriteFails(t *testing.T) {
	e := newEnv(t)
	e.store.Put(linked(1, -101, 10, dbAt))
	e.max.SetCount(-101, 30)
	e.store.FailUpdate(chat.Wrap(errors.New("connection reset"), chat.EDATABASEUNAVAILABLE, "database unavailable"))
	_, err := e.svc.Refresh(t.Context(), 1)
	if chat.ErrorCode(err) != chat.EDATABASEUNAVAILABLE {
		t.Errorf("Refresh with the database write failing: %v, want database_unavailable", err)
	}
	if s := e.cache.Sets(); len(s) != 0 {
		t.Errorf("cache written %v although the database write failed", s)
	}
	if e.refreshes("failure") != 1 || e.refreshes("success") != 0 {
		t.Error("a refresh that was not stored was not counted as failed")
	}
}

func TestRefreshCacheWriteFails(t *testing.T) {
	e := newEnv(t)
	e.store.Put(linked(1, -101, 10, dbAt))
	e.max.SetCount(-101, 30)
	e.cache.Fail(errors.New("redis down"))
	got, err := e.svc.Refresh(t.Context(), 1)
	if err != nil || got.Participants.Source != chat.SourceAPI {
		t.Fatalf("Refresh = %+v, %v; a cache failure must not fail a stored refresh", got, err)
	}
	if c := e.store.Chat(1); c.Participants.Count != 30 {
		t.Errorf("stored count %d, want 30", c.Participants.Count)
	}
	if e.refreshes("success") != 1 {
		t.Error("stored refresh not counted as a success")
	}
}

// TestRefreshSharesFlightWithBackground checks that a synchronous refresh of a chat whose
// background refresh is in flight waits for it instead of calling MAX again.
func TestRefreshSharesFlightWithBackground(t *testing.T) {
	e, release := refreshInFlight(t)

	type result struct {
		c   chat.Chat
		err error
	}
	done := make(chan result, 2)
	for range 2 {
		go func() {
			c, err := e.svc.Refresh(context.Background(), 1)
			done <- result{c, err}
		}()
	}
	// One worker and two synchronous callers wait on the same flight.
	eventually(t, func() bool { return goroutinesIn("participants.(*Service).refreshShared(") == 3 },
		"both synchronous refreshes join the flight")
	release()
	for range 2 {
		r := <-done
		if r.err != nil || r.c.Participants.Source != chat.SourceAPI || r.c.Participants.Count != 30 {
			t.Errorf("shared refresh = %+v, %v", r.c, r.err)
		}
	}
	if n := e.max.Calls(); n != 1 {
		t.Errorf("MAX calls = %d, want 1", n)
	}
	if u := e.store.Updates(); len(u) != 1 {
		t.Errorf("store writes = %v, want one", u)
	}
	eventually(t, func() bool { return e.refreshes("success") == 1 }, "one refresh counted")
}

// TestRefreshCallerGivingUp checks that a caller that stops waiting does not cancel the
// refresh for the others: the count is still fetched and written.
func TestRefreshCallerGivingUp(t *testing.T) {
	e := newEnv(t)
	e.store.Put(linked(1, -101, 10, dbAt))
	e.max.SetCount(-101, 30)
	release := e.max.Block()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := e.svc.Refresh(ctx, 1)
		done <- err
	}()
	eventually(t, func() bool { return e.max.Calls() == 1 }, "the refresh reaches MAX")
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("abandoned refresh returned %v, want context.Canceled", err)
	}
	release()
	eventually(t, func() bool { return len(e.store.Updates()) == 1 }, "the refresh completes for the others")
	if e.max.Cancelled() != 0 {
		t.Error("the caller's cancellation reached MAX")
	}
}
