package matrix

import (
	"errors"
	"strings"
	"testing"
)

func TestReadAcceptances(t *testing.T) {
	acc, err := ReadAcceptances(strings.NewReader(`# accepted for release 1.4
redis-latency.max-up.cache-fresh: REDIS_TIMEOUT raised to 400ms (#42)
"health.all-up": "  renamed probe  "
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(acc) != 2 || acc["redis-latency.max-up.cache-fresh"] != "REDIS_TIMEOUT raised to 400ms (#42)" || acc["health.all-up"] != "renamed probe" {
		t.Errorf("acceptances %v", acc)
	}
	if acc, err := ReadAcceptances(strings.NewReader("# nothing accepted\n")); err != nil || len(acc) != 0 {
		t.Errorf("empty file: %v %v", acc, err)
	}
	if acc, err := ReadAcceptances(strings.NewReader(`{"health.all-up": "JSON works too"}`)); err != nil || acc["health.all-up"] != "JSON works too" {
		t.Errorf("JSON: %v %v", acc, err)
	}
}

func TestReadAcceptancesRejects(t *testing.T) {
	for name, tc := range map[string]struct {
		in   string
		want string
	}{
		"no reason":       {"health.all-up:\n", "needs a reason"},
		"blank reason":    {"health.all-up: '  '\n", "needs a reason"},
		"not a row id":    {"Health All Up: because\n", "not a row id"},
		"named twice":     {"health.all-up: a\nhealth.all-up: b\n", "already defined"},
		"a list":          {"- health.all-up\n", "mapping of row id to reason"},
		"a nested reason": {"health.all-up: {why: x}\n", "mapping of row id to reason"},
	} {
		_, err := ReadAcceptances(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to say %q", name, err, tc.want)
		}
		if name == "no reason" && !errors.Is(err, ErrNoReason) {
			t.Errorf("no reason: %v is not ErrNoReason", err)
		}
	}
}

func TestAcceptMarksRegressionsAndListsUnusedEntries(t *testing.T) {
	c := Comparison{Rows: []RowChange{
		{ID: "a", Kind: ChangeChanged, Regressions: []string{"slower: p95"}},
		{ID: "b", Kind: ChangeChanged, Regressions: []string{"result passed → failed"}},
		{ID: "c", Kind: ChangeChanged, Base: ResultFailed, New: ResultPassed},
	}}
	c.Accept(Acceptances{"a": "on purpose", "c": "nothing to accept", "d": "row no longer changes"})
	if c.Rows[0].Accepted != "on purpose" || c.Rows[0].Refused() || !c.Rows[1].Refused() || c.Rows[2].Accepted != "" {
		t.Errorf("rows %+v", c.Rows)
	}
	if got := strings.Join(c.Unused, ","); got != "c,d" {
		t.Errorf("unused %q, want c,d", got)
	}
	if r := c.Refused(); len(r) != 1 || r[0].ID != "b" || c.Regressed() != 2 {
		t.Errorf("refused %v, regressed %d", r, c.Regressed())
	}
}
