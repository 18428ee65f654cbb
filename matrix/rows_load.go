package matrix

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/faultline/faultline/contract"
)

// The rows that put more on the service than three chats and a few requests: the MAX rate
// over many chats, and the service's own resources over a burst of requests.

// manyChats is how many linked chats the rate row seeds: three seconds of refreshes at the
// reference service's MAX_API_RATE_LIMIT, twice what MAX allows in one second.
const manyChats = 60

// maxRateCeiling is MAX's own limit per bot token; the contract keeps every service below it.
const maxRateCeiling = 30

// referenceRate is the reference service's MAX_API_RATE_LIMIT (its default).
const referenceRate = 20

func loadRows() []Row {
	return append([]Row{coldManyChats()}, burstRows()...)
}

// coldManySeed seeds manyChats linked chats with no cache entries (a flushed or new Redis)
// and database rows half an hour old: young enough that no staleness alert is due while they
// are refreshed, and refreshed all the same, because their entries are missing.
func coldManySeed() Seed {
	var s Seed
	for i := range manyChats {
		id := int64(101 + i)
		s.Chats = append(s.Chats, SeedChat{ID: id, Name: fmt.Sprintf("chat-%d", id), MaxChatID: -(3000 + id),
			DB: Stored{Count: 100 + i, Age: 30 * time.Minute}, MaxCount: 1000 + i})
	}
	return s
}

func coldManyChats() Row {
	seed := coldManySeed()
	var chats []ChatExpectation
	var stores storeSet
	for _, c := range seed.Chats {
		chats = append(chats, chat(c.ID, SourceDatabase, OriginDatabase))
		stores = append(stores, storeExpectation(c.ID, StoreRedis, StoreRefreshed, false),
			storeExpectation(c.ID, StoreDatabase, StoreRefreshed, false))
	}
	// The reference service refreshes at MAX_API_RATE_LIMIT, in three seconds; the deadline
	// is the harness's "eventually", which any service refreshing six chats a second meets.
	refreshWithin := eventually
	return Row{
		ID: "redis-up.max-up.cache-cold.many-chats", Group: GroupCache,
		Title: fmt.Sprintf("Everything up, cache cold, %d linked chats: refreshed below MAX's rate limit", manyChats),
		Description: fmt.Sprintf("One list makes all %d linked chats due for a refresh at once. The service must "+
			"spread the refreshes below MAX's %d calls per second (the fake MAX answers 429 beyond it), so no call "+
			"is refused, and still refresh them all, into the database and Redis, within the harness's %s "+
			"(six a second would do). The reference service refreshes at its MAX_API_RATE_LIMIT of %d per second, "+
			"one call per chat; that rate and count are its own.", manyChats, maxRateCeiling, formatDuration(eventually), referenceRate),
		Given:   Given{Postgres: up(), Redis: up(), MaxAPI: up(), Cache: CacheCold, Seed: seed},
		Request: Request{Method: http.MethodGet, Path: contract.PathList, Repeat: 1},
		Expected: Expected{
			Status:  http.StatusOK,
			Chats:   chats,
			Latency: LatencyBound{P95: noWaitBound, Max: noWaitBound},
			Metrics: append(quietMetrics(),
				refMetric(MetricRefresh, labels("result", "success"), Exactly(manyChats))),
			Logs:   quietLogs(),
			Stores: stores,
			MaxCalls: []MaxCallExpectation{
				{Endpoint: MaxChat, Status: http.StatusTooManyRequests, Count: None()},
				{Endpoint: MaxChat, Count: Exactly(manyChats), Reference: true},
			},
			// The ceiling only: the fake MAX stamps each call as it arrives, behind a proxy,
			// so calls sent a rate interval apart can arrive closer together, and a bound at
			// the reference service's own rate would judge that jitter, not the service.
			MaxRate: []MaxRateExpectation{{PerSecond: AtMost(maxRateCeiling)}},
			Within:  refreshWithin, Hold: hold,
		},
		SLA: SLA{Staleness: freshWithin(), Alerts: alerts(AlertNone)},
	}
}

// burstRequests is how many requests a burst row sends, one after another: enough that a
// goroutine or file descriptor leaked per request stands far above the service's own churn.
const burstRequests = 300

// The growth a burst may leave behind once the service settled: a few connections and their
// goroutines, never one per request.
const (
	goroutineSlack = 20
	fdSlack        = 10
)

// burstRows send a burst of requests down each fallback path, and bound the service's own
// resources over it. They derive from the row of the same dependency state, whose fault,
// seed and alerts they keep.
func burstRows() []Row {
	base := map[string]Row{}
	for _, r := range append(append(redisRows(), maxRows()...), postgresRows()...) {
		base[r.ID] = r
	}
	return []Row{
		burst(base["redis-down.max-up.cache-fresh"], "Redis refusing connections", http.StatusOK),
		burst(base["redis-up.max-short-circuited.cache-stale"], "MAX answering 503, its breaker open", http.StatusOK),
		burst(base["postgres-down.list"], "the database refusing connections", http.StatusServiceUnavailable),
	}
}

func burst(b Row, what string, status int) Row {
	req := b.Request
	req.Repeat, req.Interval = burstRequests, 0
	e := b.Expected
	e.Status = status
	e.Latency = LatencyBound{P95: max(e.Latency.P95, noWaitBound), Max: max(e.Latency.Max, 2*time.Second)}
	e.Metrics = slices.Clone(e.Metrics)
	for i := range e.Metrics {
		if e.Metrics[i].Measured {
			e.Metrics[i].Delta = perRequest(e.Metrics[i].Delta, b.Request.Repeat)
		}
	}
	e.Logs = slices.Clone(e.Logs)
	for i := range e.Logs {
		if e.Logs[i].Measured {
			e.Logs[i].Count = perRequest(e.Logs[i].Count, b.Request.Repeat)
		}
	}
	// A burst may outlast a breaker's cooldown, and a half-open probe may then call MAX
	// during the measured requests: what a measured "no call" proved is the base row's.
	e.MaxCalls = slices.DeleteFunc(slices.Clone(e.MaxCalls), func(m MaxCallExpectation) bool {
		return m.Measured && m.Count.Forbids()
	})
	e.Resources = []ResourceExpectation{
		{Name: MetricGoroutines, MaxIncrease: goroutineSlack, Reference: true},
		{Name: MetricOpenFDs, MaxIncrease: fdSlack, Reference: true},
	}
	e.Recovery = nil
	return Row{
		ID: b.ID + ".burst", Group: b.Group,
		Title: fmt.Sprintf("%d requests with %s: no goroutine or file descriptor left behind", burstRequests, what),
		Description: fmt.Sprintf("Row %s with %d measured requests in a row instead of %d: everything it "+
			"expects, with the counts of one per measured request scaled, and once the service has settled, at "+
			"most %d goroutines and %d open file descriptors more than before the first request; a leak of one "+
			"per request would show %d. The gauges are the Go and process collectors' (go_goroutines, "+
			"process_open_fds), which only the reference service promises.",
			b.ID, burstRequests, b.Request.Repeat, goroutineSlack, fdSlack, burstRequests),
		Given:    b.Given,
		Request:  req,
		Expected: e,
		SLA:      b.SLA,
	}
}

// perRequest scales a count that is one per measured request of the base row to the burst.
func perRequest(c Count, baseRepeat int) Count {
	if c.Min == baseRepeat {
		c.Min = burstRequests
	}
	if c.Max == baseRepeat {
		c.Max = burstRequests
	}
	return c
}
