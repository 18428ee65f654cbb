package selftest

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/matrix"
)

// report makes a report in which the rows of results ran with the given results; a failed
// row fails in field.
func report(results map[string]matrix.Result, field matrix.Field) matrix.Report {
	var rep matrix.Report
	for _, r := range matrix.Rows() {
		res, ok := results[r.ID]
		if !ok {
			continue
		}
		rr := matrix.RowResult{ID: r.ID, Result: res, Specs: 1}
		if res == matrix.ResultFailed {
			rr.Reason = "mismatch"
			rr.Mismatches = []matrix.Mismatch{{Field: field, Item: "x", Expected: "a", Observed: "b"}}
		}
		rep.Rows = append(rep.Rows, rr)
	}
	return rep
}

func TestJudge(t *testing.T) {
	cat := matrix.Rows()
	v := Variant{
		Name:   "v",
		Reject: []string{"health.redis-down", "health.redis-blackhole"},
		Watch:  []string{"health.all-up"},
		Fields: []matrix.Field{matrix.FieldHealth},
	}
	ran := Selection(v, cat, false)
	results := func(failed ...string) map[string]matrix.Result {
		m := map[string]matrix.Result{}
		for _, id := range ran {
			m[id] = matrix.ResultPassed
			if slices.Contains(failed, id) {
				m[id] = matrix.ResultFailed
			}
		}
		return m
	}

	t.Run("exactly the expected rows", func(t *testing.T) {
		o := Judge(v, ran, report(results("health.redis-down", "health.redis-blackhole"), matrix.FieldHealth), cat)
		if !o.OK() || o.Verdict() != "pass" {
			t.Fatalf("verdict %q, outcome %+v", o.Verdict(), o)
		}
		if want := []string{"health.redis-down", "health.redis-blackhole"}; !slices.Equal(o.Rejected, want) {
			t.Errorf("rejected %v, want %v", o.Rejected, want)
		}
	})
	t.Run("an expected row passes", func(t *testing.T) {
		o := Judge(v, ran, report(results("health.redis-down"), matrix.FieldHealth), cat)
		if o.OK() || !slices.Equal(o.Missing, []string{"health.redis-blackhole"}) {
			t.Fatalf("missing %v, ok %v", o.Missing, o.OK())
		}
		if !strings.Contains(o.Verdict(), "1 not rejected") {
			t.Errorf("verdict %q", o.Verdict())
		}
	})
	t.Run("another row fails too", func(t *testing.T) {
		o := Judge(v, ran, report(results("health.redis-down", "health.redis-blackhole", "health.all-up"), matrix.FieldHealth), cat)
		if o.OK() || !slices.Equal(o.Extra, []string{"health.all-up"}) {
			t.Fatalf("extra %v, ok %v", o.Extra, o.OK())
		}
		if len(o.Details) != 1 || !strings.Contains(o.Details[0], "health: x: expected a, observed b") {
			t.Errorf("details %q", o.Details)
		}
	})
	t.Run("a row the bug may fail by timing is neither required nor refused", func(t *testing.T) {
		m := v
		m.MayReject = []string{"health.all-up"}
		for _, failed := range [][]string{{"health.redis-down", "health.redis-blackhole", "health.all-up"},
			{"health.redis-down", "health.redis-blackhole"}} {
			if o := Judge(m, ran, report(results(failed...), matrix.FieldHealth), cat); !o.OK() {
				t.Errorf("rejected %v: verdict %q", failed, o.Verdict())
			}
		}
	})
	t.Run("rejected for another reason", func(t *testing.T) {
		o := Judge(v, ran, report(results("health.redis-down", "health.redis-blackhole"), matrix.FieldLatency), cat)
		if o.OK() || len(o.OffField) != 2 {
			t.Fatalf("off-field %v, ok %v", o.OffField, o.OK())
		}
	})
	t.Run("unsettled: an eventual field is no evidence", func(t *testing.T) {
		// Both rows were decided by a latency mismatch and observed without waiting: their
		// health mismatch may be one that waiting would have met.
		rep := report(results("health.redis-down", "health.redis-blackhole"), matrix.FieldHealth)
		for i := range rep.Rows {
			if rep.Rows[i].Result == matrix.ResultFailed {
				rep.Rows[i].Observed = &matrix.Observation{Unsettled: true}
				rep.Rows[i].Mismatches = append(rep.Rows[i].Mismatches, matrix.Mismatch{Field: matrix.FieldLatency, Item: "p95"})
			}
		}
		if o := Judge(v, ran, rep, cat); o.OK() || len(o.OffField) != 2 {
			t.Fatalf("off-field %v, ok %v", o.OffField, o.OK())
		}
		// A variant whose bug shows in a field waiting cannot change is caught all the same.
		w := v
		w.Fields = []matrix.Field{matrix.FieldLatency}
		if o := Judge(w, ran, rep, cat); !o.OK() {
			t.Fatalf("verdict %q", o.Verdict())
		}
	})
	t.Run("a selected row did not run", func(t *testing.T) {
		res := results("health.redis-down", "health.redis-blackhole")
		delete(res, "health.all-up")
		o := Judge(v, ran, report(res, matrix.FieldHealth), cat)
		if o.OK() || len(o.Errors) != 1 || !strings.Contains(o.Errors[0], "health.all-up") {
			t.Fatalf("errors %q, ok %v", o.Errors, o.OK())
		}
	})
	t.Run("a selected row was skipped", func(t *testing.T) {
		res := results("health.redis-down", "health.redis-blackhole")
		res["health.all-up"] = matrix.ResultSkipped
		o := Judge(v, ran, report(res, matrix.FieldHealth), cat)
		if o.OK() || len(o.Errors) != 1 || !strings.Contains(o.Errors[0], "skipped") {
			t.Fatalf("errors %q, ok %v", o.Errors, o.OK())
		}
	})
	t.Run("a suite failure", func(t *testing.T) {
		rep := report(results("health.redis-down", "health.redis-blackhole"), matrix.FieldHealth)
		rep.Summary.Run.SuiteFailures = []string{"BeforeSuite: no docker"}
		o := Judge(v, ran, rep, cat)
		if o.OK() || len(o.Errors) != 1 || !strings.Contains(o.Errors[0], "no docker") {
			t.Fatalf("errors %q", o.Errors)
		}
	})
	t.Run("every row, one missing", func(t *testing.T) {
		all := Selection(v, cat, true)
		res := map[string]matrix.Result{}
		for _, id := range all[1:] {
			res[id] = matrix.ResultPassed
		}
		res["health.redis-down"], res["health.redis-blackhole"] = matrix.ResultFailed, matrix.ResultFailed
		o := Judge(v, all, report(res, matrix.FieldHealth), cat)
		if o.OK() || len(o.Errors) != 1 || !strings.Contains(o.Errors[0], all[0]) {
			t.Fatalf("errors %q", o.Errors)
		}
	})
}

func TestRunAgainAlone(t *testing.T) {
	cat := matrix.Rows()
	v := Variant{Name: "v", Reject: []string{"health.redis-down"}, Watch: []string{"health.all-up", "health.redis-blackhole"},
		Fields: []matrix.Field{matrix.FieldHealth}}
	ran := Selection(v, cat, false)
	res := map[string]matrix.Result{}
	for _, id := range ran {
		res[id] = matrix.ResultPassed
	}
	res["health.redis-down"] = matrix.ResultFailed
	res["health.all-up"], res["health.redis-blackhole"] = matrix.ResultFailed, matrix.ResultFailed
	mismatch := func(f matrix.Field) matrix.Mismatch {
		return matrix.Mismatch{Field: f, Item: "p95", Expected: "<= 200ms", Observed: "210ms"}
	}
	// health.all-up failed on latency alone; health.redis-blackhole on latency and health,
	// observed after waiting: the health mismatch is the variant's.
	judge := func() (Outcome, matrix.Report) {
		rep := report(res, matrix.FieldHealth)
		for i, r := range rep.Rows {
			switch r.ID {
			case "health.all-up":
				rep.Rows[i].Mismatches = []matrix.Mismatch{mismatch(matrix.FieldLatency)}
			case "health.redis-blackhole":
				rep.Rows[i].Mismatches = []matrix.Mismatch{mismatch(matrix.FieldLatency), mismatch(matrix.FieldHealth)}
			}
		}
		return Judge(v, ran, rep, cat), rep
	}
	// onlyOnLatency judges v on a run where the expected row fails, and health.all-up on
	// latency alone.
	onlyOnLatency := func(v Variant) Outcome {
		res := maps.Clone(res)
		res["health.redis-blackhole"] = matrix.ResultPassed
		rep := report(res, matrix.FieldHealth)
		for i, r := range rep.Rows {
			if r.ID == "health.all-up" {
				rep.Rows[i].Mismatches = []matrix.Mismatch{mismatch(matrix.FieldLatency)}
			}
		}
		return Judge(v, ran, rep, cat)
	}

	t.Run("only a row rejected on latency alone runs again", func(t *testing.T) {
		o, rep := judge()
		if got, want := o.TimingExtras(rep), []string{"health.all-up"}; !slices.Equal(got, want) {
			t.Fatalf("timing extras %v, want %v (extra %v)", got, want, o.Extra)
		}
	})
	t.Run("an early decision's eventual fields do not count against it", func(t *testing.T) {
		o, rep := judge()
		for i, r := range rep.Rows {
			if r.ID == "health.redis-blackhole" {
				rep.Rows[i].Observed = &matrix.Observation{Unsettled: true}
			}
		}
		if got := o.TimingExtras(rep); !slices.Contains(got, "health.redis-blackhole") {
			t.Errorf("timing extras %v lack the unsettled row", got)
		}
		rep.Rows[slices.IndexFunc(rep.Rows, func(r matrix.RowResult) bool { return r.ID == "health.redis-blackhole" })].
			Mismatches[1].Final = true
		if got := o.TimingExtras(rep); slices.Contains(got, "health.redis-blackhole") {
			t.Errorf("timing extras %v hold a row with a final health mismatch", got)
		}
	})
	t.Run("a row the service ran late in runs again, whatever its mismatch", func(t *testing.T) {
		o, rep := judge()
		i := slices.IndexFunc(rep.Rows, func(r matrix.RowResult) bool { return r.ID == "health.redis-blackhole" })
		late := matrix.MetricDelta{Name: "participants_rate_limit_late_total", Delta: 3}
		rep.Rows[i].Observed = &matrix.Observation{Metrics: []matrix.MetricDelta{{Name: "participants_rate_limit_late_total"}}}
		if got := o.TimingExtras(rep); slices.Contains(got, "health.redis-blackhole") {
			t.Errorf("timing extras %v hold a row whose service counted no late slot", got)
		}
		rep.Rows[i].Observed.Metrics = []matrix.MetricDelta{late}
		if got := o.TimingExtras(rep); !slices.Contains(got, "health.redis-blackhole") {
			t.Errorf("timing extras %v lack the row whose service ran late", got)
		}
	})
	t.Run("passed alone: reported, not held against the variant", func(t *testing.T) {
		o := onlyOnLatency(v)
		if o.OK() {
			t.Fatal("an unexpected rejection passed before the second run")
		}
		o.RanAgain(v, rowByID("health.all-up"), matrix.RowResult{ID: "health.all-up", Result: matrix.ResultPassed})
		if !o.OK() || len(o.Extra) != 0 || !slices.Equal(o.RanApart, []string{"health.all-up"}) {
			t.Fatalf("verdict %q, extra %v, ran apart %v", o.Verdict(), o.Extra, o.RanApart)
		}
		if len(o.Details) != 1 || !strings.Contains(o.Details[0], "passed run again apart") ||
			!strings.Contains(o.Details[0], "210ms") {
			t.Errorf("details %q", o.Details)
		}
		var b strings.Builder
		if err := (Summary{Outcomes: []Outcome{o}}).WriteMarkdown(&b); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"| pass (1 run again apart) |", "passed when run again apart from the full run's load (the self-test's load, not held against the variant): `health.all-up`"} {
			if !strings.Contains(b.String(), want) {
				t.Errorf("summary lacks %q:\n%s", want, b.String())
			}
		}
	})
	t.Run("held to both gates: passed alone clears both", func(t *testing.T) {
		b := v
		b.BothGates = true
		o := onlyOnLatency(b)
		if o.Contract == nil || !slices.Contains(o.Contract.Extra, "health.all-up") {
			t.Fatalf("the contract gate's extras %v lack the row (contract %v)", o.Contract, o.Contract != nil)
		}
		o.RanAgain(b, rowByID("health.all-up"), matrix.RowResult{ID: "health.all-up", Result: matrix.ResultPassed})
		if !o.OK() || len(o.Contract.Extra) != 0 {
			t.Fatalf("verdict %q, contract extra %v, details %q", o.Verdict(), o.Contract.Extra, o.Details)
		}
		for _, d := range o.Details {
			if strings.Contains(d, "rejected unexpectedly") {
				t.Errorf("detail left as it was: %q", d)
			}
		}
	})
	t.Run("failed alone too: still rejected unexpectedly", func(t *testing.T) {
		o, _ := judge()
		o.RanAgain(v, rowByID("health.all-up"), matrix.RowResult{ID: "health.all-up", Result: matrix.ResultFailed,
			Mismatches: []matrix.Mismatch{mismatch(matrix.FieldLatency)}})
		if o.OK() || !slices.Contains(o.Extra, "health.all-up") || len(o.RanApart) != 0 {
			t.Fatalf("extra %v, ran apart %v", o.Extra, o.RanApart)
		}
		if !strings.Contains(strings.Join(o.Details, "\n"), "health.all-up: run again apart: failed, latency") {
			t.Errorf("details %q", o.Details)
		}
	})
	t.Run("a row not rejected unexpectedly is left alone", func(t *testing.T) {
		o, _ := judge()
		before := slices.Clone(o.Extra)
		o.RanAgain(v, rowByID("health.redis-down"), matrix.RowResult{ID: "health.redis-down", Result: matrix.ResultPassed})
		if !slices.Equal(o.Extra, before) || len(o.RanApart) != 0 {
			t.Errorf("extra %v, ran apart %v", o.Extra, o.RanApart)
		}
	})
}

func TestJudgeContractOnly(t *testing.T) {
	cat := matrix.Rows()
	byID := map[string]matrix.Row{}
	for _, r := range cat {
		byID[r.ID] = r
	}
	seeded := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	v := Variant{
		Name:         "dialect",
		ContractOnly: true,
		Differs:      []string{"postgres-down.list"},
		Fields:       []matrix.Field{matrix.FieldHeaders},
	}
	ran := Selection(v, cat, false)
	if !slices.Contains(ran, "postgres-down.get") {
		t.Fatal("the test needs postgres-down.get among the control rows")
	}
	// run reports every selected row passed by the contract gate, observed as its exemplar,
	// except that the rows of retryAfter3 answered Retry-After: 3 (the reference service
	// answers 1; the contract asks only for the header).
	run := func(retryAfter3 ...string) matrix.Report {
		rep := matrix.Report{Summary: matrix.Summary{Mode: matrix.ModeContract}}
		for _, id := range ran {
			o := matrix.Exemplar(byID[id], seeded)
			if slices.Contains(retryAfter3, id) {
				o.Headers[matrix.RetryAfterHeader] = "3"
			}
			if ms := matrix.Compare(byID[id], o, matrix.ModeContract); len(ms) > 0 {
				t.Fatalf("%s: the contract judgement of the synthetic observation fails: %v", id, ms)
			}
			rep.Rows = append(rep.Rows, matrix.RowResult{ID: id, Result: matrix.ResultPassed, Specs: 1, Observed: &o})
		}
		return rep
	}

	t.Run("differs exactly where it says", func(t *testing.T) {
		o := Judge(v, ran, run("postgres-down.list"), cat)
		if !o.OK() || !slices.Equal(o.Differing, []string{"postgres-down.list"}) {
			t.Fatalf("verdict %q, differing %v, details %q", o.Verdict(), o.Differing, o.Details)
		}
	})
	t.Run("no difference at all", func(t *testing.T) {
		o := Judge(v, ran, run(), cat)
		if o.OK() || !slices.Equal(o.Undiffering, []string{"postgres-down.list"}) ||
			!strings.Contains(o.Verdict(), "1 not different from the reference") {
			t.Fatalf("verdict %q, undiffering %v", o.Verdict(), o.Undiffering)
		}
	})
	t.Run("differs on another row too", func(t *testing.T) {
		o := Judge(v, ran, run("postgres-down.list", "postgres-down.get"), cat)
		if o.OK() || !slices.Equal(o.Unexpected, []string{"postgres-down.get"}) ||
			len(o.Details) != 1 || !strings.Contains(o.Details[0], "Retry-After: expected 1, observed 3") {
			t.Fatalf("verdict %q, unexpected %v, details %q", o.Verdict(), o.Unexpected, o.Details)
		}
	})
	t.Run("differs outside its fields", func(t *testing.T) {
		w := v
		w.Fields = []matrix.Field{matrix.FieldLogs}
		o := Judge(w, ran, run("postgres-down.list"), cat)
		if o.OK() || !slices.Equal(o.Unexpected, []string{"postgres-down.list"}) {
			t.Fatalf("verdict %q, unexpected %v", o.Verdict(), o.Unexpected)
		}
	})
	t.Run("the reference gate would refuse the same run", func(t *testing.T) {
		w := v
		w.ContractOnly = false
		w.Differs = nil
		o := Judge(w, ran, run("postgres-down.list"), cat)
		if o.OK() || len(o.Errors) != 1 || !strings.Contains(o.Errors[0], "run: the rows were judged against the contract only") {
			t.Fatalf("a contract-only judgement passed the reference gate: %q", o.Errors)
		}
	})
}

func TestSummaryMarkdown(t *testing.T) {
	s := Summary{Sampled: true, Outcomes: []Outcome{
		{Variant: "good", Ran: []string{"a", "b"}, Expected: []string{"a"}, Rejected: []string{"a"}},
		{Variant: "bad", Ran: []string{"a", "b"}, Expected: []string{"a"}, Rejected: []string{"b"},
			Missing: []string{"a"}, Extra: []string{"b"}, Details: []string{"b: rejected unexpectedly: latency"}},
		{Variant: "dialect", Mode: matrix.ModeContract, Ran: []string{"a", "b"}, Differing: []string{"a"},
			Undiffering: []string{"b"}, Details: []string{"b: expected to differ"}},
	}}
	if s.OK() {
		t.Fatal("a summary with a failed variant is OK")
	}
	var b strings.Builder
	if err := s.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"# Self-test: FAILED",
		"| variant | rows run | expected rejected | actually rejected | verdict | duration |",
		"| good | 2 | 1 | 1 | pass |",
		"| bad | 2 | 1 | 1 | FAIL: 1 not rejected, 1 rejected unexpectedly |",
		"- **not rejected** (the harness missed the bug there): `a`",
		"  - b: rejected unexpectedly: latency",
		"| dialect | 2 | 0 | 0 | FAIL: 1 not different from the reference |",
		"- gated as another implementation of the contract",
		"- differs from the reference service (full judgement) on: `a`",
		"- **not different from the reference service** where the variant says it is: `b`",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("summary lacks %q:\n%s", want, md)
		}
	}
	if (Summary{}).OK() {
		t.Error("an empty summary is OK")
	}
}

func TestJudgeBothGates(t *testing.T) {
	cat := matrix.Rows()
	byID := map[string]matrix.Row{}
	for _, r := range cat {
		byID[r.ID] = r
	}
	seeded := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	const target = "redis-up.max-503.cache-stale"
	v := Variant{Name: "v", Reject: []string{target}, Fields: []matrix.Field{matrix.FieldMetrics}, BothGates: true}
	ran := Selection(v, cat, false)
	// run reports every selected row as observed by its exemplar, the target row broken by
	// change, and judged (as the suite would) against every expectation.
	run := func(change func(*matrix.Observation)) matrix.Report {
		rep := matrix.Report{Summary: matrix.Summary{Mode: matrix.ModeReference}}
		for _, id := range ran {
			o := matrix.Exemplar(byID[id], seeded)
			if id == target {
				change(&o)
			}
			rr := matrix.RowResult{ID: id, Result: matrix.ResultPassed, Specs: 1, Observed: &o, Reference: byID[id].Reference}
			if ms := matrix.Compare(byID[id], o, matrix.ModeReference); len(ms) > 0 {
				rr.Result, rr.Mismatches = matrix.ResultFailed, ms
			}
			rep.Rows = append(rep.Rows, rr)
		}
		return rep
	}
	t.Run("a contract bug: both gates reject", func(t *testing.T) {
		o := Judge(v, ran, run(func(o *matrix.Observation) { o.Metrics = nil }), cat)
		if !o.OK() || o.Contract == nil || !slices.Equal(o.Contract.Rejected, []string{target}) {
			t.Fatalf("verdict %q, contract %+v", o.Verdict(), o.Contract)
		}
	})
	t.Run("reference rows alone: no contract gate to hold them to", func(t *testing.T) {
		const ref = "replicas.max-up.cache-stale.many-chats"
		if !byID[ref].Reference {
			t.Fatalf("%s is no longer a reference row", ref)
		}
		o := matrix.Exemplar(byID[ref], seeded)
		rep := matrix.Report{Summary: matrix.Summary{Mode: matrix.ModeReference},
			Rows: []matrix.RowResult{{ID: ref, Result: matrix.ResultPassed, Specs: 1, Observed: &o, Reference: true}}}
		if got := Judge(v, []string{ref}, rep, cat); !got.OK() || got.Contract != nil {
			t.Fatalf("verdict %q, contract %+v", got.Verdict(), got.Contract)
		}
	})
	t.Run("a reference-only bug: the contract gate lets it through", func(t *testing.T) {
		o := Judge(v, ran, run(func(o *matrix.Observation) {
			for i := range o.Metrics {
				if o.Metrics[i].Labels["reason"] == "server_error" {
					o.Metrics[i].Labels = map[string]string{"reason": "http_5xx"}
				}
			}
		}), cat)
		if o.OK() || o.Contract == nil || !slices.Equal(o.Contract.Missing, []string{target}) ||
			!strings.Contains(o.Verdict(), "contract gate: 1 not rejected") {
			t.Fatalf("verdict %q, contract %+v", o.Verdict(), o.Contract)
		}
	})
}

func TestFailsInCountsAFinalMismatchOfARowDecidedEarly(t *testing.T) {
	unsettled := &matrix.Observation{Unsettled: true}
	over := matrix.Mismatch{Field: matrix.FieldMaxCalls, Item: "GET /chats/{chatId} answered 429", Final: true}
	pending := matrix.Mismatch{Field: matrix.FieldMaxCalls, Item: "GET /chats/{chatId}"}
	fields := []matrix.Field{matrix.FieldMaxCalls}
	if !failsIn(matrix.RowResult{Observed: unsettled, Mismatches: []matrix.Mismatch{over}}, fields) {
		t.Error("a Final mismatch of a row decided early does not count")
	}
	if failsIn(matrix.RowResult{Observed: unsettled, Mismatches: []matrix.Mismatch{pending}}, fields) {
		t.Error("an eventual mismatch observed too soon counts")
	}
}

// rowByID is the catalogue's row id.
func rowByID(id string) matrix.Row {
	r, ok := matrix.Lookup(matrix.Rows(), id)
	if !ok {
		panic("no row " + id)
	}
	return r
}

func TestRanAgainLetsGoOfADifferenceTheLoadMade(t *testing.T) {
	const id = "redis-up.max-503.cache-stale"
	row := rowByID(id)
	v := Variant{Name: "v", ContractOnly: true}
	seeded := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	loaded := func() Outcome {
		return Outcome{Variant: "v", Mode: matrix.ModeContract, Extra: []string{id}, Differing: []string{id}, Unexpected: []string{id},
			Details: []string{id + rejectedUnexpectedly + "latency", id + ": differs from the reference service unexpectedly: latency"}}
	}
	o := loaded()
	clean := matrix.Exemplar(row, seeded)
	o.RanAgain(v, row, matrix.RowResult{ID: id, Result: matrix.ResultPassed, Observed: &clean})
	if !o.OK() || len(o.Unexpected)+len(o.Differing) != 0 || !slices.Equal(o.RanApart, []string{id}) {
		t.Fatalf("verdict %q, unexpected %v, differing %v, details %q", o.Verdict(), o.Unexpected, o.Differing, o.Details)
	}
	o = loaded()
	differs := matrix.Exemplar(row, seeded)
	differs.Logs = nil
	o.RanAgain(v, row, matrix.RowResult{ID: id, Result: matrix.ResultPassed, Observed: &differs})
	if o.OK() || !slices.Equal(o.Unexpected, []string{id}) {
		t.Fatalf("a difference the second run still shows was let go: verdict %q, unexpected %v", o.Verdict(), o.Unexpected)
	}

	// The variant declares the row's difference in its logs: the first run also showed
	// a latency the load put over its bound, the second run the declared difference alone.
	declared := Variant{Name: "v", ContractOnly: true, Differs: []string{id}, Fields: []matrix.Field{matrix.FieldLogs}}
	dialect := matrix.Exemplar(row, seeded)
	for i := range dialect.Logs {
		if dialect.Logs[i].Attrs["reason"] != nil {
			dialect.Logs[i].Attrs = maps.Clone(dialect.Logs[i].Attrs)
			dialect.Logs[i].Attrs["reason"] = "its own word"
		}
	}
	o = loaded()
	o.Details[1] = id + ": differs in a contract expectation or outside the variant's fields: latency; logs"
	o.RanAgain(declared, row, matrix.RowResult{ID: id, Result: matrix.ResultPassed, Observed: &dialect})
	if !o.OK() || len(o.Unexpected) != 0 || !slices.Equal(o.Differing, []string{id}) {
		t.Fatalf("a declared difference beside the load's latency was held: verdict %q, unexpected %v, differing %v, details %q",
			o.Verdict(), o.Unexpected, o.Differing, o.Details)
	}
	if ms := matrix.Compare(row, dialect, matrix.ModeReference); len(ms) == 0 {
		t.Fatal("the second run shows no difference, the case above")
	}

	// The declared difference, shown by the first run, is absent from the second: the load's
	// latency is still let go, and the first run stays the evidence of the difference.
	o = loaded()
	o.Details[1] = id + ": differs in a contract expectation or outside the variant's fields: latency; logs"
	o.RanAgain(declared, row, matrix.RowResult{ID: id, Result: matrix.ResultPassed, Observed: &clean})
	if !o.OK() || len(o.Unexpected) != 0 {
		t.Fatalf("a declared difference the second run lacks held the row: verdict %q, unexpected %v, details %q",
			o.Verdict(), o.Unexpected, o.Details)
	}

	// Held to both gates: the contract gate's outcome lets the row go, and so do the lines
	// the variant's own outcome copied from it.
	contract := loaded()
	both := Outcome{Variant: "v", Extra: []string{id}, Contract: &contract,
		Details: []string{contractGate + contract.Details[0], contractGate + contract.Details[1]}}
	both.RanAgain(Variant{Name: "v", BothGates: true}, row, matrix.RowResult{ID: id, Result: matrix.ResultPassed, Observed: &clean})
	if !both.OK() {
		t.Fatalf("verdict %q, contract %q", both.Verdict(), both.Contract.Verdict())
	}
	for _, d := range both.Details {
		if strings.Contains(d, "differs") {
			t.Errorf("a difference the contract gate let go is still told: %q", d)
		}
	}
}
