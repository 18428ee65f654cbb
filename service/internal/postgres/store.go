// Package postgres is the service's PostgreSQL store: the chats table, read and updated
// through a pgx connection pool, behind a circuit breaker, with the schema applied by
// embedded migrations.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sony/gobreaker/v2"

	"github.com/faultline/faultline/service/internal/chat"
	"github.com/faultline/faultline/service/internal/metrics"
)

// Operation labels of database_query_duration_seconds and database_errors_total.
const (
	OpListChats          = "list_chats"
	OpGetChat            = "get_chat"
	OpUpdateParticipants = "update_participants"
	OpPing               = "ping"
)

// What clients are told when the database cannot serve their request: it cannot be
// reached, every pooled connection stayed busy for the whole deadline, or the statement
// ran into the service's own statement timeout. All three are 503 database_unavailable;
// only the first says anything about the database's availability.
const (
	unavailableMessage = "database unavailable"
	busyMessage        = "database busy: no connection free in time"
	tooSlowMessage     = "database query timed out"
)

// DefaultMaxConns is the pool size when Options.MaxConns is zero.
const DefaultMaxConns = 10

// Options configure a Store.
type Options struct {
	// Timeout bounds every call, including waiting for and opening a connection.
	Timeout time.Duration
	// BreakerFailures consecutive unavailability errors open the breaker; it lets a probe
	// through after BreakerCooldown.
	BreakerFailures int
	BreakerCooldown time.Duration
	// ClockSkewMax is how far ahead of a write's observation time a stored one may lie and
	// still be kept as newer; one further ahead was written by a replica whose clock runs
	// ahead, and is overwritten.
	ClockSkewMax time.Duration
	// MaxConns is the pool size (DATABASE_MAX_CONNS); DefaultMaxConns if zero. A call that
	// finds every connection busy until its deadline fails with ErrPoolExhausted.
	MaxConns int32
	// MinConns connections are kept open (at most MaxConns), so a call rarely waits for a
	// connection to be opened; Warm opens them at start.
	MinConns int32
	Logger   *slog.Logger
	Metrics  *metrics.Metrics
}

// Store reads and writes chats. Its methods are safe for concurrent use.
type Store struct {
	pool    *pgxpool.Pool
	timeout time.Duration
	skew    time.Duration
	breaker *gobreaker.CircuitBreaker[struct{}]
	secrets []string
	log     *slog.Logger
	m       *metrics.Metrics

	// busy counts the connections held by calls, to tell a pool saturated by our own
	// work from one whose connections are stuck on an unresponsive database.
	busy atomic.Int64
	// failures counts what database_errors_total counts, for Failures.
	failures atomic.Uint64
}

// Open creates a Store for dsn. It does not connect: connections are made on demand, so
// chatd starts, and recovers, whatever the database's state.
func Open(dsn string, opts Options) (*Store, error) {
	if opts.Timeout <= 0 {
		return nil, errors.New("open postgres store: timeout must be positive")
	}
	if opts.BreakerFailures <= 0 || opts.BreakerCooldown <= 0 {
		return nil, errors.New("open postgres store: breaker failures and cooldown must be positive")
	}
	secrets := dsnSecrets(dsn)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: parse database url: %w", redact(err, secrets))
	}
	cfg.ConnConfig.ConnectTimeout = opts.Timeout
	// The server gives up on a statement the client has given up on, instead of running
	// it to completion for nobody.
	cfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(opts.Timeout.Milliseconds()+1, 10)
	cfg.MaxConns = opts.MaxConns
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	cfg.MinConns = min(max(opts.MinConns, 0), cfg.MaxConns)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", redact(err, secrets))
	}
	s := &Store{pool: pool, timeout: opts.Timeout, skew: max(opts.ClockSkewMax, 0), secrets: secrets, log: opts.Logger, m: opts.Metrics}
	failures := uint32(opts.BreakerFailures) //nolint:gosec // config bounds it to int32
	s.breaker = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        metrics.DepDatabase,
		MaxRequests: 1,
		Timeout:     opts.BreakerCooldown,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
		// Only unavailability counts against the database: a missing row or a rejected
		// statement is an answer.
		IsSuccessful: func(err error) bool { return err == nil || !unavailable(err) },
		IsExcluded:   notAVerdict,
		OnStateChange: func(_ string, from, to gobreaker.State) {
			s.m.BreakerState.WithLabelValues(metrics.DepDatabase).Set(float64(to))
			s.log.WarnContext(context.Background(), "Circuit breaker state changed",
				"dependency", metrics.DepDatabase, "from", from.String(), "to", to.String())
		},
	})
	s.m.BreakerState.WithLabelValues(metrics.DepDatabase).Set(metrics.BreakerClosed)
	return s, nil
}

// warmPoll is how often Warm looks at the pool while its connections are being opened.
const warmPoll = 10 * time.Millisecond

// Warm opens the pool's MinConns connections and waits until they are open, or until ctx
// ends, and returns how many are open. Opening a connection costs far more than a query
// (a backend process started, a password exchange: tens of milliseconds on an idle host,
// hundreds on a saturated one, beyond the call deadline), so a service that serves before
// its pool is warm makes its first requests pay for it. The pool starts opening them when
// the store is opened; a connection that failed to open (each is bounded by the store's
// timeout) is opened again here while ctx lasts.
func (s *Store) Warm(ctx context.Context) int {
	want := s.pool.Config().MinConns
	t := time.NewTicker(warmPoll)
	defer t.Stop()
	// The pool's own attempt, started when the store was opened, is given a timeout
	// before Warm opens connections itself.
	tried := time.Now()
	for {
		open, opening := s.openConns()
		if open >= want {
			return int(open)
		}
		if opening == 0 && time.Since(tried) >= s.timeout {
			// Nothing is being opened (an attempt failed): open them now, all at once as
			// the pool does, at most once a timeout.
			tried = time.Now()
			s.open(ctx, int(want))
		}
		select {
		case <-ctx.Done():
			open, _ := s.openConns()
			return int(open)
		case <-t.C:
		}
	}
}

// openConns is the number of the pool's connections that are open, and of those being
// opened.
func (s *Store) openConns() (open, opening int32) {
	st := s.pool.Stat()
	return st.TotalConns() - st.ConstructingConns(), st.ConstructingConns()
}

// open holds n connections at once, opening those the pool lacks, and leaves them idle in
// the pool; failures are left to the caller's next look at the pool.
func (s *Store) open(ctx context.Context, n int) {
	conns := make(chan *pgxpool.Conn, n)
	for range n {
		go func() {
			conn, err := s.pool.Acquire(ctx)
			if err != nil {
				conn = nil
			}
			conns <- conn
		}()
	}
	// Every connection is held until all were asked for, so that each acquisition opens
	// a connection of its own instead of reusing one just released.
	held := make([]*pgxpool.Conn, 0, n)
	for range n {
		if c := <-conns; c != nil {
			held = append(held, c)
		}
	}
	for _, c := range held {
		c.Release()
	}
}

// Close closes the pool's connections. It waits at most the store's timeout: after a
// query timed out, pgx cancels it on a fresh connection and the pool waits for that, for
// up to 15s against a hung database; a shutting-down process need not.
func (s *Store) Close() {
	done := make(chan struct{})
	go func() {
		s.pool.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(s.timeout):
		s.log.WarnContext(context.Background(), "Database connections still closing; not waiting for them")
	}
}

// failed counts a failed operation op.
func (s *Store) failed(op string) {
	s.m.DatabaseErrors.WithLabelValues(op).Inc()
	s.failures.Add(1)
}

// Failures is the number of failed operations so far, pings and refusals by the open
// breaker included: the failures callers saw.
func (s *Store) Failures() uint64 { return s.failures.Load() }

// errCallerGone marks a failure caused by the caller's own context ending (the client went
// away, or shutdown): it says nothing about the database.
var errCallerGone = errors.New("caller's context ended")

// ErrPoolExhausted marks a call that found every pooled connection busy with other calls
// until its deadline (DATABASE_MAX_CONNS in use). It is the service's own saturation, not
// the database's unavailability.
var ErrPoolExhausted = errors.New("no pooled database connection free before the deadline")

// sqlstateQueryCanceled is what PostgreSQL answers when statement_timeout cancels a
// statement (and when a client's cancel request does).
const sqlstateQueryCanceled = "57014"

// statementTimedOut reports whether the server cancelled the statement at the session's
// statement_timeout, which the store sets itself.
func statementTimedOut(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == sqlstateQueryCanceled
}

// notAVerdict picks the failures the breaker neither counts nor forgives: the caller
// giving up, the pool being saturated by our own calls, and our own statement timeout.
// None of them shows whether the database can be reached, so none may open the breaker
// and refuse every request.
func notAVerdict(err error) bool {
	return errors.Is(err, errCallerGone) || errors.Is(err, ErrPoolExhausted) || statementTimedOut(err)
}

// unavailable reports whether err means the database cannot serve us: it could not be
// reached, did not answer in time, or refused for its own reasons (shutting down, out of
// connections). A statement the server rejected is not unavailability.
func unavailable(err error) bool {
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "08") || // connection exception
			strings.HasPrefix(pgErr.Code, "53") || // insufficient resources
			strings.HasPrefix(pgErr.Code, "57P") // shutting down, cannot connect now
	}
	return !errors.Is(err, pgx.ErrNoRows) && !errors.Is(err, ErrPoolExhausted)
}

// acquire takes a pooled connection for one call. A wait that ends at the deadline while
// every connection is held by another call of this store means the pool is saturated by
// our own work: ErrPoolExhausted. Any other failure to get a connection (connecting
// failed or timed out, or the pool is full of connections still being torn down after
// the database stopped answering) is the database's.
func (s *Store) acquire(ctx context.Context) (*pgxpool.Conn, error) {
	conn, err := s.pool.Acquire(ctx)
	if err == nil {
		return conn, nil
	}
	var connectErr *pgconn.ConnectError
	if busy := s.busy.Load(); errors.Is(err, context.DeadlineExceeded) && !errors.As(err, &connectErr) &&
		busy >= int64(s.pool.Config().MaxConns) {
		return nil, fmt.Errorf("%w (%d connections in use): %w", ErrPoolExhausted, busy, err)
	}
	return nil, err
}

// call runs fn on a pooled connection through the breaker under the store's timeout,
// records its metrics and turns its error into what callers decide on: *chat.Error
// database_unavailable when the database is unreachable or short-circuited, when no
// pooled connection was free in time, or when the statement hit the statement timeout.
func (s *Store) call(ctx context.Context, op string, fn func(ctx context.Context, conn *pgxpool.Conn) error) error {
	start := time.Now()
	_, err := s.breaker.Execute(func() (struct{}, error) {
		callCtx, cancel := context.WithTimeout(ctx, s.timeout)
		defer cancel()
		err := s.withConn(callCtx, fn)
		if err != nil && ctx.Err() != nil {
			return struct{}{}, fmt.Errorf("%w: %w", errCallerGone, err)
		}
		return struct{}{}, err
	})
	s.m.DatabaseDuration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errCallerGone), errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%s: %w", op, redact(err, s.secrets))
	case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
		s.failed(op)
		return chat.Wrap(fmt.Errorf("%s: %w: %w", op, chat.ErrShortCircuited, err), chat.EDATABASEUNAVAILABLE, unavailableMessage)
	case errors.Is(err, ErrPoolExhausted):
		s.failed(op)
		return chat.Wrap(fmt.Errorf("%s: %w", op, redact(err, s.secrets)), chat.EDATABASEUNAVAILABLE, busyMessage)
	case statementTimedOut(err):
		s.failed(op)
		return chat.Wrap(fmt.Errorf("%s: %w", op, redact(err, s.secrets)), chat.EDATABASEUNAVAILABLE, tooSlowMessage)
	case unavailable(err):
		s.failed(op)
		return chat.Wrap(fmt.Errorf("%s: %w", op, redact(err, s.secrets)), chat.EDATABASEUNAVAILABLE, unavailableMessage)
	default:
		s.failed(op)
		return fmt.Errorf("%s: %w", op, redact(err, s.secrets))
	}
}

// withConn runs fn on a connection acquired for it, and returns the connection to the pool.
func (s *Store) withConn(ctx context.Context, fn func(ctx context.Context, conn *pgxpool.Conn) error) error {
	conn, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	s.busy.Add(1)
	defer func() {
		s.busy.Add(-1)
		conn.Release()
	}()
	return fn(ctx, conn)
}

const chatColumns = `id, name, max_chat_id, participants_count, participants_updated_at`

func scanChat(row pgx.Row) (chat.Chat, error) {
	var (
		c         chat.Chat
		maxChatID *int64
		updatedAt *time.Time
	)
	if err := row.Scan(&c.ID, &c.Name, &maxChatID, &c.Participants.Count, &updatedAt); err != nil {
		return chat.Chat{}, err
	}
	if maxChatID != nil {
		c.MaxChatID = *maxChatID
	}
	if updatedAt != nil {
		c.Participants.UpdatedAt = updatedAt.UTC()
	}
	c.Participants.Source = chat.SourceDatabase
	return c, nil
}

// ListChats returns a page of chats in id order, with the participant counts stored in
// the table (source database). A limit outside 1..chat.MaxLimit means chat.DefaultLimit.
func (s *Store) ListChats(ctx context.Context, page chat.Page) ([]chat.Chat, error) {
	limit, offset := page.Limit, max(page.Offset, 0)
	if limit <= 0 || limit > chat.MaxLimit {
		limit = chat.DefaultLimit
	}
	var chats []chat.Chat
	err := s.call(ctx, OpListChats, func(ctx context.Context, conn *pgxpool.Conn) error {
		rows, err := conn.Query(ctx, `SELECT `+chatColumns+` FROM chats ORDER BY id LIMIT $1 OFFSET $2`, limit, offset)
		if err != nil {
			return err
		}
		chats, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (chat.Chat, error) { return scanChat(row) })
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list chats: %w", err)
	}
	return chats, nil
}

// GetChat returns one chat with its stored participant count, or a *chat.Error not_found.
func (s *Store) GetChat(ctx context.Context, id int64) (chat.Chat, error) {
	var c chat.Chat
	err := s.call(ctx, OpGetChat, func(ctx context.Context, conn *pgxpool.Conn) error {
		var err error
		c, err = scanChat(conn.QueryRow(ctx, `SELECT `+chatColumns+` FROM chats WHERE id = $1`, id))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return chat.Chat{}, chat.Errorf(chat.ENOTFOUND, "chat %d not found", id)
	}
	if err != nil {
		return chat.Chat{}, fmt.Errorf("get chat %d: %w", id, err)
	}
	return c, nil
}

// updateIfNewer writes the count only when it is newer than the stored one, and reports
// whether the chat exists, in one statement so that concurrent refreshes cannot overwrite
// a newer count with an older one. A stored time later than $4 (the write's time plus the
// clock skew allowance) is not trusted as newer: a replica with a clock ahead wrote it.
const updateIfNewer = `
WITH target AS (
    SELECT id FROM chats WHERE id = $1
), updated AS (
    UPDATE chats
       SET participants_count = $2, participants_updated_at = $3
     WHERE id = $1
       AND (participants_updated_at IS NULL OR participants_updated_at < $3 OR participants_updated_at > $4)
    RETURNING id
)
SELECT EXISTS (SELECT 1 FROM target), EXISTS (SELECT 1 FROM updated)`

// UpdateParticipants stores a count observed at p.UpdatedAt, unless the stored count is
// as new or newer (and not from beyond the clock skew allowance): then it changes nothing
// and returns nil. A missing chat is a
// *chat.Error not_found. Times are stored with microsecond precision, PostgreSQL's.
func (s *Store) UpdateParticipants(ctx context.Context, id int64, p chat.Participants) error {
	if !p.Known() {
		return chat.Errorf(chat.EINVALID, "participants of chat %d have no observation time", id)
	}
	at := p.UpdatedAt.UTC().Truncate(time.Microsecond)
	var exists, updated bool
	err := s.call(ctx, OpUpdateParticipants, func(ctx context.Context, conn *pgxpool.Conn) error {
		return conn.QueryRow(ctx, updateIfNewer, id, p.Count, at, at.Add(s.skew)).Scan(&exists, &updated)
	})
	if err != nil {
		return fmt.Errorf("update participants of chat %d: %w", id, err)
	}
	if !exists {
		return chat.Errorf(chat.ENOTFOUND, "chat %d not found", id)
	}
	if !updated {
		s.log.DebugContext(ctx, "Participants not stored: the database has newer data", "chat_id", id)
	}
	return nil
}

// Ping checks that the database answers, within the store's timeout. It bypasses the
// breaker, so health checks report the database's real state even while requests are
// short-circuited.
func (s *Store) Ping(ctx context.Context) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	acquired := time.Duration(-1)
	err := s.withConn(ctx, func(ctx context.Context, conn *pgxpool.Conn) error {
		acquired = time.Since(start)
		return conn.Ping(ctx)
	})
	s.m.DatabaseDuration.WithLabelValues(OpPing).Observe(time.Since(start).Seconds())
	if err != nil {
		s.failed(OpPing)
		return chat.Wrap(fmt.Errorf("ping: %s: %w", s.pingStage(acquired), redact(err, s.secrets)), chat.EDATABASEUNAVAILABLE, unavailableMessage)
	}
	return nil
}

// pingStage says where a failed ping spent its time, for the health check's log: waiting
// for a pooled connection (opening one, or all in use), or for the answer on one it had.
func (s *Store) pingStage(acquired time.Duration) string {
	if acquired < 0 {
		st := s.pool.Stat()
		return fmt.Sprintf("no connection (pool: %d of %d open, %d in use, %d being opened)",
			st.TotalConns(), st.MaxConns(), st.AcquiredConns(), st.ConstructingConns())
	}
	return fmt.Sprintf("no answer on a connection acquired after %dms", acquired.Milliseconds())
}
