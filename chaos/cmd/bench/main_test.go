package main

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func TestTargetsHoldAtTheirBoundsAndFailPastThem(t *testing.T) {
	cases := []struct {
		name string
		got  target
		met  bool
	}{
		{"blackhole p99 at the bound", latencyTarget(10*time.Millisecond, 20*time.Millisecond), true},
		{"blackhole p99 past the bound", latencyTarget(10*time.Millisecond, 20*time.Millisecond+time.Microsecond), false},
		{"throughput at 70%", throughputTarget(700, 1000), true},
		{"throughput below 70%", throughputTarget(699, 1000), false},
		{"no floor measured", throughputTarget(700, 0), false},
	}
	for _, c := range cases {
		if c.got.met != c.met {
			t.Errorf("%s: met %v, want %v (%+v)", c.name, c.got.met, c.met, c.got)
		}
	}

	// 10,000 chats at 30 a second: 333.3 s; the bound is 110% of it, 366.7 s.
	q := &quotaResult{Chats: 10000, Replicas: 3, Budget: 28, Peak: 30, Refreshed: 10000, Elapsed: 366 * time.Second}
	for _, tg := range quotaTargets(q) {
		if !tg.met {
			t.Errorf("quota within its bounds: %+v not met", tg)
		}
	}
	for name, mutate := range map[string]func(*quotaResult){
		"31 in a second":         func(q *quotaResult) { q.Peak = 31 },
		"one 429":                func(q *quotaResult) { q.TooMany = 1 },
		"too slow":               func(q *quotaResult) { q.Elapsed = 367 * time.Second },
		"one chat not refreshed": func(q *quotaResult) { q.Refreshed = 9999 },
	} {
		bad := *q
		mutate(&bad)
		met := 0
		for _, tg := range quotaTargets(&bad) {
			if tg.met {
				met++
			}
		}
		if met != 1 {
			t.Errorf("%s: %d of 2 quota targets met, want 1", name, met)
		}
	}
}

func TestWriteTargetsFailsNamingTheMissedOnes(t *testing.T) {
	var out bytes.Buffer
	err := writeTargets(&out, []target{
		{name: "kept", measured: "1", bound: "<= 2", met: true},
		{name: "missed", measured: "3", bound: "<= 2"},
	})
	if err == nil || !strings.Contains(err.Error(), "1 of 2 targets missed: missed") {
		t.Errorf("error %v, want one missed target named", err)
	}
	if !strings.Contains(out.String(), "| missed | 3 | <= 2 | **no** |") || !strings.Contains(out.String(), "| kept | 1 | <= 2 | yes |") {
		t.Errorf("table:\n%s", out.String())
	}
	if err := writeTargets(&out, []target{{name: "kept", met: true}}); err != nil {
		t.Errorf("all met: %v", err)
	}
}

func TestCycleSendsEachURLInTurnToConcurrentWorkers(t *testing.T) {
	urls := []string{"http://a", "http://b", "http://c"}
	next := cycle(urls)
	const perWorker, workers = 300, 4
	counts := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range perWorker {
				var tg vegeta.Target
				if err := next(&tg); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				counts[tg.URL]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, u := range urls {
		if counts[u] != perWorker*workers/len(urls) {
			t.Errorf("%s sent %d times, want %d (%v)", u, counts[u], perWorker*workers/len(urls), counts)
		}
	}
	if err := next(nil); err == nil {
		t.Error("a nil target was accepted")
	}
}

func TestSeedChatsHoldsThreeDifferentCounts(t *testing.T) {
	now := time.Now()
	rows, entries, maxChats := seedChats(3, now, time.Hour)
	for i := range 3 {
		id := rows[i].ID
		if rows[i].Count != int(id)-1 || entries[i].Count != int(id) || maxChats[i].ParticipantsCount != int(id)+1 ||
			entries[i].ChatID != id || maxChats[i].ID != rows[i].MaxChatID || !entries[i].UpdatedAt.Equal(now.Add(-time.Hour)) {
			t.Errorf("chat %d: row %+v, entry %+v, MAX %+v", id, rows[i], entries[i], maxChats[i])
		}
	}
}

func TestProcessCPUGrowsWithWork(t *testing.T) {
	before, err := processCPU(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if _, err := processCPU(-1); err == nil {
		t.Error("a process that does not exist has a CPU time")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		x := 0
		for i := range 1_000_000 {
			x += i
		}
		_ = x
		after, err := processCPU(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if after > before {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("CPU time stayed at %s after 5 s of work", after)
		}
	}
}

func TestRunRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-rate", "0"}, {"-duration", "2m"}, {"-workers", "0"}, {"-rounds", "11"},
		{"-stale-chats", "0"}, {"-replicas", "9"}, {"-budget", "0"}, {"-quota-rate", "0"},
		{"-quota-max", "remote"},
	} {
		var stderr bytes.Buffer
		if err := run(t.Context(), args, &bytes.Buffer{}, &stderr); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
