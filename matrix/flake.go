package matrix

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// FlakeRow is one row over repeated runs of the matrix.
type FlakeRow struct {
	ID string `json:"id"`
	// Passed counts the runs the row passed, of Runs.
	Passed int `json:"passed"`
	Runs   int `json:"runs"`
	// Slowest is the row's longest time in any run.
	Slowest time.Duration `json:"slowest"`
	// Failures are the first reasons of the runs it did not pass, by run (1-based).
	Failures map[int]string `json:"failures,omitempty"`
}

// Steady reports whether the row passed every run.
func (f FlakeRow) Steady() bool { return f.Passed == f.Runs }

// Flakes counts, for every row of the catalogue, the runs it passed: a row that failed, was
// skipped or missing in a run did not pass it. Rows that did not pass every run come first.
func Flakes(catalogue []Row, runs []Report) []FlakeRow {
	out := make([]FlakeRow, 0, len(catalogue))
	for _, r := range catalogue {
		f := FlakeRow{ID: r.ID, Runs: len(runs)}
		for k, rep := range runs {
			rr, ok := rep.Row(r.ID)
			switch {
			case ok && rr.Result == ResultPassed:
				f.Passed++
			case ok:
				f.fail(k+1, string(rr.Result)+": "+rr.Reason)
			default:
				f.fail(k+1, "not in the report")
			}
			if ok {
				f.Slowest = max(f.Slowest, rr.Duration)
			}
		}
		out = append(out, f)
	}
	slices.SortStableFunc(out, func(a, b FlakeRow) int { return cmp.Compare(a.Passed-a.Runs, b.Passed-b.Runs) })
	return out
}

func (f *FlakeRow) fail(run int, reason string) {
	if f.Failures == nil {
		f.Failures = map[int]string{}
	}
	f.Failures[run] = reason
}

// WriteFlakeMarkdown writes the flake count as a Markdown page: the verdict, then one line
// per row with its passes, its slowest time and why it failed where it did.
func WriteFlakeMarkdown(w io.Writer, rows []FlakeRow, note string) error {
	var b strings.Builder
	unsteady := 0
	runs := 0
	for _, f := range rows {
		runs = max(runs, f.Runs)
		if !f.Steady() {
			unsteady++
		}
	}
	b.WriteString("# Flake count\n\n")
	if note != "" {
		b.WriteString(note + "\n\n")
	}
	if unsteady == 0 {
		fmt.Fprintf(&b, "Every one of %d rows passed %d of %d runs.\n\n", len(rows), runs, runs)
	} else {
		fmt.Fprintf(&b, "**%d of %d rows did not pass every one of %d runs.**\n\n", unsteady, len(rows), runs)
	}
	b.WriteString("| row | passed | slowest | failures |\n|---|---|---|---|\n")
	for _, f := range rows {
		var fails []string
		for _, k := range slices.Sorted(maps.Keys(f.Failures)) {
			fails = append(fails, fmt.Sprintf("run %d: %s", k, mdCell(f.Failures[k])))
		}
		fmt.Fprintf(&b, "| `%s` | %d/%d | %s | %s |\n", f.ID, f.Passed, f.Runs, f.Slowest.Round(10*time.Millisecond), strings.Join(fails, "<br>"))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
