package matrix

import (
	"fmt"
	"net/http"
	"time"

	"github.com/faultline/faultline/contract"
)

// The rows of several replicas of the service on one bot token: MAX's 30 calls a second are
// the deployment's, not each process's, and so are its 429 pauses and its refusals of a chat.
// Only the reference service promises how replicas share them (behaviour.shared-quota,
// behaviour.quota-fallback), so the rows are the reference service's.

// replicaCount is how many replicas the rows run: enough that a per-process budget of 20
// calls a second would exceed MAX's 30 twice over.
const replicaCount = 3

// replicaChats is how many stale chats the replicas refresh: fifteen seconds of calls at the
// reference budget, each listed by every replica.
const replicaChats = 300

// replicaRefreshWithin is the deadline for refreshing every one of replicaChats: the
// reference budget's time for them, with 30% to spare, and five seconds.
var replicaRefreshWithin = time.Duration(float64(replicaChats)/referenceRate*1.3*float64(time.Second)) + 5*time.Second

func replicaRows() []Row {
	return []Row{replicasManyStale(), replicasRedisDown(), replicasRateLimitedOnce(), replicasBotRemoved(), replicasRefreshFlood(),
		replicasOneKilled()}
}

// replicaSeed seeds n linked chats: cached an hour ago (stale, well within the cache TTL),
// their database rows older still.
func replicaSeed(n int) Seed {
	var s Seed
	for i := range n {
		id := int64(101 + i)
		s.Chats = append(s.Chats, SeedChat{ID: id, Name: fmt.Sprintf("chat-%d", id), MaxChatID: -(3000 + id),
			DB: Stored{Count: 100 + i, Age: 2 * time.Hour}, Cache: &Stored{Count: 5000 + i, Age: time.Hour},
			MaxCount: 1000 + i})
	}
	return s
}

// everyChat expects each seeded chat served from src by the first answer (later ones may
// serve it from later) and want in both stores.
func everyChat(s Seed, src Source, origin Origin, later []Source, redis, db StoreState) ([]ChatExpectation, storeSet) {
	var chats []ChatExpectation
	var stores storeSet
	for _, c := range s.Chats {
		e := chat(c.ID, src, origin)
		e.Later = later
		chats = append(chats, e)
		stores = append(stores, storeExpectation(c.ID, StoreRedis, redis, false), storeExpectation(c.ID, StoreDatabase, db, false))
	}
	return chats, stores
}

// replicaListBound bounds a list of replicaChats chats: answered before the refreshes it
// queues, which take fifteen seconds, and fast enough for a page of 300 from a service built
// with -race beside two other replicas.
const replicaListBound = 2 * time.Second

func replicasGiven(redis Fault, seed Seed) Given {
	return Given{Postgres: up(), Redis: redis, MaxAPI: up(), Cache: CacheStale, Seed: seed, Replicas: replicaCount}
}

// listOnEach lists once on each replica.
func listOnEach() Request {
	return Request{Method: http.MethodGet, Path: contract.PathList, Repeat: replicaCount}
}

func replicasManyStale() Row {
	seed := replicaSeed(replicaChats)
	// A later list may find a chat refreshed: in the database only, between the two writes.
	chats, stores := everyChat(seed, SourceCache, OriginCache, []Source{SourceDatabase}, StoreRefreshed, StoreRefreshed)
	return Row{
		ID: "replicas.max-up.cache-stale.many-chats", Group: GroupReplicas,
		Title: fmt.Sprintf("%d replicas list %d stale chats each: one MAX call per chat, at most %d a second in all",
			replicaCount, replicaChats, maxRateCeiling),
		Description: fmt.Sprintf("Each of %d replicas lists all %d stale chats and queues every one for a refresh. "+
			"MAX_API_RATE_LIMIT (%d) is the deployment's budget, reserved call by call in Redis, so the replicas "+
			"together stay below MAX's %d a second (the fake MAX answers 429 beyond it); a replica's refresh claims "+
			"its chat, so the others skip it (refreshed_elsewhere) and each chat costs one MAX call. Every chat is "+
			"refreshed within %d/%d s x 1.3 + 5 s = %s.", replicaCount, replicaChats, referenceRate, maxRateCeiling,
			replicaChats, referenceRate, formatDuration(replicaRefreshWithin)),
		Given:   replicasGiven(up(), seed),
		Request: listOnEach(),
		Expected: Expected{
			Status:  http.StatusOK,
			Chats:   chats,
			Latency: LatencyBound{P95: replicaListBound, Max: replicaListBound},
			Metrics: append(quietMetrics(),
				refMetric(MetricRefresh, labels("result", "success"), Exactly(replicaChats)),
				refMetric(MetricRefresh, labels("result", "failure"), None())),
			Logs:   quietLogs(),
			Stores: stores,
			MaxCalls: []MaxCallExpectation{
				{Endpoint: MaxChat, Status: http.StatusTooManyRequests, Count: None()},
				{Endpoint: MaxChat, Count: Exactly(replicaChats), Reference: true},
			},
			MaxRate: []MaxRateExpectation{{PerSecond: AtMost(maxRateCeiling), Reference: true}},
			Within:  replicaRefreshWithin, Hold: hold,
		},
		SLA:       SLA{Staleness: freshWithin(), Alerts: alerts(AlertNone)},
		Reference: true,
	}
}

// fallbackRate is the reference deployment's MAX calls a second with Redis down for every
// replica: each keeps to min(rate, 30 - rate) / replicas, so that replicas still on the
// shared budget and replicas on their shares never exceed MAX's limit together.
const fallbackRate = min(referenceRate, maxRateCeiling-referenceRate)

// replicaDownCalls is how many MAX calls the Redis-down row waits for: three on each replica.
// A list's refreshes wait at most MAX_API_TIMEOUT for slots of the replica's share
// (fallbackRate / replicaCount a second, a slot at once and one every 300 ms), and the rest
// are refused as the local rate limit until the next list.
const replicaDownCalls = 3 * replicaCount

func replicasRedisDown() Row {
	seed := replicaSeed(replicaChats)
	// Due for a refresh, and not yet as old as the staleness alert's two hours: refreshing
	// them all at one replica's share outlasts the alert replay.
	for i := range seed.Chats {
		seed.Chats[i].DB.Age = 90 * time.Minute
	}
	chats, stores := everyChat(seed, SourceDatabase, OriginDatabase, nil, StoreUnchanged, StoreUnchangedOrRefreshed)
	return Row{
		ID: "replicas.redis-down.max-up.many-chats", Group: GroupReplicas,
		Title: fmt.Sprintf("%d replicas, Redis refusing connections, %d stale chats: each keeps to its share, at most %d a second in all",
			replicaCount, replicaChats, maxRateCeiling),
		Description: fmt.Sprintf("Redis refuses connections, so the replicas can neither share the budget nor claim "+
			"chats: each serves the database and refreshes the stale chats it listed on its own, keeping to "+
			"min(MAX_API_RATE_LIMIT, %d - MAX_API_RATE_LIMIT) / REPLICAS (%d/%d a second), counted in "+
			"participants_rate_limit_local_total. Together they stay below MAX's %d a second and are never "+
			"answered 429, while each chat may be refreshed by more than one replica. The row watches the "+
			"first %d calls.",
			maxRateCeiling, fallbackRate, replicaCount, maxRateCeiling, replicaDownCalls),
		Given:   replicasGiven(down(), seed),
		Request: listOnEach(),
		Expected: Expected{
			Status:  http.StatusOK,
			Chats:   chats,
			Latency: LatencyBound{P95: replicaListBound, Max: replicaListBound},
			Metrics: []MetricExpectation{
				metric(MetricMaxErrors, nil, None()),
				metric(MetricFallback, labels("reason", FallbackCache), Exactly(replicaCount)),
				refMetric(metricQuotaLocal, nil, AtLeast(replicaDownCalls)),
			},
			Logs: []LogExpectation{
				refLogged(LevelWarn, logQuotaLocal, labels("replicas", fmt.Sprint(replicaCount)), AtLeast(replicaCount)),
				logged(LevelError, LogMaxFailed, nil, None()),
			},
			Stores: stores,
			MaxCalls: []MaxCallExpectation{
				{Endpoint: MaxChat, Status: http.StatusTooManyRequests, Count: None()},
				{Endpoint: MaxChat, Count: AtLeast(replicaDownCalls), Reference: true},
			},
			MaxRate: []MaxRateExpectation{{PerSecond: AtMost(maxRateCeiling), Reference: true}},
			Within:  eventually, Hold: hold,
		},
		SLA: SLA{Staleness: Staleness{Kind: StalenessBounded, Max: staleAfter,
			Note: "database data, refreshed by every replica within its share of the budget"},
			Alerts: alerts(AlertCacheDown, AlertFallbackRateHigh)},
		Reference: true,
	}
}

// replicaRetryAfter is the pause MAX asks for with its one 429.
const replicaRetryAfter = 5 * time.Second

func replicasRateLimitedOnce() Row {
	g := given(up(), up(), Fault{Kind: FaultRateLimited, RetryAfter: replicaRetryAfter, Times: 1}, CacheStale)
	g.Replicas = replicaCount
	// A call that went out before the pause may land between the lists.
	chats := listedChats(SourceCache, OriginCache, SourceCache, OriginCache)
	for i := range chats[:2] {
		chats[i].Later = []Source{SourceDatabase}
	}
	// Each chat's refresh may be the one answered 429 (dropped, until a later list queues it
	// again) or the one held by the pause.
	stores := storesAll(StoreUnchanged).
		set(alphaID, StoreRedis, StoreUnchangedOrRefreshed, false).set(alphaID, StoreDatabase, StoreUnchangedOrRefreshed, false).
		set(betaID, StoreRedis, StoreUnchangedOrRefreshed, false).set(betaID, StoreDatabase, StoreUnchangedOrRefreshed, false)
	return Row{
		ID: "replicas.max-429-once.cache-stale", Group: GroupReplicas,
		Title: fmt.Sprintf("%d replicas, MAX answers one call 429 with Retry-After 5s: no replica calls MAX for 5 s",
			replicaCount),
		Description: "Each replica lists the stale chats once and queues alpha and beta. MAX answers the first chat " +
			"call, whichever replica made it, 429 with Retry-After 5, and answers normally after. The replica answered " +
			"stores the pause in Redis, and the others read it with their next reservation or before a call that waited for its slot: no call reaches MAX for " +
			"five seconds but those already on their way. The chat answered 429 waits for the next list; the other " +
			"chat's refresh, claimed and reserved but not yet made when the pause began, waits it out and is " +
			"refreshed once it ends, instead of being dropped and left to no replica. As for one replica answered " +
			"429, the stale data served meanwhile is a fallback.",
		Given:   g,
		Request: listOnEach(),
		Expected: Expected{
			Status:  http.StatusOK,
			Chats:   chats,
			Latency: LatencyBound{P95: noWaitBound, Max: noWaitBound},
			Metrics: []MetricExpectation{
				metric(MetricMaxErrors, nil, Exactly(1)),
				refMetric(MetricMaxErrors, labels("reason", "rate_limited"), Exactly(1)),
				metric(MetricCacheErrors, nil, None()),
				refMetric(MetricRefresh, labels("result", "success"), AtLeast(1)),
			},
			Logs:     []LogExpectation{logged(LevelError, LogMaxFailed, nil, Exactly(1))},
			Stores:   stores,
			MaxCalls: []MaxCallExpectation{{Endpoint: MaxChat, Status: http.StatusTooManyRequests, Count: Exactly(1)}},
			MaxPause: &MaxPauseExpectation{RetryAfter: replicaRetryAfter, InFlight: pauseInFlight, Reference: true},
			Within:   eventually, Hold: hold,
		},
		SLA: SLA{Staleness: lastKnownGood("the stale cache entries, until the pause ends and the held refresh runs"),
			Alerts: alerts(AlertMaxAPIDown, AlertDataStale, AlertFallbackRateHigh)},
		Reference: true,
	}
}

// replicaLists is how many lists the bot-removed row sends, in turn to the replicas.
const replicaLists = 3 * replicaCount

func replicasBotRemoved() Row {
	seed := replicaSeed(3)
	seed.Chats[0].MaxStatus, seed.Chats[1].MaxStatus = http.StatusForbidden, http.StatusNotFound
	// Cached three hours ago (the database older still): a count that old is what the
	// staleness alert is for.
	for i := range seed.Chats {
		seed.Chats[i].Cache.Age, seed.Chats[i].DB.Age = 3*time.Hour, 4*time.Hour
	}
	removed, other := seed.Chats[:2], seed.Chats[2]
	chats, stores := everyChat(seed, SourceCache, OriginCache, []Source{SourceDatabase}, StoreUnchanged, StoreUnchanged)
	stores = stores.set(other.ID, StoreRedis, StoreRefreshed, false).set(other.ID, StoreDatabase, StoreRefreshed, false)
	req := listOnEach()
	req.Repeat, req.Interval = replicaLists, 300*time.Millisecond
	return Row{
		ID: "replicas.max-404-chat.cache-stale.backoff", Group: GroupReplicas,
		Title: fmt.Sprintf("%d replicas, the bot removed from two of three chats (403, 404), %d lists: one MAX call per removed chat in all",
			replicaCount, replicaLists),
		Description: fmt.Sprintf("MAX answers 403 for one chat and 404 not_found for another, as for chats the bot "+
			"was removed from, and the third normally. The %d lists go to the %d replicas in turn. The first refresh of a removed chat, by whichever "+
			"replica, puts it on PARTICIPANTS_FAILURE_BACKOFF in Redis, so no replica calls MAX for it again within "+
			"the backoff: one call per removed chat in all, their stale cache served as it is, while the third chat "+
			"is refreshed.", replicaLists, replicaCount),
		Given:   replicasGiven(up(), seed),
		Request: req,
		Expected: Expected{
			Status:  http.StatusOK,
			Chats:   chats,
			Latency: LatencyBound{P95: noWaitBound, Max: noWaitBound},
			Metrics: []MetricExpectation{
				metric(MetricMaxErrors, nil, Exactly(len(removed))),
				refMetric(MetricMaxErrors, labels("reason", "client_error"), Exactly(1)),
				refMetric(MetricMaxErrors, labels("reason", "not_found"), Exactly(1)),
				metric(MetricCacheErrors, nil, None()),
				refMetric(MetricRefresh, labels("result", "success"), Exactly(1)),
			},
			Logs:   []LogExpectation{logged(LevelError, LogMaxFailed, nil, Exactly(len(removed)))},
			Stores: stores,
			MaxCalls: []MaxCallExpectation{maxCalls(removed[0].MaxChatID, Exactly(1)),
				maxCalls(removed[1].MaxChatID, Exactly(1)), maxCalls(other.MaxChatID, Exactly(1))},
			Within: eventually, Hold: hold,
		},
		SLA: SLA{Staleness: lastKnownGood("the removed chats' stale cache entries, as they are"),
			Alerts: alerts(AlertDataStale)},
		Reference: true,
	}
}

// floodRequests is how many refresh requests the flood row sends, one after another, in turn
// to the replicas: three seconds of the reference budget.
const floodRequests = 3 * referenceRate

func replicasRefreshFlood() Row {
	g := given(up(), up(), up(), CacheFresh)
	g.Replicas = replicaCount
	return Row{
		ID: "replicas.refresh-flood.max-up", Group: GroupReplicas,
		Title: fmt.Sprintf("%d replicas, %d POST refreshes of one chat in a row, MAX healthy: no MAX error, no alert",
			replicaCount, floodRequests),
		Description: fmt.Sprintf("A client sends %d refresh requests for alpha, each as soon as the last is "+
			"answered, to the %d replicas in turn. A refresh request always asks MAX, so each reserves its call "+
			"from the deployment's one budget and waits for its slot: together the replicas call MAX at most %d "+
			"times a second, are never answered 429, and count no MAX error, so ParticipantsMaxAPIDown does not "+
			"fire while MAX is healthy. Replicas keeping budgets of their own would each let their turn through "+
			"at once.", floodRequests, replicaCount, maxRateCeiling),
		Given:   g,
		Request: Request{Method: http.MethodPost, Path: refreshPath(alphaID), Repeat: floodRequests},
		Expected: Expected{
			Status: http.StatusOK,
			// The first request has the budget to itself.
			Chats:   []ChatExpectation{chat(alphaID, SourceAPI, OriginMax)},
			Latency: LatencyBound{P95: syncMaxBound, Max: syncMaxBound},
			Metrics: []MetricExpectation{
				metric(MetricMaxErrors, nil, None()),
				metric(MetricCacheErrors, nil, None()),
			},
			Logs:   []LogExpectation{logged(LevelError, LogMaxFailed, nil, None())},
			Stores: storesAll(StoreUnchanged).set(alphaID, StoreRedis, StoreRefreshed, false).set(alphaID, StoreDatabase, StoreRefreshed, false),
			MaxCalls: []MaxCallExpectation{
				{Endpoint: MaxChat, Status: http.StatusTooManyRequests, Count: None()},
				maxCalls(alphaMax, AtLeast(1)),
			},
			MaxRate: []MaxRateExpectation{{PerSecond: AtMost(maxRateCeiling), Reference: true}},
			Within:  eventually, Hold: hold,
		},
		SLA:       SLA{Staleness: freshWithin(), Alerts: alerts(AlertNone)},
		Reference: true,
	}
}

// killChats is how many stale chats the kill row refreshes: long enough at the reference
// budget that a replica dies with refreshes in flight and most chats still to do.
const killChats = 150

// killAfterCalls is how many MAX calls the kill row lets the replicas make before it kills
// one: a second and a half in.
const killAfterCalls = 30

// killWithin is the deadline for refreshing every chat of the kill row: their time at the
// reference budget with 30% to spare and five seconds, and the three MAX_API_TIMEOUTs the
// killed replica's claims outlive it.
var killWithin = time.Duration(float64(killChats)/referenceRate*1.3*float64(time.Second)) + 5*time.Second + 3*maxTimeout

func replicasOneKilled() Row {
	seed := replicaSeed(killChats)
	chats, stores := everyChat(seed, SourceCache, OriginCache, []Source{SourceDatabase}, StoreRefreshed, StoreRefreshed)
	g := replicasGiven(up(), seed)
	g.KilledAfter = killAfterCalls
	req := listOnEach()
	req.Repeat, req.Interval = 10, time.Second
	return Row{
		ID: "replicas.one-killed.max-up.many-chats", Group: GroupReplicas,
		Title: fmt.Sprintf("%d replicas refreshing %d stale chats, one killed (SIGKILL) mid-refresh: the others refresh every chat",
			replicaCount, killChats),
		Description: fmt.Sprintf("The replicas list %d stale chats, one list a second in turn, and share their "+
			"refreshes through their claims. After %d MAX calls one replica is killed with SIGKILL: no shutdown, its "+
			"refreshes cut off wherever they are, its claims left in Redis; later lists go to the others. A claim "+
			"expires three MAX_API_TIMEOUTs after it was taken, so the next lists queue the dead replica's chats "+
			"again, and every chat is refreshed, each with MAX's count and a time from the row, within %s. Nothing "+
			"older overwrites it afterwards, and MAX is called at most %d times a second throughout.",
			killChats, killAfterCalls, formatDuration(killWithin), maxRateCeiling),
		Given:   g,
		Request: req,
		Expected: Expected{
			Status:  http.StatusOK,
			Chats:   chats,
			Latency: LatencyBound{P95: replicaListBound, Max: replicaListBound},
			Metrics: []MetricExpectation{metric(MetricMaxErrors, nil, None()), metric(MetricCacheErrors, nil, None())},
			Logs:    quietLogs(),
			Stores:  stores,
			MaxCalls: []MaxCallExpectation{
				{Endpoint: MaxChat, Status: http.StatusTooManyRequests, Count: None()},
				{Endpoint: MaxChat, Count: AtLeast(killChats)},
			},
			MaxRate: []MaxRateExpectation{{PerSecond: AtMost(maxRateCeiling), Reference: true}},
			Within:  killWithin, Hold: hold,
		},
		SLA:       SLA{Staleness: freshWithin(), Alerts: alerts(AlertNone)},
		Reference: true,
	}
}
