package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// ChatRow is a row of the contract's chats table.
type ChatRow struct {
	// ID is assigned by the database when 0.
	ID   int64
	Name string
	// MaxChatID is the linked MAX chat (negative for groups); 0 means not linked (NULL).
	MaxChatID int64
	Count     int
	// UpdatedAt is when Count was last known good; zero means never (NULL).
	UpdatedAt time.Time
}

// CacheEntry is a participants entry in Redis, under the contract's key and JSON shape.
type CacheEntry struct {
	ChatID    int64
	Count     int
	UpdatedAt time.Time
	// TTL is the entry's time to live; 0 means no expiry. Read back, it is what remains.
	TTL time.Duration
	// Raw, when set, is written verbatim in place of the contract's JSON: an entry the
	// service must treat as missing.
	Raw string
}

// CacheKeyPrefix starts the contract's Redis key for a chat's participants; the chat's id
// follows.
const CacheKeyPrefix = "participants:"

// CacheKey is the contract's Redis key for a chat's participants.
func CacheKey(chatID int64) string { return CacheKeyPrefix + strconv.FormatInt(chatID, 10) }

// BackoffKey is the reference service's Redis key for a chat whose refreshes are backed off.
func BackoffKey(chatID int64) string { return "participants:backoff:" + strconv.FormatInt(chatID, 10) }

// QuotaKey is where the reference service's replicas keep their shared MAX budget: the
// time the next call may be made, in Unix microseconds.
const QuotaKey = "participants:max-quota"

// PauseKey is where the reference service's replicas keep the end of a pause MAX imposed
// with a 429, in Unix milliseconds.
const PauseKey = "participants:max-pause"

// SharedQuota is the state other replicas of the reference service left in Redis: a MAX
// budget spent until QuotaSpentUntil, and a 429's pause until PausedUntil. Zero times
// write nothing.
type SharedQuota struct {
	QuotaSpentUntil time.Time
	PausedUntil     time.Time
}

// Backoff is a refresh backoff as a replica of the reference service writes it: the RFC 3339
// time it ends, under BackoffKey, expiring then.
type Backoff struct {
	ChatID int64
	Until  time.Time
}

// seedTimeout bounds each seeding or reading call that has no context of its own.
const seedTimeout = 10 * time.Second

// resetData empties Redis and the chats table, then seeds them. The harness leaves the
// schema to the SUT's migrations; it only knows the contract's table and key.
func (e *Env) resetData(ctx context.Context, chats []ChatRow, cache []CacheEntry, backoffs []Backoff, quota SharedQuota) error {
	ctx, cancel := context.WithTimeout(ctx, seedTimeout)
	defer cancel()
	if err := e.Redis().FlushAll(ctx).Err(); err != nil {
		return fmt.Errorf("flush redis: %w", err)
	}
	if _, err := e.DB().Exec(ctx, "TRUNCATE chats RESTART IDENTITY CASCADE"); err != nil {
		return fmt.Errorf("truncate chats: %w", err)
	}
	if _, err := e.seedChats(ctx, chats); err != nil {
		return err
	}
	if err := e.seedCache(ctx, cache); err != nil {
		return err
	}
	if err := e.seedQuota(ctx, quota); err != nil {
		return err
	}
	for _, b := range backoffs {
		ttl := time.Until(b.Until)
		if ttl <= 0 {
			return fmt.Errorf("seed backoff of chat %d: it ended at %s", b.ChatID, b.Until.Format(time.RFC3339))
		}
		if err := e.Redis().Set(ctx, BackoffKey(b.ChatID), b.Until.UTC().Format(time.RFC3339Nano), ttl).Err(); err != nil {
			return fmt.Errorf("seed backoff of chat %d: %w", b.ChatID, err)
		}
	}
	return nil
}

// seedQuota writes the shared quota's keys as the reference service's replicas do.
func (e *Env) seedQuota(ctx context.Context, q SharedQuota) error {
	if t := q.QuotaSpentUntil; !t.IsZero() {
		next := strconv.FormatInt(t.UnixMicro(), 10)
		if err := e.Redis().Set(ctx, QuotaKey, next, max(time.Until(t), time.Millisecond)).Err(); err != nil {
			return fmt.Errorf("seed the shared MAX quota: %w", err)
		}
	}
	if t := q.PausedUntil; !t.IsZero() {
		ms := strconv.FormatInt(t.UnixMilli(), 10)
		if err := e.Redis().Set(ctx, PauseKey, ms, max(time.Until(t), time.Millisecond)).Err(); err != nil {
			return fmt.Errorf("seed the shared MAX pause: %w", err)
		}
	}
	return nil
}

// SeedChats inserts rows into the chats table directly and returns them with their ids.
func (e *Env) SeedChats(ctx context.Context, rows ...ChatRow) ([]ChatRow, error) {
	return e.seedChats(ctx, rows)
}

func (e *Env) seedChats(ctx context.Context, rows []ChatRow) ([]ChatRow, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, seedTimeout)
	defer cancel()
	out := make([]ChatRow, len(rows))
	err := pgx.BeginFunc(ctx, e.DB(), func(tx pgx.Tx) error {
		for i, r := range rows {
			var id any
			if r.ID != 0 {
				id = r.ID
			}
			err := tx.QueryRow(ctx, `INSERT INTO chats (id, name, max_chat_id, participants_count, participants_updated_at)
				VALUES (COALESCE($1::bigint, nextval(pg_get_serial_sequence('chats', 'id'))), $2, $3, $4, $5)
				RETURNING id`,
				id, r.Name, nullInt(r.MaxChatID), r.Count, nullTime(r.UpdatedAt)).Scan(&r.ID)
			if err != nil {
				return fmt.Errorf("insert chat %q: %w", r.Name, err)
			}
			out[i] = r
		}
		// Rows with explicit ids must not collide with ids the SUT or a later seed assigns.
		_, err := tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence('chats', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM chats`)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("seed chats: %w", err)
	}
	return out, nil
}

// SeedCache writes participants entries into Redis directly.
func (e *Env) SeedCache(ctx context.Context, entries ...CacheEntry) error {
	return e.seedCache(ctx, entries)
}

func (e *Env) seedCache(ctx context.Context, entries []CacheEntry) error {
	ctx, cancel := context.WithTimeout(ctx, seedTimeout)
	defer cancel()
	for _, en := range entries {
		v, err := json.Marshal(cacheValue{Count: en.Count, UpdatedAt: en.UpdatedAt.UTC().Format(time.RFC3339Nano)})
		if err != nil {
			return fmt.Errorf("encode cache entry %d: %w", en.ChatID, err)
		}
		if en.Raw != "" {
			v = []byte(en.Raw)
		}
		if err := e.Redis().Set(ctx, CacheKey(en.ChatID), v, en.TTL).Err(); err != nil {
			return fmt.Errorf("seed cache entry %d: %w", en.ChatID, err)
		}
	}
	return nil
}

// SeedCacheRaw writes value under key as is, for entries the SUT must survive (malformed
// JSON, wrong types).
func (e *Env) SeedCacheRaw(ctx context.Context, key, value string, ttl time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, seedTimeout)
	defer cancel()
	if err := e.Redis().Set(ctx, key, value, ttl).Err(); err != nil {
		return fmt.Errorf("seed cache key %s: %w", key, err)
	}
	return nil
}

type cacheValue struct {
	Count     int    `json:"count"`
	UpdatedAt string `json:"updated_at"`
}

// DecodeCacheValue reads a cache entry's value as the contract writes it: its count and
// its observation time (UTC).
func DecodeCacheValue(raw string) (count int, updatedAt time.Time, err error) {
	var v cacheValue
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return 0, time.Time{}, fmt.Errorf("not the contract's JSON: %q", raw)
	}
	updated, err := time.Parse(time.RFC3339Nano, v.UpdatedAt)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("updated_at %q is not RFC 3339", v.UpdatedAt)
	}
	return v.Count, updated.UTC(), nil
}

// ReadChatRow reads a chat's row directly from the database; found is false when it does
// not exist.
func (e *Env) ReadChatRow(ctx context.Context, id int64) (row ChatRow, found bool, err error) {
	rows, err := e.ReadChatRows(ctx, []int64{id})
	row, found = rows[id]
	return row, found, err
}

// ReadChatRows reads the rows of the chats with the given ids directly from the database,
// in one query, by id; a chat without a row is absent from the map.
func (e *Env) ReadChatRows(ctx context.Context, ids []int64) (map[int64]ChatRow, error) {
	rows, err := e.queryChats(ctx, "WHERE id = ANY($1)", ids)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]ChatRow, len(rows))
	for _, r := range rows {
		out[r.ID] = r
	}
	return out, nil
}

// ChatRows reads every row of the chats table directly, in id order.
func (e *Env) ChatRows(ctx context.Context) ([]ChatRow, error) {
	return e.queryChats(ctx, "")
}

func (e *Env) queryChats(ctx context.Context, where string, args ...any) ([]ChatRow, error) {
	ctx, cancel := context.WithTimeout(ctx, seedTimeout)
	defer cancel()
	rows, err := e.DB().Query(ctx, `SELECT id, name, COALESCE(max_chat_id, 0), participants_count, participants_updated_at
		FROM chats `+where+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read chats: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ChatRow, error) {
		var r ChatRow
		var updated *time.Time
		err := row.Scan(&r.ID, &r.Name, &r.MaxChatID, &r.Count, &updated)
		if updated != nil {
			r.UpdatedAt = updated.UTC()
		}
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("read chats: %w", err)
	}
	return out, nil
}

// ReadCacheEntry reads a chat's participants entry directly from Redis; found is false when
// there is none. An error is unreachable Redis, or an entry that is not the contract's JSON
// (found is then true).
func (e *Env) ReadCacheEntry(ctx context.Context, chatID int64) (entry CacheEntry, found bool, err error) {
	r := e.ReadCacheEntries(ctx, []int64{chatID})[0]
	return r.Entry, r.Found, r.Err
}

// CacheRead is one chat's participants entry as ReadCacheEntries found it: Found is false
// when there is none; Err is unreachable Redis, or an entry that is not the contract's
// JSON (Found is then true).
type CacheRead struct {
	Entry CacheEntry
	Found bool
	Err   error
}

// ReadCacheEntries reads the participants entries of the given chats directly from Redis,
// each value with its remaining time to live, in one pipelined round trip; the reads are in
// the order of ids.
func (e *Env) ReadCacheEntries(ctx context.Context, ids []int64) []CacheRead {
	ctx, cancel := context.WithTimeout(ctx, seedTimeout)
	defer cancel()
	gets := make([]*redis.StringCmd, len(ids))
	ttls := make([]*redis.DurationCmd, len(ids))
	// Every command's own error is read below; Exec's is the first of them.
	_, _ = e.Redis().Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			gets[i] = p.Get(ctx, CacheKey(id))
			ttls[i] = p.PTTL(ctx, CacheKey(id))
		}
		return nil
	})
	out := make([]CacheRead, len(ids))
	for i, id := range ids {
		out[i] = cacheRead(id, gets[i], ttls[i])
	}
	return out
}

func cacheRead(chatID int64, get *redis.StringCmd, pttl *redis.DurationCmd) CacheRead {
	key := CacheKey(chatID)
	raw, err := get.Result()
	if errors.Is(err, redis.Nil) {
		return CacheRead{}
	}
	if err != nil {
		return CacheRead{Err: fmt.Errorf("read cache entry %d: %w", chatID, err)}
	}
	count, updated, err := DecodeCacheValue(raw)
	if err != nil {
		return CacheRead{Found: true, Err: fmt.Errorf("cache entry %s: %w", key, err)}
	}
	ttl, err := pttl.Result()
	if err != nil {
		return CacheRead{Found: true, Err: fmt.Errorf("read ttl of %s: %w", key, err)}
	}
	if ttl < 0 {
		ttl = 0
	}
	return CacheRead{Entry: CacheEntry{ChatID: chatID, Count: count, UpdatedAt: updated, TTL: ttl}, Found: true}
}

func nullInt(v int64) any {
	if v == 0 {
		return nil
	}
	return v
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}
