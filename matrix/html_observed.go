package matrix

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxTableRows bounds each table of a row's observation on the page (bursts log hundreds of
// requests); matrix.json keeps every record.
const maxTableRows = 60

// obsTable is one table of what a row observed.
type obsTable struct {
	Title string
	Head  []string
	Rows  [][]string
	// More counts the records left out of Rows.
	More int
}

// obsView is what the page shows when a row is expanded: facts, then tables.
type obsView struct {
	Summary string
	Facts   [][2]string
	Tables  []obsTable
}

// observedView lays out everything the row's observation holds.
func observedView(r RowResult) obsView {
	v := obsView{Summary: "not observed"}
	v.Facts = append(v.Facts, [2]string{"given", r.Given.Summary()}, [2]string{"request", r.Request.String()})
	if r.Reason != "" {
		v.Facts = append(v.Facts, [2]string{"reason", r.Reason})
	}
	o := r.Observed
	if o == nil {
		return v
	}
	v.Summary = observedSummary(*o)
	at := func(t time.Time) string { return offset(o.Phases.Start, t) }
	v.Facts = append(v.Facts, requestFacts(*o)...)
	v.Facts = append(v.Facts, outcomeFacts(*o)...)
	v.Tables = append(v.Tables, chatTables(*o)...)
	v.Tables = append(v.Tables, signalTables(*o, at)...)
	v.Tables = append(v.Tables, storeTables(*o)...)
	return v
}

func observedSummary(o Observation) string {
	parts := []string{plural(len(o.Statuses), "request") + " " + statusCounts(o.Statuses)}
	if o.Latency.Count > 0 {
		parts = append(parts, "p95 "+roundLatency(o.Latency.P95).String())
	}
	parts = append(parts, plural(len(o.Metrics), "metric delta"), plural(len(o.Logs), "log record"), plural(len(o.MaxCalls), "MAX call"))
	if o.Alerts != nil {
		parts = append(parts, "alerts fired: "+alertList(o.Alerts.Fired))
	}
	return strings.Join(parts, ", ")
}

// statusCounts condenses statuses in order of first appearance, e.g. "200 ×19, 503 ×1".
func statusCounts(statuses []int) string {
	var order []int
	n := map[int]int{}
	for _, s := range statuses {
		if n[s] == 0 {
			order = append(order, s)
		}
		n[s]++
	}
	parts := make([]string, len(order))
	for i, s := range order {
		parts[i] = fmt.Sprintf("%d ×%d", s, n[s])
	}
	return strings.Join(parts, ", ")
}

func latencyFact(l Latency) string {
	return fmt.Sprintf("%d requests: p50 %s, p95 %s, max %s", l.Count, roundLatency(l.P50), roundLatency(l.P95), roundLatency(l.Max))
}

func requestFacts(o Observation) [][2]string {
	out := [][2]string{{"statuses", statusCounts(o.Statuses)}}
	if o.ErrorCode != "" {
		out = append(out, [2]string{"error code", o.ErrorCode})
	}
	if o.Latency.Count > 0 {
		out = append(out, [2]string{"latency", latencyFact(o.Latency)})
	}
	if o.WarmUpLatency.Count > 0 {
		out = append(out, [2]string{"warm-up latency", latencyFact(o.WarmUpLatency)})
	}
	for _, k := range slices.Sorted(maps.Keys(o.Headers)) {
		out = append(out, [2]string{"header " + k, o.Headers[k]})
	}
	return out
}

func outcomeFacts(o Observation) [][2]string {
	var out [][2]string
	if h := o.Health; h != nil {
		deps := make([]string, 0, len(h.Dependencies))
		for _, d := range slices.Sorted(maps.Keys(h.Dependencies)) {
			deps = append(deps, fmt.Sprintf("%s %s", d, h.Dependencies[d]))
		}
		out = append(out, [2]string{"health", fmt.Sprintf("%d %s (%s)", h.Status, h.Service, strings.Join(deps, ", "))})
	}
	for _, p := range o.Probes {
		out = append(out, [2]string{"probe " + p.Method + " " + p.Path, strconv.Itoa(p.Status)})
	}
	if rc := o.Recovery; rc != nil {
		out = append(out, [2]string{"recovery", fmt.Sprintf("recovered %v after %s, last status %d", rc.Recovered, rc.After.Round(time.Millisecond), rc.Status)})
	}
	if a := o.Alerts; a != nil {
		out = append(out, [2]string{"alerts fired", alertList(a.Fired)})
		if a.Replay != "" {
			out = append(out, [2]string{"alert replay", a.Replay})
		}
	}
	if len(o.SecretsFound) > 0 {
		out = append(out, [2]string{"secrets seen in", strings.Join(o.SecretsFound, "; ")})
	}
	for _, f := range o.Failures {
		out = append(out, [2]string{"scenario failure", f})
	}
	return out
}

func chatTables(o Observation) []obsTable {
	var out []obsTable
	if len(o.Chats) > 0 {
		t := obsTable{Title: "Chats (first response)", Head: []string{"chat", "participants", "source", "updated at", "sources over all responses"}}
		for _, c := range o.Chats {
			t.add(strconv.FormatInt(c.ID, 10), strconv.Itoa(c.Count), string(c.Source), timeOrNone(c.UpdatedAt), joinSources(o.Sources[c.ID]))
		}
		out = append(out, t)
	}
	if rc := o.Recovery; rc != nil && len(rc.Chats) > 0 {
		t := obsTable{Title: "Chats after recovery", Head: []string{"chat", "participants", "source", "updated at"}}
		for _, c := range rc.Chats {
			t.add(strconv.FormatInt(c.ID, 10), strconv.Itoa(c.Count), string(c.Source), timeOrNone(c.UpdatedAt))
		}
		out = append(out, t)
	}
	return out
}

func signalTables(o Observation, at func(time.Time) string) []obsTable {
	var out []obsTable
	if len(o.Metrics) > 0 {
		t := obsTable{Title: "Metric deltas", Head: []string{"series", "window", "delta"}}
		for _, m := range o.Metrics {
			window := "row"
			if m.Measured {
				window = "measured"
			}
			t.add(seriesName(m.Name, m.Labels), window, formatFloat(m.Delta))
		}
		out = append(out, t)
	}
	if len(o.Gauges) > 0 {
		t := obsTable{Title: "Gauges at the end", Head: []string{"series", "value"}}
		for _, g := range o.Gauges {
			t.add(seriesName(g.Name, g.Labels), formatFloat(g.Value))
		}
		out = append(out, t)
	}
	if len(o.Resources) > 0 {
		t := obsTable{Title: "Resources", Head: []string{"gauge", "start", "end"}}
		for _, r := range o.Resources {
			t.add(r.Name, formatFloat(r.Start), formatFloat(r.End))
		}
		out = append(out, t)
	}
	if len(o.Logs) > 0 {
		t := obsTable{Title: "Log records", Head: []string{"at", "level", "message", "attributes"}}
		for _, l := range o.Logs {
			t.add(at(l.Time), l.Level, l.Msg, attrs(l.Attrs))
		}
		out = append(out, t)
	}
	if len(o.MaxCalls) > 0 {
		t := obsTable{Title: "MAX calls", Head: []string{"at", "method", "path", "status"}}
		for _, c := range o.MaxCalls {
			t.add(at(c.At), c.Method, c.Path, strconv.Itoa(c.Status))
		}
		out = append(out, t)
	}
	return out
}

func storeTables(o Observation) []obsTable {
	if len(o.Stores) == 0 {
		return nil
	}
	t := obsTable{Title: "Stores at the end", Head: []string{"chat", "store", "present", "count", "updated at", "ttl", "error"}}
	for _, s := range o.Stores {
		ttl := ""
		if s.TTL > 0 {
			ttl = s.TTL.Round(time.Second).String()
		}
		t.add(strconv.FormatInt(s.ChatID, 10), string(s.Store), strconv.FormatBool(s.Present), strconv.Itoa(s.Count), timeOrNone(s.UpdatedAt), ttl, s.Error)
	}
	return []obsTable{t}
}

// add appends a row, or counts it when the table is full.
func (t *obsTable) add(cells ...string) {
	if len(t.Rows) >= maxTableRows {
		t.More++
		return
	}
	t.Rows = append(t.Rows, cells)
}

// offset renders t relative to the row's start, e.g. "+1.234s".
func offset(start, t time.Time) string {
	if start.IsZero() || t.IsZero() {
		return t.UTC().Format("15:04:05.000")
	}
	d := t.Sub(start).Round(time.Millisecond)
	if d < 0 {
		return "-" + (-d).String()
	}
	return "+" + d.String()
}

func timeOrNone(t *time.Time) string {
	if t == nil {
		return "none"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// attrs renders a log record's attributes as compact JSON, keys sorted.
func attrs(a map[string]any) string {
	if len(a) == 0 {
		return ""
	}
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Sprint(a)
	}
	return string(b)
}
