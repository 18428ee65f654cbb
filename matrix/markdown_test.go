package matrix

import (
	"bytes"
	"strings"
	"testing"
)

func TestMarkdownLeadsWithTheChanges(t *testing.T) {
	rep := fixtureReport(t)
	rep.Baseline = &Comparison{Baseline: "commit base", Latency: DefaultLatencyThreshold(), Rows: []RowChange{
		{ID: "health.all-up", Kind: ChangeNew, New: ResultSkipped},
		{ID: "redis-up.max-up.cache-fresh", Kind: ChangeChanged, Base: ResultPassed, New: ResultPassed,
			Latency: []LatencyChange{{Quantile: QuantileP95, Base: 3e6, New: 4e8}}, Regressions: []string{"slower"}},
	}, Unused: []string{"old.row"}}
	var b bytes.Buffer
	if err := WriteMarkdown(&b, rep); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	changes, run := strings.Index(md, "## Changes against the baseline"), strings.Index(md, "| Run |")
	if changes < 0 || changes > run {
		t.Fatalf("the changes do not lead:\n%s", md)
	}
	section := md[changes:run]
	regressed := strings.Index(section, "| `redis-up.max-up.cache-fresh` | 🔺 regressed | passed → passed | p95 3ms → 400ms (+397ms) |")
	added := strings.Index(section, "| `health.all-up` | 🔹 changed | – → skipped | new row, skipped |")
	if regressed < 0 || added < 0 || regressed > added {
		t.Errorf("changes section, regression first:\n%s", section)
	}
	for _, want := range []string{"Against the baseline (commit base): 2 rows changed, 1 regressed (0 accepted)", "beyond 50% and 100ms (regressions on p95)", "remove them): `old.row`"} {
		if !strings.Contains(section, want) {
			t.Errorf("changes section lacks %q:\n%s", want, section)
		}
	}
	// Without a baseline there is no such section, and the golden file holds.
	rep.Baseline = nil
	b.Reset()
	if err := WriteMarkdown(&b, rep); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "Changes against") {
		t.Error("changes without a baseline")
	}
}
