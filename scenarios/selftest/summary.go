package selftest

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Summary is what a self-test run reports at the end.
type Summary struct {
	Outcomes []Outcome
	// Sampled is true when variants ran a sample of the rows, not every row.
	Sampled  bool
	Duration time.Duration
	// Notes are extra lines about the run (commit, how the binaries were built).
	Notes []string
}

// OK reports whether every variant passed.
func (s Summary) OK() bool {
	for _, o := range s.Outcomes {
		if !o.OK() {
			return false
		}
	}
	return len(s.Outcomes) > 0
}

// WriteMarkdown renders the summary: one table line per variant, then the details of every
// variant that did not pass.
func (s Summary) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	verdict := "passed"
	if !s.OK() {
		verdict = "FAILED"
	}
	fmt.Fprintf(&b, "# Self-test: %s\n\n", verdict)
	scope := "every row of the matrix"
	if s.Sampled {
		scope = "each variant's expected rows, its watched rows and the control sample (see scenarios/selftest/README.md)"
	}
	fmt.Fprintf(&b, "Ran %s for %d variants in %s.\n", scope, len(s.Outcomes), s.Duration.Round(time.Second))
	for _, n := range s.Notes {
		fmt.Fprintf(&b, "%s\n", n)
	}
	b.WriteString("\n| variant | rows run | expected rejected | actually rejected | verdict | duration |\n")
	b.WriteString("|---|---:|---:|---:|---|---:|\n")
	for _, o := range s.Outcomes {
		verdict := o.Verdict()
		if len(o.RanApart) > 0 {
			verdict += fmt.Sprintf(" (%d run again apart)", len(o.RanApart))
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %s | %s |\n", o.Variant, len(o.Ran), len(o.Expected), len(o.Rejected),
			verdict, o.Duration.Round(time.Second))
	}
	for _, o := range s.Outcomes {
		fmt.Fprintf(&b, "\n## %s: %s\n\n", o.Variant, o.Verdict())
		if o.Mode.Contract() {
			fmt.Fprintf(&b, "- gated as another implementation of the contract (rows labelled scope:reference left out)\n")
			fmt.Fprintf(&b, "- differs from the reference service (full judgement) on: %s\n", list(o.Differing))
		}
		fmt.Fprintf(&b, "- expected rejected: %s\n", list(o.Expected))
		fmt.Fprintf(&b, "- actually rejected: %s\n", list(o.Rejected))
		if c := o.Contract; c != nil {
			fmt.Fprintf(&b, "- contract gate, same run: %s; rejected %s\n", c.Verdict(), list(c.Rejected))
		}
		if len(o.Missing) > 0 {
			fmt.Fprintf(&b, "- **not rejected** (the harness missed the bug there): %s\n", list(o.Missing))
		}
		if len(o.Extra) > 0 {
			fmt.Fprintf(&b, "- **rejected unexpectedly** (a row that fails on the reference service too is `make chaos`'s to fix first): %s\n", list(o.Extra))
		}
		if len(o.RanApart) > 0 {
			fmt.Fprintf(&b, "- rejected beside the other variants on latency alone or with the service counting late rate-limit slots, passed when run again apart from the full run's load (the self-test's load, not held against the variant): %s\n", list(o.RanApart))
		}
		if len(o.OffField) > 0 {
			fmt.Fprintf(&b, "- **rejected for another reason than the bug**: %s\n", list(o.OffField))
		}
		if len(o.Undiffering) > 0 {
			fmt.Fprintf(&b, "- **not different from the reference service** where the variant says it is: %s\n", list(o.Undiffering))
		}
		if len(o.Unexpected) > 0 {
			fmt.Fprintf(&b, "- **different from the reference service unexpectedly**: %s\n", list(o.Unexpected))
		}
		for _, d := range o.Details {
			fmt.Fprintf(&b, "  - %s\n", d)
		}
		for _, e := range o.Errors {
			fmt.Fprintf(&b, "- **run error**: %s\n", e)
		}
		if o.Dir != "" {
			fmt.Fprintf(&b, "- report: %s/matrix.md\n", o.Dir)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func list(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	return "`" + strings.Join(ids, "`, `") + "`"
}
