package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/faultline/faultline/chaos"
)

// floor is the raw floor of GET /chats/all: the least a service can do for the same answer.
// One query for the page, one MGET of the page's cache entries and backoff keys (chatd reads
// both in one round trip), the entries decoded and the page encoded with the same fields,
// over the same proxies the service goes through. No deadlines, breakers, metrics, logs or
// refresh queue: what the service spends on those is the gap between the two throughputs.
//
// It is served by a process of its own (this binary, started with floorCommand), as the
// service is: in the bench process it would share a runtime with the load generator and
// the proxies, and skip the process switches every request of the service pays.
type floor struct {
	db    *pgxpool.Pool
	rdb   *redis.Client
	limit int
}

// floorCommand is the first argument that makes this binary serve the floor; its settings
// come in the environment (floorEnv*), so that the database password is not on a command line.
const (
	floorCommand  = "serve-floor"
	floorEnvDB    = "BENCH_FLOOR_DATABASE_URL"
	floorEnvRedis = "BENCH_FLOOR_REDIS_ADDR"
	floorEnvLimit = "BENCH_FLOOR_LIMIT"
)

// floorChat is the service's chat as JSON (docs/contract.md, GET /chats/all).
type floorChat struct {
	ID                    int64  `json:"id"`
	Name                  string `json:"name"`
	MaxChatID             *int64 `json:"max_chat_id"`
	ParticipantsCount     int    `json:"participants_count"`
	ParticipantsSource    string `json:"participants_source"`
	ParticipantsUpdatedAt string `json:"participants_updated_at,omitempty"`
}

// floorEntry is a cache entry as chatd writes it.
type floorEntry struct {
	Count     *int    `json:"count"`
	UpdatedAt *string `json:"updated_at"`
}

// startFloor starts the floor's process on env's proxies, for pages of limit chats, and
// waits for the address it serves on.
func startFloor(ctx context.Context, env *chaos.Env, limit int) (*selfProcess, error) {
	dsn, err := url.Parse(env.DatabaseURL(ctx))
	if err != nil {
		return nil, errors.New("floor: the database URL does not parse")
	}
	dsn.Host = env.ProxyAddr(chaos.Postgres)
	p, err := startSelf(ctx, floorCommand, floorEnvDB+"="+dsn.String(), floorEnvRedis+"="+env.ProxyAddr(chaos.Redis),
		floorEnvLimit+"="+strconv.Itoa(limit))
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	return p, nil
}

// serveFloor is the floor's process: it serves on a loopback port, prints the address on
// stdout, and stops on SIGINT or SIGTERM.
func serveFloor(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	limit, err := strconv.Atoi(getenv(floorEnvLimit))
	if err != nil || limit < 1 {
		return fmt.Errorf("floor: %s must be a positive integer", floorEnvLimit)
	}
	cfg, err := pgxpool.ParseConfig(getenv(floorEnvDB))
	if err != nil {
		return errors.New("floor: the database URL does not parse")
	}
	cfg.MaxConns = 10 // chatd's DATABASE_MAX_CONNS default
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("floor: database: %w", err)
	}
	defer db.Close()
	rdb := redis.NewClient(&redis.Options{Addr: getenv(floorEnvRedis)})
	defer func() { _ = rdb.Close() }()
	f := &floor{db: db, rdb: rdb, limit: limit}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /chats/all", f.list)
	if err := serveSelf(ctx, mux, stdout); err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	return nil
}

func (f *floor) list(w http.ResponseWriter, r *http.Request) {
	chats, err := f.page(r.Context())
	if err != nil {
		http.Error(w, `{"error":{"code":"unavailable","message":"floor"}}`, http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(struct {
		Chats []floorChat `json:"chats"`
	}{chats})
}

func (f *floor) page(ctx context.Context) ([]floorChat, error) {
	rows, err := f.db.Query(ctx, `SELECT id, name, max_chat_id, participants_count, participants_updated_at
		FROM chats ORDER BY id LIMIT $1 OFFSET 0`, f.limit)
	if err != nil {
		return nil, err
	}
	chats, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (floorChat, error) {
		var (
			c  floorChat
			at *time.Time
		)
		err := row.Scan(&c.ID, &c.Name, &c.MaxChatID, &c.ParticipantsCount, &at)
		c.ParticipantsSource = "database"
		if at != nil {
			c.ParticipantsUpdatedAt = at.UTC().Format(time.RFC3339Nano)
		}
		return c, err
	})
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, 2*len(chats))
	for _, c := range chats {
		keys = append(keys, chaos.CacheKey(c.ID))
	}
	for _, c := range chats {
		keys = append(keys, chaos.BackoffKey(c.ID))
	}
	if len(keys) == 0 {
		return chats, nil
	}
	values, err := f.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, err
	}
	if len(values) != len(keys) {
		return nil, errors.New("MGET answered the wrong number of values")
	}
	for i := range chats {
		s, ok := values[i].(string)
		if !ok {
			continue
		}
		var e floorEntry
		if json.Unmarshal([]byte(s), &e) != nil || e.Count == nil || e.UpdatedAt == nil {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, *e.UpdatedAt)
		if err != nil {
			continue
		}
		chats[i].ParticipantsCount = *e.Count
		chats[i].ParticipantsSource = "cache"
		chats[i].ParticipantsUpdatedAt = at.UTC().Format(time.RFC3339Nano)
	}
	return chats, nil
}
