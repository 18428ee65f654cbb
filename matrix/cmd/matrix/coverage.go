package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/faultline/faultline/matrix"
)

// coverage prints docs/contract.md clause by clause with the checks that hold it, or none
// and why. It fails (exit 1) when a clause is held by nothing and not left unchecked on
// purpose.
func coverage(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("coverage", stderr)
	verbose := fs.Bool("v", false, "every check of every clause, not only the rows")
	asJSON := fs.Bool("json", false, "the coverage as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cov := matrix.Coverage()
	if *asJSON {
		b, err := json.MarshalIndent(cov, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return ioErr(err)
	}
	gaps := 0
	for _, c := range cov {
		scope := "contract"
		if c.Reference {
			scope = "reference"
		}
		fmt.Fprintf(stdout, "§%s (%s): %s\n", c.ID, scope, c.Text)
		var rows []string
		for _, k := range c.Checks {
			switch {
			case !c.Reference && k.Reference:
				if *verbose {
					fmt.Fprintf(stdout, "    (scope:reference, not for the contract) %s: %s\n", k.Row, k.Expectation)
				}
			case k.Row == "":
				fmt.Fprintf(stdout, "    harness: %s\n", k.Expectation)
			case *verbose:
				fmt.Fprintf(stdout, "    %s: %s\n", k.Row, k.Expectation)
			case !slices.Contains(rows, k.Row):
				rows = append(rows, k.Row)
			}
		}
		if len(rows) > 0 {
			const shown = 6
			more := ""
			if len(rows) > shown {
				more = fmt.Sprintf(" and %d more (-v lists them)", len(rows)-shown)
				rows = rows[:shown]
			}
			fmt.Fprintf(stdout, "    rows: %s%s\n", strings.Join(rows, ", "), more)
		}
		switch {
		case c.Held():
		case c.Unchecked != "":
			fmt.Fprintf(stdout, "    none, on purpose: %s\n", c.Unchecked)
		default:
			fmt.Fprintf(stdout, "    NONE\n")
			gaps++
		}
	}
	if gaps > 0 {
		fmt.Fprintf(stdout, "coverage: %d clauses checked by nothing\n", gaps)
		return errGate
	}
	fmt.Fprintf(stdout, "coverage: every clause of %d is checked or left unchecked on purpose\n", len(cov))
	return nil
}
