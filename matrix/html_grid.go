package matrix

import (
	"slices"
	"strings"
)

// noFault is the grid's and the filters' name for "every dependency up", on both axes.
const noFault = faultNone

// gridCell is the rows with one fault kind on one dependency, summarised: how many passed,
// failed or did not run, and how many changed or regressed against the baseline.
type gridCell struct {
	Dep, Fault                    string
	Count, Passed, Failed, NotRun int
	Changed, Regressed            int
	IDs                           []string
}

// Class is the cell's colour: its worst result.
func (c gridCell) Class() string {
	switch {
	case c.Count == 0:
		return "empty"
	case c.Failed > 0:
		return "failed"
	case c.Passed == 0:
		return "not-run"
	case c.NotRun > 0:
		return "partial"
	}
	return "passed"
}

// Title lists the cell's rows for the tooltip.
func (c gridCell) Title() string { return strings.Join(c.IDs, "\n") }

type gridRow struct {
	Dep   string
	Cells []gridCell
}

type gridView struct {
	Faults []string
	Rows   []gridRow
}

// faultPairs returns a row's (dependency, fault kind) pairs: one per active fault, or
// (none, none) when every dependency is up.
func faultPairs(g Given) [][2]string {
	var out [][2]string
	for _, d := range g.Active() {
		out = append(out, [2]string{string(d), string(g.Fault(d).Kind)})
	}
	if len(out) == 0 {
		out = append(out, [2]string{noFault, noFault})
	}
	return out
}

// buildGrid places every row in the cell of each of its faults: dependencies down the side
// (every dependency up first), fault kinds across, in catalogue order, only those that occur.
func buildGrid(rep Report) gridView {
	cells := map[[2]string]*gridCell{}
	for _, r := range rep.Rows {
		change, changed := rep.Baseline.Change(r.ID)
		for _, p := range faultPairs(r.Given) {
			c := cells[p]
			if c == nil {
				c = &gridCell{Dep: p[0], Fault: p[1]}
				cells[p] = c
			}
			c.Count++
			c.IDs = append(c.IDs, r.ID)
			switch r.Result {
			case ResultPassed:
				c.Passed++
			case ResultFailed:
				c.Failed++
			default:
				c.NotRun++
			}
			switch {
			case changed && change.Refused():
				c.Regressed++
			case changed && change.Notable():
				c.Changed++
			}
		}
	}
	deps := []string{noFault}
	for _, d := range Dependencies() {
		deps = append(deps, string(d))
	}
	faults := []string{noFault}
	for _, k := range FaultKinds() {
		faults = append(faults, string(k))
	}
	present := func(match func(p [2]string) bool) bool {
		for p := range cells {
			if match(p) {
				return true
			}
		}
		return false
	}
	faults = slices.DeleteFunc(faults, func(f string) bool { return !present(func(p [2]string) bool { return p[1] == f }) })
	var g gridView
	g.Faults = faults
	for _, d := range deps {
		if !present(func(p [2]string) bool { return p[0] == d }) {
			continue
		}
		row := gridRow{Dep: d}
		for _, f := range faults {
			if c := cells[[2]string{d, f}]; c != nil {
				row.Cells = append(row.Cells, *c)
			} else {
				row.Cells = append(row.Cells, gridCell{Dep: d, Fault: f})
			}
		}
		g.Rows = append(g.Rows, row)
	}
	return g
}
