package matrix

import (
	"maps"
	"slices"
	"testing"
	"time"
)

func TestShardsPartitionTheRowsDeterministically(t *testing.T) {
	rows := Rows()
	timings, err := MeasuredTimings()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 2, 3, 4, 7} {
		seen := map[string]int{}
		for i := 1; i <= n; i++ {
			a, err := Shard(rows, timings, i, n)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := Shard(rows, timings, i, n)
			if !slices.EqualFunc(a, b, func(x, y Row) bool { return x.ID == y.ID }) {
				t.Fatalf("shard %d/%d differs between two calls", i, n)
			}
			for _, r := range a {
				seen[r.ID]++
			}
		}
		for _, r := range rows {
			if seen[r.ID] != 1 {
				t.Errorf("%d shards: row %s is in %d shards, want exactly 1", n, r.ID, seen[r.ID])
			}
		}
	}
}

func TestShardsAreBalancedByTime(t *testing.T) {
	rows := Rows()
	timings, err := MeasuredTimings()
	if err != nil {
		t.Fatal(err)
	}
	med := timings.Median(rows)
	var slowest time.Duration
	for _, r := range rows {
		slowest = max(slowest, timings.of(r.ID, med))
	}
	var loads []time.Duration
	for i := 1; i <= 4; i++ {
		s, _ := Shard(rows, timings, i, 4)
		var sum time.Duration
		for _, r := range s {
			sum += timings.of(r.ID, med)
		}
		loads = append(loads, sum)
	}
	if spread := slices.Max(loads) - slices.Min(loads); spread > slowest {
		t.Errorf("shard times %v differ by %s, more than the slowest row (%s)", loads, spread, slowest)
	}
}

func TestShardTakesUnmeasuredRowsAtTheMedian(t *testing.T) {
	rows := []Row{{ID: "a"}, {ID: "b"}, {ID: "c"}, {ID: "new"}}
	timings := Timings{"a": 9 * time.Second, "b": time.Second, "c": 2 * time.Second}
	first, _ := Shard(rows, timings, 1, 2)
	second, _ := Shard(rows, timings, 2, 2)
	ids := func(rs []Row) (out []string) {
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	// a (9s) to shard 1; new (median 2s) and c (2s) to shard 2, then b (1s) to shard 2 (4s < 9s).
	if got := ids(first); !slices.Equal(got, []string{"a"}) {
		t.Errorf("shard 1 = %v, want [a]", got)
	}
	if got := ids(second); !slices.Equal(got, []string{"c", "new", "b"}) {
		t.Errorf("shard 2 = %v, want [c new b]", got)
	}
}

func TestParseShard(t *testing.T) {
	if i, n, err := ParseShard("2/4"); err != nil || i != 2 || n != 4 {
		t.Errorf("ParseShard(2/4) = %d, %d, %v", i, n, err)
	}
	for _, bad := range []string{"", "2", "0/4", "5/4", "a/4", "2/b", "1/0", "-1/2"} {
		if _, _, err := ParseShard(bad); err == nil {
			t.Errorf("ParseShard(%q) accepted", bad)
		}
	}
	if _, err := Shard(Rows(), nil, 3, 2); err == nil {
		t.Error("Shard(3/2) accepted")
	}
}

func TestSlowestFirstOrdersByTime(t *testing.T) {
	rows := []Row{{ID: "a"}, {ID: "b"}, {ID: "c"}}
	got := slowestFirst(rows, Timings{"a": time.Second, "b": 3 * time.Second, "c": 2 * time.Second})
	if got[0].ID != "b" || got[1].ID != "c" || got[2].ID != "a" {
		t.Errorf("slowestFirst = %v", got)
	}
}

func TestPrioritiesAreMeasuredTimesAndTheMedianForNewRows(t *testing.T) {
	rows := []Row{{ID: "a"}, {ID: "b"}, {ID: "c"}, {ID: "new"}}
	got := Priorities(rows, Timings{"a": 9 * time.Second, "b": 1500 * time.Millisecond, "c": 2 * time.Second})
	want := map[string]int{"a": 9000, "b": 1500, "c": 2000, "new": 2000}
	if !maps.Equal(got, want) {
		t.Errorf("Priorities = %v, want %v", got, want)
	}
}

func TestRowFilterNamesEachRow(t *testing.T) {
	if got := RowFilter([]Row{{ID: "a.b"}, {ID: "c-d"}}); got != "row:a.b || row:c-d" {
		t.Errorf("RowFilter = %q", got)
	}
}

func TestCommittedTimingsNameOnlyCatalogueRows(t *testing.T) {
	timings, err := MeasuredTimings()
	if err != nil {
		t.Fatal(err)
	}
	for id := range timings {
		if !slices.ContainsFunc(Rows(), func(r Row) bool { return r.ID == id }) {
			t.Errorf("timings.json names %q, which is no row (make timings refreshes it)", id)
		}
	}
}
