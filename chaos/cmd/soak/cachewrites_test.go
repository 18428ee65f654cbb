package main

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseMonitorLine(t *testing.T) {
	for _, c := range []struct {
		line string
		at   time.Time
		args []string
	}{
		{`1733500000.123456 [0 lua] "SET" "participants:7" "{\"count\":12,\"updated_at\":\"2026-12-05T10:00:00.5Z\"}" "PX" "86400000"`,
			time.Unix(1733500000, 123456000), []string{"SET", "participants:7", `{"count":12,"updated_at":"2026-12-05T10:00:00.5Z"}`, "PX", "86400000"}},
		{`1733500001.000001 [0 127.0.0.1:50000] "echo" "soak-fence-3"`, time.Unix(1733500001, 1000), []string{"echo", "soak-fence-3"}},
		{`1733500001.000001 [0 unix:/tmp/r.sock] "SET" "k" "a\\b\x00\n\"c"`, time.Unix(1733500001, 1000), []string{"SET", "k", "a\\b\x00\n\"c"}},
		{`1733500001.000001 [0 lua] "FLUSHALL"`, time.Unix(1733500001, 1000), []string{"FLUSHALL"}},
		{`OK`, time.Time{}, nil},
		{`1733500001.1 [0 lua] "SET" "k" "v"`, time.Time{}, nil},    // not microseconds
		{`1733500001.000001 [0 lua] "DEL" "k`, time.Time{}, nil},    // an unterminated argument
		{`1733500001.000001 [0 lua] "SET" "k" v`, time.Time{}, nil}, // an unquoted one
		{`1733500001.000001 "SET" "k" "v"`, time.Time{}, nil},       // no client
		{`1733500001.000001 [0 lua] "unlink" "k"`, time.Unix(1733500001, 1000), []string{"unlink", "k"}},
		// The commands the history does not read keep their name alone, however their
		// arguments look.
		{`1733500001.000001 [0 127.0.0.1:50000] "MGET" "participants:1" "participants:2"`, time.Unix(1733500001, 1000), []string{"MGET"}},
		{`1733500001.000001 [0 127.0.0.1:50000] "evalsha" "0123" "1" "k`, time.Unix(1733500001, 1000), []string{"evalsha"}},
	} {
		got := parseMonitorLine(c.line)
		if !got.At.Equal(c.at) || !slices.Equal(got.Args, c.args) {
			t.Errorf("%s:\n got %v %q\nwant %v %q", c.line, got.At, got.Args, c.at, c.args)
		}
	}
}

func TestSetExpiry(t *testing.T) {
	at := time.Unix(1000, 0)
	for _, c := range []struct {
		opts []string
		want time.Time
	}{
		{[]string{"PX", "1500"}, at.Add(1500 * time.Millisecond)},
		{[]string{"ex", "2"}, at.Add(2 * time.Second)},
		{[]string{"NX", "PXAT", "2000500"}, time.UnixMilli(2000500)},
		{[]string{"EXAT", "3000"}, time.Unix(3000, 0)},
		{nil, time.Time{}},
		{[]string{"KEEPTTL"}, time.Time{}},
	} {
		if got := setExpiry(at, c.opts); !got.Equal(c.want) {
			t.Errorf("setExpiry(%q) = %v, want %v", c.opts, got, c.want)
		}
	}
}

// The feed's writes become the cache's history; a fence the feed delivers settles the
// answers that ended before it was sent, and those that served what Redis did not hold
// then are source violations.
func TestCacheCommandsBuildTheHistoryAndFencesSettle(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	sec := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	obs := func(s int) *time.Time { v := t0.Add(time.Duration(s) * time.Second); return &v }
	s := &soak{truth: newTruth(0, 0), chats: []int64{1, 2}, counts: map[string]int{}, start: t0}
	f := &fences{sent: map[int]time.Time{}}
	h := s.truth.cache
	h.found(t0)
	feed := func(at float64, args ...string) { s.cacheCommand(monitorCommand{At: sec(at), Args: args}, f) }
	entry := func(count int, at string) string {
		return `{"count":` + strconv.Itoa(count) + `,"updated_at":"` + at + `"}`
	}

	feed(1, "SET", "participants:1", entry(10, "2026-12-05T10:00:00Z"), "PX", "60000")
	feed(1.5, "SET", "participants:backoff:1", "2026-12-05T10:10:00Z") // not an entry
	feed(2, "SET", "participants:2", entry(20, "2026-12-05T10:00:01Z"), "PX", "1000")
	feed(5, "SET", "participants:1", entry(11, "2026-12-05T10:00:04Z"), "PX", "60000")
	feed(8, "DEL", "participants:1")
	// Older data over no entry (expired, deleted) moves nothing back; over a live one it
	// does (the store invariant).
	feed(4, "SET", "participants:2", entry(19, "2026-12-05T10:00:00Z"), "PX", "60000")
	feed(6, "SET", "participants:2", entry(18, "2026-12-05T09:59:59Z"), "PX", "60000")
	feed(9, "SET", "participants:1", entry(9, "2026-12-05T09:59:00Z"), "PX", "60000")

	served := func(id int64, count, at int, start, end float64) {
		h.served(servedChat{ID: id, Count: count, At: obs(at), Start: sec(start), End: sec(end), Request: "list"})
	}
	served(1, 10, 0, 3, 3.1)   // held then
	served(1, 10, 0, 6, 6.1)   // replaced at 5
	served(1, 11, 4, 7, 7.1)   // held then
	served(1, 11, 4, 9, 9.1)   // deleted at 8
	served(2, 20, 1, 2.5, 2.6) // held, expires at 3
	served(2, 20, 1, 4, 4.1)   // expired at 3
	served(1, 99, 0, 3, 3.1)   // never held
	served(1, 12, 0, 20, 20.1) // after the fence: waits

	n := f.send()
	f.sent[n] = sec(10)
	feed(10.2, "ECHO", fencePrefix+strconv.Itoa(n))
	if got := s.counts[invSource]; got != 4 {
		t.Errorf("%d source violations, want 4: %+v", got, s.violations)
	}
	for _, part := range []string{"held count 11", "held no entry", "entry expired", "count 99"} {
		found := false
		for _, v := range s.violations {
			found = found || strings.Contains(v.Evidence, part)
		}
		if !found {
			t.Errorf("no violation says %q: %+v", part, s.violations)
		}
	}
	if got := s.counts[invStore]; got != 1 || !strings.Contains(s.violations[0].Evidence, "count 19 observed 2026-12-05T10:00:00Z replaced by 18") {
		t.Errorf("%d store violations, want 1 (chat 2's 19 replaced by an older 18): %+v", got, s.violations)
	}
	if checked, pending, _ := h.stats(); checked != 7 || pending != 1 {
		t.Errorf("%d checked, %d pending; want 7 and 1", checked, pending)
	}

	// The feed lost: the waiting answer is skipped, and so is one that began before the
	// cache was read anew.
	h.lost()
	feed(21, "FLUSHALL")
	h.found(sec(22))
	served(1, 12, 0, 21.5, 22.5)
	if _, pending, skipped := h.stats(); pending != 0 || skipped != 2 {
		t.Errorf("after the feed was lost: %d pending, %d skipped; want 0 and 2", pending, skipped)
	}
}
