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
	versions := []version{
		{Count: 10, At: at(-3600), Written: sec(0), Seen: sec(0)},
		{Count: 11, At: at(4), Written: sec(5), Seen: sec(6)},
		{Count: 12, At: at(19), Written: sec(20), Seen: sec(21)},
	}
	served := func(count int, obs *time.Time, start, end float64) servedChat {
		return servedChat{ID: 7, Count: count, At: obs, Start: sec(start), End: sec(end), Request: "list"}
	}
	for _, c := range []struct {
		name string
		x    servedChat
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
		got := checkServed("database", c.x, versions)
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	if got := checkServed("database", served(0, nil, 1, 1.1), []version{{Count: 0, Written: sec(0), Seen: sec(0)}}); got != "" {
		t.Errorf("a chat never observed, served as such: %q", got)
	}
}

func TestSettleChecksOnlyAnswersThePollCovers(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	obs := t0.Add(-time.Hour)
	h := newHistory("database")
	h.add(1, version{Count: 10, At: &obs, Written: t0, Seen: t0})
	h.served(servedChat{ID: 1, Count: 10, At: &obs, Start: t0.Add(time.Second), End: t0.Add(2 * time.Second), Request: "list"})
	h.served(servedChat{ID: 1, Count: 99, At: &obs, Start: t0.Add(time.Second), End: t0.Add(2 * time.Second), Request: "get"})
	h.served(servedChat{ID: 1, Count: 98, At: &obs, Start: t0.Add(3 * time.Second), End: t0.Add(4 * time.Second), Request: "list"})

	got := h.settle(t0.Add(3 * time.Second))
	if len(got) != 1 || !strings.HasPrefix(got[0].Text, "get: chat 1: count 99") || !got[0].At.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("first poll: %+v, want the get's count 99 only", got)
	}
	if checked, pending, _ := h.stats(); checked != 2 || pending != 1 {
		t.Errorf("after the first poll: %d checked, %d pending; want 2 and 1", checked, pending)
	}
	got = h.settle(t0.Add(5 * time.Second))
	if len(got) != 1 || !strings.Contains(got[0].Text, "count 98") {
		t.Fatalf("second poll: %+v, want the list's count 98", got)
	}
	if checked, pending, _ := h.stats(); checked != 3 || pending != 0 {
		t.Errorf("after the second poll: %d checked, %d pending; want 3 and 0", checked, pending)
	}
}

// A write that moves a chat's observation back, or forgets it, breaks the store invariant;
// a newer observation, the same one again or a first one does not.
func TestAddFindsWritesThatMoveTheObservationBack(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	at := func(s int) *time.Time { v := t0.Add(time.Duration(s) * time.Second); return &v }
	h := newHistory("database")
	for i, c := range []struct {
		count int
		at    *time.Time
		want  string // "" or a part of the problem
	}{
		{10, nil, ""},   // the first version
		{11, at(5), ""}, // a first observation
		{12, at(9), ""}, // newer
		{13, at(9), ""}, // the same time again (another count observed at the same instant)
		{9, at(2), "count 13 observed 2026-12-05T10:00:09Z replaced by 9 observed 2026-12-05T10:00:02Z"},
		{14, at(20), ""}, // newer than the last
		{14, nil, "replaced by 14 observed never"},
	} {
		got := h.add(3, version{Count: c.count, At: c.at, Written: t0, Seen: t0})
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("write %d (count %d): %q, want %q", i, c.count, got, c.want)
		}
	}
	if got := h.add(4, version{Count: 1, At: at(1)}); got != "" {
		t.Errorf("another chat's first version: %q", got)
	}

	// A Redis entry: older data is no regression once the entry has expired (to the
	// millisecond), nor after the record was read anew.
	c := newHistory("cache")
	sec := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	c.add(5, version{Count: 20, At: at(10), Written: sec(10), Expires: sec(11)})
	if got := c.add(5, version{Count: 19, At: at(9), Written: sec(10.9985)}); !strings.HasPrefix(got, "cache, chat 5: count 20") {
		t.Errorf("older data over a live entry: %q", got)
	}
	c.add(5, version{Count: 20, At: at(10), Written: sec(12), Expires: sec(13)})
	if got := c.add(5, version{Count: 19, At: at(9), Written: sec(12.9995)}); got != "" {
		t.Errorf("older data as the entry expires: %q", got)
	}
	c.restart(5, version{Count: 30, At: at(30), Written: sec(14)})
	c.restart(5, version{Count: 19, At: at(9), Written: sec(15)})
	if got := c.add(5, version{Count: 21, At: at(11), Written: sec(16)}); got != "" {
		t.Errorf("newer data after a restart: %q", got)
	}
	if n := c.writesChecked(); n != 5 {
		t.Errorf("%d writes checked, want 5 (restarts are not writes)", n)
	}
}

// The cursor reads each row once, waits for a number that is missing while a transaction
// that could hold it may still commit, and gives it up once they have all ended.
func TestWriteCursorWaitsForLateCommitsAndGivesUpRollbacks(t *testing.T) {
	c := newWriteCursor()
	read := func(seqs ...int64) []int64 {
		var got []int64
		for _, s := range seqs {
			if c.take(s) {
				got = append(got, s)
			}
		}
		return got
	}
	// Poll 1 (xmin 100, xmax 105): 1, 2 and 4; 3 is not visible yet.
	if got := read(1, 2, 4); len(got) != 3 {
		t.Fatalf("first poll read %v", got)
	}
	c.advance(100, 105)
	if c.done != 2 || c.pending() != 1 {
		t.Fatalf("after poll 1: done %d, %d gaps; want 2 and 1", c.done, c.pending())
	}
	// Poll 2 (xmin 103): 4 again and 6; 3 still missing but a transaction that began before
	// poll 1 may still run, so it waits; 5 is a new gap.
	if got := read(4, 6); len(got) != 1 || got[0] != 6 {
		t.Fatalf("second poll read %v, want 6 only", got)
	}
	c.advance(103, 110)
	if c.done != 2 || c.pending() != 2 {
		t.Fatalf("after poll 2: done %d, %d gaps; want 2 and 2", c.done, c.pending())
	}
	// Poll 3 (xmin 106): 3 committed late and is read; 5's transactions may still run.
	if got := read(3, 4, 6); len(got) != 1 || got[0] != 3 {
		t.Fatalf("third poll read %v, want 3 only", got)
	}
	c.advance(106, 112)
	if c.done != 4 || c.pending() != 1 {
		t.Fatalf("after poll 3: done %d, %d gaps; want 4 and 1", c.done, c.pending())
	}
	// Poll 4 (xmin 110): every transaction that was running at poll 2 has ended, and 5 is
	// not there: rolled back, given up.
	if got := read(6); len(got) != 0 {
		t.Fatalf("fourth poll read %v, want nothing", got)
	}
	c.advance(110, 115)
	if c.done != 6 || c.pending() != 0 {
		t.Errorf("after poll 4: done %d, %d gaps; want 6 and 0", c.done, c.pending())
	}
	if c.take(5) {
		t.Error("a number given up was read")
	}
}
