package main

import (
	"strings"
	"testing"

	"github.com/faultline/faultline/scenarios/selftest"
)

// The control must pass the soak and a variant must fail it on its invariants: the same
// run is a success for one and a failure for the other.
func TestSoakVerdicts(t *testing.T) {
	for _, c := range []struct {
		name string
		o    soakOutcome
		ok   bool
		says string
	}{
		{"the control passes", soakOutcome{Control: true, Exit: 0}, true, "passed"},
		{"the control breaks an invariant", soakOutcome{Control: true, Exit: 1, Violated: map[string]int{"response": 3}}, false, "FAILED"},
		{"the control's run breaks", soakOutcome{Control: true, Exit: 2, Err: "the soak exited 2"}, false, "broken run"},
		{"the control fails beside the variants and passes alone",
			soakOutcome{Control: true, Exit: 1, Violated: map[string]int{"response": 1}, Alone: &soakOutcome{Control: true}},
			true, "passed when run again alone (beside the variants it broke response (1))"},
		{"the control fails beside the variants and alone",
			soakOutcome{Control: true, Exit: 1, Violated: map[string]int{"response": 1}, Alone: &soakOutcome{Control: true, Exit: 1}},
			false, "FAILED: the reference broke the soak's invariants, beside the variants and alone"},
		{"a variant caught", soakOutcome{Exit: 1, Violated: map[string]int{"store": 2}}, true, "caught"},
		{"a variant that passes", soakOutcome{Exit: 0}, false, "NOT CAUGHT: the soak passed"},
		{"a variant caught on another invariant", soakOutcome{Exit: 1, Missing: []string{"store"}}, false, "NOT CAUGHT: store held"},
	} {
		if got := c.o.ok(); got != c.ok {
			t.Errorf("%s: ok() = %v, want %v", c.name, got, c.ok)
		}
		if got := soakVerdict(c.o); !strings.HasPrefix(got, c.says) {
			t.Errorf("%s: verdict %q, want %q", c.name, got, c.says)
		}
	}
}

// The control runs again alone only when what it broke beside the variants is nothing a
// variant is caught on.
func TestControlRunsAgainAloneOnlyOnInvariantsNoVariantNeeds(t *testing.T) {
	variants := []selftest.SoakVariant{{Name: "leak", Violates: []string{"resources"}}, {Name: "older", Violates: []string{"store"}}}
	for _, c := range []struct {
		name string
		o    soakOutcome
		want bool
	}{
		{"a 503 with the database up", soakOutcome{Control: true, Exit: 1, Violated: map[string]int{"response": 1, "store": 0}}, true},
		{"a store regression", soakOutcome{Control: true, Exit: 1, Violated: map[string]int{"response": 1, "store": 1}}, false},
		{"a passing control", soakOutcome{Control: true}, false},
		{"a broken run", soakOutcome{Control: true, Exit: 2, Err: "the soak exited 2"}, false},
		{"a variant", soakOutcome{Exit: 1, Violated: map[string]int{"response": 1}}, false},
	} {
		if got := againAlone(c.o, variants); got != c.want {
			t.Errorf("%s: againAlone = %v, want %v", c.name, got, c.want)
		}
	}
}
