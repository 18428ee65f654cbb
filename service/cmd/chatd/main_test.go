package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/faultline/faultline/service/internal/logcapture"
	"github.com/faultline/faultline/service/internal/testdb"
)

// The servers every test of this package uses; each test gets its own databases on them.
var (
	pgServer    *testdb.Postgres
	redisServer *testdb.Redis
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	ctx := context.Background()
	var err error
	if pgServer, err = testdb.StartPostgres(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "chatd tests need a PostgreSQL server:", err)
		return 1
	}
	defer pgServer.Close()
	if redisServer, err = testdb.StartRedis(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "chatd tests need a Redis server:", err)
		return 1
	}
	defer redisServer.Close()
	return m.Run()
}

const token = "T0KEN-never-logged" //nolint:gosec // G101: a test token for the stand-in MAX

// fakeMAX is a stand-in for the MAX Bot API: every chat has count participants, and
// chat slowChat answers after delay.
type fakeMAX struct {
	count    atomic.Int64
	slowChat int64
	delay    time.Duration
	calls    atomic.Int64
	// chatCalls counts GET /chats/{id} only: chatd's health probe calls /me by itself.
	chatCalls atomic.Int64
}

func (f *fakeMAX) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	if r.Header.Get("Authorization") != token {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/me" {
		_, _ = io.WriteString(w, `{"user_id":1,"name":"bot","is_bot":true}`)
		return
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(r.URL.Path, "/chats/"), 10, 64)
	if err != nil {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	f.chatCalls.Add(1)
	if id == f.slowChat && f.delay > 0 {
		time.Sleep(f.delay)
	}
	fmt.Fprintf(w, `{"chat_id":%d,"type":"chat","status":"active","participants_count":%d}`, id, f.count.Load())
}

// chatd is one chatd process-in-a-goroutine.
type chatd struct {
	url    string
	logs   *logcapture.Buffer
	cancel context.CancelFunc
	done   chan error
	dsn    string
}

// env is the environment of a test's chatd.
func baseEnv(t *testing.T, dsn, redisURL, maxURL string) map[string]string {
	t.Helper()
	return map[string]string{
		"HTTP_ADDR":                "127.0.0.1:0",
		"DATABASE_URL":             dsn,
		"REDIS_URL":                redisURL,
		"MAX_API_URL":              maxURL,
		"MAX_API_TOKEN":            token,
		"REDIS_TIMEOUT":            "200ms",
		"DATABASE_TIMEOUT":         "2s",
		"MAX_API_TIMEOUT":          "3s",
		"LOG_LEVEL":                "debug",
		"MAX_HEALTH_INTERVAL":      "1s",
		"SHUTDOWN_TIMEOUT":         "10s",
		"PARTICIPANTS_STALE_AFTER": "1h",
	}
}

var startedRE = regexp.MustCompile(`"msg":"Server started","addr":"([^"]+)"`)

// start runs chatd serve with env until the test ends.
func start(t *testing.T, env map[string]string) *chatd {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &chatd{logs: &logcapture.Buffer{}, cancel: cancel, done: make(chan error, 1), dsn: env["DATABASE_URL"]}
	go func() { c.done <- run(ctx, nil, func(k string) string { return env[k] }, c.logs) }()
	t.Cleanup(func() {
		c.cancel()
		select {
		case err := <-c.done:
			if err != nil {
				t.Errorf("chatd: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("chatd did not stop within 30s")
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := startedRE.FindStringSubmatch(c.logs.String()); m != nil {
			c.url = "http://" + m[1]
			return c
		}
		select {
		case err := <-c.done:
			t.Fatalf("chatd exited during start-up: %v\n%s", err, c.logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("chatd did not start within 30s:\n%s", c.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop cancels chatd's context (SIGTERM) and returns run's result.
func (c *chatd) stop(t *testing.T) error {
	t.Helper()
	c.cancel()
	select {
	case err := <-c.done:
		c.done <- err // for the cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("chatd did not stop within 30s")
		return nil
	}
}

type response struct {
	status int
	header http.Header
	body   string
}

func request(t *testing.T, method, url string) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

func seed(t *testing.T, dsn string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO chats (id, name, max_chat_id, participants_count, participants_updated_at) VALUES
		(1, 'linked', -100, 10, now() - interval '10 minutes'),
		(2, 'unlinked', NULL, 3, now() - interval '2 hours')`); err != nil {
		t.Fatal(err)
	}
}

type listBody struct {
	Chats []struct {
		ID     int64  `json:"id"`
		Count  int    `json:"participants_count"`
		Source string `json:"participants_source"`
	} `json:"chats"`
}

func decodeList(t *testing.T, r response) listBody {
	t.Helper()
	var b listBody
	if err := json.Unmarshal([]byte(r.body), &b); err != nil {
		t.Fatalf("list body %q: %v", r.body, err)
	}
	return b
}

func metricValue(t *testing.T, c *chatd, series string) float64 {
	t.Helper()
	r := request(t, http.MethodGet, c.url+"/metrics")
	for _, line := range strings.Split(r.body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("series %s not in /metrics", series)
	return 0
}

func TestRunArguments(t *testing.T) {
	getenv := func(string) string { return "" }
	var out bytes.Buffer
	if err := run(context.Background(), []string{"help"}, getenv, &out); err != nil || !strings.Contains(out.String(), "usage: chatd") {
		t.Errorf("help: %v, %q", err, out.String())
	}
	for _, args := range [][]string{{"bogus"}, {"serve", "extra"}} {
		if err := run(context.Background(), args, getenv, &out); err == nil || !strings.Contains(err.Error(), "usage") {
			t.Errorf("run %v: %v, want a usage error", args, err)
		}
	}
}

func TestRunRejectsBadConfiguration(t *testing.T) {
	env := map[string]string{"DATABASE_URL": "postgres://u:hunter2@127.0.0.1/db", "MAX_API_TOKEN": token, "REDIS_TIMEOUT": "soon"} //nolint:gosec // G101: a fake password, to show errors never repeat it
	err := run(context.Background(), nil, func(k string) string { return env[k] }, io.Discard)
	if err == nil {
		t.Fatal("run accepted a bad configuration")
	}
	for _, want := range []string{"REDIS_URL", "REDIS_TIMEOUT"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), token) {
		t.Errorf("error repeats a secret: %v", err)
	}
}

func TestMigrateCommandIsConcurrencySafe(t *testing.T) {
	dsn := pgServer.NewDatabase(t, "pw")
	env := baseEnv(t, dsn, redisServer.NewDatabase(t), "http://127.0.0.1:1")
	var wg sync.WaitGroup
	errs := make([]error, 3)
	logs := make([]*logcapture.Buffer, 3)
	for i := range errs {
		logs[i] = &logcapture.Buffer{}
		wg.Go(func() {
			errs[i] = run(context.Background(), []string{"migrate"}, func(k string) string { return env[k] }, logs[i])
		})
	}
	wg.Wait()
	applied := 0
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrate %d: %v", i, err)
		}
		applied += strings.Count(logs[i].String(), `"msg":"Migration applied"`)
		logs[i].Records(t)
	}
	if applied != 1 {
		t.Errorf("the migration was applied %d times, want once", applied)
	}
}

func TestServeDegradesWhenRedisDies(t *testing.T) {
	max := &fakeMAX{}
	max.count.Store(42)
	maxSrv := httptest.NewServer(max)
	t.Cleanup(maxSrv.Close)
	redisProxy := testdb.NewProxy(t, redisServer.Addr())
	dsn := pgServer.NewDatabase(t, "pw")
	env := baseEnv(t, dsn, testdb.URLVia(redisServer.NewDatabase(t), redisProxy.Addr()), maxSrv.URL)
	c := start(t, env)
	seed(t, dsn)

	r := request(t, http.MethodGet, c.url+"/chats/all")
	if r.status != http.StatusOK || len(decodeList(t, r).Chats) != 2 {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	for _, path := range []string{"/livez", "/readyz", "/health/detailed"} {
		if r := request(t, http.MethodGet, c.url+path); r.status != http.StatusOK {
			t.Errorf("%s: %d %s", path, r.status, r.body)
		}
	}
	// The unknown cache entry of chat 1 is refreshed in the background into the cache.
	deadline := time.Now().Add(20 * time.Second)
	for {
		b := decodeList(t, request(t, http.MethodGet, c.url+"/chats/all"))
		if b.Chats[0].Source == "cache" && b.Chats[0].Count == 42 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("chat 1 was not refreshed into the cache: %+v\n%s", b, c.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}

	redisProxy.Refuse()
	r = request(t, http.MethodGet, c.url+"/chats/all")
	if r.status != http.StatusOK {
		t.Fatalf("list with Redis dead: %d %s", r.status, r.body)
	}
	for _, ch := range decodeList(t, r).Chats {
		if ch.Source != "database" {
			t.Errorf("chat %d served from %q with Redis dead, want database", ch.ID, ch.Source)
		}
	}
	if v := metricValue(t, c, `participants_fallback_usage_total{reason="cache_unavailable"}`); v < 1 {
		t.Errorf("fallback counter %v, want >= 1", v)
	}
	if v := metricValue(t, c, `participants_cache_errors_total`); v < 1 {
		t.Errorf("cache errors %v, want >= 1", v)
	}
	found := false
	for _, rec := range c.logs.Records(t) {
		if rec["level"] == "WARN" && rec["msg"] == "Using fallback data source" && rec["reason"] == "cache_unavailable" &&
			rec["fallback_source"] == "database" && rec["chat_count"] == 2.0 {
			found = true
		}
	}
	if !found {
		t.Errorf("no WARN fallback log for the dead cache:\n%s", c.logs)
	}
	if r := request(t, http.MethodGet, c.url+"/health/detailed"); r.status != http.StatusOK || !strings.Contains(r.body, `"service":"degraded"`) {
		t.Errorf("health with Redis dead: %d %s", r.status, r.body)
	}
	if strings.Contains(c.logs.String(), token) || strings.Contains(c.logs.String(), ":pw@") {
		t.Error("the logs contain a secret")
	}
}

func TestServeFailPolicyFailsWhenRedisDies(t *testing.T) {
	maxSrv := httptest.NewServer(&fakeMAX{})
	t.Cleanup(maxSrv.Close)
	redisProxy := testdb.NewProxy(t, redisServer.Addr())
	dsn := pgServer.NewDatabase(t, "pw")
	env := baseEnv(t, dsn, testdb.URLVia(redisServer.NewDatabase(t), redisProxy.Addr()), maxSrv.URL)
	env["PARTICIPANTS_CACHE_ERROR_POLICY"] = "fail"
	c := start(t, env)
	seed(t, dsn)
	if r := request(t, http.MethodGet, c.url+"/chats/all"); r.status != http.StatusOK {
		t.Fatalf("list with Redis up: %d %s", r.status, r.body)
	}
	redisProxy.Refuse()
	r := request(t, http.MethodGet, c.url+"/chats/all")
	if r.status != http.StatusInternalServerError || !strings.Contains(r.body, `"code":"cache_unavailable"`) {
		t.Errorf("strict policy with Redis dead: %d %s, want 500 cache_unavailable", r.status, r.body)
	}
}

func TestServeAnswers503WhenTheDatabaseDies(t *testing.T) {
	maxSrv := httptest.NewServer(&fakeMAX{})
	t.Cleanup(maxSrv.Close)
	dbProxy := testdb.NewProxy(t, pgServer.Addr())
	dsn := pgServer.NewDatabase(t, "pw")
	env := baseEnv(t, testdb.URLVia(dsn, dbProxy.Addr()), redisServer.NewDatabase(t), maxSrv.URL)
	env["DATABASE_TIMEOUT"] = "300ms"
	c := start(t, env)
	seed(t, dsn)
	dbProxy.Refuse()
	for _, path := range []string{"/chats/all", "/chats/1"} {
		start := time.Now()
		r := request(t, http.MethodGet, c.url+path)
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" || !strings.Contains(r.body, "database_unavailable") {
			t.Errorf("%s with the database dead: %d %s", path, r.status, r.body)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s took %s with the database dead", path, d)
		}
	}
	if r := request(t, http.MethodGet, c.url+"/readyz"); r.status != http.StatusServiceUnavailable {
		t.Errorf("readyz with the database dead: %d", r.status)
	}
	if r := request(t, http.MethodGet, c.url+"/livez"); r.status != http.StatusOK {
		t.Errorf("livez with the database dead: %d", r.status)
	}
	if err := dbProxy.Restore(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for request(t, http.MethodGet, c.url+"/chats/all").status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("chatd did not recover within 20s of the database coming back")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestShutdownLetsInFlightRequestsFinish(t *testing.T) {
	max := &fakeMAX{slowChat: -100, delay: time.Second}
	max.count.Store(7)
	maxSrv := httptest.NewServer(max)
	t.Cleanup(maxSrv.Close)
	dsn := pgServer.NewDatabase(t, "pw")
	env := baseEnv(t, dsn, redisServer.NewDatabase(t), maxSrv.URL)
	env["PARTICIPANTS_LAZY_UPDATE"] = "false" // no background refresh races the request
	c := start(t, env)
	seed(t, dsn)

	inFlight := make(chan response, 1)
	go func() {
		// Not request(): t.Fatal must not run outside the test's goroutine.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/chats/1/participants/refresh", nil)
		if err != nil {
			inFlight <- response{body: err.Error()}
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			inFlight <- response{body: err.Error()}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			body = []byte(err.Error())
		}
		inFlight <- response{status: resp.StatusCode, header: resp.Header, body: string(body)}
	}()
	// Wait until the refresh is waiting on MAX, then shut down.
	deadline := time.Now().Add(10 * time.Second)
	for max.chatCalls.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the refresh never reached MAX")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := c.stop(t); err != nil {
		t.Errorf("run after shutdown: %v, want nil (exit 0)", err)
	}
	r := <-inFlight
	if r.status != http.StatusOK || !strings.Contains(r.body, `"participants_source":"api"`) || !strings.Contains(r.body, `"participants_count":7`) {
		t.Errorf("in-flight refresh during shutdown: %d %s, want 200 from the api", r.status, r.body)
	}
	if !strings.Contains(c.logs.String(), `"msg":"Server stopped"`) {
		t.Errorf("no Server stopped log:\n%s", c.logs)
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, c.url+"/livez", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Error("chatd still serves after shutdown")
	}
}
