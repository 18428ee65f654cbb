package matrix

import (
	"net/http"
	"slices"
	"strconv"
	"time"
)

// Exemplar synthesises an observation a correct service could produce for the row, seeded at
// t0: the smallest one that satisfies every expectation, with every event placed as late or
// as early as still counts. Compare of a row with its exemplar is empty (the catalogue's
// tests prove it for every row), so it shows an implementer what the harness must observe,
// and gives tools a row's passing observation to vary.
func Exemplar(r Row, t0 time.Time) Observation {
	e := r.Expected
	o := Observation{
		RowID:    r.ID,
		SeededAt: t0,
		Phases: Phases{Start: t0.Add(time.Second), Measured: t0.Add(2 * time.Second),
			MeasuredEnd: t0.Add(3 * time.Second), End: t0.Add(10 * time.Second)},
	}
	for range r.Request.Repeat {
		o.Statuses = append(o.Statuses, e.Status)
	}
	if e.CacheReads != nil {
		n := e.CacheReads.Min
		o.CacheReads = &n
	}
	if e.CachePings != nil {
		n := e.CachePings.Min
		o.CachePings = &n
	}
	o.ErrorCode = e.ErrorCode
	if e.ErrorCode != "" {
		o.ErrorMessage = "what went wrong"
	}
	for _, h := range e.Headers {
		if h.Present {
			if o.Headers == nil {
				o.Headers = map[string]string{}
			}
			v := h.Value
			if v == "" {
				v = "1"
			}
			o.Headers[h.Name] = v
		}
	}
	o.Chats = servedAs(r, e.Chats, t0)
	if len(e.Chats) > 0 {
		o.Sources = map[int64][]Source{}
		for _, c := range e.Chats {
			o.Sources[c.ID] = []Source{c.Source}
		}
	}
	half := min(e.Latency.P95, e.Latency.Max) / 2
	o.Latency = NewLatency(slices.Repeat([]time.Duration{half}, r.Request.Repeat))
	if r.Request.WarmUp > 0 {
		o.WarmUpLatency = NewLatency(slices.Repeat([]time.Duration{e.WarmUpMax / 2}, r.Request.WarmUp))
	}
	o.Metrics = synthMetrics(e.Metrics)
	o.Gauges = synthGauges(e.Gauges)
	o.Logs = synthLogs(e.Logs, o.Phases)
	o.MaxCalls = synthCalls(r, o.Phases)
	// Many calls a tenth of a second apart outlast the usual window: it lasts until after them.
	for _, c := range o.MaxCalls {
		if !c.At.Before(o.Phases.End) {
			o.Phases.End = c.At.Add(time.Second)
		}
	}
	for _, res := range e.Resources {
		o.Resources = append(o.Resources, ResourceDelta{Name: res.Name, Start: 12, End: 12})
	}
	for _, s := range e.Stores {
		sc, _ := r.Given.Seed.Chat(s.ChatID)
		v := StoredValue{ChatID: s.ChatID, Store: s.Store}
		switch s.Want {
		case StoreRefreshed:
			at := t0.Add(5 * time.Second)
			v.Present, v.Count, v.UpdatedAt = true, sc.MaxCount, &at
			if s.TTL != nil {
				v.TTL = s.TTL.AtMost - time.Second
			}
		case StoreAbsent:
		default:
			st := sc.Cache
			if s.Store == StoreDatabase {
				st = &sc.DB
			}
			if st != nil {
				v.Present, v.Count = true, st.Count
				if at, ok := st.UpdatedAt(t0); ok {
					v.UpdatedAt = &at
				}
			}
		}
		o.Stores = append(o.Stores, v)
	}
	if h := e.Health; h != nil {
		o.Health = &HealthObservation{Status: h.Status, Service: h.Service, Dependencies: map[Dependency]string{}}
		for _, d := range Dependencies() {
			o.Health.Dependencies[d] = HealthHealthy
		}
		for d, s := range h.Dependencies {
			o.Health.Dependencies[d] = s
		}
	}
	for _, p := range e.Probes {
		o.Probes = append(o.Probes, ProbeResult(p))
	}
	if rc := e.Recovery; rc != nil {
		o.Recovery = &RecoveryObserved{LiftedAt: t0.Add(4 * time.Second), Recovered: true, After: rc.Within / 3,
			Status: rc.Status, Chats: servedAs(r, rc.Chats, t0), Gauges: synthGauges(rc.Gauges)}
	}
	fired := []string{}
	for _, a := range r.SLA.Alerts {
		if a != AlertNone {
			fired = append(fired, string(a))
		}
	}
	o.Alerts = &AlertsObserved{Fired: fired}
	return o
}

func servedAs(r Row, want []ChatExpectation, t0 time.Time) []ObservedChat {
	var out []ObservedChat
	for _, c := range want {
		sc, _ := r.Given.Seed.Chat(c.ID)
		oc := ObservedChat{ID: c.ID, Name: sc.Name, Source: c.Source}
		if sc.Linked() {
			oc.MaxChatID = &sc.MaxChatID
		}
		switch c.Value {
		case OriginCache:
			oc.Count = sc.Cache.Count
			at, _ := sc.Cache.UpdatedAt(t0)
			oc.UpdatedAt = &at
		case OriginCacheNow:
			oc.Count = sc.Cache.Count
			at := t0.Add(2 * time.Second)
			oc.UpdatedAt = &at
		case OriginMax:
			oc.Count = sc.MaxCount
			at := t0.Add(2500 * time.Millisecond)
			oc.UpdatedAt = &at
		default:
			oc.Count = sc.DB.Count
			if at, ok := sc.DB.UpdatedAt(t0); ok {
				oc.UpdatedAt = &at
			}
		}
		out = append(out, oc)
	}
	return out
}

// bySpecificity orders expectations with more labels first, so the synthesised counts satisfy
// the narrow expectations before the wide ones that include them.
func bySpecificity[T any](in []T, n func(T) int) []T {
	out := slices.Clone(in)
	slices.SortStableFunc(out, func(a, b T) int { return n(b) - n(a) })
	return out
}

func synthMetrics(want []MetricExpectation) []MetricDelta {
	var out []MetricDelta
	for _, m := range bySpecificity(want, func(m MetricExpectation) int { return len(m.Labels) }) {
		var sum float64
		for _, d := range out {
			if d.Measured == m.Measured && d.Name == m.Name && subset(m.Labels, d.Labels) {
				sum += d.Delta
			}
		}
		if need := float64(m.Delta.Min) - sum; need > 0 {
			out = append(out, MetricDelta{Name: m.Name, Labels: m.Labels, Delta: need, Measured: m.Measured})
		}
	}
	return out
}

func synthGauges(want []GaugeExpectation) []GaugeValue {
	var out []GaugeValue
	for _, g := range want {
		v := 0.0
		switch {
		case g.Min != nil:
			v = *g.Min
		case g.Max != nil:
			v = *g.Max
		}
		out = append(out, GaugeValue{Name: g.Name, Labels: g.Labels, Value: v})
	}
	return out
}

func synthLogs(want []LogExpectation, p Phases) []LogEvent {
	var out []LogEvent
	for _, l := range bySpecificity(want, func(l LogExpectation) int { return len(l.Attrs) }) {
		n := 0
		for _, ev := range out {
			if p.contains(ev.Time, l.Measured) && logMatches(l, ev) {
				n++
			}
		}
		for ; n < l.Count.Min; n++ {
			ev := LogEvent{Time: when(p, l.Measured), Level: l.Level, Msg: l.Msg, Attrs: map[string]any{}}
			if ev.Msg == "" {
				ev.Msg = "synthetic"
			}
			for k, v := range l.Attrs {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					ev.Attrs[k] = f // as JSON decodes numbers
				} else {
					ev.Attrs[k] = v
				}
			}
			out = append(out, ev)
		}
	}
	return out
}

func synthCalls(r Row, p Phases) []MaxCall {
	var out []MaxCall
	want := r.Expected.MaxCalls
	forbidden := func(maxID int64) bool {
		return slices.ContainsFunc(want, func(m MaxCallExpectation) bool {
			return m.Endpoint == MaxChat && m.MaxChatID == maxID && m.Count.Forbids()
		})
	}
	for _, m := range bySpecificity(want, func(m MaxCallExpectation) int {
		if m.MaxChatID != 0 {
			return 1
		}
		return 0
	}) {
		n := 0
		for _, call := range out {
			if p.contains(call.At, m.Measured) && maxCallMatches(m, call) {
				n++
			}
		}
		path := "/me"
		if m.Endpoint == MaxChat {
			id := m.MaxChatID
			for _, c := range r.Given.Seed.Chats {
				if id == 0 && c.Linked() && !forbidden(c.MaxChatID) {
					id = c.MaxChatID
				}
			}
			path = "/chats/" + strconv.FormatInt(id, 10)
		}
		status := http.StatusOK
		switch {
		case m.Status != 0:
			status = m.Status
		case m.Endpoint == MaxChat && r.Given.MaxAPI.Kind == FaultRateLimited:
			// The fault answers every call 429; the calls all fall inside the pause's in-flight allowance.
			status = http.StatusTooManyRequests
		}
		// A tenth of a second apart: within any rate a row bounds.
		for k := 0; n < m.Count.Min; n, k = n+1, k+1 {
			out = append(out, MaxCall{Method: "GET", Path: path, Status: status,
				At: when(p, m.Measured).Add(time.Duration(k) * 100 * time.Millisecond)})
		}
	}
	return out
}

// when places a synthetic event in the measured window, or before it (during the warm-up)
// when the expectation covers the whole row: the least convenient place that still counts.
func when(p Phases, measured bool) time.Time {
	if measured {
		return p.Measured.Add(500 * time.Millisecond)
	}
	return p.Start.Add(500 * time.Millisecond)
}
