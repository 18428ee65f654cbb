package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/faultline/faultline/chaos"
	"github.com/faultline/faultline/fakes/maxapi"
	"github.com/faultline/faultline/matrix"
)

// quotaPage is the page size of the quota case's lists.
const quotaPage = 100

// quotaResult is what the quota case measured.
type quotaResult struct {
	Chats, Replicas, Budget int
	// Calls is how many GET /chats/{id} calls MAX saw; TooMany how many it answered 429.
	Calls, TooMany int
	// Peak is the most calls MAX saw in any window of one second, [t, t+1s); Tightest the
	// shortest time in which it saw one call more than its limit, the margin left: under
	// a second is a second with more calls than MAX allows. Closest is the shortest time
	// between two calls: calls on the shared budget leave at least half a slot apart, so
	// less was lost on the way to MAX.
	Peak              int
	Tightest, Closest time.Duration
	// Late is how many reserved slots the replicas gave up because the call would have
	// been made more than half a slot after its slot; Local how many calls they made on their
	// own share because the shared budget could not be asked.
	Late, Local int
	// Refreshed is how many chats stored MAX's count by the end; Elapsed the time from the
	// first list until all had (or until the case gave up).
	Refreshed int
	Elapsed   time.Duration
	// Lists are the lists' own metrics, sent at the case's rate the whole time.
	Lists *vegeta.Metrics
}

// done reports whether every chat was refreshed.
func (q *quotaResult) done() bool { return q.Refreshed == q.Chats }

// quotaCase lists n stale chats, linked to MAX, on every one of replicas processes of the
// service sharing one budget of MAX calls a second (MAX_API_RATE_LIMIT, the deployment's),
// at rate lists a second in pages of quotaPage, the replicas and pages in turn, until every
// chat stored MAX's count or twice the time the budget needs has passed.
func quotaCase(ctx context.Context, env *chaos.Env, fake quotaMax, n, replicas, budget, rate int) (*quotaResult, error) {
	rows, entries, maxChats := seedChats(n, time.Now().UTC(), 2*time.Hour)
	useMax, err := fake.Seed(ctx, maxChats)
	if err != nil {
		return nil, err
	}
	err = env.Reset(ctx, append(useMax, chaos.WithChats(rows...), chaos.WithCache(entries...),
		chaos.WithSUTEnv(fmt.Sprintf("REPLICAS=%d", replicas), fmt.Sprintf("MAX_API_RATE_LIMIT=%d", budget)))...)
	if err != nil {
		return nil, fmt.Errorf("reset: %w", err)
	}
	if err := env.StartReplicas(ctx, replicas-1); err != nil {
		return nil, err
	}
	var urls []string
	for off := 0; off < n; off += quotaPage {
		for _, c := range env.Clients() {
			urls = append(urls, fmt.Sprintf("%s/chats/all?limit=%d&offset=%d", c.URL(), quotaPage, off))
		}
	}
	if err := fake.Begin(ctx); err != nil {
		return nil, err
	}
	before, err := quotaCounts(ctx, env)
	if err != nil {
		return nil, err
	}

	giveUp := 2*time.Duration(n)*time.Second/time.Duration(budget) + 30*time.Second
	start := time.Now()
	a := vegeta.NewAttacker(vegeta.Timeout(attackTimeout), vegeta.KeepAlive(true), vegeta.MaxWorkers(64))
	results := a.Attack(cycle(urls), vegeta.Rate{Freq: rate, Per: time.Second}, giveUp, "quota")
	type attackDone struct {
		m   *vegeta.Metrics
		err error
	}
	attacked := make(chan attackDone, 1)
	go func() {
		m, err := collect(ctx, a, results)
		attacked <- attackDone{m, err}
	}()

	res := &quotaResult{Chats: n, Replicas: replicas, Budget: budget}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var pollErr error
poll:
	for {
		select {
		case <-ctx.Done():
			pollErr = ctx.Err()
			break poll
		case <-tick.C:
		}
		// MAX answers id+1 for chat id, which neither store held (seedChats).
		err := env.DB().QueryRow(ctx, `SELECT count(*) FROM chats WHERE participants_count = id + 1`).Scan(&res.Refreshed)
		res.Elapsed = time.Since(start)
		if err != nil {
			pollErr = fmt.Errorf("count refreshed chats: %w", err)
			break poll
		}
		if res.done() || res.Elapsed > giveUp {
			break poll
		}
	}
	a.Stop()
	ad := <-attacked
	if err := errors.Join(pollErr, ad.err); err != nil {
		return nil, err
	}
	res.Lists = ad.m
	after, err := quotaCounts(ctx, env)
	if err != nil {
		return nil, err
	}
	res.Late, res.Local = after[0]-before[0], after[1]-before[1]

	calls, err := fake.ChatCalls(ctx)
	if err != nil {
		return nil, err
	}
	times := make([]time.Time, 0, len(calls))
	for _, c := range calls {
		times = append(times, c.Time)
		if c.Status == 429 {
			res.TooMany++
		}
	}
	res.Calls = len(calls)
	res.Peak = matrix.PeakPerSecond(times)
	res.Tightest, res.Closest = spans(times)
	return res, nil
}

// span prints a tightest span, "-" when there were too few calls for one.
func span(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return ms(d)
}

// spans is the tightest time in which MAX saw one call over its limit, and the tightest
// between two calls, of times in any order (calls are journaled as they arrive and may
// finish in another order); sorted once for both.
func spans(times []time.Time) (overLimit, closest time.Duration) {
	ts := slices.Clone(times)
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	return tightest(ts, maxPerSecond+1), tightest(ts, 2)
}

// tightest is the shortest time in which n of times, in order, fall (from the first of
// them to the last), zero when there are fewer.
func tightest(ts []time.Time, n int) time.Duration {
	if n < 1 || len(ts) < n {
		return 0
	}
	least := ts[n-1].Sub(ts[0])
	for i := 1; i+n-1 < len(ts); i++ {
		least = min(least, ts[i+n-1].Sub(ts[i]))
	}
	return least
}

// quotaCounts is the slots of the shared budget given up as too late and the calls made on
// a replica's own share, summed over the replicas.
func quotaCounts(ctx context.Context, env *chaos.Env) ([2]int, error) {
	snap, err := env.Metrics(ctx)
	if err != nil {
		return [2]int{}, fmt.Errorf("scrape the replicas: %w", err)
	}
	return [2]int{int(snap.Value("participants_rate_limit_late_total")), int(snap.Value("participants_rate_limit_local_total"))}, nil
}

// seedChats makes n chats linked to MAX; chat id holds count id-1 in the database
// (observed three hours ago), id in the cache (observed age ago) and id+1 at MAX.
func seedChats(n int, now time.Time, age time.Duration) ([]chaos.ChatRow, []chaos.CacheEntry, []maxapi.Chat) {
	rows := make([]chaos.ChatRow, n)
	entries := make([]chaos.CacheEntry, n)
	maxChats := make([]maxapi.Chat, n)
	for i := range n {
		id, maxID := int64(i+1), -int64(1000+i+1)
		rows[i] = chaos.ChatRow{ID: id, Name: fmt.Sprintf("chat %d", i+1), MaxChatID: maxID, Count: i, UpdatedAt: now.Add(-3 * time.Hour)}
		entries[i] = chaos.CacheEntry{ChatID: id, Count: i + 1, UpdatedAt: now.Add(-age), TTL: 24 * time.Hour}
		maxChats[i] = maxapi.Chat{ID: maxID, Title: rows[i].Name, ParticipantsCount: i + 2}
	}
	return rows, entries, maxChats
}

// write prints the quota case.
func (q *quotaResult) write(w io.Writer) {
	_, _ = fmt.Fprintf(w, "\n%d stale chats listed on %d replicas (pages of %d, in turn), MAX_API_RATE_LIMIT=%d for the deployment, MAX limiting at %d a second:\n\n",
		q.Chats, q.Replicas, quotaPage, q.Budget, maxPerSecond)
	_, _ = fmt.Fprintf(w, "| MAX calls | answered 429 | busiest 1 s window | tightest %d calls | closest 2 calls | slots given up late | calls on a replica's share | refreshed | time | lists p50 | lists p99 | lists ok |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n", maxPerSecond+1)
	_, _ = fmt.Fprintf(w, "| %d | %d | %d | %s | %s | %d | %d | %d of %d | %s | %s | %s | %.1f%% |\n", q.Calls, q.TooMany, q.Peak, span(q.Tightest), span(q.Closest), q.Late, q.Local, q.Refreshed, q.Chats,
		q.Elapsed.Round(100*time.Millisecond), ms(q.Lists.Latencies.P50), ms(q.Lists.Latencies.P99), 100*q.Lists.Success)
}
