package matrix

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEveryRowIsSatisfiable(t *testing.T) {
	for _, r := range Rows() {
		if ms := Compare(r, perfect(r), ModeReference); len(ms) > 0 {
			t.Errorf("row %s: a perfect observation mismatches:\n%s", r.ID, join(ms))
		}
	}
}

func TestCompareSurvivesJSON(t *testing.T) {
	// Observations reach the report through Ginkgo's JSON; the round trip must not change
	// the verdict (numbers in attributes become float64, times lose their monotonic part).
	for _, r := range Rows() {
		b, err := json.Marshal(perfect(r))
		if err != nil {
			t.Fatal(err)
		}
		var o Observation
		if err := json.Unmarshal(b, &o); err != nil {
			t.Fatal(err)
		}
		if ms := Compare(r, o, ModeReference); len(ms) > 0 {
			t.Errorf("row %s after JSON:\n%s", r.ID, join(ms))
		}
	}
}

func join(ms []Mismatch) string {
	var b strings.Builder
	for _, m := range ms {
		b.WriteString("  " + m.String() + "\n")
	}
	return b.String()
}

func row(t *testing.T, id string) Row {
	t.Helper()
	r, ok := Lookup(Rows(), id)
	if !ok {
		t.Fatalf("no row %s", id)
	}
	return r
}

// TestCompareCatchesEachField breaks one thing of a perfect observation at a time and
// expects a mismatch in exactly the field that was broken.
func TestCompareCatchesEachField(t *testing.T) {
	at := func(d time.Duration) *time.Time { x := t0.Add(d); return &x }
	cases := []struct {
		name   string
		row    string
		field  Field
		item   string
		break_ func(o *Observation)
	}{
		{"wrong status", "redis-down.max-up.cache-fresh", FieldStatus, "status", func(o *Observation) { o.Statuses[3] = 500 }},
		{"too few responses", "redis-down.max-up.cache-fresh", FieldStatus, "responses", func(o *Observation) { o.Statuses = o.Statuses[:5] }},
		{"wrong error code", "postgres-down.list", FieldStatus, "error code", func(o *Observation) { o.ErrorCode = "internal" }},
		{"cache served while Redis is down", "redis-down.max-up.cache-fresh", FieldChats, "chat 1 source", func(o *Observation) {
			o.Chats[0].Source = SourceCache
		}},
		{"cache count under a database label", "redis-down.max-up.cache-fresh", FieldChats, "chat 1 value", func(o *Observation) {
			o.Chats[0].Count = 11
		}},
		{"database timestamp on the cache count", "redis-up.max-up.cache-fresh", FieldChats, "chat 2 value", func(o *Observation) {
			o.Chats[1].UpdatedAt = at(-2 * time.Hour)
		}},
		{"updated_at invented for a count never observed", "redis-up.max-up.cache-cold", FieldChats, "chat 2 value", func(o *Observation) {
			o.Chats[1].UpdatedAt = at(0)
		}},
		{"source changes between responses", "redis-down.max-up.cache-fresh", FieldChats, "chat 1 sources over all responses", func(o *Observation) {
			o.Sources[1] = []Source{SourceDatabase, SourceCache}
		}},
		{"a later source the row does not allow", "replicas.max-404-chat.cache-stale.backoff", FieldChats,
			"chat 101 sources over all responses", func(o *Observation) {
				o.Sources[101] = []Source{SourceCache, SourceAPI}
			}},
		{"chat missing", "redis-up.max-up.cache-fresh", FieldChats, "chat 3", func(o *Observation) { o.Chats = o.Chats[:2] }},
		{"chat not expected", "refresh.max-up", FieldChats, "chat 2", func(o *Observation) {
			o.Chats = append(o.Chats, ObservedChat{ID: 2, Source: SourceDatabase, Count: 20})
		}},
		{"no Retry-After", "postgres-down.list", FieldHeaders, "Retry-After", func(o *Observation) { o.Headers = nil }},
		{"Retry-After not 1", "postgres-down.list", FieldHeaders, "Retry-After", func(o *Observation) { o.Headers["Retry-After"] = "30" }},
		{"slow p95", "redis-blackhole.max-up.cache-fresh", FieldLatency, "p95", func(o *Observation) { o.Latency.P95 = 200 * time.Millisecond }},
		{"slow max", "redis-blackhole.max-up.cache-fresh", FieldLatency, "max", func(o *Observation) { o.Latency.Max = 5 * time.Second }},
		{"not timed", "redis-up.max-up.cache-fresh", FieldLatency, "requests timed", func(o *Observation) { o.Latency = Latency{} }},
		{"warm-up not timed", "redis-down.max-up.cache-fresh", FieldLatency, "warm-up requests timed",
			func(o *Observation) { o.WarmUpLatency = Latency{} }},
		// A service without a Redis deadline passes the measured requests once the breaker
		// is open; only the warm-up requests, which pay the deadline, show it.
		{"warm-up paid more than the deadline", "redis-blackhole.max-up.cache-fresh", FieldLatency, "warm-up max",
			func(o *Observation) {
				o.WarmUpLatency = NewLatency([]time.Duration{100 * time.Millisecond, 3 * time.Second})
			}},
		{"fallback not counted", "redis-down.max-up.cache-fresh", FieldMetrics, `participants_fallback_usage_total{reason="cache_unavailable"} (measured)`,
			func(o *Observation) { o.Metrics = o.Metrics[1:] }},
		{"error counted with everything up", "redis-up.max-up.cache-fresh", FieldMetrics, MetricMaxErrors, func(o *Observation) {
			o.Metrics = append(o.Metrics, MetricDelta{Name: MetricMaxErrors, Labels: map[string]string{"reason": "timeout"}, Delta: 1})
		}},
		{"freshness gauge missing", "redis-up.max-up.cache-fresh", FieldMetrics, MetricFreshness, func(o *Observation) { o.Gauges = nil }},
		{"freshness gauge too old", "redis-up.max-up.cache-fresh", FieldMetrics, MetricFreshness, func(o *Observation) { o.Gauges[0].Value = 7200 }},
		{"fallback logged with everything up", "redis-up.max-up.cache-fresh", FieldLogs, `WARN "Using fallback data source"`, func(o *Observation) {
			o.Logs = append(o.Logs, LogEvent{Time: o.Phases.Measured, Level: "WARN", Msg: LogFallback})
		}},
		{"fallback log before the measured window", "redis-down.max-up.cache-fresh", FieldLogs, `WARN "Using fallback data source"`, func(o *Observation) {
			for i := range o.Logs {
				o.Logs[i].Time = o.Phases.Start
			}
		}},
		{"fallback log with the wrong chat_count", "refresh.max-503", FieldLogs, `chat_count="1"`, func(o *Observation) {
			for i := range o.Logs {
				if o.Logs[i].Msg == LogFallback {
					o.Logs[i].Attrs["chat_count"] = 3.0
				}
			}
		}},
		{"failed refresh overwrote the cache", "redis-up.max-503.cache-stale", FieldStores, "chat 1 redis", func(o *Observation) {
			o.Stores[0] = StoredValue{ChatID: 1, Store: StoreRedis, Present: true, Count: 0, UpdatedAt: at(time.Second)}
		}},
		{"refresh did not land", "redis-up.max-up.cache-stale", FieldStores, "chat 2 database", func(o *Observation) {
			for i := range o.Stores {
				if o.Stores[i].ChatID == 2 && o.Stores[i].Store == StoreDatabase {
					o.Stores[i].Count = 20
				}
			}
		}},
		{"refreshed entry never expires", "redis-up.max-up.cache-stale", FieldStores, "chat 2 redis ttl", func(o *Observation) {
			setTTL(o, 2, 0)
		}},
		{"refreshed entry expires in a second", "redis-up.max-up.cache-stale", FieldStores, "chat 2 redis ttl", func(o *Observation) {
			setTTL(o, 2, time.Second)
		}},
		{"refreshed entry outlives the cache TTL", "redis-up.max-up.cache-stale", FieldStores, "chat 2 redis ttl", func(o *Observation) {
			setTTL(o, 2, 48*time.Hour)
		}},
		{"MAX called faster than its limit", "redis-up.max-up.cache-cold.many-chats", FieldMaxCalls, "GET /chats/{chatId} in any 1s",
			func(o *Observation) {
				for i := range o.MaxCalls {
					o.MaxCalls[i].At = o.MaxCalls[0].At
				}
			}},
		{"MAX refused a call with 429", "redis-up.max-up.cache-cold.many-chats", FieldMaxCalls, "GET /chats/{chatId} answered 429",
			func(o *Observation) { o.MaxCalls[7].Status = 429 }},
		{"a goroutine leaked per request", "redis-down.max-up.cache-fresh.burst", FieldResources, MetricGoroutines,
			func(o *Observation) { o.Resources[0].End += 300 }},
		{"open fds not observed", "postgres-down.list.burst", FieldResources, MetricOpenFDs,
			func(o *Observation) { o.Resources = o.Resources[:1] }},
		{"store unreadable", "redis-up.max-up.cache-fresh", FieldStores, "chat 1 redis", func(o *Observation) { o.Stores[0].Error = "timeout" }},
		{"store not read", "redis-up.max-up.cache-fresh", FieldStores, "chat 3 database", func(o *Observation) { o.Stores = o.Stores[:5] }},
		{"MAX called for fresh data", "redis-up.max-up.cache-fresh", FieldMaxCalls, "GET /chats/{chatId}", func(o *Observation) {
			o.MaxCalls = append(o.MaxCalls, MaxCall{Method: "GET", Path: "/chats/-1001", Status: 200, At: o.Phases.Measured})
		}},
		{"refresh not deduplicated", "redis-up.max-up.cache-stale", FieldMaxCalls, "GET /chats/-1002", func(o *Observation) {
			o.MaxCalls = append(o.MaxCalls, MaxCall{Method: "GET", Path: "/chats/-1002", Status: 200, At: o.Phases.Measured})
		}},
		{"MAX called while short-circuited", "redis-up.max-short-circuited.cache-stale", FieldMaxCalls, "(measured)", func(o *Observation) {
			o.MaxCalls = append(o.MaxCalls, MaxCall{Method: "GET", Path: "/chats/-1001", Status: 503, At: o.Phases.Measured.Add(time.Millisecond)})
		}},
		{"health probing MAX on every request", "health.all-up", FieldMaxCalls, "GET /me (measured)", func(o *Observation) {
			for range 5 {
				o.MaxCalls = append(o.MaxCalls, MaxCall{Method: "GET", Path: "/me", Status: 200, At: o.Phases.Measured})
			}
		}},
		{"health says healthy with the database down", "health.postgres-down", FieldHealth, "service", func(o *Observation) {
			o.Health.Service = HealthHealthy
		}},
		{"health dependency wrong", "health.redis-down", FieldHealth, "dependencies.redis", func(o *Observation) {
			o.Health.Dependencies[Redis] = HealthHealthy
		}},
		{"health not observed", "postgres-down.list", FieldHealth, "/health/detailed", func(o *Observation) { o.Health = nil }},
		{"liveness fails with the database", "postgres-down.list", FieldProbes, "GET /livez", func(o *Observation) { o.Probes[1].Status = 503 }},
		{"readiness not probed", "postgres-down.list", FieldProbes, "GET /readyz", func(o *Observation) { o.Probes = o.Probes[1:] }},
		{"recovery too slow", "recovery.redis-down", FieldRecovery, "time to recover", func(o *Observation) { o.Recovery.After = time.Minute }},
		{"never recovered", "recovery.max-down", FieldRecovery, "time to recover", func(o *Observation) { o.Recovery.Recovered = false }},
		{"recovered from the wrong source", "recovery.redis-down", FieldRecovery, "recovered chat 1 source", func(o *Observation) {
			o.Recovery.Chats[0].Source = SourceDatabase
		}},
		{"recovery not observed", "recovery.postgres-down", FieldRecovery, "recovery", func(o *Observation) { o.Recovery = nil }},
		{"breaker still open", "recovery.postgres-down", FieldRecovery, "recovered circuit_breaker_state", func(o *Observation) {
			o.Recovery.Gauges[0].Value = 2
		}},
		{"alert silent", "redis-down.max-up.cache-fresh", FieldAlerts, string(AlertCacheDown), func(o *Observation) {
			o.Alerts.Fired = []string{string(AlertFallbackRateHigh)}
		}},
		{"alert outside the matrix's list fires", "redis-up.max-up.cache-fresh", FieldAlerts, "SomeNewAlert", func(o *Observation) {
			o.Alerts.Fired = []string{"SomeNewAlert"}
		}},
		{"alert fires on a healthy run", "redis-up.max-up.cache-fresh", FieldAlerts, string(AlertCacheDown), func(o *Observation) {
			o.Alerts.Fired = []string{string(AlertCacheDown)}
		}},
		{"observation of another row", "redis-up.max-up.cache-fresh", FieldRun, "row", func(o *Observation) { o.RowID = "other" }},
		{"scenario failure", "redis-up.max-up.cache-fresh", FieldRun, "scenario", func(o *Observation) { o.Failures = []string{"env reset failed"} }},
		{"secret leaked", "redis-up.max-up.cache-fresh", FieldRun, "secrets", func(o *Observation) { o.SecretsFound = []string{"log line 3"} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := row(t, tc.row)
			o := perfect(r)
			tc.break_(&o)
			ms := Compare(r, o, ModeReference)
			if len(ms) == 0 {
				t.Fatal("no mismatch")
			}
			for _, m := range ms {
				if m.Field != tc.field || !strings.Contains(m.Item, tc.item) {
					t.Errorf("unexpected %s (want field %s, item containing %q)", m, tc.field, tc.item)
				}
				if m.Expected == "" || m.Observed == "" {
					t.Errorf("mismatch without expected or observed value: %s", m)
				}
			}
		})
	}
}

func TestAlertsTheReplayCannotShowMayFireOrNot(t *testing.T) {
	r := row(t, "redis-up.max-429.cache-stale")
	if len(r.SLA.NotReplayed) == 0 || r.SLA.NotReplayedWhy == "" {
		t.Fatalf("row has no alert the replay cannot show: %+v", r.SLA)
	}
	for _, fired := range [][]string{{"ParticipantsMaxAPIDown", "ParticipantsDataStale", "ParticipantsFallbackRateHigh"},
		{"ParticipantsMaxAPIDown", "ParticipantsDataStale", "ParticipantsFallbackRateHigh", "ParticipantsMaxAPIRateLimited"}} {
		o := perfect(r)
		o.Alerts = &AlertsObserved{Fired: fired}
		if ms := Compare(r, o, ModeReference); len(ms) > 0 {
			t.Errorf("fired %v:\n%s", fired, join(ms))
		}
	}
	o := perfect(r)
	o.Alerts = &AlertsObserved{Fired: []string{"ParticipantsMaxAPIDown", "ParticipantsDataStale"}}
	if ms := Compare(r, o, ModeReference); len(ms) != 1 || ms[0].Item != string(AlertFallbackRateHigh) {
		t.Errorf("an alert the replay can show is still required: %v", ms)
	}
}

func TestAlertsNotReplayedAreNotJudged(t *testing.T) {
	r := row(t, "redis-down.max-up.cache-fresh")
	o := perfect(r)
	o.Alerts = nil
	if ms := Compare(r, o, ModeReference); len(ms) > 0 {
		t.Errorf("mismatches without alert replay:\n%s", join(ms))
	}
}

func TestContractOnlySkipsReferenceExpectations(t *testing.T) {
	r := row(t, "redis-up.max-503.cache-stale")
	o := perfect(r)
	// Another implementation names the reason differently: a reference expectation fails...
	for i := range o.Metrics {
		if o.Metrics[i].Labels["reason"] == "server_error" {
			o.Metrics[i].Labels = map[string]string{"reason": "http_5xx"}
		}
	}
	ms := Compare(r, o, ModeReference)
	if len(ms) != 1 || !ms[0].Reference {
		t.Fatalf("want one reference mismatch, got:\n%s", join(ms))
	}
	// ...and is skipped for a service that only promises the contract.
	if ms := Compare(r, o, ModeContract); len(ms) > 0 {
		t.Errorf("contract-only mismatches:\n%s", join(ms))
	}
	// A contract expectation still counts.
	o.Metrics = nil
	if ms := Compare(r, o, ModeContract); len(ms) == 0 {
		t.Error("contract metric expectation skipped")
	}
}

func TestReferenceRowMismatchesAreReference(t *testing.T) {
	r := row(t, "refresh.unlinked-chat")
	o := perfect(r)
	o.Statuses = []int{200}
	ms := Compare(r, o, ModeReference)
	if len(ms) == 0 {
		t.Fatal("no mismatch")
	}
	for _, m := range ms {
		if !m.Reference {
			t.Errorf("not marked reference: %s", m)
		}
	}
	if ms := Compare(r, o, ModeContract); len(ms) > 0 {
		t.Errorf("contract-only run judged a reference row:\n%s", join(ms))
	}
}

func TestOriginDatabaseOrMaxAcceptsEitherButNotTheCache(t *testing.T) {
	r := row(t, "redis-down.max-up.cache-fresh")
	o := perfect(r)
	refreshed := t0.Add(2 * time.Second)
	o.Chats[1].Source, o.Chats[1].Count, o.Chats[1].UpdatedAt = SourceDatabase, 22, &refreshed
	if ms := Compare(r, o, ModeReference); len(ms) > 0 {
		t.Errorf("refreshed database value rejected:\n%s", join(ms))
	}
	cached := t0.Add(-5 * time.Minute)
	o.Chats[1].Count, o.Chats[1].UpdatedAt = 21, &cached
	if ms := Compare(r, o, ModeReference); len(ms) != 1 || ms[0].Field != FieldChats {
		t.Errorf("cache value under a database label: %v", ms)
	}
}

func TestRecoveryMatches(t *testing.T) {
	r := row(t, "recovery.redis-down")
	o := perfect(r)
	if !RecoveryMatches(r, t0, o.Recovery.Status, o.Recovery.Chats) {
		t.Error("recovered response not recognised")
	}
	if RecoveryMatches(r, t0, 200, o.Chats) {
		t.Error("faulted response taken for recovery")
	}
	if RecoveryMatches(r, t0, 503, o.Recovery.Chats) {
		t.Error("wrong status taken for recovery")
	}
	if RecoveryMatches(row(t, "redis-up.max-up.cache-fresh"), t0, 200, nil) {
		t.Error("a row without recovery recovered")
	}
}

func TestNewLatency(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	l := NewLatency(ds)
	if l.Count != 100 || l.P50 != 50*time.Millisecond || l.P95 != 95*time.Millisecond || l.Max != 100*time.Millisecond {
		t.Errorf("NewLatency = %+v", l)
	}
	if l := NewLatency([]time.Duration{7}); l.P50 != 7 || l.P95 != 7 || l.Max != 7 {
		t.Errorf("one sample: %+v", l)
	}
	if l := NewLatency(nil); l != (Latency{}) {
		t.Errorf("no samples: %+v", l)
	}
	if ds[0] != 100*time.Millisecond {
		t.Error("NewLatency sorted its input")
	}
}

func TestCountAndMismatchText(t *testing.T) {
	for c, want := range map[Count]string{AtLeast(1): ">= 1", Exactly(3): "= 3", None(): "= 0", AtMost(2): "<= 2", Between(1, 2): "1..2"} {
		if c.String() != want {
			t.Errorf("%+v = %q, want %q", c, c.String(), want)
		}
	}
	if !AtLeast(1).Contains(5) || AtLeast(1).Contains(0) || !None().Forbids() || AtMost(1).Forbids() {
		t.Error("Count bounds")
	}
	m := Mismatch{Field: FieldStatus, Item: "status", Expected: "200", Observed: "500", Reference: true}
	if got := m.String(); got != "status: status: expected 200, observed 500 (reference)" {
		t.Errorf("Mismatch.String = %q", got)
	}
}

// setTTL sets what remains of the life of chat id's Redis entry.
func setTTL(o *Observation, id int64, ttl time.Duration) {
	for i := range o.Stores {
		if o.Stores[i].ChatID == id && o.Stores[i].Store == StoreRedis {
			o.Stores[i].TTL = ttl
		}
	}
}

func TestPeakPerSecondCountsAnyWindowOfOneSecond(t *testing.T) {
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	for _, c := range []struct {
		times []time.Time
		want  int
	}{
		{nil, 0},
		{[]time.Time{at(0)}, 1},
		// Twenty a second, evenly: a window of a second holds 20, not 21 ([t, t+1s)).
		{func() (ts []time.Time) {
			for i := range 60 {
				ts = append(ts, at(i*50))
			}
			return ts
		}(), 20},
		// A burst in the middle of a quiet stretch, given out of order.
		{[]time.Time{at(3000), at(0), at(2500), at(2600), at(2700), at(5000)}, 4},
	} {
		if got := PeakPerSecond(c.times); got != c.want {
			t.Errorf("PeakPerSecond(%v) = %d, want %d", c.times, got, c.want)
		}
	}
}

func TestRetryAfterPauseAllowsCallsInFlightOnly(t *testing.T) {
	r := row(t, "redis-up.max-429.cache-stale")
	base := perfect(r)
	var first time.Time
	for _, c := range base.MaxCalls {
		if c.Status == 429 && (first.IsZero() || c.At.Before(first)) {
			first = c.At
		}
	}
	if first.IsZero() {
		t.Fatal("the exemplar has no 429")
	}
	pauseMismatch := func(o Observation) bool {
		for _, m := range Compare(r, o, ModeReference) {
			if strings.Contains(m.Item, "Retry-After pause") {
				return true
			}
		}
		return false
	}
	with := func(after time.Duration, status int) Observation {
		o := perfect(r)
		o.MaxCalls = append(o.MaxCalls, MaxCall{Method: "GET", Path: "/chats/200", Status: status, At: first.Add(after)})
		return o
	}
	if pauseMismatch(with(30*time.Millisecond, 429)) {
		t.Error("a call in flight when the 429 arrived broke the pause")
	}
	if !pauseMismatch(with(time.Second, 429)) {
		t.Error("a call a second into a 30s pause passed")
	}
	if pauseMismatch(with(31*time.Second, 200)) {
		t.Error("a call after the pause broke it")
	}
	none := perfect(r)
	for i := range none.MaxCalls {
		none.MaxCalls[i].Status = 200
	}
	if !pauseMismatch(none) {
		t.Error("a row whose MAX never answered 429 passed the pause check")
	}
}

func TestDecided(t *testing.T) {
	cases := map[string]struct {
		ms   []Mismatch
		want bool
	}{
		"none":                   {nil, false},
		"an eventual field":      {[]Mismatch{{Field: FieldStores}, {Field: FieldMetrics}}, false},
		"alerts, replayed apart": {[]Mismatch{{Field: FieldAlerts}}, false},
		"the status":             {[]Mismatch{{Field: FieldMetrics}, {Field: FieldStatus}}, true},
		"a harness failure":      {[]Mismatch{{Field: FieldRun}}, true},
	}
	for name, tc := range cases {
		if got := Decided(tc.ms); got != tc.want {
			t.Errorf("%s: Decided = %v, want %v", name, got, tc.want)
		}
	}
	for _, f := range EventualFields() {
		if !slices.Contains(Fields(), f) {
			t.Errorf("eventual field %s is not a field", f)
		}
	}
}

func TestChatNameMaxChatIDOrderAndUTC(t *testing.T) {
	r := row(t, "redis-up.max-up.cache-fresh")
	cases := map[string]struct {
		change func(o *Observation)
		want   string
	}{
		"a wrong name": {func(o *Observation) { o.Chats[0].Name = "general" }, `chat 1 name: expected "alpha", observed "general"`},
		"max_chat_id 0 for an unlinked chat": {func(o *Observation) { z := int64(0); o.Chats[2].MaxChatID = &z },
			"chat 3 max_chat_id: expected null (not linked), observed 0"},
		"max_chat_id missing": {func(o *Observation) { o.Chats[1].MaxChatID = nil }, "chat 2 max_chat_id: expected -1002, observed null"},
		"a local time": {func(o *Observation) {
			at := o.Chats[0].UpdatedAt.In(time.FixedZone("MSK", 3*3600))
			o.Chats[0].UpdatedAt = &at
		}, "chat 1 updated_at: expected in UTC, observed offset +10800s (MSK)"},
		"out of order": {func(o *Observation) { o.Chats[0], o.Chats[1] = o.Chats[1], o.Chats[0] }, "chat order: expected by id, observed 2, 1, 3"},
	}
	for name, tc := range cases {
		o := perfect(r)
		tc.change(&o)
		ms := Compare(r, o, ModeContract)
		if len(ms) != 1 || ms[0].String() != "chats: "+tc.want || ms[0].Reference {
			t.Errorf("%s: got %v, want one contract mismatch %q", name, ms, tc.want)
		}
	}
}

func TestLaterSourcesAreAllowedAfterTheFirstResponse(t *testing.T) {
	r, _ := Lookup(Rows(), "replicas.max-404-chat.cache-stale.backoff")
	o := perfect(r)
	o.Sources[101] = []Source{SourceCache, SourceDatabase}
	if ms := Compare(r, o, ModeReference); len(ms) != 0 {
		t.Errorf("a source the row allows later mismatches: %v", ms)
	}
}

func TestCountsOverTheirMaximumAreDecided(t *testing.T) {
	for _, tc := range []struct {
		name    string
		row     string
		mutate  func(*Observation)
		decided bool
	}{
		{"a 429 where none may be", "redis-up.max-up.cache-cold.many-chats", func(o *Observation) {
			o.MaxCalls = append(o.MaxCalls, MaxCall{Method: "GET", Path: "/chats/-3101", Status: 429, At: o.Phases.Start.Add(time.Second)})
		}, true},
		{"more calls than a chat may cost", "redis-up.max-404.cache-stale.backoff", func(o *Observation) {
			o.MaxCalls = append(o.MaxCalls, MaxCall{Method: "GET", Path: "/chats/-1001", Status: 404, At: o.Phases.Start.Add(time.Second)})
		}, true},
		{"an error logged where none may be", "redis-up.max-up.cache-fresh", func(o *Observation) {
			o.Logs = append(o.Logs, LogEvent{Level: LevelError, Msg: LogMaxFailed, Time: o.Phases.Start.Add(time.Second)})
		}, true},
		{"too few calls yet", "redis-up.max-404.cache-stale.backoff", func(o *Observation) {
			o.MaxCalls = o.MaxCalls[:1]
		}, false},
		{"a store not yet refreshed", "redis-up.max-up.cache-stale", func(o *Observation) {
			o.Stores = o.Stores[:len(o.Stores)-1]
		}, false},
	} {
		r, ok := Lookup(Rows(), tc.row)
		if !ok {
			t.Fatalf("no row %s", tc.row)
		}
		o := perfect(r)
		tc.mutate(&o)
		ms := Compare(r, o, ModeReference)
		if len(ms) == 0 {
			t.Errorf("%s: no mismatch", tc.name)
			continue
		}
		if got := Decided(ms); got != tc.decided {
			t.Errorf("%s: Decided = %v, want %v (%v)", tc.name, got, tc.decided, ms)
		}
	}
}
