package matrix

import (
	"fmt"
	"strings"
	"time"

	"github.com/faultline/faultline/contract"
)

// Row is one scenario of the behaviour matrix.
type Row struct {
	// ID is stable and label-safe (lower-case words joined by '-' and '.'); reports, labels and
	// `make scenario ROW=` refer to it, so it never changes once published.
	ID    string `json:"id"`
	Title string `json:"title"`
	Group Group  `json:"group"`
	// Description says what the row proves and, where PLAN or the contract is silent, which
	// behaviour the row chose and why.
	Description string   `json:"description"`
	Given       Given    `json:"given"`
	Request     Request  `json:"request"`
	Expected    Expected `json:"expected"`
	SLA         SLA      `json:"sla"`
	// Reference marks a row whose whole behaviour only the reference service promises (the
	// contract is silent about it); another implementation may fail it without breaking the
	// contract.
	Reference bool `json:"reference,omitempty"`
}

// Group is the family a row belongs to; reports and the SLA document are sectioned by it.
type Group string

// The row groups, in report order.
const (
	GroupCache    Group = "cache"    // everything up, the cache fresh, stale or cold
	GroupMax      Group = "max"      // MAX failing while Redis works
	GroupRedis    Group = "redis"    // Redis failing, MAX up or down
	GroupRefresh  Group = "refresh"  // POST /chats/{id}/participants/refresh
	GroupPostgres Group = "postgres" // the database failing
	GroupHealth   Group = "health"   // /health/detailed per dependency state
	GroupRecovery Group = "recovery" // a fault lifted, normal behaviour back
	GroupAPI      Group = "api"      // the HTTP API itself: pages, bad input, unknown routes
	GroupReplicas Group = "replicas" // several replicas sharing one MAX quota
)

// Groups returns every group in report order.
func Groups() []Group {
	return []Group{GroupCache, GroupMax, GroupRedis, GroupRefresh, GroupPostgres, GroupHealth, GroupRecovery, GroupAPI,
		GroupReplicas}
}

// Dependency names one dependency of the service (package contract): labels and reports use
// these names; the service names PostgreSQL "database" in its health JSON and metric labels
// (ServiceLabel).
type Dependency = contract.Dependency

// The service's dependencies.
const (
	Postgres = contract.Postgres
	Redis    = contract.Redis
	MaxAPI   = contract.MaxAPI
)

// Dependencies returns every dependency in a fixed order.
func Dependencies() []Dependency { return contract.Dependencies() }

// FaultKind is how a dependency misbehaves. Network faults act on the proxy in front of the
// dependency; process faults act on its container; MAX faults are switches of the fake MAX.
type FaultKind string

// Fault kinds for every dependency.
const (
	// FaultUp is no fault at all.
	FaultUp FaultKind = "up"
	// FaultDown refuses connections (the proxy is disabled).
	FaultDown FaultKind = "down"
)

// Fault kinds for PostgreSQL and Redis.
const (
	// FaultBlackhole accepts connections and never answers.
	FaultBlackhole FaultKind = "blackhole"
	// FaultLatency delays every response by Fault.Delay.
	FaultLatency FaultKind = "latency"
	// FaultReset resets every connection (TCP RST).
	FaultReset FaultKind = "reset"
	// FaultRestartedEmpty restarts the container without its data before the requests: the
	// dependency is up again, but empty.
	FaultRestartedEmpty FaultKind = "restarted-empty"
	// FaultPaused freezes the container (docker pause): connections hang.
	FaultPaused FaultKind = "paused"
)

// Fault kinds for MAX, switched on in the fake MAX for every endpoint the service calls
// (GET /chats/{chatId} and the health probe GET /me) until the row ends.
const (
	// FaultStatus answers Fault.Status with an error body.
	FaultStatus FaultKind = "status"
	// FaultRateLimited answers 429, with Retry-After Fault.RetryAfter when it is non-zero.
	FaultRateLimited FaultKind = "rate-limited"
	// FaultUnauthorized answers 401 verify.token, as for a wrong token.
	FaultUnauthorized FaultKind = "unauthorized"
	// FaultSlow answers correctly after Fault.Delay.
	FaultSlow FaultKind = "slow"
	// FaultHang never answers; the client has to give up.
	FaultHang FaultKind = "hang"
	// FaultMalformed answers 200 with invalid JSON.
	FaultMalformed FaultKind = "malformed"
	// FaultWrongTypes answers 200 with valid JSON whose fields have the wrong types.
	FaultWrongTypes FaultKind = "wrong-types"
	// FaultTruncated answers 200 with a body cut off in the middle.
	FaultTruncated FaultKind = "truncated"
	// FaultOversized answers 200 with a body far larger than any client should read.
	FaultOversized FaultKind = "oversized"
)

// FaultKinds returns every fault kind in a fixed order.
func FaultKinds() []FaultKind {
	return []FaultKind{FaultUp, FaultDown, FaultBlackhole, FaultLatency, FaultReset, FaultRestartedEmpty,
		FaultPaused, FaultStatus, FaultRateLimited, FaultUnauthorized, FaultSlow, FaultHang, FaultMalformed,
		FaultWrongTypes, FaultTruncated, FaultOversized}
}

// AppliesTo reports whether the kind can be applied to the dependency.
func (k FaultKind) AppliesTo(d Dependency) bool {
	switch k {
	case FaultUp, FaultDown:
		return true
	case FaultBlackhole, FaultLatency, FaultReset, FaultRestartedEmpty, FaultPaused:
		return d == Postgres || d == Redis
	case FaultStatus, FaultRateLimited, FaultUnauthorized, FaultSlow, FaultHang, FaultMalformed,
		FaultWrongTypes, FaultTruncated, FaultOversized:
		return d == MaxAPI
	}
	return false
}

// Fault is the state of one dependency during a row: a kind and its parameters.
type Fault struct {
	Kind FaultKind `json:"kind"`
	// Delay is the added latency of FaultLatency and FaultSlow.
	Delay time.Duration `json:"delay,omitempty"`
	// Status is the HTTP status of FaultStatus.
	Status int `json:"status,omitempty"`
	// RetryAfter is the Retry-After of FaultRateLimited; zero sends no header.
	RetryAfter time.Duration `json:"retry_after,omitempty"`
	// Times limits a MAX fault to the first Times calls of GET /chats/{chatId}; zero
	// applies it to every call of every endpoint.
	Times int `json:"times,omitempty"`
}

// Active reports whether the fault does anything (the dependency is not simply up).
func (f Fault) Active() bool { return f.Kind != "" && f.Kind != FaultUp }

// String renders the fault with its parameters, e.g. "latency(500ms)" or "status(503)",
// and "once" or "xN" for a fault limited to the first calls.
func (f Fault) String() string {
	switch {
	case f.Times == 1:
		return f.kindString() + " once"
	case f.Times > 1:
		return fmt.Sprintf("%s x%d", f.kindString(), f.Times)
	}
	return f.kindString()
}

func (f Fault) kindString() string {
	switch f.Kind {
	case "":
		return string(FaultUp)
	case FaultLatency, FaultSlow:
		return fmt.Sprintf("%s(%s)", f.Kind, formatDuration(f.Delay))
	case FaultStatus:
		return fmt.Sprintf("%s(%d)", f.Kind, f.Status)
	case FaultRateLimited:
		if f.RetryAfter == 0 {
			return fmt.Sprintf("%s(no retry-after)", f.Kind)
		}
		return fmt.Sprintf("%s(retry-after %s)", f.Kind, formatDuration(f.RetryAfter))
	}
	return string(f.Kind)
}

// CacheState is what Redis holds for the seeded chats before the row's faults are applied.
type CacheState string

// The cache states.
const (
	// CacheFresh: every linked chat has an entry younger than the stale age.
	CacheFresh CacheState = "fresh"
	// CacheStale: every linked chat has an entry older than the stale age (but within its TTL).
	CacheStale CacheState = "stale"
	// CacheCold: no entries at all, as after a flush.
	CacheCold CacheState = "cold"
)

// Given is the world a row runs in: the state of each dependency and the seeded data.
type Given struct {
	Postgres Fault      `json:"postgres"`
	Redis    Fault      `json:"redis"`
	MaxAPI   Fault      `json:"max_api"`
	Cache    CacheState `json:"cache"`
	Seed     Seed       `json:"seed"`
	// Replicas is how many processes of the service run (zero or one: one). They share
	// the dependencies and their faults, are told the count in REPLICAS, and the row's
	// requests go to them in turn; their metrics are added up (gauges: the highest).
	Replicas int `json:"replicas,omitempty"`
	// KilledAfter kills the last replica (SIGKILL: no shutdown, refreshes cut off where they
	// are) once MAX has answered this many chat calls during the row; later requests go to
	// the others. Zero kills none.
	KilledAfter int `json:"killed_after,omitempty"`
}

// Fault returns the fault of dependency d.
func (g Given) Fault(d Dependency) Fault {
	switch d {
	case Postgres:
		return g.Postgres
	case Redis:
		return g.Redis
	case MaxAPI:
		return g.MaxAPI
	}
	return Fault{}
}

// Active returns the dependencies that have an active fault, in Dependencies order.
func (g Given) Active() []Dependency {
	var out []Dependency
	for _, d := range Dependencies() {
		if g.Fault(d).Active() {
			out = append(out, d)
		}
	}
	return out
}

// Summary describes the dependency state in one line, e.g.
// "postgres up, redis down, max_api up, cache fresh".
func (g Given) Summary() string {
	parts := make([]string, 0, 4)
	for _, d := range Dependencies() {
		parts = append(parts, fmt.Sprintf("%s %s", d, g.Fault(d)))
	}
	parts = append(parts, "cache "+string(g.Cache))
	if g.Replicas > 1 {
		parts = append(parts, fmt.Sprintf("%d replicas", g.Replicas))
	}
	if g.KilledAfter > 0 {
		parts = append(parts, fmt.Sprintf("one killed after %d MAX calls", g.KilledAfter))
	}
	return strings.Join(parts, ", ")
}

// Seed is the data written before a row runs: chats in PostgreSQL (with explicit ids), their
// Redis entries and their counts in the fake MAX. The three counts of a chat always differ,
// so the count served proves which source it came from.
type Seed struct {
	Chats []SeedChat `json:"chats"`
	// QuotaSpent (reference) seeds the MAX budget the replicas share as spent by others for
	// this long past the seeding time; zero seeds none.
	QuotaSpent time.Duration `json:"quota_spent,omitempty"`
	// MaxPaused (reference) seeds a pause of MAX calls another replica stored after a 429,
	// lasting this long past the seeding time; zero seeds none.
	MaxPaused time.Duration `json:"max_paused,omitempty"`
}

// Chat returns the seeded chat with the id.
func (s Seed) Chat(id int64) (SeedChat, bool) {
	for _, c := range s.Chats {
		if c.ID == id {
			return c, true
		}
	}
	return SeedChat{}, false
}

// SeedChat is one seeded chat.
type SeedChat struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	// MaxChatID is the chat's MAX id (negative for groups); zero seeds NULL: not linked.
	MaxChatID int64 `json:"max_chat_id,omitempty"`
	// DB is the row's participants_count and participants_updated_at.
	DB Stored `json:"db"`
	// Cache is the Redis entry participants:<id>; nil writes none.
	Cache *Stored `json:"cache,omitempty"`
	// MaxCount is the participant count the fake MAX reports for MaxChatID.
	MaxCount int `json:"max_count,omitempty"`
	// BackedOff (reference) seeds a refresh backoff of the chat that lasts this long past the
	// seeding time (participants:backoff:<id>), as another replica writes it when MAX
	// refuses the chat; zero seeds none.
	BackedOff time.Duration `json:"backed_off,omitempty"`
	// MaxStatus is what MAX answers the chat's calls instead of its data, as for a chat the
	// bot was removed from: 403, or 404 (the fake MAX does not know the chat at all); zero
	// answers normally.
	MaxStatus int `json:"max_status,omitempty"`
}

// Linked reports whether the chat has a MAX id, so the service may refresh it.
func (c SeedChat) Linked() bool { return c.MaxChatID != 0 }

// Stored is a participant count as seeded in one store.
type Stored struct {
	Count int `json:"count"`
	// Age is how long before the seeding time the count was observed.
	Age time.Duration `json:"age,omitempty"`
	// Unknown seeds a NULL participants_updated_at (database only): a count never observed,
	// as left by an import; the service must omit participants_updated_at for it.
	Unknown bool `json:"unknown,omitempty"`
	// Raw (cache only) is written verbatim in place of the entry's JSON: a value that does
	// not decode, which the service must treat as a missing entry.
	Raw string `json:"raw,omitempty"`
}

// UpdatedAt is the seeded timestamp for seeding time seededAt; ok is false for Unknown.
func (s Stored) UpdatedAt(seededAt time.Time) (t time.Time, ok bool) {
	if s.Unknown {
		return time.Time{}, false
	}
	return seededAt.Add(-s.Age), true
}

// Request is what a row sends to the service: to its one process, or to each replica in
// turn (Given.Replicas).
type Request struct {
	Method string `json:"method"`
	// Path includes the query, e.g. "/chats/all" or "/chats/1/participants/refresh".
	Path string `json:"path"`
	// WarmUp requests are sent first and not measured; rows use them to open a breaker.
	WarmUp int `json:"warm_up,omitempty"`
	// WarmUpInterval separates warm-up requests so the background work each starts (a
	// refresh that fails) is done before the next.
	WarmUpInterval time.Duration `json:"warm_up_interval,omitempty"`
	// Repeat is the number of measured requests (at least one); latency is computed over them.
	Repeat int `json:"repeat"`
	// Interval separates measured requests, for the same reason as WarmUpInterval.
	Interval time.Duration `json:"interval,omitempty"`
}

// String renders the request, e.g. "GET /chats/all x20 (after 5 warm-up)".
func (r Request) String() string {
	s := r.Method + " " + r.Path
	if r.Repeat > 1 {
		s += fmt.Sprintf(" x%d", r.Repeat)
	}
	if r.WarmUp > 0 {
		s += fmt.Sprintf(" (after %d warm-up)", r.WarmUp)
	}
	return s
}

// Source is the participants_source of a served chat (package contract).
type Source = contract.Source

// The contract's sources.
const (
	SourceCache    = contract.SourceCache
	SourceAPI      = contract.SourceAPI
	SourceDatabase = contract.SourceDatabase
)

// Origin says whose value a served chat carries (count and participants_updated_at together:
// a count from one store with the timestamp of another is always a bug).
type Origin string

// The origins of a served value.
const (
	// OriginDatabase is the seeded database row (updated_at omitted when seeded Unknown).
	OriginDatabase Origin = "database"
	// OriginCache is the seeded Redis entry.
	OriginCache Origin = "cache"
	// OriginMax is the fake MAX count, fetched during the row (updated_at not before the seeding).
	OriginMax Origin = "max"
	// OriginDatabaseOrMax is the database row, which a background refresh started by an
	// earlier request of the same row may already have replaced with the MAX count.
	OriginDatabaseOrMax Origin = "database-or-max"
	// OriginCacheNow is the seeded Redis entry's count served as observed now: its seeded
	// time lies further in the future than CLOCK_SKEW_MAX (a replica whose clock runs ahead
	// wrote it), so participants_updated_at is the time of serving, not the seeded one.
	OriginCacheNow Origin = "cache-now"
)

// Alert names a Prometheus alert of deploy/prometheus/alerts.yml.
type Alert string

// The alerts of deploy/prometheus/alerts.yml (a test keeps the list complete). AlertNone
// stands alone and says no alert may fire.
const (
	AlertNone                  Alert = "none"
	AlertChatdDown             Alert = "ChatdDown"
	AlertDatabaseUnavailable   Alert = "DatabaseUnavailable"
	AlertCacheDown             Alert = "ParticipantsCacheDown"
	AlertMaxAPIDown            Alert = "ParticipantsMaxAPIDown"
	AlertDataStale             Alert = "ParticipantsDataStale"
	AlertFallbackRateHigh      Alert = "ParticipantsFallbackRateHigh"
	AlertMaxAPIRateLimited     Alert = "ParticipantsMaxAPIRateLimited"
	AlertMaxAPIUnauthorized    Alert = "ParticipantsMaxAPIUnauthorized"
	AlertRefreshQueueSaturated Alert = "ParticipantsRefreshQueueSaturated"
)

// Alerts returns every alert of the rule file in its order, AlertNone excluded.
func Alerts() []Alert {
	return []Alert{AlertChatdDown, AlertDatabaseUnavailable, AlertCacheDown, AlertMaxAPIDown, AlertDataStale,
		AlertFallbackRateHigh, AlertMaxAPIRateLimited, AlertMaxAPIUnauthorized, AlertRefreshQueueSaturated}
}

// StalenessKind says whether served data has an age bound.
type StalenessKind string

// The staleness kinds.
const (
	// StalenessBounded: served data is never older than Staleness.Max.
	StalenessBounded StalenessKind = "bounded"
	// StalenessUnbounded: the last known good value is served, however old.
	StalenessUnbounded StalenessKind = "unbounded"
	// StalenessNotServed: no participant data is served in this state.
	StalenessNotServed StalenessKind = "not-served"
)

// Staleness is the oldest data the service may serve while the row's state persists.
type Staleness struct {
	Kind StalenessKind `json:"kind"`
	Max  time.Duration `json:"max,omitempty"`
	Note string        `json:"note"`
}

// String renders the staleness for documents, e.g. "1h0m0s" or "unbounded".
func (s Staleness) String() string {
	switch s.Kind {
	case StalenessBounded:
		return formatDuration(s.Max)
	case StalenessNotServed:
		return "none served"
	}
	return string(s.Kind)
}

// SLA is what the SLA document says about the row's dependency state beyond Expected.
type SLA struct {
	Staleness Staleness `json:"staleness"`
	// Alerts fire when the row's dependency state persists longer than their `for`, and no
	// other alert does. A row lasts seconds, so the alert replay shows it on compressed time:
	// each sample of /metrics stands for a scrape interval (docs/alerts.md).
	Alerts []Alert `json:"alerts"`
	// NotReplayed are alerts of Alerts the replay cannot show, because time compression
	// stretches a pause of the service (a Retry-After, a breaker cooldown, a request waiting
	// for MAX_API_TIMEOUT) far beyond the alert's window; the replay may still show them.
	// NotReplayedWhy says which pause.
	NotReplayed    []Alert `json:"not_replayed,omitempty"`
	NotReplayedWhy string  `json:"not_replayed_why,omitempty"`
}

// formatDuration renders d without zero tails, as people write it: "1h", "2m30s", "200ms".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
