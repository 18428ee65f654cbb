package matrix

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"
)

func refreshRows() []Row {
	post := func(id int64) Request {
		return Request{Method: http.MethodPost, Path: refreshPath(id), Repeat: 1}
	}
	rows := []Row{{
		ID: "refresh.max-up", Group: GroupRefresh,
		Title:       "POST refresh, MAX up: fetched now, written to the database and Redis",
		Description: "The count is fetched synchronously and answered with source api; the database and Redis hold it when the response arrives.",
		Given:       given(up(), up(), up(), CacheStale),
		Request:     post(alphaID),
		Expected: Expected{
			Status:   http.StatusOK,
			Chats:    []ChatExpectation{chat(alphaID, SourceAPI, OriginMax)},
			Latency:  LatencyBound{P95: syncMaxBound, Max: syncMaxBound},
			Metrics:  quietMetrics(),
			Logs:     quietLogs(),
			Stores:   storesAll(StoreUnchanged).set(alphaID, StoreRedis, StoreRefreshed, false).set(alphaID, StoreDatabase, StoreRefreshed, false),
			MaxCalls: []MaxCallExpectation{maxCalls(alphaMax, Exactly(1)), maxCalls(betaMax, None())},
			Within:   2 * time.Second, Hold: hold,
		},
		SLA: SLA{Staleness: Staleness{Kind: StalenessBounded, Max: 0, Note: "fetched from MAX during the request"}, Alerts: alerts(AlertNone)},
	}}
	fails := []maxFailure{}
	for _, slug := range []string{"max-down", "max-503", "max-429", "max-401", "max-slow", "max-malformed"} {
		fails = append(fails, maxFailureBySlug(slug))
	}
	fails = append(fails, maxFailure{slug: "max-404", fault: status(404), reason: "not_found", what: "MAX does not know the chat (404)",
		seen: true, alerts: alerts(AlertFallbackRateHigh),
		refreshNote: "A 404 concerns one chat, not MAX's health, so MAX is not reported down; only the share of " +
			"answers from a fallback shows."})
	for _, f := range fails {
		calls := []MaxCallExpectation{maxCalls(alphaMax, Exactly(1)), maxCalls(betaMax, None())}
		if !f.seen {
			calls[0] = maxCalls(alphaMax, None())
		}
		desc := fmt.Sprintf("%s. The refresh fails: the database's last known good value is answered (200, source database), "+
			"counted and logged once as a max_api_unavailable fallback (chat_count 1, fallback_source database), "+
			"the MAX error counted (reason %s) and logged at ERROR; nothing is written.", f.what, f.reason)
		if f.refreshNote != "" {
			desc += " " + f.refreshNote
		}
		// A POST serves no list, so the freshness gauge (and ParticipantsDataStale) does not move;
		// every failed refresh answers from the database, a fallback.
		alertList := slices.DeleteFunc(slices.Clone(f.alerts), func(a Alert) bool { return a == AlertDataStale })
		notReplayed, why := f.notReplayed, cmp.Or(f.refreshWhy, f.why)
		rows = append(rows, Row{
			ID: "refresh." + f.slug, Group: GroupRefresh,
			Title:       "POST refresh, " + f.what + ": database fallback, nothing written",
			Description: desc,
			Given:       given(up(), up(), f.fault, CacheStale),
			Request:     post(alphaID),
			Expected: Expected{
				Status:  http.StatusOK,
				Chats:   []ChatExpectation{chat(alphaID, SourceDatabase, OriginDatabase)},
				Latency: LatencyBound{P95: syncMaxBound, Max: syncMaxBound},
				Metrics: []MetricExpectation{
					metric(MetricMaxErrors, nil, AtLeast(1)),
					refMetric(MetricMaxErrors, labels("reason", f.reason), Exactly(1)),
					metric(MetricFallback, labels("reason", FallbackMax), Exactly(1)),
					metric(MetricFallback, labels("reason", FallbackCache), None()),
					metric(MetricCacheErrors, nil, None()),
				},
				Logs: []LogExpectation{
					logged(LevelWarn, LogFallback, labels("reason", FallbackMax, "fallback_source", "database", "chat_count", "1"), Exactly(1)),
					logged(LevelError, LogMaxFailed, labels("chat_id", strconv.FormatInt(alphaID, 10),
						"max_chat_id", strconv.FormatInt(alphaMax, 10)), AtLeast(1)),
					refLogged(LevelError, LogMaxFailed, labels("reason", f.reason, "chat_id", strconv.FormatInt(alphaID, 10)), Exactly(1)),
				},
				Stores:   storesAll(StoreUnchanged),
				MaxCalls: calls,
				Within:   5 * time.Second, Hold: hold,
			},
			SLA: SLA{Staleness: lastKnownGood("the database's last known good count"), Alerts: alertList,
				NotReplayed: notReplayed, NotReplayedWhy: why},
		})
	}
	unknown := untouched()
	unknown.Status, unknown.ErrorCode = http.StatusNotFound, "not_found"
	unlinked := untouched()
	unlinked.Status, unlinked.ErrorCode = http.StatusConflict, "conflict"
	dbDown := untouched()
	dbDown.Status, dbDown.ErrorCode = http.StatusServiceUnavailable, "database_unavailable"
	dbDown.Headers = []HeaderExpectation{{Name: RetryAfterHeader, Present: true}}
	dbDown.Latency = LatencyBound{P95: databaseMax, Max: databaseMax}
	dbDown.MaxCalls = []MaxCallExpectation{refMaxCalls(0, None())}
	dbDown.Logs = []LogExpectation{logged(LevelWarn, LogFallback, nil, None())}
	rows = append(rows,
		Row{
			ID: "refresh.unknown-chat", Group: GroupRefresh,
			Title:       "POST refresh of a chat that does not exist: 404, MAX not called",
			Description: "The contract does not name this case; like GET /chats/{id}, an unknown chat is 404 and nothing is fetched or written.",
			Given:       given(up(), up(), up(), CacheStale),
			Request:     post(unknownID),
			Expected:    unknown,
			SLA:         SLA{Staleness: notServed("the chat does not exist"), Alerts: alerts(AlertNone)},
		},
		Row{
			ID: "refresh.unlinked-chat", Group: GroupRefresh,
			Title:       "POST refresh of a chat not linked to MAX: 409, MAX not called",
			Description: "The contract is silent; the reference service answers 409 conflict because there is nothing to fetch.",
			Given:       given(up(), up(), up(), CacheStale),
			Request:     post(gammaID),
			Expected:    unlinked,
			SLA:         SLA{Staleness: notServed("the chat has no MAX id"), Alerts: alerts(AlertNone)},
			Reference:   true,
		},
		Row{
			ID: "refresh.postgres-down", Group: GroupRefresh,
			Title: "POST refresh with the database down: 503 with Retry-After, MAX not called",
			Description: "The contract names list and get; a refresh needs the chat's MAX id from the database, so the " +
				"reference service answers the same fast 503 and does not call MAX.",
			Given:     given(down(), up(), up(), CacheStale),
			Request:   post(alphaID),
			Expected:  dbDown,
			SLA:       SLA{Staleness: notServed("the database is unavailable"), Alerts: alerts(AlertDatabaseUnavailable)},
			Reference: true,
		},
	)
	return rows
}
