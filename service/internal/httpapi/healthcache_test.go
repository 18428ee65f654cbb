package httpapi

import (
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/service/internal/chat"
)

// goroutinesIn counts goroutine stacks that contain fn.
func goroutinesIn(fn string) int {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	return strings.Count(string(buf[:n]), fn)
}

// clock is a settable time for the health cache.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func newCachingEnv(t *testing.T, ttl time.Duration, configure ...func(*Config)) (*testEnv, *clock) {
	t.Helper()
	clk := &clock{now: testNow}
	e := newTestEnv(t, fakeMax("healthy"), append([]func(*Config){func(c *Config) {
		c.HealthCacheTTL = ttl
		c.Now = clk.Now
	}}, configure...)...)
	return e, clk
}

func TestHealthProbeFloodPingsOncePerTTL(t *testing.T) {
	e, clk := newCachingEnv(t, time.Second)
	for range 50 {
		if rec := e.do(http.MethodGet, "/health/detailed", ""); rec.Code != http.StatusOK {
			t.Fatalf("/health/detailed: %d %s", rec.Code, rec.Body)
		}
		if rec := e.do(http.MethodGet, "/readyz", ""); rec.Code != http.StatusOK {
			t.Fatalf("/readyz: %d %s", rec.Code, rec.Body)
		}
	}
	// One database ping per endpoint, one Redis ping for /health/detailed.
	if db, redis := e.db.Calls(), e.redis.Calls(); db != 2 || redis != 1 {
		t.Errorf("100 probes pinged the database %d and Redis %d times, want 2 and 1", db, redis)
	}

	clk.Advance(999 * time.Millisecond)
	e.do(http.MethodGet, "/health/detailed", "")
	e.do(http.MethodGet, "/readyz", "")
	if db := e.db.Calls(); db != 2 {
		t.Errorf("database pinged %d times before the TTL passed, want still 2", db)
	}
	clk.Advance(time.Millisecond)
	e.do(http.MethodGet, "/health/detailed", "")
	e.do(http.MethodGet, "/readyz", "")
	if db, redis := e.db.Calls(), e.redis.Calls(); db != 4 || redis != 2 {
		t.Errorf("after the TTL the database was pinged %d and Redis %d times in all, want 4 and 2", db, redis)
	}
}

func TestConcurrentProbesShareOnePing(t *testing.T) {
	// The ping answers when the test lets it, not at its deadline: with the usual 100ms a
	// slow machine would let it answer before every probe has joined it.
	e, _ := newCachingEnv(t, time.Second, func(c *Config) { c.DatabaseTimeout = time.Minute })
	started := make(chan struct{}, 100)
	release := make(chan struct{})
	e.db.Started, e.db.WaitFor = started, release

	const probes = 20
	var wg sync.WaitGroup
	codes := make(chan int, probes)
	for range probes {
		wg.Go(func() { codes <- e.do(http.MethodGet, "/readyz", "").Code })
	}
	<-started
	// Let the ping answer only once every probe has joined it: without sharing, each
	// would have started a ping of its own by then.
	waitFor(t, func() bool { return goroutinesIn("singleflight.(*Group).Do") == probes },
		"every probe waits for the ping in flight")
	close(release)
	wg.Wait()
	close(codes)
	for code := range codes {
		if code != http.StatusOK {
			t.Errorf("probe answered %d, want 200", code)
		}
	}
	if n := e.db.Calls(); n != 1 {
		t.Errorf("%d concurrent probes pinged the database %d times, want 1", probes, n)
	}
}

func TestBadNewsDropsACachedHealthyAnswer(t *testing.T) {
	t.Run("a request finding the database unavailable", func(t *testing.T) {
		e, _ := newCachingEnv(t, time.Minute)
		if rec := e.do(http.MethodGet, "/readyz", ""); rec.Code != http.StatusOK {
			t.Fatalf("/readyz: %d", rec.Code)
		}
		e.db.SetErr(errBoom)
		e.chats.Err = chat.Wrap(errBoom, chat.EDATABASEUNAVAILABLE, "database unavailable")
		if rec := e.do(http.MethodGet, "/chats/all", ""); rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("/chats/all: %d, want 503", rec.Code)
		}
		if rec := e.do(http.MethodGet, "/readyz", ""); rec.Code != http.StatusServiceUnavailable {
			t.Errorf("/readyz after a request found the database unavailable: %d, want 503 (not the cached 200)", rec.Code)
		}
	})
	t.Run("the other endpoint finding the database unhealthy", func(t *testing.T) {
		e, _ := newCachingEnv(t, time.Minute)
		if rec := e.do(http.MethodGet, "/readyz", ""); rec.Code != http.StatusOK {
			t.Fatalf("/readyz: %d", rec.Code)
		}
		e.db.SetErr(errBoom)
		if rec := e.do(http.MethodGet, "/health/detailed", ""); rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("/health/detailed: %d, want 503", rec.Code)
		}
		if rec := e.do(http.MethodGet, "/readyz", ""); rec.Code != http.StatusServiceUnavailable {
			t.Errorf("/readyz after /health/detailed found the database down: %d, want 503", rec.Code)
		}
	})
	t.Run("a request seeing Redis fail", func(t *testing.T) {
		e, _ := newCachingEnv(t, time.Minute)
		if rec := e.do(http.MethodGet, "/health/detailed", ""); !strings.Contains(rec.Body.String(), `"service":"healthy"`) {
			t.Fatalf("/health/detailed: %s", rec.Body)
		}
		e.redis.SetErr(errBoom)
		e.redis.SawFailure() // a list's cache read failed
		if rec := e.do(http.MethodGet, "/health/detailed", ""); !strings.Contains(rec.Body.String(), `"service":"degraded"`) {
			t.Errorf("/health/detailed after a request saw Redis fail: %s, want degraded (not the cached healthy)", rec.Body)
		}
	})
	t.Run("an unhealthy answer stays cached through more bad news", func(t *testing.T) {
		e, _ := newCachingEnv(t, time.Minute)
		e.db.SetErr(errBoom)
		e.chats.Err = chat.Wrap(errBoom, chat.EDATABASEUNAVAILABLE, "database unavailable")
		for range 10 {
			e.do(http.MethodGet, "/chats/all", "")
			if rec := e.do(http.MethodGet, "/readyz", ""); rec.Code != http.StatusServiceUnavailable {
				t.Fatalf("/readyz: %d, want 503", rec.Code)
			}
		}
		// An outage is when probes must cost the least.
		if n := e.db.Calls(); n != 1 {
			t.Errorf("database pinged %d times during the outage, want 1", n)
		}
	})
}

func TestZeroHealthCacheTTLPingsEveryProbe(t *testing.T) {
	e, _ := newCachingEnv(t, 0)
	for range 3 {
		e.do(http.MethodGet, "/readyz", "")
	}
	if n := e.db.Calls(); n != 3 {
		t.Errorf("database pinged %d times for 3 probes, want 3", n)
	}
}
