package matrix

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
	"time"
)

// The page's template, style and script, inlined into one self-contained file.
//
//go:embed page/report.html page/report.css page/report.js
var pageFiles embed.FS

var pageTemplate = template.Must(template.New("report.html").Funcs(template.FuncMap{
	"join":     strings.Join,
	"depLabel": depLabel,
	"ms":       func(d time.Duration) string { return d.Round(time.Millisecond).String() },
}).ParseFS(pageFiles, "page/report.html"))

type htmlCell struct {
	Field Field
	State Cell
	Mark  string
	Title string
}

// htmlRow is one row of the full tables, with what the filters match and what it observed.
type htmlRow struct {
	RowResult
	Time, Fired string
	Cells       []htmlCell
	// Pairs are the row's "dependency:fault" pairs, space-separated, for the filters.
	Pairs  string
	Change string
	Obs    obsView
}

type htmlGroup struct {
	Name Group
	Rows []htmlRow
}

type htmlFailure struct {
	RowResult
	Given, Request string
}

type htmlChange struct {
	RowChange
	State string
}

type htmlFilter struct {
	Name, Label string
	Options     [][2]string
}

type htmlPage struct {
	Verdict, VerdictClass, Summary, RunLine string
	Baseline                                *Comparison
	Grid                                    gridView
	Changes                                 []htmlChange
	CounterChanges                          []RowChange
	Failures                                []htmlFailure
	SuiteFailures, Unknown                  []string
	Filters                                 []htmlFilter
	Total, Colspan                          int
	Fields                                  []Field
	Groups                                  []htmlGroup
	NotRun                                  []RowResult
	Facts                                   [][2]string
	Slowest                                 []RowTime
	CSS                                     template.CSS
	JS                                      template.JS
}

// WriteHTML writes the report as one self-contained page that answers at a glance: the
// verdict, a grid of dependency by fault coloured by its rows' results and changes, then only
// what changed or failed, then every row in tables that filter by group, dependency, fault,
// result and change, each row expanding to what it observed. It loads nothing: the style and
// the script are inline.
func WriteHTML(w io.Writer, rep Report) error {
	css, err := pageFiles.ReadFile("page/report.css")
	if err != nil {
		return fmt.Errorf("read page style: %w", err)
	}
	js, err := pageFiles.ReadFile("page/report.js")
	if err != nil {
		return fmt.Errorf("read page script: %w", err)
	}
	p := htmlPage{
		Verdict: Verdict(rep), VerdictClass: strings.ToLower(Verdict(rep)), Summary: summaryLine(rep),
		RunLine: runLine(rep.Summary.Run), Baseline: rep.Baseline, Grid: buildGrid(rep),
		SuiteFailures: rep.Summary.Run.SuiteFailures, Unknown: rep.Summary.Unknown,
		Filters: filters(rep), Total: len(rep.Rows), Colspan: len(Fields()) + 4, Fields: Fields(),
		Facts: runFacts(rep.Summary.Run), Slowest: rep.Summary.Slowest,
		CSS: template.CSS(css), JS: template.JS(js), //nolint:gosec // our own embedded files, not input
	}
	for _, c := range OrderedChanges(rep.Baseline) {
		if c.Notable() {
			p.Changes = append(p.Changes, htmlChange{RowChange: c, State: changeState(c)})
		} else {
			p.CounterChanges = append(p.CounterChanges, c)
		}
	}
	for _, g := range Groups() {
		hg := htmlGroup{Name: g}
		for _, r := range rep.Rows {
			if r.Group == g {
				hg.Rows = append(hg.Rows, newHTMLRow(r, rep.Baseline))
			}
		}
		if len(hg.Rows) > 0 {
			p.Groups = append(p.Groups, hg)
		}
	}
	for _, r := range rep.Rows {
		switch r.Result {
		case ResultFailed:
			p.Failures = append(p.Failures, htmlFailure{RowResult: r, Given: r.Given.Summary(), Request: r.Request.String()})
		case ResultSkipped, ResultMissing:
			p.NotRun = append(p.NotRun, r)
		}
	}
	var b bytes.Buffer
	if err := pageTemplate.Execute(&b, p); err != nil {
		return fmt.Errorf("render html: %w", err)
	}
	_, err = w.Write(b.Bytes())
	return err
}

func newHTMLRow(r RowResult, cmp *Comparison) htmlRow {
	hr := htmlRow{RowResult: r, Time: rowTime(r), Fired: firedAlerts(r), Obs: observedView(r), Change: "unchanged"}
	if c, ok := cmp.Change(r.ID); ok {
		hr.Change = changeState(c)
	}
	pairs := faultPairs(r.Given)
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = p[0] + ":" + p[1]
	}
	hr.Pairs = strings.Join(parts, " ")
	for _, f := range Fields() {
		c := htmlCell{Field: f, State: r.Cells[f], Mark: mark(r.Cells[f], false)}
		if i := slices.IndexFunc(r.Mismatches, func(m Mismatch) bool { return m.Field == f }); i >= 0 {
			m := r.Mismatches[i]
			c.Title = fmt.Sprintf("%s: expected %s, observed %s", m.Item, m.Expected, m.Observed)
		}
		hr.Cells = append(hr.Cells, c)
	}
	return hr
}

// changeState names a change for the page's classes and the change filter.
func changeState(c RowChange) string {
	switch {
	case c.Refused():
		return "regressed"
	case len(c.Regressions) > 0:
		return "accepted"
	case !c.Notable():
		return "counters"
	}
	return "changed"
}

// filters are the full tables' filters, each offering only the values the report holds.
func filters(rep Report) []htmlFilter {
	group := htmlFilter{Name: "group", Label: "group"}
	for _, g := range Groups() {
		if slices.ContainsFunc(rep.Rows, func(r RowResult) bool { return r.Group == g }) {
			group.Options = append(group.Options, [2]string{string(g), string(g)})
		}
	}
	grid := buildGrid(rep)
	dep := htmlFilter{Name: "dep", Label: "dependency"}
	for _, r := range grid.Rows {
		dep.Options = append(dep.Options, [2]string{r.Dep, depLabel(r.Dep)})
	}
	fault := htmlFilter{Name: "fault", Label: "fault"}
	for _, f := range grid.Faults {
		fault.Options = append(fault.Options, [2]string{f, f})
	}
	result := htmlFilter{Name: "result", Label: "result"}
	for _, res := range []Result{ResultPassed, ResultFailed, ResultSkipped, ResultMissing} {
		if slices.ContainsFunc(rep.Rows, func(r RowResult) bool { return r.Result == res }) {
			result.Options = append(result.Options, [2]string{string(res), string(res)})
		}
	}
	out := []htmlFilter{group, dep, fault, result}
	if rep.Baseline != nil {
		out = append(out, htmlFilter{Name: "change", Label: "change", Options: [][2]string{
			{"any", "changed"}, {"regressed", "regressed"}, {"accepted", "accepted"}, {"changed", "changed, no regression"},
			{"counters", "counter deltas only"}, {"unchanged", "unchanged"}}})
	}
	return out
}

func depLabel(d string) string {
	if d == noFault {
		return "all up"
	}
	return d
}

// runLine is the run in one line: commit, backend, service settings, processes, duration.
func runLine(run Run) string {
	var parts []string
	for _, k := range []string{"commit", "backend", "sut_env", "procs"} {
		if v := run.Meta[k]; v != "" {
			parts = append(parts, k+" "+v)
		}
	}
	if !run.Started.IsZero() {
		parts = append(parts, "started "+run.Started.UTC().Format(time.RFC3339))
	}
	parts = append(parts, "took "+run.Duration.Round(time.Millisecond).String())
	return strings.Join(parts, " · ")
}
