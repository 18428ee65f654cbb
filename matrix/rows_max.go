package matrix

import (
	"fmt"
	"net/http"
	"slices"
	"time"
)

// maxFailure describes one way MAX fails and what the reference service calls it.
type maxFailure struct {
	slug   string // in row ids
	fault  Fault
	reason string // participants_max_api_errors_total reason
	what   string // for titles
	// seen is whether the fake MAX journal shows the call (false when MAX is unreachable).
	seen   bool
	alerts []Alert
	// notReplayed are the alerts the compressed replay cannot show, and why.
	notReplayed []Alert
	why         string
	// reference marks a failure whose handling only the reference service promises.
	reference bool
	note      string
	// lead opens the list row's description (the rows of the original analysis say so).
	lead string
	// refreshNote ends the POST refresh row's description; refreshWhy replaces why there.
	refreshNote, refreshWhy string
}

func maxFailures() []maxFailure {
	// A list while MAX fails serves old data (ParticipantsDataStale) and, once the breaker
	// opens, answers from a fallback (ParticipantsFallbackRateHigh).
	dead := []Alert{AlertMaxAPIDown, AlertDataStale, AlertFallbackRateHigh}
	const waits = "each call waits MAX_API_TIMEOUT, so the breaker opens and fallbacks begin only seconds into the fault: " +
		"more than the replay's samples last"
	return []maxFailure{
		{slug: "max-down", fault: down(), reason: "connection", what: "MAX refuses connections", alerts: dead,
			lead: "The second row of the original analysis."},
		{slug: "max-503", fault: status(503), reason: "server_error", what: "MAX answers 503", seen: true, alerts: dead},
		{slug: "max-500", fault: status(500), reason: "server_error", what: "MAX answers 500", seen: true, alerts: dead},
		// Every call MAX answers is a 429, so the error ratio of ParticipantsMaxAPIDown is 100% as well.
		{slug: "max-429", fault: rateLimited(30 * time.Second), reason: "rate_limited", what: "MAX rate-limits (429, Retry-After 30s)", seen: true,
			alerts:      []Alert{AlertMaxAPIDown, AlertDataStale, AlertFallbackRateHigh, AlertMaxAPIRateLimited},
			notReplayed: []Alert{AlertMaxAPIRateLimited},
			why:         "after a 429 the service makes no MAX call for the Retry-After (30s), which compression turns into hours without a 429"},
		{slug: "max-401", fault: faultOf(FaultUnauthorized), reason: "unauthorized", what: "MAX rejects the token (401)", seen: true,
			alerts:      append(slices.Clone(dead), AlertMaxAPIUnauthorized),
			notReplayed: []Alert{AlertMaxAPIUnauthorized},
			why:         "once the breaker is open, 401s come one per breaker cooldown or health probe, seconds apart: longer than the alert's 2m window once compressed"},
		{slug: "max-slow", fault: slow(3 * time.Second), reason: "timeout", what: "MAX answers after 3s, beyond MAX_API_TIMEOUT", seen: true, alerts: dead,
			notReplayed: []Alert{AlertFallbackRateHigh}, why: waits,
			refreshWhy: "each refresh waits MAX_API_TIMEOUT, so few are answered while the replay samples"},
		{slug: "max-hang", fault: faultOf(FaultHang), reason: "timeout", what: "MAX never answers", seen: true, alerts: dead,
			notReplayed: []Alert{AlertFallbackRateHigh}, why: waits},
		{slug: "max-malformed", fault: faultOf(FaultMalformed), reason: "malformed", what: "MAX answers invalid JSON", seen: true, alerts: dead},
		{slug: "max-wrong-types", fault: faultOf(FaultWrongTypes), reason: "malformed", what: "MAX answers fields of the wrong types", seen: true, alerts: dead},
		{slug: "max-truncated", fault: faultOf(FaultTruncated), reason: "malformed", what: "MAX answers a truncated body", seen: true, alerts: dead},
		{slug: "max-oversized", fault: faultOf(FaultOversized), reason: "too_large", what: "MAX answers an oversized body", seen: true, alerts: dead,
			reference: true, note: "The contract does not bound MAX bodies; the reference service stops reading past its limit and treats the call as failed."},
	}
}

func maxFailureBySlug(slug string) maxFailure {
	return bySlug(maxFailures(), func(f maxFailure) string { return f.slug }, slug)
}

// bySlug returns the item whose slug is want; the catalogue names only slugs it defines.
func bySlug[T any](items []T, slug func(T) string, want string) T {
	for _, it := range items {
		if slug(it) == want {
			return it
		}
	}
	panic("matrix: no failure with slug " + want)
}

// retryAfterPause is the contract's Retry-After pause for a rate-limiting MAX, nil for
// other faults.
func retryAfterPause(f Fault) *MaxPauseExpectation {
	if f.Kind != FaultRateLimited {
		return nil
	}
	return &MaxPauseExpectation{RetryAfter: f.RetryAfter, InFlight: pauseInFlight}
}

// pauseInFlight is how long after MAX's first 429 a call may still reach MAX without
// breaking the pause: it was sent before the 429 arrived (two chats refreshed side by side)
// and delayed on its way. A service that checks the pause just before each call sends none
// later than that; one that does not calls again as soon as its limiter lets it (every 50 ms
// at the reference's 20 calls a second), and the next request's refreshes come later still.
const pauseInFlight = 50 * time.Millisecond

// staleServedWhileMaxFails is the common expectation of a list over a stale cache while MAX
// fails without being short-circuited yet.
func staleServedWhileMaxFails(f maxFailure) Expected {
	calls := []MaxCallExpectation{maxCalls(0, None())}
	if f.seen {
		calls = []MaxCallExpectation{maxCalls(0, AtLeast(1))}
	}
	metrics := []MetricExpectation{
		metric(MetricMaxErrors, nil, AtLeast(1)),
		refMetric(MetricMaxErrors, labels("reason", f.reason), AtLeast(1)),
		metric(MetricCacheErrors, nil, None()),
		refMetric(MetricRefresh, labels("result", "failure"), AtLeast(1)),
		refMetric(MetricRefresh, labels("result", "success"), None()),
	}
	logs := []LogExpectation{
		logged(LevelError, LogMaxFailed, nil, AtLeast(1)),
		refLogged(LevelError, LogMaxFailed, labels("reason", f.reason), AtLeast(1)),
	}
	if f.fault.Kind == FaultRateLimited {
		// The Retry-After pause holds back the refreshes of the later requests: they count a
		// fallback each instead of calling MAX again.
		calls = append(calls, refMaxCalls(0, Between(1, 2)))
		metrics = append(metrics, refMetric(MetricFallback, labels("reason", FallbackMax), Between(1, 2)))
		logs = append(logs, refLogged(LevelWarn, LogFallback,
			labels("reason", FallbackMax, "fallback_source", "cache", "chat_count", "2"), Between(1, 2)))
	} else {
		// The breaker is still closed when the request arrives: the stale cache is the primary
		// source, not a fallback.
		metrics = append(metrics, refMetric(MetricFallback, nil, None()))
		logs = append(logs, refLogged(LevelWarn, LogFallback, nil, None()))
	}
	return Expected{
		Status:   http.StatusOK,
		Chats:    listedChats(SourceCache, OriginCache, SourceCache, OriginCache),
		Latency:  LatencyBound{P95: noWaitBound, Max: noWaitBound},
		Metrics:  metrics,
		Gauges:   []GaugeExpectation{gaugeAtLeast(MetricFreshness, nil, staleAfter.Seconds())},
		Logs:     logs,
		Stores:   storesAll(StoreUnchanged),
		MaxCalls: calls,
		MaxPause: retryAfterPause(f.fault),
		Within:   eventually, Hold: hold,
	}
}

func maxRows() []Row {
	var rows []Row
	for _, f := range maxFailures() {
		req := list(1)
		if f.fault.Kind == FaultRateLimited {
			req = list(3)
			req.Interval = 300 * time.Millisecond
		}
		desc := fmt.Sprintf("%s. The stale entries are served without waiting for MAX; the refresh is attempted, "+
			"fails, is counted (reason %s) and logged at ERROR, and overwrites nothing.", f.what, f.reason)
		if f.lead != "" {
			desc = f.lead + " " + desc
		}
		if f.fault.Kind == FaultRateLimited {
			desc += " The later requests fall inside the Retry-After pause, so they do not call MAX again."
		}
		if f.note != "" {
			desc += " " + f.note
		}
		rows = append(rows, Row{
			ID: "redis-up." + f.slug + ".cache-stale", Group: GroupMax,
			Title:       f.what + ", cache stale: stale data served, nothing overwritten",
			Description: desc,
			Given:       given(up(), up(), f.fault, CacheStale),
			Request:     req,
			Expected:    staleServedWhileMaxFails(f),
			SLA: SLA{Staleness: lastKnownGood("stale cache entries are served until PARTICIPANTS_CACHE_TTL (24h) ends, " +
				"then the database's last known good count"), Alerts: f.alerts, NotReplayed: f.notReplayed, NotReplayedWhy: f.why},
			Reference: f.reference,
		})
	}
	open := maxFailureBySlug("max-503")
	req := list(3)
	req.WarmUp, req.WarmUpInterval = 4, 300*time.Millisecond
	rows = append(rows, Row{
		ID: "redis-up.max-short-circuited.cache-stale", Group: GroupMax,
		Title: "MAX failing repeatedly, cache stale: MAX short-circuited, stale data served",
		Description: "Four warm-up requests make eight failed refreshes (503), which opens the MAX breaker. " +
			"The measured requests then serve the stale cache without calling MAX, and count and log a " +
			"max_api_unavailable fallback (fallback_source cache, chat_count 2) instead.",
		Given:   given(up(), up(), open.fault, CacheStale),
		Request: req,
		Expected: Expected{
			Status:    http.StatusOK,
			Chats:     listedChats(SourceCache, OriginCache, SourceCache, OriginCache),
			Latency:   LatencyBound{P95: noWaitBound, Max: noWaitBound},
			WarmUpMax: noWaitBound,
			Metrics: []MetricExpectation{
				metric(MetricMaxErrors, nil, AtLeast(1)),
				refMetric(MetricMaxErrors, labels("reason", "server_error"), AtLeast(5)),
				metric(MetricCacheErrors, nil, None()),
				measured(refMetric(MetricFallback, labels("reason", FallbackMax), AtLeast(1))),
				measured(refMetric(MetricRefreshDropped, labels("reason", FallbackMax), AtLeast(1))),
			},
			Gauges: []GaugeExpectation{gaugeAtLeast(MetricFreshness, nil, staleAfter.Seconds())},
			Logs: []LogExpectation{
				logged(LevelError, LogMaxFailed, nil, AtLeast(1)),
				refLogged(LevelWarn, LogBreaker, labels("dependency", string(MaxAPI)), AtLeast(1)),
				{Level: LevelWarn, Msg: LogFallback, Attrs: labels("reason", FallbackMax, "fallback_source", "cache", "chat_count", "2"),
					Count: AtLeast(1), Measured: true, Reference: true},
			},
			Stores: storesAll(StoreUnchanged),
			MaxCalls: []MaxCallExpectation{maxCalls(0, AtLeast(1)),
				{Endpoint: MaxChat, Count: None(), Measured: true, Reference: true}},
			Within: eventually, Hold: hold,
		},
		SLA: SLA{Staleness: lastKnownGood("stale cache entries are served until PARTICIPANTS_CACHE_TTL (24h) ends, " +
			"then the database's last known good count"), Alerts: alerts(AlertMaxAPIDown, AlertDataStale, AlertFallbackRateHigh)},
	})
	return append(rows, backoffRow(), backedOffElsewhereRow())
}

// backoffRow is a bot removed from its chats: MAX answers 404 for them, which says nothing
// about MAX's health (no breaker opens), so only the failure backoff keeps every list from
// asking again.
func backoffRow() Row {
	req := list(5)
	req.Interval = 300 * time.Millisecond
	return Row{
		ID: "redis-up.max-404.cache-stale.backoff", Group: GroupMax,
		Title: "MAX answers 404 for every chat (bot removed), cache stale, five lists: one MAX call per chat, then backed off",
		Description: "MAX answers 404 not_found for alpha and beta, as when the bot was removed from them. A 404 is about one " +
			"chat, not MAX, so the breaker stays closed and each list would queue both stale chats again. The first " +
			"refresh of each chat fails and puts it on PARTICIPANTS_FAILURE_BACKOFF (10m): the four later lists serve the " +
			"stale cache exactly as it is and count a failure_backoff drop per chat instead of calling MAX. " +
			"ParticipantsMaxAPIDown ignores not_found, so only the staleness alert fires.",
		Given:   given(up(), up(), status(http.StatusNotFound), CacheStale),
		Request: req,
		Expected: Expected{
			Status:  http.StatusOK,
			Chats:   listedChats(SourceCache, OriginCache, SourceCache, OriginCache),
			Latency: LatencyBound{P95: noWaitBound, Max: noWaitBound},
			Metrics: []MetricExpectation{
				metric(MetricMaxErrors, nil, Exactly(2)),
				refMetric(MetricMaxErrors, labels("reason", "not_found"), Exactly(2)),
				metric(MetricCacheErrors, nil, None()),
				metric(MetricFallback, nil, None()),
				refMetric(MetricRefreshDropped, labels("reason", DroppedBackoff), AtLeast(4)),
			},
			Gauges: []GaugeExpectation{gaugeAtLeast(MetricFreshness, nil, staleAfter.Seconds())},
			Logs: []LogExpectation{
				logged(LevelError, LogMaxFailed, nil, Exactly(2)),
				logged(LevelWarn, LogFallback, nil, None()),
			},
			Stores:   storesAll(StoreUnchanged),
			MaxCalls: []MaxCallExpectation{maxCalls(alphaMax, Exactly(1)), maxCalls(betaMax, Exactly(1))},
			Within:   eventually, Hold: hold,
		},
		SLA: SLA{Staleness: lastKnownGood("the stale cache entries, as they are, until the backoff ends and MAX answers again"),
			Alerts: alerts(AlertDataStale)},
		Reference: true,
	}
}

// backedOffElsewhereRow is the backoff shared between replicas: another replica found alpha
// refused by MAX and wrote its backoff to Redis; this one has never called MAX for alpha.
func backedOffElsewhereRow() Row {
	g := given(up(), up(), up(), CacheStale)
	g.Seed.Chats[0].BackedOff = 10 * time.Minute
	return Row{
		ID: "redis-up.max-up.cache-stale.backed-off-elsewhere", Group: GroupMax,
		Title: "Cache stale, alpha backed off by another replica (its Redis key), MAX up: alpha not refreshed, beta is",
		Description: "Another replica found alpha refused by MAX and wrote participants:backoff:<id> for the next ten " +
			"minutes. This replica has never called MAX for alpha, so only the shared key can tell it to skip alpha: it " +
			"serves alpha's stale cache as it is, counts a failure_backoff drop and makes no MAX call for it, while the " +
			"stale beta is refreshed as usual. alpha's data stays stale, which ParticipantsDataStale reports.",
		Given:   g,
		Request: list(1),
		Expected: Expected{
			Status:  http.StatusOK,
			Chats:   listedChats(SourceCache, OriginCache, SourceCache, OriginCache),
			Latency: LatencyBound{P95: noWaitBound, Max: noWaitBound},
			Metrics: append(quietMetrics(), refMetric(MetricRefreshDropped, labels("reason", DroppedBackoff), AtLeast(1))),
			Logs:    quietLogs(),
			Stores: storesAll(StoreUnchanged).
				set(betaID, StoreRedis, StoreRefreshed, false).set(betaID, StoreDatabase, StoreRefreshed, false),
			MaxCalls: []MaxCallExpectation{maxCalls(alphaMax, None()), maxCalls(betaMax, Exactly(1))},
			Within:   eventually, Hold: hold,
		},
		SLA:       SLA{Staleness: lastKnownGood("the stale entry, as it is, until the backoff ends"), Alerts: alerts(AlertDataStale)},
		Reference: true,
	}
}
