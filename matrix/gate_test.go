package matrix

import (
	"bytes"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"
)

// runReport builds the report of a run in which each catalogue row's spec ends in the given
// state (absent rows get no spec); passed specs carry a perfect observation.
func runReport(t *testing.T, cat []Row, states map[string]types.SpecState) Report {
	t.Helper()
	return runReportJudged(t, cat, states, false)
}

// runReportJudged is runReport with every observation judged against the contract only when
// contractOnly is set.
func runReportJudged(t *testing.T, cat []Row, states map[string]types.SpecState, contractOnly bool) Report {
	t.Helper()
	var specs []types.SpecReport
	for _, r := range cat {
		st, ok := states[r.ID]
		if !ok {
			continue
		}
		o := perfect(r)
		msg := ""
		switch st {
		case types.SpecStateFailed:
			msg = "boom"
		case types.SpecStateSkipped:
			msg = "skipped on purpose"
		}
		specs = append(specs, spec(t, r, st, &o, msg))
	}
	return BuildReport(cat, []types.Report{{SuiteDescription: "Scenarios", SpecReports: specs}}, ReportOptions{Mode: ModeOf(contractOnly)})
}

func TestGate(t *testing.T) {
	cat := []Row{row(t, "redis-up.max-up.cache-fresh"), row(t, "redis-down.max-up.cache-fresh"), row(t, "health.all-up")}
	ids := []string{cat[0].ID, cat[1].ID, cat[2].ID}
	all := func(st types.SpecState) map[string]types.SpecState {
		m := map[string]types.SpecState{}
		for _, id := range ids {
			m[id] = types.SpecStatePassed
		}
		m[ids[1]] = st
		return m
	}
	cases := []struct {
		name         string
		rep          func() Report
		allowMissing bool
		want         []string // substrings of the problems, in order; none means the gate passes
	}{
		{"all passed", func() Report { return runReport(t, cat, all(types.SpecStatePassed)) }, false, nil},
		{"failed", func() Report { return runReport(t, cat, all(types.SpecStateFailed)) }, false, []string{"FAILED redis-down.max-up.cache-fresh: spec failed: boom"}},
		{"failed despite allow-missing", func() Report { return runReport(t, cat, all(types.SpecStateFailed)) }, true, []string{"FAILED redis-down"}},
		{"skipped", func() Report { return runReport(t, cat, all(types.SpecStateSkipped)) }, false, []string{"SKIPPED redis-down.max-up.cache-fresh: skipped on purpose"}},
		{"skipped despite allow-missing", func() Report { return runReport(t, cat, all(types.SpecStateSkipped)) }, true, []string{"SKIPPED redis-down"}},
		{"pending", func() Report { return runReport(t, cat, all(types.SpecStatePending)) }, false, []string{"SKIPPED redis-down.max-up.cache-fresh: pending"}},
		{"panicked", func() Report { return runReport(t, cat, all(types.SpecStatePanicked)) }, false, []string{"FAILED redis-down"}},
		{"filtered out", func() Report {
			// Ginkgo reports specs a label filter left out as skipped without a message.
			return BuildReport(cat, []types.Report{{SpecReports: []types.SpecReport{
				spec(t, cat[0], types.SpecStatePassed, ptrObs(perfect(cat[0])), ""),
				spec(t, cat[1], types.SpecStateSkipped, nil, ""),
				spec(t, cat[2], types.SpecStatePassed, ptrObs(perfect(cat[2])), ""),
			}}}, ReportOptions{})
		}, false, []string{"MISSING redis-down.max-up.cache-fresh: not run"}},
		{"missing", func() Report {
			m := all(types.SpecStatePassed)
			delete(m, ids[1])
			return runReport(t, cat, m)
		}, false, []string{"MISSING redis-down.max-up.cache-fresh: no spec"}},
		{"missing allowed", func() Report {
			m := all(types.SpecStatePassed)
			delete(m, ids[1])
			return runReport(t, cat, m)
		}, true, nil},
		{"absent from an older report", func() Report {
			rep := runReport(t, cat, all(types.SpecStatePassed))
			rep.Rows = rep.Rows[:2]
			return rep
		}, false, []string{"MISSING health.all-up: absent from the report"}},
		{"nothing ran", func() Report { return runReport(t, cat, nil) }, true, []string{"run: no row passed"}},
		{"row no longer catalogued", func() Report {
			rep := runReport(t, cat, all(types.SpecStatePassed))
			rep.Rows = append(rep.Rows, RowResult{ID: "old.row", Result: ResultPassed})
			return rep
		}, false, []string{"PASSED old.row: in the report but not in the catalogue"}},
		{"unknown row label", func() Report {
			rep := runReport(t, cat, all(types.SpecStatePassed))
			rep.Summary.Unknown = []string{"typo.row"}
			return rep
		}, false, []string{"run: a spec is labelled row:typo.row"}},
		{"suite failure", func() Report {
			rep := runReport(t, cat, all(types.SpecStatePassed))
			rep.Summary.Run.SuiteFailures = []string{"AfterSuite failed"}
			return rep
		}, true, []string{"run: suite failure: AfterSuite failed"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ps := Gate(tc.rep(), cat, GateOptions{AllowMissing: tc.allowMissing})
			if len(ps) != len(tc.want) {
				t.Fatalf("problems %v, want %d", ps, len(tc.want))
			}
			for i, p := range ps {
				if !strings.Contains(p.String(), tc.want[i]) {
					t.Errorf("problem %q, want %q", p, tc.want[i])
				}
			}
		})
	}
}

func ptrObs(o Observation) *Observation { return &o }

func TestPrintProblemsShowsMismatches(t *testing.T) {
	cat := []Row{row(t, "redis-down.max-up.cache-fresh")}
	o := perfect(cat[0])
	o.Chats[0].Source = SourceCache
	rep := BuildReport(cat, []types.Report{{SpecReports: []types.SpecReport{spec(t, cat[0], types.SpecStatePassed, &o, "")}}}, ReportOptions{})
	var b bytes.Buffer
	if err := PrintProblems(&b, Gate(rep, cat, GateOptions{})); err != nil {
		t.Fatal(err)
	}
	want := "FAILED redis-down.max-up.cache-fresh: 1 expectation not met, first: chats: chat 1 source: expected database, observed cache\n" +
		"    chats: chat 1 source: expected database, observed cache\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestGateContractOnly(t *testing.T) {
	cat := []Row{row(t, "redis-down.max-up.cache-fresh"), row(t, "refresh.unlinked-chat"), row(t, "health.all-up")}
	if cat[0].Reference || !cat[1].Reference || cat[2].Reference {
		t.Fatal("the test needs exactly its second row marked Reference")
	}
	run := func(contractOnly bool, states map[string]types.SpecState) Report {
		return runReportJudged(t, cat, states, contractOnly)
	}
	passed := types.SpecStatePassed
	cases := []struct {
		name string
		rep  Report
		opts GateOptions
		want []string
	}{
		{"contract rows passed, reference row left out",
			run(true, map[string]types.SpecState{cat[0].ID: passed, cat[2].ID: passed}), GateOptions{Mode: ModeContract}, nil},
		{"a failed reference row is out of scope",
			run(true, map[string]types.SpecState{cat[0].ID: passed, cat[1].ID: types.SpecStateFailed, cat[2].ID: passed}),
			GateOptions{Mode: ModeContract}, nil},
		{"a failed contract row is refused",
			run(true, map[string]types.SpecState{cat[0].ID: types.SpecStateFailed, cat[2].ID: passed}),
			GateOptions{Mode: ModeContract}, []string{"FAILED redis-down.max-up.cache-fresh"}},
		{"a missing contract row is refused",
			run(true, map[string]types.SpecState{cat[0].ID: passed}),
			GateOptions{Mode: ModeContract}, []string{"MISSING health.all-up"}},
		{"a fully judged run passes the contract gate too",
			run(false, map[string]types.SpecState{cat[0].ID: passed, cat[1].ID: passed, cat[2].ID: passed}),
			GateOptions{Mode: ModeContract}, nil},
		{"the reference gate refuses a contract-only judgement",
			run(true, map[string]types.SpecState{cat[0].ID: passed, cat[1].ID: passed, cat[2].ID: passed}),
			GateOptions{}, []string{"run: the rows were judged against the contract only"}},
		{"the reference gate needs the reference rows",
			run(false, map[string]types.SpecState{cat[0].ID: passed, cat[2].ID: passed}),
			GateOptions{}, []string{"MISSING refresh.unlinked-chat"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ps := Gate(tc.rep, cat, tc.opts)
			if len(ps) != len(tc.want) {
				t.Fatalf("problems %v, want %d", ps, len(tc.want))
			}
			for i, p := range ps {
				if !strings.Contains(p.String(), tc.want[i]) {
					t.Errorf("problem %q, want %q", p, tc.want[i])
				}
			}
			// The report's own verdict is the gate of its mode.
			if ps := Gate(tc.rep, cat, GateOptions{Mode: tc.rep.Summary.Mode}); tc.rep.Passed() != (len(ps) == 0) {
				t.Errorf("report verdict passed=%v, its gate %v", tc.rep.Passed(), ps)
			}
		})
	}

	rep := run(true, map[string]types.SpecState{cat[0].ID: passed, cat[2].ID: passed})
	if rep.Summary.Mode != ModeContract || rep.Summary.OutOfScope != 1 {
		t.Errorf("summary mode %q, out of scope %d; want contract, 1", rep.Summary.Mode, rep.Summary.OutOfScope)
	}
	var md bytes.Buffer
	if err := WriteMarkdown(&md, rep); err != nil {
		t.Fatal(err)
	}
	if want := "**PASSED**: 2 passed, 0 failed, 0 skipped, 1 missing of 3 rows; judged against the contract only, " +
		"1 row labelled scope:reference out of scope"; !strings.Contains(md.String(), want) {
		t.Errorf("matrix.md lacks %q:\n%s", want, md.String())
	}
}
