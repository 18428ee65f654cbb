package matrix

import (
	"strings"
	"testing"

	"github.com/faultline/faultline/contract"
)

// TestEveryClauseIsChecked fails for a clause of docs/contract.md that no gate holds and
// that is not listed, with its reason, as unchecked on purpose.
func TestEveryClauseIsChecked(t *testing.T) {
	for _, c := range Coverage() {
		switch {
		case c.Held() && c.Unchecked != "":
			t.Errorf("%s is listed as unchecked (%s), yet %d checks hold it: take it off the list", c.ID, c.Unchecked, len(c.Checks))
		case !c.Held() && c.Unchecked == "":
			t.Errorf("no row checks %s (%s): %q", c.ID, scope(c.Clause), c.Text)
		}
	}
	clauses := map[string]bool{}
	for _, c := range contract.Clauses() {
		clauses[c.ID] = true
	}
	for id := range Unchecked() {
		if !clauses[id] {
			t.Errorf("unchecked clause %s is not in docs/contract.md", id)
		}
	}
	for id := range harnessChecks {
		if !clauses[id] {
			t.Errorf("harness check of %s: no such clause", id)
		}
	}
}

func scope(c contract.Clause) string {
	if c.Reference {
		return "reference"
	}
	return "contract: a check of scope:reference does not hold it"
}

func TestCoverageNamesRowsAndExpectations(t *testing.T) {
	cov := map[string]ClauseCoverage{}
	for _, c := range Coverage() {
		cov[c.ID] = c
	}
	has := func(clause, row, what string) {
		t.Helper()
		for _, k := range cov[clause].Checks {
			if k.Row == row && strings.Contains(k.Expectation, what) {
				return
			}
		}
		t.Errorf("%s: no check by %s naming %q in %+v", clause, row, what, cov[clause].Checks)
	}
	has("behaviour.retry-after", "redis-up.max-429.cache-stale", "after a 429")
	has("behaviour.failed-refresh-writes-nothing", "redis-up.max-503.cache-stale", "unchanged")
	has("behaviour.writes-newer-only", "refresh.newer-in-stores", "newer observation kept")
	has("http.refresh.unlinked", "refresh.unlinked-chat", "status 409")
	if c := cov["http.refresh.unlinked"]; !c.Reference || !c.Held() {
		t.Errorf("a reference clause checked by a reference row: %+v", c)
	}
}
