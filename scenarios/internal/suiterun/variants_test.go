package suiterun

import (
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestVariantsRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "variants.json")
	want := []Variant{
		{Name: "a", Command: []string{"/bin/a"}, Rows: []string{"r1", "r2"}, Long: []string{"r2"}, Out: "/out/a", Meta: map[string]string{"k": "v"}},
		{Name: "b", Command: []string{"/bin/b", "-x"}, Env: []string{"K=V"}, ContractOnly: true, Rows: []string{"r1"}, Out: "/out/b"},
	}
	if err := WriteVariants(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadVariants(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read %+v, wrote %+v", got, want)
	}
	if l := got[0].Label(); l != "variant:a" {
		t.Errorf("Label = %q", l)
	}
}

func TestReadVariantsNamesWhatIsWrong(t *testing.T) {
	ok := Variant{Name: "a", Command: []string{"/bin/a"}, Rows: []string{"r"}, Out: "/o"}
	for _, tc := range []struct {
		name string
		vs   []Variant
		want string
	}{
		{"none", nil, "names no variant"},
		{"label", []Variant{{Name: "a b", Command: ok.Command, Rows: ok.Rows, Out: ok.Out}}, `name "a b" cannot be a label`},
		{"twice", []Variant{ok, ok}, `variant "a": named twice`},
		{"command", []Variant{{Name: "a", Rows: ok.Rows, Out: ok.Out}}, "no command"},
		{"rows", []Variant{{Name: "a", Command: ok.Command, Out: ok.Out}}, "no rows"},
		{"out", []Variant{{Name: "a", Command: ok.Command, Rows: ok.Rows}}, "no report directory"},
		{"env", []Variant{{Name: "a", Command: ok.Command, Rows: ok.Rows, Out: ok.Out, Env: []string{"K"}}}, `setting "K" is not KEY=VALUE`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "variants.json")
			if err := WriteVariants(path, tc.vs); err != nil {
				t.Fatal(err)
			}
			_, err := ReadVariants(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
	if _, err := ReadVariants(filepath.Join(t.TempDir(), "absent.json")); err == nil || !strings.Contains(err.Error(), EnvVariants) {
		t.Errorf("a missing file: err = %v", err)
	}
	path := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadVariants(path); err == nil {
		t.Error("a malformed file was read")
	}
}

func TestPrioritiesSpreadTheLongSpecsOverTheFirstPartOfTheRun(t *testing.T) {
	var specs []Spec
	for _, v := range []string{"a", "b", "c", "d", "e"} {
		for _, r := range []string{"r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "slow1", "slow2"} {
			specs = append(specs, Spec{v, r})
		}
	}
	long := func(s Spec) bool { return strings.HasPrefix(s.Row, "slow") }
	p := Priorities(specs, long)
	if len(p) != len(specs) {
		t.Fatalf("%d priorities for %d specs", len(p), len(specs))
	}
	order := make([]Spec, len(specs))
	for s, pr := range p {
		i := len(specs) - pr
		if i < 0 || i >= len(specs) || order[i] != (Spec{}) {
			t.Fatalf("priority %d of %v is out of range or taken twice", pr, s)
		}
		order[i] = s
	}
	var longAt []int
	for i, s := range order {
		if long(s) {
			longAt = append(longAt, i)
		}
	}
	if len(longAt) != 10 {
		t.Fatalf("long specs at %v", longAt)
	}
	if last := longAt[len(longAt)-1]; last >= int(longShare*float64(len(specs))) {
		t.Errorf("a long spec starts at %d of %d, after the first %v of the run", last, len(specs), longShare)
	}
	for k := 1; k < len(longAt); k++ {
		if gap := longAt[k] - longAt[k-1]; gap < 2 {
			t.Errorf("long specs bunched: %v", longAt)
			break
		}
	}
	// Not variant by variant: the first ten specs are of more than two variants.
	seen := map[string]bool{}
	for _, s := range order[:10] {
		seen[s.Variant] = true
	}
	if len(seen) < 3 {
		t.Errorf("the first ten specs are of %d variants: %v", len(seen), order[:10])
	}
	if again := Priorities(slices.Clone(specs), long); !maps.Equal(again, p) {
		t.Error("the same specs were given another order")
	}
}
