package matrix

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/faultline/faultline/contract"
)

// Check is one expectation of one row that holds a clause of the contract, or, with Row
// empty, a check the harness makes on every row.
type Check struct {
	Row         string `json:"row,omitempty"`
	Expectation string `json:"expectation"`
	// Reference marks an expectation judged for the reference service only
	// (scope:reference), which another implementation's gate does not apply.
	Reference bool `json:"reference,omitempty"`
}

// ClauseCoverage is one clause of the contract and what checks it.
type ClauseCoverage struct {
	contract.Clause
	Checks []Check `json:"checks"`
	// Unchecked is why no row checks the clause, for the clauses left so on purpose.
	Unchecked string `json:"unchecked,omitempty"`
}

// Held reports whether a gate holds the clause: a check of any scope for a reference
// clause, a contract-scope check for the others.
func (c ClauseCoverage) Held() bool {
	return slices.ContainsFunc(c.Checks, func(k Check) bool { return c.Reference || !k.Reference })
}

// harnessChecks are what the harness checks of every service on every row, by clause.
var harnessChecks = map[string]string{
	"process.migrate": "the environment runs `<cmd> migrate` before the first row and requires exit 0; " +
		"every row starts the service again, which applies the schema again",
	"process.config": "every row configures the service through the environment only and reaches it on HTTP_ADDR; " +
		"the log expectations read its JSON lines on stderr",
	"process.sigterm": "every row ends with SIGTERM and requires exit status 0 (the run column)",
	"data.chats":      "every row seeds the chats table with plain SQL and reads it back directly",
	"data.cache-entry": "every row seeds Redis entries in this format and reads them back directly; " +
		"the TTL of refreshed entries is an expectation of its own",
	"http.metrics": "every row scrapes /metrics several times and parses it as Prometheus text format; " +
		"a scrape that fails to parse fails the row",
	"secrets": "every row searches the service's log, every response body and /metrics for the MAX token " +
		"and the database password (the run column)",
}

// CoverageOf lists every clause with the row expectations and harness checks that hold it,
// and, for a clause no row checks, why (from unchecked).
func CoverageOf(rows []Row, clauses []contract.Clause, unchecked map[string]string) []ClauseCoverage {
	byClause := map[string][]Check{}
	for id, what := range harnessChecks {
		byClause[id] = append(byClause[id], Check{Expectation: what})
	}
	for _, r := range rows {
		for _, k := range rowChecks(r) {
			byClause[k.clause] = append(byClause[k.clause], Check{Row: r.ID, Expectation: k.what, Reference: k.ref || r.Reference})
		}
	}
	out := make([]ClauseCoverage, len(clauses))
	for i, c := range clauses {
		out[i] = ClauseCoverage{Clause: c, Checks: byClause[c.ID], Unchecked: unchecked[c.ID]}
	}
	return out
}

// Coverage is the coverage of the shipped contract by the catalogue.
func Coverage() []ClauseCoverage {
	return CoverageOf(Rows(), contract.Clauses(), Unchecked())
}

// Unchecked are the clauses no row checks on purpose, each with the reason.
func Unchecked() map[string]string {
	return map[string]string{
		"env.reference-settings": "start-up validation of the reference service's own settings is not behaviour " +
			"under faults; chatd's config tests hold it, and other implementations have their own settings",
		"env.lazy-update": "a switch that turns the feature under test off; every row runs with it on",
		"env.cache-error-policy": "its other value, fail, is the original bug kept for the self-test: the variant " +
			"strict-mode runs with it and must be rejected on the Redis rows by both gates; every row runs " +
			"the default, fallback, which the Redis rows check",
		"env.max-token-trimmed": "start-up validation of the reference service (config unit tests " +
			"TestTokenIsTrimmed, TestLoadRejects); the harness always passes a clean token",
		"http.database-saturation": "saturating the pool takes more requests at once than DATABASE_MAX_CONNS, and " +
			"a row sends its requests one after another so that each observation is its own; chatd's tests against " +
			"a real PostgreSQL hold it (TestPoolExhaustionDoesNotOpenTheBreaker, TestStatementTimeoutDoesNotOpenTheBreaker)",
		"metrics.zero-series": "read by the alert rules, whose promtool tests (make alerts) start from series at zero; " +
			"no row scrapes a service before its first event",
		"metrics.reference": "the reference service's extra metrics are read by its alerts, which the alert " +
			"replay checks; the rows read the ones they need",
	}
}

// clauseCheck is one expectation of a row and the clause it holds.
type clauseCheck struct {
	clause, what string
	ref          bool
}

// requestKind names what a row's request is.
func requestKind(req Request) string {
	switch {
	case req.Method == http.MethodPost:
		return "refresh"
	case req.Path == contract.PathList || strings.HasPrefix(req.Path, contract.PathList+"?"):
		return "list"
	case req.Path == contract.PathHealthDetailed:
		return "health"
	case strings.HasPrefix(req.Path, "/chats/"):
		return "get"
	}
	return "other"
}

// rowChecks maps each expectation of the row to the clauses it holds.
func rowChecks(r Row) []clauseCheck {
	var out []clauseCheck
	add := func(clause, what string, ref bool) { out = append(out, clauseCheck{clause, what, ref}) }
	e, g := r.Expected, r.Given
	kind := requestKind(r.Request)
	status := fmt.Sprintf("status %d", e.Status)

	switch {
	case kind == "list" && e.Status == http.StatusOK:
		add("http.list", status+" and every seeded chat", false)
	case kind == "list" && e.Status == http.StatusBadRequest:
		add("http.list", status+" "+e.ErrorCode+" for "+r.Request.Path, false)
	case kind == "get" && (e.Status == http.StatusOK || e.Status == http.StatusNotFound || e.Status == http.StatusBadRequest):
		add("http.get", status, false)
	case kind == "refresh" && e.Status == http.StatusNotFound:
		add("http.refresh.unknown", status, false)
	case kind == "refresh" && e.Status == http.StatusConflict:
		add("http.refresh.unlinked", status, true)
	case kind == "health":
		add("http.health", status, false)
	}
	if e.Status == http.StatusServiceUnavailable && (kind == "list" || kind == "get") {
		add("http.database-unavailable", status, false)
	}
	if e.ErrorCode != "" {
		add("http.errors.codes", "error.code "+e.ErrorCode, false)
		add("http.errors.body", "an error body with code "+e.ErrorCode+" and a message", false)
	}
	for _, h := range e.Headers {
		switch {
		case h.Name == RetryAfterHeader && h.Present:
			add("http.errors.codes", "header "+h.Name, h.Reference)
		case h.Name == "Allow" && h.Present:
			add("http.errors.router", "header Allow with "+e.ErrorCode, h.Reference)
		}
	}
	switch e.ErrorCode {
	case "route_not_found", "method_not_allowed", "request_too_large":
		add("http.errors.router", status+" "+e.ErrorCode, false)
	}
	if g.Postgres.Active() && r.Request.WarmUp > 0 && e.Latency.P95 > 0 {
		add("http.database-breaker", "p95 latency once the database breaker is open", true)
	}

	for _, c := range e.Chats {
		item := fmt.Sprintf("chat %d", c.ID)
		add("http.chat.source", item+" source "+string(c.Source), false)
		add("http.chat.updated-at", item+" updated_at of its "+string(c.Value)+" value", false)
		sc, _ := g.Seed.Chat(c.ID)
		add("http.list", item+" with its seeded name and max_chat_id, in id order", false)
		if !sc.Linked() {
			add("http.chat.unlinked", item+" max_chat_id null", false)
		}
		if c.Value == OriginCacheNow {
			add("behaviour.clock-skew", item+" served as observed now, not at its future time", true)
		}
		if sc.Cache != nil && sc.Cache.Raw != "" && c.Source == SourceDatabase {
			add("data.cache-undecodable", item+" served from the database over a value that does not decode", false)
		}
		switch {
		case c.Source == SourceAPI && kind == "refresh":
			add("http.refresh.success", item+" served from MAX", false)
		case c.Source == SourceDatabase && kind == "refresh" && g.MaxAPI.Active():
			add("http.refresh.failure", item+" served from the database while MAX fails", false)
		case c.Source == SourceDatabase && kind == "refresh":
			add("http.refresh.newer-kept", item+" the database's newer count", false)
		}
		if sc.Cache != nil && g.Redis.Kind == FaultUp && g.Cache != CacheCold && (c.Source == SourceCache || c.Source == SourceDatabase) {
			add("behaviour.best-data-first", item+" served from the newer store", false)
		}
	}

	if g.Redis.Active() && e.Status == http.StatusOK && kind != "health" {
		add("behaviour.redis-degrades", fmt.Sprintf("status 200 under Redis %s", g.Redis.Kind), false)
		if e.Latency.Max > 0 {
			add("env.redis-timeout", "latency within REDIS_TIMEOUT plus slack", false)
		}
		if e.Latency.P95 > 0 && r.Request.WarmUp > 0 {
			add("behaviour.short-circuit", "p95 latency once the Redis breaker is open", false)
		}
	}
	if g.Postgres.Active() && e.Latency.Max > 0 && e.Status == http.StatusServiceUnavailable {
		add("env.database-timeout", "latency within DATABASE_TIMEOUT plus slack", false)
	}
	if g.MaxAPI.Active() && e.Latency.Max > 0 && kind == "list" {
		add("behaviour.never-waits-for-max", fmt.Sprintf("list latency under MAX %s", g.MaxAPI.Kind), false)
	}
	if (g.MaxAPI.Kind == FaultSlow || g.MaxAPI.Kind == FaultHang) && e.Latency.Max > 0 && kind == "refresh" {
		add("env.max-timeout", "a POST refresh gives up within MAX_API_TIMEOUT", false)
	}

	for _, m := range e.Metrics {
		what := "metric " + m.Name + labelText(m.Labels)
		switch m.Name {
		case MetricCacheErrors:
			add("metrics.cache-errors", what, m.Reference)
		case MetricMaxErrors:
			add("metrics.max-errors", what, m.Reference)
			if m.Labels["reason"] != "" {
				add("metrics.max-error-reasons", what, true)
			}
			if g.MaxAPI.Active() && m.Delta.Min > 0 {
				add("behaviour.max-degrades", what+" counted", m.Reference)
			}
		case MetricFallback:
			add("metrics.fallback", what, m.Reference)
		case MetricRefreshDropped:
			if m.Labels["reason"] == DroppedLocalRateLimit && m.Delta.Min > 0 {
				add("behaviour.local-rate-limit", what+": refused by the rate limit, not a MAX failure", true)
			}
			if m.Labels["reason"] == DroppedBackoff && m.Delta.Min > 0 {
				add("behaviour.failure-backoff", what+": later lists do not ask MAX again", true)
			}
		case MetricHTTPRequests:
			add("metrics.http-requests", what, m.Reference)
		case MetricHTTPDuration + "_count":
			add("metrics.http-duration", what, m.Reference)
		}
	}
	for _, gx := range e.Gauges {
		if gx.Name == MetricFreshness {
			add("metrics.freshness", "gauge "+gx.Name, gx.Reference)
		}
	}
	for _, l := range e.Logs {
		what := fmt.Sprintf("log %s %q", l.Level, l.Msg)
		switch l.Msg {
		case LogFallback:
			add("logs.fallback", what, l.Reference)
		case LogMaxFailed:
			add("logs.max-failed", what, l.Reference)
			if g.MaxAPI.Active() && l.Count.Min > 0 {
				add("behaviour.max-degrades", what+" logged", l.Reference)
			}
		case "":
		default:
			add("logs.reference", what, true)
		}
	}

	for _, s := range e.Stores {
		what := fmt.Sprintf("chat %d in %s %s", s.ChatID, s.Store, s.Want)
		switch {
		case s.Want == StoreUnchanged && g.MaxAPI.Active():
			add("behaviour.failed-refresh-writes-nothing", what+" after a failed refresh", s.Reference)
		case s.Want == StoreUnchanged && seededInFuture(g.Seed, s.ChatID, s.Store):
			add("behaviour.writes-newer-only", what+": the store's newer observation kept", s.Reference)
		case s.Want == StoreRefreshed && seededBeyondSkew(g.Seed, s.ChatID, s.Store):
			add("behaviour.clock-skew", what+": a future-dated value beyond CLOCK_SKEW_MAX replaced", true)
		case s.Want == StoreRefreshed:
			add("behaviour.lazy-refresh", what, s.Reference)
			if s.Store == StoreRedis {
				add("behaviour.writes-newer-only", what, s.Reference)
			}
		}
		if s.TTL != nil {
			add("data.cache-entry", what+" with TTL "+s.TTL.String(), s.Reference)
			add("env.cache-ttl", what+" with TTL "+s.TTL.String(), s.Reference)
		}
	}
	if e.CachePings != nil {
		add("http.health.cache", fmt.Sprintf("Redis PINGs %s over %d measured probes", e.CachePings, r.Request.Repeat), true)
	}
	if e.CacheReads != nil {
		add("behaviour.one-cache-read", fmt.Sprintf("Redis reads %s over %d measured requests", e.CacheReads, r.Request.Repeat), false)
	}
	for _, c := range e.MaxCalls {
		what := fmt.Sprintf("MAX %s calls %s", c.Endpoint, c.Count)
		switch {
		case c.Endpoint == MaxMe:
			add("http.health.me-probe", what, true)
		case kind == "health" && c.Count.Max == 0:
			add("http.health.max-passive", what+" while health is asked", c.Reference)
		case c.Count.Max == 0 && g.Cache == CacheFresh && !g.MaxAPI.Active() && g.Redis.Kind == FaultUp:
			add("env.stale-after", what+" for a chat younger than PARTICIPANTS_STALE_AFTER", c.Reference)
		case c.Count.Max == 0 && c.MaxChatID != 0 && backedOff(g.Seed, c.MaxChatID):
			add("data.backoff-key", what+": the backoff another replica wrote under participants:backoff:<id>", true)
			add("behaviour.failure-backoff", what+": a backoff in Redis holds for every replica", true)
		case c.Count.Max == 1 && g.MaxAPI.Kind == FaultStatus && g.MaxAPI.Status < 500 && r.Request.Repeat > 1:
			add("behaviour.failure-backoff", what+" over several lists while MAX refuses the chat", true)
		case c.Count.Max == 1 && (r.Request.Repeat+r.Request.WarmUp > 1 || kind == "refresh"):
			add("behaviour.dedup", what+" over several requests", c.Reference)
		}
		if c.Count.Min > 0 && c.Status == 0 && !g.MaxAPI.Active() {
			add("env.max-token", what+": the fake MAX answers only the token sent verbatim", c.Reference)
		}
	}
	if spent, paused := quotaSeeded(g.Seed); spent || paused {
		what := "the MAX budget spent by other replicas"
		if paused {
			what = "a 429 pause another replica stored"
		}
		add("behaviour.shared-quota", "no MAX call under "+what, true)
		add("data.quota-keys", what+", seeded under its key", true)
	}
	if g.Replicas > 1 {
		replicas := fmt.Sprintf("%d replicas", g.Replicas)
		if len(e.MaxRate) > 0 && g.Redis.Kind == FaultUp {
			add("behaviour.shared-quota", "MAX calls per second of "+replicas+" together", true)
		}
		if len(e.MaxRate) > 0 && redisUnreachableKind(g.Redis.Kind) {
			add("behaviour.quota-fallback", "MAX calls per second of "+replicas+" on their own shares, Redis "+
				g.Redis.String(), true)
		}
		if e.MaxPause != nil {
			add("behaviour.shared-quota", "no call by any of "+replicas+" during a 429's pause", true)
		}
		for _, c := range e.MaxCalls {
			if c.MaxChatID == 0 && c.Status == 0 && c.Count.Max == len(g.Seed.Chats) && g.Redis.Kind == FaultUp {
				add("behaviour.refresh-claim", "one MAX call per chat listed by every one of "+replicas, true)
			}
		}
	}
	for _, mr := range e.MaxRate {
		add("behaviour.bounded-refreshes", "MAX calls per second "+mr.PerSecond.String(), mr.Reference)
	}
	if p := e.MaxPause; p != nil {
		add("behaviour.retry-after", "no MAX call for "+formatDuration(p.RetryAfter)+" after a 429", p.Reference)
	}
	if h := e.Health; h != nil {
		add("http.health", "health JSON: service "+h.Service, h.Reference)
	}
	for _, p := range e.Probes {
		switch p.Path {
		case contract.PathReadyz:
			add("http.readyz", fmt.Sprintf("GET %s %d", p.Path, p.Status), false)
		case contract.PathLivez:
			add("http.livez", fmt.Sprintf("GET %s %d", p.Path, p.Status), false)
		}
	}
	if rc := e.Recovery; rc != nil {
		add("behaviour.short-circuit", "back to normal within "+formatDuration(rc.Within)+" once the fault is lifted", false)
	}
	if g.Redis.Active() && kind == "list" && slices.ContainsFunc(e.MaxCalls, func(c MaxCallExpectation) bool { return c.Count.Min > 0 }) {
		add("behaviour.lazy-refresh.cache-unreadable", "a stale database row is refreshed while Redis is unreadable", false)
	}
	return out
}

// seededInFuture reports whether the chat's value in the store was seeded newer than the
// row's start: an observation another replica made after any refresh of the row can be.
func seededInFuture(s Seed, chatID int64, store Store) bool {
	c, ok := s.Chat(chatID)
	if !ok {
		return false
	}
	if store == StoreRedis {
		return c.Cache != nil && c.Cache.Age < 0
	}
	return c.DB.Age < 0
}

func labelText(l map[string]string) string {
	if len(l) == 0 {
		return ""
	}
	parts := make([]string, 0, len(l))
	for k, v := range l {
		parts = append(parts, k+"="+v)
	}
	slices.Sort(parts)
	return "{" + strings.Join(parts, ",") + "}"
}

// writeCoverageMarkdown renders the contract coverage: per clause, the rows that check it
// and how many of them passed in this run.
func writeCoverageMarkdown(b *strings.Builder, rep Report) {
	if len(rep.Coverage) == 0 {
		return
	}
	result := map[string]Result{}
	for _, r := range rep.Rows {
		result[r.ID] = r.Result
	}
	held, unchecked := 0, 0
	for _, c := range rep.Coverage {
		switch {
		case c.Held():
			held++
		case c.Unchecked != "":
			unchecked++
		}
	}
	fmt.Fprintf(b, "\n## Contract coverage\n\n%d of %d clauses of docs/contract.md are checked; %d are left unchecked on purpose. "+
		"A row counts for a contract clause only with a contract-scope expectation.\n\n", held, len(rep.Coverage), unchecked)
	b.WriteString("| Clause | Scope | Rows checking it (passed in this run) | Harness | Unchecked because |\n|---|---|---|---|---|\n")
	for _, c := range rep.Coverage {
		var rows []string
		passed, harness := 0, ""
		for _, k := range c.Checks {
			switch {
			case k.Row == "":
				harness = "every row"
			case !slices.Contains(rows, k.Row) && (c.Reference || !k.Reference):
				rows = append(rows, k.Row)
				if result[k.Row] == ResultPassed {
					passed++
				}
			}
		}
		scope := "contract"
		if c.Reference {
			scope = "reference"
		}
		cell := "none"
		if len(rows) > 0 {
			cell = fmt.Sprintf("%d (%d passed): `%s`", len(rows), passed, rows[0])
			if len(rows) > 1 {
				cell += fmt.Sprintf(" and %d more", len(rows)-1)
			}
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s | %s |\n", c.ID, scope, cell, harness, mdCell(c.Unchecked))
	}
}

// seededBeyondSkew reports whether the chat's value in the store was seeded further in the
// future than CLOCK_SKEW_MAX: a replica with a fast clock wrote it.
func seededBeyondSkew(s Seed, chatID int64, store Store) bool {
	c, ok := s.Chat(chatID)
	if !ok {
		return false
	}
	if store == StoreRedis {
		return c.Cache != nil && -c.Cache.Age > clockSkewMax
	}
	return -c.DB.Age > clockSkewMax
}

// backedOff reports whether the chat linked to MAX id maxChatID was seeded with a backoff.
func backedOff(s Seed, maxChatID int64) bool {
	i := slices.IndexFunc(s.Chats, func(c SeedChat) bool { return c.MaxChatID == maxChatID })
	return i >= 0 && s.Chats[i].BackedOff > 0
}
