package matrix

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/contract"
	"github.com/onsi/ginkgo/v2/types"
)

// Result is a row's verdict in a run.
type Result string

// The results.
const (
	ResultPassed Result = "passed"
	ResultFailed Result = "failed"
	// ResultSkipped is a row whose spec was skipped on purpose (Skip) or pending.
	ResultSkipped Result = "skipped"
	// ResultMissing is a row no spec ran: absent from the run, filtered out, or left
	// unrun because the suite stopped.
	ResultMissing Result = "missing"
)

// Cell is the state of one column of one row in the report.
type Cell string

// The cell states.
const (
	CellPass Cell = "pass"
	CellFail Cell = "fail"
	// CellNone is a column the row has no expectation in.
	CellNone Cell = "none"
	// CellUnknown is an expectation that was not observed (no observation, alerts not replayed).
	CellUnknown Cell = "unknown"
	// CellNotRun is every column of a skipped or missing row.
	CellNotRun Cell = "not-run"
)

// RowResult is one row of the report: the row as catalogued, what was observed and the verdict.
type RowResult struct {
	ID        string   `json:"id"`
	Title     string   `json:"title"`
	Group     Group    `json:"group"`
	Labels    []string `json:"labels"`
	Reference bool     `json:"reference,omitempty"`
	Given     Given    `json:"given"`
	Request   Request  `json:"request"`
	Expected  Expected `json:"expected"`
	SLA       SLA      `json:"sla"`
	// Observed is the observation the scenario attached; nil when there was none.
	Observed *Observation `json:"observed"`
	Result   Result       `json:"result"`
	// Reason says why a row did not pass, in one line.
	Reason     string         `json:"reason,omitempty"`
	Mismatches []Mismatch     `json:"mismatches,omitempty"`
	Cells      map[Field]Cell `json:"cells"`
	// Duration is the spec's run time.
	Duration time.Duration `json:"duration,omitempty"`
	// Specs is the number of specs labelled with the row (more than one is a scenario bug).
	Specs int `json:"specs"`
}

// Summary counts the results and describes the run.
type Summary struct {
	Total   int `json:"total"`
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
	Missing int `json:"missing"`
	// Unknown lists row labels of specs that name no catalogued row.
	Unknown []string `json:"unknown,omitempty"`
	// Mode is how every row of the run was judged. In ModeContract (a run of another
	// implementation, MATRIX_CONTRACT_ONLY=1) the rows marked Reference are out of scope,
	// and the report's verdict is the contract gate's.
	Mode Mode `json:"mode"`
	// Verdict is the gate of the report's own mode against the catalogue it was built
	// from: passed when every row in scope passed and nothing failed outside the rows.
	Verdict Result `json:"verdict"`
	// OutOfScope counts the rows marked Reference in a contract-only report.
	OutOfScope int `json:"out_of_scope,omitempty"`
	Run        Run `json:"run"`
	// Slowest are the rows that took longest, slowest first.
	Slowest []RowTime `json:"slowest,omitempty"`
}

// RowTime is a row and how long its spec ran.
type RowTime struct {
	ID       string        `json:"id"`
	Duration time.Duration `json:"duration"`
}

// Run describes the test run the report was made from.
type Run struct {
	// Meta is what the caller knows and the Ginkgo report does not: commit, images, Go
	// version, time of the run.
	Meta     map[string]string `json:"meta,omitempty"`
	Suites   []string          `json:"suites,omitempty"`
	Started  time.Time         `json:"started,omitzero"`
	Finished time.Time         `json:"finished,omitzero"`
	Duration time.Duration     `json:"duration"`
	// SuiteFailures are failures outside the rows' specs (BeforeSuite, AfterSuite, report
	// nodes, special failure reasons such as an interrupt); any of them fails the gate.
	SuiteFailures []string `json:"suite_failures,omitempty"`
}

// Report is the whole matrix report: what matrix.json holds and what the Markdown and HTML
// pages render.
type Report struct {
	Rows    []RowResult `json:"rows"`
	Summary Summary     `json:"summary"`
	// Coverage is every clause of docs/contract.md with the expectations that check it.
	Coverage []ClauseCoverage `json:"coverage,omitempty"`
	// Baseline is the comparison with the last release's report, when one was given; its
	// regressions that no accepted change covers refuse the release.
	Baseline *Comparison `json:"baseline,omitempty"`
}

// ReportOptions are the inputs of BuildReport besides the catalogue and the Ginkgo reports.
type ReportOptions struct {
	Meta map[string]string
	// Mode is how the run's observations are judged; empty is ModeReference.
	Mode Mode
	// Secrets are literal values that must not appear in the report.
	Secrets []string
}

// ReadGinkgoReport decodes the file `ginkgo --json-report` writes.
func ReadGinkgoReport(r io.Reader) ([]types.Report, error) {
	var reports []types.Report
	if err := json.NewDecoder(r).Decode(&reports); err != nil {
		return nil, fmt.Errorf("decode ginkgo json report: %w", err)
	}
	return reports, nil
}

// BuildReport matches the specs of the Ginkgo reports to the catalogue's rows by their
// row:<id> label, judges each row (the spec's state, and Compare of the attached observation,
// so a scenario that forgot an assertion still fails), and redacts every secret: the whole
// report, once, before it is returned; nothing else of it needs redacting after.
func BuildReport(catalogue []Row, suites []types.Report, opts ReportOptions) Report {
	rep := Report{}
	rep.Summary.Mode = cmp.Or(opts.Mode, ModeReference)
	run := &rep.Summary.Run
	run.Meta = map[string]string{}
	for k, v := range opts.Meta {
		run.Meta[k] = v
	}
	specs := map[string][]types.SpecReport{}
	for _, s := range suites {
		run.Suites = append(run.Suites, s.SuiteDescription)
		if run.Started.IsZero() || (!s.StartTime.IsZero() && s.StartTime.Before(run.Started)) {
			run.Started = s.StartTime
		}
		if s.EndTime.After(run.Finished) {
			run.Finished = s.EndTime
		}
		run.Duration += s.RunTime
		for _, reason := range s.SpecialSuiteFailureReasons {
			run.SuiteFailures = append(run.SuiteFailures, s.SuiteDescription+": "+reason)
		}
		for _, sp := range s.SpecReports {
			if !sp.LeafNodeType.Is(types.NodeTypeIt) {
				if sp.State.Is(types.SpecStateFailureStates) {
					run.SuiteFailures = append(run.SuiteFailures,
						fmt.Sprintf("%s: %s failed: %s", s.SuiteDescription, sp.LeafNodeType, firstLine(sp.Failure.Message)))
				}
				continue
			}
			id, err := RowID(sp.Labels())
			if err != nil {
				if errors.Is(err, ErrSeveralRowLabels) {
					run.SuiteFailures = append(run.SuiteFailures, fmt.Sprintf("spec %q: %v", sp.FullText(), err))
				}
				continue // a spec of another kind, not a row
			}
			specs[id] = append(specs[id], sp)
		}
	}
	references := 0
	for _, r := range catalogue {
		rr := judge(r, specs[r.ID], rep.Summary.Mode)
		delete(specs, r.ID)
		rep.Rows = append(rep.Rows, rr)
		rep.Summary.Total++
		if rr.Reference {
			references++
		}
		switch rr.Result {
		case ResultPassed:
			rep.Summary.Passed++
		case ResultFailed:
			rep.Summary.Failed++
		case ResultSkipped:
			rep.Summary.Skipped++
		case ResultMissing:
			rep.Summary.Missing++
		}
	}
	rep.Summary.Unknown = slices.Sorted(maps.Keys(specs))
	if rep.Summary.Mode.Contract() {
		rep.Summary.OutOfScope = references
	}
	var times []RowTime
	for _, rr := range rep.Rows {
		if rr.Duration > 0 && (rr.Result == ResultPassed || rr.Result == ResultFailed) {
			times = append(times, RowTime{ID: rr.ID, Duration: rr.Duration})
		}
	}
	slices.SortStableFunc(times, func(a, b RowTime) int { return cmp.Compare(b.Duration, a.Duration) })
	rep.Summary.Slowest = times[:min(len(times), 5)]
	rep.Coverage = CoverageOf(catalogue, contract.Clauses(), Unchecked())
	rep.Summary.Verdict = ResultPassed
	if len(Gate(rep, catalogue, GateOptions{Mode: rep.Summary.Mode})) > 0 {
		rep.Summary.Verdict = ResultFailed
	}
	redacted, err := redactReport(NewRedactor(opts.Secrets...), rep)
	if err != nil {
		// Nothing that might hold a secret leaves: only the verdicts and the reason.
		for i := range rep.Rows {
			rep.Rows[i].Observed, rep.Rows[i].Mismatches, rep.Rows[i].Reason = nil, nil, ""
		}
		rep.Summary.Run = Run{SuiteFailures: []string{"redact the report: " + err.Error()}}
		rep.Summary.Verdict = ResultFailed
		return rep
	}
	return redacted
}

// Row returns the report's result of row id.
func (rep Report) Row(id string) (RowResult, bool) {
	for _, rr := range rep.Rows {
		if rr.ID == id {
			return rr, true
		}
	}
	return RowResult{}, false
}

// redactReport redacts rep a row at a time, and then the rest of it (Redact): most rows
// hold nothing a redaction could change and are kept as they are (sharing their Given and
// Expected with the catalogue, as BuildReport built them; nothing changes a report's rows
// in place). The coverage is left out: it is made of the catalogue and docs/contract.md
// alone, nothing a run observed, and its text, which names the secrets it guards, is a
// quarter of the work of redacting a report.
func redactReport(r *Redactor, rep Report) (Report, error) {
	rows := make([]RowResult, len(rep.Rows))
	for i, row := range rep.Rows {
		var err error
		if rows[i], err = Redact(r, row); err != nil {
			return Report{}, err
		}
	}
	rest := rep
	rest.Rows, rest.Coverage = nil, nil
	rest, err := Redact(r, rest)
	if err != nil {
		return Report{}, err
	}
	rest.Rows, rest.Coverage = rows, rep.Coverage
	return rest, nil
}

// resultRank orders verdicts when several specs carry one row: the worst wins, and any spec
// that ran beats one that did not.
func resultRank(r Result) int {
	return map[Result]int{ResultMissing: 0, ResultPassed: 1, ResultSkipped: 2, ResultFailed: 3}[r]
}

// notRun reports whether Ginkgo left the spec out: a label filter (another shard's row), or
// an interrupted suite that never reached it.
func notRun(sp types.SpecReport) bool {
	return sp.State == types.SpecStateSkipped && sp.Failure.Message == ""
}

func judge(r Row, specs []types.SpecReport, mode Mode) RowResult {
	// Reports of shards merged into one hold every row once per shard, run in one only:
	// what did not run counts only where nothing did.
	ran := slices.DeleteFunc(slices.Clone(specs), notRun)
	if len(ran) > 0 {
		specs = ran
	}
	rr := RowResult{ID: r.ID, Title: r.Title, Group: r.Group, Labels: Labels(r), Reference: r.Reference,
		Given: r.Given, Request: r.Request, Expected: r.Expected, SLA: r.SLA, Specs: len(specs)}
	if len(specs) == 0 {
		rr.Result, rr.Reason = ResultMissing, "no spec in the run carries the label row:"+r.ID
		rr.Cells = cells(r, rr)
		return rr
	}
	best := RowResult{Result: ResultMissing}
	first := true
	for _, sp := range specs {
		one := judgeSpec(r, sp, mode)
		if first || resultRank(one.Result) > resultRank(best.Result) {
			best, first = one, false
		}
	}
	rr.Observed, rr.Result, rr.Reason, rr.Mismatches, rr.Duration = best.Observed, best.Result, best.Reason, best.Mismatches, best.Duration
	if len(ran) > 1 {
		rr.Reason = strings.TrimPrefix(rr.Reason+fmt.Sprintf("; %d specs carry row:%s", len(ran), r.ID), "; ")
	}
	rr.Cells = cells(r, rr)
	return rr
}

func judgeSpec(r Row, sp types.SpecReport, mode Mode) RowResult {
	out := RowResult{Duration: sp.RunTime}
	switch {
	case sp.State == types.SpecStatePending:
		out.Result, out.Reason = ResultSkipped, "pending"
		return out
	case notRun(sp):
		// Ginkgo reports specs a label filter left out, or an interrupted suite never reached,
		// as skipped without a message: they did not run.
		out.Result, out.Reason, out.Duration = ResultMissing, "not run: filtered out, or the suite stopped before it", 0
		return out
	case sp.State == types.SpecStateSkipped:
		out.Result, out.Reason = ResultSkipped, firstLine(sp.Failure.Message)
		return out
	}
	obs, err := observation(sp)
	if err != nil {
		out.Result, out.Reason = ResultFailed, err.Error()
		out.Mismatches = []Mismatch{{Field: FieldRun, Item: "observation", Expected: "decodable", Observed: err.Error()}}
		return out
	}
	out.Observed = obs
	if obs != nil {
		out.Mismatches = Compare(r, *obs, mode)
	}
	switch {
	case sp.State.Is(types.SpecStateFailureStates):
		msg := firstLine(sp.Failure.Message)
		out.Result, out.Reason = ResultFailed, fmt.Sprintf("spec %s: %s", sp.State, msg)
		if len(out.Mismatches) == 0 {
			out.Mismatches = []Mismatch{{Field: FieldRun, Item: "spec", Expected: "passed", Observed: sp.State.String() + ": " + msg}}
		}
	case obs == nil:
		out.Result, out.Reason = ResultFailed, "the spec attached no observation"
		out.Mismatches = []Mismatch{{Field: FieldRun, Item: "observation", Expected: "attached", Observed: "none"}}
	case len(out.Mismatches) > 0:
		out.Result, out.Reason = ResultFailed, mismatchReason(out.Mismatches, *obs)
	default:
		out.Result = ResultPassed
	}
	return out
}

// mismatchReason says in one line why a row with mismatches failed.
func mismatchReason(ms []Mismatch, obs Observation) string {
	reason := fmt.Sprintf("%s not met, first: %s", plural(len(ms), "expectation"), ms[0])
	if obs.Unsettled {
		reason += "; observed once, without waiting for background work: the row had failed already"
	}
	return reason
}

// observation decodes the last observation entry of a spec.
func observation(sp types.SpecReport) (*Observation, error) {
	var found *types.ReportEntry
	for i := range sp.ReportEntries {
		if sp.ReportEntries[i].Name == ObservationEntry {
			found = &sp.ReportEntries[i]
		}
	}
	if found == nil {
		return nil, nil
	}
	// A report read from Ginkgo's JSON file carries the value as AsJSON; the report a
	// ReportAfterSuite node receives in process carries the value itself.
	raw := []byte(found.Value.AsJSON)
	if len(raw) == 0 {
		b, err := json.Marshal(found.Value.GetRawValue())
		if err != nil {
			return nil, fmt.Errorf("encode observation entry: %w", err)
		}
		raw = b
	}
	var o Observation
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, fmt.Errorf("decode observation entry: %w", err)
	}
	return &o, nil
}

func cells(r Row, rr RowResult) map[Field]Cell {
	out := map[Field]Cell{}
	for _, f := range Fields() {
		switch {
		case rr.Result == ResultSkipped || rr.Result == ResultMissing:
			out[f] = CellNotRun
		case slices.ContainsFunc(rr.Mismatches, func(m Mismatch) bool { return m.Field == f }):
			out[f] = CellFail
		case !Expects(r, f):
			out[f] = CellNone
		case rr.Observed == nil || (f == FieldAlerts && rr.Observed.Alerts == nil):
			out[f] = CellUnknown
		default:
			out[f] = CellPass
		}
	}
	return out
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return strings.TrimSpace(s[:i]) + " …"
	}
	return s
}

// ReadReport decodes matrix.json.
func ReadReport(r io.Reader) (Report, error) {
	var rep Report
	if err := json.NewDecoder(r).Decode(&rep); err != nil {
		return Report{}, fmt.Errorf("decode matrix report: %w", err)
	}
	return rep, nil
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
