package matrix

import (
	"cmp"
	_ "embed" // timings.json
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Timings are the measured run times of rows, by row id. The committed ones
// (matrix/timings.json, refreshed from a full run by `make timings`) balance shards.
type Timings map[string]time.Duration

//go:embed timings.json
var timingsJSON []byte

// MeasuredTimings returns the committed timings.
func MeasuredTimings() (Timings, error) {
	var ms map[string]int64
	if err := json.Unmarshal(timingsJSON, &ms); err != nil {
		return nil, fmt.Errorf("decode timings.json: %w", err)
	}
	t := make(Timings, len(ms))
	for id, v := range ms {
		t[id] = time.Duration(v) * time.Millisecond
	}
	return t, nil
}

// MarshalJSON writes the timings as milliseconds by row id, in id order.
func (t Timings) MarshalJSON() ([]byte, error) {
	ms := make(map[string]int64, len(t))
	for id, d := range t {
		ms[id] = d.Milliseconds()
	}
	return json.Marshal(ms)
}

// TimingsFromReport takes the time of every row of the report that ran.
func TimingsFromReport(rep Report) Timings {
	t := Timings{}
	for _, rr := range rep.Rows {
		if rr.Duration > 0 && (rr.Result == ResultPassed || rr.Result == ResultFailed) {
			t[rr.ID] = rr.Duration
		}
	}
	return t
}

// of returns the row's time, or fallback when it was never measured.
func (t Timings) of(id string, fallback time.Duration) time.Duration {
	if d, ok := t[id]; ok {
		return d
	}
	return fallback
}

// Median is the median of the timings of rows, or one second when none is known.
func (t Timings) Median(rows []Row) time.Duration {
	var ds []time.Duration
	for _, r := range rows {
		if d, ok := t[r.ID]; ok {
			ds = append(ds, d)
		}
	}
	if len(ds) == 0 {
		return time.Second
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// slowestFirst returns the rows ordered by their time, slowest first (a row never measured
// counts as the median; equal times keep catalogue order).
func slowestFirst(rows []Row, t Timings) []Row {
	med := t.Median(rows)
	out := slices.Clone(rows)
	slices.SortStableFunc(out, func(a, b Row) int { return cmp.Compare(t.of(b.ID, med), t.of(a.ID, med)) })
	return out
}

// Priorities returns a scheduling priority for each row, by id: its measured time in
// milliseconds (a row never measured counts as the median). A parallel run that starts the
// slowest rows first ends closer to its total time divided by its processes: a long row taken
// last would run alone while the other processes wait.
func Priorities(rows []Row, t Timings) map[string]int {
	med := t.Median(rows)
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.ID] = int(t.of(r.ID, med).Milliseconds())
	}
	return out
}

// Shard returns the rows of shard i of n (1-based): taken slowest first, each row goes to the
// shard with the least time so far (the lowest index among equals). The same rows and timings
// always give the same shards, every row is in exactly one, and their times differ by at most
// the slowest row's.
func Shard(rows []Row, t Timings, i, n int) ([]Row, error) {
	if n < 1 || i < 1 || i > n {
		return nil, fmt.Errorf("shard %d/%d: want 1 <= i <= n", i, n)
	}
	med := t.Median(rows)
	load := make([]time.Duration, n)
	var out []Row
	for _, r := range slowestFirst(rows, t) {
		k := 0
		for j := range load {
			if load[j] < load[k] {
				k = j
			}
		}
		load[k] += t.of(r.ID, med)
		if k == i-1 {
			out = append(out, r)
		}
	}
	return out, nil
}

// ParseShard parses a shard written "i/n", e.g. "2/4".
func ParseShard(s string) (i, n int, err error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "/")
	if ok {
		i, err = strconv.Atoi(a)
	}
	if ok && err == nil {
		n, err = strconv.Atoi(b)
	}
	if !ok || err != nil || n < 1 || i < 1 || i > n {
		return 0, 0, fmt.Errorf("shard %q: want i/n with 1 <= i <= n, e.g. 2/4", s)
	}
	return i, n, nil
}

// RowFilter is the Ginkgo label filter that selects exactly these rows.
func RowFilter(rows []Row) string {
	terms := make([]string, len(rows))
	for k, r := range rows {
		terms[k] = LabelRow + ":" + r.ID
	}
	return strings.Join(terms, " || ")
}
