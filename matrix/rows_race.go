package matrix

import (
	"fmt"
	"net/http"
	"time"
)

// raceRows are the racing writers: a store already holding a newer observation than the
// refresh brings, as when another replica refreshed the chat later or a slow MAX answer lost
// the race. Nothing may be overwritten with the older value, and the newer one is served.
func raceRows() []Row {
	newer := seed(CacheFresh)
	// Another replica, whose observation is a minute newer than this refresh can be, wrote
	// alpha to both stores.
	newer.Chats[0].DB = Stored{Count: 10, Age: -time.Minute}
	newer.Chats[0].Cache = &Stored{Count: 11, Age: -30 * time.Second}
	// The same replica wrote only the database: its cache write failed, so the background
	// refresh that fills alpha's missing entry races it.
	cold := seed(CacheCold)
	cold.Chats[0].DB = Stored{Count: 10, Age: -time.Minute}
	return []Row{{
		ID: "redis-up.max-up.cache-cold.newer-in-database", Group: GroupCache,
		Title: "Cache cold, database already newer than any refresh: the background refresh does not overwrite it",
		Description: "The database holds an observation of alpha newer than the one MAX answers now (another replica " +
			"refreshed it later and failed to write Redis). The list serves the database's newer count; the " +
			"background refresh that fills the missing Redis entries calls MAX but leaves alpha's database row as " +
			"it was. beta is refreshed into both stores as usual.",
		Given:   Given{Postgres: up(), Redis: up(), MaxAPI: up(), Cache: CacheCold, Seed: cold},
		Request: list(1),
		Expected: Expected{
			Status:  http.StatusOK,
			Chats:   listedChats(SourceDatabase, OriginDatabase, SourceDatabase, OriginDatabase),
			Latency: LatencyBound{P95: noWaitBound, Max: noWaitBound},
			Metrics: append(quietMetrics(), refMetric(MetricRefresh, labels("result", "failure"), None())),
			Logs:    quietLogs(),
			// Redis may get MAX's answer (newer than nothing) or the database's newer count;
			// the reference service writes MAX's, and serves the newer of the two stores.
			Stores: linkedRefreshed().set(alphaID, StoreDatabase, StoreUnchanged, false).
				set(alphaID, StoreRedis, StoreRefreshed, true),
			MaxCalls: []MaxCallExpectation{maxCalls(alphaMax, Exactly(1)), maxCalls(betaMax, Exactly(1))},
			Within:   eventually, Hold: hold,
		},
		SLA: SLA{Staleness: freshWithin(), Alerts: alerts(AlertNone)},
	}, {
		ID: "refresh.newer-in-stores", Group: GroupRefresh,
		Title: "POST refresh, MAX up, both stores already newer: nothing overwritten, the newer count served",
		Description: "The database and Redis hold an observation newer than the one MAX answers now (another replica " +
			"refreshed alpha later). The refresh succeeds at MAX but writes neither store, and the response carries " +
			"the database's newer count (source database), never MAX's older one.",
		Given:   Given{Postgres: up(), Redis: up(), MaxAPI: up(), Cache: CacheFresh, Seed: newer},
		Request: Request{Method: http.MethodPost, Path: refreshPath(alphaID), Repeat: 1},
		Expected: Expected{
			Status:   http.StatusOK,
			Chats:    []ChatExpectation{chat(alphaID, SourceDatabase, OriginDatabase)},
			Latency:  LatencyBound{P95: syncMaxBound, Max: syncMaxBound},
			Metrics:  quietMetrics(),
			Logs:     quietLogs(),
			Stores:   storesAll(StoreUnchanged),
			MaxCalls: []MaxCallExpectation{maxCalls(alphaMax, Exactly(1)), maxCalls(betaMax, None())},
			Within:   2 * time.Second, Hold: hold,
		},
		SLA: SLA{Staleness: Staleness{Kind: StalenessBounded, Max: 0, Note: "the newer of MAX's answer and the stores"},
			Alerts: alerts(AlertNone)},
	}, fastClockRow()}
}

// fastClockRow is a replica whose clock runs an hour ahead: its observation of alpha, in both
// stores, lies beyond CLOCK_SKEW_MAX in the future.
func fastClockRow() Row {
	ahead := seed(CacheFresh)
	ahead.Chats[0].DB = Stored{Count: 10, Age: -time.Hour}
	ahead.Chats[0].Cache = &Stored{Count: 11, Age: -time.Hour}
	return Row{
		ID: "redis-up.max-up.cache-from-a-fast-clock", Group: GroupCache,
		Title: "Cache fresh, alpha stamped an hour ahead by a replica whose clock runs fast: served as observed now, refreshed, replaced",
		Description: fmt.Sprintf("alpha's database row and Redis entry carry an observation time an hour in the future, far "+
			"beyond CLOCK_SKEW_MAX (%s): another replica's clock runs ahead. Trusted, alpha would look fresh for an hour and "+
			"no refresh could replace it. The list serves the cache's count stamped now, counts both future times, and "+
			"refreshes alpha, whose MAX answer then replaces the future-dated value in both stores. beta is fresh and untouched.",
			formatDuration(clockSkewMax)),
		Given:   Given{Postgres: up(), Redis: up(), MaxAPI: up(), Cache: CacheFresh, Seed: ahead},
		Request: list(1),
		Expected: Expected{
			Status:  http.StatusOK,
			Chats:   listedChats(SourceCache, OriginCacheNow, SourceCache, OriginCache),
			Latency: LatencyBound{P95: noWaitBound, Max: noWaitBound},
			Metrics: append(quietMetrics(),
				refMetric(MetricFutureTimes, labels("source", "cache"), AtLeast(1)),
				refMetric(MetricFutureTimes, labels("source", "database"), AtLeast(1))),
			Logs: quietLogs(),
			Stores: storesAll(StoreUnchanged).
				set(alphaID, StoreRedis, StoreRefreshed, false).set(alphaID, StoreDatabase, StoreRefreshed, false),
			MaxCalls: []MaxCallExpectation{maxCalls(alphaMax, Exactly(1)), maxCalls(betaMax, None())},
			Within:   eventually, Hold: hold,
		},
		SLA:       SLA{Staleness: freshWithin(), Alerts: alerts(AlertNone)},
		Reference: true,
	}
}
