package maxclient

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/faultline/faultline/service/internal/metrics"
)

const testToken = "tok-SECRET-0123456789"

const okChat = `{"chat_id":-100,"type":"chat","status":"active","title":"Team","icon":null,` +
	`"last_event_time":1,"participants_count":42,"is_public":false,"description":null}`

// newServer starts an httptest server for h and closes it when the test ends.
func newServer(t testing.TB, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// newClient returns a client of url with a short timeout, closed when the test ends.
func newClient(t testing.TB, url string, opts ...Option) *Client {
	t.Helper()
	c := New(url, testToken, append([]Option{WithTimeout(300 * time.Millisecond)}, opts...)...)
	t.Cleanup(c.Close)
	return c
}

func reply(status int, body string, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// hijack answers by writing raw bytes on the connection and then closing it, or, with
// reset, by closing it with an RST.
func hijack(raw string, reset bool) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		if raw != "" {
			_, _ = buf.WriteString(raw)
			_ = buf.Flush()
		}
		if tcp, ok := conn.(*net.TCPConn); ok && reset {
			_ = tcp.SetLinger(0)
		}
		_ = conn.Close()
	}
}

func requireReason(t *testing.T, err error, reason string) *Error {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want reason %s", reason)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want *Error", err, err)
	}
	if e.Reason() != reason {
		t.Fatalf("reason = %q, want %q (err: %v)", e.Reason(), reason, err)
	}
	if strings.Contains(err.Error(), testToken) {
		t.Fatalf("error text leaks the token: %v", err)
	}
	return e
}

func TestGetChatSuccess(t *testing.T) {
	var gotAuth, gotPath, gotMethod string
	var gotAuthValues int
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotPath, gotMethod = r.Header.Get("Authorization"), r.URL.Path, r.Method
		gotAuthValues = len(r.Header.Values("Authorization"))
		reply(200, okChat)(w, r)
	})
	c := newClient(t, srv.URL+"/")

	ch, err := c.GetChat(t.Context(), -100)
	if err != nil {
		t.Fatalf("GetChat: %v", err)
	}
	want := Chat{ChatID: -100, Type: "chat", Status: "active", Title: "Team", ParticipantsCount: 42}
	if ch != want {
		t.Errorf("chat = %+v, want %+v", ch, want)
	}
	if gotAuth != testToken || gotAuthValues != 1 {
		t.Errorf("Authorization = %q (%d values), want exactly the token", gotAuth, gotAuthValues)
	}
	if gotPath != "/chats/-100" || gotMethod != http.MethodGet {
		t.Errorf("request = %s %s, want GET /chats/-100", gotMethod, gotPath)
	}

	n, err := c.ParticipantsCount(t.Context(), -100)
	if err != nil || n != 42 {
		t.Errorf("ParticipantsCount = %d, %v; want 42, nil", n, err)
	}
}

func TestMe(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/me" || r.Header.Get("Authorization") != testToken {
			http.Error(w, "unexpected", http.StatusTeapot)
			return
		}
		reply(200, `{"user_id":7,"first_name":"Bot","username":"bot","is_bot":true,"last_activity_time":1,"name":null}`)(w, r)
	})
	bi, err := newClient(t, srv.URL).Me(t.Context())
	if err != nil {
		t.Fatalf("Me: %v", err)
	}
	if want := (BotInfo{UserID: 7, FirstName: "Bot", Username: "bot", IsBot: true}); bi != want {
		t.Errorf("Me = %+v, want %+v", bi, want)
	}
}

func TestGetChatFailures(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	bigChat := `{"participants_count":1,"description":"` + strings.Repeat("x", 2<<20) + `"}`
	errBody := `{"code":"internal","message":"something broke"}`

	tests := []struct {
		name    string
		handler http.HandlerFunc
		url     string // instead of a server
		opts    []Option
		reason  string
		status  int
	}{
		{name: "connection refused", url: closedURL, reason: ReasonConnection},
		{name: "closed before answering", handler: hijack("", false), reason: ReasonConnection},
		{name: "reset before answering", handler: hijack("", true), reason: ReasonConnection},
		{name: "closed mid-body", handler: hijack("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"+
			"Content-Length: 200\r\n\r\n{\"chat_id\":-100,\"partic", false), reason: ReasonMalformed, status: 200},
		{name: "500", handler: reply(500, errBody), reason: ReasonServerError, status: 500},
		{name: "502 html", handler: reply(502, "<html>bad gateway</html>"), reason: ReasonServerError, status: 502},
		{name: "503", handler: reply(503, errBody), reason: ReasonServerError, status: 503},
		{name: "401", handler: reply(401, `{"code":"verify.token","message":"Invalid access_token"}`),
			reason: ReasonUnauthorized, status: 401},
		{name: "403", handler: reply(403, `{"code":"access.denied","message":"no"}`), reason: ReasonClientError, status: 403},
		{name: "404", handler: reply(404, `{"code":"not.found","message":"Chat not found"}`), reason: ReasonNotFound, status: 404},
		{name: "400", handler: reply(400, `{"code":"proto.payload","message":"bad"}`), reason: ReasonClientError, status: 400},
		{name: "redirect not followed", handler: func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/elsewhere" {
				panic("redirect followed")
			}
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		}, reason: ReasonServerError, status: 302},
		{name: "slow headers", handler: func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			reply(200, okChat)(w, r)
		}, opts: []Option{WithTimeout(50 * time.Millisecond)}, reason: ReasonTimeout},
		{name: "hang mid-body", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "500")
			w.WriteHeader(200)
			_, _ = io.WriteString(w, `{"chat_id":-100,`)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}, opts: []Option{WithTimeout(50 * time.Millisecond)}, reason: ReasonTimeout, status: 200},
		{name: "invalid JSON", handler: reply(200, `{"participants_count": 3,,}`), reason: ReasonMalformed, status: 200},
		{name: "not an object", handler: reply(200, `[1,2,3]`), reason: ReasonMalformed, status: 200},
		{name: "empty body", handler: reply(200, ``), reason: ReasonMalformed, status: 200},
		{name: "truncated JSON", handler: reply(200, `{"chat_id":-100,"participants_count":4`), reason: ReasonMalformed, status: 200},
		{name: "count missing", handler: reply(200, `{"chat_id":-100,"title":"x"}`), reason: ReasonMalformed, status: 200},
		{name: "count null", handler: reply(200, `{"participants_count":null}`), reason: ReasonMalformed, status: 200},
		{name: "count string", handler: reply(200, `{"participants_count":"42"}`), reason: ReasonMalformed, status: 200},
		{name: "count float", handler: reply(200, `{"participants_count":4.5}`), reason: ReasonMalformed, status: 200},
		{name: "count bool", handler: reply(200, `{"participants_count":true}`), reason: ReasonMalformed, status: 200},
		{name: "count object", handler: reply(200, `{"participants_count":{"n":1}}`), reason: ReasonMalformed, status: 200},
		{name: "count negative", handler: reply(200, `{"participants_count":-1}`), reason: ReasonMalformed, status: 200},
		{name: "count over int32", handler: reply(200, `{"participants_count":4294967296}`), reason: ReasonMalformed, status: 200},
		{name: "chat_id wrong type", handler: reply(200, `{"chat_id":"x","participants_count":1}`), reason: ReasonMalformed, status: 200},
		{name: "huge streamed body", handler: func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(200)
			_, _ = io.WriteString(w, bigChat) // no Content-Length: the client must stop reading itself
		}, reason: ReasonTooLarge, status: 200},
		{name: "huge announced body", handler: reply(200, bigChat, "Content-Length", strconv.Itoa(len(bigChat))),
			reason: ReasonTooLarge, status: 200},
		{name: "over a custom limit", handler: reply(200, okChat), opts: []Option{WithMaxBodyBytes(64)},
			reason: ReasonTooLarge, status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := tt.url
			if tt.handler != nil {
				url = newServer(t, tt.handler).URL
			}
			c := newClient(t, url, tt.opts...)
			start := time.Now()
			_, err := c.GetChat(t.Context(), -100)
			e := requireReason(t, err, tt.reason)
			if e.Status != tt.status {
				t.Errorf("status = %d, want %d", e.Status, tt.status)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("call took %v; the deadline did not hold", d)
			}
			if tt.reason == ReasonTimeout && !errors.Is(err, context.DeadlineExceeded) {
				var nerr net.Error
				if !errors.As(err, &nerr) || !nerr.Timeout() {
					t.Errorf("timeout error does not unwrap to a deadline: %v", err)
				}
			}
		})
	}
}

func TestErrorObjectIsKept(t *testing.T) {
	srv := newServer(t, reply(503, `{"code":"internal","message":"try later"}`))
	_, err := newClient(t, srv.URL).GetChat(t.Context(), 1)
	e := requireReason(t, err, ReasonServerError)
	if e.Code != "internal" || e.Message != "try later" {
		t.Errorf("code, message = %q, %q", e.Code, e.Message)
	}
	if !strings.Contains(err.Error(), "try later") || !strings.Contains(err.Error(), "get chat 1") {
		t.Errorf("error text %q lacks the operation or MAX's message", err)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header string
		want   time.Duration
	}{
		{"absent", "", 0},
		{"seconds", "7", 7 * time.Second},
		{"http date", now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second},
		{"date in the past", now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"garbage", "soon", 0},
		{"negative", "-3", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var headers []string
			if tt.header != "" {
				headers = []string{"Retry-After", tt.header}
			}
			srv := newServer(t, reply(429, `{"code":"too.many.requests","message":"slow down"}`, headers...))
			c := newClient(t, srv.URL, WithClock(func() time.Time { return now }))
			_, err := c.GetChat(t.Context(), -1)
			e := requireReason(t, err, ReasonRateLimited)
			if e.RetryAfter() != tt.want {
				t.Errorf("RetryAfter = %v, want %v", e.RetryAfter(), tt.want)
			}
		})
	}
}

func TestCallerCancellationIsNotAMaxFailure(t *testing.T) {
	started := make(chan struct{})
	srv := newServer(t, func(_ http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
	})
	c := newClient(t, srv.URL, WithTimeout(5*time.Second))
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-started
		cancel()
	}()
	_, err := c.GetChat(ctx, -1)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	var e *Error
	if errors.As(err, &e) {
		t.Fatalf("a cancelled call must not be an *Error with a reason, got %q", e.Reason())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.health != HealthUnknown {
		t.Errorf("health after a cancelled call = %q, want unknown", c.health)
	}
}

func TestTokenNeverLeaks(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	echo := `{"code":"verify.token","message":"Invalid access_token: ` + testToken + `"}`
	for _, status := range []int{401, 403, 429, 500} {
		srv := newServer(t, reply(status, echo))
		c := newClient(t, srv.URL, WithLogger(log))
		_, err := c.GetChat(t.Context(), -1)
		if err == nil {
			t.Fatalf("status %d: no error", status)
		}
		if strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("status %d: error leaks the token: %v", status, err)
		}
		if !strings.Contains(err.Error(), "[redacted]") {
			t.Errorf("status %d: error %q should show that MAX's message was redacted", status, err)
		}
		// A failing probe logs too.
		c.Health()
		c.Close()
	}
	if strings.Contains(logs.String(), "SECRET") {
		t.Errorf("logs leak the token:\n%s", logs.String())
	}
}

func TestDurationMetric(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := metrics.New(reg)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/1") {
			reply(200, okChat)(w, r)
			return
		}
		reply(500, `{}`)(w, r)
	})
	c := newClient(t, srv.URL, WithMetrics(m))
	_, _ = c.GetChat(t.Context(), 1)
	_, _ = c.GetChat(t.Context(), 2)
	_, _ = c.Me(t.Context())

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "participants_max_api_request_duration_seconds" {
			if n := mf.GetMetric()[0].GetHistogram().GetSampleCount(); n != 3 {
				t.Errorf("observed %d calls, want 3 (successes and failures)", n)
			}
			return
		}
	}
	t.Fatal("participants_max_api_request_duration_seconds not gathered")
}

// fakeClock is a settable clock for health tests.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

// healthServer serves GET /me and GET /chats/{id} with switchable answers and counts
// /me calls.
type healthServer struct {
	meCalls   atomic.Int64
	meStatus  atomic.Int64
	chatState atomic.Int64
}

func (h *healthServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/me" {
		h.meCalls.Add(1)
		if s := int(h.meStatus.Load()); s != 0 {
			reply(s, `{"code":"x","message":"y"}`)(w, r)
			return
		}
		reply(200, `{"user_id":1,"is_bot":true}`)(w, r)
		return
	}
	if s := int(h.chatState.Load()); s != 0 {
		reply(s, `{"code":"x","message":"y"}`)(w, r)
		return
	}
	reply(200, okChat)(w, r)
}

// waitProbe waits until no probe is running.
func waitProbe(t *testing.T, c *Client) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		probing := c.probing
		c.mu.Unlock()
		if !probing {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("health probe did not finish")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestHealth(t *testing.T) {
	hs := &healthServer{}
	srv := newServer(t, hs.ServeHTTP)
	clock := &fakeClock{now: time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)}
	c := newClient(t, srv.URL, WithHealthInterval(5*time.Second), WithClock(clock.Now))

	if got := c.Health(); got != HealthUnknown {
		t.Fatalf("first Health = %q, want unknown", got)
	}
	waitProbe(t, c)
	if got := c.Health(); got != HealthHealthy {
		t.Fatalf("Health after a good probe = %q, want healthy", got)
	}
	if n := hs.meCalls.Load(); n != 1 {
		t.Fatalf("/me calls = %d, want 1", n)
	}

	// A failing call is observed passively, at once, without a probe.
	hs.chatState.Store(503)
	_, _ = c.GetChat(t.Context(), -1)
	if got := c.Health(); got != HealthUnhealthy {
		t.Fatalf("Health after a 503 = %q, want unhealthy", got)
	}
	// A chat MAX does not know proves MAX answers.
	hs.chatState.Store(404)
	_, _ = c.GetChat(t.Context(), -1)
	if got := c.Health(); got != HealthHealthy {
		t.Fatalf("Health after a 404 = %q, want healthy", got)
	}
	waitProbe(t, c)
	if n := hs.meCalls.Load(); n != 1 {
		t.Fatalf("/me calls = %d after recent observations, want still 1", n)
	}

	// Nothing observed for an interval: Health answers from the old observation and probes.
	hs.meStatus.Store(401)
	clock.Advance(5 * time.Second)
	// The call that starts the probe holds the state lock, so it answers deterministically
	// from the observation before the probe.
	if got := c.Health(); got != HealthHealthy {
		t.Fatalf("Health while probing = %q, want the last observation (healthy)", got)
	}
	waitProbe(t, c)
	if got := c.Health(); got != HealthUnhealthy {
		t.Fatalf("Health after a 401 probe = %q, want unhealthy", got)
	}
	if n := hs.meCalls.Load(); n != 2 {
		t.Fatalf("/me calls = %d, want 2: at most one probe per interval", n)
	}

	// Recovery is seen by the next probe.
	hs.meStatus.Store(0)
	clock.Advance(4 * time.Second)
	c.Health()
	waitProbe(t, c)
	if n := hs.meCalls.Load(); n != 2 {
		t.Fatalf("/me calls = %d, want 2 before the interval passed", n)
	}
	clock.Advance(time.Second)
	c.Health()
	waitProbe(t, c)
	if got := c.Health(); got != HealthHealthy {
		t.Fatalf("Health after recovery = %q, want healthy", got)
	}
}

func TestHealthProbeDownAndClose(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	c := New(closed.URL, testToken, WithTimeout(time.Second))
	c.Health()
	waitProbe(t, c)
	if got := c.Health(); got != HealthUnhealthy {
		t.Fatalf("Health with MAX down = %q, want unhealthy", got)
	}

	// Close stops a probe that hangs.
	hang := newServer(t, func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	c2 := New(hang.URL, testToken, WithTimeout(time.Minute))
	c2.Health()
	done := make(chan struct{})
	go func() { c2.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not stop a hanging probe")
	}
	if got := c2.Health(); got != HealthUnknown {
		t.Errorf("Health after a cancelled probe = %q, want unknown", got)
	}
	c2.mu.Lock()
	probing := c2.probing
	c2.mu.Unlock()
	if probing {
		t.Error("a closed client started a probe")
	}
	c.Close()
}

func TestParseRetryAfterHuge(t *testing.T) {
	if d := parseRetryAfter("99999999999999999", time.Now()); d <= 0 {
		t.Errorf("huge Retry-After = %v, want a positive duration", d)
	}
}
