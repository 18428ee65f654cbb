package matrix

import (
	"bytes"
	"encoding/json"
	"fmt"
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

// WriteFiles writes matrix.json, matrix.md, matrix.html and junit.xml into dir, creating it.
func WriteFiles(dir string, rep Report) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create report dir: %w", err)
	}
	for name, write := range map[string]func(io.Writer, Report) error{
		FileJSON: WriteJSON, FileMarkdown: WriteMarkdown, FileHTML: WriteHTML, FileJUnit: WriteJUnit,
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

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, rep Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// Passed reports whether the report passed the gate of its own mode (the contract gate for a
// contract-only report) when it was built, every row in scope passed and nothing failed
// outside the rows, and no row regressed against its baseline unless accepted.
func (rep Report) Passed() bool {
	return rep.Summary.Verdict == ResultPassed && len(rep.Baseline.Refused()) == 0
}

// Verdict is the report's verdict in one word: PASSED when it Passed, else FAILED.
func Verdict(rep Report) string {
	if rep.Passed() {
		return "PASSED"
	}
	return "FAILED"
}

func summaryLine(rep Report) string {
	s := rep.Summary
	line := fmt.Sprintf("%d passed, %d failed, %d skipped, %d missing of %d rows", s.Passed, s.Failed, s.Skipped, s.Missing, s.Total)
	if s.Mode.Contract() {
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

// firedAlerts lists the alerts the row's replay fired: "none" when it fired nothing, blank
// when the alerts were not replayed.
func firedAlerts(r RowResult) string {
	if r.Observed == nil || r.Observed.Alerts == nil {
		return ""
	}
	return alertList(r.Observed.Alerts.Fired)
}

// rowTime is how long a row's spec ran, blank for rows that did not run.
func rowTime(r RowResult) string {
	if r.Duration == 0 || (r.Result != ResultPassed && r.Result != ResultFailed) {
		return ""
	}
	return r.Duration.Round(time.Millisecond).String()
}
