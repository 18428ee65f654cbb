package matrix

import (
	"fmt"
	"io"
	"strings"
)

// GateOptions relax the release gate for local runs and for other implementations.
type GateOptions struct {
	// AllowMissing accepts rows that did not run (a partial `make scenario` run); at least one
	// row must still have passed, and nothing may have failed or been skipped.
	AllowMissing bool
	// Mode ModeContract gates another implementation of the contract: rows marked Reference
	// (the contract is silent about them) are out of scope whatever their result. In
	// ModeReference a report judged against the contract only is refused, so a lenient run
	// cannot pass the reference service's gate.
	Mode Mode
}

// Problem is one reason the gate refuses a report.
type Problem struct {
	// ID is the row, or "" for a problem of the run as a whole.
	ID     string `json:"id,omitempty"`
	Result Result `json:"result,omitempty"`
	Reason string `json:"reason"`
	// Mismatches are the failed row's differences, for printing.
	Mismatches []Mismatch `json:"mismatches,omitempty"`
	// Regression marks a row that got worse than in the baseline.
	Regression bool `json:"regression,omitempty"`
}

// String renders the problem on one line.
func (p Problem) String() string {
	if p.ID == "" {
		return "run: " + p.Reason
	}
	if p.Regression {
		return fmt.Sprintf("REGRESSED %s: %s", p.ID, p.Reason)
	}
	return fmt.Sprintf("%s %s: %s", strings.ToUpper(string(p.Result)), p.ID, p.Reason)
}

// Gate judges a report against the catalogue: every catalogued row in scope must be in the
// report and have passed (skipped and pending rows fail the gate; missing ones too unless
// allowed), no spec may name an unknown row, nothing may have failed outside the rows, and no
// row may have regressed against the report's baseline unless the regression was accepted.
// It returns every problem; none means the release may proceed.
func Gate(rep Report, catalogue []Row, opts GateOptions) []Problem {
	var ps []Problem
	if rep.Summary.Mode.Contract() && !opts.Mode.Contract() {
		ps = append(ps, Problem{Reason: "the rows were judged against the contract only " +
			"(MATRIX_CONTRACT_ONLY=1); the reference gate needs the full judgement (gate -contract-only gates another implementation)"})
	}
	for _, f := range rep.Summary.Run.SuiteFailures {
		ps = append(ps, Problem{Reason: "suite failure: " + f})
	}
	for _, id := range rep.Summary.Unknown {
		ps = append(ps, Problem{Reason: unknownRow(id)})
	}
	byID := map[string]RowResult{}
	for _, r := range rep.Rows {
		byID[r.ID] = r
	}
	passed := 0
	for _, row := range catalogue {
		r, ok := byID[row.ID]
		delete(byID, row.ID)
		if opts.Mode.Contract() && row.Reference {
			continue
		}
		if !ok {
			r = RowResult{ID: row.ID, Result: ResultMissing, Reason: "absent from the report"}
		}
		switch r.Result {
		case ResultPassed:
			passed++
		case ResultMissing:
			if !opts.AllowMissing {
				ps = append(ps, Problem{ID: r.ID, Result: r.Result, Reason: r.Reason})
			}
		case ResultFailed:
			ps = append(ps, Problem{ID: r.ID, Result: r.Result, Reason: r.Reason, Mismatches: r.Mismatches})
		default:
			ps = append(ps, Problem{ID: r.ID, Result: r.Result, Reason: orNone(r.Reason)})
		}
	}
	for _, r := range rep.Rows {
		if _, stale := byID[r.ID]; stale {
			ps = append(ps, Problem{ID: r.ID, Result: r.Result, Reason: "in the report but not in the catalogue: the report comes from another version"})
		}
	}
	// A regression refuses a row the gate has not already refused for its own result.
	skip := map[string]bool{}
	for _, row := range catalogue {
		skip[row.ID] = opts.Mode.Contract() && row.Reference
	}
	for _, p := range ps {
		skip[p.ID] = skip[p.ID] || p.ID != ""
	}
	for _, c := range rep.Baseline.Refused() {
		if skip[c.ID] {
			continue
		}
		ps = append(ps, Problem{ID: c.ID, Result: c.New, Regression: true, Reason: "against the baseline (" +
			rep.Baseline.Baseline + "): " + strings.Join(c.Regressions, "; ")})
	}
	if passed == 0 && len(ps) == 0 {
		ps = append(ps, Problem{Reason: "no row passed"})
	}
	return ps
}

func unknownRow(id string) string {
	return "a spec is labelled row:" + id + ", which is not in the catalogue"
}

// PrintProblems writes the problems for people: one line each, a failed row's mismatches
// indented below it.
func PrintProblems(w io.Writer, ps []Problem) error {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.String() + "\n")
		for _, m := range p.Mismatches {
			b.WriteString("    " + m.String() + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
