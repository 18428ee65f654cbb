package participants_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/faultline/faultline/service/internal/chat"
	"github.com/faultline/faultline/service/internal/metrics"
	"github.com/faultline/faultline/service/internal/participants"
)

// fakeQuota is the shared MAX quota of other replicas: it grants a slot now, or one after
// the next of its waits (refused beyond the caller's patience), or fails as Redis would, and
// keeps the pauses stored.
type fakeQuota struct {
	mu          sync.Mutex
	err         error
	waits       []time.Duration // answered in turn; granted once they run out
	takes       int
	rates       []float64
	pausedUntil time.Time
	claims      map[int64]bool // chats claimed by a background refresh and not released
	claimed     []int64        // every claim taken, in order
	released    []int64
	pauseReads  int           // PausedUntil calls
	pauseTrip   time.Duration // the round trip of each PausedUntil, passed on clock
	// trips are the round trips of the reservations in turn, passed on clock.
	trips []time.Duration
	clock interface{ Advance(time.Duration) }
}

func (q *fakeQuota) Reserve(_ context.Context, c chat.QuotaCall) (chat.Reservation, error) {
	q.mu.Lock()
	if len(q.trips) > 0 {
		trip := q.trips[0]
		q.trips = q.trips[1:]
		q.mu.Unlock()
		q.clock.Advance(trip)
		q.mu.Lock()
	}
	defer q.mu.Unlock()
	if q.err != nil {
		return chat.Reservation{}, q.err
	}
	r := chat.Reservation{PausedUntil: q.pausedUntil}
	if c.ChatID != 0 && q.claims[c.ChatID] {
		r.Taken = true
		return r, nil
	}
	q.takes++
	q.rates = append(q.rates, c.Rate)
	r.OK = true
	if len(q.waits) > 0 {
		r.Wait = q.waits[0]
		q.waits = q.waits[1:]
		r.OK = r.Wait <= c.MaxWait
	}
	if r.OK && c.ChatID != 0 {
		if q.claims == nil {
			q.claims = map[int64]bool{}
		}
		q.claims[c.ChatID] = true
		q.claimed = append(q.claimed, c.ChatID)
	}
	return r, nil
}

func (q *fakeQuota) Release(_ context.Context, id int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.claims, id)
	q.released = append(q.released, id)
	return q.err
}

func (q *fakeQuota) Pause(_ context.Context, until time.Time, _ time.Duration) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return q.err
	}
	if until.After(q.pausedUntil) {
		q.pausedUntil = until
	}
	return nil
}

func (q *fakeQuota) PausedUntil(context.Context) (time.Time, error) {
	if q.pauseTrip > 0 {
		q.clock.Advance(q.pauseTrip)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pauseReads++
	return q.pausedUntil, q.err
}

func (q *fakeQuota) set(f func(q *fakeQuota)) { q.mu.Lock(); f(q); q.mu.Unlock() }

func (q *fakeQuota) Takes() int { q.mu.Lock(); defer q.mu.Unlock(); return q.takes }

func withQuota(q *fakeQuota, rate float64, replicas int) func(*participants.Config) {
	return func(c *participants.Config) { c.Quota, c.RateLimit, c.Replicas = q, rate, replicas }
}

func TestSharedQuotaAsksForTheDeploymentsRate(t *testing.T) {
	q := &fakeQuota{}
	e := newEnv(t, withQuota(q, 20, 3))
	e.store.Put(linked(1, -101, 10, dbAt))
	e.max.SetCount(-101, 30)
	got, err := e.svc.Refresh(t.Context(), 1)
	if err != nil || got.Participants.Count != 30 {
		t.Fatalf("Refresh = %+v, %v; want MAX's 30", got.Participants, err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	// The whole deployment's budget is asked for, not this replica's third of it.
	if len(q.rates) != 1 || q.rates[0] != 20 {
		t.Errorf("quota asked at %v, want once at 20", q.rates)
	}
}

func TestSharedQuotaWaitIsKept(t *testing.T) {
	q := &fakeQuota{waits: []time.Duration{300 * time.Millisecond}}
	e := newEnv(t, withQuota(q, 20, 1))
	e.store.Put(linked(1, -101, 10, dbAt))
	e.max.SetCount(-101, 30)
	done := make(chan chat.Chat, 1)
	go func() {
		c, _ := e.svc.Refresh(context.Background(), 1)
		done <- c
	}()
	eventually(t, func() bool { return e.clock.Waiters() == 1 }, "the refresh waits for the quota")
	e.clock.Advance(299 * time.Millisecond)
	if e.max.Calls() != 0 {
		t.Fatal("MAX called before the quota had room")
	}
	e.clock.Advance(time.Millisecond)
	select {
	case c := <-done:
		// The slot was reserved: the quota is not asked again after the wait.
		if c.Participants.Count != 30 || e.max.Calls() != 1 || q.Takes() != 1 {
			t.Errorf("after the wait: count %d, MAX calls %d, quota asked %d times; want 30, 1, 1",
				c.Participants.Count, e.max.Calls(), q.Takes())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the refresh did not end after the wait")
	}
}

// At 20 calls a second a slot is 50 ms: a reservation whose answer took longer than half of
// that may have taken a slot the call can no longer keep closely enough.
func TestCallTooLateForItsSlotReservesAnother(t *testing.T) {
	q := &fakeQuota{trips: []time.Duration{26 * time.Millisecond, 2 * time.Millisecond}}
	e := newEnv(t, withQuota(q, 20, 3))
	q.clock = e.clock
	e.store.Put(linked(1, -101, 10, dbAt))
	e.max.SetCount(-101, 30)
	e.run(t)
	list(t, e)
	eventually(t, func() bool { return e.refreshes("success") == 1 && e.svc.Pending() == 0 }, "the refresh ends")
	if n := testutil.ToFloat64(e.m.QuotaLate); n != 1 {
		t.Errorf("slots given up = %v, want 1", n)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	// The chat is claimed with the first slot and kept with the second.
	if q.takes != 2 || !slices.Equal(q.claimed, []int64{1}) || len(q.released) != 0 {
		t.Errorf("quota asked %d times, claimed %v, released %v; want 2, [1], none", q.takes, q.claimed, q.released)
	}
	if n := e.max.Calls(); n != 1 {
		t.Errorf("MAX calls = %d, want 1", n)
	}
}

// slowPauseReadEnv is a replica whose refresh of chat 1 (stored 10, MAX 30) waits 50 ms for
// its slot at 20 a second, and whose read of the pause after the wait takes 26 ms, over
// half a slot.
func slowPauseReadEnv(t *testing.T) (*fakeQuota, *env) {
	t.Helper()
	q := &fakeQuota{waits: []time.Duration{50 * time.Millisecond}, pauseTrip: 26 * time.Millisecond}
	e := newEnv(t, withQuota(q, 20, 3))
	q.clock = e.clock
	e.store.Put(linked(1, -101, 10, dbAt))
	e.max.SetCount(-101, 30)
	return q, e
}

// refreshAfterSlotWait refreshes chat 1 while it waits for its slot: once the refresh waits,
// meanwhile runs, the clock moves on by wait, and the refresh's answer is returned.
func refreshAfterSlotWait(t *testing.T, e *env, wait time.Duration, meanwhile func()) (chat.Chat, error) {
	t.Helper()
	type result struct {
		c   chat.Chat
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := e.svc.Refresh(context.Background(), 1)
		done <- result{c, err}
	}()
	eventually(t, func() bool { return e.clock.Waiters() == 1 }, "the refresh waits for its slot")
	meanwhile()
	e.clock.Advance(wait)
	select {
	case r := <-done:
		return r.c, r.err
	case <-time.After(5 * time.Second):
		t.Fatal("the refresh did not end after its wait")
		return chat.Chat{}, nil
	}
}

// The pause read after a wait does not count toward the call's lateness: a slow read
// leaves the slot kept and the call made.
func TestSlowPauseReadAfterTheWaitKeepsTheSlot(t *testing.T) {
	q, e := slowPauseReadEnv(t)
	if _, err := refreshAfterSlotWait(t, e, 50*time.Millisecond, func() {}); err != nil {
		t.Fatal(err)
	}
	q.mu.Lock()
	reads := q.pauseReads
	q.mu.Unlock()
	if n := testutil.ToFloat64(e.m.QuotaLate); n != 0 || q.Takes() != 1 || e.max.Calls() != 1 || reads != 1 {
		t.Errorf("slots given up %v, quota asked %d times, MAX calls %d, pause reads %d; want 0, 1, 1, 1",
			n, q.Takes(), e.max.Calls(), reads)
	}
}

func TestCallWithinHalfASlotOfItsSlotKeepsIt(t *testing.T) {
	q := &fakeQuota{trips: []time.Duration{25 * time.Millisecond}}
	e := newEnv(t, withQuota(q, 20, 3))
	q.clock = e.clock
	e.store.Put(linked(1, -101, 10, dbAt))
	e.max.SetCount(-101, 30)
	if got, err := e.svc.Refresh(t.Context(), 1); err != nil || got.Participants.Count != 30 {
		t.Fatalf("Refresh = %+v, %v; want MAX's 30", got.Participants, err)
	}
	if n := testutil.ToFloat64(e.m.QuotaLate); n != 0 || q.Takes() != 1 {
		t.Errorf("slots given up = %v, quota asked %d times; want 0, 1", n, q.Takes())
	}
}

func TestCallAlwaysLateForItsSlotIsALocalRefusal(t *testing.T) {
	// Each slot is free at once, but each answer takes 30 ms, longer than half a slot.
	q := &fakeQuota{trips: []time.Duration{30 * time.Millisecond, 30 * time.Millisecond, 30 * time.Millisecond}}
	e := newEnv(t, withQuota(q, 20, 3))
	q.clock = e.clock
	e.store.Put(linked(1, -101, 10, dbAt))
	got, err := e.svc.Refresh(t.Context(), 1)
	if err != nil || got.Participants.Source != chat.SourceDatabase {
		t.Fatalf("Refresh = %+v, %v; want the stored count from the database", got.Participants, err)
	}
	if n := e.max.Calls(); n != 0 {
		t.Errorf("MAX calls = %d, want 0: every slot was missed", n)
	}
	if n, late := e.dropped(metrics.ReasonLocalRateLimit), testutil.ToFloat64(e.m.QuotaLate); n != 1 || late != 3 || q.Takes() != 3 {
		t.Errorf("dropped{local_rate_limit} = %v, slots given up = %v, quota asked %d times; want 1, 3, 3", n, late, q.Takes())
	}
}

func TestSharedQuotaWithNoRoomIsALocalRefusalNotAMaxError(t *testing.T) {
	// Other replicas use the whole budget: the wait is longer than a call's deadline.
	q := &fakeQuota{waits: []time.Duration{5 * time.Second}}
	e := newEnv(t, withQuota(q, 20, 3))
	e.store.Put(linked(1, -101, 10, dbAt))
	got, err := e.svc.Refresh(t.Context(), 1)
	if err != nil || got.Participants.Source != chat.SourceDatabase || got.Participants.Count != 10 {
		t.Fatalf("Refresh = %+v, %v; want the stored 10 from the database", got.Participants, err)
	}
	if e.max.Calls() != 0 {
		t.Errorf("MAX calls = %d, want 0", e.max.Calls())
	}
	if n := e.dropped(metrics.ReasonLocalRateLimit); n != 1 {
		t.Errorf("refreshes dropped{local_rate_limit} = %v, want 1", n)
	}
	if n := testutil.ToFloat64(e.m.MaxAPIErrors.WithLabelValues("circuit_open")); n != 0 {
		t.Errorf("max errors{circuit_open} = %v, want 0: a full quota is not MAX failing", n)
	}
}

func TestFailedReservationWithRedisNotKnownDownIsALocalRefusal(t *testing.T) {
	// One reservation timed out; Redis's breaker is closed, so the other replicas may
	// still be spending the whole budget. A replica alone has no one to share it with.
	for _, tc := range []struct {
		replicas     int
		want         int
		calls, local int
	}{{3, 10, 0, 0}, {1, 11, 1, 1}} {
		q := &fakeQuota{err: errors.New("redis: i/o timeout")}
		e := newEnv(t, withQuota(q, 12, tc.replicas))
		e.store.Put(linked(1, -101, 10, dbAt))
		e.max.SetCount(-101, 11)
		if got, err := e.svc.Refresh(t.Context(), 1); err != nil || got.Participants.Count != tc.want {
			t.Fatalf("%d replicas: Refresh = %+v, %v; want %d", tc.replicas, got.Participants, err, tc.want)
		}
		if n, local := e.max.Calls(), testutil.ToFloat64(e.m.QuotaLocal); n != tc.calls || int(local) != tc.local {
			t.Errorf("%d replicas: MAX calls = %d, participants_rate_limit_local_total = %v; want %d, %d",
				tc.replicas, n, local, tc.calls, tc.local)
		}
	}
}

func TestQuotaUnavailableFallsBackToTheReplicasShare(t *testing.T) {
	// Redis's breaker is open: Redis is down for every replica.
	q := &fakeQuota{err: fmt.Errorf("%w: redis: connection refused", chat.ErrShortCircuited)}
	// 12 calls a second among 3 replicas: 4 each, one every 250 ms. A second call at the
	// same instant would wait 250 ms, beyond the 200 ms deadline: refused. At the whole
	// budget it would wait 83 ms and be let through.
	e := newEnv(t, withQuota(q, 12, 3), func(c *participants.Config) { c.MaxTimeout = 200 * time.Millisecond })
	e.store.Put(linked(1, -101, 10, dbAt), linked(2, -102, 20, dbAt))
	e.max.SetCount(-101, 11)
	e.max.SetCount(-102, 21)
	if got, err := e.svc.Refresh(t.Context(), 1); err != nil || got.Participants.Count != 11 {
		t.Fatalf("first Refresh = %+v, %v; want MAX's 11", got.Participants, err)
	}
	// A service that waited here (for the whole budget's 83 ms) would wait on the test's
	// clock for ever: the deadline turns that into a failure.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if got, err := e.svc.Refresh(ctx, 2); err != nil || got.Participants.Count != 20 {
		t.Fatalf("second Refresh = %+v, %v; want the stored 20 (refused by the local share)", got.Participants, err)
	}
	if n := testutil.ToFloat64(e.m.QuotaLocal); n != 2 {
		t.Errorf("participants_rate_limit_local_total = %v, want 2", n)
	}
	if n := e.dropped(metrics.ReasonLocalRateLimit); n != 1 {
		t.Errorf("refreshes dropped{local_rate_limit} = %v, want 1", n)
	}
	requireLog(t, e.logs, slog.LevelWarn, "Shared MAX rate limit unavailable, using this replica's share",
		map[string]string{"share": "4", "replicas": "3", "dependency": "redis"})

	// Redis is back: the shared quota is asked again, and the change is logged once.
	q.set(func(q *fakeQuota) { q.err = nil })
	e.clock.Advance(time.Second)
	if got, err := e.svc.Refresh(t.Context(), 2); err != nil || got.Participants.Count != 21 {
		t.Fatalf("Refresh after Redis is back = %+v, %v; want MAX's 21", got.Participants, err)
	}
	requireLog(t, e.logs, slog.LevelInfo, "Shared MAX rate limit available again", map[string]string{"dependency": "redis"})
	if q.Takes() != 1 {
		t.Errorf("quota takes after Redis is back = %d, want 1", q.Takes())
	}
}

func TestCallWaitingForItsShareTakesTheSharedQuotaWhenItIsBack(t *testing.T) {
	// Redis's breaker is open: 4 calls a second among 3 replicas, 2 each. The first call
	// takes this replica's share at once, the second waits 500 ms for it.
	q := &fakeQuota{err: fmt.Errorf("%w: redis: connection refused", chat.ErrShortCircuited)}
	e := newEnv(t, withQuota(q, 6, 3))
	e.store.Put(linked(1, -101, 10, dbAt), linked(2, -102, 20, dbAt), linked(3, -103, 30, dbAt))
	e.max.SetCount(-101, 11)
	e.max.SetCount(-102, 21)
	e.max.SetCount(-103, 31)
	if got, err := e.svc.Refresh(t.Context(), 1); err != nil || got.Participants.Count != 11 {
		t.Fatalf("first Refresh = %+v, %v; want MAX's 11", got.Participants, err)
	}
	type result struct {
		count int
		err   error
	}
	waiting := make(chan result, 1)
	go func() {
		got, err := e.svc.Refresh(t.Context(), 2)
		waiting <- result{got.Participants.Count, err}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for e.clock.Waiters() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the second call never waited for this replica's share")
		}
		time.Sleep(time.Millisecond)
	}

	// Redis is back and another call gets the shared quota: the waiting call gives its
	// share up and takes the shared budget too, without waiting its 500 ms out (the test's
	// clock does not move: a call that kept waiting would never return).
	q.set(func(q *fakeQuota) { q.err = nil })
	if got, err := e.svc.Refresh(t.Context(), 3); err != nil || got.Participants.Count != 31 {
		t.Fatalf("Refresh after Redis is back = %+v, %v; want MAX's 31", got.Participants, err)
	}
	select {
	case r := <-waiting:
		if r.err != nil || r.count != 21 {
			t.Fatalf("waiting Refresh = %d, %v; want MAX's 21", r.count, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the call waiting for this replica's share kept waiting after the shared quota was back")
	}
	if n := q.Takes(); n != 2 {
		t.Errorf("shared quota takes = %d, want 2 (the call after Redis came back and the one that waited)", n)
	}
}

func TestLocalShareLeavesRoomForReplicasStillOnTheBudget(t *testing.T) {
	q := &fakeQuota{}
	cases := []struct {
		rate     float64
		replicas int
		quota    bool
		want     float64
	}{
		{20, 2, true, 5}, {20, 3, true, 10.0 / 3}, {12, 3, true, 4}, {28, 2, true, 1}, {30, 2, true, 0},
		{20, 1, true, 20}, {20, 2, false, 10}, {20, 3, false, 20.0 / 3},
	}
	for _, c := range cases {
		cfg := participants.Config{RateLimit: c.rate, Replicas: c.replicas}
		if c.quota {
			cfg.Quota = q
		}
		if got := cfg.LocalShare(); got != c.want {
			t.Errorf("LocalShare(rate %v, %d replicas, quota %v) = %v, want %v", c.rate, c.replicas, c.quota, got, c.want)
		}
	}
	// Whichever replicas lose Redis, those left on the budget and those on their shares
	// together stay within MAX's 30 a second.
	for rate := 1.0; rate <= 30; rate++ {
		for replicas := 2; replicas <= 10; replicas++ {
			share := participants.Config{RateLimit: rate, Replicas: replicas, Quota: q}.LocalShare()
			for onShare := 1; onShare <= replicas; onShare++ {
				total := float64(onShare) * share
				if onShare < replicas {
					total += rate
				}
				if total > 30+1e-9 {
					t.Errorf("rate %v, %d replicas, %d on their shares: %v calls a second", rate, replicas, onShare, total)
				}
			}
		}
	}
}

func TestNoShareLeftRefusesCallsWithoutTheSharedQuota(t *testing.T) {
	q := &fakeQuota{err: fmt.Errorf("%w: redis: connection refused", chat.ErrShortCircuited)}
	e := newEnv(t, withQuota(q, 30, 2))
	e.store.Put(linked(1, -101, 10, dbAt))
	e.max.SetCount(-101, 11)
	if got, err := e.svc.Refresh(t.Context(), 1); err != nil || got.Participants.Count != 10 {
		t.Fatalf("Refresh = %+v, %v; want the stored 10: MAX_API_RATE_LIMIT=30 leaves no share", got.Participants, err)
	}
	if n := e.dropped(metrics.ReasonLocalRateLimit); n != 1 {
		t.Errorf("refreshes dropped{local_rate_limit} = %v, want 1", n)
	}
}

func TestRetryAfterPauseIsSharedWithEveryReplica(t *testing.T) {
	q := &fakeQuota{}
	e := newEnv(t, withQuota(q, 20, 3))
	e.store.Put(linked(1, -101, 10, dbAt))
	e.max.Fail(&maxError{reason: "rate_limited", retryAfter: 5 * time.Second})
	if _, err := e.svc.Refresh(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	q.mu.Lock()
	until := q.pausedUntil
	q.mu.Unlock()
	if want := t0.Add(5 * time.Second); !until.Equal(want) {
		t.Errorf("shared pause until %v, want %v", until, want)
	}
}

func TestPauseOfAnotherReplicaIsKept(t *testing.T) {
	q := &fakeQuota{pausedUntil: t0.Add(5 * time.Second)}
	e := newEnv(t, withQuota(q, 20, 3))
	e.store.Put(linked(1, -101, 10, dbAt))
	e.max.SetCount(-101, 30)
	got, err := e.svc.Refresh(t.Context(), 1)
	if err != nil || got.Participants.Count != 10 {
		t.Fatalf("Refresh during another replica's pause = %+v, %v; want the stored 10", got.Participants, err)
	}
	if e.max.Calls() != 0 {
		t.Fatalf("MAX called during another replica's pause")
	}
	// The pause is this replica's too now, until it ends.
	e.clock.Advance(5 * time.Second)
	if got, err := e.svc.Refresh(t.Context(), 1); err != nil || got.Participants.Count != 30 {
		t.Errorf("Refresh after the pause = %+v, %v; want MAX's 30", got.Participants, err)
	}
}

// A call reserved before another replica was answered 429 must not be made into that
// replica's pause once its wait is over: the pause is asked for again after the wait.
func TestCallThatWaitedForItsSlotKeepsAPauseStoredMeanwhile(t *testing.T) {
	// The read is slow too: the pause it finds refuses the call, which takes no other slot.
	q, e := slowPauseReadEnv(t)
	// Meanwhile MAX answers another replica 429, which stores the pause.
	c, err := refreshAfterSlotWait(t, e, 50*time.Millisecond, func() {
		q.set(func(q *fakeQuota) { q.pausedUntil = t0.Add(5 * time.Second) })
	})
	if n := e.max.Calls(); n != 0 {
		t.Fatalf("MAX called %d times inside another replica's pause, want 0", n)
	}
	if err != nil || c.Participants.Count != 10 {
		t.Errorf("Refresh = %+v, %v; want the stored 10", c.Participants, err)
	}
	if n := testutil.ToFloat64(e.m.QuotaLate); n != 0 || q.Takes() != 1 {
		t.Errorf("slots given up %v, quota asked %d times; want 0, 1: the pause refuses the call", n, q.Takes())
	}
	// A call that did not wait is made on the answer of its own reservation.
	e.clock.Advance(5 * time.Second)
	reads := func() int { q.mu.Lock(); defer q.mu.Unlock(); return q.pauseReads }
	before := reads()
	if got, err := e.svc.Refresh(t.Context(), 1); err != nil || got.Participants.Count != 30 {
		t.Fatalf("Refresh after the pause = %+v, %v; want MAX's 30", got.Participants, err)
	}
	if n := reads() - before; n != 0 {
		t.Errorf("a call granted at once read the pause %d more times, want 0", n)
	}
}

func TestBackgroundRefreshLeavesAChatAnotherReplicaClaimed(t *testing.T) {
	// Chat 1 is claimed by another replica (it refreshes it now, or just stored it); chat 2
	// is not.
	q := &fakeQuota{claims: map[int64]bool{1: true}}
	e := newEnv(t, withQuota(q, 20, 3))
	e.store.Put(linked(1, -101, 10, dbAt), linked(2, -102, 20, dbAt))
	e.max.SetCount(-101, 11)
	e.max.SetCount(-102, 21)
	e.run(t)
	list(t, e)
	eventually(t, func() bool { return e.refreshes("success") == 1 && e.svc.Pending() == 0 }, "the refreshes end")
	if n := e.dropped(metrics.ReasonRefreshedElsewhere); n != 1 {
		t.Errorf("dropped{refreshed_elsewhere} = %v, want 1", n)
	}
	if n := e.max.Calls(); n != 1 {
		t.Errorf("MAX calls = %d, want 1 (chat 2 only)", n)
	}
	q.mu.Lock()
	claimed, released := slices.Clone(q.claimed), slices.Clone(q.released)
	q.mu.Unlock()
	if !slices.Equal(claimed, []int64{2}) || len(released) != 0 {
		t.Errorf("claimed %v, released %v; want chat 2 claimed and kept (its count is stored)", claimed, released)
	}
	// A client's refresh request is answered whatever the other replicas do.
	if got, err := e.svc.Refresh(t.Context(), 1); err != nil || got.Participants.Count != 11 {
		t.Errorf("Refresh of the claimed chat = %+v, %v; want MAX's 11", got.Participants, err)
	}
}

func TestFailedBackgroundRefreshReleasesItsClaim(t *testing.T) {
	q := &fakeQuota{}
	e := newEnv(t, withQuota(q, 20, 3))
	e.store.Put(linked(1, -101, 10, dbAt))
	e.max.Fail(&maxError{reason: "timeout"})
	e.run(t)
	list(t, e)
	eventually(t, func() bool { return e.refreshes("failure") == 1 && e.svc.Pending() == 0 }, "the refresh fails")
	q.mu.Lock()
	claimed, released, held := slices.Clone(q.claimed), slices.Clone(q.released), q.claims[1]
	q.mu.Unlock()
	if !slices.Equal(claimed, []int64{1}) || !slices.Equal(released, []int64{1}) || held {
		t.Errorf("claimed %v, released %v, still held %v; want chat 1 claimed, then released", claimed, released, held)
	}
}

func TestQueuedRefreshWaitsOutAPauseLearnedWithItsReservation(t *testing.T) {
	// Another replica was answered 429: the pause is in Redis, and this replica learns of
	// it only when its queued refresh reserves a call.
	q := &fakeQuota{pausedUntil: t0.Add(5 * time.Second)}
	e := newEnv(t, withQuota(q, 20, 3))
	e.store.Put(linked(1, -101, 10, dbAt))
	e.max.SetCount(-101, 30)
	e.run(t)
	list(t, e)
	eventually(t, func() bool { return e.clock.Waiters() == 1 }, "the refresh waits for the pause")
	if n := e.max.Calls(); n != 0 {
		t.Fatalf("MAX called %d times during the pause, want 0", n)
	}
	// The job was not dropped: once the pause ends it is refreshed.
	e.clock.Advance(5 * time.Second)
	eventually(t, func() bool { return e.refreshes("success") == 1 }, "the refresh lands after the pause")
	if n := e.dropped(metrics.ReasonMaxAPIUnavailable); n != 0 {
		t.Errorf("dropped{max_api_unavailable} = %v, want 0", n)
	}
	q.mu.Lock()
	released := slices.Clone(q.released)
	q.mu.Unlock()
	if !slices.Equal(released, []int64{1}) {
		t.Errorf("claims released %v; want the claim of the paused attempt released once", released)
	}
}
