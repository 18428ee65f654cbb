// Command stubsut is a deliberately small implementation of the service contract, used to
// test the chaos harness apart from the reference service: a harness bug then shows up
// as a harness failure, not as a service one. It serves database data only (no cache
// enrichment, no background refresh); POST refresh calls MAX synchronously.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
)

const schema = `CREATE TABLE IF NOT EXISTS chats (
	id bigserial PRIMARY KEY,
	name text NOT NULL,
	max_chat_id bigint UNIQUE,
	participants_count int NOT NULL DEFAULT 0,
	participants_updated_at timestamptz
)`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	if err != nil {
		_, _ = fmt.Fprintln(os.Stderr, "stubsut:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// One plain line, so the harness's handling of non-JSON output is exercised.
	_, _ = fmt.Fprintln(stderr, "stubsut starting")
	db, err := pgxpool.New(ctx, getenv("DATABASE_URL"))
	if err != nil {
		return fmt.Errorf("database: %w", err)
	}
	defer db.Close()
	migrateCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := db.Exec(migrateCtx, schema); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if len(args) > 0 && args[0] == "migrate" {
		log.Info("Migrations applied")
		return nil
	}
	ropt, err := redis.ParseURL(getenv("REDIS_URL"))
	if err != nil {
		return fmt.Errorf("redis url: %w", err)
	}
	ropt.DialTimeout, ropt.ReadTimeout, ropt.WriteTimeout, ropt.MaxRetries = 200*time.Millisecond, 200*time.Millisecond, 200*time.Millisecond, -1
	rdb := redis.NewClient(ropt)
	defer func() { _ = rdb.Close() }()

	reg := prometheus.NewRegistry()
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total", Help: "HTTP requests."}, []string{"method", "route", "status"})
	maxErrors := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "participants_max_api_errors_total", Help: "MAX errors."}, []string{"reason"})
	reg.MustRegister(requests, maxErrors)

	s := &stub{db: db, rdb: rdb, log: log, maxURL: getenv("MAX_API_URL"), token: getenv("MAX_API_TOKEN"), maxErrors: maxErrors,
		http: &http.Client{Timeout: 2 * time.Second}}
	mux := http.NewServeMux()
	route := func(pattern string, h http.HandlerFunc) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			rec := &statusRecorder{ResponseWriter: w, status: 200}
			start := time.Now()
			h(rec, r)
			requests.WithLabelValues(r.Method, r.Pattern, strconv.Itoa(rec.status)).Inc()
			log.InfoContext(r.Context(), "HTTP request", "method", r.Method, "route", r.Pattern, "path", r.URL.Path,
				"status", rec.status, "duration_ms", time.Since(start).Milliseconds())
		})
	}
	route("GET /livez", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	route("GET /readyz", s.readyz)
	route("GET /health/detailed", s.health)
	route("GET /chats/all", s.list)
	route("GET /chats/{id}", s.get)
	route("POST /chats/{id}/participants/refresh", s.refresh)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	srv := &http.Server{Addr: getenv("HTTP_ADDR"), Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("Server started", "addr", srv.Addr)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	log.Info("Server stopped")
	return nil
}

type stub struct {
	db        *pgxpool.Pool
	rdb       *redis.Client
	log       *slog.Logger
	maxURL    string
	token     string
	maxErrors *prometheus.CounterVec
	http      *http.Client
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }

type chatJSON struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	MaxChatID *int64     `json:"max_chat_id"`
	Count     int        `json:"participants_count"`
	Source    string     `json:"participants_source"`
	UpdatedAt *time.Time `json:"participants_updated_at,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func (s *stub) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	return s.db.Ping(ctx)
}

func (s *stub) readyz(w http.ResponseWriter, r *http.Request) {
	if err := s.ping(r.Context()); err != nil {
		http.Error(w, "database unavailable", http.StatusServiceUnavailable)
		return
	}
	_, _ = io.WriteString(w, "ready")
}

func (s *stub) health(w http.ResponseWriter, r *http.Request) {
	deps := map[string]string{"database": "healthy", "redis": "healthy", "max_api": "unknown"}
	status, code := "healthy", http.StatusOK
	if err := s.ping(r.Context()); err != nil {
		deps["database"], status, code = "unhealthy", "unhealthy", http.StatusServiceUnavailable
	}
	ctx, cancel := context.WithTimeout(r.Context(), 200*time.Millisecond)
	defer cancel()
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		deps["redis"] = "unhealthy"
		if status == "healthy" {
			status = "degraded"
		}
	}
	writeJSON(w, code, map[string]any{"service": status, "timestamp": time.Now().UTC(), "dependencies": deps})
}

const selectChats = `SELECT id, name, max_chat_id, participants_count, participants_updated_at FROM chats`

func scanChat(row pgx.CollectableRow) (chatJSON, error) {
	var c chatJSON
	err := row.Scan(&c.ID, &c.Name, &c.MaxChatID, &c.Count, &c.UpdatedAt)
	c.Source = "database"
	return c, err
}

func (s *stub) list(w http.ResponseWriter, r *http.Request) {
	limit, offset := 1000, 0
	for k, v := range r.URL.Query() {
		n, err := strconv.Atoi(v[0])
		switch {
		case len(v) != 1 || err != nil:
			writeError(w, 400, "invalid_parameter", "bad "+k)
			return
		case k == "limit" && n >= 1 && n <= 1000:
			limit = n
		case k == "offset" && n >= 0:
			offset = n
		default:
			writeError(w, 400, "invalid_parameter", "bad "+k)
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	rows, err := s.db.Query(ctx, selectChats+` ORDER BY id LIMIT $1 OFFSET $2`, limit, offset)
	if err != nil {
		writeError(w, 503, "database_unavailable", "database unavailable")
		return
	}
	chats, err := pgx.CollectRows(rows, scanChat)
	if err != nil {
		writeError(w, 503, "database_unavailable", "database unavailable")
		return
	}
	if chats == nil {
		chats = []chatJSON{}
	}
	writeJSON(w, 200, map[string]any{"chats": chats})
}

func (s *stub) load(w http.ResponseWriter, r *http.Request) (chatJSON, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, 400, "invalid_parameter", "bad id")
		return chatJSON{}, false
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	rows, err := s.db.Query(ctx, selectChats+` WHERE id = $1`, id)
	if err != nil {
		writeError(w, 503, "database_unavailable", "database unavailable")
		return chatJSON{}, false
	}
	c, err := pgx.CollectExactlyOneRow(rows, scanChat)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		writeError(w, 404, "not_found", "no such chat")
		return chatJSON{}, false
	case err != nil:
		writeError(w, 503, "database_unavailable", "database unavailable")
		return chatJSON{}, false
	}
	return c, true
}

func (s *stub) get(w http.ResponseWriter, r *http.Request) {
	if c, ok := s.load(w, r); ok {
		writeJSON(w, 200, c)
	}
}

func (s *stub) refresh(w http.ResponseWriter, r *http.Request) {
	c, ok := s.load(w, r)
	if !ok {
		return
	}
	if c.MaxChatID == nil {
		writeError(w, 409, "conflict", "chat not linked")
		return
	}
	count, reason, err := s.fetch(r.Context(), *c.MaxChatID)
	if err != nil {
		s.maxErrors.WithLabelValues(reason).Inc()
		s.log.ErrorContext(r.Context(), "MAX API call failed", "chat_id", c.ID, "max_chat_id", *c.MaxChatID, "reason", reason, "error", err.Error())
		s.log.WarnContext(r.Context(), "Using fallback data source", "reason", "max_api_unavailable", "chat_count", 1, "fallback_source", "database")
		writeJSON(w, 200, c)
		return
	}
	now := time.Now().UTC()
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	if _, err := s.db.Exec(ctx, `UPDATE chats SET participants_count = $2, participants_updated_at = $3 WHERE id = $1`, c.ID, count, now); err != nil {
		writeError(w, 503, "database_unavailable", "database unavailable")
		return
	}
	v, _ := json.Marshal(map[string]any{"count": count, "updated_at": now.Format(time.RFC3339Nano)})
	if err := s.rdb.Set(ctx, "participants:"+strconv.FormatInt(c.ID, 10), v, 24*time.Hour).Err(); err != nil {
		s.log.WarnContext(ctx, "Cache operation failed", "operation", "set", "error", err.Error())
	}
	c.Count, c.Source, c.UpdatedAt = count, "api", &now
	writeJSON(w, 200, c)
}

func (s *stub) fetch(ctx context.Context, maxChatID int64) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.maxURL+"/chats/"+strconv.FormatInt(maxChatID, 10), nil)
	if err != nil {
		return 0, "connection", err
	}
	req.Header.Set("Authorization", s.token)
	resp, err := s.http.Do(req)
	if err != nil {
		return 0, "connection", err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return 0, "server_error", fmt.Errorf("status %d", resp.StatusCode)
	}
	var body struct {
		Count *int `json:"participants_count"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Count == nil {
		return 0, "malformed", fmt.Errorf("decode: %v", err)
	}
	return *body.Count, "", nil
}
