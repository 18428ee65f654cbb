package matrix

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// The seeded chats. Every row seeds the same three chats, so a count always tells its source:
// the database holds 10/20/30, Redis 11/21, the fake MAX 12/22.
const (
	alphaID  int64 = 1 // linked
	betaID   int64 = 2 // linked
	gammaID  int64 = 3 // not linked: never refreshed, never cached
	alphaMax int64 = -1001
	betaMax  int64 = -1002
	// unknownID is a chat id that is never seeded.
	unknownID int64 = 999
)

// Bounds shared by many rows, with the reason for each.
const (
	// singleBound bounds one request with nothing broken: generous, because the machine is
	// loaded and the service may run with -race.
	singleBound = time.Second
	// noWaitBound proves a list response did not wait for MAX: well under MAX_API_TIMEOUT.
	noWaitBound = 500 * time.Millisecond
	// breakerP95 is "far below the dependency's timeout" once a breaker short-circuits it.
	breakerP95 = 100 * time.Millisecond
	// redisMax admits the one half-open probe that pays REDIS_TIMEOUT again.
	redisMax = redisTimeout + 400*time.Millisecond
	// databaseMax admits a request that pays DATABASE_TIMEOUT (contract: within the deadline).
	databaseMax = databaseTimeout + 400*time.Millisecond
	// redisWarmUpMax bounds every request while Redis fails, the ones before the breaker
	// opens included: REDIS_TIMEOUT plus slack for a loaded machine. A service without a
	// Redis deadline (go-redis's own is 3s) is far beyond it.
	redisWarmUpMax = redisTimeout + 800*time.Millisecond
	// databaseWarmUpMax is the same for DATABASE_TIMEOUT.
	databaseWarmUpMax = databaseTimeout + 800*time.Millisecond
	// databaseP95 is a fast 503 once the database breaker is open.
	databaseP95 = 200 * time.Millisecond
	// syncMaxBound bounds a synchronous refresh: at most one MAX timeout and the writes.
	syncMaxBound = maxTimeout + time.Second
	// eventually is the usual deadline for background work (a refresh landing or failing).
	eventually = 10 * time.Second
	// hold catches a late write after everything matched.
	hold = time.Second
	// recoverWithin bounds recovery after a lifted fault: the reference service's breaker
	// cooldown is 2s, generous slack admits other implementations and a loaded machine.
	recoverWithin = 15 * time.Second
)

// Rows returns the behaviour matrix, grouped and in report order. Each call builds fresh
// values, so callers may modify what they get.
func Rows() []Row {
	var rows []Row
	rows = append(rows, cacheRows()...)
	rows = append(rows, loadRows()...)
	rows = append(rows, maxRows()...)
	rows = append(rows, redisRows()...)
	rows = append(rows, refreshRows()...)
	rows = append(rows, raceRows()...)
	rows = append(rows, postgresRows()...)
	rows = append(rows, healthRows()...)
	rows = append(rows, recoveryRows()...)
	return rows
}

// Lookup returns the row with the id.
func Lookup(rows []Row, id string) (Row, bool) {
	for _, r := range rows {
		if r.ID == id {
			return r, true
		}
	}
	return Row{}, false
}

// seed builds the three chats for a cache state. STALE_AFTER is 1h and CACHE_TTL 24h.
func seed(cache CacheState) Seed {
	alpha := SeedChat{ID: alphaID, Name: "alpha", MaxChatID: alphaMax, MaxCount: 12}
	beta := SeedChat{ID: betaID, Name: "beta", MaxChatID: betaMax, MaxCount: 22}
	gamma := SeedChat{ID: gammaID, Name: "gamma", DB: Stored{Count: 30, Unknown: true}}
	switch cache {
	case CacheFresh:
		// alpha's database row is fresh too, beta's is stale: with Redis unreachable alpha
		// must not be refreshed and beta must be.
		alpha.DB = Stored{Count: 10, Age: 10 * time.Minute}
		alpha.Cache = &Stored{Count: 11, Age: 5 * time.Minute}
		beta.DB = Stored{Count: 20, Age: 2 * time.Hour}
		beta.Cache = &Stored{Count: 21, Age: 5 * time.Minute}
	case CacheStale:
		// The cache is stale but newer than the database, so it is what is served.
		alpha.DB = Stored{Count: 10, Age: 4 * time.Hour}
		alpha.Cache = &Stored{Count: 11, Age: 2 * time.Hour}
		beta.DB = Stored{Count: 20, Age: 5 * time.Hour}
		beta.Cache = &Stored{Count: 21, Age: 3 * time.Hour}
	case CacheCold:
		// No entries; alpha's database row is stale and beta's count was never observed,
		// so both must be refreshed.
		alpha.DB = Stored{Count: 10, Age: 2 * time.Hour}
		beta.DB = Stored{Count: 20, Unknown: true}
	}
	return Seed{Chats: []SeedChat{alpha, beta, gamma}}
}

func given(pg, rd, mx Fault, cache CacheState) Given {
	return Given{Postgres: pg, Redis: rd, MaxAPI: mx, Cache: cache, Seed: seed(cache)}
}

func up() Fault                         { return Fault{Kind: FaultUp} }
func down() Fault                       { return Fault{Kind: FaultDown} }
func faultOf(k FaultKind) Fault         { return Fault{Kind: k} }
func latency(d time.Duration) Fault     { return Fault{Kind: FaultLatency, Delay: d} }
func slow(d time.Duration) Fault        { return Fault{Kind: FaultSlow, Delay: d} }
func status(code int) Fault             { return Fault{Kind: FaultStatus, Status: code} }
func rateLimited(d time.Duration) Fault { return Fault{Kind: FaultRateLimited, RetryAfter: d} }

func list(repeat int) Request {
	return Request{Method: http.MethodGet, Path: "/chats/all", Repeat: repeat}
}

func refreshPath(id int64) string { return fmt.Sprintf("/chats/%d/participants/refresh", id) }

func labels(kv ...string) map[string]string {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func metric(name string, l map[string]string, c Count) MetricExpectation {
	return MetricExpectation{Name: name, Labels: l, Delta: c}
}

func refMetric(name string, l map[string]string, c Count) MetricExpectation {
	return MetricExpectation{Name: name, Labels: l, Delta: c, Reference: true}
}

func measured(m MetricExpectation) MetricExpectation { m.Measured = true; return m }

func logged(level, msg string, attrs map[string]string, c Count) LogExpectation {
	return LogExpectation{Level: level, Msg: msg, Attrs: attrs, Count: c}
}

func refLogged(level, msg string, attrs map[string]string, c Count) LogExpectation {
	return LogExpectation{Level: level, Msg: msg, Attrs: attrs, Count: c, Reference: true}
}

func chat(id int64, src Source, v Origin) ChatExpectation {
	return ChatExpectation{ID: id, Source: src, Value: v}
}

func maxCalls(maxChatID int64, c Count) MaxCallExpectation {
	return MaxCallExpectation{Endpoint: MaxChat, MaxChatID: maxChatID, Count: c}
}

func refMaxCalls(maxChatID int64, c Count) MaxCallExpectation {
	return MaxCallExpectation{Endpoint: MaxChat, MaxChatID: maxChatID, Count: c, Reference: true}
}

func gaugeAtLeast(name string, l map[string]string, v float64) GaugeExpectation {
	return GaugeExpectation{Name: name, Labels: l, Min: &v}
}

func gaugeAtMost(name string, l map[string]string, v float64) GaugeExpectation {
	return GaugeExpectation{Name: name, Labels: l, Max: &v}
}

func breakerClosed(d Dependency) GaugeExpectation {
	zero := 0.0
	return GaugeExpectation{Name: MetricBreakerState, Labels: labels("dependency", d.ServiceLabel()), Min: &zero, Max: &zero, Reference: true}
}

// stores expects want for every chat in both stores; set overrides single entries.
type storeSet []StoreExpectation

func storesAll(want StoreState) storeSet {
	var s storeSet
	for _, id := range []int64{alphaID, betaID, gammaID} {
		s = append(s, storeExpectation(id, StoreRedis, want, false))
		s = append(s, storeExpectation(id, StoreDatabase, want, false))
	}
	return s
}

func (s storeSet) set(id int64, st Store, want StoreState, reference bool) storeSet {
	for i := range s {
		if s[i].ChatID == id && s[i].Store == st {
			s[i] = storeExpectation(id, st, want, reference)
		}
	}
	return s
}

// storeExpectation expects want of one chat in one store; a Redis entry the row refreshes
// must expire after PARTICIPANTS_CACHE_TTL (the contract's Redis key). An entry that may or
// may not be refreshed, by timing alone, is left without, so a variant that breaks expiry
// is rejected on the same rows every run.
func storeExpectation(id int64, st Store, want StoreState, reference bool) StoreExpectation {
	e := StoreExpectation{ChatID: id, Store: st, Want: want, Reference: reference}
	if st == StoreRedis && want == StoreRefreshed {
		e.TTL = refreshedTTL()
	}
	return e
}

// refreshedTTL is what remains of the life of an entry written during a row: the whole
// PARTICIPANTS_CACHE_TTL but the row's own length.
func refreshedTTL() *DurationRange {
	return &DurationRange{Above: cacheTTL - ttlSlack, AtMost: cacheTTL}
}

// ttlSlack is longer than any row lasts.
const ttlSlack = 5 * time.Minute

// linkedRefreshed expects alpha and beta refreshed in both stores, gamma untouched.
func linkedRefreshed() storeSet {
	return storesAll(StoreUnchanged).
		set(alphaID, StoreRedis, StoreRefreshed, false).set(alphaID, StoreDatabase, StoreRefreshed, false).
		set(betaID, StoreRedis, StoreRefreshed, false).set(betaID, StoreDatabase, StoreRefreshed, false)
}

// quiet is what no row with healthy dependencies may show.
func quietMetrics() []MetricExpectation {
	return []MetricExpectation{
		metric(MetricCacheErrors, nil, None()),
		metric(MetricMaxErrors, nil, None()),
		metric(MetricFallback, nil, None()),
	}
}

func quietLogs() []LogExpectation {
	return []LogExpectation{
		logged(LevelWarn, LogFallback, nil, None()),
		logged(LevelError, "", nil, None()),
	}
}

func freshWithin() Staleness {
	return Staleness{Kind: StalenessBounded, Max: staleAfter,
		Note: "PARTICIPANTS_STALE_AFTER plus one background refresh: an entry older than that is served once more while its refresh runs"}
}

func lastKnownGood(why string) Staleness {
	return Staleness{Kind: StalenessUnbounded, Note: why}
}

func notServed(why string) Staleness { return Staleness{Kind: StalenessNotServed, Note: why} }

func alerts(a ...Alert) []Alert { return a }

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
}

func maxFailures() []maxFailure {
	// A list while MAX fails serves old data (ParticipantsDataStale) and, once the breaker
	// opens, answers from a fallback (ParticipantsFallbackRateHigh).
	dead := []Alert{AlertMaxAPIDown, AlertDataStale, AlertFallbackRateHigh}
	const waits = "each call waits MAX_API_TIMEOUT, so the breaker opens and fallbacks begin only seconds into the fault: " +
		"more than the replay's samples last"
	return []maxFailure{
		{slug: "max-down", fault: down(), reason: "connection", what: "MAX refuses connections", alerts: dead},
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
			notReplayed: []Alert{AlertFallbackRateHigh}, why: waits},
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
	for _, m := range maxFailures() {
		if m.slug == slug {
			return m
		}
	}
	panic("matrix: unknown MAX failure " + slug)
}

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
				Status: http.StatusOK,
				Chats: []ChatExpectation{chat(alphaID, SourceCache, OriginCache), chat(betaID, SourceCache, OriginCache),
					chat(gammaID, SourceDatabase, OriginDatabase)},
				Latency: LatencyBound{P95: singleBound, Max: singleBound},
				Metrics: append(quietMetrics(),
					refMetric(MetricHTTPRequests, labels("route", "/chats/all", "status", "200"), Exactly(1))),
				Gauges:   []GaugeExpectation{gaugeAtMost(MetricFreshness, nil, staleAfter.Seconds())},
				Logs:     quietLogs(),
				Stores:   storesAll(StoreUnchanged),
				MaxCalls: []MaxCallExpectation{maxCalls(0, None())},
				Within:   eventually, Hold: hold,
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
				Status: http.StatusOK,
				Chats: []ChatExpectation{chat(alphaID, SourceCache, OriginCache), chat(betaID, SourceCache, OriginCache),
					chat(gammaID, SourceDatabase, OriginDatabase)},
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
			ID: "redis-up.max-up.cache-cold", Group: GroupCache,
			Title: "Everything up, cache cold: database served, refreshed in the background",
			Description: "A cache miss is not a fallback: nothing is counted or logged as one. The database values " +
				"are served (beta's count was never observed, so its participants_updated_at is omitted) and " +
				"both linked chats are refreshed into the database and Redis.",
			Given:   given(up(), up(), up(), CacheCold),
			Request: list(1),
			Expected: Expected{
				Status: http.StatusOK,
				Chats: []ChatExpectation{chat(alphaID, SourceDatabase, OriginDatabase), chat(betaID, SourceDatabase, OriginDatabase),
					chat(gammaID, SourceDatabase, OriginDatabase)},
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
		logged(LevelError, "", nil, AtLeast(1)),
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
		Status: http.StatusOK,
		Chats: []ChatExpectation{chat(alphaID, SourceCache, OriginCache), chat(betaID, SourceCache, OriginCache),
			chat(gammaID, SourceDatabase, OriginDatabase)},
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
		if f.slug == "max-down" {
			desc = "The second row of the original analysis. " + desc
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
			Status: http.StatusOK,
			Chats: []ChatExpectation{chat(alphaID, SourceCache, OriginCache), chat(betaID, SourceCache, OriginCache),
				chat(gammaID, SourceDatabase, OriginDatabase)},
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
				logged(LevelError, "", nil, AtLeast(1)),
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
	return rows
}

// redisFailure is one way Redis fails.
type redisFailure struct {
	slug  string
	fault Fault
	what  string
	// writeMayLand is true when a cache write can still reach Redis after the client gave up.
	writeMayLand bool
}

func redisFailures() []redisFailure {
	return []redisFailure{
		{slug: "redis-down", fault: down(), what: "Redis refuses connections"},
		{slug: "redis-blackhole", fault: faultOf(FaultBlackhole), what: "Redis accepts connections and never answers"},
		{slug: "redis-slow", fault: latency(time.Second), what: "Redis answers after 1s, beyond REDIS_TIMEOUT", writeMayLand: true},
		{slug: "redis-reset", fault: faultOf(FaultReset), what: "Redis resets every connection"},
		{slug: "redis-paused", fault: faultOf(FaultPaused), what: "the Redis container is paused", writeMayLand: true},
	}
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
	if f.slug == "redis-down" {
		if maxUp {
			desc = "The third row of the original analysis. " + desc
		} else {
			desc = "The fourth row of the original analysis. " + desc
		}
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
			Status: http.StatusOK,
			Chats: []ChatExpectation{chat(alphaID, SourceDatabase, OriginDatabase), chat(betaID, SourceDatabase, betaValue),
				chat(gammaID, SourceDatabase, OriginDatabase)},
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
			Status: http.StatusOK,
			Chats: []ChatExpectation{chat(alphaID, SourceDatabase, OriginDatabase), chat(betaID, SourceDatabase, OriginDatabase),
				chat(gammaID, SourceDatabase, OriginDatabase)},
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
		if f.slug != "redis-paused" {
			// A paused container behaves like a blackhole to the service; one row is enough.
			rows = append(rows, redisUnreachable(f, false))
		}
	}
	rows = append(rows, redisRestartedEmpty(true), redisRestartedEmpty(false))
	return rows
}

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
		seen: true, alerts: alerts(AlertFallbackRateHigh)})
	for _, f := range fails {
		calls := []MaxCallExpectation{maxCalls(alphaMax, Exactly(1)), maxCalls(betaMax, None())}
		if !f.seen {
			calls[0] = maxCalls(alphaMax, None())
		}
		desc := fmt.Sprintf("%s. The refresh fails: the database's last known good value is answered (200, source database), "+
			"counted and logged once as a max_api_unavailable fallback (chat_count 1, fallback_source database), "+
			"the MAX error counted (reason %s) and logged at ERROR; nothing is written.", f.what, f.reason)
		if f.slug == "max-404" {
			desc += " A 404 concerns one chat, not MAX's health, so MAX is not reported down; only the share of " +
				"answers from a fallback shows."
		}
		// A POST serves no list, so the freshness gauge (and ParticipantsDataStale) does not move;
		// every failed refresh answers from the database, a fallback.
		alertList := slices.DeleteFunc(slices.Clone(f.alerts), func(a Alert) bool { return a == AlertDataStale })
		notReplayed, why := f.notReplayed, f.why
		if f.slug == "max-slow" {
			why = "each refresh waits MAX_API_TIMEOUT, so few are answered while the replay samples"
		}
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
					logged(LevelError, "", nil, AtLeast(1)),
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
	untouched := func() Expected {
		return Expected{
			Latency:  LatencyBound{P95: singleBound, Max: singleBound},
			Metrics:  quietMetrics(),
			Logs:     quietLogs(),
			Stores:   storesAll(StoreUnchanged),
			MaxCalls: []MaxCallExpectation{maxCalls(0, None())},
			Within:   2 * time.Second, Hold: hold,
		}
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

// databaseUnavailable is what list and get answer while PostgreSQL fails.
func databaseUnavailable(req Request) Expected {
	route := "/chats/all"
	if req.Path != "/chats/all" {
		route = "/chats/{id}"
	}
	return Expected{
		Status:    http.StatusServiceUnavailable,
		ErrorCode: "database_unavailable",
		Headers: []HeaderExpectation{{Name: RetryAfterHeader, Present: true},
			{Name: RetryAfterHeader, Present: true, Value: "1", Reference: true}},
		Latency:   LatencyBound{P95: databaseP95, Max: databaseMax},
		WarmUpMax: warmUpBound(req, databaseWarmUpMax),
		Metrics: []MetricExpectation{
			metric(MetricMaxErrors, nil, None()),
			refMetric(MetricFallback, nil, None()),
			measured(refMetric(MetricHTTPRequests, labels("route", route, "status", "503"), Exactly(req.Repeat))),
		},
		Logs: []LogExpectation{
			refLogged(LevelWarn, LogFallback, nil, None()),
			{Level: LevelInfo, Msg: LogHTTPRequest, Attrs: labels("route", route, "status", "503"), Count: AtLeast(req.Repeat),
				Measured: true, Reference: true},
		},
		Stores:   storesAll(StoreUnchanged),
		MaxCalls: []MaxCallExpectation{maxCalls(0, None())},
		Health: &HealthExpectation{Status: http.StatusServiceUnavailable, Service: HealthUnhealthy,
			Dependencies: map[Dependency]string{Postgres: HealthUnhealthy, Redis: HealthHealthy}},
		Probes: []ProbeExpectation{{Method: http.MethodGet, Path: "/readyz", Status: http.StatusServiceUnavailable},
			{Method: http.MethodGet, Path: "/livez", Status: http.StatusOK}},
		Within: eventually,
	}
}

func postgresRows() []Row {
	get := Request{Method: http.MethodGet, Path: fmt.Sprintf("/chats/%d", alphaID), Repeat: 10}
	type pg struct {
		id, what string
		fault    Fault
		req      Request
	}
	slowList := list(10)
	slowList.WarmUp = 6
	cases := []pg{
		{"postgres-down.list", "PostgreSQL refuses connections", down(), list(10)},
		{"postgres-down.get", "PostgreSQL refuses connections", down(), get},
		{"postgres-slow.list", "PostgreSQL answers after 3s, beyond DATABASE_TIMEOUT", latency(3 * time.Second), slowList},
		{"postgres-blackhole.list", "PostgreSQL accepts connections and never answers", faultOf(FaultBlackhole), slowList},
	}
	var rows []Row
	for _, c := range cases {
		desc := fmt.Sprintf("%s. %s answers 503 database_unavailable with Retry-After, quickly: within DATABASE_TIMEOUT, "+
			"and far below it once repeated failures short-circuit the database. /health/detailed and /readyz answer 503, "+
			"/livez 200: the process is alive and recovers by itself. No participant data is served, so no fallback is counted.",
			c.what, c.req.Method+" "+c.req.Path)
		if c.req.WarmUp > 0 {
			desc += fmt.Sprintf(" %d warm-up requests, each paying the deadline, open the breaker first.", c.req.WarmUp)
		}
		rows = append(rows, Row{
			ID: c.id, Group: GroupPostgres,
			Title:       c.what + ": fast 503 with Retry-After, not ready, alive",
			Description: desc,
			Given:       given(c.fault, up(), up(), CacheFresh),
			Request:     c.req,
			Expected:    databaseUnavailable(c.req),
			SLA:         SLA{Staleness: notServed("requests fail with 503 until the database answers"), Alerts: alerts(AlertDatabaseUnavailable)},
		})
	}
	return rows
}

func healthRows() []Row {
	type hc struct {
		slug       string
		what       string
		pg, rd, mx Fault
		status     int
		service    string
		deps       map[Dependency]string
		alerts     []Alert
		// notReplayed alerts cannot be shown by the replay, for why.
		notReplayed []Alert
		why         string
	}
	h, u := HealthHealthy, HealthUnhealthy
	cases := []hc{
		{"all-up", "everything up", up(), up(), up(), 200, HealthHealthy, map[Dependency]string{Postgres: h, Redis: h, MaxAPI: h}, alerts(AlertNone), nil, ""},
		{"redis-down", "Redis refuses connections", up(), down(), up(), 200, HealthDegraded, map[Dependency]string{Postgres: h, Redis: u, MaxAPI: h}, alerts(AlertCacheDown), nil, ""},
		{"redis-blackhole", "Redis never answers", up(), faultOf(FaultBlackhole), up(), 200, HealthDegraded, map[Dependency]string{Postgres: h, Redis: u, MaxAPI: h}, alerts(AlertCacheDown), nil, ""},
		{"max-down", "MAX refuses connections", up(), up(), down(), 200, HealthDegraded, map[Dependency]string{Postgres: h, Redis: h, MaxAPI: u}, alerts(AlertMaxAPIDown), nil, ""},
		{"max-hang", "MAX never answers", up(), up(), faultOf(FaultHang), 200, HealthDegraded, map[Dependency]string{Postgres: h, Redis: h, MaxAPI: u}, alerts(AlertMaxAPIDown),
			alerts(AlertMaxAPIDown), "without chat traffic the service learns of a hanging MAX only from its health probe, " +
				"MAX_HEALTH_INTERVAL after its last call plus MAX_API_TIMEOUT: longer than the replay's samples last"},
		{"max-401", "MAX rejects the token", up(), up(), faultOf(FaultUnauthorized), 200, HealthDegraded, map[Dependency]string{Postgres: h, Redis: h, MaxAPI: u},
			alerts(AlertMaxAPIDown, AlertMaxAPIUnauthorized), alerts(AlertMaxAPIUnauthorized),
			"without chat traffic the only 401s are the health probe's, one per MAX_HEALTH_INTERVAL: longer than the alert's 2m window once compressed"},
		{"postgres-down", "PostgreSQL refuses connections", down(), up(), up(), 503, HealthUnhealthy, map[Dependency]string{Postgres: u, Redis: h, MaxAPI: h}, alerts(AlertDatabaseUnavailable), nil, ""},
		{"postgres-slow", "PostgreSQL answers after 3s", latency(3 * time.Second), up(), up(), 503, HealthUnhealthy, map[Dependency]string{Postgres: u, Redis: h, MaxAPI: h}, alerts(AlertDatabaseUnavailable), nil, ""},
		{"all-down", "every dependency refuses connections", down(), down(), down(), 503, HealthUnhealthy, map[Dependency]string{Postgres: u, Redis: u, MaxAPI: u},
			alerts(AlertDatabaseUnavailable, AlertCacheDown, AlertMaxAPIDown), nil, ""},
	}
	var rows []Row
	for _, c := range cases {
		ready := http.StatusOK
		if c.pg.Active() {
			ready = http.StatusServiceUnavailable
		}
		desc := fmt.Sprintf("With %s, /health/detailed settles on service %q and the per-dependency states below, answering %d "+
			"(503 only when the database is unhealthy). It never waits for a failing dependency beyond its deadline and, however "+
			"often it is asked, calls MAX's /me at most once per MAX_HEALTH_INTERVAL: ten requests in a row cause at most two calls. "+
			"/readyz follows the database, /livez is always 200.", c.what, c.service, c.status)
		if c.mx.Active() {
			desc += " max_api may read unknown until the first probe; it must settle on unhealthy."
		}
		rows = append(rows, Row{
			ID: "health." + c.slug, Group: GroupHealth,
			Title:       "/health/detailed, " + c.what + ": " + c.service,
			Description: desc,
			Given:       given(c.pg, c.rd, c.mx, CacheFresh),
			Request:     Request{Method: http.MethodGet, Path: "/health/detailed", Repeat: 10},
			Expected: Expected{
				Status:  c.status,
				Latency: LatencyBound{P95: singleBound, Max: singleBound},
				Metrics: []MetricExpectation{
					metric(MetricFallback, nil, None()),
					measured(refMetric(MetricHTTPRequests, labels("route", "/health/detailed", "status", strconv.Itoa(c.status)), Exactly(10))),
				},
				Logs:   []LogExpectation{logged(LevelWarn, LogFallback, nil, None())},
				Stores: storesAll(StoreUnchanged),
				MaxCalls: []MaxCallExpectation{maxCalls(0, None()),
					{Endpoint: MaxMe, Count: AtMost(2), Measured: true}},
				Health: &HealthExpectation{Status: c.status, Service: c.service, Dependencies: c.deps},
				Probes: []ProbeExpectation{{Method: http.MethodGet, Path: "/readyz", Status: ready},
					{Method: http.MethodGet, Path: "/livez", Status: http.StatusOK}},
				Within: eventually,
			},
			SLA: SLA{Staleness: notServed("the health endpoint serves no participant data"), Alerts: c.alerts,
				NotReplayed: c.notReplayed, NotReplayedWhy: c.why},
		})
	}
	return rows
}

func recoveryRows() []Row {
	var rows []Row
	for _, slug := range []string{"redis-down", "redis-blackhole"} {
		var f redisFailure
		for _, rf := range redisFailures() {
			if rf.slug == slug {
				f = rf
			}
		}
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
				Status: http.StatusOK,
				Chats: []ChatExpectation{chat(alphaID, SourceDatabase, OriginDatabase), chat(betaID, SourceDatabase, OriginDatabaseOrMax),
					chat(gammaID, SourceDatabase, OriginDatabase)},
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
					Chats: []ChatExpectation{chat(alphaID, SourceCache, OriginCache), chat(betaID, SourceDatabase, OriginMax),
						chat(gammaID, SourceDatabase, OriginDatabase)},
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
			Status: http.StatusOK,
			Chats: []ChatExpectation{chat(alphaID, SourceDatabase, OriginDatabase), chat(betaID, SourceDatabase, OriginDatabase),
				chat(gammaID, SourceDatabase, OriginDatabase)},
			Latency: LatencyBound{P95: singleBound, Max: singleBound},
			Metrics: []MetricExpectation{
				metric(MetricFallback, labels("reason", FallbackCache), AtMost(1)),
				metric(MetricMaxErrors, nil, None()),
			},
			Logs:     []LogExpectation{logged(LevelError, "", nil, None())},
			Stores:   linkedRefreshed(),
			MaxCalls: []MaxCallExpectation{maxCalls(alphaMax, AtLeast(1)), maxCalls(betaMax, AtLeast(1))},
			Recovery: &Recovery{Within: recoverWithin, Status: http.StatusOK,
				Chats: []ChatExpectation{chat(alphaID, SourceCache, OriginMax), chat(betaID, SourceCache, OriginMax),
					chat(gammaID, SourceDatabase, OriginDatabase)}},
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
				Status: http.StatusOK,
				Chats: []ChatExpectation{chat(alphaID, SourceCache, OriginCache), chat(betaID, SourceCache, OriginCache),
					chat(gammaID, SourceDatabase, OriginDatabase)},
				Latency:   LatencyBound{P95: noWaitBound, Max: noWaitBound},
				WarmUpMax: warmUpBound(req, noWaitBound),
				Metrics: []MetricExpectation{
					metric(MetricMaxErrors, nil, AtLeast(1)),
					refMetric(MetricMaxErrors, labels("reason", f.reason), AtLeast(1)),
					metric(MetricCacheErrors, nil, None()),
				},
				Logs:     []LogExpectation{logged(LevelError, "", nil, AtLeast(1))},
				Stores:   linkedRefreshed(),
				MaxCalls: calls,
				MaxPause: retryAfterPause(f.fault),
				Recovery: &Recovery{Within: recoverWithin, Status: http.StatusOK,
					Chats: []ChatExpectation{chat(alphaID, SourceCache, OriginMax), chat(betaID, SourceCache, OriginMax),
						chat(gammaID, SourceDatabase, OriginDatabase)},
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
		Chats: []ChatExpectation{chat(alphaID, SourceCache, OriginCache), chat(betaID, SourceCache, OriginCache),
			chat(gammaID, SourceDatabase, OriginDatabase)},
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
