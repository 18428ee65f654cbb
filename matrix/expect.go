package matrix

import (
	"fmt"
	"time"
)

// Expected is everything a row asserts. Each item with Reference set is promised only by the
// reference service (its exact reason labels, extra metrics, log messages, error codes);
// Compare skips those in ModeContract.
type Expected struct {
	// Status is the HTTP status of every measured response.
	Status int `json:"status"`
	// ErrorCode is error.code of the first measured response when Status is not 2xx; its
	// error.message must not be empty.
	ErrorCode string `json:"error_code,omitempty"`
	// Chats are the chats of the first measured response (every seeded chat for a list,
	// the one chat for get and refresh); sources must stay the same in every measured response.
	Chats   []ChatExpectation   `json:"chats,omitempty"`
	Headers []HeaderExpectation `json:"headers,omitempty"`
	Latency LatencyBound        `json:"latency"`
	// WarmUpMax bounds every warm-up request: the ones that pay a dependency's deadline
	// before its breaker opens must still answer within that deadline (plus slack for a
	// loaded machine). Set exactly when Request.WarmUp > 0.
	WarmUpMax time.Duration       `json:"warm_up_max,omitempty"`
	Metrics   []MetricExpectation `json:"metrics"`
	Gauges    []GaugeExpectation  `json:"gauges,omitempty"`
	Logs      []LogExpectation    `json:"logs"`
	Stores    []StoreExpectation  `json:"stores"`
	// CacheReads bounds the Redis read commands (GET, MGET and the like) the service sends
	// during the measured requests, all of them together: one per request is the contract.
	CacheReads *Count `json:"cache_reads,omitempty"`
	// CachePings bounds the Redis PINGs the service sends during the measured requests: what
	// a flood of health probes costs Redis.
	CachePings *Count               `json:"cache_pings,omitempty"`
	MaxCalls   []MaxCallExpectation `json:"max_calls"`
	MaxRate    []MaxRateExpectation `json:"max_rate,omitempty"`
	// MaxPause: after MAX's first 429 the service calls it no more until the Retry-After
	// has passed.
	MaxPause *MaxPauseExpectation `json:"max_pause,omitempty"`
	// Resources bound how much the service's own resources grow over the row, from its
	// start to its end once everything settled: what a leak per request shows as.
	Resources []ResourceExpectation `json:"resources,omitempty"`
	Health    *HealthExpectation    `json:"health,omitempty"`
	Probes    []ProbeExpectation    `json:"probes,omitempty"`
	Recovery  *Recovery             `json:"recovery,omitempty"`
	// Within bounds how long after the measured requests the eventual expectations (a refresh
	// landing, an error counted, a log line, the health JSON settling) may take: scenarios
	// observe and Compare until nothing differs or Within has passed.
	Within time.Duration `json:"within"`
	// Hold is how long everything must keep matching once it does, so that a late write (a
	// failed refresh overwriting data after counting its error) is caught.
	Hold time.Duration `json:"hold,omitempty"`
}

// ChatExpectation is one served chat.
type ChatExpectation struct {
	ID     int64  `json:"id"`
	Source Source `json:"source"`
	Value  Origin `json:"value"`
	// Later are the other sources later responses may show: where a refresh can land
	// between two requests (several replicas listing the same stale chats), the chat is
	// served from the refreshed stores afterwards. The first response shows Source.
	Later []Source `json:"later,omitempty"`
}

// HeaderExpectation is a response header of the first measured response.
type HeaderExpectation struct {
	Name string `json:"name"`
	// Present false forbids the header.
	Present bool `json:"present"`
	// Value, when not empty, must match exactly.
	Value     string `json:"value,omitempty"`
	Reference bool   `json:"reference,omitempty"`
}

// LatencyBound bounds the latency of the measured requests (warm-up excluded).
type LatencyBound struct {
	P95 time.Duration `json:"p95"`
	Max time.Duration `json:"max"`
}

// Count is an inclusive range for a number of events or a counter delta.
type Count struct {
	Min int `json:"min"`
	// Max below zero means no upper bound.
	Max int `json:"max"`
}

// AtLeast is n or more.
func AtLeast(n int) Count { return Count{Min: n, Max: -1} }

// AtMost is n or fewer.
func AtMost(n int) Count { return Count{Min: 0, Max: n} }

// Exactly is n.
func Exactly(n int) Count { return Count{Min: n, Max: n} }

// None is zero: the thing must not happen.
func None() Count { return Count{} }

// Between is lo to hi inclusive.
func Between(lo, hi int) Count { return Count{Min: lo, Max: hi} }

// Contains reports whether v is in the range.
func (c Count) Contains(v float64) bool {
	return v >= float64(c.Min) && (c.Max < 0 || v <= float64(c.Max))
}

// Forbids reports whether the range is exactly zero.
func (c Count) Forbids() bool { return c.Min == 0 && c.Max == 0 }

// String renders the range, e.g. ">= 1", "= 0", "0..2".
func (c Count) String() string {
	switch {
	case c.Max < 0:
		return fmt.Sprintf(">= %d", c.Min)
	case c.Min == c.Max:
		return fmt.Sprintf("= %d", c.Min)
	case c.Min == 0:
		return fmt.Sprintf("<= %d", c.Max)
	}
	return fmt.Sprintf("%d..%d", c.Min, c.Max)
}

// MetricExpectation bounds how much a counter moves. The delta is summed over every series of
// Name whose labels include Labels, so a label-less expectation covers all reasons.
type MetricExpectation struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
	Delta  Count             `json:"delta"`
	// Measured counts only the measured requests (after warm-up), not the whole row.
	Measured  bool `json:"measured,omitempty"`
	Reference bool `json:"reference,omitempty"`
}

// GaugeExpectation bounds a gauge's value at the end of the row.
type GaugeExpectation struct {
	Name      string            `json:"name"`
	Labels    map[string]string `json:"labels,omitempty"`
	Min       *float64          `json:"min,omitempty"`
	Max       *float64          `json:"max,omitempty"`
	Reference bool              `json:"reference,omitempty"`
}

// LogExpectation bounds how many log records match: Level and Msg when not empty, and every
// attribute of Attrs (compared as text, so 3 matches a JSON 3).
type LogExpectation struct {
	Level     string            `json:"level,omitempty"`
	Msg       string            `json:"msg,omitempty"`
	Attrs     map[string]string `json:"attrs,omitempty"`
	Count     Count             `json:"count"`
	Measured  bool              `json:"measured,omitempty"`
	Reference bool              `json:"reference,omitempty"`
}

// Store names where participant counts are kept.
type Store string

// The stores.
const (
	StoreRedis    Store = "redis"
	StoreDatabase Store = "database"
)

// StoreState is what must have become of a chat's seeded value in a store by the end of a row.
type StoreState string

// The store states.
const (
	// StoreUnchanged: exactly as seeded (still absent when nothing was seeded).
	StoreUnchanged StoreState = "unchanged"
	// StoreRefreshed: the fake MAX count, with an updated_at not before the seeding.
	StoreRefreshed StoreState = "refreshed"
	// StoreAbsent: no value (the Redis entry was lost with a restart and never rewritten).
	StoreAbsent StoreState = "absent"
	// StoreUnchangedOrRefreshed: either, because the fault lets a write through or not by
	// timing alone (a delayed response, a frozen process that later reads its socket).
	StoreUnchangedOrRefreshed StoreState = "unchanged-or-refreshed"
)

// StoreExpectation is the end state of one chat in one store, read directly (bypassing the
// proxies).
type StoreExpectation struct {
	ChatID    int64      `json:"chat_id"`
	Store     Store      `json:"store"`
	Want      StoreState `json:"want"`
	Reference bool       `json:"reference,omitempty"`
	// TTL bounds what remains of a Redis entry's life when it holds the refreshed value:
	// an entry written during the row expires after PARTICIPANTS_CACHE_TTL, neither never
	// nor much sooner.
	TTL *DurationRange `json:"ttl,omitempty"`
}

// DurationRange is an interval of durations: more than Above, at most AtMost.
type DurationRange struct {
	Above  time.Duration `json:"above"`
	AtMost time.Duration `json:"at_most"`
}

// Contains reports whether d is in (Above, AtMost].
func (r DurationRange) Contains(d time.Duration) bool { return d > r.Above && d <= r.AtMost }

// String renders the range, e.g. "(23h55m, 24h]".
func (r DurationRange) String() string {
	return fmt.Sprintf("(%s, %s]", formatDuration(r.Above), formatDuration(r.AtMost))
}

// MaxEndpoint names a fake MAX endpoint the service calls.
type MaxEndpoint string

// The MAX endpoints.
const (
	// MaxChat is GET /chats/{chatId}.
	MaxChat MaxEndpoint = "chat"
	// MaxMe is GET /me, the health probe.
	MaxMe MaxEndpoint = "me"
)

// MaxCallExpectation bounds how many calls the fake MAX journal shows. A MAX that is down
// sees no calls at all, whatever the service tries.
type MaxCallExpectation struct {
	Endpoint MaxEndpoint `json:"endpoint"`
	// MaxChatID restricts MaxChat calls to one chat; zero counts calls for any chat.
	MaxChatID int64 `json:"max_chat_id,omitempty"`
	// Status restricts the count to calls MAX answered with it, e.g. 429; zero counts all.
	Status    int   `json:"status,omitempty"`
	Count     Count `json:"count"`
	Measured  bool  `json:"measured,omitempty"`
	Reference bool  `json:"reference,omitempty"`
}

// MaxRateExpectation bounds how fast the service calls MAX's GET /chats/{chatId}: the calls
// of the row in any window of one second, as the fake MAX's journal timed them.
type MaxRateExpectation struct {
	PerSecond Count `json:"per_second"`
	Reference bool  `json:"reference,omitempty"`
}

// MaxPauseExpectation is the contract's Retry-After pause: once MAX has answered a GET
// /chats/{chatId} with 429 and Retry-After, no such call reaches MAX until RetryAfter has
// passed. Calls already on their way when the 429 was answered are not the pause's to stop:
// those reaching MAX within InFlight of it are allowed.
type MaxPauseExpectation struct {
	RetryAfter time.Duration `json:"retry_after"`
	InFlight   time.Duration `json:"in_flight"`
	Reference  bool          `json:"reference,omitempty"`
}

// ResourceExpectation bounds the growth of one gauge of the service's own resources
// (goroutines, open file descriptors) between the start of the row and its settled end.
type ResourceExpectation struct {
	Name        string  `json:"name"`
	MaxIncrease float64 `json:"max_increase"`
	Reference   bool    `json:"reference,omitempty"`
}

// HealthExpectation is GET /health/detailed as it must settle within Expected.Within.
type HealthExpectation struct {
	Status       int                   `json:"status"`
	Service      string                `json:"service"`
	Dependencies map[Dependency]string `json:"dependencies"`
	Reference    bool                  `json:"reference,omitempty"`
}

// ProbeExpectation is the status of one more endpoint (readiness, liveness) during the fault.
type ProbeExpectation struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Status int    `json:"status"`
}

// Recovery is what must hold after the row's faults are lifted: scenarios repeat the row's
// request until its response matches, and the time that takes must stay within Within.
type Recovery struct {
	Within time.Duration      `json:"within"`
	Status int                `json:"status"`
	Chats  []ChatExpectation  `json:"chats,omitempty"`
	Gauges []GaugeExpectation `json:"gauges,omitempty"`
}
