package selftest

import (
	"slices"
	"strings"
	"testing"

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
	t.Run("rejected for another reason", func(t *testing.T) {
		o := Judge(v, ran, report(results("health.redis-down", "health.redis-blackhole"), matrix.FieldLatency), cat)
		if o.OK() || len(o.OffField) != 2 {
			t.Fatalf("off-field %v, ok %v", o.OffField, o.OK())
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

func TestSummaryMarkdown(t *testing.T) {
	s := Summary{Sampled: true, Outcomes: []Outcome{
		{Variant: "good", Ran: []string{"a", "b"}, Expected: []string{"a"}, Rejected: []string{"a"}},
		{Variant: "bad", Ran: []string{"a", "b"}, Expected: []string{"a"}, Rejected: []string{"b"},
			Missing: []string{"a"}, Extra: []string{"b"}, Details: []string{"b: rejected unexpectedly: latency"}},
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
	} {
		if !strings.Contains(md, want) {
			t.Errorf("summary lacks %q:\n%s", want, md)
		}
	}
	if (Summary{}).OK() {
		t.Error("an empty summary is OK")
	}
}
