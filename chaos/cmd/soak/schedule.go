package main

import (
	"math/rand/v2"
	"slices"
	"time"

	"github.com/faultline/faultline/chaos"
)

// faultKind is one way the soak breaks a dependency.
type faultKind struct {
	// Name is stable across runs: the report and the schedule name kinds by it.
	Name string
	Dep  chaos.Dependency
	// DatabaseDown marks a kind that makes the database unavailable to the service (refused,
	// hanging, slower than DATABASE_TIMEOUT, or reset): lists and gets may answer 503 while
	// it holds and until the service has recovered after it.
	DatabaseDown bool
	// First marks a kind its dependency draws before the others, which every run of the
	// default length must hold at least once: jitter that reorders the racing writers'
	// writes (the store invariant's occasion), and Redis restarted empty, after which
	// every chat's entry is missing or behind its row (the source invariant's). Such a
	// fault holds alone: a fault on another dependency beside it (MAX hanging) could stop
	// the very writes that race.
	First bool
	make  func() chaos.Fault
}

// catalog is every fault kind the soak draws from: the matrix's kinds on each dependency.
func catalog() []faultKind {
	pg, rd, mx := chaos.Postgres, chaos.Redis, chaos.MaxAPI
	return []faultKind{
		{Name: "postgres-down", Dep: pg, DatabaseDown: true, make: func() chaos.Fault { return chaos.Down(pg) }},
		{Name: "postgres-blackhole", Dep: pg, DatabaseDown: true, make: func() chaos.Fault { return chaos.Blackhole(pg) }},
		{Name: "postgres-slow", Dep: pg, DatabaseDown: true, make: func() chaos.Fault { return chaos.Latency(pg, 1500*time.Millisecond, 0) }},
		{Name: "postgres-latency", Dep: pg, make: func() chaos.Fault { return chaos.Latency(pg, 20*time.Millisecond, 10*time.Millisecond) }},
		// Writes of two replicas land in another order than they were observed in: each
		// message to the server waits its own 0 to 200 ms, so of two writes a few tens of
		// milliseconds apart the later one often arrives first. Delayed on the way back
		// instead, the writes arrive in order and only contention for the pool's
		// connections reorders them, in some runs not once. A new connection's handshake
		// (three messages) and its first query can outlast DATABASE_TIMEOUT on a loaded
		// host, so lists and gets may be refused while it holds.
		{Name: "postgres-jitter", Dep: pg, DatabaseDown: true, First: true, make: func() chaos.Fault {
			return chaos.Latency(pg, 100*time.Millisecond, 100*time.Millisecond).Upstream()
		}},
		{Name: "postgres-reset", Dep: pg, DatabaseDown: true, make: func() chaos.Fault { return chaos.Reset(pg) }},
		{Name: "postgres-paused", Dep: pg, DatabaseDown: true, make: func() chaos.Fault { return chaos.ContainerPaused(pg) }},

		{Name: "redis-down", Dep: rd, make: func() chaos.Fault { return chaos.Down(rd) }},
		{Name: "redis-blackhole", Dep: rd, make: func() chaos.Fault { return chaos.Blackhole(rd) }},
		{Name: "redis-slow", Dep: rd, make: func() chaos.Fault { return chaos.Latency(rd, 300*time.Millisecond, 0) }},
		{Name: "redis-latency", Dep: rd, make: func() chaos.Fault { return chaos.Latency(rd, 20*time.Millisecond, 10*time.Millisecond) }},
		{Name: "redis-jitter", Dep: rd, First: true, make: func() chaos.Fault { return chaos.Latency(rd, 40*time.Millisecond, 40*time.Millisecond) }},
		{Name: "redis-reset", Dep: rd, make: func() chaos.Fault { return chaos.Reset(rd) }},
		{Name: "redis-paused", Dep: rd, make: func() chaos.Fault { return chaos.ContainerPaused(rd) }},
		{Name: "redis-restarted-empty", Dep: rd, First: true, make: func() chaos.Fault { return chaos.ContainerStopped(rd) }},

		{Name: "max-down", Dep: mx, make: func() chaos.Fault { return chaos.Down(mx) }},
		{Name: "max-blackhole", Dep: mx, make: func() chaos.Fault { return chaos.Blackhole(mx) }},
		{Name: "max-jitter", Dep: mx, make: func() chaos.Fault { return chaos.Latency(mx, 150*time.Millisecond, 150*time.Millisecond) }},
		{Name: "max-500", Dep: mx, make: func() chaos.Fault { return chaos.MaxStatus(500) }},
		{Name: "max-503", Dep: mx, make: func() chaos.Fault { return chaos.MaxStatus(503) }},
		{Name: "max-429", Dep: mx, make: func() chaos.Fault { return chaos.MaxRateLimited(2 * time.Second) }},
		{Name: "max-401", Dep: mx, make: func() chaos.Fault { return chaos.MaxUnauthorized() }},
		{Name: "max-403", Dep: mx, make: func() chaos.Fault { return chaos.MaxForbidden() }},
		{Name: "max-404", Dep: mx, make: func() chaos.Fault { return chaos.MaxNotFound() }},
		{Name: "max-hang", Dep: mx, make: func() chaos.Fault { return chaos.MaxHang() }},
		{Name: "max-slow", Dep: mx, make: func() chaos.Fault { return chaos.MaxSlow(3 * time.Second) }},
		{Name: "max-malformed", Dep: mx, make: func() chaos.Fault { return chaos.MaxMalformed() }},
		{Name: "max-wrong-types", Dep: mx, make: func() chaos.Fault { return chaos.MaxWrongTypes() }},
		{Name: "max-missing-count", Dep: mx, make: func() chaos.Fault { return chaos.MaxMissingCount() }},
		{Name: "max-truncated", Dep: mx, make: func() chaos.Fault { return chaos.MaxTruncated() }},
		{Name: "max-disconnect", Dep: mx, make: func() chaos.Fault { return chaos.MaxDisconnect() }},
	}
}

// window is one fault of the schedule, held over [Start, End) of the run's clock.
type window struct {
	Kind       faultKind
	Start, End time.Duration
}

// Shape of a schedule.
const (
	minHold, maxHold = 3 * time.Second, 12 * time.Second
	minGap, maxGap   = time.Second, 6 * time.Second
	// overlapChance is how often a second fault, on another dependency, starts while one holds.
	overlapChance = 0.4
)

// newSchedule draws the faults held between from and to from seed: one after another with
// quiet gaps, a second one on another dependency overlapping at times, each held for a
// random time. The dependencies take turns, in a shuffled order each round, and each
// dependency's kinds are taken in a shuffled order, all of them before any again, so a long
// run applies every kind, and those marked First first, each alone; no dependency holds two
// faults at once.
func newSchedule(seed uint64, kinds []faultKind, from, to time.Duration) []window {
	r := rand.New(rand.NewPCG(seed, 0x50a4)) //nolint:gosec // G404: a schedule repeated from its seed, not a secret
	deps := map[chaos.Dependency][]faultKind{}
	var order []chaos.Dependency
	for _, k := range kinds {
		if _, ok := deps[k.Dep]; !ok {
			order = append(order, k.Dep)
		}
		deps[k.Dep] = append(deps[k.Dep], k)
	}
	queues := map[chaos.Dependency][]faultKind{}
	drawn := map[chaos.Dependency]bool{}
	shuffled := func(ks []faultKind) []faultKind {
		q := slices.Clone(ks)
		r.Shuffle(len(q), func(i, j int) { q[i], q[j] = q[j], q[i] })
		return q
	}
	next := func(dep chaos.Dependency) faultKind {
		if len(queues[dep]) == 0 {
			all := deps[dep]
			if drawn[dep] {
				queues[dep] = shuffled(all)
			} else {
				// The first round: the kinds marked First before the others.
				first := slices.DeleteFunc(slices.Clone(all), func(k faultKind) bool { return !k.First })
				rest := slices.DeleteFunc(slices.Clone(all), func(k faultKind) bool { return k.First })
				queues[dep] = append(shuffled(first), shuffled(rest)...)
				drawn[dep] = true
			}
		}
		k := queues[dep][0]
		queues[dep] = queues[dep][1:]
		return k
	}
	// peek is the kind next(dep) would return.
	peek := func(dep chaos.Dependency) faultKind {
		k := next(dep)
		queues[dep] = append([]faultKind{k}, queues[dep]...)
		return k
	}
	between := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(r.Int64N(int64(hi-lo)+1)) }

	var out []window
	add := func(k faultKind, start, end time.Duration) {
		if start < to {
			out = append(out, window{Kind: k, Start: start, End: min(end, to)})
		}
	}
	// The dependency of each fault is drawn the same way: every one once a round, in a
	// shuffled order, so a run of the default length breaks each of them at least twice.
	var round []chaos.Dependency
	nextDep := func() chaos.Dependency {
		if len(round) == 0 {
			round = slices.Clone(order)
			r.Shuffle(len(round), func(i, j int) { round[i], round[j] = round[j], round[i] })
		}
		d := round[0]
		round = round[1:]
		return d
	}
	t := from
	for t < to {
		first := nextDep()
		w := window{Kind: next(first), Start: t, End: t + between(minHold, maxHold)}
		add(w.Kind, w.Start, w.End)
		end := w.End
		if len(order) > 1 && !w.Kind.First && r.Float64() < overlapChance {
			second := order[r.IntN(len(order))]
			for second == first {
				second = order[r.IntN(len(order))]
			}
			if !peek(second).First {
				start := w.Start + between(0, w.End-w.Start-time.Second)
				stop := start + between(minHold, maxHold)
				add(next(second), start, stop)
				end = max(end, stop)
			}
		}
		t = min(end, to) + between(minGap, maxGap)
	}
	return out
}
