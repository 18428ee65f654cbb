package rediscache

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/faultline/faultline/service/internal/chat"
)

// Operation labels of the shared MAX quota.
const (
	OpQuotaTake    = "quota_take"
	OpQuotaPause   = "quota_pause"
	OpQuotaPaused  = "quota_paused"
	OpQuotaRelease = "quota_release"
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

// ClaimKey marks chat id claimed by one replica's background refresh.
func ClaimKey(id int64) string { return KeyPrefix + "refreshing:" + strconv.FormatInt(id, 10) }

// reserve is GCRA with a burst of one call, as a reservation: the caller is given the next
// free slot if it begins within ARGV[2] microseconds, and the slot after it is what the
// next caller gets. Calls are spaced ARGV[1] microseconds apart whichever replica makes
// them, in the order they asked, on Redis's clock (replicas' clocks do not matter).
//
// With ARGV[3] > 0 the call claims a chat: it is refused, nothing taken, while KEYS[3] (the
// claim) exists or KEYS[4] (the chat's cache entry) holds a time within [ARGV[4], ARGV[5]]
// (entry_time, padded); otherwise the claim is set for ARGV[3] milliseconds with the
// slot. The end of the shared pause (KEYS[2], Unix ms) comes with every answer:
// {1, wait, pause} for a slot taken, {0, wait, pause} for one too far ahead, {2, 0, pause}
// for a claim refused.
var reserve = redis.NewScript(entryTimeLua + `
local pause = tonumber(redis.call("GET", KEYS[2]) or "0") or 0
local claim = tonumber(ARGV[3])
if claim > 0 then
  if redis.call("EXISTS", KEYS[3]) == 1 then return {2, 0, pause} end
  local cur = redis.call("GET", KEYS[4])
  local at = cur and entry_time(cur)
  if at and at >= ARGV[4] and at <= ARGV[5] then return {2, 0, pause} end
end
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call("GET", KEYS[1]) or "0") or 0
if tat < now then tat = now end
local wait = tat - now
if wait > tonumber(ARGV[2]) then return {0, wait, pause} end
local next = tat + interval
redis.call("SET", KEYS[1], string.format("%d", next), "PX", math.ceil((next - now) / 1000))
if claim > 0 then redis.call("SET", KEYS[3], "1", "PX", claim) end
return {1, wait, pause}
`)

// Reserve takes the next MAX call of the shared budget if it can be made within c.MaxWait,
// claiming c.ChatID when it is set, and answers the shared pause, in one round trip.
func (q *Quota) Reserve(ctx context.Context, c chat.QuotaCall) (chat.Reservation, error) {
	if c.Rate <= 0 || math.IsInf(c.Rate, 0) || math.IsNaN(c.Rate) {
		return chat.Reservation{}, fmt.Errorf("reserve a MAX call: rate %v out of range", c.Rate)
	}
	interval := max(int64(math.Round(1e6/c.Rate)), 1)
	var claimMS int64
	if c.ChatID != 0 {
		claimMS = max(c.ClaimFor.Milliseconds(), 1)
	}
	keys := []string{QuotaKey, PauseKey, ClaimKey(c.ChatID), Key(c.ChatID)}
	var res []int64
	err := q.c.call(ctx, OpQuotaTake, func(ctx context.Context) error {
		var err error
		res, err = reserve.Run(ctx, q.c.client, keys, interval, max(c.MaxWait.Microseconds(), 0), claimMS,
			c.FreshSince.UTC().Format(paddedTime), c.FreshUntil.UTC().Format(paddedTime)).Int64Slice()
		return err
	})
	if err != nil {
		return chat.Reservation{}, fmt.Errorf("reserve a MAX call from the shared quota: %w", err)
	}
	if len(res) != 3 {
		return chat.Reservation{}, fmt.Errorf("reserve a MAX call from the shared quota: unexpected answer %v", res)
	}
	r := chat.Reservation{OK: res[0] == 1, Taken: res[0] == 2, Wait: time.Duration(res[1]) * time.Microsecond}
	if res[2] > 0 {
		r.PausedUntil = time.UnixMilli(res[2])
	}
	return r, nil
}

// Release lifts the claim on chat id.
func (q *Quota) Release(ctx context.Context, id int64) error {
	err := q.c.call(ctx, OpQuotaRelease, func(ctx context.Context) error {
		return q.c.client.Del(ctx, ClaimKey(id)).Err()
	})
	if err != nil {
		return fmt.Errorf("release the refresh claim on chat %d: %w", id, err)
	}
	return nil
}

// extendPause sets KEYS[1] to ARGV[1] (Unix milliseconds) for ARGV[2] milliseconds unless
// it holds a later end already: two replicas answered 429 keep the longer pause.
var extendPause = redis.NewScript(`
local cur = tonumber(redis.call("GET", KEYS[1]) or "0") or 0
if cur >= tonumber(ARGV[1]) then return 0 end
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
return 1
`)

// PausedUntil answers the shared pause (zero when none), as Reserve does.
func (q *Quota) PausedUntil(ctx context.Context) (time.Time, error) {
	var ms int64
	err := q.c.call(ctx, OpQuotaPaused, func(ctx context.Context) error {
		v, err := q.c.client.Get(ctx, PauseKey).Result()
		switch {
		case errors.Is(err, redis.Nil):
			return nil
		case err != nil:
			return err
		}
		// What no replica writes is no pause, as in reserve.
		ms, _ = strconv.ParseInt(v, 10, 64)
		return nil
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("read the shared MAX pause: %w", err)
	}
	if ms <= 0 {
		return time.Time{}, nil
	}
	return time.UnixMilli(ms), nil
}

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
