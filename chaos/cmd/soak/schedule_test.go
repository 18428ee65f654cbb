package main

import (
	"io"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/faultline/faultline/chaos"
)

func TestScheduleIsTheSeeds(t *testing.T) {
	a := newSchedule(7, catalog(), 10*time.Second, 10*time.Minute)
	b := newSchedule(7, catalog(), 10*time.Second, 10*time.Minute)
	c := newSchedule(8, catalog(), 10*time.Second, 10*time.Minute)
	names := func(ws []window) []string {
		var out []string
		for _, w := range ws {
			out = append(out, w.Kind.Name+"@"+w.Start.String()+"-"+w.End.String())
		}
		return out
	}
	if !reflect.DeepEqual(names(a), names(b)) {
		t.Error("one seed drew two schedules")
	}
	if reflect.DeepEqual(names(a), names(c)) {
		t.Error("seeds 7 and 8 drew the same schedule")
	}
}

func TestScheduleShape(t *testing.T) {
	const from, to = 10 * time.Second, 30 * time.Minute
	kinds := catalog()
	ws := newSchedule(42, kinds, from, to)
	seen := map[string]bool{}
	overlaps := 0
	for i, w := range ws {
		seen[w.Kind.Name] = true
		if w.Start < from || w.End > to || w.End <= w.Start {
			t.Errorf("window %d %s [%s, %s) outside [%s, %s]", i, w.Kind.Name, w.Start, w.End, from, to)
		}
		if hold := w.End - w.Start; hold > maxHold || (hold < minHold && w.End != to) {
			t.Errorf("window %d %s held %s, want %s..%s", i, w.Kind.Name, hold, minHold, maxHold)
		}
		for j, o := range ws[:i] {
			if o.Start < w.End && w.Start < o.End {
				if o.Kind.Dep == w.Kind.Dep {
					t.Errorf("windows %d and %d both hold %s at once", j, i, w.Kind.Dep)
				}
				overlaps++
			}
		}
	}
	for _, k := range kinds {
		if !seen[k.Name] {
			t.Errorf("30 minutes never applied %s", k.Name)
		}
	}
	if overlaps == 0 || overlaps == len(ws)-1 {
		t.Errorf("%d overlapping pairs among %d faults: want some, not all", overlaps, len(ws))
	}
	// Quiet gaps: between some faults nothing holds.
	quiet := 0
	for i := 1; i < len(ws); i++ {
		held := false
		for _, o := range ws[:i] {
			held = held || o.End > ws[i].Start
		}
		if !held {
			quiet++
		}
	}
	if quiet == 0 {
		t.Error("no quiet gap in 30 minutes")
	}
}

func TestScheduleStopsAtItsEnd(t *testing.T) {
	ws := newSchedule(1, catalog(), 10*time.Second, 25*time.Second)
	if len(ws) == 0 {
		t.Fatal("15 s drew no fault")
	}
	for _, w := range ws {
		if w.End > 25*time.Second {
			t.Errorf("%s ends at %s, after the schedule's 25s", w.Kind.Name, w.End)
		}
	}
}

func TestScheduleDrawsTheFirstKindsFirst(t *testing.T) {
	first := map[string][]string{}
	for _, k := range catalog() {
		if k.First {
			first[string(k.Dep)] = append(first[string(k.Dep)], k.Name)
		}
	}
	if len(first["postgres"]) == 0 || len(first["redis"]) == 0 {
		t.Fatalf("no First kinds on the stores: %v", first)
	}
	for seed := range uint64(20) {
		drawn := map[string][]string{}
		for _, w := range newSchedule(seed, catalog(), 0, time.Hour) {
			drawn[string(w.Kind.Dep)] = append(drawn[string(w.Kind.Dep)], w.Kind.Name)
		}
		for dep, want := range first {
			got := drawn[dep][:min(len(want), len(drawn[dep]))]
			if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
				t.Errorf("seed %d: %s's first faults are %v, want %v in some order", seed, dep, got, want)
			}
		}
	}
}

// Every run of the default length, whatever its seed, holds each First kind (what the store
// and source invariants need to see a broken service fail) and breaks every dependency at
// least twice.
func TestScheduleOfTheDefaultRunHoldsEveryFirstKind(t *testing.T) {
	c, err := parse(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for seed := range uint64(1000) {
		held := map[string]bool{}
		per := map[chaos.Dependency]int{}
		for _, w := range newSchedule(seed, catalog(), c.WarmUp, c.Duration-c.Tail) {
			held[w.Kind.Name] = true
			per[w.Kind.Dep]++
		}
		for _, k := range catalog() {
			if k.First && !held[k.Name] {
				t.Errorf("seed %d: %s never held in %s", seed, k.Name, c.Duration)
			}
		}
		for _, dep := range []chaos.Dependency{chaos.Postgres, chaos.Redis, chaos.MaxAPI} {
			if per[dep] < 2 {
				t.Errorf("seed %d: %s broken %d times in %s", seed, dep, per[dep], c.Duration)
			}
		}
	}
}

// A First fault (jitter, where the racing writes reorder) holds alone: no fault on another
// dependency overlaps it.
func TestScheduleHoldsTheFirstKindsAlone(t *testing.T) {
	overlaps := 0
	for seed := range uint64(50) {
		ws := newSchedule(seed, catalog(), 0, 10*time.Minute)
		for i, a := range ws {
			for _, b := range ws[i+1:] {
				if a.Start >= b.End || b.Start >= a.End {
					continue
				}
				overlaps++
				if a.Kind.First || b.Kind.First {
					t.Errorf("seed %d: %s [%s, %s) overlaps %s [%s, %s)", seed, a.Kind.Name, a.Start, a.End, b.Kind.Name, b.Start, b.End)
				}
			}
		}
	}
	if overlaps == 0 {
		t.Error("no fault overlapped another in 50 schedules; the others still may")
	}
}
