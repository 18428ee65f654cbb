package participants_test

import (
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/faultline/faultline/service/internal/chat"
	"github.com/faultline/faultline/service/internal/metrics"
	"github.com/faultline/faultline/service/internal/participants"
)

const msgBackedOff = "Participants refresh backed off"

func withBackoff(c *participants.Config) { c.FailureBackoff = 10 * time.Minute }

// backedOffEnv runs a service whose chat 1 (MAX -101, stale) MAX answers with reason, and
// lists once so that its refresh fails and backs the chat off.
func backedOffEnv(t *testing.T, reason string) *env {
	t.Helper()
	e := newEnv(t, withBackoff)
	e.store.Put(linked(1, -101, 10, dbAt))
	if reason != "not_found" { // the fake MAX answers not_found for chats it does not know
		e.max.Fail(&maxError{reason: reason})
	}
	e.run(t)
	list(t, e)
	eventually(t, func() bool { return e.refreshes("failure") == 1 }, "the refresh fails")
	eventually(t, func() bool { return len(e.cache.Backoffs()) == 1 }, "the backoff is stored in the cache")
	// The failed refresh has ended, so a POST refresh asks MAX itself instead of joining it.
	eventually(t, func() bool { return e.svc.Pending() == 0 }, "the background refresh ends")
	return e
}

func TestChatMaxDoesNotKnowIsBackedOff(t *testing.T) {
	for _, reason := range []string{"not_found", "client_error"} {
		t.Run(reason, func(t *testing.T) {
			e := backedOffEnv(t, reason)
			if until := e.cache.Backoffs()[1]; !until.Equal(t0.Add(10 * time.Minute)) {
				t.Errorf("backoff of chat 1 until %v, want %v", until, t0.Add(10*time.Minute))
			}
			requireLog(t, e.logs, slog.LevelWarn, msgBackedOff, map[string]string{
				"chat_id": "1", "max_chat_id": "-101", "reason": reason, "backoff": "10m0s",
			})

			// Within the window, lists serve the stored data and do not queue the chat.
			for range 3 {
				got := list(t, e)
				if p := got[0].Participants; p.Count != 10 || !p.UpdatedAt.Equal(dbAt) || p.Source != chat.SourceDatabase {
					t.Errorf("served %+v, want the stored 10 at %v", p, dbAt)
				}
				if e.queueLen() != 0 {
					t.Fatal("a backed-off chat was queued for refresh")
				}
			}
			if n := e.dropped(metrics.ReasonFailureBackoff); n != 3 {
				t.Errorf("dropped{failure_backoff} = %v, want 3", n)
			}
			e.clock.Advance(10*time.Minute - time.Nanosecond)
			list(t, e)
			if n := e.max.Calls(); n != 1 {
				t.Errorf("MAX calls within the backoff = %d, want 1", n)
			}
			if u, s := e.store.Updates(), e.cache.Sets(); len(u)+len(s) != 0 {
				t.Errorf("writes during the backoff: store %v, cache %v", u, s)
			}
			if e.fallback(metrics.ReasonMaxAPIUnavailable) != 0 {
				t.Error("a skipped refresh counted a fallback: the data served is what it would be anyway")
			}

			// Once it ends, the chat is refreshed again: one call per window.
			e.clock.Advance(time.Nanosecond)
			eventually(t, func() bool { list(t, e); return e.max.Calls() == 2 }, "the chat is refreshed after the backoff")
		})
	}
}

func TestOtherMaxFailuresDoNotBackOff(t *testing.T) {
	e := newEnv(t, withBackoff)
	e.store.Put(linked(1, -101, 10, dbAt))
	e.max.Fail(&maxError{reason: "server_error"})
	e.run(t)
	list(t, e)
	eventually(t, func() bool { return e.refreshes("failure") == 1 }, "the refresh fails")
	if b := e.cache.Backoffs(); len(b) != 0 {
		t.Errorf("backoffs after a 5xx: %v, want none (MAX's health is the breaker's business)", b)
	}
	// The failure is counted just before the worker lets go of the chat: keep listing
	// until one queues it.
	eventually(t, func() bool { list(t, e); return e.max.Calls() >= 2 }, "the chat is refreshed again")
}

func TestBackoffHoldsWhileTheCacheIsDown(t *testing.T) {
	e := backedOffEnv(t, "not_found")
	e.cache.Fail(errors.New("redis: connection refused"))
	list(t, e)
	if e.queueLen() != 0 || e.dropped(metrics.ReasonFailureBackoff) != 1 {
		t.Errorf("with the cache down the backoff was not held in memory (queue %v, skipped %v)",
			e.queueLen(), e.dropped(metrics.ReasonFailureBackoff))
	}
	if n := e.max.Calls(); n != 1 {
		t.Errorf("MAX calls = %d, want 1", n)
	}
}

func TestBackoffOfAnotherReplicaIsHonoured(t *testing.T) {
	e := newEnv(t, withBackoff)
	e.store.Put(linked(1, -101, 10, dbAt), linked(2, -102, 20, dbAt))
	e.max.SetCount(-102, 21)
	// Another replica backed chat 1 off.
	if err := e.cache.SetBackoff(t.Context(), 1, t0.Add(5*time.Minute), 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	list(t, e)
	if e.queueLen() != 1 || e.dropped(metrics.ReasonFailureBackoff) != 1 {
		t.Errorf("queue %v, skipped %v; want chat 2 queued and chat 1 skipped", e.queueLen(), e.dropped(metrics.ReasonFailureBackoff))
	}

	// The replica lifts it (chat 1 answered a refresh there): the cache is authoritative.
	if err := e.cache.ClearBackoff(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	// Chat 2's refresh ends first, so that the next list reads its new count and queues
	// chat 1 alone (a list that read chat 2 before the refresh stored it would queue it
	// again: without the shared quota's claims one replica may refresh a chat twice).
	e.run(t)
	eventually(t, func() bool { return e.max.Calls() == 1 && e.svc.Pending() == 0 }, "chat 2 is refreshed")
	list(t, e)
	eventually(t, func() bool { return e.max.Calls() == 2 }, "chat 1 is refreshed")
	if n := e.dropped(metrics.ReasonFailureBackoff); n != 1 {
		t.Errorf("skipped for a backoff %v times, want once (before it was lifted)", n)
	}
}

func TestRefreshRequestAsksMaxDuringTheBackoffAndLiftsIt(t *testing.T) {
	e := backedOffEnv(t, "not_found")
	// The bot is back in the chat.
	e.max.SetCount(-101, 30)
	got, err := e.svc.Refresh(t.Context(), 1)
	if err != nil || got.Participants.Source != chat.SourceAPI || got.Participants.Count != 30 {
		t.Fatalf("Refresh = %+v, %v; want MAX's 30", got.Participants, err)
	}
	if b := e.cache.Backoffs(); len(b) != 0 {
		t.Errorf("backoffs after a successful refresh: %v, want none", b)
	}
	e.clock.Advance(2 * time.Hour) // stale again
	eventually(t, func() bool { list(t, e); return e.max.Calls() == 3 }, "lists refresh the chat again")
}
