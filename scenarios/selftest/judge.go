package selftest

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/matrix"
)

// Outcome is the verdict on one variant's run.
type Outcome struct {
	Variant string `json:"variant"`
	// Mode is how the run's rows were judged, as its report records it: ModeContract when
	// the variant was gated as another implementation of the contract.
	Mode matrix.Mode `json:"mode"`
	// Ran are the rows the run selected, in catalogue order.
	Ran []string `json:"ran"`
	// Expected are the rows of Ran the gate must reject.
	Expected []string `json:"expected"`
	// Rejected are the rows the gate rejected.
	Rejected []string `json:"rejected"`
	// Missing were expected and not rejected: the harness did not catch the bug there.
	Missing []string `json:"missing,omitempty"`
	// Extra were rejected and not expected: the variant broke more than it should, or the
	// row is flaky.
	Extra []string `json:"extra,omitempty"`
	// OffField were rejected as expected but showed no mismatch in the variant's Fields.
	OffField []string `json:"off_field,omitempty"`
	// RanApart were rejected unexpectedly on the machine's stalls while variants ran side
	// by side (see TimingExtras), and passed when run again away from that load: the
	// self-test's own load, not the variant. They are reported, not held against it.
	RanApart []string `json:"ran_apart,omitempty"`
	// Differing (contract-only variants) are the rows whose full judgement found differences
	// from the reference service.
	Differing []string `json:"differing,omitempty"`
	// Undiffering were expected to differ from the reference service and did not: the
	// variant is closer to the reference service than it claims.
	Undiffering []string `json:"undiffering,omitempty"`
	// Unexpected differed although not listed in Differs, or differed in a way the contract
	// forbids or outside the variant's Fields.
	Unexpected []string `json:"unexpected,omitempty"`
	// Errors are problems of the run itself: the suite did not start, a selected row did not
	// run, a failure outside the rows.
	Errors []string `json:"errors,omitempty"`
	// Details explain each row of Missing, Extra and OffField: its mismatches or result.
	Details  []string      `json:"details,omitempty"`
	Duration time.Duration `json:"duration"`
	// Dir holds the run's report files.
	Dir string `json:"dir,omitempty"`
	// Contract is the contract gate's outcome on the same run, for a variant held to both gates.
	Contract *Outcome `json:"contract,omitempty"`
}

// OK reports whether the gate rejected exactly the expected rows, for the expected reasons,
// in a run that worked.
func (o Outcome) OK() bool {
	return len(o.Missing)+len(o.Extra)+len(o.OffField)+len(o.Undiffering)+len(o.Unexpected)+len(o.Errors) == 0 &&
		(o.Contract == nil || o.Contract.OK())
}

// Verdict sums the outcome up in a few words.
func (o Outcome) Verdict() string {
	if o.OK() {
		return "pass"
	}
	var parts []string
	if len(o.Errors) > 0 {
		parts = append(parts, "run error")
	}
	if o.Contract != nil && !o.Contract.OK() {
		parts = append(parts, "contract gate: "+strings.TrimPrefix(o.Contract.Verdict(), "FAIL: "))
	}
	if len(o.Missing) > 0 {
		parts = append(parts, fmt.Sprintf("%d not rejected", len(o.Missing)))
	}
	if len(o.Extra) > 0 {
		parts = append(parts, fmt.Sprintf("%d rejected unexpectedly", len(o.Extra)))
	}
	if len(o.OffField) > 0 {
		parts = append(parts, fmt.Sprintf("%d rejected for another reason", len(o.OffField)))
	}
	if len(o.Undiffering) > 0 {
		parts = append(parts, fmt.Sprintf("%d not different from the reference", len(o.Undiffering)))
	}
	if len(o.Unexpected) > 0 {
		parts = append(parts, fmt.Sprintf("%d different unexpectedly", len(o.Unexpected)))
	}
	return "FAIL: " + strings.Join(parts, ", ")
}

// Judge compares what the gate made of a variant's run with what the variant expects. ran
// are the rows the run selected; rep is the matrix report built from the run. Rows outside
// ran are not judged (the gate is asked to allow them missing).
func Judge(v Variant, ran []string, rep matrix.Report, catalogue []matrix.Row) Outcome {
	o := Outcome{Variant: v.Name, Mode: rep.Summary.Mode, Ran: slices.Clone(ran)}
	for _, id := range ran {
		if slices.Contains(v.Reject, id) {
			o.Expected = append(o.Expected, id)
		}

	}
	all := len(ran) == len(Selection(v, catalogue, true))
	problems := matrix.Gate(rep, catalogue, matrix.GateOptions{AllowMissing: !all, Mode: v.Mode()})
	results := map[string]matrix.RowResult{}
	for _, r := range rep.Rows {
		results[r.ID] = r
	}
	for _, p := range problems {
		switch {
		case p.ID == "":
			o.Errors = append(o.Errors, p.String())
		case !slices.Contains(ran, p.ID):
			o.Errors = append(o.Errors, fmt.Sprintf("%s: not selected, yet the gate names it: %s", p.ID, p.Reason))
		case p.Result == matrix.ResultPassed:
			// Passed, yet refused: judged in the wrong mode for this gate.
			o.Errors = append(o.Errors, fmt.Sprintf("%s: passed, yet refused: %s", p.ID, p.Reason))
		case p.Result != matrix.ResultFailed:
			// Skipped or missing: the row did not run, which proves nothing either way.
			o.Errors = append(o.Errors, fmt.Sprintf("%s: %s, not run: %s", p.ID, p.Result, p.Reason))
		default:
			o.Rejected = append(o.Rejected, p.ID)
		}
	}
	// The gate allows rows missing from a sampled run; a selected row must still have run.
	for _, id := range ran {
		r, ok := results[id]
		if !all && (!ok || r.Result == matrix.ResultMissing) {
			o.Errors = append(o.Errors, fmt.Sprintf("%s: selected but absent from the report", id))
		}
	}
	o.Rejected = inOrder(o.Rejected, ran)
	for _, id := range o.Expected {
		if !slices.Contains(o.Rejected, id) {
			o.Missing = append(o.Missing, id)
		}
	}
	for _, id := range o.Rejected {
		if slices.Contains(v.MayReject, id) {
			continue
		}
		if !slices.Contains(o.Expected, id) {
			o.Extra = append(o.Extra, id)
			continue
		}
		if len(v.Fields) > 0 && !failsIn(results[id], v.Fields) {
			o.OffField = append(o.OffField, id)
		}
	}
	o.Details = o.why(results)
	if v.ContractOnly {
		o.Details = append(o.Details, o.judgeDifferences(v, results, catalogue)...)
	}
	if v.BothGates && !v.ContractOnly {
		c := v
		c.ContractOnly, c.BothGates = true, false
		var eligible []string
		for _, r := range catalogue {
			if slices.Contains(ran, r.ID) && c.Eligible(r) {
				eligible = append(eligible, r.ID)
			}
		}
		// A run of reference rows alone (a row run again apart) gives the contract gate
		// nothing to judge, and an empty run is no pass for a gate.
		if len(eligible) > 0 {
			co := Judge(c, eligible, matrix.Rejudge(rep, catalogue, matrix.ModeContract), catalogue)
			o.Contract = &co
			for _, d := range co.Details {
				o.Details = append(o.Details, contractGate+d)
			}
		}
	}
	return o
}

// TimingExtras returns the rows of o.Extra that rep shows rejected on a latency bound alone
// (with, in a row decided early by it, eventual fields observed too soon to say), or in a
// run where the service itself counted a stall (metricLate). Variants run side by side,
// several environments to a core, and a host that stalls for a moment can put a request
// over its bound, or a MAX call past its rate-limit slot, whatever the service does; run
// again alone, such a row tells the self-test's load from the variant's doing. Any other
// mismatch is the variant's.
func (o Outcome) TimingExtras(rep matrix.Report) []string {
	var ids []string
	for _, r := range rep.Rows {
		if slices.Contains(o.Extra, r.ID) && (timingOnly(r) || ranLate(r)) {
			ids = append(ids, r.ID)
		}
	}
	return inOrder(ids, o.Extra)
}

// metricLate counts the rate-limit slots the reference service (every variant's base)
// gave up because it got to its MAX call more than half a slot late: on a saturated host
// the scheduler's delay alone. After three in a row it drops the refresh
// (participants_refresh_dropped_total{reason="local_rate_limit"}), which fails the rows
// that count refreshes.
const metricLate = "participants_rate_limit_late_total"

// ranLate reports whether the service counted a late slot during row r.
func ranLate(r matrix.RowResult) bool {
	if r.Observed == nil {
		return false
	}
	for _, m := range r.Observed.Metrics {
		if m.Name == metricLate && !m.Measured && m.Delta > 0 {
			return true
		}
	}
	return false
}

// timingOnly reports whether r failed on latency and on nothing waiting could not mend.
func timingOnly(r matrix.RowResult) bool {
	latency := false
	for _, m := range r.Mismatches {
		switch {
		case m.Field == matrix.FieldLatency:
			latency = true
		case !tooSoon(r, m):
			return false
		}
	}
	return latency
}

// tooSoon reports whether m is no evidence: an eventual field of a row decided early was
// observed once, too soon to say, unless its mismatch is Final (already over a maximum no
// wait can mend).
func tooSoon(r matrix.RowResult, m matrix.Mismatch) bool {
	return r.Observed != nil && r.Observed.Unsettled && !m.Final && slices.Contains(matrix.EventualFields(), m.Field)
}

// RanAgain records the second run, away from the full run's load, of row id of
// TimingExtras: again is its result there, row the row, v the variant. A pass moves it
// from Extra to RanApart; anything else keeps it in Extra, with what the second run saw.
// A row the load also made differ from the reference service unexpectedly (Unexpected,
// in a contract gate's outcome) is judged again on the second run's full judgement, as
// judgeDifferences judged the first: let go when it finds no difference, or only the
// ones the variant declares (a latency the load put over its bound beside them). A
// declared difference the first run showed and the second did not is still let go: the
// first run is the evidence that the variant differs there.
func (o *Outcome) RanAgain(v Variant, row matrix.Row, again matrix.RowResult) {
	id := row.ID
	// A latency bound is the contract's too: a variant held to both gates has the row
	// among the contract gate's extras as well.
	if o.Contract != nil {
		o.Contract.RanAgain(v, row, again)
		if !slices.Contains(o.Contract.Unexpected, id) {
			o.Details = slices.DeleteFunc(o.Details, func(d string) bool { return strings.HasPrefix(d, contractGate+id+": differs ") })
		}
	}
	if !slices.Contains(o.Extra, id) {
		return
	}
	if again.Result != matrix.ResultPassed {
		o.Details = append(o.Details, fmt.Sprintf("%s: run again apart: %s, %s", id, again.Result, mismatchSummary(again)))
		return
	}
	if slices.Contains(o.Unexpected, id) && again.Observed != nil {
		ms := matrix.Compare(row, *again.Observed, matrix.ModeReference)
		if complaint, undiffering := difference(v, id, ms); complaint == "" || undiffering {
			o.Unexpected = slices.DeleteFunc(o.Unexpected, func(e string) bool { return e == id })
			if len(ms) == 0 {
				o.Differing = slices.DeleteFunc(o.Differing, func(e string) bool { return e == id })
			}
			o.Details = slices.DeleteFunc(o.Details, func(d string) bool { return strings.HasPrefix(d, id+": differs ") })
		}
	}
	o.Extra = slices.DeleteFunc(o.Extra, func(e string) bool { return e == id })
	o.RanApart = append(o.RanApart, id)
	for _, gate := range []string{"", contractGate} {
		prefix := gate + id + rejectedUnexpectedly
		for i, d := range o.Details {
			if rest, ok := strings.CutPrefix(d, prefix); ok {
				o.Details[i] = fmt.Sprintf("%s%s: rejected beside the other variants (%s), passed run again apart", gate, id, rest)
			}
		}
	}
}

// Detail wording that RanAgain finds again in the lines Judge wrote.
const (
	rejectedUnexpectedly = ": rejected unexpectedly: "
	contractGate         = "contract gate: "
)

// judgeDifferences judges the observations of the rows the contract gate had to accept fully,
// as if the variant were meant to be the reference service, and checks that they differ on
// exactly v.Differs, only in reference-only expectations within v.Fields. It returns a line
// of detail for each row it complains about.
func (o *Outcome) judgeDifferences(v Variant, results map[string]matrix.RowResult, catalogue []matrix.Row) []string {
	var details []string
	for _, id := range o.Ran {
		r, ok := results[id]
		if !ok || r.Observed == nil || slices.Contains(v.Reject, id) {
			continue // the gate has judged it already
		}
		idx := slices.IndexFunc(catalogue, func(row matrix.Row) bool { return row.ID == id })
		ms := matrix.Compare(catalogue[idx], *r.Observed, matrix.ModeReference)
		if len(ms) > 0 {
			o.Differing = append(o.Differing, id)
		}
		complaint, undiffering := difference(v, id, ms)
		switch {
		case complaint == "":
		case undiffering:
			o.Undiffering = append(o.Undiffering, id)
		default:
			o.Unexpected = append(o.Unexpected, id)
		}
		if complaint != "" {
			details = append(details, complaint)
		}
	}
	return details
}

// difference judges row id's full-judgement mismatches ms against the differences
// variant v declares. It returns the complaint, if any, and whether it is that an expected
// difference is missing (rather than one the variant does not declare).
func difference(v Variant, id string, ms []matrix.Mismatch) (complaint string, undiffering bool) {
	differs := len(ms) > 0
	switch {
	case !differs && slices.Contains(v.Differs, id):
		return id + ": expected to differ from the reference service, but the full judgement found nothing", true
	case differs && !slices.Contains(v.Differs, id):
		return id + ": differs from the reference service unexpectedly: " + mismatchesText(ms), false
	case differs && !onlyReference(ms, v.Fields):
		return id + ": differs in a contract expectation or outside the variant's fields: " + mismatchesText(ms), false
	}
	return "", false
}

// onlyReference reports whether every mismatch is of a reference-only expectation in one of
// fields.
func onlyReference(ms []matrix.Mismatch, fields []matrix.Field) bool {
	for _, m := range ms {
		if !m.Reference || !slices.Contains(fields, m.Field) {
			return false
		}
	}
	return true
}

// failsIn reports whether a failed row has a mismatch in one of fields. A row that failed
// without an observation (the scenario itself broke) counts as failing in none.
// An unsettled observation (taken without waiting, the row being decided already) is
// evidence only in the fields waiting cannot change: its eventual mismatches may be ones
// that waiting would have met.
func failsIn(r matrix.RowResult, fields []matrix.Field) bool {
	for _, m := range r.Mismatches {
		if tooSoon(r, m) {
			continue
		}
		if slices.Contains(fields, m.Field) {
			return true
		}
	}
	return false
}

// inOrder returns ids sorted by their position in order; ids not in order go last.
func inOrder(ids, order []string) []string {
	out := slices.Clone(ids)
	slices.SortStableFunc(out, func(a, b string) int {
		ia, ib := slices.Index(order, a), slices.Index(order, b)
		if ia < 0 {
			ia = len(order)
		}
		if ib < 0 {
			ib = len(order)
		}
		return ia - ib
	})
	return out
}

// why explains, one line per row, why each row the outcome complains about is there: the
// mismatches of a rejected row, or that an expected row passed.
func (o Outcome) why(results map[string]matrix.RowResult) []string {
	var lines []string
	for _, id := range o.Missing {
		lines = append(lines, fmt.Sprintf("%s: expected rejected, but %s", id, results[id].Result))
	}
	for _, id := range o.Extra {
		lines = append(lines, id+rejectedUnexpectedly+mismatchSummary(results[id]))
	}
	for _, id := range o.OffField {
		lines = append(lines, fmt.Sprintf("%s: rejected, but not in the expected fields: %s", id, mismatchSummary(results[id])))
	}
	return lines
}

// mismatchSummary renders a row's mismatches (or its reason) in one line.
func mismatchSummary(r matrix.RowResult) string {
	if len(r.Mismatches) == 0 {
		return r.Reason
	}
	return mismatchesText(r.Mismatches)
}

// mismatchesText renders mismatches in one line.
func mismatchesText(ms []matrix.Mismatch) string {
	parts := make([]string, 0, len(ms))
	for _, m := range ms {
		parts = append(parts, m.String())
	}
	return strings.Join(parts, "; ")
}
