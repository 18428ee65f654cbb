package postgres

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/faultline/faultline/service/internal/chat"
	"github.com/faultline/faultline/service/internal/logcapture"
	"github.com/faultline/faultline/service/internal/metrics"
	"github.com/faultline/faultline/service/internal/testdb"
)

// password is put in every test DSN; the server trusts loopback and ignores it, so tests
// can check that no error repeats it.
const password = "s3cret-Pa55word"

type env struct {
	dsn   string
	store *Store
	m     *metrics.Metrics
	logs  *logcapture.Buffer
}

func newLogger(buf *logcapture.Buffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newEnv creates a migrated database and a store on it, reached at addr when addr is not
// empty (a proxy), directly otherwise.
func newEnv(t *testing.T, addr string, opts Options) *env {
	t.Helper()
	dsn := server.NewDatabase(t, password)
	logs := &logcapture.Buffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := Migrate(ctx, dsn, newLogger(logs)); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	storeDSN := dsn
	if addr != "" {
		storeDSN = testdb.URLVia(dsn, addr)
	}
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.BreakerFailures == 0 {
		opts.BreakerFailures = 5
	}
	if opts.BreakerCooldown == 0 {
		opts.BreakerCooldown = time.Second
	}
	if opts.ClockSkewMax == 0 {
		// Tests seed newer observations up to minutes ahead of the writes they race.
		opts.ClockSkewMax = time.Hour
	}
	m := metrics.New(prometheus.NewRegistry())
	opts.Metrics = m
	opts.Logger = newLogger(logs)
	s, err := Open(storeDSN, opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(s.Close)
	return &env{dsn: dsn, store: s, m: m, logs: logs}
}

// exec runs SQL on the test database directly, bypassing the store.
func (e *env) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("exec %q: %v", sql, err)
	}
}

func (e *env) row(t *testing.T, id int64) (int, *time.Time) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var count int
	var at *time.Time
	if err := conn.QueryRow(ctx, `SELECT participants_count, participants_updated_at FROM chats WHERE id = $1`, id).Scan(&count, &at); err != nil {
		t.Fatalf("read chat %d: %v", id, err)
	}
	return count, at
}

var t0 = time.Date(2026, 6, 1, 10, 0, 0, 123456000, time.UTC)

func (e *env) seed(t *testing.T) {
	t.Helper()
	// Inserted out of id order, to show that the order comes from the query.
	e.exec(t, `INSERT INTO chats (id, name, max_chat_id, participants_count, participants_updated_at) VALUES
		(5, 'five', -500, 50, $1),
		(1, 'one', -100, 10, $1),
		(3, 'three', NULL, 0, NULL),
		(2, 'two', -200, 20, $2),
		(4, 'four', -400, 40, NULL)`, t0, t0.Add(-time.Hour))
}

func ids(chats []chat.Chat) []int64 {
	out := make([]int64, 0, len(chats))
	for _, c := range chats {
		out = append(out, c.ID)
	}
	return out
}

func TestMigrateIsIdempotentAndConcurrencySafe(t *testing.T) {
	dsn := server.NewDatabase(t, password)
	logs := &logcapture.Buffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// Two migrations of a fresh database at once: the advisory lock serialises them.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() { errs[i] = Migrate(ctx, dsn, newLogger(logs)) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent migrate %d: %v", i, err)
		}
	}
	if err := Migrate(ctx, dsn, newLogger(logs)); err != nil {
		t.Fatalf("third migrate: %v", err)
	}
	if n := strings.Count(logs.String(), `"msg":"Migration applied"`); n != 1 {
		t.Errorf("migration applied %d times, want once:\n%s", n, logs)
	}

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT column_name, data_type, is_nullable FROM information_schema.columns
		WHERE table_name = 'chats' ORDER BY ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var name, typ, nullable string
		if err := rows.Scan(&name, &typ, &nullable); err != nil {
			t.Fatal(err)
		}
		got = append(got, name+" "+typ+" "+nullable)
	}
	want := []string{
		"id bigint NO",
		"name text NO",
		"max_chat_id bigint YES",
		"participants_count integer NO",
		"participants_updated_at timestamp with time zone YES",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("chats columns:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The contract's defaults and constraints.
	if _, err := conn.Exec(ctx, `INSERT INTO chats (name, max_chat_id) VALUES ('a', -1)`); err != nil {
		t.Fatalf("insert with defaults: %v", err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO chats (name, max_chat_id) VALUES ('b', -1)`); err == nil {
		t.Error("a duplicate max_chat_id was accepted")
	}
}

func TestMigrateToleratesAnExistingTable(t *testing.T) {
	dsn := server.NewDatabase(t, password)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE chats (id bigserial PRIMARY KEY, name text NOT NULL,
		max_chat_id bigint UNIQUE, participants_count int NOT NULL DEFAULT 0, participants_updated_at timestamptz)`); err != nil {
		t.Fatal(err)
	}
	if err := Migrate(ctx, dsn, newLogger(&logcapture.Buffer{})); err != nil {
		t.Fatalf("migrate over a harness-created table: %v", err)
	}
}

func TestListChats(t *testing.T) {
	e := newEnv(t, "", Options{})
	e.seed(t)
	ctx := context.Background()

	all, err := e.store.ListChats(ctx, chat.Page{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(all); !equal(got, []int64{1, 2, 3, 4, 5}) {
		t.Fatalf("ids %v, want 1..5 in order", got)
	}
	one := all[0]
	if one.Name != "one" || one.MaxChatID != -100 || one.Participants.Count != 10 ||
		!one.Participants.UpdatedAt.Equal(t0) || one.Participants.Source != chat.SourceDatabase {
		t.Errorf("chat 1 = %+v", one)
	}
	if one.Participants.UpdatedAt.Location() != time.UTC {
		t.Errorf("updated_at in %s, want UTC", one.Participants.UpdatedAt.Location())
	}
	three := all[2]
	if three.Linked() || three.Participants.Known() || three.Participants.Source != chat.SourceDatabase {
		t.Errorf("chat 3 (unlinked, never counted) = %+v", three)
	}

	pages := []struct {
		page chat.Page
		want []int64
	}{
		{chat.Page{Limit: 2}, []int64{1, 2}},
		{chat.Page{Limit: 2, Offset: 1}, []int64{2, 3}},
		{chat.Page{Limit: 2, Offset: 4}, []int64{5}},
		{chat.Page{Limit: 10, Offset: 5}, []int64{}},
		{chat.Page{Limit: 0}, []int64{1, 2, 3, 4, 5}},
		{chat.Page{Limit: 1, Offset: -3}, []int64{1}},
	}
	for _, p := range pages {
		got, err := e.store.ListChats(ctx, p.page)
		if err != nil {
			t.Fatalf("%+v: %v", p.page, err)
		}
		if !equal(ids(got), p.want) {
			t.Errorf("page %+v: ids %v, want %v", p.page, ids(got), p.want)
		}
	}
	if n := testutil.CollectAndCount(e.m.DatabaseDuration); n != 1 {
		t.Errorf("database_query_duration_seconds has %d series, want 1 (list_chats)", n)
	}
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestGetChat(t *testing.T) {
	e := newEnv(t, "", Options{BreakerFailures: 1})
	e.seed(t)
	ctx := context.Background()
	c, err := e.store.GetChat(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != 2 || c.Name != "two" || c.MaxChatID != -200 || c.Participants.Count != 20 {
		t.Errorf("chat 2 = %+v", c)
	}
	// Missing chats are answers, not failures: even a breaker that opens on the first
	// failure stays closed.
	for range 3 {
		_, err = e.store.GetChat(ctx, 99)
		if code := chat.ErrorCode(err); code != chat.ENOTFOUND {
			t.Fatalf("missing chat: code %q (%v), want not_found", code, err)
		}
	}
	if got := testutil.ToFloat64(e.m.BreakerState.WithLabelValues(metrics.DepDatabase)); got != metrics.BreakerClosed {
		t.Errorf("breaker state %v after not-found answers, want closed", got)
	}
	if got := testutil.ToFloat64(e.m.DatabaseErrors.WithLabelValues(OpGetChat)); got != 0 {
		t.Errorf("database_errors_total{get_chat} = %v, want 0", got)
	}
}

func TestUpdateParticipantsOnlyIfNewer(t *testing.T) {
	e := newEnv(t, "", Options{})
	e.seed(t)
	ctx := context.Background()
	update := func(id int64, count int, at time.Time) error {
		return e.store.UpdateParticipants(ctx, id, chat.Participants{Count: count, UpdatedAt: at, Source: chat.SourceAPI})
	}
	check := func(id int64, wantCount int, wantAt time.Time) {
		t.Helper()
		count, at := e.row(t, id)
		if count != wantCount || at == nil || !at.Equal(wantAt) {
			t.Errorf("chat %d: count %d at %v, want %d at %v", id, count, at, wantCount, wantAt)
		}
	}

	// Never counted: any observation is newer.
	if err := update(4, 41, t0); err != nil {
		t.Fatal(err)
	}
	check(4, 41, t0)

	// Older and equally old observations change nothing.
	if err := update(1, 9, t0.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := update(1, 11, t0); err != nil {
		t.Fatal(err)
	}
	check(1, 10, t0)

	// A newer one is stored, with PostgreSQL's microsecond precision.
	newer := t0.Add(time.Second + 789)
	if err := update(1, 12, newer); err != nil {
		t.Fatal(err)
	}
	check(1, 12, newer.Truncate(time.Microsecond))
	// The same observation again, nanoseconds and all, is not newer than what was stored.
	if err := update(1, 13, newer); err != nil {
		t.Fatal(err)
	}
	check(1, 12, newer.Truncate(time.Microsecond))

	if err := update(99, 1, t0); chat.ErrorCode(err) != chat.ENOTFOUND {
		t.Errorf("missing chat: %v, want not_found", err)
	}
	if err := update(1, 1, time.Time{}); chat.ErrorCode(err) != chat.EINVALID {
		t.Errorf("no observation time: %v, want invalid_parameter", err)
	}
}

func TestConcurrentUpdatesKeepTheNewest(t *testing.T) {
	e := newEnv(t, "", Options{})
	e.seed(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			at := t0.Add(time.Duration(i) * time.Second)
			if err := e.store.UpdateParticipants(ctx, 3, chat.Participants{Count: 100 + i, UpdatedAt: at}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	count, at := e.row(t, 3)
	if count != 119 || at == nil || !at.Equal(t0.Add(19*time.Second)) {
		t.Errorf("after concurrent updates: count %d at %v, want 119 at %v", count, at, t0.Add(19*time.Second))
	}
}

func TestPing(t *testing.T) {
	e := newEnv(t, "", Options{})
	if err := e.store.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// assertUnavailable checks that err is database_unavailable, hides the password, and
// arrived within limit.
func assertUnavailable(t *testing.T, err error, elapsed, limit time.Duration) {
	t.Helper()
	if code := chat.ErrorCode(err); code != chat.EDATABASEUNAVAILABLE {
		t.Errorf("code %q (%v), want database_unavailable", code, err)
	}
	var ce *chat.Error
	if !errors.As(err, &ce) || ce.Err == nil {
		t.Errorf("error %v does not wrap its cause", err)
	}
	if strings.Contains(err.Error(), password) {
		t.Errorf("error repeats the password: %v", err)
	}
	if elapsed > limit {
		t.Errorf("failed after %s, want within %s", elapsed, limit)
	}
}

func TestDatabaseRefusedIsUnavailableFast(t *testing.T) {
	proxy := testdb.NewProxy(t, server.Addr())
	e := newEnv(t, proxy.Addr(), Options{Timeout: 500 * time.Millisecond})
	e.seed(t)
	ctx := context.Background()
	if _, err := e.store.ListChats(ctx, chat.Page{Limit: 10}); err != nil {
		t.Fatal(err)
	}
	proxy.Refuse()
	for _, call := range []func() error{
		func() error { _, err := e.store.ListChats(ctx, chat.Page{Limit: 10}); return err },
		func() error { _, err := e.store.GetChat(ctx, 1); return err },
		func() error {
			return e.store.UpdateParticipants(ctx, 1, chat.Participants{Count: 1, UpdatedAt: time.Now()})
		},
		func() error { return e.store.Ping(ctx) },
	} {
		start := time.Now()
		err := call()
		// Generous: the deadline is 500ms and a refused connection fails at once.
		assertUnavailable(t, err, time.Since(start), 3*time.Second)
	}
	if got := testutil.ToFloat64(e.m.DatabaseErrors.WithLabelValues(OpListChats)); got != 1 {
		t.Errorf("database_errors_total{list_chats} = %v, want 1", got)
	}
}

func TestDatabaseHangingIsUnavailableWithinTheDeadline(t *testing.T) {
	proxy := testdb.NewProxy(t, server.Addr())
	const timeout = 300 * time.Millisecond
	e := newEnv(t, proxy.Addr(), Options{Timeout: timeout})
	e.seed(t)
	ctx := context.Background()
	if _, err := e.store.GetChat(ctx, 1); err != nil {
		t.Fatal(err)
	}
	proxy.Hang()
	for _, call := range []func() error{
		func() error { _, err := e.store.GetChat(ctx, 1); return err },             // on a pooled connection
		func() error { _, err := e.store.ListChats(ctx, chat.Page{}); return err }, // on a new one
		func() error { return e.store.Ping(ctx) },
	} {
		start := time.Now()
		err := call()
		elapsed := time.Since(start)
		assertUnavailable(t, err, elapsed, timeout+2*time.Second)
		if elapsed < timeout/2 {
			t.Errorf("a hanging database failed after %s: faster than the %s deadline can explain", elapsed, timeout)
		}
	}
}

// A failed ping says where it waited, for the health check's log: for a connection (none
// could be opened), or for the answer on one it had.
func TestFailedPingSaysWhereItWaited(t *testing.T) {
	proxy := testdb.NewProxy(t, server.Addr())
	e := newEnv(t, proxy.Addr(), Options{Timeout: 200 * time.Millisecond})
	ctx := context.Background()
	proxy.Hang()
	if err := e.store.Ping(ctx); err == nil || !strings.Contains(err.Error(), "ping: no connection (pool: ") {
		t.Errorf("ping while no connection opens: %v, want it to say it had no connection", err)
	}
	if err := proxy.Restore(); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	proxy.Hang()
	if err := e.store.Ping(ctx); err == nil || !strings.Contains(err.Error(), "ping: no answer on a connection acquired after ") {
		t.Errorf("ping on a pooled connection that hangs: %v, want it to say it had one", err)
	}
}

func TestBreakerShortCircuitsAndRecovers(t *testing.T) {
	proxy := testdb.NewProxy(t, server.Addr())
	const timeout = 200 * time.Millisecond
	e := newEnv(t, proxy.Addr(), Options{Timeout: timeout, BreakerFailures: 3, BreakerCooldown: 500 * time.Millisecond})
	e.seed(t)
	ctx := context.Background()
	list := func() error { _, err := e.store.ListChats(ctx, chat.Page{Limit: 10}); return err }
	if err := list(); err != nil {
		t.Fatal(err)
	}

	proxy.Hang()
	for i := range 3 {
		if err := list(); chat.ErrorCode(err) != chat.EDATABASEUNAVAILABLE || errors.Is(err, chat.ErrShortCircuited) {
			t.Fatalf("failure %d: %v, want a real database_unavailable", i+1, err)
		}
	}
	if got := testutil.ToFloat64(e.m.BreakerState.WithLabelValues(metrics.DepDatabase)); got != metrics.BreakerOpen {
		t.Fatalf("breaker state %v after 3 failures, want open (2)", got)
	}
	// Open: answers at once, without waiting for the hung database.
	start := time.Now()
	err := list()
	assertUnavailable(t, err, time.Since(start), timeout/2)
	if !errors.Is(err, chat.ErrShortCircuited) {
		t.Errorf("open breaker: %v does not wrap chat.ErrShortCircuited", err)
	}
	if got := testutil.ToFloat64(e.m.DatabaseErrors.WithLabelValues(OpListChats)); got != 4 {
		t.Errorf("database_errors_total{list_chats} = %v, want 4 (refusals count)", got)
	}
	if !strings.Contains(e.logs.String(), `"msg":"Circuit breaker state changed","dependency":"database","from":"closed","to":"open"`) {
		t.Errorf("no breaker transition log:\n%s", e.logs)
	}

	if err := proxy.Restore(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for list() != nil {
		if time.Now().After(deadline) {
			t.Fatal("the store did not recover within 15s of the database coming back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := testutil.ToFloat64(e.m.BreakerState.WithLabelValues(metrics.DepDatabase)); got != metrics.BreakerClosed {
		t.Errorf("breaker state %v after recovery, want closed", got)
	}
}

func TestDatabaseStoppedAndStartedAgain(t *testing.T) {
	if !server.Local() {
		t.Skip("the server is external (" + testdb.EnvDatabaseURL + "); it is not ours to stop")
	}
	const timeout = 500 * time.Millisecond
	e := newEnv(t, "", Options{Timeout: timeout, BreakerFailures: 100})
	e.seed(t)
	ctx := context.Background()
	if _, err := e.store.ListChats(ctx, chat.Page{}); err != nil {
		t.Fatal(err)
	}
	if err := server.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := server.Start(context.Background()); err != nil {
			t.Errorf("start postgres again: %v", err)
		}
	})
	for i := range 3 {
		start := time.Now()
		_, err := e.store.ListChats(ctx, chat.Page{})
		assertUnavailable(t, err, time.Since(start), timeout+2*time.Second)
		if t.Failed() {
			t.Fatalf("call %d", i)
		}
	}
	if err := server.Start(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := e.store.ListChats(ctx, chat.Page{})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery within 15s of the restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestOpenHidesThePassword(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry())
	for _, dsn := range []string{
		"postgres://u:" + password + "@127.0.0.1:notaport/db",
		"postgres://u:" + password + "@127.0.0.1:5432/db?sslmode=bogus",
		"host=127.0.0.1 password=" + password + " sslmode=bogus",
	} {
		_, err := Open(dsn, Options{Timeout: time.Second, BreakerFailures: 1, BreakerCooldown: time.Second,
			Metrics: m, Logger: newLogger(&logcapture.Buffer{})})
		if err == nil {
			t.Errorf("Open accepted a broken DSN")
			continue
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("Open error repeats the password: %v", err)
		}
		if err := Migrate(context.Background(), dsn, newLogger(&logcapture.Buffer{})); err == nil || strings.Contains(err.Error(), password) {
			t.Errorf("Migrate error %v: want an error without the password", err)
		}
	}
}

// requireBreakerClosed fails the test unless the database breaker is closed and a call goes
// through to the database.
func (e *env) requireBreakerClosed(t *testing.T) {
	t.Helper()
	if got := testutil.ToFloat64(e.m.BreakerState.WithLabelValues(metrics.DepDatabase)); got != metrics.BreakerClosed {
		t.Errorf("breaker state %v, want closed (0)", got)
	}
	if _, err := e.store.GetChat(context.Background(), 1); err != nil {
		t.Errorf("GetChat after the failure: %v, want the chat (the breaker must not have opened)", err)
	}
}

func TestPoolExhaustionDoesNotOpenTheBreaker(t *testing.T) {
	const timeout = 300 * time.Millisecond
	// One failure would open the breaker.
	e := newEnv(t, "", Options{Timeout: timeout, BreakerFailures: 1, MaxConns: 2})
	e.seed(t)
	ctx := context.Background()

	// Two calls hold both connections, as slow requests in flight would.
	release := make(chan struct{})
	held := make(chan struct{}, 2)
	var holders sync.WaitGroup
	for range 2 {
		holders.Go(func() {
			err := e.store.withConn(ctx, func(context.Context, *pgxpool.Conn) error {
				held <- struct{}{}
				<-release
				return nil
			})
			if err != nil {
				t.Errorf("holder: %v", err)
			}
		})
	}
	<-held
	<-held

	start := time.Now()
	_, err := e.store.GetChat(ctx, 1)
	elapsed := time.Since(start)
	close(release)
	holders.Wait()

	if chat.ErrorCode(err) != chat.EDATABASEUNAVAILABLE || !errors.Is(err, ErrPoolExhausted) {
		t.Fatalf("GetChat with every connection busy: %v, want database_unavailable wrapping ErrPoolExhausted", err)
	}
	if msg := chat.ErrorMessage(err); msg != busyMessage {
		t.Errorf("message %q, want %q", msg, busyMessage)
	}
	if elapsed < timeout/2 || elapsed > timeout+2*time.Second {
		t.Errorf("GetChat waited %s for a connection, want about the %s deadline", elapsed, timeout)
	}
	if got := testutil.ToFloat64(e.m.DatabaseErrors.WithLabelValues(OpGetChat)); got != 1 {
		t.Errorf("database_errors_total{get_chat} = %v, want 1", got)
	}
	e.requireBreakerClosed(t)
}

func TestStatementTimeoutDoesNotOpenTheBreaker(t *testing.T) {
	e := newEnv(t, "", Options{Timeout: 2 * time.Second, BreakerFailures: 1})
	e.seed(t)
	ctx := context.Background()

	// A statement the server cancels at a statement_timeout shorter than the call's deadline,
	// so the server's 57014 arrives before the client gives up.
	err := e.store.call(ctx, OpListChats, func(ctx context.Context, conn *pgxpool.Conn) error {
		_, err := conn.Exec(ctx, `BEGIN; SET LOCAL statement_timeout = 50; SELECT pg_sleep(5); COMMIT`)
		return err
	})
	if !statementTimedOut(err) {
		t.Fatalf("the statement was not cancelled by the server's statement timeout: %v", err)
	}
	if chat.ErrorCode(err) != chat.EDATABASEUNAVAILABLE {
		t.Errorf("error code %q (%v), want database_unavailable: a timed-out statement is a 503, never a 500", chat.ErrorCode(err), err)
	}
	if msg := chat.ErrorMessage(err); msg != tooSlowMessage {
		t.Errorf("message %q, want %q", msg, tooSlowMessage)
	}
	e.requireBreakerClosed(t)
}

func TestUpdateParticipantsOverwritesATimeBeyondTheClockSkew(t *testing.T) {
	e := newEnv(t, "", Options{ClockSkewMax: 5 * time.Second})
	e.seed(t)
	ctx := context.Background()
	// Chat 1 was written by a replica whose clock ran an hour ahead; chat 5 by one 3s ahead,
	// within the allowance.
	ahead := t0.Add(time.Hour)
	e.exec(t, `UPDATE chats SET participants_count = 99, participants_updated_at = $1 WHERE id = 1`, ahead)
	e.exec(t, `UPDATE chats SET participants_count = 55, participants_updated_at = $1 WHERE id = 5`, t0.Add(3*time.Second))

	for _, id := range []int64{1, 5} {
		if err := e.store.UpdateParticipants(ctx, id, chat.Participants{Count: 7, UpdatedAt: t0, Source: chat.SourceAPI}); err != nil {
			t.Fatal(err)
		}
	}
	if count, at := e.row(t, 1); count != 7 || at == nil || !at.Equal(t0.Truncate(time.Microsecond)) {
		t.Errorf("chat 1: count %d at %v, want the write (7 at %v) over a time an hour ahead", count, at, t0)
	}
	if count, at := e.row(t, 5); count != 55 || at == nil || !at.Equal(t0.Add(3*time.Second).Truncate(time.Microsecond)) {
		t.Errorf("chat 5: count %d at %v, want 55 kept: 3s ahead is within the 5s allowance", count, at)
	}
}

// Warm opens MinConns connections, at most MaxConns, before it returns; calls after it
// take those.
func TestWarmOpensTheMinimumBeforeItReturns(t *testing.T) {
	for _, tc := range []struct {
		name           string
		min, max, want int32
	}{
		{"the minimum", 3, 5, 3},
		{"a minimum above the pool's size is the size", 9, 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "", Options{MinConns: tc.min, MaxConns: tc.max})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if got := e.store.Warm(ctx); got != int(tc.want) {
				t.Fatalf("Warm = %d open connections, want %d", got, tc.want)
			}
			if open, _ := e.store.openConns(); open != tc.want {
				t.Errorf("open connections after Warm: %d, want %d", open, tc.want)
			}
			if err := e.store.Ping(ctx); err != nil {
				t.Fatal(err)
			}
			if got := e.store.pool.Stat().NewConnsCount(); got != int64(tc.want) {
				t.Errorf("connections opened after a ping on the warm pool: %d, want still %d", got, tc.want)
			}
		})
	}
}

// A database that refuses connections at start delays Warm until its context ends, not
// longer; once it accepts again within that time, Warm opens the connections itself (the
// pool's own attempt failed and is not repeated for a minute).
func TestWarmRetriesUntilItsContextEnds(t *testing.T) {
	proxy := testdb.NewProxy(t, server.Addr())
	proxy.Refuse()
	e := newEnv(t, proxy.Addr(), Options{MinConns: 2, Timeout: 200 * time.Millisecond})

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	start := time.Now()
	got := e.store.Warm(ctx)
	cancel()
	if elapsed := time.Since(start); got != 0 || elapsed > 2*time.Second {
		t.Fatalf("Warm against a refusing database: %d open after %s, want 0 soon after its 300ms", got, elapsed)
	}

	if err := proxy.Restore(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if got := e.store.Warm(ctx); got != 2 {
		t.Fatalf("Warm once the database accepts again: %d open, want 2", got)
	}
}
