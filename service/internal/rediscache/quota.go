package rediscache

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Operation labels of the shared MAX quota.
const (
	OpQuotaTake  = "quota_take"
	OpQuotaPause = "quota_pause"
	OpQuotaRead  = "quota_read"
)

// QuotaKey names the GCRA state of the MAX rate limit that every replica shares;
// redis_rate stores it under "rate:" + QuotaKey.
const QuotaKey = KeyPrefix + "max-quota"

// PauseKey holds the end of the pause MAX imposed with a 429 (Unix milliseconds), so that
// every replica keeps it; it expires when the pause ends.
const PauseKey = KeyPrefix + "max-pause"

// Quota is MAX's rate limit and its Retry-After pauses shared through Redis, with the
// cache's deadline, breaker and failure accounting. The rate limit is GCRA
// (github.com/go-redis/redis_rate) on Redis's own clock, so replicas' clocks do not matter;
// its burst is one call, so calls are spaced evenly and no second of any window holds more
// than the rate (plus the one call on its edge).
type Quota struct {
	c       *Cache
	limiter *redis_rate.Limiter
}

// Quota returns the MAX quota shared through this cache's Redis.
func (c *Cache) Quota() *Quota {
	return &Quota{c: c, limiter: redis_rate.NewLimiter(c.client)}
}

// limitOf turns calls per second into redis_rate's whole calls per period, exact to a
// thousandth of a call per second.
func limitOf(perSecond float64) redis_rate.Limit {
	return redis_rate.Limit{Rate: int(math.Round(perSecond * 1000)), Period: 1000 * time.Second, Burst: 1}
}

// Take asks for one MAX call now at rate calls per second: zero when granted, otherwise
// how long until one could be (nothing is taken then).
func (q *Quota) Take(ctx context.Context, rate float64) (time.Duration, error) {
	if rate <= 0 || rate*1000 > math.MaxInt32 {
		return 0, fmt.Errorf("take a MAX call from the shared quota: rate %v out of range", rate)
	}
	var res *redis_rate.Result
	err := q.c.call(ctx, OpQuotaTake, func(ctx context.Context) error {
		var err error
		res, err = q.limiter.Allow(ctx, QuotaKey, limitOf(rate))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("take a MAX call from the shared quota: %w", err)
	}
	if res.Allowed > 0 {
		return 0, nil
	}
	return max(res.RetryAfter, time.Millisecond), nil
}

// extendPause sets KEYS[1] to ARGV[1] (Unix milliseconds) for ARGV[2] milliseconds unless
// it holds a later end already: two replicas answered 429 keep the longer pause.
var extendPause = redis.NewScript(`
local cur = tonumber(redis.call("GET", KEYS[1]) or "0") or 0
if cur >= tonumber(ARGV[1]) then return 0 end
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
return 1
`)

// Pause stops every replica's MAX calls until until, d from now.
func (q *Quota) Pause(ctx context.Context, until time.Time, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	err := q.c.call(ctx, OpQuotaPause, func(ctx context.Context) error {
		ms := max(d.Milliseconds(), 1)
		return extendPause.Run(ctx, q.c.client, []string{PauseKey}, until.UnixMilli(), ms).Err()
	})
	if err != nil {
		return fmt.Errorf("share the MAX pause: %w", err)
	}
	return nil
}

// PausedUntil returns the end of the pause MAX imposed on any replica; zero when none.
func (q *Quota) PausedUntil(ctx context.Context) (time.Time, error) {
	var raw string
	err := q.c.call(ctx, OpQuotaRead, func(ctx context.Context) error {
		v, err := q.c.client.Get(ctx, PauseKey).Result()
		if errors.Is(err, redis.Nil) {
			return nil
		}
		raw = v
		return err
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("read the shared MAX pause: %w", err)
	}
	if raw == "" {
		return time.Time{}, nil
	}
	ms, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		// Not what a replica writes: ignored, as an undecodable cache entry is.
		return time.Time{}, nil //nolint:nilerr // a value no replica wrote is no pause
	}
	return time.UnixMilli(ms), nil
}
