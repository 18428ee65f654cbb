package matrix

import (
	"cmp"
	"fmt"
	"maps"
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

// EventualFields are the fields whose expectations may take time to be met: background work
// landing or failing, logs written, health settling. The others, alerts aside (their replay
// runs beside the row), are fixed once the requests are answered and the faults lifted, so
// waiting cannot change them.
func EventualFields() []Field {
	return []Field{FieldMetrics, FieldLogs, FieldStores, FieldMaxCalls, FieldResources, FieldHealth}
}

// Decided reports whether a mismatch is in a field waiting cannot change, or is Final: the
// row has failed whatever its eventual expectations do.
func Decided(ms []Mismatch) bool {
	for _, m := range ms {
		if m.Final || (m.Field != FieldAlerts && !slices.Contains(EventualFields(), m.Field)) {
			return true
		}
	}
	return false
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
	// Final marks a mismatch of an eventual field that waiting cannot mend: more events
	// than allowed of a kind that only accumulates (MAX calls, log lines, counter deltas, a
	// call inside a pause).
	Final bool `json:"final,omitempty"`
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
// order; none means the row passed. In ModeContract the expectations only the reference
// service promises are left out. It is pure, so scenarios can call it while polling.
func Compare(r Row, o Observation, mode Mode) []Mismatch {
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
		if mode.Contract() && m.Reference {
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
	// seeded indexes the row's seeded chats by id, built at the first lookup: a row may
	// seed hundreds, and is compared at every poll while it settles.
	seeded map[int64]SeedChat
}

// seedChat is the row's seeded chat id (the first, as Seed.Chat finds it).
func (c *comparison) seedChat(id int64) (SeedChat, bool) {
	if c.seeded == nil {
		c.seeded = make(map[int64]SeedChat, len(c.row.Given.Seed.Chats))
		for _, sc := range c.row.Given.Seed.Chats {
			if _, dup := c.seeded[sc.ID]; !dup {
				c.seeded[sc.ID] = sc
			}
		}
	}
	sc, ok := c.seeded[id]
	return sc, ok
}

func (c *comparison) add(f Field, item, expected, observed string, reference bool) {
	c.out = append(c.out, Mismatch{Field: f, Item: item, Expected: expected, Observed: observed, Reference: reference})
}

// addOver adds the mismatch of a count that only grows, Final when it is already over its
// maximum.
func (c *comparison) addOver(f Field, item string, want Count, n float64, observed string, reference bool) {
	c.add(f, item, want.String(), observed, reference)
	c.out[len(c.out)-1].Final = want.Max >= 0 && n > float64(want.Max)
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
	// The contract names the codes: a wrong one is a contract mismatch.
	if e.ErrorCode != "" && o.ErrorCode != e.ErrorCode {
		c.add(FieldStatus, "error code", e.ErrorCode, orNone(o.ErrorCode), false)
	}
	if e.ErrorCode != "" && strings.TrimSpace(o.ErrorMessage) == "" {
		c.add(FieldStatus, "error message", `{"error": {"code", "message"}} with a message`, "none", false)
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
			if s != want.Source && !slices.Contains(want.Later, s) {
				c.add(FieldChats, fmt.Sprintf("chat %d sources over all responses", want.ID),
					joinSources(append([]Source{want.Source}, want.Later...)), joinSources(srcs), false)
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
			c.add(f, item+" value", expected(), c.describeChat(g), false)
		}
		c.chatFields(f, item, w.ID, g)
	}
	if exact && !slices.IsSortedFunc(got, func(a, b ObservedChat) int { return cmp.Compare(a.ID, b.ID) }) {
		ids := make([]string, len(got))
		for i, g := range got {
			ids[i] = strconv.FormatInt(g.ID, 10)
		}
		c.add(f, "chat order", "by id", strings.Join(ids, ", "), false)
	}
	if exact {
		wanted := make(map[int64]bool, len(want))
		for _, w := range want {
			wanted[w.ID] = true
		}
		for _, g := range got {
			if !wanted[g.ID] {
				c.add(f, fmt.Sprintf("%schat %d", prefix, g.ID), "absent", "served", false)
			}
		}
	}
}

// chatFields checks what a served chat says besides its count: its name and MAX id as
// seeded (max_chat_id null for a chat not linked), and participants_updated_at in UTC.
func (c *comparison) chatFields(f Field, item string, id int64, g ObservedChat) {
	sc, ok := c.seedChat(id)
	if !ok {
		return
	}
	if g.Name != sc.Name {
		c.add(f, item+" name", strconv.Quote(sc.Name), strconv.Quote(g.Name), false)
	}
	switch {
	case !sc.Linked() && g.MaxChatID != nil:
		c.add(f, item+" max_chat_id", "null (not linked)", strconv.FormatInt(*g.MaxChatID, 10), false)
	case sc.Linked() && (g.MaxChatID == nil || *g.MaxChatID != sc.MaxChatID):
		got := "null"
		if g.MaxChatID != nil {
			got = strconv.FormatInt(*g.MaxChatID, 10)
		}
		c.add(f, item+" max_chat_id", strconv.FormatInt(sc.MaxChatID, 10), got, false)
	}
	if g.UpdatedAt != nil {
		if name, off := g.UpdatedAt.Zone(); off != 0 {
			c.add(f, item+" updated_at", "in UTC", fmt.Sprintf("offset %+ds (%s)", off, name), false)
		}
	}
}

// valueMatches checks the count and updated_at of a served chat against its origin, and
// returns the expectation in words (made only when asked: a mismatch needs them).
func (c *comparison) valueMatches(w ChatExpectation, g ObservedChat) (bool, func() string) {
	words := func(s string) func() string { return func() string { return s } }
	sc, ok := c.seedChat(w.ID)
	if !ok {
		return false, words("a seeded chat")
	}
	db := func() (bool, func() string) {
		at, known := sc.DB.UpdatedAt(c.obs.SeededAt)
		return g.Count == sc.DB.Count && c.sameTime(g.UpdatedAt, at, known), func() string {
			return fmt.Sprintf("count %d, updated_at %s (database)", sc.DB.Count, c.describeTime(at, known))
		}
	}
	fromMax := func() (bool, func() string) {
		return g.Count == sc.MaxCount && g.UpdatedAt != nil && !g.UpdatedAt.Before(c.obs.SeededAt.Add(-timeTolerance)),
			func() string { return fmt.Sprintf("count %d, updated_at during the row (MAX)", sc.MaxCount) }
	}
	switch w.Value {
	case OriginDatabase:
		return db()
	case OriginMax:
		return fromMax()
	case OriginCache:
		if sc.Cache == nil {
			return false, words("a seeded cache entry")
		}
		at, _ := sc.Cache.UpdatedAt(c.obs.SeededAt)
		return g.Count == sc.Cache.Count && c.sameTime(g.UpdatedAt, at, true), func() string {
			return fmt.Sprintf("count %d, updated_at %s (cache)", sc.Cache.Count, c.describeTime(at, true))
		}
	case OriginCacheNow:
		if sc.Cache == nil {
			return false, words("a seeded cache entry")
		}
		// Served as observed now: not the seeded future time, and not before the row began.
		ok := g.Count == sc.Cache.Count && g.UpdatedAt != nil &&
			!g.UpdatedAt.Before(c.obs.SeededAt.Add(-timeTolerance)) && g.UpdatedAt.Before(c.obs.SeededAt.Add(servedNowWithin))
		return ok, func() string {
			return fmt.Sprintf("count %d (cache), updated_at during the row, not the seeded %s",
				sc.Cache.Count, c.describeTime(c.obs.SeededAt.Add(-sc.Cache.Age), true))
		}
	case OriginDatabaseOrMax:
		okDB, dDB := db()
		okMax, dMax := fromMax()
		return okDB || okMax, func() string { return dDB() + " or " + dMax() }
	}
	return false, words("unknown origin " + string(w.Value))
}

// servedNowWithin bounds "during the row" for a time the service stamps when it serves: no
// row lasts a minute, and the future times it replaces lie much further ahead.
const servedNowWithin = time.Minute

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
