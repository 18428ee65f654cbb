package matrix

import (
	"net/http"
	"time"
)

func recoveryRows() []Row {
	var rows []Row
	for _, slug := range []string{"redis-down", "redis-blackhole"} {
		f := redisFailureBySlug(slug)
		req := list(3)
		req.WarmUp = 5
		rows = append(rows, Row{
			ID: "recovery." + slug, Group: GroupRecovery,
			Title: f.what + ", then back: Redis used again within the bound",
			Description: "The breaker is opened as in the Redis rows, then the fault is lifted. Within the bound a list serves " +
				"alpha from the cache again. beta's database row was refreshed while Redis was away, so it is newer than " +
				"beta's Redis entry and is what is served (newest wins).",
			Given:   given(up(), f.fault, up(), CacheFresh),
			Request: req,
			Expected: Expected{
				Status:    http.StatusOK,
				Chats:     listedChats(SourceDatabase, OriginDatabase, SourceDatabase, OriginDatabaseOrMax),
				Latency:   LatencyBound{P95: breakerP95, Max: redisMax},
				WarmUpMax: redisWarmUpMax,
				Metrics: []MetricExpectation{
					measured(metric(MetricFallback, labels("reason", FallbackCache), Exactly(req.Repeat))),
					metric(MetricMaxErrors, nil, None()),
				},
				Logs: []LogExpectation{
					{Level: LevelWarn, Msg: LogFallback, Attrs: labels("reason", FallbackCache), Count: AtLeast(1), Measured: true},
					refLogged(LevelWarn, LogBreaker, labels("dependency", string(Redis)), AtLeast(2)),
				},
				Stores: storesAll(StoreUnchanged).set(betaID, StoreDatabase, StoreRefreshed, true).
					set(betaID, StoreRedis, StoreUnchangedOrRefreshed, false),
				MaxCalls: []MaxCallExpectation{refMaxCalls(alphaMax, None()), refMaxCalls(betaMax, AtLeast(1))},
				Recovery: &Recovery{Within: recoverWithin, Status: http.StatusOK,
					Chats:  listedChats(SourceCache, OriginCache, SourceDatabase, OriginMax),
					Gauges: []GaugeExpectation{breakerClosed(Redis)}},
				Within: eventually, Hold: hold,
			},
			SLA: SLA{Staleness: Staleness{Kind: StalenessBounded, Max: staleAfter,
				Note: "database data while Redis is away, kept fresh by background refreshes"}, Alerts: alerts(AlertCacheDown, AlertFallbackRateHigh)},
		})
	}
	rows = append(rows, Row{
		ID: "recovery.redis-restarted-empty", Group: GroupRecovery,
		Title: "Redis restarted empty, stale data: the cache refills within the bound",
		Description: "Redis comes back without entries while the database rows are stale. The first list serves the database " +
			"and refreshes both linked chats; within the bound a list serves them from the refilled cache with the MAX counts. " +
			"There is no fault to lift.",
		Given:   given(up(), faultOf(FaultRestartedEmpty), up(), CacheStale),
		Request: list(1),
		Expected: Expected{
			Status:  http.StatusOK,
			Chats:   listedChats(SourceDatabase, OriginDatabase, SourceDatabase, OriginDatabase),
			Latency: LatencyBound{P95: singleBound, Max: singleBound},
			Metrics: []MetricExpectation{
				metric(MetricFallback, labels("reason", FallbackCache), AtMost(1)),
				metric(MetricMaxErrors, nil, None()),
			},
			Logs:     []LogExpectation{logged(LevelError, "", nil, None())},
			Stores:   linkedRefreshed(),
			MaxCalls: []MaxCallExpectation{maxCalls(alphaMax, AtLeast(1)), maxCalls(betaMax, AtLeast(1))},
			Recovery: &Recovery{Within: recoverWithin, Status: http.StatusOK,
				Chats: listedChats(SourceCache, OriginMax, SourceCache, OriginMax)},
			Within: eventually, Hold: hold,
		},
		SLA: SLA{Staleness: freshWithin(), Alerts: alerts(AlertNone)},
	})
	for _, slug := range []string{"max-down", "max-503", "max-429"} {
		f := maxFailureBySlug(slug)
		req := list(1)
		desc := f.what + ". The stale cache is served during the fault. "
		if f.fault.Kind == FaultRateLimited {
			f.fault = rateLimited(2 * time.Second)
			f.why = "after a 429 the service makes no MAX call for the Retry-After (2s), which compression turns into an hour without a 429"
			desc = "MAX rate-limits with Retry-After 2s. The stale cache is served during the pause. "
		} else {
			req.WarmUp, req.WarmUpInterval = 4, 300*time.Millisecond
			desc += "Warm-up requests open the MAX breaker first. "
		}
		desc += "After the fault is lifted, within the bound a refresh lands and a list serves both linked chats " +
			"from the cache with the MAX counts. Stores and MAX calls are checked at the end of the row, after recovery."
		calls := []MaxCallExpectation{maxCalls(alphaMax, AtLeast(1)), maxCalls(betaMax, AtLeast(1))}
		rows = append(rows, Row{
			ID: "recovery." + slug, Group: GroupRecovery,
			Title:       f.what + ", then back: refreshes land within the bound",
			Description: desc,
			Given:       given(up(), up(), f.fault, CacheStale),
			Request:     req,
			Expected: Expected{
				Status:    http.StatusOK,
				Chats:     listedChats(SourceCache, OriginCache, SourceCache, OriginCache),
				Latency:   LatencyBound{P95: noWaitBound, Max: noWaitBound},
				WarmUpMax: warmUpBound(req, noWaitBound),
				Metrics: []MetricExpectation{
					metric(MetricMaxErrors, nil, AtLeast(1)),
					refMetric(MetricMaxErrors, labels("reason", f.reason), AtLeast(1)),
					metric(MetricCacheErrors, nil, None()),
				},
				Logs:     []LogExpectation{logged(LevelError, LogMaxFailed, nil, AtLeast(1))},
				Stores:   linkedRefreshed(),
				MaxCalls: calls,
				MaxPause: retryAfterPause(f.fault),
				Recovery: &Recovery{Within: recoverWithin, Status: http.StatusOK,
					Chats:  listedChats(SourceCache, OriginMax, SourceCache, OriginMax),
					Gauges: []GaugeExpectation{breakerClosed(MaxAPI)}},
				Within: eventually, Hold: hold,
			},
			SLA: SLA{Staleness: lastKnownGood("stale cache entries until PARTICIPANTS_CACHE_TTL (24h) ends, then the database's last known good count"),
				Alerts: f.alerts, NotReplayed: f.notReplayed, NotReplayedWhy: f.why},
		})
	}
	pgReq := list(3)
	pgReq.WarmUp = 6
	pgExp := databaseUnavailable(pgReq)
	pgExp.Health = nil // checked after recovery, when it is healthy again
	pgExp.Recovery = &Recovery{Within: recoverWithin, Status: http.StatusOK,
		Chats:  listedChats(SourceCache, OriginCache, SourceCache, OriginCache),
		Gauges: []GaugeExpectation{breakerClosed(Postgres)}}
	rows = append(rows, Row{
		ID: "recovery.postgres-down", Group: GroupRecovery,
		Title: "PostgreSQL down, then back: lists answer 200 within the bound",
		Description: "Warm-up requests open the database breaker; the measured requests get a fast 503. After the fault is " +
			"lifted, within the bound a list answers 200 from the fresh cache again.",
		Given:    given(down(), up(), up(), CacheFresh),
		Request:  pgReq,
		Expected: pgExp,
		SLA:      SLA{Staleness: notServed("requests fail with 503 until the database answers"), Alerts: alerts(AlertDatabaseUnavailable)},
	})
	return rows
}

// warmUpBound is bound for a request with warm-up requests, and none otherwise.
func warmUpBound(req Request, bound time.Duration) time.Duration {
	if req.WarmUp == 0 {
		return 0
	}
	return bound
}
