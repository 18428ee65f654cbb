package matrix

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The files WriteFiles writes.
const (
	FileJSON     = "matrix.json"
	FileMarkdown = "matrix.md"
	FileHTML     = "matrix.html"
)

// WriteFiles writes matrix.json, matrix.md and matrix.html into dir, creating it.
func WriteFiles(dir string, rep Report) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create report dir: %w", err)
	}
	for name, write := range map[string]func(io.Writer, Report) error{
		FileJSON: WriteJSON, FileMarkdown: WriteMarkdown, FileHTML: WriteHTML,
	} {
		var b bytes.Buffer
		if err := write(&b, rep); err != nil {
			return fmt.Errorf("render %s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o600); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

// scrub is the last line of defence against secrets: the pattern half of the Redactor over
// the rendered bytes (literal secrets were removed when the report was built).
func scrub(w io.Writer, b []byte) error {
	_, err := io.WriteString(w, NewRedactor().String(string(b)))
	return err
}

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, rep Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	return scrub(w, append(b, '\n'))
}

// Passed reports whether the report passes the gate of its own mode (the contract gate for a
// contract-only report) against the rows it holds: every row in scope passed and nothing
// failed outside the rows.
func (rep Report) Passed() bool {
	rows := make([]Row, len(rep.Rows))
	for i, r := range rep.Rows {
		rows[i] = Row{ID: r.ID, Reference: r.Reference}
	}
	return len(Gate(rep, rows, GateOptions{ContractOnly: rep.Summary.ContractOnly})) == 0
}

func verdict(rep Report) string {
	if rep.Passed() {
		return "PASSED"
	}
	return "FAILED"
}

func summaryLine(rep Report) string {
	s := rep.Summary
	line := fmt.Sprintf("%d passed, %d failed, %d skipped, %d missing of %d rows", s.Passed, s.Failed, s.Skipped, s.Missing, s.Total)
	if s.ContractOnly {
		rows := "rows"
		if s.OutOfScope == 1 {
			rows = "row"
		}
		line += fmt.Sprintf("; judged against the contract only, %d %s labelled scope:reference out of scope", s.OutOfScope, rows)
	}
	return line
}

// runFacts is the run metadata as ordered key/value pairs: the caller's meta sorted, then what
// the Ginkgo report says.
func runFacts(run Run) [][2]string {
	var out [][2]string
	for _, k := range slices.Sorted(maps.Keys(run.Meta)) {
		out = append(out, [2]string{k, run.Meta[k]})
	}
	if len(run.Suites) > 0 {
		out = append(out, [2]string{"suites", strings.Join(run.Suites, ", ")})
	}
	if !run.Started.IsZero() {
		out = append(out, [2]string{"started", run.Started.UTC().Format(time.RFC3339)})
	}
	out = append(out, [2]string{"duration", run.Duration.Round(time.Millisecond).String()})
	return out
}

// mark renders a cell: emoji for Markdown (they survive every renderer of job summaries),
// plain symbols for HTML, where the cell's colour carries the meaning.
func mark(c Cell, emoji bool) string {
	switch c {
	case CellPass:
		if emoji {
			return "✅"
		}
		return "✓"
	case CellFail:
		if emoji {
			return "❌"
		}
		return "✗"
	case CellNone:
		return "·"
	case CellUnknown:
		return "?"
	}
	return "–"
}

func resultMark(r Result) string {
	switch r {
	case ResultPassed:
		return "✅ passed"
	case ResultFailed:
		return "❌ failed"
	case ResultSkipped:
		return "⏭ skipped"
	}
	return "❔ " + string(r)
}

// mdCell makes text safe inside a Markdown table cell.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.Join(strings.Fields(s), " ")
}

// WriteMarkdown writes the report as Markdown, for the CI job summary and for reading in a
// repository browser.
func WriteMarkdown(w io.Writer, rep Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Behaviour matrix\n\n**%s**: %s.\n\n", verdict(rep), summaryLine(rep))
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
	return scrub(w, []byte(b.String()))
}

// htmlPage is the self-contained HTML report: inline style, no script, no external asset.
const htmlPage = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Behaviour matrix: {{.Verdict}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1 .passed{color:#1a7f37} h1 .failed{color:#cf222e}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #d0d7de;padding:3px 6px;vertical-align:top}
th{background:#f6f8fa;text-align:left}
td.cell{text-align:center;min-width:1.6em}
td.pass{background:#dafbe1} td.fail{background:#ffcecb;font-weight:bold}
td.none{background:#fff;color:#aaa} td.unknown{background:#fff8c5} td.not-run{background:#eaeef2;color:#777}
tr.failed td.id{border-left:4px solid #cf222e} tr.passed td.id{border-left:4px solid #1a7f37}
tr.skipped td.id,tr.missing td.id{border-left:4px solid #8c959f}
code{font-size:90%}
details{margin:.3em 0 1em}
td.exp{background:#f0fff4} td.obs{background:#fff5f5}
</style>
</head>
<body>
<h1>Behaviour matrix: <span class="{{.VerdictClass}}">{{.Verdict}}</span></h1>
<p id="summary">{{.Summary}}</p>
<table id="run"><tr><th colspan="2">Run</th></tr>
{{range .Facts}}<tr><th>{{index . 0}}</th><td>{{index . 1}}</td></tr>
{{end}}</table>
{{if .SuiteFailures}}<h2>Suite failures</h2><ul id="suite-failures">{{range .SuiteFailures}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .Unknown}}<h2>Specs naming unknown rows</h2><ul id="unknown">{{range .Unknown}}<li><code>row:{{.}}</code></li>{{end}}</ul>{{end}}
<p>Cells: ✓ met, ✗ not met (hover for the first difference), · no expectation, ? not observed, – not run. Alerts fired: what the replay of the row's metrics fired.</p>
{{range .Groups}}<h2>{{.Name}}</h2>
<table class="matrix"><tr><th>Row</th><th>Result</th><th>Time</th>{{range $.Fields}}<th>{{.}}</th>{{end}}<th>alerts fired</th></tr>
{{range .Rows}}<tr id="row-{{.ID}}" class="{{.Result}}" data-result="{{.Result}}"><td class="id"><code>{{.ID}}</code><br><small>{{.Title}}</small></td><td>{{.Result}}</td><td>{{.Time}}</td>{{range .Cells}}<td class="cell {{.State}}" data-field="{{.Field}}"{{if .Title}} title="{{.Title}}"{{end}}>{{.Mark}}</td>{{end}}<td class="fired">{{.Fired}}</td></tr>
{{end}}</table>
{{end}}
{{if .Failures}}<h2>Failures</h2>
{{range .Failures}}<details open id="failure-{{.ID}}"><summary><code>{{.ID}}</code>: {{.Title}}</summary>
<p>Given {{.Given}}. Request {{.Request}}.<br>Reason: {{.Reason}}</p>
<table class="mismatches"><tr><th>Field</th><th>Expectation</th><th>Expected</th><th>Observed</th></tr>
{{range .Mismatches}}<tr data-field="{{.Field}}"><td>{{.Field}}</td><td>{{.Item}}{{if .Reference}} <small>(reference)</small>{{end}}</td><td class="exp">{{.Expected}}</td><td class="obs">{{.Observed}}</td></tr>
{{end}}</table></details>
{{end}}{{end}}
{{if .NotRun}}<h2>Not run</h2><ul id="not-run">{{range .NotRun}}<li><code>{{.ID}}</code> {{.Result}}: {{.Reason}}</li>{{end}}</ul>{{end}}
{{if .Slowest}}<h2>Slowest rows</h2><ol id="slowest">{{range .Slowest}}<li><code>{{.ID}}</code> {{.Duration}}</li>{{end}}</ol>{{end}}
</body>
</html>
`

type htmlCell struct {
	Field Field
	State Cell
	Mark  string
	Title string
}

type htmlRow struct {
	RowResult
	Time  string
	Fired string
	Cells []htmlCell
}

type htmlFailure struct {
	RowResult
	Given, Request string
}

type htmlRowTime struct {
	ID       string
	Duration string
}

// WriteHTML writes the report as one self-contained HTML page.
func WriteHTML(w io.Writer, rep Report) error {
	t, err := template.New("matrix").Parse(htmlPage)
	if err != nil {
		return fmt.Errorf("parse html template: %w", err)
	}
	type group struct {
		Name Group
		Rows []htmlRow
	}
	data := struct {
		Verdict, VerdictClass, Summary string
		Facts                          [][2]string
		SuiteFailures, Unknown         []string
		Fields                         []Field
		Groups                         []group
		Failures                       []htmlFailure
		NotRun                         []RowResult
		Slowest                        []htmlRowTime
	}{
		Verdict: verdict(rep), VerdictClass: strings.ToLower(verdict(rep)), Summary: summaryLine(rep),
		Facts: runFacts(rep.Summary.Run), SuiteFailures: rep.Summary.Run.SuiteFailures, Unknown: rep.Summary.Unknown,
		Fields: Fields(),
	}
	for _, g := range Groups() {
		var rows []htmlRow
		for _, r := range rep.Rows {
			if r.Group != g {
				continue
			}
			hr := htmlRow{RowResult: r, Time: rowTime(r), Fired: firedAlerts(r)}
			for _, f := range Fields() {
				c := htmlCell{Field: f, State: r.Cells[f], Mark: mark(r.Cells[f], false)}
				if i := slices.IndexFunc(r.Mismatches, func(m Mismatch) bool { return m.Field == f }); i >= 0 {
					m := r.Mismatches[i]
					c.Title = fmt.Sprintf("%s: expected %s, observed %s", m.Item, m.Expected, m.Observed)
				}
				hr.Cells = append(hr.Cells, c)
			}
			rows = append(rows, hr)
		}
		if len(rows) > 0 {
			data.Groups = append(data.Groups, group{Name: g, Rows: rows})
		}
	}
	for _, r := range rep.Rows {
		switch r.Result {
		case ResultFailed:
			data.Failures = append(data.Failures, htmlFailure{RowResult: r, Given: r.Given.Summary(), Request: r.Request.String()})
		case ResultSkipped, ResultMissing:
			data.NotRun = append(data.NotRun, r)
		}
	}
	for _, s := range rep.Summary.Slowest {
		data.Slowest = append(data.Slowest, htmlRowTime{ID: s.ID, Duration: s.Duration.Round(time.Millisecond).String()})
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return fmt.Errorf("render html: %w", err)
	}
	return scrub(w, b.Bytes())
}

// firedAlerts lists the alerts the row's replay fired: "none" when it fired nothing, blank
// when the alerts were not replayed.
func firedAlerts(r RowResult) string {
	if r.Observed == nil || r.Observed.Alerts == nil {
		return ""
	}
	if len(r.Observed.Alerts.Fired) == 0 {
		return "none"
	}
	return strings.Join(r.Observed.Alerts.Fired, ", ")
}

// rowTime is how long a row's spec ran, blank for rows that did not run.
func rowTime(r RowResult) string {
	if r.Duration == 0 || (r.Result != ResultPassed && r.Result != ResultFailed) {
		return ""
	}
	return r.Duration.Round(time.Millisecond).String()
}
