package matrix

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/onsi/ginkgo/v2/reporters"
)

// FileJUnit is the JUnit file WriteFiles writes.
const FileJUnit = "junit.xml"

// junitRunCase names the test case that carries the run's own failures (suite nodes, specs
// naming unknown rows).
const junitRunCase = "run"

// WriteJUnit writes the report as JUnit XML in Ginkgo's schema: one test case per row,
// classed by its group, with its labels as properties; a failed row's failure message is its
// mismatches, one a line, and a regression against the baseline fails its row too. Rows that
// did not run are skipped with the reason. Failures outside the rows are one more case, "run".
func WriteJUnit(w io.Writer, rep Report) error {
	suite := reporters.JUnitTestSuite{Name: "behaviour matrix", Package: "matrix",
		Time: rep.Summary.Run.Duration.Seconds()}
	if !rep.Summary.Run.Started.IsZero() {
		suite.Timestamp = rep.Summary.Run.Started.UTC().Format("2006-01-02T15:04:05")
	}
	for _, r := range rep.Rows {
		tc := junitCase(r)
		if c, ok := rep.Baseline.Change(r.ID); ok && c.Refused() {
			msg := "regressed against the baseline (" + rep.Baseline.Baseline + "): " + strings.Join(c.Regressions, "; ")
			if tc.Failure == nil {
				tc.Failure = &reporters.JUnitFailure{Type: "regressed", Message: msg, Description: msg}
				tc.Status = "regressed"
			} else {
				tc.Failure.Description += "\n" + msg
			}
		}
		suite.TestCases = append(suite.TestCases, tc)
	}
	if run := runProblems(rep); len(run) > 0 {
		msg := strings.Join(run, "\n")
		suite.TestCases = append(suite.TestCases, reporters.JUnitTestCase{Name: junitRunCase, Classname: "matrix", Status: "failed",
			Failure: &reporters.JUnitFailure{Type: "failed", Message: run[0], Description: msg}})
	}
	for _, tc := range suite.TestCases {
		suite.Tests++
		switch {
		case tc.Failure != nil:
			suite.Failures++
		case tc.Skipped != nil:
			suite.Skipped++
		}
	}
	suites := reporters.JUnitTestSuites{Tests: suite.Tests, Failures: suite.Failures, Time: suite.Time,
		TestSuites: []reporters.JUnitTestSuite{suite}}
	b, err := xml.MarshalIndent(suites, "", "  ")
	if err != nil {
		return fmt.Errorf("encode junit: %w", err)
	}
	_, err = io.WriteString(w, xml.Header+string(b)+"\n")
	return err
}

func junitCase(r RowResult) reporters.JUnitTestCase {
	tc := reporters.JUnitTestCase{Name: r.ID, Classname: string(r.Group), Status: string(r.Result), Time: r.Duration.Seconds()}
	props := reporters.JUnitProperties{}
	for _, l := range r.Labels {
		k, v, _ := strings.Cut(l, ":")
		props.Properties = append(props.Properties, reporters.JUnitProperty{Name: k, Value: v})
	}
	props.Properties = append(props.Properties, reporters.JUnitProperty{Name: "title", Value: r.Title})
	tc.Properties = &props
	switch r.Result {
	case ResultFailed:
		lines := make([]string, 0, len(r.Mismatches))
		for _, m := range r.Mismatches {
			lines = append(lines, m.String())
		}
		msg := strings.Join(lines, "\n")
		if msg == "" {
			msg = r.Reason
		}
		tc.Failure = &reporters.JUnitFailure{Type: "failed", Message: msg, Description: r.Reason + "\n" + msg}
	case ResultSkipped, ResultMissing:
		tc.Skipped = &reporters.JUnitSkipped{Message: string(r.Result) + ": " + r.Reason}
	}
	return tc
}

// runProblems are the run's failures outside its rows, one line each.
func runProblems(rep Report) []string {
	out := make([]string, 0, len(rep.Summary.Run.SuiteFailures)+len(rep.Summary.Unknown))
	out = append(out, rep.Summary.Run.SuiteFailures...)
	for _, id := range rep.Summary.Unknown {
		out = append(out, unknownRow(id))
	}
	return out
}
