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
	// ContractOnly gates another implementation of the contract: rows marked Reference (the
	// contract is silent about them) are out of scope whatever their result. Without it, a
	// row judged against the contract only (an observation with ContractOnly) is refused, so
	// a lenient run cannot pass the reference service's gate.
	ContractOnly bool
}

// Problem is one reason the gate refuses a report.
type Problem struct {
	// ID is the row, or "" for a problem of the run as a whole.
	ID     string `json:"id,omitempty"`
	Result Result `json:"result,omitempty"`
	Reason string `json:"reason"`
	// Mismatches are the failed row's differences, for printing.
	Mismatches []Mismatch `json:"mismatches,omitempty"`
}

// String renders the problem on one line.
func (p Problem) String() string {
	if p.ID == "" {
		return "run: " + p.Reason
	}
	return fmt.Sprintf("%s %s: %s", strings.ToUpper(string(p.Result)), p.ID, p.Reason)
}

// Gate judges a report against the catalogue: every catalogued row in scope must be in the
// report and have passed (skipped and pending rows fail the gate; missing ones too unless
// allowed), no spec may name an unknown row and nothing may have failed outside the rows. It
// returns every problem; none means the release may proceed.
func Gate(rep Report, catalogue []Row, opts GateOptions) []Problem {
	var ps []Problem
	for _, f := range rep.Summary.Run.SuiteFailures {
		ps = append(ps, Problem{Reason: "suite failure: " + f})
	}
	for _, id := range rep.Summary.Unknown {
		ps = append(ps, Problem{Reason: fmt.Sprintf("a spec is labelled row:%s, which is not in the catalogue", id)})
	}
	byID := map[string]RowResult{}
	for _, r := range rep.Rows {
		byID[r.ID] = r
	}
	passed := 0
	for _, row := range catalogue {
		r, ok := byID[row.ID]
		delete(byID, row.ID)
		if opts.ContractOnly && row.Reference {
			continue
		}
		if !ok {
			r = RowResult{ID: row.ID, Result: ResultMissing, Reason: "absent from the report"}
		}
		if !opts.ContractOnly && r.Observed != nil && r.Observed.ContractOnly {
			ps = append(ps, Problem{ID: r.ID, Result: r.Result, Reason: "judged against the contract only " +
				"(MATRIX_CONTRACT_ONLY=1); the reference gate needs the full judgement (gate -contract-only gates another implementation)"})
			continue
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
	if passed == 0 && len(ps) == 0 {
		ps = append(ps, Problem{Reason: "no row passed"})
	}
	return ps
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
