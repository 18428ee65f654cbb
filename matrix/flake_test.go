package matrix

import (
	"strings"
	"testing"
	"time"
)

func TestFlakesCountPassesPerRow(t *testing.T) {
	cat := []Row{{ID: "steady"}, {ID: "flaky"}, {ID: "gone"}}
	run := func(flaky Result, d time.Duration, withGone bool) Report {
		rep := Report{Rows: []RowResult{
			{ID: "steady", Result: ResultPassed, Duration: d},
			{ID: "flaky", Result: flaky, Reason: "latency p95 too high", Duration: d},
		}}
		if withGone {
			rep.Rows = append(rep.Rows, RowResult{ID: "gone", Result: ResultPassed})
		}
		return rep
	}
	got := Flakes(cat, []Report{
		run(ResultPassed, time.Second, true),
		run(ResultFailed, 3*time.Second, true),
		run(ResultPassed, 2*time.Second, false),
	})
	byID := map[string]FlakeRow{}
	for _, f := range got {
		byID[f.ID] = f
	}
	if f := byID["steady"]; f.Passed != 3 || f.Runs != 3 || !f.Steady() || f.Slowest != 3*time.Second {
		t.Errorf("steady = %+v", f)
	}
	if f := byID["flaky"]; f.Passed != 2 || f.Steady() || !strings.Contains(f.Failures[2], "latency") {
		t.Errorf("flaky = %+v", f)
	}
	if f := byID["gone"]; f.Passed != 2 || f.Failures[3] != "not in the report" {
		t.Errorf("gone = %+v", f)
	}
	if got[len(got)-1].ID != "steady" {
		t.Errorf("unsteady rows first: %v", got)
	}
	var b strings.Builder
	if err := WriteFlakeMarkdown(&b, got, ""); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"2 of 3 rows did not pass", "| `flaky` | 2/3 | 3s | run 2: failed: latency p95 too high |"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, b.String())
		}
	}
}
