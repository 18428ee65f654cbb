package matrix

import (
	"net/http"
	"time"

	"github.com/faultline/faultline/contract"
)

func cacheRows() []Row {
	return []Row{
		{
			ID: "redis-up.max-up.cache-fresh", Group: GroupCache,
			Title: "Everything up, cache fresh: served from the cache",
			Description: "The first row of the original analysis. Fresh entries are served as they are; " +
				"nothing is refreshed, so MAX sees no call.",
			Given:   given(up(), up(), up(), CacheFresh),
			Request: list(1),
			Expected: Expected{
				Status:  http.StatusOK,
				Chats:   listedChats(SourceCache, OriginCache, SourceCache, OriginCache),
				Latency: LatencyBound{P95: singleBound, Max: singleBound},
				Metrics: append(quietMetrics(),
					metric(MetricHTTPRequests, labels("method", http.MethodGet, "route", contract.PathList, "status", "200"), Exactly(1)),
					metric(MetricHTTPDuration+"_count", labels("method", http.MethodGet, "route", contract.PathList), Exactly(1))),
				Gauges:     []GaugeExpectation{gaugeAtMost(MetricFreshness, nil, staleAfter.Seconds())},
				Logs:       quietLogs(),
				Stores:     storesAll(StoreUnchanged),
				CacheReads: oneCacheRead(1),
				MaxCalls:   []MaxCallExpectation{maxCalls(0, None())},
				Within:     eventually, Hold: hold,
			},
			SLA: SLA{Staleness: freshWithin(), Alerts: alerts(AlertNone)},
		},
		{
			ID: "redis-up.max-up.cache-fresh.get", Group: GroupCache,
			Title: "Everything up, cache fresh, one chat: served from the cache",
			Description: "GET /chats/{id} serves its chat as a list does: from the newer of its Redis entry and its " +
				"database row, here alpha's fresh entry, newer than its row. Nothing is refreshed.",
			Given:   given(up(), up(), up(), CacheFresh),
			Request: Request{Method: http.MethodGet, Path: contract.PathChat(alphaID), Repeat: 1},
			Expected: Expected{
				Status:     http.StatusOK,
				Chats:      []ChatExpectation{chat(alphaID, SourceCache, OriginCache)},
				Latency:    LatencyBound{P95: singleBound, Max: singleBound},
				Metrics:    quietMetrics(),
				Logs:       quietLogs(),
				Stores:     storesAll(StoreUnchanged),
				CacheReads: oneCacheRead(1),
				MaxCalls:   []MaxCallExpectation{maxCalls(0, None())},
				Within:     eventually, Hold: hold,
			},
			SLA: SLA{Staleness: freshWithin(), Alerts: alerts(AlertNone)},
		},
		{
			ID: "redis-up.max-up.cache-stale", Group: GroupCache,
			Title: "Everything up, cache stale: stale entries served, refreshed in the background",
			Description: "The response serves the stale entries without waiting; one background refresh per chat " +
				"then writes the MAX count to the database and to Redis.",
			Given:   given(up(), up(), up(), CacheStale),
			Request: list(1),
			Expected: Expected{
				Status:  http.StatusOK,
				Chats:   listedChats(SourceCache, OriginCache, SourceCache, OriginCache),
				Latency: LatencyBound{P95: noWaitBound, Max: noWaitBound},
				Metrics: append(quietMetrics(),
					refMetric(MetricRefresh, labels("result", "success"), Exactly(2)),
					refMetric(MetricRefresh, labels("result", "failure"), None())),
				Gauges: []GaugeExpectation{gaugeAtLeast(MetricFreshness, nil, staleAfter.Seconds())},
				Logs: append(quietLogs(),
					refLogged(LevelDebug, LogRefreshed, nil, Exactly(2))),
				Stores:   linkedRefreshed(),
				MaxCalls: []MaxCallExpectation{maxCalls(alphaMax, Exactly(1)), maxCalls(betaMax, Exactly(1))},
				Within:   eventually, Hold: hold,
			},
			SLA: SLA{Staleness: freshWithin(), Alerts: alerts(AlertNone)},
		},
		{
			ID: "redis-up.max-up.cache-corrupt", Group: GroupCache,
			Title: "Everything up, one cache entry that does not decode: a missing entry, not an outage",
			Description: "alpha's Redis value is not the contract's JSON. The list treats it as a missing entry: alpha is " +
				"served from its database row, refreshed from MAX and rewritten; nothing is counted or logged as a " +
				"cache failure or a fallback, and beta is still served from its fresh entry.",
			Given:   corruptSeed(),
			Request: list(1),
			Expected: Expected{
				Status:  http.StatusOK,
				Chats:   listedChats(SourceDatabase, OriginDatabase, SourceCache, OriginCache),
				Latency: LatencyBound{P95: noWaitBound, Max: noWaitBound},
				Metrics: append(quietMetrics(),
					refMetric(MetricCacheCorrupt, nil, AtLeast(1)),
					refMetric(MetricRefresh, labels("result", "success"), Exactly(1))),
				Logs: quietLogs(),
				Stores: storesAll(StoreUnchanged).set(alphaID, StoreRedis, StoreRefreshed, false).
					set(alphaID, StoreDatabase, StoreRefreshed, false),
				MaxCalls: []MaxCallExpectation{maxCalls(alphaMax, Exactly(1)), maxCalls(betaMax, None())},
				Within:   eventually, Hold: hold,
			},
			SLA: SLA{Staleness: freshWithin(), Alerts: alerts(AlertNone)},
		},
		{
			ID: "redis-up.max-up.cache-cold", Group: GroupCache,
			Title: "Everything up, cache cold: database served, refreshed in the background",
			Description: "A cache miss is not a fallback: nothing is counted or logged as one. The database values " +
				"are served (beta's count was never observed, so its participants_updated_at is omitted) and " +
				"both linked chats are refreshed into the database and Redis.",
			Given:   given(up(), up(), up(), CacheCold),
			Request: list(1),
			Expected: Expected{
				Status:  http.StatusOK,
				Chats:   listedChats(SourceDatabase, OriginDatabase, SourceDatabase, OriginDatabase),
				Latency: LatencyBound{P95: noWaitBound, Max: noWaitBound},
				Metrics: append(quietMetrics(),
					refMetric(MetricRefresh, labels("result", "success"), Exactly(2))),
				Gauges:   []GaugeExpectation{gaugeAtLeast(MetricFreshness, nil, staleAfter.Seconds())},
				Logs:     quietLogs(),
				Stores:   linkedRefreshed(),
				MaxCalls: []MaxCallExpectation{maxCalls(alphaMax, Exactly(1)), maxCalls(betaMax, Exactly(1))},
				Within:   eventually, Hold: hold,
			},
			SLA: SLA{Staleness: freshWithin(), Alerts: alerts(AlertNone)},
		},
	}
}

// corruptSeed is the fresh cache with alpha's entry replaced by a value that does not decode.
func corruptSeed() Given {
	g := given(up(), up(), up(), CacheFresh)
	g.Seed.Chats[0].Cache = &Stored{Raw: `{"count": "eleven"`, Age: 5 * time.Minute}
	return g
}

// oneCacheRead is the contract's one Redis read per request, for n requests.
func oneCacheRead(n int) *Count {
	c := Exactly(n)
	return &c
}
