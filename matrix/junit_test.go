package matrix

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/reporters"
)

func readJUnit(t *testing.T, rep Report) (reporters.JUnitTestSuites, string) {
	t.Helper()
	var b bytes.Buffer
	if err := WriteJUnit(&b, rep); err != nil {
		t.Fatal(err)
	}
	var suites reporters.JUnitTestSuites
	if err := xml.Unmarshal(b.Bytes(), &suites); err != nil {
		t.Fatalf("junit does not parse: %v\n%s", err, b.String())
	}
	return suites, b.String()
}

func TestJUnitOneCasePerRow(t *testing.T) {
	rep := fixtureReport(t)
	suites, raw := readJUnit(t, rep)
	if len(suites.TestSuites) != 1 {
		t.Fatalf("%d suites", len(suites.TestSuites))
	}
	s := suites.TestSuites[0]
	cases := map[string]reporters.JUnitTestCase{}
	for _, tc := range s.TestCases {
		cases[tc.Name] = tc
	}
	// Every row, plus one case for the run's own failures (an AfterSuite, an unknown row).
	if len(s.TestCases) != len(rep.Rows)+1 || s.Tests != len(rep.Rows)+1 {
		t.Errorf("%d cases (tests=%d), want %d", len(s.TestCases), s.Tests, len(rep.Rows)+1)
	}
	if s.Failures != rep.Summary.Failed+1 || s.Skipped != rep.Summary.Skipped+rep.Summary.Missing {
		t.Errorf("failures %d skipped %d, summary %+v", s.Failures, s.Skipped, rep.Summary)
	}
	failed := cases["redis-down.max-up.cache-fresh"]
	if failed.Failure == nil || !strings.Contains(failed.Failure.Message, "chats: chat 1 source: expected database, observed cache") {
		t.Errorf("failed row's failure %+v", failed.Failure)
	}
	if failed.Classname != string(GroupRedis) || failed.Properties == nil ||
		failed.Properties.WithName("dep") != "redis" || failed.Properties.WithName("fault") != "down" ||
		failed.Properties.WithName("row") != "redis-down.max-up.cache-fresh" {
		t.Errorf("failed row's class %q, properties %+v", failed.Classname, failed.Properties)
	}
	if p := cases["redis-up.max-up.cache-fresh"]; p.Failure != nil || p.Skipped != nil || p.Status != "passed" {
		t.Errorf("passed row %+v", p)
	}
	if m := cases["refresh.max-down"]; m.Skipped == nil || !strings.HasPrefix(m.Skipped.Message, "missing: ") {
		t.Errorf("missing row %+v", m)
	}
	if r := cases[junitRunCase]; r.Failure == nil || !strings.Contains(r.Failure.Description, "AfterSuite") || !strings.Contains(r.Failure.Description, "no-such.row") {
		t.Errorf("run case %+v", r.Failure)
	}
	for _, secret := range []string{fixtureToken, fixtureDBPassword} {
		if strings.Contains(raw, secret) {
			t.Errorf("junit holds %q", secret)
		}
	}
}

func TestJUnitFailsARegressedRow(t *testing.T) {
	rep := fixtureReport(t)
	slow := rep.Rows[0]
	rep.Baseline = &Comparison{Baseline: "commit base", Rows: []RowChange{{ID: slow.ID, Kind: ChangeChanged, Base: ResultPassed, New: ResultPassed,
		Latency:     []LatencyChange{{Quantile: QuantileP95, Base: 3 * time.Millisecond, New: 400 * time.Millisecond}},
		Regressions: []string{"slower: p95 3ms → 400ms (+397ms)"}}}}
	suites, _ := readJUnit(t, rep)
	for _, tc := range suites.TestSuites[0].TestCases {
		if tc.Name != slow.ID {
			continue
		}
		if tc.Failure == nil || tc.Failure.Type != "regressed" || !strings.Contains(tc.Failure.Message, "p95 3ms → 400ms") {
			t.Errorf("regressed row %+v", tc.Failure)
		}
	}
	// Accepted, it passes again.
	rep.Baseline.Rows[0].Accepted = "on purpose"
	suites, _ = readJUnit(t, rep)
	for _, tc := range suites.TestSuites[0].TestCases {
		if tc.Name == slow.ID && tc.Failure != nil {
			t.Errorf("accepted regression still fails: %+v", tc.Failure)
		}
	}
}
