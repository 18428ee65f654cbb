package selftest

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/faultline/faultline/matrix"
)

func catalogueIDs() []string {
	var ids []string
	for _, r := range matrix.Rows() {
		ids = append(ids, r.ID)
	}
	return ids
}

func TestVariantsAreWellFormed(t *testing.T) {
	ids := catalogueIDs()
	seen := map[string]bool{}
	for _, v := range Variants() {
		if !matrix.ValidID(v.Name) {
			t.Errorf("variant %q: name is not label-safe", v.Name)
		}
		if seen[v.Name] {
			t.Errorf("variant %q: name used twice", v.Name)
		}
		seen[v.Name] = true
		if v.Breaks == "" || v.Why == "" {
			t.Errorf("variant %s: Breaks and Why must say what is broken and why the rows catch it", v.Name)
		}
		if (v.Patch == "") == (len(v.Env) == 0) {
			t.Errorf("variant %s: made by exactly one of a patch or environment overrides", v.Name)
		}
		for _, kv := range v.Env {
			if k, _, ok := strings.Cut(kv, "="); !ok || k == "" || strings.ContainsAny(kv, " \t\n") {
				t.Errorf("variant %s: env %q is not KEY=VALUE without spaces", v.Name, kv)
			}
		}
		if len(v.Reject) == 0 && len(v.Differs) == 0 {
			t.Errorf("variant %s: a variant the gate need not reject, and that differs from the reference nowhere, proves nothing", v.Name)
		}
		if len(v.Differs) > 0 && !v.ContractOnly {
			t.Errorf("variant %s: Differs is judged for contract-only variants only", v.Name)
		}
		checkRows(t, v.Name+" Reject", v.Reject, ids)
		checkRows(t, v.Name+" Watch", v.Watch, ids)
		checkRows(t, v.Name+" Differs", v.Differs, ids)
		checkRows(t, v.Name+" MayReject", v.MayReject, ids)
		for _, id := range v.MayReject {
			if slices.Contains(v.Reject, id) {
				t.Errorf("variant %s: row %s is both required and allowed to be rejected", v.Name, id)
			}
		}
		for _, id := range v.Watch {
			if slices.Contains(v.Reject, id) || slices.Contains(v.Differs, id) {
				t.Errorf("variant %s: row %s is both watched and rejected or differing", v.Name, id)
			}
		}
		for _, id := range v.Differs {
			if slices.Contains(v.Reject, id) {
				t.Errorf("variant %s: row %s is both rejected and differing", v.Name, id)
			}
		}
		// A contract-only run leaves the scope:reference rows out, so none of its rows may be one.
		for _, r := range matrix.Rows() {
			if !v.Eligible(r) && slices.ContainsFunc(slices.Concat(v.Reject, v.Watch, v.Differs),
				func(id string) bool { return id == r.ID }) {
				t.Errorf("variant %s: row %s is labelled scope:reference, which a contract-only run leaves out", v.Name, r.ID)
			}
		}
		if len(v.Fields) == 0 {
			t.Errorf("variant %s: no Fields: say which report columns the bug shows in", v.Name)
		}
		for _, f := range v.Fields {
			if !slices.Contains(matrix.Fields(), f) {
				t.Errorf("variant %s: unknown field %q", v.Name, f)
			}
		}
	}
	checkRows(t, "ControlRows", ControlRows(), ids)
}

// checkRows fails for ids that are not in the catalogue, or repeated: a renamed row must be
// renamed here too, or the self-test would silently stop checking it.
func checkRows(t *testing.T, what string, rows, catalogue []string) {
	t.Helper()
	seen := map[string]bool{}
	for _, id := range rows {
		if !slices.Contains(catalogue, id) {
			t.Errorf("%s: row %q is not in matrix.Rows()", what, id)
		}
		if seen[id] {
			t.Errorf("%s: row %q listed twice", what, id)
		}
		seen[id] = true
	}
}

func TestEveryPatchBelongsToOneVariant(t *testing.T) {
	names, err := PatchNames()
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]int{}
	for _, v := range Variants() {
		if v.Patch != "" {
			used[v.Patch]++
			if !slices.Contains(names, v.Patch) {
				t.Errorf("variant %s: patch %s is not under %s", v.Name, v.Patch, MutantDir)
			}
		}
	}
	// A soak variant may be a matrix variant too (its patch is then that variant's), or
	// the soak's alone.
	soakOnly := map[string]bool{}
	for _, v := range SoakVariants() {
		if used[v.Patch()] == 0 {
			soakOnly[v.Patch()] = true
		}
	}
	for _, n := range names {
		if !strings.HasSuffix(n, ".patch") {
			t.Errorf("%s/%s: only .patch files belong there", MutantDir, n)
		}
		if used[n] != 1 && !soakOnly[n] {
			t.Errorf("%s/%s: used by %d variants, want 1 (or by a soak variant alone)", MutantDir, n, used[n])
		}
	}
}

func TestControlSample(t *testing.T) {
	control := ControlRows()
	runs := map[string]int{}
	variants := Variants()
	for _, v := range variants {
		sample := ControlSample(v)
		if len(sample) != ControlPerVariant {
			t.Errorf("%s: %d control rows, want %d", v.Name, len(sample), ControlPerVariant)
		}
		for _, id := range sample {
			if !slices.Contains(control, id) {
				t.Errorf("%s: %s is no control row", v.Name, id)
			}
			runs[id]++
		}
	}
	// In turn around the list: every control row runs, none more than once above another.
	least, most := len(variants), 0
	for _, id := range control {
		least, most = min(least, runs[id]), max(most, runs[id])
	}
	if least == 0 || most-least > 1 {
		t.Errorf("control rows run %d to %d times over %d variants: %v", least, most, len(variants), runs)
	}
	if got := ControlSample(Variant{Name: "not-a-variant"}); len(got) != len(control) {
		t.Errorf("a variant outside Variants: %d control rows, want all %d", len(got), len(control))
	}
}

func TestSelection(t *testing.T) {
	cat := matrix.Rows()
	v, ok := Lookup("health-ignores-redis")
	if !ok {
		t.Fatal("no variant health-ignores-redis")
	}
	got := Selection(v, cat, false)
	for _, id := range slices.Concat(v.Reject, v.Watch, ControlSample(v)) {
		if !slices.Contains(got, id) {
			t.Errorf("sample lacks %s", id)
		}
	}
	if len(got) >= len(cat) {
		t.Errorf("sample has %d rows, the catalogue %d", len(got), len(cat))
	}
	ids := catalogueIDs()
	if !slices.IsSortedFunc(got, func(a, b string) int { return slices.Index(ids, a) - slices.Index(ids, b) }) {
		t.Errorf("sample not in catalogue order: %v", got)
	}

	if all := Selection(v, cat, true); len(all) != len(cat) {
		t.Errorf("all: %d rows, want %d", len(all), len(cat))
	}

	// A contract-only variant runs every row but the scope:reference ones.
	v.ContractOnly = true
	all := Selection(v, cat, true)
	for _, r := range cat {
		if slices.Contains(all, r.ID) == r.Reference {
			t.Errorf("contract-only selection: row %s (reference %v) selected %v", r.ID, r.Reference, !r.Reference)
		}
	}
}

func TestSampleRunsTheQuickestExpectedRowOfEachGroup(t *testing.T) {
	cat := matrix.Rows()
	timings, err := matrix.MeasuredTimings()
	if err != nil {
		t.Fatal(err)
	}
	v, ok := Lookup("cache-never-expires")
	if !ok {
		t.Fatal("no variant cache-never-expires")
	}
	got := sampleReject(v.Reject, cat)
	sel := Selection(v, cat, false)
	for _, id := range got {
		if !slices.Contains(sel, id) {
			t.Errorf("the sample lacks the sampled expected row %s", id)
		}
	}
	quickest := map[matrix.Group]string{}
	for _, id := range v.Reject {
		r, _ := matrix.Lookup(cat, id)
		if q, seen := quickest[r.Group]; !seen || timings[id] < timings[q] {
			quickest[r.Group] = id
		}
	}
	// Its expected rows are more than a sample takes, from fewer groups than that (its
	// replicas rows among them): the sample has the quickest of every group, then the
	// quickest of the others.
	if len(v.Reject) <= SampleReject || len(quickest) >= SampleReject {
		t.Fatalf("cache-never-expires: %d expected rows in %d groups; the test needs more than %d rows in fewer groups",
			len(v.Reject), len(quickest), SampleReject)
	}
	if len(got) != SampleReject {
		t.Errorf("sample runs %d expected rows, want %d", len(got), SampleReject)
	}
	for g, id := range quickest {
		if !slices.Contains(got, id) {
			t.Errorf("sample lacks %s, the quickest expected row of group %s", id, g)
		}
	}
	for _, in := range got {
		for _, out := range v.Reject {
			if !slices.Contains(got, out) && !slices.Contains(slices.Collect(maps.Values(quickest)), in) && timings[out] < timings[in] {
				t.Errorf("sample runs %s (%s) but not the quicker %s (%s)", in, timings[in], out, timings[out])
			}
		}
	}
	all := Selection(v, cat, true)
	for _, id := range v.Reject {
		if !slices.Contains(all, id) {
			t.Errorf("the full run lacks %s", id)
		}
	}
}

func TestSoakVariantsHaveTheirPatches(t *testing.T) {
	root, err := ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range SoakVariants() {
		if _, err := os.Stat(filepath.Join(root, MutantDir, v.Patch())); err != nil {
			t.Errorf("soak variant %s: %v", v.Name, err)
		}
		if len(v.Violates) == 0 || v.Breaks == "" || v.Why == "" {
			t.Errorf("soak variant %s says nothing of what it breaks or which invariant catches it", v.Name)
		}
	}
}
