package matrix

import (
	"testing"

	"github.com/onsi/ginkgo/v2/types"
)

func TestRejudgeHoldsOneRunToTheContractGate(t *testing.T) {
	cat := []Row{row(t, "redis-up.max-503.cache-stale"), row(t, "refresh.unlinked-chat")}
	// The first row's service names the MAX error reason its own way (a reference-only
	// expectation); the second row, reference-only as a whole, answers 200 instead of 409.
	o1 := perfect(cat[0])
	for i := range o1.Metrics {
		if o1.Metrics[i].Labels["reason"] == "server_error" {
			o1.Metrics[i].Labels = map[string]string{"reason": "http_5xx"}
		}
	}
	o2 := perfect(cat[1])
	o2.Statuses = []int{200}
	rep := BuildReport(cat, []types.Report{{SpecReports: []types.SpecReport{
		spec(t, cat[0], types.SpecStateFailed, &o1, "mismatch"),
		spec(t, cat[1], types.SpecStateFailed, &o2, "mismatch"),
	}}}, ReportOptions{})
	if rep.Passed() || rep.Summary.Failed != 2 {
		t.Fatalf("reference judgement: %d failed, verdict %s", rep.Summary.Failed, rep.Summary.Verdict)
	}
	c := Rejudge(rep, cat, ModeContract)
	if !c.Passed() || c.Rows[0].Result != ResultPassed || c.Summary.Mode != ModeContract || c.Summary.OutOfScope != 1 {
		t.Errorf("contract judgement: verdict %s, first row %s %v, mode %s, out of scope %d",
			c.Summary.Verdict, c.Rows[0].Result, c.Rows[0].Mismatches, c.Summary.Mode, c.Summary.OutOfScope)
	}
	if back := Rejudge(c, cat, ModeReference); back.Passed() || back.Summary.Failed != 2 {
		t.Errorf("judged back in the reference mode: %d failed", back.Summary.Failed)
	}
	// A spec that failed with nothing to compare stays failed.
	lost := BuildReport(cat[:1], []types.Report{{SpecReports: []types.SpecReport{
		spec(t, cat[0], types.SpecStateFailed, nil, "panic"),
	}}}, ReportOptions{})
	if Rejudge(lost, cat[:1], ModeContract).Rows[0].Result != ResultFailed {
		t.Error("a row that failed on its own passed once rejudged")
	}
}
