package main

import (
	"strings"
	"testing"
	"time"
)

func TestCheckServedAgainstTheDatabasesHistory(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	at := func(s int) *time.Time { v := t0.Add(time.Duration(s) * time.Second); return &v }
	sec := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	// Count 10 from the start; 11 written at 5 s, read by the poll ending at 6 s; 12 written
	// at 20 s, seen at 21 s.
	versions := []dbVersion{
		{Count: 10, At: at(-3600), Written: sec(0), Seen: sec(0)},
		{Count: 11, At: at(4), Written: sec(5), Seen: sec(6)},
		{Count: 12, At: at(19), Written: sec(20), Seen: sec(21)},
	}
	served := func(count int, obs *time.Time, start, end float64) dbServed {
		return dbServed{ID: 7, Count: count, At: obs, Start: sec(start), End: sec(end), Request: "list"}
	}
	for _, c := range []struct {
		name string
		x    dbServed
		want string // "" or a part of the problem
	}{
		{"the current version", served(11, at(4), 10, 10.1), ""},
		{"the first version before its successor", served(10, at(-3600), 1, 1.1), ""},
		{"the last version", served(12, at(19), 30, 30.1), ""},
		{"replaced, but the successor not known committed when the request began", served(10, at(-3600), 5.5, 5.6), ""},
		{"replaced and committed before the request began", served(10, at(-3600), 7, 7.1), "held count 11"},
		{"an older version long after", served(11, at(4), 25, 25.1), "held count 12"},
		{"a count the database never held", served(13, at(19), 30, 30.1), "never held"},
		{"the right count with another time", served(12, at(18), 30, 30.1), "never held"},
		{"a version written after the answer", served(12, at(19), 15, 15.1), "never held"},
		{"never observed against an observation", served(10, nil, 1, 1.1), "never held"},
	} {
		got := checkServed(c.x, versions)
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	if got := checkServed(served(0, nil, 1, 1.1), []dbVersion{{Count: 0, Written: sec(0), Seen: sec(0)}}); got != "" {
		t.Errorf("a chat never observed, served as such: %q", got)
	}
}

func TestSettleChecksOnlyAnswersThePollCovers(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	obs := t0.Add(-time.Hour)
	h := newDBHistory()
	h.add(1, dbVersion{Count: 10, At: &obs, Written: t0, Seen: t0})
	h.served(dbServed{ID: 1, Count: 10, At: &obs, Start: t0.Add(time.Second), End: t0.Add(2 * time.Second), Request: "list"})
	h.served(dbServed{ID: 1, Count: 99, At: &obs, Start: t0.Add(time.Second), End: t0.Add(2 * time.Second), Request: "get"})
	h.served(dbServed{ID: 1, Count: 98, At: &obs, Start: t0.Add(3 * time.Second), End: t0.Add(4 * time.Second), Request: "list"})

	got := h.settle(t0.Add(3 * time.Second))
	if len(got) != 1 || !strings.HasPrefix(got[0].Text, "get: chat 1: count 99") || !got[0].At.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("first poll: %+v, want the get's count 99 only", got)
	}
	if checked, pending := h.stats(); checked != 2 || pending != 1 {
		t.Errorf("after the first poll: %d checked, %d pending; want 2 and 1", checked, pending)
	}
	got = h.settle(t0.Add(5 * time.Second))
	if len(got) != 1 || !strings.Contains(got[0].Text, "count 98") {
		t.Fatalf("second poll: %+v, want the list's count 98", got)
	}
	if checked, pending := h.stats(); checked != 3 || pending != 0 {
		t.Errorf("after the second poll: %d checked, %d pending; want 3 and 0", checked, pending)
	}
}
