package matrix

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The reports of testdata/baseline come from real runs (testdata/baseline/README.md): base.json
// at the default REDIS_TIMEOUT of 100ms, new.json with REDIS_TIMEOUT=400ms, one row of it from
// a run of the original failure mode.
const (
	tdUnchanged = "redis-up.max-up.cache-fresh"
	tdFlipped   = "redis-down.max-up.cache-fresh"      // passed, then failed (strict mode: 500s)
	tdAccepted  = "redis-blackhole.max-up.cache-fresh" // warm-up p95 217ms → 432ms, accepted
	tdSlower    = "health.redis-blackhole"             // p95 208ms → 412ms
	tdNew       = "redis-slow.max-up.cache-fresh"      // not in base.json
)

// testdata opens a file of testdata/baseline, closed when the test ends.
func testdata(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "baseline", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func readTestReport(t *testing.T, name string) Report {
	t.Helper()
	rep, err := ReadReport(testdata(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func readTestAcceptances(t *testing.T) Acceptances {
	t.Helper()
	acc, err := ReadAcceptances(testdata(t, "accepted.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return acc
}

func changesByID(c Comparison) map[string]RowChange {
	out := map[string]RowChange{}
	for _, r := range c.Rows {
		out[r.ID] = r
	}
	return out
}

func TestCompareReportsOfRealRuns(t *testing.T) {
	base, now := readTestReport(t, "base.json"), readTestReport(t, "new.json")
	c := CompareReports(base, now, DefaultLatencyThreshold())
	if !strings.HasPrefix(c.Baseline, "commit da5a714eaa95") {
		t.Errorf("baseline named %q", c.Baseline)
	}
	byID := changesByID(c)
	if _, ok := byID[tdUnchanged]; ok {
		t.Errorf("%s changed: %+v", tdUnchanged, byID[tdUnchanged])
	}

	flipped := byID[tdFlipped]
	if flipped.Base != ResultPassed || flipped.New != ResultFailed || !slices.Contains(flipped.Regressions, "result passed → failed") {
		t.Errorf("flipped row %+v", flipped)
	}
	// What else the flip shows: the fallback alert no longer fires, and the 200s became 500s.
	if strings.Join(flipped.AlertsBase, ",") != "ParticipantsCacheDown,ParticipantsFallbackRateHigh" || strings.Join(flipped.AlertsNew, ",") != "ParticipantsCacheDown" {
		t.Errorf("flipped row's alerts %v → %v", flipped.AlertsBase, flipped.AlertsNew)
	}
	if !slices.ContainsFunc(flipped.Metrics, func(m MetricChange) bool {
		return m.String() == `http_requests_total{method="GET",route="/chats/all",status="500"} (measured) absent → 20`
	}) {
		t.Errorf("flipped row's metrics %v", flipped.Metrics)
	}

	for id, want := range map[string]string{
		tdAccepted: "slower: warm-up p95 216.7ms → 432.4ms (+215.7ms)",
		tdSlower:   "slower: p95 208.2ms → 412.3ms (+204ms)",
	} {
		if got := byID[id].Regressions; len(got) != 1 || got[0] != want {
			t.Errorf("%s: regressions %q, want %q", id, got, want)
		}
	}
	if n := byID[tdNew]; n.Kind != ChangeNew || n.New != ResultPassed || len(n.Regressions) > 0 {
		t.Errorf("new row %+v", n)
	}
	if len(c.Rows) != 4 || c.Regressed() != 3 {
		t.Errorf("%d changes, %d regressed; want 4, 3", len(c.Rows), c.Regressed())
	}

	// Compared with itself, nothing changed.
	if same := CompareReports(now, now, DefaultLatencyThreshold()); len(same.Rows) != 0 {
		t.Errorf("a report differs from itself: %+v", same.Rows)
	}
	// The other way round, the new row is gone, and gone is a regression.
	back := changesByID(CompareReports(now, base, DefaultLatencyThreshold()))
	if g := back[tdNew]; g.Kind != ChangeGone || g.Base != ResultPassed || !g.Refused() {
		t.Errorf("gone row %+v", g)
	}
	if f := back[tdFlipped]; len(f.Regressions) != 0 || f.Base != ResultFailed || f.New != ResultPassed {
		t.Errorf("a fixed row regressed: %+v", f)
	}
	// Twice as fast is -50 %, not beyond the threshold: no change, and certainly no regression.
	if a, ok := back[tdAccepted]; ok {
		t.Errorf("a faster row changed: %+v", a)
	}
}

func TestGateWithABaselineOfRealRuns(t *testing.T) {
	base, now := readTestReport(t, "base.json"), readTestReport(t, "new.json")
	var cat []Row
	for _, r := range now.Rows {
		cat = append(cat, row(t, r.ID))
	}
	c := CompareReports(base, now, DefaultLatencyThreshold())
	now.Baseline = &c
	problems := func() []string {
		var out []string
		for _, p := range Gate(now, cat, GateOptions{}) {
			out = append(out, p.String())
		}
		return out
	}
	// Without accepted changes: the failed row once (its own failure says more than its
	// regression), and both slower rows.
	got := problems()
	if len(got) != 3 || !strings.HasPrefix(got[0], "FAILED "+tdFlipped+":") ||
		!strings.HasPrefix(got[1], "REGRESSED "+tdAccepted+": against the baseline (commit da5a714eaa95") ||
		!strings.HasPrefix(got[2], "REGRESSED "+tdSlower+":") || !strings.Contains(got[2], "p95 208.2ms → 412.3ms") {
		t.Errorf("problems:\n%s", strings.Join(got, "\n"))
	}
	if now.Passed() {
		t.Error("a report with refused regressions passed")
	}

	// The accepted-changes file accepts one slower row; the stale entry is named.
	c.Accept(readTestAcceptances(t))
	got = problems()
	if len(got) != 2 || strings.Contains(strings.Join(got, "\n"), tdAccepted) {
		t.Errorf("problems after accepting %s:\n%s", tdAccepted, strings.Join(got, "\n"))
	}
	if a := changesByID(c)[tdAccepted].Accepted; !strings.HasPrefix(a, "REDIS_TIMEOUT raised to 400ms on purpose") {
		t.Errorf("accepted because %q", a)
	}
	if strings.Join(c.Unused, ",") != tdUnchanged {
		t.Errorf("unused acceptances %v", c.Unused)
	}

	// Accepting a failed row excuses its regression, never its failure.
	c.Accept(Acceptances{tdFlipped: "x", tdAccepted: "y", tdSlower: "z"})
	got = problems()
	if len(got) != 1 || !strings.HasPrefix(got[0], "FAILED "+tdFlipped) {
		t.Errorf("everything accepted: %v", got)
	}
}
