package matrix

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// mdCell makes text safe inside a Markdown table cell.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.Join(strings.Fields(s), " ")
}

// WriteMarkdown writes the report as Markdown, for the CI job summary and for reading in a
// repository browser.
func WriteMarkdown(w io.Writer, rep Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Behaviour matrix\n\n**%s**: %s.\n\n", Verdict(rep), summaryLine(rep))
	if rep.Baseline != nil {
		writeMarkdownChanges(&b, rep.Baseline)
	}
	b.WriteString("| Run | |\n|---|---|\n")
	for _, kv := range runFacts(rep.Summary.Run) {
		fmt.Fprintf(&b, "| %s | %s |\n", mdCell(kv[0]), mdCell(kv[1]))
	}
	if fs := rep.Summary.Run.SuiteFailures; len(fs) > 0 {
		b.WriteString("\n## Suite failures\n\n")
		for _, f := range fs {
			fmt.Fprintf(&b, "- %s\n", mdCell(f))
		}
	}
	if u := rep.Summary.Unknown; len(u) > 0 {
		fmt.Fprintf(&b, "\n## Specs naming unknown rows\n\n")
		for _, id := range u {
			fmt.Fprintf(&b, "- `row:%s`\n", id)
		}
	}
	b.WriteString("\nCells: ✅ met, ❌ not met, · no expectation, ? not observed, – not run.\n")
	for _, g := range Groups() {
		rows := slices.DeleteFunc(slices.Clone(rep.Rows), func(r RowResult) bool { return r.Group != g })
		if len(rows) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n## %s\n\n| Row | Result | Time |", g)
		for _, f := range Fields() {
			fmt.Fprintf(&b, " %s |", f)
		}
		b.WriteString(" alerts fired |\n|---|---|---|" + strings.Repeat("---|", len(Fields())) + "---|\n")
		for _, r := range rows {
			fmt.Fprintf(&b, "| `%s` | %s | %s |", r.ID, resultMark(r.Result), rowTime(r))
			for _, f := range Fields() {
				fmt.Fprintf(&b, " %s |", mark(r.Cells[f], true))
			}
			fmt.Fprintf(&b, " %s |\n", mdCell(firedAlerts(r)))
		}
	}
	writeCoverageMarkdown(&b, rep)
	var failed, notRun []RowResult
	for _, r := range rep.Rows {
		switch r.Result {
		case ResultFailed:
			failed = append(failed, r)
		case ResultSkipped, ResultMissing:
			notRun = append(notRun, r)
		}
	}
	if len(failed) > 0 {
		b.WriteString("\n## Failures\n")
		for _, r := range failed {
			fmt.Fprintf(&b, "\n### `%s`: %s\n\n", r.ID, mdCell(r.Title))
			fmt.Fprintf(&b, "Given %s. Request %s.\n\n", mdCell(r.Given.Summary()), mdCell(r.Request.String()))
			fmt.Fprintf(&b, "Reason: %s\n\n", mdCell(r.Reason))
			b.WriteString("| Field | Expectation | Expected | Observed |\n|---|---|---|---|\n")
			for _, m := range r.Mismatches {
				item := m.Item
				if m.Reference {
					item += " (reference)"
				}
				fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", m.Field, mdCell(item), mdCell(m.Expected), mdCell(m.Observed))
			}
		}
	}
	if len(notRun) > 0 {
		b.WriteString("\n## Not run\n\n")
		for _, r := range notRun {
			fmt.Fprintf(&b, "- `%s` %s: %s\n", r.ID, r.Result, mdCell(r.Reason))
		}
	}
	if s := rep.Summary.Slowest; len(s) > 0 {
		b.WriteString("\n## Slowest rows\n\n")
		for _, t := range s {
			fmt.Fprintf(&b, "- `%s` %s\n", t.ID, t.Duration.Round(time.Millisecond))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeMarkdownChanges writes what changed against the baseline: refused regressions first,
// then accepted ones, then the other changes.
func writeMarkdownChanges(b *strings.Builder, c *Comparison) {
	fmt.Fprintf(b, "## Changes against the baseline\n\n%s; latency changes beyond %s (regressions on %s).\n\n",
		mdCell(capitalize(c.Line())), c.Latency, strings.Join(orDefault(c.Latency.Quantiles, RegressionQuantiles()), ", "))
	var counters []string
	rows := 0
	for _, ch := range OrderedChanges(c) {
		if !ch.Notable() {
			counters = append(counters, ch.ID)
			continue
		}
		if rows == 0 {
			b.WriteString("| Row | State | Result | What changed | Accepted because |\n|---|---|---|---|---|\n")
		}
		rows++
		fmt.Fprintf(b, "| `%s` | %s | %s → %s | %s | %s |\n", ch.ID, changeMark(ch), orDash(ch.Base), orDash(ch.New),
			mdCell(ch.Summary()), mdCell(ch.Accepted))
	}
	if rows == 0 {
		b.WriteString("No row changed its result, latency or alerts.\n")
	}
	b.WriteString("\n")
	if len(counters) > 0 {
		fmt.Fprintf(b, "Counter deltas differ, nothing else (`matrix diff` lists them): `%s`.\n\n", strings.Join(counters, "`, `"))
	}
	if len(c.Unused) > 0 {
		fmt.Fprintf(b, "Accepted changes that match no regression (remove them): `%s`.\n\n", strings.Join(c.Unused, "`, `"))
	}
}

func changeMark(c RowChange) string {
	switch changeState(c) {
	case "regressed":
		return "🔺 regressed"
	case "accepted":
		return "🔸 accepted"
	}
	return "🔹 changed"
}

func orDash(r Result) string {
	if r == "" {
		return "–"
	}
	return string(r)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
