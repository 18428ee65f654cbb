package selftest

import (
	"cmp"
	"slices"

	"github.com/faultline/faultline/matrix"
)

// Variant is one deliberately broken service and the rows the gate must reject for it.
type Variant struct {
	// Name is label-safe; it names the output directory out/selftest/<Name>/.
	Name string
	// Breaks says what is wrong with the variant, in one sentence.
	Breaks string
	// Why says why exactly the rows of Reject catch it and the nearest other rows do not.
	Why string
	// Patch is the file under mutants/ applied to a copy of service/; empty for a variant
	// made by Env alone.
	Patch string
	// Env holds KEY=VALUE settings for every start of the service in the run, after the
	// matrix's base environment.
	Env []string
	// Reject is every row the gate must reject, and no other.
	Reject []string
	// Watch are rows nearest to the change that must still pass: they prove "only those"
	// when the run is a sample, and pin down known blind spots of the matrix (rows that
	// should catch the bug and do not), so closing one shows up here. They run in every mode.
	Watch []string
	// MayReject are rows the bug can also fail by timing alone (a side effect that makes a
	// bound hold or not from run to run): neither required nor refused. Each says why.
	MayReject []string
	// Fields are the report columns the bug shows in: each rejected row must have a
	// mismatch in at least one of them, so a row failing for an unrelated reason (a flaky
	// bound) is not mistaken for the harness catching the bug. For a contract-only variant
	// they are the columns its differences show in.
	Fields []matrix.Field
	// ContractOnly runs the variant as another implementation of the contract would be run:
	// MATRIX_CONTRACT_ONLY=1, the rows labelled scope:reference left out, and the contract
	// gate (matrix gate -contract-only) in place of the reference one.
	ContractOnly bool
	// BothGates holds the run to the contract gate as well: the same observations, judged
	// as another implementation's (matrix.Rejudge), must be rejected on exactly the rows of
	// Reject outside scope:reference, in Fields. For bugs against the contract itself.
	BothGates bool
	// Differs (contract-only variants) is every row of the run where the full judgement of
	// the same observations finds differences from the reference service, and no other; each
	// difference must be a reference-only expectation. It proves the variant really departs
	// from the reference service where the contract allows it, and the contract gate lets it.
	Differs []string
}

// Mode is how v's rows are judged.
func (v Variant) Mode() matrix.Mode { return matrix.ModeOf(v.ContractOnly) }

// Eligible reports whether row r is in the scope of v's runs.
func (v Variant) Eligible(r matrix.Row) bool {
	return !v.ContractOnly || !r.Reference
}

// The Redis rows where a list meets a failing cache: the breaker rows of the redis group and
// the two recovery rows that fault Redis before lifting it.
var redisUnreachable = []string{
	"redis-down.max-up.cache-fresh",
	"redis-down.max-up.cache-fresh.burst",
	"redis-down.max-down.cache-fresh",
	"redis-blackhole.max-up.cache-fresh",
	"redis-blackhole.max-down.cache-fresh",
	"redis-slow.max-up.cache-fresh",
	"redis-slow.max-down.cache-fresh",
	"redis-reset.max-up.cache-fresh",
	"redis-reset.max-down.cache-fresh",
	"redis-paused.max-up.cache-fresh",
	"recovery.redis-down",
	"recovery.redis-blackhole",
}

// The rows of a list over a stale cache while MAX fails without being short-circuited.
var maxFailing = []string{
	"redis-up.max-down.cache-stale",
	"redis-up.max-503.cache-stale",
	"redis-up.max-500.cache-stale",
	"redis-up.max-429.cache-stale",
	"redis-up.max-401.cache-stale",
	"redis-up.max-slow.cache-stale",
	"redis-up.max-hang.cache-stale",
	"redis-up.max-malformed.cache-stale",
	"redis-up.max-wrong-types.cache-stale",
	"redis-up.max-truncated.cache-stale",
	"redis-up.max-oversized.cache-stale",
}

// The POST refresh rows where the call to MAX fails.
var refreshFailing = []string{
	"refresh.max-down",
	"refresh.max-503",
	"refresh.max-429",
	"refresh.max-401",
	"refresh.max-slow",
	"refresh.max-malformed",
	"refresh.max-404",
}

func join(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// Variants returns every variant, in the order the driver runs them.
func Variants() []Variant {
	return []Variant{
		{
			Name:   "strict-mode",
			Breaks: "the reference service with PARTICIPANTS_CACHE_ERROR_POLICY=fail: a cache error fails the list with 500 instead of serving the database",
			Why: "Only rows where a list meets an unreadable cache see the policy: the Redis breaker rows and the Redis recovery rows. " +
				"A Redis restarted empty answers again before the list, health checks read no participants, and POST refresh does not read the cache.",
			Env:    []string{"PARTICIPANTS_CACHE_ERROR_POLICY=fail"},
			Reject: join(redisUnreachable, []string{"replicas.redis-down.max-up.many-chats"}),
			Watch: []string{"redis-restarted-empty.max-up.cache-fresh", "redis-restarted-empty.max-down.cache-fresh",
				"recovery.redis-restarted-empty", "health.redis-down", "health.redis-blackhole", "refresh.max-up"},
			Fields: []matrix.Field{matrix.FieldStatus},
			// A list that answers 200 from the database while Redis fails is the contract's
			// first promise, not a reference detail: the original failure mode must not pass
			// the contract gate either.
			BothGates: true,
		},
		{
			Name: "foreign-dialect",
			Breaks: "nothing the contract promises: another implementation's dialect, answering Retry-After: 3, logging " +
				"breaker transitions as \"Breaker transition\" and requests as \"Request served\"",
			Why: "Gated as another implementation it must pass every row: the contract asks for a Retry-After header, not " +
				"its value, and names only the fallback and MAX-failure log events. Judged fully, the same observations " +
				"differ from the reference service exactly on the rows that expect its Retry-After value, breaker log " +
				"or request log.",
			Patch:        "foreign-dialect.patch",
			ContractOnly: true,
			Differs: []string{"redis-up.max-short-circuited.cache-stale", "redis-up.max-short-circuited.cache-stale.burst",
				"postgres-down.list", "postgres-down.list.burst", "postgres-down.get",
				"postgres-slow.list", "postgres-blackhole.list", "recovery.redis-down", "recovery.redis-blackhole",
				"recovery.postgres-down"},
			Watch:  []string{"health.postgres-down", "redis-down.max-up.cache-fresh", "recovery.max-503"},
			Fields: []matrix.Field{matrix.FieldHeaders, matrix.FieldLogs},
		},
		{
			Name:   "redis-no-deadline",
			Breaks: "the cache ignores REDIS_TIMEOUT: no per-call deadline, go-redis's defaults (3s reads and writes, 5s dials) instead",
			Why: "A Redis slower than REDIS_TIMEOUT but faster than 3s answers, and every list waits for it: the slow-Redis rows " +
				"fail on latency (and serve the cache instead of falling back). A Redis that never answers (blackhole, paused) " +
				"costs each request that opens the breaker 3s instead of REDIS_TIMEOUT, which the rows' bound on warm-up " +
				"requests catches. A refused or reset connection fails at once, deadline or not, and /health/detailed keeps " +
				"its own ping deadline, so those rows pass.",
			Patch: "redis-no-deadline.patch",
			Reject: []string{"redis-slow.max-up.cache-fresh", "redis-slow.max-down.cache-fresh",
				"redis-blackhole.max-up.cache-fresh", "redis-blackhole.max-down.cache-fresh", "redis-paused.max-up.cache-fresh",
				"recovery.redis-blackhole"},
			Watch: []string{"redis-down.max-up.cache-fresh", "redis-reset.max-up.cache-fresh", "health.redis-blackhole",
				"recovery.redis-down"},
			Fields: []matrix.Field{matrix.FieldLatency},
		},
		{
			Name:   "failed-refresh-overwrites",
			Breaks: "a refresh that MAX fails writes a zero count, timestamped now, to the database and Redis",
			Why: "Every row with a MAX call that fails (not refused by the breaker) expects nothing overwritten: the MAX failure rows, " +
				"the short-circuited row's warm-up, the Redis rows with MAX down (beta is stale), Redis restarted empty with MAX down, " +
				"the failing POST refreshes, the MAX recovery rows, whose fresh zero entries are never refreshed again, and the " +
				"row of chats MAX answers 404 for.",
			Patch: "failed-refresh-overwrites.patch",
			Reject: join(maxFailing, []string{"redis-up.max-short-circuited.cache-stale", "redis-up.max-short-circuited.cache-stale.burst",
				"redis-down.max-down.cache-fresh", "redis-blackhole.max-down.cache-fresh", "redis-slow.max-down.cache-fresh",
				"redis-reset.max-down.cache-fresh", "redis-restarted-empty.max-down.cache-fresh"},
				refreshFailing, []string{"recovery.max-down", "recovery.max-503", "recovery.max-429",
					"redis-up.max-404.cache-stale.backoff", "replicas.max-404-chat.cache-stale.backoff",
					"replicas.max-429-once.cache-stale"}),
			Watch: []string{"redis-up.max-up.cache-stale", "refresh.max-up", "health.max-down", "redis-down.max-up.cache-fresh"},
			// Where warm-up requests or a first list let the zero land before the measured
			// ones, it is served too: the chats (or recovered chats) show it at once, and the
			// row is decided without waiting for the stores.
			Fields: []matrix.Field{matrix.FieldStores, matrix.FieldChats, matrix.FieldRecovery},
		},
		{
			Name:   "cache-labelled-database",
			Breaks: "chats served from a Redis entry are labelled participants_source database instead of cache",
			Why: "Every row that expects a cache source, during the row or after recovery, catches it; rows that serve only the " +
				"database (cold cache, Redis failing, Redis restarted empty) or MAX (POST refresh) do not.",
			Patch: "cache-labelled-database.patch",
			Reject: join([]string{"redis-up.max-up.cache-fresh", "redis-up.max-up.cache-fresh.get", "redis-up.max-up.cache-stale",
				"redis-up.max-up.cache-corrupt", "api.list.page"}, maxFailing,
				[]string{"redis-up.max-short-circuited.cache-stale", "redis-up.max-short-circuited.cache-stale.burst", "recovery.redis-down", "recovery.redis-blackhole",
					"recovery.redis-restarted-empty", "recovery.max-down", "recovery.max-503", "recovery.max-429", "recovery.postgres-down",
					"redis-up.max-404.cache-stale.backoff", "redis-up.max-up.cache-stale.backed-off-elsewhere",
					"redis-up.max-up.cache-from-a-fast-clock", "redis-up.max-paused-elsewhere.cache-stale",
					"replicas.max-up.cache-stale.many-chats", "replicas.max-429-once.cache-stale",
					"replicas.max-404-chat.cache-stale.backoff", "replicas.one-killed.max-up.many-chats"}),
			Watch: []string{"redis-up.max-up.cache-cold", "redis-down.max-up.cache-fresh", "redis-restarted-empty.max-up.cache-fresh",
				"refresh.max-up"},
			Fields: []matrix.Field{matrix.FieldChats, matrix.FieldRecovery},
		},
		{
			Name:   "cache-fallback-not-counted",
			Breaks: "participants_fallback_usage_total{reason=\"cache_unavailable\"} is not incremented when the cache fails",
			Why: "The Redis breaker rows and the Redis recovery rows expect one cache_unavailable fallback per measured request; " +
				"the restarted-empty rows allow none, and the max_api_unavailable fallbacks are untouched.",
			Patch:  "cache-fallback-not-counted.patch",
			Reject: join(redisUnreachable, []string{"replicas.redis-down.max-up.many-chats"}),
			Watch: []string{"redis-restarted-empty.max-up.cache-fresh", "recovery.redis-restarted-empty", "refresh.max-503",
				"redis-up.max-short-circuited.cache-stale"},
			Fields: []matrix.Field{matrix.FieldMetrics},
		},
		{
			Name:   "database-down-500",
			Breaks: "database_unavailable is answered 500 without Retry-After instead of 503 with Retry-After",
			Why: "Every list, get or refresh while PostgreSQL fails expects 503 and Retry-After; /readyz and /health/detailed set " +
				"their own status and are unaffected.",
			Patch: "database-down-500.patch",
			Reject: []string{"refresh.postgres-down", "postgres-down.list", "postgres-down.list.burst", "postgres-down.get",
				"postgres-slow.list", "postgres-blackhole.list", "recovery.postgres-down"},
			Watch:  []string{"health.postgres-down", "health.postgres-slow", "health.all-down"},
			Fields: []matrix.Field{matrix.FieldStatus, matrix.FieldHeaders},
		},
		{
			Name:   "health-ignores-redis",
			Breaks: "/health/detailed reports the service healthy while Redis is unhealthy",
			Why: "Only the health rows with Redis failing and everything else up expect degraded; with the database down the " +
				"service is unhealthy either way.",
			Patch:  "health-ignores-redis.patch",
			Reject: []string{"health.redis-down", "health.redis-blackhole"},
			Watch:  []string{"health.all-up", "health.max-down", "health.all-down"},
			Fields: []matrix.Field{matrix.FieldHealth},
		},
		{
			Name:   "redis-no-breaker",
			Breaks: "the Redis circuit breaker never opens, so a hanging Redis costs every request REDIS_TIMEOUT",
			Why: "Rows where Redis hangs (blackhole, slow, paused) exceed the short-circuit latency bound; the Redis recovery rows " +
				"expect the breaker to open and close. A refused or reset connection fails fast without a breaker. Replicas " +
				"fall back to their own share of the MAX budget only once Redis is known to be down (its breaker open): a " +
				"reservation that merely failed is taken for a slow Redis whose budget the others still spend, so with Redis " +
				"down and no breaker the replicas row makes no MAX call at all.",
			Patch: "redis-no-breaker.patch",
			Reject: []string{"redis-blackhole.max-up.cache-fresh", "redis-blackhole.max-down.cache-fresh",
				"redis-slow.max-up.cache-fresh", "redis-slow.max-down.cache-fresh", "redis-paused.max-up.cache-fresh",
				"recovery.redis-down", "recovery.redis-blackhole", "replicas.redis-down.max-up.many-chats"},
			Watch: []string{"redis-down.max-up.cache-fresh", "redis-reset.max-up.cache-fresh", "health.redis-blackhole"},
			// Without a breaker, a refresh still running when Redis comes back writes its entry
			// there too, so the recovered list may serve beta from the cache: a recovery that is
			// the bug's as much as the missing breaker log is.
			Fields: []matrix.Field{matrix.FieldLatency, matrix.FieldLogs, matrix.FieldRecovery},
		},
		{
			Name:   "max-no-breaker",
			Breaks: "the MAX circuit breaker never opens, so a failing MAX is called for every stale chat",
			Why: "Only the short-circuited row expects MAX left alone after repeated failures; the recovery rows pass without a " +
				"breaker because MAX is called again as soon as it is back.",
			Patch:  "max-no-breaker.patch",
			Reject: []string{"redis-up.max-short-circuited.cache-stale", "redis-up.max-short-circuited.cache-stale.burst"},
			Watch:  []string{"redis-up.max-503.cache-stale", "recovery.max-503", "recovery.max-down"},
			Fields: []matrix.Field{matrix.FieldMaxCalls, matrix.FieldMetrics, matrix.FieldLogs},
		},
		{
			Name:   "cache-never-expires",
			Breaks: "refreshed cache entries are written without an expiry, so Redis keeps every count for ever",
			Why: "Every row that refreshes a chat into Redis reads what remains of the entry's life; rows that only " +
				"read the cache, and rows where a refresh lands or not by timing alone, do not.",
			Patch: "cache-never-expires.patch",
			Reject: []string{"redis-up.max-up.cache-stale", "redis-up.max-up.cache-cold", "redis-up.max-up.cache-cold.many-chats",
				"redis-up.max-up.cache-cold.newer-in-database", "redis-up.max-up.cache-corrupt",
				"redis-restarted-empty.max-up.cache-fresh", "refresh.max-up", "recovery.redis-restarted-empty",
				"recovery.max-down", "recovery.max-503", "recovery.max-429",
				"redis-up.max-up.cache-stale.backed-off-elsewhere", "redis-up.max-up.cache-from-a-fast-clock",
				"replicas.max-up.cache-stale.many-chats", "replicas.max-404-chat.cache-stale.backoff",
				"replicas.refresh-flood.max-up", "replicas.one-killed.max-up.many-chats"},
			Watch:  []string{"redis-up.max-up.cache-fresh", "redis-slow.max-up.cache-fresh", "recovery.redis-down"},
			Fields: []matrix.Field{matrix.FieldStores},
		},
		{
			Name:   "list-leaks-goroutine",
			Breaks: "every list leaves a goroutine behind: a watcher whose channel is never closed",
			Why: "Only the burst rows read the service's goroutines over hundreds of lists; a row of a few requests " +
				"leaks a few, within the churn any row allows.",
			Patch: "list-leaks-goroutine.patch",
			Reject: []string{"redis-down.max-up.cache-fresh.burst", "redis-up.max-short-circuited.cache-stale.burst",
				"postgres-down.list.burst"},
			Watch:  []string{"redis-down.max-up.cache-fresh", "postgres-down.list", "redis-up.max-up.cache-fresh"},
			Fields: []matrix.Field{matrix.FieldResources},
		},
		{
			Name:   "cache-overwrites-newer",
			Breaks: "a refresh writes Redis unconditionally, replacing a newer entry (another replica's) with its older count",
			Why: "Only the racing-writers row has a store holding a newer observation than the refresh brings; everywhere " +
				"else the refresh's count is the newest, and writing it is right.",
			Patch:  "cache-overwrites-newer.patch",
			Reject: []string{"refresh.newer-in-stores"},
			Watch:  []string{"refresh.max-up", "redis-up.max-up.cache-stale", "redis-up.max-up.cache-cold"},
			Fields: []matrix.Field{matrix.FieldStores},
		},
		{
			Name:   "max-no-rate-limit",
			Breaks: "the MAX rate limiter does not limit, so background refreshes call MAX as fast as the workers go",
			Why: "Only the row with sixty chats due at once can outrun MAX's 30 calls a second (the fake MAX refuses " +
				"the excess with 429), and only the row whose budget other replicas have spent needs a limit to refuse " +
				"a call; three chats stay below any limit.",
			Patch: "max-no-rate-limit.patch",
			Reject: []string{"redis-up.max-up.cache-cold.many-chats", "refresh.quota-spent-elsewhere",
				"replicas.max-up.cache-stale.many-chats", "replicas.redis-down.max-up.many-chats", "replicas.refresh-flood.max-up",
				"replicas.one-killed.max-up.many-chats"},
			Watch: []string{"redis-up.max-up.cache-cold", "redis-up.max-up.cache-stale", "recovery.max-429",
				"replicas.max-404-chat.cache-stale.backoff"},
			Fields: []matrix.Field{matrix.FieldChats, matrix.FieldMaxCalls},
		},
		{
			Name:   "limit-not-validated",
			Breaks: "a list limit out of range (0, or over 1000) falls back to the default instead of a 400",
			Why: "Only the row that sends limit=0 sees it (§http.list); the page row's limit is valid. A contract bug, " +
				"so the contract gate must reject it too.",
			Patch:     "limit-not-validated.patch",
			Reject:    []string{"api.list.bad-limit"},
			Watch:     []string{"api.list.page", "api.list.unknown-parameter", "redis-up.max-up.cache-fresh"},
			Fields:    []matrix.Field{matrix.FieldStatus},
			BothGates: true,
		},
		{
			Name:      "no-allow-header",
			Breaks:    "405 method_not_allowed is answered without an Allow header",
			Why:       "Only the row that sends a method the route does not serve sees the header (§http.errors.router).",
			Patch:     "no-allow-header.patch",
			Reject:    []string{"api.method-not-allowed"},
			Watch:     []string{"api.route-not-found", "api.get.bad-id"},
			Fields:    []matrix.Field{matrix.FieldHeaders},
			BothGates: true,
		},
		{
			Name:   "cache-read-per-key",
			Breaks: "a list reads each linked chat's Redis entry with its own GET instead of one MGET for the page",
			Why: "Every row that counts Redis reads sees it (§behaviour.one-cache-read): the reference service reads a " +
				"chat's entry and its backoff key, so even one chat costs two GETs instead of one MGET.",
			Patch:  "cache-read-per-key.patch",
			Reject: []string{"redis-up.max-up.cache-fresh", "redis-up.max-up.cache-fresh.get", "api.list.page"},
			Watch:  []string{"redis-up.max-up.cache-stale", "api.list.bad-limit"},
			// Six hundred GETs for a page of 300 chats (entry and backoff key each) may or may
			// not outlast REDIS_TIMEOUT, by the machine's load: the page then falls back.
			MayReject: []string{"replicas.max-up.cache-stale.many-chats", "replicas.one-killed.max-up.many-chats"},
			Fields:    []matrix.Field{matrix.FieldStores},
			BothGates: true,
		},
		{
			Name:   "corrupt-entry-is-outage",
			Breaks: "a Redis value that does not decode fails the whole cache read, as if Redis were down",
			Why: "Only the row with an undecodable entry sees it (§data.cache-undecodable): the list falls back to the " +
				"database for every chat and counts a cache error, where beta's fresh entry should have been served.",
			Patch:     "corrupt-entry-is-outage.patch",
			Reject:    []string{"redis-up.max-up.cache-corrupt"},
			Watch:     []string{"redis-up.max-up.cache-fresh", "redis-up.max-up.cache-cold"},
			Fields:    []matrix.Field{matrix.FieldChats, matrix.FieldMetrics},
			BothGates: true,
		},
		{
			Name:   "duration-not-observed",
			Breaks: "http_request_duration_seconds is never observed",
			Why: "The rows that read the histogram's count by method and route see it (§metrics.http-duration): the " +
				"fresh-cache list and the page.",
			Patch:     "duration-not-observed.patch",
			Reject:    []string{"redis-up.max-up.cache-fresh", "api.list.page"},
			Watch:     []string{"redis-up.max-up.cache-fresh.get", "api.list.bad-limit"},
			Fields:    []matrix.Field{matrix.FieldMetrics},
			BothGates: true,
		},
		{
			Name: "max-ignores-retry-after",
			Breaks: "a 429 is counted and logged as a failed refresh, but no pause begins: the next refreshes call MAX " +
				"again at once, Retry-After or not",
			Why: "The pause is a promise of the contract, so it is gated as another implementation would be: the contract " +
				"gate must reject both rows where MAX rate-limits, judging the fake MAX's journal (no call in the " +
				"Retry-After after the first 429, calls already in flight excepted).",
			Patch:        "max-ignores-retry-after.patch",
			ContractOnly: true,
			Reject:       []string{"redis-up.max-429.cache-stale", "recovery.max-429"},
			Watch:        []string{"redis-up.max-503.cache-stale", "recovery.max-503", "redis-up.max-up.cache-cold.many-chats"},
			Fields:       []matrix.Field{matrix.FieldMaxCalls},
		},
		{
			Name: "database-overwrites-newer",
			Breaks: "a refresh writes MAX's count to the database unconditionally, over an observation newer than its own " +
				"(another replica's, or one that won the race against a slow MAX answer)",
			Why: "Only the racing-writer rows seed a database row newer than any refresh: the POST refresh and the " +
				"background refresh that fills a cold cache.",
			Patch:  "database-overwrites-newer.patch",
			Reject: []string{"refresh.newer-in-stores", "redis-up.max-up.cache-cold.newer-in-database"},
			Watch:  []string{"refresh.max-up", "redis-up.max-up.cache-cold", "redis-up.max-up.cache-stale"},
			Fields: []matrix.Field{matrix.FieldStores},
		},
		{
			Name: "per-process-quota",
			Breaks: "each replica limits its MAX calls and keeps MAX's Retry-After pause in its own memory, as chatd did " +
				"before replicas shared one quota: three replicas spend three budgets on one bot token",
			Why: "The rows that seed what the other replicas left in Redis (a spent budget, a stored 429 pause) see it " +
				"(§behaviour.shared-quota), and so do the rows of three replicas that call MAX together: three budgets " +
				"of 20 a second outrun MAX's 30, and a pause one replica keeps to itself does not hold the others. One " +
				"replica alone never exceeds its own limit. Nothing is claimed without the shared quota either.",
			Patch: "per-process-quota.patch",
			Reject: []string{"refresh.quota-spent-elsewhere", "redis-up.max-paused-elsewhere.cache-stale",
				"replicas.max-up.cache-stale.many-chats", "replicas.redis-down.max-up.many-chats",
				"replicas.max-429-once.cache-stale", "replicas.refresh-flood.max-up", "replicas.one-killed.max-up.many-chats"},
			Watch: []string{"refresh.max-up", "redis-up.max-429.cache-stale", "redis-up.max-up.cache-cold.many-chats",
				"replicas.max-404-chat.cache-stale.backoff"},
			// The POST answers MAX's count (chats), which decides the row at once.
			Fields: []matrix.Field{matrix.FieldChats, matrix.FieldMaxCalls},
		},
		{
			Name:   "no-failure-backoff",
			Breaks: "a chat MAX refuses (404, bot removed) is not backed off: every list asks MAX for it again",
			Why: "Only the row that lists chats MAX answers 404 for, several times, sees the repeated calls " +
				"(§behaviour.failure-backoff); a 404 opens no breaker, so nothing else holds them back.",
			Patch:  "no-failure-backoff.patch",
			Reject: []string{"redis-up.max-404.cache-stale.backoff", "replicas.max-404-chat.cache-stale.backoff"},
			Watch:  []string{"refresh.max-404", "redis-up.max-up.cache-stale.backed-off-elsewhere"},
			Fields: []matrix.Field{matrix.FieldMaxCalls},
		},
		{
			Name: "health-pings-per-probe",
			Breaks: "/health/detailed and /readyz ping the database and Redis on every probe: a probe flood becomes a " +
				"load on the dependencies",
			Why: "Only the row that sends twenty probes in a row counts Redis's PINGs (§http.health.cache); the other " +
				"health rows send ten probes and read the answers, which stay the same.",
			Patch:  "health-pings-per-probe.patch",
			Reject: []string{"health.probe-flood"},
			Watch:  []string{"health.all-up", "health.redis-down"},
			// With PostgreSQL answering after 3s, each probe now waits DATABASE_TIMEOUT for its
			// own ping, so ten probes span two or three MAX_HEALTH_INTERVALs and the /me
			// probes they allow: the bound of two holds or not by where the interval falls.
			MayReject: []string{"health.postgres-slow"},
			Fields:    []matrix.Field{matrix.FieldStores},
		},
		{
			Name: "no-refresh-claim",
			Breaks: "a background refresh claims nothing: every replica refreshes every stale chat it listed, three MAX " +
				"calls per chat on three replicas",
			Why: "Only the row of three replicas listing the same three hundred stale chats sees the repeated calls " +
				"(§behaviour.refresh-claim): the budget still holds, so the chats take three times as long and each " +
				"costs three calls. One replica never queues a chat twice, and the other replicas rows have too few " +
				"chats or lists far enough apart for the first refresh to land before the next list.",
			Patch:  "no-refresh-claim.patch",
			Reject: []string{"replicas.max-up.cache-stale.many-chats"},
			Watch: []string{"replicas.max-404-chat.cache-stale.backoff", "replicas.redis-down.max-up.many-chats",
				"redis-up.max-up.cache-cold.many-chats"},
			// With one replica killed early, two calls per chat may still finish within the
			// kill row's deadline, or not.
			MayReject: []string{"replicas.one-killed.max-up.many-chats"},
			Fields:    []matrix.Field{matrix.FieldMaxCalls, matrix.FieldStores},
		},
		{
			Name: "pause-drops-queued",
			Breaks: "a queued refresh that learns of a 429 pause only as it reserves its call is dropped instead of " +
				"waiting the pause out: with the chat claimed, no replica refreshes it until the next list",
			Why: "Only the row where a replica's call is answered 429 while others hold claimed, reserved refreshes sees " +
				"a refresh lost (§behaviour.shared-quota); one replica learns of its own pause before it takes the next " +
				"job, and a stored pause found before the job begins is waited out as before.",
			Patch:  "pause-drops-queued.patch",
			Reject: []string{"replicas.max-429-once.cache-stale"},
			Watch:  []string{"redis-up.max-429.cache-stale", "redis-up.max-paused-elsewhere.cache-stale", "recovery.max-429"},
			Fields: []matrix.Field{matrix.FieldMetrics},
		},
		{
			Name: "future-trusted",
			Breaks: "an observation time beyond CLOCK_SKEW_MAX in the future is trusted: served as fresh with its future " +
				"time, and never refreshed until the clock catches up",
			Why: "Only the row that seeds a replica's observation an hour ahead sees it (§behaviour.clock-skew); the " +
				"racing-writer rows stay within CLOCK_SKEW_MAX, where a future time is trusted.",
			Patch:  "future-trusted.patch",
			Reject: []string{"redis-up.max-up.cache-from-a-fast-clock"},
			Watch:  []string{"refresh.newer-in-stores", "redis-up.max-up.cache-cold.newer-in-database"},
			Fields: []matrix.Field{matrix.FieldChats, matrix.FieldMaxCalls},
		},
	}
}

// ControlRows are the control rows, one or two per group: a sampled run gives each variant
// ControlPerVariant of them besides its Reject and Watch rows (ControlSample), so a variant
// that breaks more than it should is noticed even in a sampled run.
func ControlRows() []string {
	return []string{
		"redis-up.max-up.cache-fresh",
		"redis-up.max-up.cache-stale",
		"redis-up.max-503.cache-stale",
		"redis-down.max-up.cache-fresh",
		"refresh.max-up",
		"refresh.max-503",
		"postgres-down.get",
		"health.all-up",
		"health.redis-down",
		"recovery.max-503",
	}
}

// ControlPerVariant is how many of the control rows a sampled run gives each variant.
const ControlPerVariant = 3

// ControlSample is v's share of the control rows in a sampled run: ControlPerVariant of
// them, in turn by v's place in Variants (the first variant the first three, the next the
// three after them, around the list), so that over the variants every control row runs
// about equally often and a variant added at the end moves no other's share. A variant not
// in Variants gets every control row.
func ControlSample(v Variant) []string {
	rows := ControlRows()
	i := slices.IndexFunc(Variants(), func(w Variant) bool { return w.Name == v.Name })
	if i < 0 {
		return rows
	}
	out := make([]string, 0, ControlPerVariant)
	for k := range ControlPerVariant {
		out = append(out, rows[(i*ControlPerVariant+k)%len(rows)])
	}
	return out
}

// Lookup returns the variant with the name.
func Lookup(name string) (Variant, bool) {
	for _, v := range Variants() {
		if v.Name == name {
			return v, true
		}
	}
	return Variant{}, false
}

// SampleReject is how many of a variant's Reject rows a sample runs at most.
const SampleReject = 8

// Selection returns the rows a run of v covers, in catalogue order: every row of catalogue
// in v's scope when all is set, otherwise a sample: v's Watch and Differs rows, its
// ControlSample, and at most SampleReject of its Reject rows (the quickest of each group
// first, then the quickest). The full run checks every Reject row.
func Selection(v Variant, catalogue []matrix.Row, all bool) []string {
	reject := v.Reject
	if !all {
		reject = sampleReject(v.Reject, catalogue)
	}
	want := join(reject, v.Watch, v.Differs, ControlSample(v))
	var out []string
	for _, r := range catalogue {
		if v.Eligible(r) && (all || slices.Contains(want, r.ID)) {
			out = append(out, r.ID)
		}
	}
	return out
}

// sampleReject picks a sample's Reject rows from ids (see Selection), by the rows' times in
// matrix/timings.json; without them it keeps every id.
func sampleReject(ids []string, catalogue []matrix.Row) []string {
	timings, err := matrix.MeasuredTimings()
	if err != nil {
		return ids
	}
	var rows []matrix.Row
	for _, id := range ids {
		if r, ok := matrix.Lookup(catalogue, id); ok {
			rows = append(rows, r)
		}
	}
	slices.SortStableFunc(rows, func(a, b matrix.Row) int { return cmp.Compare(timings[a.ID], timings[b.ID]) })
	var out []string
	groups := map[matrix.Group]bool{}
	for _, r := range rows {
		if len(out) < SampleReject && !groups[r.Group] {
			groups[r.Group] = true
			out = append(out, r.ID)
		}
	}
	for _, r := range rows {
		if len(out) < SampleReject && !slices.Contains(out, r.ID) {
			out = append(out, r.ID)
		}
	}
	return out
}
