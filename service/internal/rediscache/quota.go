package rediscache

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Operation labels of the shared MAX quota.
const (
	OpQuotaTake  = "quota_take"
	OpQuotaPause = "quota_pause"
	OpQuotaRead  = "quota_read"
)

// QuotaKey holds the MAX budget every replica shares: the time the next call may be made
// (GCRA's theoretical arrival time), in Unix microseconds on Redis's clock.
const QuotaKey = KeyPrefix + "max-quota"

// PauseKey holds the end of the pause MAX imposed with a 429 (Unix milliseconds), so that
// every replica keeps it; it expires when the pause ends.
const PauseKey = KeyPrefix + "max-pause"

// Quota is MAX's rate limit and its Retry-After pauses shared through Redis, with the
// cache's deadline, breaker and failure accounting.
type Quota struct{ c *Cache }

// Quota returns the MAX quota shared through this cache's Redis.
func (c *Cache) Quota() *Quota { return &Quota{c: c} }

// reserve is GCRA with a burst of one call, as a reservation: the caller is given the next
// free slot if it begins within ARGV[2] microseconds, and the slot after it is what the
// next caller gets. Calls are spaced ARGV[1] microseconds apart whichever replica makes
// them, in the order they asked, on Redis's clock (replicas' clocks do not matter). It
// returns {1, wait} for a slot taken, {0, wait} for one too far ahead (nothing is taken).
var reserve = redis.NewScript(`
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call("GET", KEYS[1]) or "0") or 0
if tat < now then tat = now end
local wait = tat - now
if wait > tonumber(ARGV[2]) then return {0, wait} end
local next = tat + interval
redis.call("SET", KEYS[1], string.format("%d", next), "PX", math.ceil((next - now) / 1000))
return {1, wait}
`)

// Reserve takes the next MAX call of the shared budget of rate calls per second if it can
// be made within maxWait: ok with how long to wait for it, or not ok (nothing taken) with
// how long the wait would have been.
func (q *Quota) Reserve(ctx context.Context, rate float64, maxWait time.Duration) (wait time.Duration, ok bool, err error) {
	if rate <= 0 || math.IsInf(rate, 0) || math.IsNaN(rate) {
		return 0, false, fmt.Errorf("reserve a MAX call: rate %v out of range", rate)
	}
	interval := max(int64(math.Round(1e6/rate)), 1)
	var res []int64
	err = q.c.call(ctx, OpQuotaTake, func(ctx context.Context) error {
		var err error
		res, err = reserve.Run(ctx, q.c.client, []string{QuotaKey}, interval, max(maxWait.Microseconds(), 0)).Int64Slice()
		return err
	})
	if err != nil {
		return 0, false, fmt.Errorf("reserve a MAX call from the shared quota: %w", err)
	}
	if len(res) != 2 {
		return 0, false, fmt.Errorf("reserve a MAX call from the shared quota: unexpected answer %v", res)
	}
	return time.Duration(res[1]) * time.Microsecond, res[0] == 1, nil
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
