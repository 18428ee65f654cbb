package matrix

// Rejudge returns the report as a run judged in mode would have made it from the same
// observations: every row that ran is compared again, and the summary's counts, mode and
// verdict follow. A row that failed for a reason of its own (the spec failed, or attached
// no observation) stays failed. It lets one run of a service be held to both gates.
func Rejudge(rep Report, catalogue []Row, mode Mode) Report {
	out := rep
	out.Rows = make([]RowResult, len(rep.Rows))
	out.Summary.Mode = mode
	out.Summary.Passed, out.Summary.Failed, out.Summary.OutOfScope = 0, 0, 0
	byID := map[string]Row{}
	for _, r := range catalogue {
		byID[r.ID] = r
	}
	for i, rr := range rep.Rows {
		row, known := byID[rr.ID]
		if known && rr.Observed != nil && (rr.Result == ResultPassed || rr.Result == ResultFailed) && !ownFailure(rr) {
			rr.Mismatches = Compare(row, *rr.Observed, mode)
			rr.Result, rr.Reason = ResultPassed, ""
			if len(rr.Mismatches) > 0 {
				rr.Result, rr.Reason = ResultFailed, mismatchReason(rr.Mismatches, *rr.Observed)
			}
			rr.Cells = cells(row, rr)
		}
		switch rr.Result {
		case ResultPassed:
			out.Summary.Passed++
		case ResultFailed:
			out.Summary.Failed++
		}
		if mode.Contract() && rr.Reference {
			out.Summary.OutOfScope++
		}
		out.Rows[i] = rr
	}
	out.Summary.Verdict = ResultPassed
	if len(Gate(out, catalogue, GateOptions{Mode: mode})) > 0 {
		out.Summary.Verdict = ResultFailed
	}
	return out
}

// ownFailure reports whether a failed row failed for a reason of its own, not for its
// expectations: the spec failed with nothing to compare, or the observation is missing.
func ownFailure(rr RowResult) bool {
	for _, m := range rr.Mismatches {
		if m.Field == FieldRun && (m.Item == "spec" || m.Item == "observation") {
			return true
		}
	}
	return false
}
