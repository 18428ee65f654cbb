package httpapi

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// FailureCounter is implemented by a dependency adapter that counts the failures its
// callers saw (a request's Redis call that failed, a query that found the database
// unavailable). The health endpoints serve no cached "healthy" for it once the count moved.
type FailureCounter interface {
	Failures() uint64
}

// badNews counts, per dependency, the reports that it is unhealthy: from health checks,
// from requests answered database_unavailable, and from the dependency's own
// FailureCounter. A cached "healthy" that such a report postdates is not served.
type badNews struct {
	mu       sync.Mutex
	n        map[string]uint64
	counters map[string]FailureCounter
}

func newBadNews(counters map[string]FailureCounter) *badNews {
	return &badNews{n: map[string]uint64{}, counters: counters}
}

func (b *badNews) report(dep string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n[dep]++
}

// countLocked is the number of reports about dep so far.
func (b *badNews) countLocked(dep string) uint64 {
	n := b.n[dep]
	if c := b.counters[dep]; c != nil {
		n += c.Failures()
	}
	return n
}

// snapshot returns the counts of deps at this moment.
func (b *badNews) snapshot(deps []string) map[string]uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string]uint64, len(deps))
	for _, dep := range deps {
		out[dep] = b.countLocked(dep)
	}
	return out
}

// since reports whether dep was reported unhealthy after the snapshot seen was taken.
func (b *badNews) since(dep string, seen map[string]uint64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.countLocked(dep) != seen[dep]
}

// checkCache keeps the result of one health check (dependency -> state) for ttl, so that a
// flood of probes costs the dependencies one check per ttl, and concurrent probes share
// the check in flight. Good news ages, bad news invalidates: a cached "healthy" is dropped
// as soon as that dependency is reported unhealthy, while a cached "unhealthy" is served
// until it expires. A ttl of zero checks on every call.
type checkCache struct {
	ttl  time.Duration
	now  func() time.Time
	news *badNews
	// deps are the dependencies the check pings.
	deps   []string
	flight singleflight.Group

	mu     sync.Mutex
	states map[string]string
	at     time.Time
	seen   map[string]uint64
}

// get returns the cached states, or runs check and caches its result. check runs
// detached from the caller's cancellation, because its result is shared; it must bound
// itself.
func (c *checkCache) get(ctx context.Context, check func(context.Context) map[string]string) map[string]string {
	if c.ttl <= 0 {
		return check(ctx)
	}
	if states, ok := c.cached(); ok {
		return states
	}
	v, _, _ := c.flight.Do("check", func() (any, error) {
		seen := c.news.snapshot(c.deps)
		at := c.now()
		states := check(context.WithoutCancel(ctx))
		c.mu.Lock()
		c.states, c.at, c.seen = states, at, seen
		c.mu.Unlock()
		return states, nil
	})
	states, _ := v.(map[string]string)
	return states
}

func (c *checkCache) cached() (map[string]string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.states == nil || c.now().Sub(c.at) >= c.ttl {
		return nil, false
	}
	for dep, state := range c.states {
		if state == StatusHealthy && c.news.since(dep, c.seen) {
			return nil, false
		}
	}
	return c.states, true
}
