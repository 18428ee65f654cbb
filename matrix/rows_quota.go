package matrix

import (
	"net/http"
	"time"
)

// quotaRows are the MAX quota the reference service's replicas share through Redis, seen
// from one replica: the state the others left there must hold this one back as if it had
// spent the budget, or been answered the 429, itself.
func quotaRows() []Row {
	spent := given(up(), up(), up(), CacheStale)
	spent.Seed.QuotaSpent = 10 * time.Second
	paused := given(up(), up(), up(), CacheStale)
	// MAX's longest pause: longer than the row lasts.
	paused.Seed.MaxPaused = time.Minute
	return []Row{{
		ID: "refresh.quota-spent-elsewhere", Group: GroupRefresh,
		Title: "POST refresh while the other replicas have spent the MAX budget: refused locally, stored data answered, no MAX error",
		Description: "The shared limiter in Redis holds the other replicas' calls for the next ten seconds, far beyond " +
			"MAX_API_TIMEOUT. The refresh is refused without calling MAX and answers the stored data like any refresh " +
			"MAX could not serve (source database, a max_api_unavailable fallback). The refusal is the deployment's own " +
			"rate limit, not MAX failing: it counts a local_rate_limit drop and no MAX error, so a flood of refresh " +
			"requests does not report a healthy MAX down.",
		Given:   spent,
		Request: Request{Method: http.MethodPost, Path: refreshPath(alphaID), Repeat: 1},
		Expected: Expected{
			Status:  http.StatusOK,
			Chats:   []ChatExpectation{chat(alphaID, SourceDatabase, OriginDatabase)},
			Latency: LatencyBound{P95: syncMaxBound, Max: syncMaxBound},
			Metrics: []MetricExpectation{
				metric(MetricMaxErrors, nil, None()),
				metric(MetricCacheErrors, nil, None()),
				metric(MetricFallback, labels("reason", FallbackMax), Exactly(1)),
				refMetric(MetricRefreshDropped, labels("reason", DroppedLocalRateLimit), Exactly(1)),
			},
			Logs: []LogExpectation{
				logged(LevelWarn, LogFallback, labels("reason", FallbackMax, "fallback_source", "database", "chat_count", "1"), Exactly(1)),
				logged(LevelError, LogMaxFailed, nil, None()),
			},
			Stores:   storesAll(StoreUnchanged),
			MaxCalls: []MaxCallExpectation{maxCalls(0, None())},
			Within:   5 * time.Second, Hold: hold,
		},
		SLA:       SLA{Staleness: lastKnownGood("the database's last known good count"), Alerts: alerts(AlertFallbackRateHigh)},
		Reference: true,
	}, {
		ID: "redis-up.max-paused-elsewhere.cache-stale", Group: GroupMax,
		Title: "Cache stale, another replica answered 429 (its pause in Redis), MAX up: no MAX call until the pause ends",
		Description: "Another replica was answered 429 and stored MAX's pause in Redis for the next minute. This replica " +
			"was never answered 429 itself, so only the shared pause can hold it back: the list serves the stale cache " +
			"and queues both chats, but no MAX call is made while the pause lasts and nothing is written. " +
			"No MAX error is counted: MAX was not asked. Stale data served while MAX may not be called is a fallback, " +
			"as during this replica's own pause, so the staleness and fallback alerts fire, and ParticipantsMaxAPIDown does not.",
		Given:   paused,
		Request: list(1),
		Expected: Expected{
			Status:  http.StatusOK,
			Chats:   listedChats(SourceCache, OriginCache, SourceCache, OriginCache),
			Latency: LatencyBound{P95: noWaitBound, Max: noWaitBound},
			Metrics: []MetricExpectation{
				metric(MetricMaxErrors, nil, None()),
				metric(MetricCacheErrors, nil, None()),
			},
			Gauges:   []GaugeExpectation{gaugeAtLeast(MetricFreshness, nil, staleAfter.Seconds())},
			Logs:     []LogExpectation{logged(LevelError, LogMaxFailed, nil, None())},
			Stores:   storesAll(StoreUnchanged),
			MaxCalls: []MaxCallExpectation{maxCalls(0, None())},
			Within:   eventually, Hold: hold,
		},
		SLA: SLA{Staleness: lastKnownGood("the stale cache entries, until the pause ends and the refreshes run"),
			Alerts: alerts(AlertDataStale, AlertFallbackRateHigh)},
		Reference: true,
	}}
}

// quotaSeeded reports whether the row seeds the shared quota or pause, and which.
func quotaSeeded(s Seed) (spent, paused bool) { return s.QuotaSpent > 0, s.MaxPaused > 0 }
