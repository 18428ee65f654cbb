package matrix

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Field names a column of the report: a group of expectations checked together.
type Field string

// The report's columns, in order.
const (
	FieldStatus   Field = "status"
	FieldChats    Field = "chats"
	FieldHeaders  Field = "headers"
	FieldLatency  Field = "latency"
	FieldMetrics  Field = "metrics"
	FieldLogs     Field = "logs"
	FieldStores   Field = "stores"
	FieldMaxCalls Field = "max_calls"
	// FieldResources holds the service's own resources over the row (goroutines, fds).
	FieldResources Field = "resources"
	FieldHealth    Field = "health"
	FieldProbes    Field = "probes"
	FieldRecovery  Field = "recovery"
	FieldAlerts    Field = "alerts"
	// FieldRun holds what is wrong with the run itself: scenario failures, a leaked secret, an
	// observation of another row.
	FieldRun Field = "run"
)

// Fields returns every field in column order.
func Fields() []Field {
	return []Field{FieldStatus, FieldChats, FieldHeaders, FieldLatency, FieldMetrics, FieldLogs, FieldStores,
		FieldMaxCalls, FieldResources, FieldHealth, FieldProbes, FieldRecovery, FieldAlerts, FieldRun}
}

// Expects reports whether the row has expectations in the field, so a report can tell an empty
// cell from a passed one.
func Expects(r Row, f Field) bool {
	e := r.Expected
	switch f {
	case FieldChats:
		return len(e.Chats) > 0
	case FieldHeaders:
		return len(e.Headers) > 0
	case FieldMetrics:
		return len(e.Metrics)+len(e.Gauges) > 0
	case FieldLogs:
		return len(e.Logs) > 0
	case FieldStores:
		return len(e.Stores) > 0
	case FieldMaxCalls:
		return len(e.MaxCalls)+len(e.MaxRate) > 0 || e.MaxPause != nil
	case FieldResources:
		return len(e.Resources) > 0
	case FieldHealth:
		return e.Health != nil
	case FieldProbes:
		return len(e.Probes) > 0
	case FieldRecovery:
		return e.Recovery != nil
	case FieldAlerts:
		return len(r.SLA.Alerts) > 0
	}
	return true
}

// Mismatch is one expectation an observation does not satisfy.
type Mismatch struct {
	Field Field `json:"field"`
	// Item names the expectation within the field, e.g. "chat 2 source".
	Item     string `json:"item"`
	Expected string `json:"expected"`
	Observed string `json:"observed"`
	// Reference marks an expectation only the reference service promises.
	Reference bool `json:"reference,omitempty"`
}

// String renders the mismatch on one line.
func (m Mismatch) String() string {
	s := fmt.Sprintf("%s: %s: expected %s, observed %s", m.Field, m.Item, m.Expected, m.Observed)
	if m.Reference {
		s += " (reference)"
	}
	return s
}

// timeTolerance absorbs storage precision (microseconds in PostgreSQL) and clock reading
// order; seeded ages differ by minutes, so it cannot confuse two sources.
const timeTolerance = time.Second

// Compare returns every expectation of the row the observation does not satisfy, in column
// order; none means the row passed. It is pure, so scenarios can call it while polling.
func Compare(r Row, o Observation) []Mismatch {
	c := comparison{row: r, obs: o}
	c.run()
	c.status()
	c.chats()
	c.headers()
	c.latency()
	c.metrics()
	c.logs()
	c.stores()
	c.maxCalls()
	c.resources()
	c.health()
	c.probes()
	c.recovery()
	c.alerts()
	out := c.out[:0]
	for _, m := range c.out {
		if r.Reference {
			m.Reference = true
		}
		if o.ContractOnly && m.Reference {
			continue
		}
		out = append(out, m)
	}
	slices.SortStableFunc(out, func(a, b Mismatch) int {
		return slices.Index(Fields(), a.Field) - slices.Index(Fields(), b.Field)
	})
	return out
}

// RecoveryMatches reports whether a response seen after the faults were lifted is the
// recovered behaviour: scenarios poll the row's request until it is, and record how long that took.
func RecoveryMatches(r Row, seededAt time.Time, status int, chats []ObservedChat) bool {
	rc := r.Expected.Recovery
	if rc == nil || status != rc.Status {
		return false
	}
	c := comparison{row: r, obs: Observation{SeededAt: seededAt}}
	c.chatList(FieldRecovery, "recovered ", rc.Chats, chats, false)
	return len(c.out) == 0
}

type comparison struct {
	row Row
	obs Observation
	out []Mismatch
}

func (c *comparison) add(f Field, item, expected, observed string, reference bool) {
	c.out = append(c.out, Mismatch{Field: f, Item: item, Expected: expected, Observed: observed, Reference: reference})
}

func (c *comparison) run() {
	if c.obs.RowID != c.row.ID {
		c.add(FieldRun, "row", c.row.ID, orNone(c.obs.RowID), false)
	}
	for _, f := range c.obs.Failures {
		c.add(FieldRun, "scenario", "no failure", f, false)
	}
	for _, where := range c.obs.SecretsFound {
		c.add(FieldRun, "secrets", "no secret in the service's output", "a secret in "+where, false)
	}
}

func (c *comparison) status() {
	e, o := c.row.Expected, c.obs
	if len(o.Statuses) != c.row.Request.Repeat {
		c.add(FieldStatus, "responses", strconv.Itoa(c.row.Request.Repeat), strconv.Itoa(len(o.Statuses)), false)
	}
	var wrong []string
	for i, s := range o.Statuses {
		if s != e.Status {
			wrong = append(wrong, fmt.Sprintf("#%d %d", i+1, s))
		}
	}
	if len(wrong) > 0 {
		c.add(FieldStatus, "status", strconv.Itoa(e.Status), strings.Join(wrong, ", "), false)
	}
	if e.ErrorCode != "" && o.ErrorCode != e.ErrorCode {
		c.add(FieldStatus, "error code", e.ErrorCode, orNone(o.ErrorCode), true)
	}
}

func (c *comparison) chats() {
	e := c.row.Expected
	if len(e.Chats) == 0 {
		return
	}
	c.chatList(FieldChats, "", e.Chats, c.obs.Chats, true)
	for _, want := range e.Chats {
		srcs := c.obs.Sources[want.ID]
		for _, s := range srcs {
			if s != want.Source {
				c.add(FieldChats, fmt.Sprintf("chat %d sources over all responses", want.ID), string(want.Source), joinSources(srcs), false)
				break
			}
		}
	}
}

// chatList compares chats against expectations; exact also forbids chats not expected.
func (c *comparison) chatList(f Field, prefix string, want []ChatExpectation, got []ObservedChat, exact bool) {
	byID := map[int64]ObservedChat{}
	for _, g := range got {
		byID[g.ID] = g
	}
	for _, w := range want {
		g, ok := byID[w.ID]
		item := fmt.Sprintf("%schat %d", prefix, w.ID)
		if !ok {
			c.add(f, item, "served", "absent", false)
			continue
		}
		if g.Source != w.Source {
			c.add(f, item+" source", string(w.Source), string(g.Source), false)
		}
		if ok, expected := c.valueMatches(w, g); !ok {
			c.add(f, item+" value", expected, c.describeChat(g), false)
		}
	}
	if exact {
		for _, g := range got {
			if !slices.ContainsFunc(want, func(w ChatExpectation) bool { return w.ID == g.ID }) {
				c.add(f, fmt.Sprintf("%schat %d", prefix, g.ID), "absent", "served", false)
			}
		}
	}
}

// valueMatches checks the count and updated_at of a served chat against its origin and
// returns the expectation in words.
func (c *comparison) valueMatches(w ChatExpectation, g ObservedChat) (bool, string) {
	sc, ok := c.row.Given.Seed.Chat(w.ID)
	if !ok {
		return false, "a seeded chat"
	}
	db := func() (bool, string) {
		at, known := sc.DB.UpdatedAt(c.obs.SeededAt)
		desc := fmt.Sprintf("count %d, updated_at %s (database)", sc.DB.Count, c.describeTime(at, known))
		return g.Count == sc.DB.Count && c.sameTime(g.UpdatedAt, at, known), desc
	}
	fromMax := func() (bool, string) {
		desc := fmt.Sprintf("count %d, updated_at during the row (MAX)", sc.MaxCount)
		return g.Count == sc.MaxCount && g.UpdatedAt != nil && !g.UpdatedAt.Before(c.obs.SeededAt.Add(-timeTolerance)), desc
	}
	switch w.Value {
	case OriginDatabase:
		return db()
	case OriginMax:
		return fromMax()
	case OriginCache:
		if sc.Cache == nil {
			return false, "a seeded cache entry"
		}
		at, _ := sc.Cache.UpdatedAt(c.obs.SeededAt)
		return g.Count == sc.Cache.Count && c.sameTime(g.UpdatedAt, at, true),
			fmt.Sprintf("count %d, updated_at %s (cache)", sc.Cache.Count, c.describeTime(at, true))
	case OriginDatabaseOrMax:
		okDB, dDB := db()
		okMax, dMax := fromMax()
		return okDB || okMax, dDB + " or " + dMax
	}
	return false, "unknown origin " + string(w.Value)
}

func (c *comparison) sameTime(got *time.Time, want time.Time, known bool) bool {
	if !known {
		return got == nil
	}
	if got == nil {
		return false
	}
	d := got.Sub(want)
	return d < timeTolerance && d > -timeTolerance
}

// describeTime renders t relative to the seeding time, so reports read "seeded-5m0s" rather
// than a timestamp nobody can check by eye.
func (c *comparison) describeTime(t time.Time, known bool) string {
	if !known {
		return "omitted"
	}
	if c.obs.SeededAt.IsZero() {
		return t.UTC().Format(time.RFC3339Nano)
	}
	d := t.Sub(c.obs.SeededAt).Round(time.Millisecond)
	if d >= 0 {
		return "seeded+" + d.String()
	}
	return "seeded" + d.String()
}

func (c *comparison) describeChat(g ObservedChat) string {
	return c.describeCount(g.Count, g.UpdatedAt)
}

// describeCount renders a served or stored count and its updated_at, which may be unknown.
func (c *comparison) describeCount(count int, updatedAt *time.Time) string {
	at := time.Time{}
	if updatedAt != nil {
		at = *updatedAt
	}
	return fmt.Sprintf("count %d, updated_at %s", count, c.describeTime(at, updatedAt != nil))
}

func (c *comparison) headers() {
	for _, h := range c.row.Expected.Headers {
		v, ok := header(c.obs.Headers, h.Name)
		switch {
		case h.Present && !ok:
			c.add(FieldHeaders, h.Name, "present", "absent", h.Reference)
		case !h.Present && ok:
			c.add(FieldHeaders, h.Name, "absent", v, h.Reference)
		case h.Present && h.Value != "" && v != h.Value:
			c.add(FieldHeaders, h.Name, h.Value, v, h.Reference)
		}
	}
}

func header(hs map[string]string, name string) (string, bool) {
	for k, v := range hs {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

func (c *comparison) latency() {
	b, l := c.row.Expected.Latency, c.obs.Latency
	if l.Count == 0 {
		c.add(FieldLatency, "requests timed", strconv.Itoa(c.row.Request.Repeat), "0", false)
		return
	}
	if l.P95 > b.P95 {
		c.add(FieldLatency, "p95", "<= "+b.P95.String(), l.P95.String(), false)
	}
	if l.Max > b.Max {
		c.add(FieldLatency, "max", "<= "+b.Max.String(), l.Max.String(), false)
	}
	if w := c.row.Expected.WarmUpMax; w > 0 && c.row.Request.WarmUp > 0 {
		wl := c.obs.WarmUpLatency
		switch {
		case wl.Count == 0:
			c.add(FieldLatency, "warm-up requests timed", strconv.Itoa(c.row.Request.WarmUp), "0", false)
		case wl.Max > w:
			c.add(FieldLatency, "warm-up max", "<= "+w.String(), wl.Max.String(), false)
		}
	}
}

func (c *comparison) metrics() {
	haveMeasured := slices.ContainsFunc(c.obs.Metrics, func(d MetricDelta) bool { return d.Measured })
	for _, m := range c.row.Expected.Metrics {
		item := seriesName(m.Name, m.Labels)
		measured := m.Measured
		if measured && !haveMeasured {
			if c.row.Request.WarmUp > 0 {
				c.add(FieldMetrics, item+" (measured)", m.Delta.String(), "no measured-window deltas recorded", m.Reference)
				continue
			}
			// Without warm-up the two windows start together.
			measured = false
		}
		var sum float64
		for _, d := range c.obs.Metrics {
			if d.Measured == measured && d.Name == m.Name && subset(m.Labels, d.Labels) {
				sum += d.Delta
			}
		}
		if !m.Delta.Contains(sum) {
			if m.Measured {
				item += " (measured)"
			}
			c.add(FieldMetrics, item, "delta "+m.Delta.String(), "delta "+formatFloat(sum), m.Reference)
		}
	}
	c.gauges(FieldMetrics, "", c.row.Expected.Gauges, c.obs.Gauges)
}

func (c *comparison) gauges(f Field, prefix string, want []GaugeExpectation, got []GaugeValue) {
	for _, g := range want {
		item := prefix + seriesName(g.Name, g.Labels)
		exp := gaugeRange(g)
		found := false
		for _, v := range got {
			if v.Name != g.Name || !subset(g.Labels, v.Labels) {
				continue
			}
			found = true
			if (g.Min != nil && v.Value < *g.Min) || (g.Max != nil && v.Value > *g.Max) {
				c.add(f, item, exp, formatFloat(v.Value), g.Reference)
			}
		}
		if !found {
			c.add(f, item, exp, "not exported", g.Reference)
		}
	}
}

func gaugeRange(g GaugeExpectation) string {
	switch {
	case g.Min != nil && g.Max != nil && *g.Min == *g.Max:
		return "= " + formatFloat(*g.Min)
	case g.Min != nil && g.Max != nil:
		return formatFloat(*g.Min) + ".." + formatFloat(*g.Max)
	case g.Min != nil:
		return ">= " + formatFloat(*g.Min)
	case g.Max != nil:
		return "<= " + formatFloat(*g.Max)
	}
	return "any"
}

func (c *comparison) logs() {
	for _, l := range c.row.Expected.Logs {
		n := 0
		for _, ev := range c.obs.Logs {
			if c.obs.Phases.contains(ev.Time, l.Measured) && logMatches(l, ev) {
				n++
			}
		}
		if !l.Count.Contains(float64(n)) {
			item := describeLog(l)
			if l.Measured {
				item += " (measured)"
			}
			c.add(FieldLogs, item, l.Count.String(), strconv.Itoa(n), l.Reference)
		}
	}
}

func logMatches(l LogExpectation, ev LogEvent) bool {
	if l.Level != "" && !strings.EqualFold(l.Level, ev.Level) {
		return false
	}
	if l.Msg != "" && l.Msg != ev.Msg {
		return false
	}
	for k, v := range l.Attrs {
		got, ok := ev.Attrs[k]
		if !ok || attrText(got) != v {
			return false
		}
	}
	return true
}

// attrText renders a decoded JSON attribute the way expectations spell it: numbers without
// exponent or trailing zeros, so the expectation "3" matches a JSON 3.
func attrText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return formatFloat(x)
	}
	return fmt.Sprint(v)
}

func describeLog(l LogExpectation) string {
	parts := []string{}
	if l.Level != "" {
		parts = append(parts, l.Level)
	} else {
		parts = append(parts, "any level")
	}
	if l.Msg != "" {
		parts = append(parts, strconv.Quote(l.Msg))
	} else {
		parts = append(parts, "any message")
	}
	if len(l.Attrs) > 0 {
		parts = append(parts, formatLabels(l.Attrs))
	}
	return strings.Join(parts, " ")
}

func (c *comparison) stores() {
	for _, s := range c.row.Expected.Stores {
		item := fmt.Sprintf("chat %d %s", s.ChatID, s.Store)
		i := slices.IndexFunc(c.obs.Stores, func(v StoredValue) bool { return v.ChatID == s.ChatID && v.Store == s.Store })
		if i < 0 {
			c.add(FieldStores, item, string(s.Want), "not read", s.Reference)
			continue
		}
		v := c.obs.Stores[i]
		if v.Error != "" {
			c.add(FieldStores, item, string(s.Want), "unreadable: "+v.Error, s.Reference)
			continue
		}
		sc, _ := c.row.Given.Seed.Chat(s.ChatID)
		unchanged, seeded := c.storeUnchanged(sc, v)
		refreshed := v.Present && v.Count == sc.MaxCount && sc.Linked() && v.UpdatedAt != nil &&
			!v.UpdatedAt.Before(c.obs.SeededAt.Add(-timeTolerance))
		ok := false
		expected := string(s.Want)
		switch s.Want {
		case StoreUnchanged:
			ok, expected = unchanged, "unchanged: "+seeded
		case StoreRefreshed:
			ok, expected = refreshed, fmt.Sprintf("refreshed: count %d, updated_at during the row", sc.MaxCount)
		case StoreAbsent:
			ok = !v.Present
		case StoreUnchangedOrRefreshed:
			ok = unchanged || refreshed
			expected = fmt.Sprintf("unchanged (%s) or refreshed (count %d)", seeded, sc.MaxCount)
		}
		if !ok {
			c.add(FieldStores, item, expected, c.describeStored(v), s.Reference)
			continue
		}
		if s.TTL != nil && refreshed && !s.TTL.Contains(v.TTL) {
			c.add(FieldStores, item+" ttl", s.TTL.String(), describeTTL(v.TTL), s.Reference)
		}
	}
}

func describeTTL(d time.Duration) string {
	if d == 0 {
		return "never expires"
	}
	return formatDuration(d.Round(time.Second))
}

func (c *comparison) storeUnchanged(sc SeedChat, v StoredValue) (bool, string) {
	var st *Stored
	switch v.Store {
	case StoreRedis:
		st = sc.Cache
	case StoreDatabase:
		db := sc.DB
		st = &db
	}
	if st == nil {
		return !v.Present, "absent"
	}
	at, known := st.UpdatedAt(c.obs.SeededAt)
	return v.Present && v.Count == st.Count && c.sameTime(v.UpdatedAt, at, known),
		fmt.Sprintf("count %d, updated_at %s", st.Count, c.describeTime(at, known))
}

func (c *comparison) describeStored(v StoredValue) string {
	if !v.Present {
		return "absent"
	}
	return c.describeCount(v.Count, v.UpdatedAt)
}

func (c *comparison) maxCalls() {
	for _, m := range c.row.Expected.MaxCalls {
		n := 0
		for _, call := range c.obs.MaxCalls {
			if c.obs.Phases.contains(call.At, m.Measured) && maxCallMatches(m, call) {
				n++
			}
		}
		if !m.Count.Contains(float64(n)) {
			item := "GET /me"
			if m.Endpoint == MaxChat {
				item = "GET /chats/{chatId}"
				if m.MaxChatID != 0 {
					item = fmt.Sprintf("GET /chats/%d", m.MaxChatID)
				}
			}
			if m.Status != 0 {
				item += fmt.Sprintf(" answered %d", m.Status)
			}
			if m.Measured {
				item += " (measured)"
			}
			c.add(FieldMaxCalls, item, m.Count.String(), strconv.Itoa(n), m.Reference)
		}
	}
	c.maxPause()
	if len(c.row.Expected.MaxRate) == 0 {
		return
	}
	var times []time.Time
	for _, call := range c.obs.MaxCalls {
		if c.obs.Phases.contains(call.At, false) && maxCallMatches(MaxCallExpectation{Endpoint: MaxChat}, call) {
			times = append(times, call.At)
		}
	}
	peak := PeakPerSecond(times)
	for _, r := range c.row.Expected.MaxRate {
		if !r.PerSecond.Contains(float64(peak)) {
			c.add(FieldMaxCalls, "GET /chats/{chatId} in any 1s", r.PerSecond.String(), strconv.Itoa(peak), r.Reference)
		}
	}
}

// maxPause checks that no GET /chats/{chatId} reached MAX inside the pause that its first
// 429 began, calls in flight excepted.
func (c *comparison) maxPause() {
	p := c.row.Expected.MaxPause
	if p == nil {
		return
	}
	chat := MaxCallExpectation{Endpoint: MaxChat}
	var first time.Time
	for _, call := range c.obs.MaxCalls {
		if call.Status == http.StatusTooManyRequests && maxCallMatches(chat, call) && (first.IsZero() || call.At.Before(first)) {
			first = call.At
		}
	}
	item := fmt.Sprintf("GET /chats/{chatId} in the Retry-After pause (%s after the first 429, calls within %s of it in flight)",
		formatDuration(p.RetryAfter), formatDuration(p.InFlight))
	if first.IsZero() {
		c.add(FieldMaxCalls, item, "a 429, then none", "no call answered 429", p.Reference)
		return
	}
	from, until := first.Add(p.InFlight), first.Add(p.RetryAfter)
	n := 0
	for _, call := range c.obs.MaxCalls {
		if maxCallMatches(chat, call) && call.At.After(from) && call.At.Before(until) {
			n++
		}
	}
	if n > 0 {
		c.add(FieldMaxCalls, item, "0", strconv.Itoa(n), p.Reference)
	}
}

// PeakPerSecond is the most of the times that fall in any window of one second, [t, t+1s).
func PeakPerSecond(times []time.Time) int {
	ts := slices.Clone(times)
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	peak, j := 0, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= time.Second {
			j++
		}
		peak = max(peak, i-j+1)
	}
	return peak
}

func maxCallMatches(m MaxCallExpectation, call MaxCall) bool {
	if m.Status != 0 && call.Status != m.Status {
		return false
	}
	path, _, _ := strings.Cut(call.Path, "?")
	switch m.Endpoint {
	case MaxMe:
		return path == "/me"
	case MaxChat:
		rest, ok := strings.CutPrefix(path, "/chats/")
		if !ok || strings.Contains(rest, "/") {
			return false
		}
		return m.MaxChatID == 0 || rest == strconv.FormatInt(m.MaxChatID, 10)
	}
	return false
}

func (c *comparison) resources() {
	for _, r := range c.row.Expected.Resources {
		i := slices.IndexFunc(c.obs.Resources, func(d ResourceDelta) bool { return d.Name == r.Name })
		want := "grows by at most " + formatFloat(r.MaxIncrease)
		switch {
		case i < 0:
			c.add(FieldResources, r.Name, want, "not observed", r.Reference)
		case c.obs.Resources[i].End-c.obs.Resources[i].Start > r.MaxIncrease:
			d := c.obs.Resources[i]
			c.add(FieldResources, r.Name, want, fmt.Sprintf("%s -> %s (+%s)", formatFloat(d.Start), formatFloat(d.End),
				formatFloat(d.End-d.Start)), r.Reference)
		}
	}
}

func (c *comparison) health() {
	h := c.row.Expected.Health
	if h == nil {
		return
	}
	o := c.obs.Health
	if o == nil {
		c.add(FieldHealth, "/health/detailed", "observed", "not observed", h.Reference)
		return
	}
	if o.Status != h.Status {
		c.add(FieldHealth, "status", strconv.Itoa(h.Status), strconv.Itoa(o.Status), h.Reference)
	}
	if o.Service != h.Service {
		c.add(FieldHealth, "service", h.Service, orNone(o.Service), h.Reference)
	}
	for _, d := range slices.Sorted(maps.Keys(h.Dependencies)) {
		if got := o.Dependencies[d]; got != h.Dependencies[d] {
			c.add(FieldHealth, "dependencies."+string(d), h.Dependencies[d], orNone(got), h.Reference)
		}
	}
}

func (c *comparison) probes() {
	for _, p := range c.row.Expected.Probes {
		item := p.Method + " " + p.Path
		i := slices.IndexFunc(c.obs.Probes, func(r ProbeResult) bool { return r.Method == p.Method && r.Path == p.Path })
		switch {
		case i < 0:
			c.add(FieldProbes, item, strconv.Itoa(p.Status), "not probed", false)
		case c.obs.Probes[i].Status != p.Status:
			c.add(FieldProbes, item, strconv.Itoa(p.Status), strconv.Itoa(c.obs.Probes[i].Status), false)
		}
	}
}

func (c *comparison) recovery() {
	rc := c.row.Expected.Recovery
	if rc == nil {
		return
	}
	o := c.obs.Recovery
	if o == nil {
		c.add(FieldRecovery, "recovery", "within "+rc.Within.String(), "not observed", false)
		return
	}
	if !o.Recovered || o.After > rc.Within {
		observed := "after " + o.After.String()
		if !o.Recovered {
			observed = "not recovered after " + o.After.String()
		}
		c.add(FieldRecovery, "time to recover", "within "+rc.Within.String(), observed, false)
	}
	if o.Status != rc.Status {
		c.add(FieldRecovery, "recovered status", strconv.Itoa(rc.Status), strconv.Itoa(o.Status), false)
	}
	c.chatList(FieldRecovery, "recovered ", rc.Chats, o.Chats, false)
	c.gauges(FieldRecovery, "recovered ", rc.Gauges, o.Gauges)
}

func (c *comparison) alerts() {
	if c.obs.Alerts == nil {
		return
	}
	fired := c.obs.Alerts.Fired
	sla := c.row.SLA
	for _, a := range sla.Alerts {
		if a != AlertNone && !slices.Contains(sla.NotReplayed, a) && !slices.Contains(fired, string(a)) {
			c.add(FieldAlerts, string(a), "fires", "silent", false)
		}
	}
	for _, a := range fired {
		if !slices.Contains(sla.Alerts, Alert(a)) {
			c.add(FieldAlerts, a, "silent", "fires", false)
		}
	}
}

func seriesName(name string, labels map[string]string) string {
	if len(labels) == 0 {
		return name
	}
	return name + formatLabels(labels)
}

func formatLabels(l map[string]string) string {
	parts := make([]string, 0, len(l))
	for _, k := range slices.Sorted(maps.Keys(l)) {
		parts = append(parts, fmt.Sprintf("%s=%q", k, l[k]))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func joinSources(s []Source) string {
	parts := make([]string, len(s))
	for i, x := range s {
		parts[i] = string(x)
	}
	return strings.Join(parts, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
