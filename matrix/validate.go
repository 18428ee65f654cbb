package matrix

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/faultline/faultline/contract"
	"github.com/onsi/ginkgo/v2/types"
)

// Validate checks a catalogue: ids unique and label-safe, every field a row of its kind needs
// filled in, the seed consistent with the stated cache state, and no expectation contradicting
// another or the given state. It returns every problem found, each naming its row.
func Validate(rows []Row) []error {
	var errs []error
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r.ID] {
			errs = append(errs, fmt.Errorf("row %s: duplicate id", r.ID))
		}
		seen[r.ID] = true
		for _, err := range validateRow(r) {
			errs = append(errs, fmt.Errorf("row %s: %w", r.ID, err))
		}
	}
	return errs
}

func validateRow(r Row) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if !ValidID(r.ID) {
		fail("id %q is not lower-case words joined by '-' and '.'", r.ID)
	}
	for _, l := range Labels(r) {
		if _, err := types.ValidateAndCleanupLabel(l, types.CodeLocation{}); err != nil || strings.ContainsAny(l, " \t\n") {
			fail("label %q is not a valid Ginkgo label", l)
		}
		if !strings.HasPrefix(l, LabelRow+":") && !slices.Contains(Vocabulary(), l) {
			fail("label %q is outside the vocabulary", l)
		}
	}
	if r.Title == "" || r.Description == "" {
		fail("title and description are required")
	}
	if !slices.Contains(Groups(), r.Group) {
		fail("unknown group %q", r.Group)
	}
	errs = append(errs, validateGiven(r.Given)...)
	errs = append(errs, validateRequest(r.Request)...)
	errs = append(errs, validateExpected(r)...)
	errs = append(errs, validateSLA(r)...)
	errs = append(errs, contradictions(r)...)
	return errs
}

func validateGiven(g Given) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	for _, d := range Dependencies() {
		f := g.Fault(d)
		if !f.Kind.AppliesTo(d) {
			fail("given %s: fault %q does not apply", d, f.Kind)
		}
		if (f.Kind == FaultLatency || f.Kind == FaultSlow) && f.Delay <= 0 {
			fail("given %s: %s needs a delay", d, f.Kind)
		}
		if f.Kind == FaultStatus && (f.Status < 400 || f.Status > 599) {
			fail("given %s: status fault needs an error status, got %d", d, f.Status)
		}
		if f.Times < 0 || (f.Times > 0 && (d != MaxAPI || !f.Active())) {
			fail("given %s: only a MAX fault answers a number of calls, got %d", d, f.Times)
		}
	}
	if g.Replicas < 0 || g.Replicas > maxReplicas {
		fail("given: %d replicas, want 1 to %d", g.Replicas, maxReplicas)
	}
	if g.KilledAfter < 0 || (g.KilledAfter > 0 && g.Replicas < 2) {
		fail("given: a replica killed after %d calls needs another to go on", g.KilledAfter)
	}
	if len(g.Seed.Chats) == 0 {
		fail("given: empty seed")
	}
	ids := map[int64]bool{}
	for _, c := range g.Seed.Chats {
		if ids[c.ID] || c.ID <= 0 {
			fail("seed: chat id %d duplicate or not positive", c.ID)
		}
		ids[c.ID] = true
		if c.BackedOff < 0 {
			fail("seed: chat %d: a backoff that ended before the row", c.ID)
		}
		if s := c.MaxStatus; s != 0 && (s < 400 || s > 499 || s == 401 || s == 429) {
			fail("seed: chat %d: MAX refuses a chat with 403, 404 or another 4xx about it, not %d", c.ID, s)
		}
		if !c.Linked() {
			if c.Cache != nil || c.BackedOff != 0 || c.MaxStatus != 0 {
				fail("seed: chat %d is not linked but has a cache entry or a backoff", c.ID)
			}
			continue
		}
		// Distinct counts are what lets the served count prove its source.
		if c.MaxCount == c.DB.Count || (c.Cache != nil && (c.Cache.Count == c.DB.Count || c.Cache.Count == c.MaxCount)) {
			fail("seed: chat %d has counts that do not tell their source apart", c.ID)
		}
		if c.Cache != nil && c.Cache.Unknown {
			fail("seed: chat %d: a cache entry always has updated_at", c.ID)
		}
		switch g.Cache {
		case CacheFresh:
			if c.Cache == nil || c.Cache.Age >= staleAfter {
				fail("seed: chat %d: cache %s needs an entry younger than %s", c.ID, g.Cache, staleAfter)
			}
		case CacheStale:
			if c.Cache == nil || c.Cache.Age < staleAfter || c.Cache.Age >= cacheTTL {
				fail("seed: chat %d: cache %s needs an entry between %s and %s old", c.ID, g.Cache, staleAfter, cacheTTL)
			}
		case CacheCold:
			if c.Cache != nil {
				fail("seed: chat %d: cache %s has no entries", c.ID, g.Cache)
			}
		default:
			fail("given: unknown cache state %q", g.Cache)
		}
	}
	return errs
}

func validateRequest(q Request) []error {
	var errs []error
	switch q.Method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		errs = append(errs, fmt.Errorf("request: method %q", q.Method))
	}
	if !strings.HasPrefix(q.Path, "/") {
		errs = append(errs, fmt.Errorf("request: path %q", q.Path))
	}
	if q.Repeat < 1 || q.WarmUp < 0 || q.Interval < 0 || q.WarmUpInterval < 0 {
		errs = append(errs, errors.New("request: repeat must be at least 1, warm-up and intervals not negative"))
	}
	return errs
}

func isHealthPath(p string) bool { return p == contract.PathHealthDetailed }

func validateExpected(r Row) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	e := r.Expected
	if e.Status < 100 || e.Status > 599 {
		fail("expected: status %d", e.Status)
	}
	if (e.Status >= 400 && !isHealthPath(r.Request.Path)) != (e.ErrorCode != "") {
		fail("expected: an error code goes with exactly the error statuses of non-health requests")
	}
	if (e.CacheReads != nil || e.CachePings != nil) && r.Given.Redis.Active() {
		fail("expected: Redis commands counted while Redis is %s", r.Given.Redis)
	}
	ids, serves := servedChats(r)
	if serves && e.Status == http.StatusOK {
		errs = append(errs, validateChats("expected chats", r, e.Chats, ids, true)...)
	} else if len(e.Chats) > 0 {
		fail("expected: chats for a response that serves none")
	}
	if e.Status == http.StatusServiceUnavailable && !isHealthPath(r.Request.Path) && !hasHeader(e.Headers, RetryAfterHeader) {
		fail("expected: a 503 needs a Retry-After expectation")
	}
	for _, h := range e.Headers {
		if h.Name == "" || (!h.Present && h.Value != "") {
			fail("expected: header %q", h.Name)
		}
	}
	if e.Latency.P95 <= 0 || e.Latency.Max < e.Latency.P95 {
		fail("expected: latency bound p95 %s max %s", e.Latency.P95, e.Latency.Max)
	}
	if (r.Request.WarmUp > 0) != (e.WarmUpMax > 0) {
		fail("expected: a warm-up bound is needed exactly when there are warm-up requests (warm-up %d, bound %s)",
			r.Request.WarmUp, e.WarmUpMax)
	}
	if len(e.Metrics) == 0 || len(e.Logs) == 0 || len(e.MaxCalls) == 0 {
		fail("expected: metrics, logs and MAX calls need at least one expectation each")
	}
	for _, m := range e.Metrics {
		if m.Name == "" || !validCount(m.Delta) {
			fail("expected: metric %q delta %s", m.Name, m.Delta)
		}
	}
	for _, g := range e.Gauges {
		errs = append(errs, validateGauge(g)...)
	}
	for _, l := range e.Logs {
		if !validCount(l.Count) || (l.Level == "" && l.Msg == "" && len(l.Attrs) == 0) {
			fail("expected: log %q count %s", l.Msg, l.Count)
		}
	}
	errs = append(errs, validateStores(r)...)
	for _, c := range e.MaxCalls {
		if (c.Endpoint != MaxChat && c.Endpoint != MaxMe) || !validCount(c.Count) || (c.Endpoint == MaxMe && c.MaxChatID != 0) {
			fail("expected: MAX calls %s %d %s", c.Endpoint, c.MaxChatID, c.Count)
		}
		if c.Endpoint == MaxChat && c.MaxChatID != 0 && !linkedMaxID(r.Given.Seed, c.MaxChatID) {
			fail("expected: MAX calls for unseeded MAX chat %d", c.MaxChatID)
		}
	}
	if p := e.MaxPause; p != nil {
		if r.Given.MaxAPI.Kind != FaultRateLimited || p.RetryAfter != r.Given.MaxAPI.RetryAfter {
			fail("expected: a Retry-After pause needs MAX rate-limiting with the same Retry-After")
		}
		if p.InFlight <= 0 || p.InFlight >= p.RetryAfter {
			fail("expected: Retry-After pause in-flight allowance %s outside (0, %s)", p.InFlight, p.RetryAfter)
		}
	}
	needHealth := r.Group == GroupHealth || r.Group == GroupPostgres || isHealthPath(r.Request.Path)
	if needHealth != (e.Health != nil) {
		fail("expected: health JSON required exactly for health and postgres rows")
	}
	if h := e.Health; h != nil {
		if h.Service != HealthHealthy && h.Service != HealthDegraded && h.Service != HealthUnhealthy {
			fail("expected: health service %q", h.Service)
		}
		if len(h.Dependencies) == 0 {
			fail("expected: health dependencies")
		}
		for d, s := range h.Dependencies {
			if !slices.Contains(Dependencies(), d) || (s != HealthHealthy && s != HealthUnhealthy && s != "unknown") {
				fail("expected: health dependency %s %q", d, s)
			}
		}
		if isHealthPath(r.Request.Path) && h.Status != e.Status {
			fail("expected: health status %d differs from the request's %d", h.Status, e.Status)
		}
	}
	if (r.Group == GroupHealth || r.Group == GroupPostgres) && len(e.Probes) == 0 {
		fail("expected: readiness and liveness probes required for %s rows", r.Group)
	}
	if (r.Group == GroupRecovery) != (e.Recovery != nil) {
		fail("expected: recovery required exactly for recovery rows")
	}
	if rc := e.Recovery; rc != nil {
		if rc.Within <= 0 || rc.Status == 0 || len(rc.Chats) == 0 {
			fail("expected: recovery needs a bound, a status and chats")
		}
		errs = append(errs, validateChats("recovery chats", r, rc.Chats, ids, false)...)
		for _, g := range rc.Gauges {
			errs = append(errs, validateGauge(g)...)
		}
	}
	if e.Within <= 0 || e.Hold < 0 {
		fail("expected: within must be positive, hold not negative")
	}
	return errs
}

func validCount(c Count) bool { return c.Min >= 0 && (c.Max < 0 || c.Max >= c.Min) }

func validateGauge(g GaugeExpectation) []error {
	if g.Name == "" || (g.Min == nil && g.Max == nil) || (g.Min != nil && g.Max != nil && *g.Min > *g.Max) {
		return []error{fmt.Errorf("expected: gauge %q bounds", g.Name)}
	}
	return nil
}

func hasHeader(hs []HeaderExpectation, name string) bool {
	for _, h := range hs {
		if strings.EqualFold(h.Name, name) && h.Present {
			return true
		}
	}
	return false
}

func linkedMaxID(s Seed, maxID int64) bool {
	for _, c := range s.Chats {
		if c.MaxChatID == maxID {
			return true
		}
	}
	return false
}

// redisUnreachableKind reports whether Redis cannot be read at all under the fault.
func redisUnreachableKind(k FaultKind) bool {
	switch k {
	case FaultDown, FaultBlackhole, FaultLatency, FaultReset, FaultPaused:
		return true
	}
	return false
}

func validateStores(r Row) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf("expected stores: "+format, args...)) }
	want := map[string]bool{}
	for _, c := range r.Given.Seed.Chats {
		want[fmt.Sprintf("%d/%s", c.ID, StoreRedis)] = true
		want[fmt.Sprintf("%d/%s", c.ID, StoreDatabase)] = true
	}
	got := map[string]bool{}
	for _, s := range r.Expected.Stores {
		key := fmt.Sprintf("%d/%s", s.ChatID, s.Store)
		if got[key] {
			fail("%s twice", key)
		}
		got[key] = true
		sc, ok := r.Given.Seed.Chat(s.ChatID)
		if !ok {
			fail("chat %d is not seeded", s.ChatID)
			continue
		}
		switch s.Want {
		case StoreUnchanged:
		case StoreRefreshed, StoreUnchangedOrRefreshed:
			if !sc.Linked() {
				fail("chat %d is not linked, so it cannot be refreshed", s.ChatID)
			}
			if s.Want == StoreRefreshed && r.Expected.Recovery == nil && (maxFailing(r.Given.MaxAPI) || sc.MaxStatus != 0) {
				fail("chat %d refreshed while MAX is %s", s.ChatID, r.Given.MaxAPI)
			}
		case StoreAbsent:
			if s.Store != StoreRedis || r.Given.Redis.Kind != FaultRestartedEmpty {
				fail("chat %d: only a Redis entry lost in a restart can be absent", s.ChatID)
			}
		default:
			fail("chat %d: unknown state %q", s.ChatID, s.Want)
		}
	}
	if !maps.Equal(want, got) {
		fail("every seeded chat needs one expectation per store")
	}
	return errs
}

// maxFailing reports whether MAX answers no chat request successfully under the fault.
func maxFailing(f Fault) bool { return f.Active() && f.Times == 0 }

// maxReplicas bounds Given.Replicas: each is a process on the harness's machine.
const maxReplicas = 5

func validateSLA(r Row) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf("sla: "+format, args...)) }
	s := r.SLA.Staleness
	switch s.Kind {
	case StalenessBounded, StalenessUnbounded, StalenessNotServed:
	default:
		fail("staleness kind %q", s.Kind)
	}
	if s.Note == "" || s.Max < 0 || (s.Kind != StalenessBounded && s.Max != 0) {
		fail("staleness needs a note, and a bound only when bounded")
	}
	_, serves := servedChats(r)
	servesData := serves && r.Expected.Status == http.StatusOK
	if servesData == (s.Kind == StalenessNotServed) {
		fail("staleness %s while the row serves data: %v", s.Kind, servesData)
	}
	if len(r.SLA.Alerts) == 0 {
		fail("alerts required (AlertNone when none fires)")
	}
	for i, a := range r.SLA.Alerts {
		if a == AlertNone && len(r.SLA.Alerts) > 1 {
			fail("%s must stand alone", AlertNone)
		}
		if a != AlertNone && !slices.Contains(Alerts(), a) {
			fail("unknown alert %q", a)
		}
		if slices.Contains(r.SLA.Alerts[:i], a) {
			fail("alert %s twice", a)
		}
	}
	for _, a := range r.SLA.NotReplayed {
		if !slices.Contains(r.SLA.Alerts, a) || a == AlertNone {
			fail("alert %s not replayed but not expected to fire", a)
		}
	}
	if (len(r.SLA.NotReplayed) > 0) != (r.SLA.NotReplayedWhy != "") {
		fail("alerts not replayed need a reason, and a reason needs alerts")
	}
	return errs
}

// contradictions finds pairs of expectations no observation can satisfy together: a count
// that must reach Min while a wider one (covering every event the first counts, over a window
// at least as long) must stay at or below a smaller Max.
func contradictions(r Row) []error {
	var errs []error
	e := r.Expected
	covers := func(outerMeasured, innerMeasured bool) bool { return !outerMeasured || innerMeasured }
	for _, a := range e.Logs {
		for _, b := range e.Logs {
			if b.Count.Max >= 0 && a.Count.Min > b.Count.Max && covers(b.Measured, a.Measured) &&
				(b.Level == "" || b.Level == a.Level) && (b.Msg == "" || b.Msg == a.Msg) && subset(b.Attrs, a.Attrs) {
				errs = append(errs, fmt.Errorf("contradiction: log %s %q %v %s and %s %q %v %s",
					a.Level, a.Msg, a.Attrs, a.Count, b.Level, b.Msg, b.Attrs, b.Count))
			}
		}
	}
	for _, a := range e.Metrics {
		for _, b := range e.Metrics {
			if a.Name == b.Name && b.Delta.Max >= 0 && a.Delta.Min > b.Delta.Max && covers(b.Measured, a.Measured) && subset(b.Labels, a.Labels) {
				errs = append(errs, fmt.Errorf("contradiction: metric %s%v %s and %v %s", a.Name, a.Labels, a.Delta, b.Labels, b.Delta))
			}
		}
	}
	for _, a := range e.MaxCalls {
		for _, b := range e.MaxCalls {
			if a.Endpoint == b.Endpoint && b.Count.Max >= 0 && a.Count.Min > b.Count.Max && covers(b.Measured, a.Measured) &&
				(b.MaxChatID == 0 || b.MaxChatID == a.MaxChatID) && (b.Status == 0 || b.Status == a.Status) {
				errs = append(errs, fmt.Errorf("contradiction: MAX calls %s %d %s and %d %s", a.Endpoint, a.MaxChatID, a.Count, b.MaxChatID, b.Count))
			}
		}
		// An unreachable MAX never sees a call; only a recovery row lifts the fault.
		if a.Endpoint == MaxChat && a.Count.Min > 0 && r.Given.MaxAPI.Kind == FaultDown && e.Recovery == nil {
			errs = append(errs, fmt.Errorf("contradiction: MAX calls expected while MAX is down"))
		}
	}
	for i, a := range e.Headers {
		for _, b := range e.Headers[i+1:] {
			if strings.EqualFold(a.Name, b.Name) && (a.Present != b.Present || (a.Value != "" && b.Value != "" && a.Value != b.Value)) {
				errs = append(errs, fmt.Errorf("contradiction: header %s", a.Name))
			}
		}
	}
	return errs
}

// subset reports whether every pair of small is in big.
func subset(small, big map[string]string) bool {
	for k, v := range small {
		if bv, ok := big[k]; !ok || bv != v {
			return false
		}
	}
	return true
}
