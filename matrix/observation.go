package matrix

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// ObservationEntry is the name of the Ginkgo report entry that carries a row's Observation:
// scenarios call AddReportEntry(matrix.ObservationEntry, obs) once per row, and the report reads
// it back from the JSON report.
const ObservationEntry = "matrix.observation"

// Observation is what a scenario saw while running one row. Scenarios fill what they observed
// and leave the rest empty; Compare reports every expectation the observation cannot satisfy.
type Observation struct {
	RowID string `json:"row_id"`
	// SeededAt is the time the seed's ages are relative to.
	SeededAt time.Time `json:"seeded_at"`
	Phases   Phases    `json:"phases"`
	// Statuses are the HTTP statuses of every measured response, in order.
	Statuses []int `json:"statuses"`
	// ErrorCode is error.code of the first measured response, if it was an error.
	ErrorCode string `json:"error_code,omitempty"`
	// ErrorMessage is error.message of the same response.
	ErrorMessage string `json:"error_message,omitempty"`
	// Headers are the headers of the first measured response (first value of each).
	Headers map[string]string `json:"headers,omitempty"`
	// Chats are the chats of the first measured response.
	Chats []ObservedChat `json:"chats,omitempty"`
	// Sources are the distinct participants_source values each chat had over all measured
	// responses.
	Sources map[int64][]Source `json:"sources,omitempty"`
	Latency Latency            `json:"latency"`
	// WarmUpLatency summarises the warm-up requests, which Latency leaves out.
	WarmUpLatency Latency       `json:"warm_up_latency,omitzero"`
	Metrics       []MetricDelta `json:"metrics,omitempty"`
	Gauges        []GaugeValue  `json:"gauges,omitempty"`
	Logs          []LogEvent    `json:"logs,omitempty"`
	MaxCalls      []MaxCall     `json:"max_calls,omitempty"`
	// Resources are the service's resource gauges at the start of the row and at its end.
	Resources []ResourceDelta    `json:"resources,omitempty"`
	Stores    []StoredValue      `json:"stores,omitempty"`
	Health    *HealthObservation `json:"health,omitempty"`
	Probes    []ProbeResult      `json:"probes,omitempty"`
	Recovery  *RecoveryObserved  `json:"recovery,omitempty"`
	// Alerts is filled by the alert replay; nil means alerts were not evaluated.
	Alerts *AlertsObserved `json:"alerts,omitempty"`
	// SecretsFound names where a secret (the MAX token, a database password) was seen in the
	// service's output: a log line, a response body. It never holds the secret itself.
	SecretsFound []string `json:"secrets_found,omitempty"`
	// Failures are the scenario's own failure messages (an environment error, a timeout).
	Failures []string `json:"failures,omitempty"`
	// CacheReads is how many Redis read commands the service sent during the measured
	// requests; nil when the row does not ask.
	CacheReads *int `json:"cache_reads,omitempty"`
	// CachePings is how many Redis PINGs the service sent during the measured requests, when
	// the row bounds them.
	CachePings *int `json:"cache_pings,omitempty"`
	// Unsettled is set when the observation was taken without waiting for the eventual
	// expectations (EventualFields): a mismatch waiting cannot change had already decided
	// the row, so a mismatch in an eventual field may be one that waiting would have met.
	Unsettled bool `json:"unsettled,omitempty"`
}

// Phases are the moments that delimit a row's windows. The row window runs from Start (after
// seeding and applying the faults, before the warm-up) to End (the last observation); the
// measured window from Measured (after the warm-up) to MeasuredEnd (the last measured response).
type Phases struct {
	Start       time.Time `json:"start"`
	Measured    time.Time `json:"measured"`
	MeasuredEnd time.Time `json:"measured_end"`
	End         time.Time `json:"end"`
}

func (p Phases) contains(t time.Time, measured bool) bool {
	if measured {
		return !t.Before(p.Measured) && (p.MeasuredEnd.IsZero() || !t.After(p.MeasuredEnd))
	}
	return (p.Start.IsZero() || !t.Before(p.Start)) && (p.End.IsZero() || !t.After(p.End))
}

// ObservedChat is one chat of a response.
type ObservedChat struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	// MaxChatID is nil when max_chat_id was null.
	MaxChatID *int64 `json:"max_chat_id"`
	Count     int    `json:"participants_count"`
	Source    Source `json:"participants_source"`
	// UpdatedAt is nil when participants_updated_at was omitted.
	UpdatedAt *time.Time `json:"participants_updated_at,omitempty"`
}

// Latency summarises the latencies of the measured requests.
type Latency struct {
	Count int           `json:"count"`
	P50   time.Duration `json:"p50"`
	P95   time.Duration `json:"p95"`
	Max   time.Duration `json:"max"`
}

// NewLatency summarises latencies with nearest-rank percentiles.
func NewLatency(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := func(p int) time.Duration {
		i := (p*len(s)+99)/100 - 1
		return s[max(i, 0)]
	}
	return Latency{Count: len(s), P50: rank(50), P95: rank(95), Max: s[len(s)-1]}
}

// MetricDelta is how much one counter series moved over a window: the row window, or with
// Measured the measured window.
type MetricDelta struct {
	Name     string            `json:"name"`
	Labels   map[string]string `json:"labels,omitempty"`
	Delta    float64           `json:"delta"`
	Measured bool              `json:"measured,omitempty"`
}

// GaugeValue is a gauge series' value at the end of the row (or of the recovery).
type GaugeValue struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
	Value  float64           `json:"value"`
}

// ResourceDelta is one resource gauge at the start of the row and at its end.
type ResourceDelta struct {
	Name  string  `json:"name"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

// LogEvent is one JSON log record of the service.
type LogEvent struct {
	Time  time.Time      `json:"time"`
	Level string         `json:"level"`
	Msg   string         `json:"msg"`
	Attrs map[string]any `json:"attrs,omitempty"`
}

// MaxCall is one request in the fake MAX journal.
type MaxCall struct {
	Method string    `json:"method"`
	Path   string    `json:"path"`
	Status int       `json:"status"`
	At     time.Time `json:"at"`
}

// StoredValue is a chat's value read directly from a store at the end of the row.
type StoredValue struct {
	ChatID    int64      `json:"chat_id"`
	Store     Store      `json:"store"`
	Present   bool       `json:"present"`
	Count     int        `json:"count,omitempty"`
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
	// TTL is what remains of a Redis entry's life when it was read; zero means it never
	// expires. The database keeps no TTL.
	TTL time.Duration `json:"ttl,omitempty"`
	// Error is why the store could not be read.
	Error string `json:"error,omitempty"`
}

// HealthObservation is the last GET /health/detailed of the row.
type HealthObservation struct {
	Status       int                   `json:"status"`
	Service      string                `json:"service"`
	Dependencies map[Dependency]string `json:"dependencies"`
}

// ProbeResult is the status one more endpoint answered during the fault.
type ProbeResult struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Status int    `json:"status"`
}

// RecoveryObserved is what happened after the faults were lifted.
type RecoveryObserved struct {
	LiftedAt time.Time `json:"lifted_at"`
	// Recovered is whether a response matched the recovery expectation before the scenario gave up.
	Recovered bool `json:"recovered"`
	// After is the time from lifting to the first matching response (or to giving up).
	After time.Duration `json:"after"`
	// Status and Chats are of the last response seen.
	Status int            `json:"status"`
	Chats  []ObservedChat `json:"chats,omitempty"`
	Gauges []GaugeValue   `json:"gauges,omitempty"`
}

// AlertsObserved is the outcome of replaying the row's metric samples through the alert rules.
type AlertsObserved struct {
	Fired []string `json:"fired"`
	// Replay says how many samples were replayed over how much rule time, and when each
	// alert fired.
	Replay string `json:"replay,omitempty"`
}

// String summarises the observation in one line. Ginkgo prints a report entry's value with
// it and stores it beside the JSON, so it keeps the report small: the JSON is the record.
func (o Observation) String() string {
	parts := []string{fmt.Sprintf("row %s: statuses %v", o.RowID, o.Statuses)}
	if o.Latency.Count > 0 {
		parts = append(parts, fmt.Sprintf("latency p95 %s max %s", o.Latency.P95, o.Latency.Max))
	}
	parts = append(parts, fmt.Sprintf("%d metric deltas, %d log records, %d MAX calls", len(o.Metrics), len(o.Logs), len(o.MaxCalls)))
	if o.Recovery != nil {
		parts = append(parts, fmt.Sprintf("recovered %v after %s", o.Recovery.Recovered, o.Recovery.After))
	}
	if o.Alerts != nil {
		parts = append(parts, fmt.Sprintf("alerts fired %v", o.Alerts.Fired))
	}
	if len(o.Failures) > 0 {
		parts = append(parts, fmt.Sprintf("%d failures", len(o.Failures)))
	}
	return strings.Join(parts, "; ")
}
