package main

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"
)

func TestStopWhenNamesKnownInvariants(t *testing.T) {
	c, err := parse([]string{"-stop-when", "store,source"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.StopWhen, []string{invStore, invSource}) {
		t.Errorf("StopWhen = %v, want [store source]", c.StopWhen)
	}
	if _, err := parse([]string{"-stop-when", "store,stores"}, func(string) string { return "" }, io.Discard); err == nil ||
		!strings.Contains(err.Error(), `"stores"`) {
		t.Errorf("an unknown invariant: err = %v, want one naming it", err)
	}
}

// The run is told to end once every invariant of -stop-when has a violation, not before,
// and never without -stop-when.
func TestBrokenOnceEveryInvariantOfStopWhenIsViolated(t *testing.T) {
	closed := func(s *soak) bool {
		select {
		case <-s.broken:
			return true
		default:
			return false
		}
	}
	newSoak := func(stopWhen ...string) *soak {
		return &soak{cfg: config{StopWhen: stopWhen}, counts: map[string]int{}, broken: make(chan struct{})}
	}

	s := newSoak(invStore, invSource)
	s.violate(0, invStore, "a write back in time")
	s.violate(0, invResponse, "a 500")
	if closed(s) {
		t.Fatal("broken before every invariant of -stop-when was violated")
	}
	s.violate(0, invSource, "a count the cache never held")
	if !closed(s) {
		t.Fatal("not broken once every invariant of -stop-when was violated")
	}
	s.violate(0, invSource, "again") // closing twice would panic

	s = newSoak()
	s.violate(0, invStore, "a write back in time")
	if closed(s) {
		t.Error("broken without -stop-when")
	}
}

func TestReportSaysItStoppedEarly(t *testing.T) {
	r := testReport()
	r.Config.StopWhen, r.StoppedEarly = []string{invStore}, true
	var b bytes.Buffer
	r.markdown(&b)
	if !strings.Contains(b.String(), "Stopped early: every invariant of `-stop-when` (store) was broken") {
		t.Errorf("soak.md does not say the run stopped early:\n%s", b.String())
	}
}
