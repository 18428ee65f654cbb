package matrix

import (
	"net/http"
	"time"

	"github.com/faultline/faultline/contract"
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

// RecoverWithin bounds a service's recovery after a fault is lifted, as the recovery rows
// (and docs/SLA.md) hold it.
const RecoverWithin = recoverWithin

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
	rows = append(rows, quotaRows()...)
	rows = append(rows, replicaRows()...)
	rows = append(rows, postgresRows()...)
	rows = append(rows, healthRows()...)
	rows = append(rows, recoveryRows()...)
	rows = append(rows, apiRows()...)
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
	return Request{Method: http.MethodGet, Path: contract.PathList, Repeat: repeat}
}

func refreshPath(id int64) string { return contract.PathRefresh(id) }

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

// listedChats are the chats a list of the seeded chats answers: alpha and beta (linked to
// MAX) as given, gamma (not linked) always from the database.
func listedChats(alphaSrc Source, alphaV Origin, betaSrc Source, betaV Origin) []ChatExpectation {
	return []ChatExpectation{chat(alphaID, alphaSrc, alphaV), chat(betaID, betaSrc, betaV), chat(gammaID, SourceDatabase, OriginDatabase)}
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

// untouched is a request that touches nothing: quick, nothing counted, logged, written or
// sent to MAX. Rows set its status.
func untouched() Expected {
	return Expected{
		Latency:  LatencyBound{P95: singleBound, Max: singleBound},
		Metrics:  quietMetrics(),
		Logs:     quietLogs(),
		Stores:   storesAll(StoreUnchanged),
		MaxCalls: []MaxCallExpectation{maxCalls(0, None())},
		Within:   2 * time.Second, Hold: hold,
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

// bound is a Count for the optional bounds of Expected.
func bound(c Count) *Count { return &c }
