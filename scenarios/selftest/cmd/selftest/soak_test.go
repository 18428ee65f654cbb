package main

import (
	"strings"
	"testing"
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
