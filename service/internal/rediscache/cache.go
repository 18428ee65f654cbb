// Package rediscache is the participants cache on Redis: one MGET per list (the counts
// and the refresh backoffs of the page's chats), SET with a TTL, JSON values, every call
// under the Redis deadline and behind a circuit breaker so that a dead or hanging Redis
// costs requests next to nothing.
package rediscache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"

	"github.com/faultline/faultline/service/internal/chat"
	"github.com/faultline/faultline/service/internal/metrics"
)

// Operation labels of participants_cache_request_duration_seconds and of the failure log.
const (
	OpGet          = "get"
	OpSet          = "set"
	OpSetBackoff   = "set_backoff"
	OpClearBackoff = "clear_backoff"
	OpPing         = "ping"
)

// KeyPrefix starts every cache key; the rest is the chat's id in the chats table.
const KeyPrefix = "participants:"

// BackoffKeyPrefix starts the key that suspends a chat's refreshes; the rest is the
// chat's id in the chats table.
const BackoffKeyPrefix = KeyPrefix + "backoff:"

// maxLoggedKeys bounds how many corrupt keys one log line names.
const maxLoggedKeys = 10

// DefaultLogInterval is how often at most a continuously failing operation is logged.
const DefaultLogInterval = time.Second

// Key returns the cache key of chat id.
func Key(id int64) string { return KeyPrefix + strconv.FormatInt(id, 10) }

// BackoffKey returns the key that suspends the refreshes of chat id.
func BackoffKey(id int64) string { return BackoffKeyPrefix + strconv.FormatInt(id, 10) }

// Options configure a Cache.
type Options struct {
	// Timeout bounds every call: dialling, waiting for a pooled connection, writing and
	// reading.
	Timeout time.Duration
	// TTL is how long an entry lives.
	TTL time.Duration
	// ClockSkewMax is how far ahead of a write's observation time a cached one may lie
	// and still be kept as newer; one further ahead was written by a replica whose clock
	// runs ahead, and is overwritten.
	ClockSkewMax time.Duration
	// BreakerFailures consecutive failures open the breaker; a probe is let through after
	// BreakerCooldown.
	BreakerFailures int
	BreakerCooldown time.Duration
	// LogInterval limits the failure log per operation; DefaultLogInterval if zero.
	LogInterval time.Duration
	Logger      *slog.Logger
	Metrics     *metrics.Metrics
}

// Cache reads and writes participant counts. Its methods are safe for concurrent use.
type Cache struct {
	client  *redis.Client
	timeout time.Duration
	ttl     time.Duration
	skew    time.Duration
	breaker *gobreaker.CircuitBreaker[struct{}]
	log     *slog.Logger
	m       *metrics.Metrics
	limiter *logLimiter
	// failures counts what participants_cache_errors_total counts, for Failures.
	failures atomic.Uint64
}

// Failures is the number of failed cache operations so far, refusals by the open breaker
// included: the failures requests saw.
func (c *Cache) Failures() uint64 { return c.failures.Load() }

// New creates a Cache for a redis:// or rediss:// URL. It does not connect: connections
// are made on demand, so chatd starts, and recovers, whatever Redis's state.
func New(redisURL string, opts Options) (*Cache, error) {
	if opts.Timeout <= 0 || opts.TTL <= 0 {
		return nil, errors.New("new redis cache: timeout and ttl must be positive")
	}
	if opts.BreakerFailures <= 0 || opts.BreakerCooldown <= 0 {
		return nil, errors.New("new redis cache: breaker failures and cooldown must be positive")
	}
	if opts.LogInterval <= 0 {
		opts.LogInterval = DefaultLogInterval
	}
	ro, err := redis.ParseURL(redisURL)
	if err != nil {
		// url.Parse errors quote the URL, password included.
		return nil, fmt.Errorf("new redis cache: parse redis url: %w", redact(err, urlPassword(redisURL)))
	}
	ro.DialTimeout = opts.Timeout
	ro.ReadTimeout = opts.Timeout
	ro.WriteTimeout = opts.Timeout
	ro.PoolTimeout = opts.Timeout
	// No retries, of commands or of dials: each would multiply the latency a failing
	// Redis costs a request, and the breaker is the answer to repeated failure. In
	// go-redis -1 means none (0 means the default of 3).
	ro.MaxRetries = -1
	ro.DialerRetries = 1
	// Honour the caller's context deadline as well as the socket timeouts.
	ro.ContextTimeoutEnabled = true
	// Skip CLIENT SETINFO: one less command on every new connection.
	ro.DisableIdentity = true

	c := &Cache{
		client:  redis.NewClient(ro),
		timeout: opts.Timeout,
		ttl:     opts.TTL,
		skew:    max(opts.ClockSkewMax, 0),
		log:     opts.Logger,
		m:       opts.Metrics,
		limiter: newLogLimiter(opts.LogInterval),
	}
	failures := uint32(opts.BreakerFailures) //nolint:gosec // config bounds it to int32
	c.breaker = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        metrics.DepRedis,
		MaxRequests: 1,
		Timeout:     opts.BreakerCooldown,
		ReadyToTrip: func(cnt gobreaker.Counts) bool { return cnt.ConsecutiveFailures >= failures },
		IsExcluded:  func(err error) bool { return errors.Is(err, errCallerGone) },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			c.m.BreakerState.WithLabelValues(metrics.DepRedis).Set(float64(to))
			c.log.WarnContext(context.Background(), "Circuit breaker state changed",
				"dependency", metrics.DepRedis, "from", from.String(), "to", to.String())
		},
	})
	c.m.BreakerState.WithLabelValues(metrics.DepRedis).Set(metrics.BreakerClosed)
	return c, nil
}

// Close closes the client's connections.
func (c *Cache) Close() error {
	if err := c.client.Close(); err != nil {
		return fmt.Errorf("close redis client: %w", err)
	}
	return nil
}

// errCallerGone marks a failure caused by the caller's own context ending: it says
// nothing about Redis.
var errCallerGone = errors.New("caller's context ended")

// call runs fn through the breaker under the cache's timeout and accounts for it: every
// failure the caller sees, refusals by the open breaker included, is counted and (rate
// limited) logged.
func (c *Cache) call(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	start := time.Now()
	_, err := c.breaker.Execute(func() (struct{}, error) {
		callCtx, cancel := context.WithTimeout(ctx, c.timeout)
		defer cancel()
		err := fn(callCtx)
		if err != nil && ctx.Err() != nil {
			return struct{}{}, fmt.Errorf("%w: %w", errCallerGone, err)
		}
		return struct{}{}, err
	})
	c.m.CacheDuration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if err == nil || errors.Is(err, errCallerGone) {
		return err
	}
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		err = fmt.Errorf("%w: %w", chat.ErrShortCircuited, err)
	}
	c.m.CacheErrors.Inc()
	c.failures.Add(1)
	if ok, suppressed := c.limiter.allow(op, time.Now()); ok {
		attrs := []any{"operation", op, "error", err.Error()}
		if suppressed > 0 {
			attrs = append(attrs, "suppressed", suppressed)
		}
		c.log.WarnContext(ctx, "Cache operation failed", attrs...)
	}
	return err
}

// entry is the JSON form of a cached count. Pointers tell a missing field from a zero.
type entry struct {
	Count     *int    `json:"count"`
	UpdatedAt *string `json:"updated_at"`
}

func decode(raw string) (chat.Participants, error) {
	var e entry
	if err := json.Unmarshal([]byte(raw), &e); err != nil {
		return chat.Participants{}, fmt.Errorf("decode: %w", err)
	}
	if e.Count == nil || e.UpdatedAt == nil {
		return chat.Participants{}, errors.New("decode: count or updated_at missing")
	}
	if *e.Count < 0 {
		return chat.Participants{}, fmt.Errorf("decode: negative count %d", *e.Count)
	}
	// RFC3339Nano parses timestamps with and without fractional seconds.
	at, err := time.Parse(time.RFC3339Nano, *e.UpdatedAt)
	if err != nil || at.IsZero() {
		return chat.Participants{}, errors.New("decode: updated_at is not an RFC 3339 time")
	}
	return chat.Participants{Count: *e.Count, UpdatedAt: at.UTC(), Source: chat.SourceCache}, nil
}

// Lookup reads the counts of ids, and whether their refreshes are backed off, with one
// MGET. Ids without an entry, or with an entry that cannot be decoded, are absent from
// the counts: a corrupt entry is counted and logged but is not a cache failure, so it is
// refreshed like a missing one. A backoff whose value does not decode is ignored.
func (c *Cache) Lookup(ctx context.Context, ids []int64) (chat.CacheLookup, error) {
	out := chat.CacheLookup{Counts: make(map[int64]chat.Participants, len(ids)), Backoffs: map[int64]time.Time{}}
	if len(ids) == 0 {
		return out, nil
	}
	keys := make([]string, 0, 2*len(ids))
	for _, id := range ids {
		keys = append(keys, Key(id))
	}
	for _, id := range ids {
		keys = append(keys, BackoffKey(id))
	}
	var values []any
	err := c.call(ctx, OpGet, func(ctx context.Context) error {
		var err error
		values, err = c.client.MGet(ctx, keys...).Result()
		return err
	})
	if err != nil {
		return chat.CacheLookup{}, fmt.Errorf("get participants of %d chats: %w", len(ids), err)
	}
	if len(values) != len(keys) {
		// Not a Redis failure we can act on, but not data we can trust either.
		return chat.CacheLookup{}, fmt.Errorf("get participants: MGET of %d keys answered %d values", len(keys), len(values))
	}
	var corrupt []string
	var firstErr error
	for i, key := range keys[:len(ids)] {
		v := values[i]
		if v == nil {
			continue
		}
		var p chat.Participants
		var err error
		if s, ok := v.(string); ok {
			p, err = decode(s)
		} else {
			err = fmt.Errorf("decode: value of type %T", v)
		}
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			corrupt = append(corrupt, key)
			continue
		}
		out.Counts[ids[i]] = p //nolint:gosec // G602: keys start with one entry key per id
	}
	for i, id := range ids {
		if s, ok := values[len(ids)+i].(string); ok {
			if until, err := time.Parse(time.RFC3339Nano, s); err == nil {
				out.Backoffs[id] = until.UTC()
			}
		}
	}
	if len(corrupt) > 0 {
		c.m.CacheCorrupt.Add(float64(len(corrupt)))
		c.log.WarnContext(ctx, "Corrupt cache entries treated as missing",
			"count", len(corrupt), "keys", strings.Join(corrupt[:min(len(corrupt), maxLoggedKeys)], ","),
			"error", firstErr.Error())
	}
	return out, nil
}

// SetBackoff suspends the refreshes of chat id for every replica: the key holds until,
// and expires after d.
func (c *Cache) SetBackoff(ctx context.Context, id int64, until time.Time, d time.Duration) error {
	err := c.call(ctx, OpSetBackoff, func(ctx context.Context) error {
		return c.client.Set(ctx, BackoffKey(id), until.UTC().Format(time.RFC3339Nano), d).Err()
	})
	if err != nil {
		return fmt.Errorf("back off refreshes of chat %d: %w", id, err)
	}
	return nil
}

// ClearBackoff lifts the backoff of chat id.
func (c *Cache) ClearBackoff(ctx context.Context, id int64) error {
	err := c.call(ctx, OpClearBackoff, func(ctx context.Context) error {
		return c.client.Del(ctx, BackoffKey(id)).Err()
	})
	if err != nil {
		return fmt.Errorf("clear refresh backoff of chat %d: %w", id, err)
	}
	return nil
}

// entryTimeLua defines entry_time(raw) for the scripts that read a cache entry: its
// observation time with the fraction padded to nine digits (as paddedTime formats Go times,
// so the two compare as text), or nil for an entry that does not decode or whose time is not
// UTC RFC 3339, which is as good as missing.
const entryTimeLua = `
local function entry_time(raw)
  local ok, v = pcall(cjson.decode, raw)
  if not (ok and type(v) == 'table' and type(v.updated_at) == 'string') then return nil end
  local dt, frac = string.match(v.updated_at, '^(%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d)%.?(%d*)Z$')
  if not dt or #frac > 9 then return nil end
  return dt .. '.' .. frac .. string.rep('0', 9 - #frac)
end
`

// setIfNewer writes the entry unless the one stored holds a count observed at the same time
// or later, in one round trip (ARGV[2] and ARGV[4] come padded). An entry that does not
// decode is overwritten, and so is one whose time lies beyond ARGV[4], the write's time plus
// the clock skew allowance: a replica with a clock ahead wrote it.
var setIfNewer = redis.NewScript(entryTimeLua + `
local cur = redis.call('GET', KEYS[1])
if cur then
  local t = entry_time(cur)
  if t and t >= ARGV[2] and t <= ARGV[4] then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
`)

// paddedTime formats UTC times so that they compare as text: a fixed-width fraction.
const paddedTime = "2006-01-02T15:04:05.000000000"

// Set stores the count of chat id for the cache's TTL, unless the entry already holds a
// count observed at the same time or later (another replica's refresh, or a slow MAX answer
// that lost the race): a refresh never replaces newer data with older. An entry from
// further ahead than the clock skew allowance is not newer data but a clock running ahead,
// and is replaced. The check and the
// write are one script, so no other writer comes between them.
func (c *Cache) Set(ctx context.Context, id int64, p chat.Participants) error {
	if !p.Known() {
		return chat.Errorf(chat.EINVALID, "participants of chat %d have no observation time", id)
	}
	at := p.UpdatedAt.UTC()
	text := at.Format(time.RFC3339Nano)
	value, err := json.Marshal(entry{Count: &p.Count, UpdatedAt: &text})
	if err != nil {
		return fmt.Errorf("set participants of chat %d: %w", id, err)
	}
	err = c.call(ctx, OpSet, func(ctx context.Context) error {
		return setIfNewer.Run(ctx, c.client, []string{Key(id)}, value,
			at.Format(paddedTime), c.ttl.Milliseconds(), at.Add(c.skew).Format(paddedTime)).Err()
	})
	if err != nil {
		return fmt.Errorf("set participants of chat %d: %w", id, err)
	}
	return nil
}

// Ping checks that Redis answers, within the cache's timeout. It bypasses the breaker,
// so health checks report Redis's real state even while requests skip it, and it is not
// counted as a cache error: it serves no request.
func (c *Cache) Ping(ctx context.Context) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	err := c.client.Ping(ctx).Err()
	c.m.CacheDuration.WithLabelValues(OpPing).Observe(time.Since(start).Seconds())
	if err != nil {
		return fmt.Errorf("ping redis: %w", err)
	}
	return nil
}

// logLimiter lets one log line per operation through per interval and counts the rest.
type logLimiter struct {
	interval   time.Duration
	mu         sync.Mutex
	last       map[string]time.Time
	suppressed map[string]int
}

func newLogLimiter(interval time.Duration) *logLimiter {
	return &logLimiter{interval: interval, last: map[string]time.Time{}, suppressed: map[string]int{}}
}

// allow reports whether op may be logged at now and how many lines were suppressed since
// the last one.
func (l *logLimiter) allow(op string, now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if last, ok := l.last[op]; ok && now.Sub(last) < l.interval {
		l.suppressed[op]++
		return false, 0
	}
	n := l.suppressed[op]
	l.last[op] = now
	l.suppressed[op] = 0
	return true, n
}

// redactedError hides a secret in an error's text and keeps the chain.
type redactedError struct {
	err    error
	secret string
}

func (e *redactedError) Error() string { return strings.ReplaceAll(e.err.Error(), e.secret, "xxxxx") }
func (e *redactedError) Unwrap() error { return e.err }

func redact(err error, secret string) error {
	if secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return &redactedError{err: err, secret: secret}
}

// urlPassword returns the password of a URL as written, even when the URL does not
// parse: between the user's colon and the last @ of the authority.
func urlPassword(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok {
			return pw
		}
	}
	if i := strings.Index(raw, "://"); i >= 0 {
		rest := raw[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if colon := strings.Index(rest[:at], ":"); colon >= 0 {
				return rest[colon+1 : at]
			}
		}
	}
	return ""
}

// libraryLogger routes go-redis's own log lines (such as failed dials, which the cache
// already counts and logs) into slog at debug level, so they neither break the JSON log
// stream nor repeat what the cache says.
type libraryLogger struct{ log *slog.Logger }

func (l libraryLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "go-redis log", "message", fmt.Sprintf(format, v...))
}

// RouteLibraryLogs sends go-redis's log lines to log. go-redis has a single process-wide
// logger, so main calls this once at start-up.
func RouteLibraryLogs(log *slog.Logger) {
	redis.SetLogger(libraryLogger{log: log})
}
