package matrix

import (
	"fmt"
	"net/http"
	"time"
)

// redisFailure is one way Redis fails.
type redisFailure struct {
	slug  string
	fault Fault
	what  string
	// writeMayLand is true when a cache write can still reach Redis after the client gave up.
	writeMayLand bool
	// analysis names the rows of the original failure analysis this one is, with MAX up and
	// with MAX down, to lead their descriptions.
	analysis map[bool]string
	// maxUpOnly leaves out the row with MAX down: the failure behaves like another to the
	// service, so one row is enough.
	maxUpOnly bool
}

func redisFailures() []redisFailure {
	return []redisFailure{
		{slug: "redis-down", fault: down(), what: "Redis refuses connections",
			analysis: map[bool]string{true: "The third row of the original analysis.", false: "The fourth row of the original analysis."}},
		{slug: "redis-blackhole", fault: faultOf(FaultBlackhole), what: "Redis accepts connections and never answers"},
		{slug: "redis-slow", fault: latency(time.Second), what: "Redis answers after 1s, beyond REDIS_TIMEOUT", writeMayLand: true},
		{slug: "redis-reset", fault: faultOf(FaultReset), what: "Redis resets every connection"},
		// A paused container behaves like a blackhole to the service.
		{slug: "redis-paused", fault: faultOf(FaultPaused), what: "the Redis container is paused", writeMayLand: true, maxUpOnly: true},
	}
}

func redisFailureBySlug(slug string) redisFailure {
	return bySlug(redisFailures(), func(f redisFailure) string { return f.slug }, slug)
}

// redisUnreachable is a list while Redis fails: the database serves, fast once the Redis
// breaker is open.
func redisUnreachable(f redisFailure, maxUp bool) Row {
	mx, maxSlug, maxWhat := up(), "max-up", "MAX up"
	if !maxUp {
		mx, maxSlug, maxWhat = down(), "max-down", "MAX down"
	}
	req := list(20)
	req.WarmUp = 5
	betaValue := OriginDatabase
	if maxUp {
		betaValue = OriginDatabaseOrMax
	}
	metrics := []MetricExpectation{
		measured(metric(MetricFallback, labels("reason", FallbackCache), Exactly(req.Repeat))),
		metric(MetricCacheErrors, nil, AtLeast(1)),
		measured(refMetric(MetricCacheErrors, nil, AtLeast(req.Repeat))),
	}
	logs := []LogExpectation{
		{Level: LevelWarn, Msg: LogFallback, Attrs: labels("reason", FallbackCache, "fallback_source", "database", "chat_count", "3"),
			Count: AtLeast(1), Measured: true},
		{Level: LevelWarn, Msg: LogFallback, Attrs: labels("reason", FallbackCache),
			Count: Exactly(req.Repeat), Measured: true, Reference: true},
		refLogged(LevelWarn, LogCacheFailed, nil, AtLeast(1)),
	}
	stores := storesAll(StoreUnchanged)
	calls := []MaxCallExpectation{refMaxCalls(alphaMax, None())}
	// Every list falls back to the database: ParticipantsFallbackRateHigh is the user-facing side.
	alertList := alerts(AlertCacheDown, AlertFallbackRateHigh)
	staleness := Staleness{Kind: StalenessBounded, Max: staleAfter,
		Note: "database data, kept fresh by background refreshes that still write the database"}
	if maxUp {
		metrics = append(metrics, metric(MetricMaxErrors, nil, None()),
			refMetric(MetricRefresh, labels("result", "success"), AtLeast(1)))
		logs = append(logs, refLogged(LevelError, LogMaxFailed, nil, None()))
		stores = stores.set(betaID, StoreDatabase, StoreRefreshed, true)
		if f.writeMayLand {
			stores = stores.set(betaID, StoreRedis, StoreUnchangedOrRefreshed, false)
		}
		calls = append(calls, refMaxCalls(betaMax, AtLeast(1)))
	} else {
		metrics = append(metrics, refMetric(MetricMaxErrors, labels("reason", "connection"), AtLeast(1)))
		logs = append(logs, refLogged(LevelError, LogMaxFailed, labels("reason", "connection"), AtLeast(1)))
		calls = append(calls, maxCalls(betaMax, None()))
		alertList = alerts(AlertCacheDown, AlertMaxAPIDown, AlertDataStale, AlertFallbackRateHigh)
		staleness = lastKnownGood("the database's last known good count")
	}
	desc := fmt.Sprintf("%s and %s. Five warm-up requests open the Redis breaker; the 20 measured requests are "+
		"answered from the database far below REDIS_TIMEOUT, each counted and logged as a cache_unavailable fallback "+
		"(chat_count 3, fallback_source database). alpha's database row is fresh, so it is not refreshed; beta's is stale, ",
		f.what, maxWhat)
	if maxUp {
		desc += "so its refresh writes the database (the cache write fails and is counted) and a later response may already carry the MAX count."
	} else {
		desc += "so its refresh is attempted and fails, and nothing is written."
	}
	if lead := f.analysis[maxUp]; lead != "" {
		desc = lead + " " + desc
	}
	if f.writeMayLand {
		desc += " A cache write the client gave up on may still reach Redis later, so beta's Redis entry may be either."
	}
	return Row{
		ID: f.slug + "." + maxSlug + ".cache-fresh", Group: GroupRedis,
		Title:       fmt.Sprintf("%s, %s: database served fast once the breaker opens", f.what, maxWhat),
		Description: desc,
		Given:       given(up(), f.fault, mx, CacheFresh),
		Request:     req,
		Expected: Expected{
			Status:    http.StatusOK,
			Chats:     listedChats(SourceDatabase, OriginDatabase, SourceDatabase, betaValue),
			Latency:   LatencyBound{P95: breakerP95, Max: redisMax},
			WarmUpMax: redisWarmUpMax,
			Metrics:   metrics,
			Logs:      logs,
			Stores:    stores,
			MaxCalls:  calls,
			Within:    eventually, Hold: hold,
		},
		SLA: SLA{Staleness: staleness, Alerts: alertList},
	}
}

// redisRestartedEmpty is a list right after Redis came back without its data.
func redisRestartedEmpty(maxUp bool) Row {
	mx, maxSlug, maxWhat := up(), "max-up", "MAX up"
	if !maxUp {
		mx, maxSlug, maxWhat = down(), "max-down", "MAX down"
	}
	stores := storesAll(StoreUnchanged)
	metrics := []MetricExpectation{
		// Redis is up again before the request; the connections the restart closed are
		// dropped by the client, so the multi-get succeeds: no fallback.
		metric(MetricFallback, labels("reason", FallbackCache), None()),
	}
	logs := []LogExpectation{}
	var calls []MaxCallExpectation
	alertList := alerts(AlertNone)
	staleness := freshWithin()
	desc := "Redis was restarted and lost every entry; it answers again. The first list serves the database. " +
		"Redis is readable, so a missing entry is refreshed even where the database row is fresh (alpha's is, beta's " +
		"is stale): "
	if maxUp {
		desc += "both refreshes refill Redis and the database."
		stores = linkedRefreshed()
		metrics = append(metrics, metric(MetricMaxErrors, nil, None()), refMetric(MetricRefresh, labels("result", "success"), Exactly(2)))
		logs = append(logs, logged(LevelError, "", nil, None()),
			refLogged(LevelWarn, LogFallback, labels("reason", FallbackMax), None()))
		calls = append(calls, maxCalls(alphaMax, Exactly(1)), maxCalls(betaMax, Exactly(1)))
	} else {
		desc += "both refreshes are attempted and fail, and nothing is written: the Redis entries stay absent."
		stores = stores.set(alphaID, StoreRedis, StoreAbsent, false).set(betaID, StoreRedis, StoreAbsent, false)
		metrics = append(metrics, refMetric(MetricMaxErrors, labels("reason", "connection"), AtLeast(1)),
			refMetric(MetricRefresh, labels("result", "failure"), AtLeast(2)))
		logs = append(logs, refLogged(LevelError, LogMaxFailed, labels("reason", "connection"), AtLeast(1)))
		calls = append(calls, maxCalls(0, None()))
		alertList = alerts(AlertMaxAPIDown, AlertDataStale, AlertFallbackRateHigh)
		staleness = lastKnownGood("the database's last known good count")
	}
	return Row{
		ID: "redis-restarted-empty." + maxSlug + ".cache-fresh", Group: GroupRedis,
		Title:       "Redis restarted empty, " + maxWhat + ": database served, linked chats refilled",
		Description: desc,
		Given:       given(up(), faultOf(FaultRestartedEmpty), mx, CacheFresh),
		Request:     list(1),
		Expected: Expected{
			Status:   http.StatusOK,
			Chats:    listedChats(SourceDatabase, OriginDatabase, SourceDatabase, OriginDatabase),
			Latency:  LatencyBound{P95: singleBound, Max: singleBound},
			Metrics:  metrics,
			Logs:     logs,
			Stores:   stores,
			MaxCalls: calls,
			Within:   eventually, Hold: hold,
		},
		SLA: SLA{Staleness: staleness, Alerts: alertList},
	}
}

func redisRows() []Row {
	var rows []Row
	for _, f := range redisFailures() {
		rows = append(rows, redisUnreachable(f, true))
		if !f.maxUpOnly {
			rows = append(rows, redisUnreachable(f, false))
		}
	}
	rows = append(rows, redisRestartedEmpty(true), redisRestartedEmpty(false))
	return rows
}
