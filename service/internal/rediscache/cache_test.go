package rediscache

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/faultline/faultline/service/internal/chat"
	"github.com/faultline/faultline/service/internal/logcapture"
	"github.com/faultline/faultline/service/internal/metrics"
	"github.com/faultline/faultline/service/internal/testdb"
)

type env struct {
	url   string // the cache's, through the proxy if any
	opts  Options
	cache *Cache
	raw   *redis.Client // straight to the server, never through a proxy
	m     *metrics.Metrics
	logs  *logcapture.Buffer
}

// newEnv gives a test an empty Redis database and a cache on it, reached through proxy
// when it is not nil.
func newEnv(t *testing.T, proxy *testdb.Proxy, opts Options) *env {
	t.Helper()
	url := server.NewDatabase(t)
	rawOpts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	raw := redis.NewClient(rawOpts)
	t.Cleanup(func() { raw.Close() })
	if proxy != nil {
		url = testdb.URLVia(url, proxy.Addr())
	}
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Second
	}
	if opts.TTL == 0 {
		opts.TTL = time.Hour
	}
	if opts.BreakerFailures == 0 {
		opts.BreakerFailures = 3
	}
	if opts.BreakerCooldown == 0 {
		opts.BreakerCooldown = time.Second
	}
	if opts.ClockSkewMax == 0 {
		// Tests seed newer observations up to minutes ahead of the writes they race.
		opts.ClockSkewMax = time.Hour
	}
	logs := &logcapture.Buffer{}
	opts.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts.Metrics = metrics.New(prometheus.NewRegistry())
	c, err := New(url, opts)
	if err != nil {
		t.Fatalf("new cache: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &env{url: url, opts: opts, cache: c, raw: raw, m: opts.Metrics, logs: logs}
}

// counts looks ids up and returns the counts only.
func (e *env) counts(ctx context.Context, ids []int64) (map[int64]chat.Participants, error) {
	l, err := e.cache.Lookup(ctx, ids)
	return l.Counts, err
}

func (e *env) errorsTotal() float64 { return testutil.ToFloat64(e.m.CacheErrors) }

func (e *env) breakerState() float64 {
	return testutil.ToFloat64(e.m.BreakerState.WithLabelValues(metrics.DepRedis))
}

var t0 = time.Date(2026, 6, 1, 10, 0, 0, 123456789, time.UTC)

func TestSetThenLookup(t *testing.T) {
	const ttl = 90 * time.Second
	e := newEnv(t, nil, Options{TTL: ttl})
	ctx := context.Background()
	if err := e.cache.Set(ctx, 1, chat.Participants{Count: 42, UpdatedAt: t0, Source: chat.SourceAPI}); err != nil {
		t.Fatal(err)
	}
	local := t0.Add(time.Minute).In(time.FixedZone("MSK", 3*3600))
	if err := e.cache.Set(ctx, 2, chat.Participants{Count: 0, UpdatedAt: local}); err != nil {
		t.Fatal(err)
	}

	got, err := e.counts(ctx, []int64{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d entries, want 2 (chat 3 has none): %v", len(got), got)
	}
	if p := got[1]; p.Count != 42 || !p.UpdatedAt.Equal(t0) || p.Source != chat.SourceCache || p.UpdatedAt.Location() != time.UTC {
		t.Errorf("chat 1: %+v", p)
	}
	if p := got[2]; p.Count != 0 || !p.UpdatedAt.Equal(local) || p.Source != chat.SourceCache {
		t.Errorf("chat 2: %+v", p)
	}

	// The stored form is the contract's.
	raw, err := e.raw.Get(ctx, "participants:1").Result()
	if err != nil {
		t.Fatal(err)
	}
	if raw != `{"count":42,"updated_at":"2026-06-01T10:00:00.123456789Z"}` {
		t.Errorf("stored value %s", raw)
	}
	left, err := e.raw.TTL(ctx, "participants:1").Result()
	if err != nil {
		t.Fatal(err)
	}
	if left <= ttl-30*time.Second || left > ttl {
		t.Errorf("TTL %s, want about %s", left, ttl)
	}
	if e.errorsTotal() != 0 {
		t.Errorf("participants_cache_errors_total = %v, want 0", e.errorsTotal())
	}
}

// A refresh that brings an older observation than the entry holds (another replica wrote a
// newer one, or a slow MAX answer lost the race) leaves the entry as it is.
func TestSetNeverReplacesANewerEntry(t *testing.T) {
	e := newEnv(t, nil, Options{TTL: time.Hour})
	ctx := context.Background()
	newer := chat.Participants{Count: 50, UpdatedAt: t0.Add(time.Minute)}
	if err := e.cache.Set(ctx, 1, newer); err != nil {
		t.Fatal(err)
	}
	for _, older := range []chat.Participants{{Count: 40, UpdatedAt: t0}, {Count: 45, UpdatedAt: t0.Add(time.Minute)}} {
		if err := e.cache.Set(ctx, 1, older); err != nil {
			t.Fatal(err)
		}
		got, err := e.counts(ctx, []int64{1})
		if err != nil {
			t.Fatal(err)
		}
		if p := got[1]; p.Count != 50 || !p.UpdatedAt.Equal(newer.UpdatedAt) {
			t.Errorf("after a Set observed at %s: %+v, want the newer count 50 kept", older.UpdatedAt, p)
		}
	}
	// A newer observation replaces it, and so does any over an entry that does not decode.
	if err := e.cache.Set(ctx, 1, chat.Participants{Count: 60, UpdatedAt: t0.Add(2 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := e.raw.Set(ctx, "participants:2", "not json", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := e.cache.Set(ctx, 2, chat.Participants{Count: 7, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	got, err := e.counts(ctx, []int64{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	if got[1].Count != 60 || got[2].Count != 7 {
		t.Errorf("newer or over garbage: %+v", got)
	}
	if e.errorsTotal() != 0 {
		t.Errorf("participants_cache_errors_total = %v, want 0", e.errorsTotal())
	}
}

func TestSetRejectsUnknownTime(t *testing.T) {
	e := newEnv(t, nil, Options{})
	if err := e.cache.Set(context.Background(), 1, chat.Participants{Count: 1}); chat.ErrorCode(err) != chat.EINVALID {
		t.Errorf("Set without time: %v, want invalid_parameter", err)
	}
}

// commandCalls returns how often the server has run cmd, from INFO commandstats.
func commandCalls(t *testing.T, c *redis.Client, cmd string) int {
	t.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_"+cmd+":calls="); ok {
			n, _ := strconv.Atoi(strings.SplitN(rest, ",", 2)[0])
			return n
		}
	}
	return 0
}

func TestLookupIsOneMGET(t *testing.T) {
	e := newEnv(t, nil, Options{})
	ctx := context.Background()
	ids := make([]int64, 500)
	for i := range ids {
		ids[i] = int64(i + 1)
	}
	if _, err := e.counts(ctx, ids[:1]); err != nil { // warm the connection
		t.Fatal(err)
	}
	mget, get := commandCalls(t, e.raw, "mget"), commandCalls(t, e.raw, "get")
	if _, err := e.counts(ctx, ids); err != nil {
		t.Fatal(err)
	}
	if d := commandCalls(t, e.raw, "mget") - mget; d != 1 {
		t.Errorf("%d MGETs for one Lookup, want 1", d)
	}
	if d := commandCalls(t, e.raw, "get") - get; d != 0 {
		t.Errorf("%d GETs for one Lookup, want 0", d)
	}

	// No ids, no round trip.
	mget = commandCalls(t, e.raw, "mget")
	if got, err := e.counts(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("Lookup(nil) = %v, %v", got, err)
	}
	if d := commandCalls(t, e.raw, "mget") - mget; d != 0 {
		t.Errorf("Lookup(nil) sent %d MGETs", d)
	}
}

func TestCorruptEntriesAreMissingNotFailures(t *testing.T) {
	e := newEnv(t, nil, Options{})
	ctx := context.Background()
	corrupt := map[int64]string{
		1: `not json`,
		2: `{"count":"12","updated_at":"2026-06-01T10:00:00Z"}`,
		3: `{"count":12}`,
		4: `{"updated_at":"2026-06-01T10:00:00Z"}`,
		5: `{"count":-1,"updated_at":"2026-06-01T10:00:00Z"}`,
		6: `{"count":12,"updated_at":"yesterday"}`,
		7: `{"count":1.5,"updated_at":"2026-06-01T10:00:00Z"}`,
		8: `[]`,
	}
	for id, v := range corrupt {
		if err := e.raw.Set(ctx, Key(id), v, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// A key of another type: MGET answers nil for it, like a missing key.
	if err := e.raw.HSet(ctx, Key(9), "count", 1).Err(); err != nil {
		t.Fatal(err)
	}
	// Valid, in the contract's plain RFC 3339 (no fraction, an offset).
	if err := e.raw.Set(ctx, Key(10), `{"count":7,"updated_at":"2026-06-01T13:00:00+03:00","extra":true}`, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}

	got, err := e.counts(ctx, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})
	if err != nil {
		t.Fatalf("corrupt entries made Lookup fail: %v", err)
	}
	if len(got) != 1 || got[10].Count != 7 || !got[10].UpdatedAt.Equal(time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("got %v, want only chat 10 (7 at 10:00Z)", got)
	}
	if n := testutil.ToFloat64(e.m.CacheCorrupt); n != float64(len(corrupt)) {
		t.Errorf("participants_cache_corrupt_entries_total = %v, want %d", n, len(corrupt))
	}
	if e.errorsTotal() != 0 {
		t.Errorf("participants_cache_errors_total = %v, want 0: corrupt data is not an outage", e.errorsTotal())
	}
	if e.logs.Count("Corrupt cache entries treated as missing") != 1 {
		t.Errorf("want one WARN about corrupt entries:\n%s", e.logs)
	}
	if e.breakerState() != metrics.BreakerClosed {
		t.Error("corrupt entries moved the breaker")
	}
}

// assertFailedWithin checks that err is a failure that arrived within limit.
func assertFailedWithin(t *testing.T, err error, elapsed, limit time.Duration) {
	t.Helper()
	if err == nil {
		t.Fatal("the call succeeded, want an error")
	}
	if elapsed > limit {
		t.Errorf("failed after %s, want within %s", elapsed, limit)
	}
}

func TestRefusedRedisFailsFastAndIsCounted(t *testing.T) {
	proxy := testdb.NewProxy(t, server.Addr())
	e := newEnv(t, proxy, Options{Timeout: 100 * time.Millisecond, BreakerFailures: 100})
	ctx := context.Background()
	if _, err := e.counts(ctx, []int64{1}); err != nil {
		t.Fatal(err)
	}
	proxy.Refuse()
	start := time.Now()
	_, err := e.counts(ctx, []int64{1, 2})
	assertFailedWithin(t, err, time.Since(start), time.Second)
	start = time.Now()
	err = e.cache.Set(ctx, 1, chat.Participants{Count: 1, UpdatedAt: t0})
	assertFailedWithin(t, err, time.Since(start), time.Second)
	if e.errorsTotal() != 2 {
		t.Errorf("participants_cache_errors_total = %v, want 2", e.errorsTotal())
	}
	for _, op := range []string{OpGet, OpSet} {
		if !strings.Contains(e.logs.String(), `"level":"WARN","msg":"Cache operation failed","operation":"`+op+`"`) {
			t.Errorf("no WARN for the failed %s:\n%s", op, e.logs)
		}
	}
}

func TestHangingRedisFailsWithinTheTimeout(t *testing.T) {
	proxy := testdb.NewProxy(t, server.Addr())
	const timeout = 150 * time.Millisecond
	e := newEnv(t, proxy, Options{Timeout: timeout, BreakerFailures: 100})
	ctx := context.Background()
	if _, err := e.counts(ctx, []int64{1}); err != nil {
		t.Fatal(err)
	}
	proxy.Hang()
	for i, call := range []func() error{
		func() error { _, err := e.counts(ctx, []int64{1}); return err }, // pooled connection
		func() error { return e.cache.Set(ctx, 1, chat.Participants{Count: 1, UpdatedAt: t0}) },
		func() error { return e.cache.Ping(ctx) },
	} {
		start := time.Now()
		err := call()
		elapsed := time.Since(start)
		// Generous bound for a loaded machine; without deadlines this would hang forever.
		assertFailedWithin(t, err, elapsed, timeout+time.Second)
		if elapsed < timeout/2 {
			t.Errorf("call %d failed after %s, faster than a hang allows", i, elapsed)
		}
	}
	if e.errorsTotal() != 2 {
		t.Errorf("participants_cache_errors_total = %v, want 2 (the ping is not a cache operation)", e.errorsTotal())
	}
}

func TestBreakerSkipsHangingRedisAndRecovers(t *testing.T) {
	proxy := testdb.NewProxy(t, server.Addr())
	const timeout = 100 * time.Millisecond
	e := newEnv(t, proxy, Options{Timeout: timeout, BreakerFailures: 3, BreakerCooldown: 500 * time.Millisecond})
	ctx := context.Background()
	get := func() error { _, err := e.counts(ctx, []int64{1}); return err }
	if err := get(); err != nil {
		t.Fatal(err)
	}

	proxy.Hang()
	for i := range 3 {
		if err := get(); err == nil || errors.Is(err, chat.ErrShortCircuited) {
			t.Fatalf("failure %d: %v, want a real failure", i+1, err)
		}
	}
	if e.breakerState() != metrics.BreakerOpen {
		t.Fatalf("breaker state %v after 3 failures, want open (2)", e.breakerState())
	}
	// Open: a hanging Redis costs nothing.
	for range 5 {
		start := time.Now()
		err := get()
		assertFailedWithin(t, err, time.Since(start), timeout/2)
		if !errors.Is(err, chat.ErrShortCircuited) {
			t.Errorf("refusal %v does not wrap chat.ErrShortCircuited", err)
		}
	}
	if e.errorsTotal() != 8 {
		t.Errorf("participants_cache_errors_total = %v, want 8 (3 failures + 5 refusals)", e.errorsTotal())
	}
	// Eight failures within well under a second: one log line.
	if n := e.logs.Count("Cache operation failed"); n != 1 {
		t.Errorf("%d failure log lines, want 1 (at most one per second per operation)", n)
	}
	if !strings.Contains(e.logs.String(), `"msg":"Circuit breaker state changed","dependency":"redis","from":"closed","to":"open"`) {
		t.Errorf("no breaker transition log:\n%s", e.logs)
	}
	// Health still sees the real state.
	if err := e.cache.Ping(ctx); err == nil {
		t.Error("Ping succeeded against a hanging Redis")
	}

	if err := proxy.Restore(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for get() != nil {
		if time.Now().After(deadline) {
			t.Fatal("the cache did not recover within 15s of Redis coming back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if e.breakerState() != metrics.BreakerClosed {
		t.Errorf("breaker state %v after a successful probe, want closed (0)", e.breakerState())
	}
	if !strings.Contains(e.logs.String(), `"from":"half-open","to":"closed"`) {
		t.Errorf("no half-open -> closed transition log:\n%s", e.logs)
	}
}

func TestPingBypassesTheBreaker(t *testing.T) {
	proxy := testdb.NewProxy(t, server.Addr())
	e := newEnv(t, proxy, Options{Timeout: 100 * time.Millisecond, BreakerFailures: 1, BreakerCooldown: time.Hour})
	ctx := context.Background()
	proxy.Refuse()
	if _, err := e.counts(ctx, []int64{1}); err == nil {
		t.Fatal("Lookup succeeded with Redis refused")
	}
	if err := proxy.Restore(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.counts(ctx, []int64{1}); !errors.Is(err, chat.ErrShortCircuited) {
		t.Fatalf("Lookup with the breaker open: %v, want short-circuited", err)
	}
	if err := e.cache.Ping(ctx); err != nil {
		t.Errorf("Ping with Redis up and the breaker open: %v", err)
	}
}

func TestFailureLogIsRateLimitedPerOperation(t *testing.T) {
	l := newLogLimiter(time.Second)
	now := time.Unix(1000, 0)
	steps := []struct {
		op      string
		at      time.Duration
		allowed bool
		skipped int
	}{
		{OpGet, 0, true, 0},
		{OpGet, 100 * time.Millisecond, false, 0},
		{OpSet, 200 * time.Millisecond, true, 0},
		{OpGet, 900 * time.Millisecond, false, 0},
		{OpGet, 1000 * time.Millisecond, true, 2},
		{OpSet, 1100 * time.Millisecond, false, 0},
		{OpSet, 5 * time.Second, true, 1},
	}
	for i, s := range steps {
		ok, skipped := l.allow(s.op, now.Add(s.at))
		if ok != s.allowed || skipped != s.skipped {
			t.Errorf("step %d (%s at %s): allowed %v skipped %d, want %v %d", i, s.op, s.at, ok, skipped, s.allowed, s.skipped)
		}
	}
}

func TestRedisStoppedAndStartedAgain(t *testing.T) {
	if !server.Local() {
		t.Skip("the server is external (" + testdb.EnvRedisURL + "); it is not ours to stop")
	}
	const timeout = 100 * time.Millisecond
	e := newEnv(t, nil, Options{Timeout: timeout, BreakerFailures: 2, BreakerCooldown: 300 * time.Millisecond})
	ctx := context.Background()
	if err := e.cache.Set(ctx, 1, chat.Participants{Count: 3, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := server.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := server.Start(context.Background()); err != nil {
			t.Errorf("start redis again: %v", err)
		}
	})
	start := time.Now()
	_, err := e.counts(ctx, []int64{1})
	assertFailedWithin(t, err, time.Since(start), timeout+time.Second)
	if err := e.cache.Ping(ctx); err == nil {
		t.Error("Ping succeeded with Redis stopped")
	}
	if err := server.Start(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := e.counts(ctx, []int64{1})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery within 15s of the restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestNewHidesThePassword(t *testing.T) {
	const pw = "r3dis-Secret"
	for _, url := range []string{
		"redis://:" + pw + "@127.0.0.1:notaport/0",
		"redis://:" + pw + "@127.0.0.1:6379/notadb",
		"http://:" + pw + "@127.0.0.1:6379/0",
		"redis://:" + pw + "@[::1/0",
	} {
		_, err := New(url, Options{Timeout: time.Second, TTL: time.Hour, BreakerFailures: 1, BreakerCooldown: time.Second,
			Metrics: metrics.New(prometheus.NewRegistry()), Logger: slog.New(slog.DiscardHandler)})
		if err == nil {
			t.Errorf("New accepted %s", strings.ReplaceAll(url, pw, "..."))
			continue
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("New error repeats the password: %v", err)
		}
	}
}

func TestEntryJSONShape(t *testing.T) {
	count := 5
	at := "2026-06-01T10:00:00Z"
	b, err := json.Marshal(entry{Count: &count, UpdatedAt: &at})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"count":5,"updated_at":"2026-06-01T10:00:00Z"}` {
		t.Errorf("entry JSON %s", b)
	}
}

func TestSetOverwritesATimeBeyondTheClockSkew(t *testing.T) {
	e := newEnv(t, nil, Options{ClockSkewMax: 5 * time.Second})
	ctx := context.Background()
	// Chat 1 was written by a replica whose clock ran an hour ahead; chat 2 by one 3s ahead,
	// within the allowance.
	for id, at := range map[int64]time.Time{1: t0.Add(time.Hour), 2: t0.Add(3 * time.Second)} {
		if err := e.cache.Set(ctx, id, chat.Participants{Count: 99, UpdatedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []int64{1, 2} {
		if err := e.cache.Set(ctx, id, chat.Participants{Count: 7, UpdatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := e.counts(ctx, []int64{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	if p := got[1]; p.Count != 7 || !p.UpdatedAt.Equal(t0) {
		t.Errorf("chat 1: %+v, want the write (7 at %v) over a time an hour ahead", p, t0)
	}
	if p := got[2]; p.Count != 99 || !p.UpdatedAt.Equal(t0.Add(3*time.Second)) {
		t.Errorf("chat 2: %+v, want 99 kept: 3s ahead is within the 5s allowance", p)
	}
}

func TestBackoffIsSharedThroughTheLookup(t *testing.T) {
	e := newEnv(t, nil, Options{})
	ctx := context.Background()
	until := t0.Add(10 * time.Minute)
	if err := e.cache.SetBackoff(ctx, 2, until, 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	// A value that is no time is ignored, not trusted.
	if err := e.raw.Set(ctx, "participants:backoff:3", "soon", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if err := e.cache.Set(ctx, 2, chat.Participants{Count: 5, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}

	before := commandCalls(t, e.raw, "mget")
	got, err := e.cache.Lookup(ctx, []int64{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	if d := commandCalls(t, e.raw, "mget") - before; d != 1 {
		t.Errorf("%d MGETs for a lookup with backoffs, want 1", d)
	}
	if len(got.Backoffs) != 1 || !got.Backoffs[2].Equal(until) {
		t.Errorf("backoffs %v, want chat 2 until %v only", got.Backoffs, until)
	}
	if p, ok := got.Counts[2]; !ok || p.Count != 5 || len(got.Counts) != 1 {
		t.Errorf("counts %v, want chat 2's entry, untouched by its backoff", got.Counts)
	}
	left, err := e.raw.PTTL(ctx, "participants:backoff:2").Result()
	if err != nil {
		t.Fatal(err)
	}
	if left <= 9*time.Minute || left > 10*time.Minute {
		t.Errorf("backoff key expires in %s, want about 10m", left)
	}

	if err := e.cache.ClearBackoff(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if got, err := e.cache.Lookup(ctx, []int64{2}); err != nil || len(got.Backoffs) != 0 {
		t.Errorf("after ClearBackoff: %v, %v; want no backoff", got.Backoffs, err)
	}
}
