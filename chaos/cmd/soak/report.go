package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/contract"
)

// sourceCheck is how many chats served from one store were checked against its history,
// left waiting at the end (none after the run's last poll of the database), or skipped
// because the store's record may have missed writes (Redis restarting).
type sourceCheck struct {
	Checked int `json:"checked"`
	Pending int `json:"pending,omitempty"`
	Skipped int `json:"skipped,omitempty"`
}

// report is a soak run as out/soak.json holds it; soak.md and soak.svg are drawn from it.
type report struct {
	Config  config        `json:"config"`
	SUT     string        `json:"sut"`
	Started time.Time     `json:"started"`
	Elapsed time.Duration `json:"elapsed"`
	// StoppedEarly: every invariant of -stop-when was broken, and the run ended then,
	// without the end checks (queue, resources).
	StoppedEarly bool `json:"stopped_early,omitempty"`
	// Requests is every request of the load; Statuses counts them by kind and status (0: no
	// answer in time).
	Requests int                         `json:"requests"`
	Statuses map[requestKind]map[int]int `json:"statuses"`
	// Invariants counts the violations of each invariant checked; Violations holds the first
	// of each, in time order.
	Invariants map[string]int `json:"invariants"`
	Violations []violation    `json:"violations"`
	Faults     []appliedFault `json:"faults"`
	Recoveries []recovery     `json:"recoveries"`
	Resources  []resourceUse  `json:"resources"`
	Queue      string         `json:"queue"`
	MaxCalls   int            `json:"max_calls"`
	MaxPeak    int            `json:"max_busiest_second"`
	MaxRefused int            `json:"max_refused_429"`
	// StoreWrites is, per store ("database", "cache"), the writes read from its record and
	// checked for regressions.
	StoreWrites map[string]int `json:"store_writes"`
	// Source is, per store ("database", "cache"), the chats served with it as their source
	// and checked against its history.
	Source map[string]sourceCheck `json:"source"`
	// CacheFeedLost is how often Redis's MONITOR feed was lost (Redis stopped or restarted),
	// and CacheFeedError why, the last time.
	CacheFeedLost  int    `json:"cache_feed_lost,omitempty"`
	CacheFeedError string `json:"cache_feed_error,omitempty"`
	// Counters are the service's own counts at the end, summed over the replicas.
	Counters map[string]float64 `json:"counters,omitempty"`
	Series   []point            `json:"series"`
}

// point is one second of the run: its requests, those not answered 200, the reads' (lists
// and gets) latency, MAX's calls and the replicas' resources summed.
type point struct {
	T          int     `json:"t"`
	Requests   int     `json:"requests"`
	Errors     int     `json:"errors"`
	P50        float64 `json:"p50_ms"`
	P99        float64 `json:"p99_ms"`
	MaxCalls   int     `json:"max_calls"`
	Goroutines int     `json:"goroutines,omitempty"`
	FDs        int     `json:"fds,omitempty"`
	RSSMiB     float64 `json:"rss_mib,omitempty"`
}

func (s *soak) report(elapsed time.Duration) *report {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &report{
		Config: s.cfg, SUT: s.env.SUT(), Started: s.start.UTC(), Elapsed: elapsed,
		Statuses: s.statuses, Invariants: map[string]int{}, Recoveries: s.recoveries,
		Resources: s.resources, Queue: s.queueNote, MaxCalls: len(s.maxCalls), MaxPeak: s.maxPeak,
		MaxRefused: s.maxRefused, Counters: s.counters,
		CacheFeedLost: s.monitorLost, CacheFeedError: s.monitorErr,
	}
	r.Source, r.StoreWrites = map[string]sourceCheck{}, map[string]int{}
	for _, h := range []*history{s.truth.db, s.truth.cache} {
		var c sourceCheck
		c.Checked, c.Pending, c.Skipped = h.stats()
		r.Source[h.store] = c
		r.StoreWrites[h.store] = h.writesChecked()
	}
	for _, inv := range invariants {
		r.Invariants[inv.id] = s.counts[inv.id]
	}
	r.Violations = slices.Clone(s.violations)
	slices.SortStableFunc(r.Violations, func(a, b violation) int { return int(a.At - b.At) })
	for _, f := range s.applied {
		r.Faults = append(r.Faults, *f)
	}
	slices.SortStableFunc(r.Recoveries, func(a, b recovery) int { return int(a.At - b.At) })
	for _, t := range s.maxCalls {
		s.bucket(s.offset(t)).maxCalls++
	}
	for _, k := range slices.Sorted(maps.Keys(s.seconds)) {
		b := s.seconds[k]
		r.Requests += b.requests
		p := point{T: k, Requests: b.requests, Errors: b.errors, P50: quantileMs(b.latencies, 0.5), P99: quantileMs(b.latencies, 0.99), MaxCalls: b.maxCalls}
		if b.sampled {
			p.Goroutines, p.FDs, p.RSSMiB = b.goroutines, b.fds, float64(b.rss)/(1<<20)
		}
		r.Series = append(r.Series, p)
	}
	return r
}

func quantileMs(ds []time.Duration, q float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := min(len(s)-1, int(q*float64(len(s))))
	return float64(s[i]) / float64(time.Millisecond)
}

// write puts soak.json, soak.md and soak.svg in dir.
func (r *report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	j, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "soak.json"), append(j, '\n'), 0o644); err != nil { //nolint:gosec // G306: a report, read by people and CI
		return err
	}
	var md strings.Builder
	r.markdown(&md)
	if err := os.WriteFile(filepath.Join(dir, "soak.md"), []byte(md.String()), 0o644); err != nil { //nolint:gosec // G306: as above
		return err
	}
	svg, err := r.timeline()
	if err != nil {
		return fmt.Errorf("draw the timeline: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, "soak.svg"), svg, 0o644) //nolint:gosec // G306: as above
}

// violations is the number of violations of all invariants.
func (r *report) violations() int {
	n := 0
	for _, c := range r.Invariants {
		n += c
	}
	return n
}

// recoveryStats is the measured recoveries' count and slowest, and how many the next fault
// interrupted.
func (r *report) recoveryStats() (measured int, slowest time.Duration, interrupted int) {
	for _, rc := range r.Recoveries {
		if rc.Interrupted {
			interrupted++
			continue
		}
		measured++
		slowest = max(slowest, rc.Took)
	}
	return measured, slowest, interrupted
}

func (r *report) markdown(w io.Writer) {
	p := func(format string, args ...any) { _, _ = fmt.Fprintf(w, format, args...) }
	verdict := "PASSED: no violation"
	if n := r.violations(); n > 0 {
		verdict = fmt.Sprintf("FAILED: %d violations", n)
	}
	p("# Soak: %s\n\n", verdict)
	p("Seed %d (repeat: `go run ./chaos/cmd/soak -seed %d -duration %s -rate %d`), %s of %s at %d requests a second on %d replicas of `%s`, %d chats (%d hot), started %s.\n\n",
		r.Config.Seed, r.Config.Seed, r.Config.Duration, r.Config.Rate, r.Elapsed.Round(time.Second), r.Config.Duration,
		r.Config.Rate, r.Config.Replicas, r.SUT, r.Config.Chats, r.Config.Hot, r.Started.Format(time.RFC3339))
	if r.StoppedEarly {
		p("Stopped early: every invariant of `-stop-when` (%s) was broken; the end checks (queue, resources) were not made.\n\n",
			strings.Join(r.Config.StopWhen, ", "))
	}
	p("![timeline](soak.svg)\n\n")
	if len(r.Violations) > 0 {
		p("## Violations\n\n| at | invariant | faults active | evidence |\n|---|---|---|---|\n")
		for _, v := range r.Violations {
			p("| %s | %s | %s | %s |\n", v.At.Round(time.Millisecond), v.Invariant, orNone(v.Faults), cell(v.Evidence))
		}
		p("\n")
	}
	p("## Invariants\n\n| invariant | what it holds | violations |\n|---|---|---|\n")
	for _, inv := range invariants {
		if n, ok := r.Invariants[inv.id]; ok {
			p("| %s | %s | %d |\n", inv.id, inv.text, n)
		}
	}
	measured, slowest, interrupted := r.recoveryStats()
	p("\n## Figures\n\n")
	p("- Requests: %d; by kind and status: %s.\n", r.Requests, statusLine(r.Statuses))
	p("- Faults applied: %d (%s).\n", len(r.Faults), kindsLine(r.Faults))
	p("- Recoveries measured: %d, the slowest %s (bound %s); %d cut short by the next fault.\n", measured, slowest.Round(time.Millisecond), recoveryBound, interrupted)
	p("- MAX: %d calls, busiest second %d (quota %d), %d refused 429 for the quota.\n", r.MaxCalls, r.MaxPeak, maxPerSecond, r.MaxRefused)
	p("- Writes checked for regressions: %d to the database, %d to the cache; refresh queue at the end: %s.\n",
		r.StoreWrites[string(contract.SourceDatabase)], r.StoreWrites[string(contract.SourceCache)], r.Queue)
	for _, store := range slices.Sorted(maps.Keys(r.Source)) {
		c := r.Source[store]
		p("- Chats served from the %s checked against its history: %d", store, c.Checked)
		if c.Pending > 0 || c.Skipped > 0 {
			p(" (%d left unchecked at the end, %d skipped while its record was incomplete)", c.Pending, c.Skipped)
		}
		p(".\n")
	}
	if r.CacheFeedLost > 0 {
		p("- Redis's MONITOR feed lost %d times (the last: %s); the cache's answers it could concern were skipped.\n",
			r.CacheFeedLost, r.CacheFeedError)
	}
	if len(r.Counters) > 0 {
		var parts []string
		for _, name := range slices.Sorted(maps.Keys(r.Counters)) {
			parts = append(parts, fmt.Sprintf("%s %g", name, r.Counters[name]))
		}
		p("- The service's counters at the end: %s.\n", strings.Join(parts, ", "))
	}
	if len(r.Resources) > 0 {
		p("\n| replica | goroutines before → after | fds before → after | of them connections to the dependencies | RSS before → after |\n|---|---|---|---|---|\n")
		for _, u := range r.Resources {
			p("| %d | %d → %d | %d → %d | %d → %d | %.1f → %.1f MiB |\n", u.Before.Replica, u.Before.Goroutines, u.After.Goroutines,
				u.Before.FDs, u.After.FDs, u.Before.Pooled, u.After.Pooled, float64(u.Before.RSS)/(1<<20), float64(u.After.RSS)/(1<<20))
		}
	}
	p("\n## Faults\n\n| from | to | fault | recovery after it |\n|---|---|---|---|\n")
	rec := map[time.Duration]recovery{}
	for _, rc := range r.Recoveries {
		rec[rc.At] = rc
	}
	for _, f := range r.Faults {
		after := ""
		if rc, ok := rec[f.To]; ok && f.To > 0 {
			switch {
			case rc.Interrupted:
				after = "cut short by the next fault"
			case rc.Exceeded:
				after = "**not within " + recoveryBound.String() + "**"
			default:
				after = rc.Took.Round(time.Millisecond).String()
			}
		}
		if f.Err != "" {
			after = "not applied: " + cell(f.Err)
		}
		p("| %s | %s | %s | %s |\n", f.From.Round(time.Millisecond), f.To.Round(time.Millisecond), f.Fault, after)
	}
}

func orNone(ss []string) string {
	if len(ss) == 0 {
		return "none"
	}
	return strings.Join(ss, ", ")
}

func cell(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ") }

func statusLine(st map[requestKind]map[int]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(st)) {
		var codes []string
		for _, c := range slices.Sorted(maps.Keys(st[k])) {
			codes = append(codes, fmt.Sprintf("%d×%d", c, st[k][c]))
		}
		parts = append(parts, fmt.Sprintf("%s %s", k, strings.Join(codes, " ")))
	}
	return strings.Join(parts, "; ")
}

func kindsLine(fs []appliedFault) string {
	n := map[string]int{}
	for _, f := range fs {
		n[f.Kind]++
	}
	return fmt.Sprintf("%d kinds", len(n))
}

// summary prints the verdict and the violations' counts.
func (r *report) summary(w io.Writer) {
	measured, slowest, _ := r.recoveryStats()
	_, _ = fmt.Fprintf(w, "soak: %d requests, %d faults, %d recoveries (slowest %s), MAX busiest second %d, %d violations\n",
		r.Requests, len(r.Faults), measured, slowest.Round(time.Millisecond), r.MaxPeak, r.violations())
	for _, v := range r.Violations {
		_, _ = fmt.Fprintf(w, "  %s %s: %s [faults: %s]\n", v.At.Round(time.Millisecond), v.Invariant, v.Evidence, orNone(v.Faults))
	}
}
