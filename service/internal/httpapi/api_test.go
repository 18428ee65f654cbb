package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/faultline/faultline/service/internal/chat"
	"github.com/faultline/faultline/service/internal/metrics"
)

func TestListChatsJSON(t *testing.T) {
	e := newTestEnv(t, nil)
	rec := e.do(http.MethodGet, "/chats/all", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body)
	}
	if e.chats.lastPage != (chat.Page{Limit: 1000, Offset: 0}) {
		t.Errorf("page = %+v, want the defaults", e.chats.lastPage)
	}
	var body map[string][]map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %s: %v", rec.Body, err)
	}
	got := body["chats"]
	if len(got) != 3 {
		t.Fatalf("got %d chats, want 3: %s", len(got), rec.Body)
	}
	want := []map[string]any{
		{"id": 1.0, "name": "general", "max_chat_id": -100.0, "participants_count": 42.0,
			"participants_source": "cache", "participants_updated_at": "2026-06-30T07:00:00.123456789Z"},
		{"id": 2.0, "name": "unlinked", "max_chat_id": nil, "participants_count": 0.0,
			"participants_source": "database"},
		{"id": 3.0, "name": "api", "max_chat_id": -300.0, "participants_count": 7.0,
			"participants_source": "api", "participants_updated_at": "2026-07-01T11:00:00Z"},
	}
	for i := range want {
		if fmt.Sprint(got[i]) != fmt.Sprint(want[i]) {
			t.Errorf("chat %d:\n got %v\nwant %v", i, got[i], want[i])
		}
	}
}

func TestListChatsEmptyIsArray(t *testing.T) {
	e := newTestEnv(t, nil)
	e.chats.Chats = nil
	rec := e.do(http.MethodGet, "/chats/all", "")
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"chats":[]}` {
		t.Fatalf("status %d body %s, want 200 {\"chats\":[]}", rec.Code, rec.Body)
	}
}

func TestListChatsPage(t *testing.T) {
	tests := []struct {
		query string
		want  chat.Page
	}{
		{"limit=1", chat.Page{Limit: 1}},
		{"limit=1000", chat.Page{Limit: 1000}},
		{"limit=007", chat.Page{Limit: 7}},
		{"offset=0", chat.Page{Limit: 1000}},
		{"offset=5", chat.Page{Limit: 1000, Offset: 5}},
		{"limit=2&offset=1", chat.Page{Limit: 2, Offset: 1}},
		{"offset=2147483647", chat.Page{Limit: 1000, Offset: 2147483647}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			e := newTestEnv(t, nil)
			rec := e.do(http.MethodGet, "/chats/all", tt.query)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d, body %s", rec.Code, rec.Body)
			}
			if e.chats.lastPage != tt.want {
				t.Errorf("page = %+v, want %+v", e.chats.lastPage, tt.want)
			}
		})
	}
}

func TestListChatsRejectsBadQuery(t *testing.T) {
	tests := []struct {
		query string
		// names is what the message must mention.
		names string
	}{
		{"limit=0", "limit"},
		{"limit=1001", "limit"},
		{"limit=-1", "limit"},
		{"limit=+5", "limit"},
		{"limit=abc", "limit"},
		{"limit=", "limit"},
		{"limit=1.5", "limit"},
		{"limit=%205", "limit"},
		{"limit=0x10", "limit"},
		{"limit=99999999999999999999999", "limit"},
		{"offset=-1", "offset"},
		{"offset=x", "offset"},
		{"offset=", "offset"},
		{"offset=2147483648", "offset"},
		{"offset=9223372036854775808", "offset"},
		{"limit=1&limit=2", "limit"},
		{"offset=1&offset=1", "offset"},
		{"foo=1", "foo"},
		{"LIMIT=5", "LIMIT"},
		{"limit", "limit"},
		{"limit=5&page=2", "page"},
		{"limit=%zz", "malformed"},
		{"limit=5;offset=1", "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			e := newTestEnv(t, nil)
			rec := e.do(http.MethodGet, "/chats/all", tt.query)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400; body %s", rec.Code, rec.Body)
			}
			code, msg := decodeError(t, rec)
			if code != chat.EINVALID || !strings.Contains(msg, tt.names) {
				t.Errorf("error %s %q, want invalid_parameter naming %q", code, msg, tt.names)
			}
			if e.chats.calls != 0 {
				t.Errorf("service called %d times for an invalid request", e.chats.calls)
			}
		})
	}
}

func TestErrorMessageShortensEcho(t *testing.T) {
	e := newTestEnv(t, nil)
	rec := e.do(http.MethodGet, "/chats/all", strings.Repeat("k", 5000)+"=1")
	_, msg := decodeError(t, rec)
	if rec.Code != http.StatusBadRequest || len(msg) > 200 {
		t.Errorf("status %d, message of %d bytes; want 400 and a short message", rec.Code, len(msg))
	}
}

func TestGetChat(t *testing.T) {
	e := newTestEnv(t, nil)
	rec := e.do(http.MethodGet, "/chats/3", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d body %s", rec.Code, rec.Body)
	}
	var got map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got["id"] != 3.0 || got["participants_source"] != "api" || got["participants_count"] != 7.0 {
		t.Errorf("got %v", got)
	}

	rec = e.do(http.MethodGet, "/chats/99", "")
	if code, _ := decodeError(t, rec); rec.Code != http.StatusNotFound || code != chat.ENOTFOUND {
		t.Errorf("unknown chat: status %d code %s, want 404 not_found", rec.Code, code)
	}
}

func TestChatIDValidation(t *testing.T) {
	ids := []string{"0", "-1", "+1", "abc", "1.0", " 1", "1 ", "0x1", "1e3",
		"9223372036854775808", "99999999999999999999", "%31", "１"}
	for _, id := range ids {
		for _, route := range []struct{ method, suffix string }{
			{http.MethodGet, ""},
			{http.MethodPost, "/participants/refresh"},
		} {
			t.Run(route.method+" "+id, func(t *testing.T) {
				e := newTestEnv(t, nil)
				rec := e.do(route.method, "/chats/"+id+route.suffix, "")
				if rec.Code != http.StatusBadRequest {
					t.Fatalf("status %d, want 400; body %s", rec.Code, rec.Body)
				}
				if code, msg := decodeError(t, rec); code != chat.EINVALID || !strings.Contains(msg, "chat id") {
					t.Errorf("error %s %q, want invalid_parameter about the chat id", code, msg)
				}
			})
		}
	}
	// The largest int64 is a valid id: it is just not there.
	e := newTestEnv(t, nil)
	if rec := e.do(http.MethodGet, "/chats/9223372036854775807", ""); rec.Code != http.StatusNotFound {
		t.Errorf("max int64 id: status %d, want 404", rec.Code)
	}
}

func TestChatRoutesRejectQuery(t *testing.T) {
	e := newTestEnv(t, nil)
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/chats/1"},
		{http.MethodPost, "/chats/1/participants/refresh"},
	} {
		rec := e.do(tc.method, tc.path, "verbose=1")
		if code, msg := decodeError(t, rec); rec.Code != http.StatusBadRequest || code != chat.EINVALID || !strings.Contains(msg, "verbose") {
			t.Errorf("%s %s?verbose=1: status %d %s %q, want 400 naming verbose", tc.method, tc.path, rec.Code, code, msg)
		}
	}
}

func TestRefresh(t *testing.T) {
	e := newTestEnv(t, nil)
	rec := e.do(http.MethodPost, "/chats/1/participants/refresh", "")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"participants_source":"api"`) {
		t.Errorf("refresh: status %d body %s", rec.Code, rec.Body)
	}
	rec = e.do(http.MethodPost, "/chats/2/participants/refresh", "")
	if code, _ := decodeError(t, rec); rec.Code != http.StatusConflict || code != chat.ECONFLICT {
		t.Errorf("unlinked: status %d code %s, want 409 conflict", rec.Code, code)
	}
	rec = e.do(http.MethodPost, "/chats/404/participants/refresh", "")
	if code, _ := decodeError(t, rec); rec.Code != http.StatusNotFound || code != chat.ENOTFOUND {
		t.Errorf("unknown: status %d code %s, want 404 not_found", rec.Code, code)
	}
}

func TestServiceErrors(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		status     int
		code       string
		retryAfter string
	}{
		{"database unavailable", chat.Wrap(errBoom, chat.EDATABASEUNAVAILABLE, "database unavailable"), 503, chat.EDATABASEUNAVAILABLE, "1"},
		{"database short-circuited", fmt.Errorf("list: %w", chat.Wrap(chat.ErrShortCircuited, chat.EDATABASEUNAVAILABLE, "database unavailable")), 503, chat.EDATABASEUNAVAILABLE, "1"},
		{"cache unavailable (strict policy)", chat.Wrap(errBoom, chat.ECACHEUNAVAILABLE, "participants cache unavailable"), 500, chat.ECACHEUNAVAILABLE, ""},
		{"plain error", errBoom, 500, chat.EINTERNAL, ""},
		{"invalid from the service", chat.Errorf(chat.EINVALID, "bad"), 400, chat.EINVALID, ""},
	}
	for _, tt := range tests {
		for _, path := range []string{"/chats/all", "/chats/1"} {
			t.Run(tt.name+" "+path, func(t *testing.T) {
				e := newTestEnv(t, nil)
				e.chats.Err = tt.err
				rec := e.do(http.MethodGet, path, "")
				code, msg := decodeError(t, rec)
				if rec.Code != tt.status || code != tt.code {
					t.Errorf("status %d code %s, want %d %s", rec.Code, code, tt.status, tt.code)
				}
				if got := rec.Header().Get("Retry-After"); got != tt.retryAfter {
					t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
				}
				if strings.Contains(msg, "hunter2") || strings.Contains(rec.Body.String(), "10.0.0.1") {
					t.Errorf("response leaks the cause: %s", rec.Body)
				}
			})
		}
	}
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	e := newTestEnv(t, nil)
	for _, path := range []string{"/", "/chats", "/chats/", "/chats/all/", "/chats/1/participants", "/nope", "/chats/1/participants/refresh/x"} {
		rec := e.do(http.MethodGet, path, "")
		if code, _ := decodeError(t, rec); rec.Code != http.StatusNotFound || code != codeRouteNotFound {
			t.Errorf("GET %s: status %d code %s, want 404 route_not_found", path, rec.Code, code)
		}
	}
	tests := []struct{ method, path, allow string }{
		{http.MethodPost, "/chats/all", "GET"},
		{http.MethodDelete, "/chats/1", "GET"},
		{http.MethodGet, "/chats/1/participants/refresh", "POST"},
		{http.MethodPut, "/health/detailed", "GET"},
		{"BREW", "/chats/all", "GET"},
	}
	for _, tt := range tests {
		rec := e.do(tt.method, tt.path, "")
		if code, _ := decodeError(t, rec); rec.Code != http.StatusMethodNotAllowed || code != codeMethodNotAllowed {
			t.Errorf("%s %s: status %d code %s, want 405 method_not_allowed", tt.method, tt.path, rec.Code, code)
		}
		if got := rec.Header().Get("Allow"); got != tt.allow {
			t.Errorf("%s %s: Allow = %q, want %q", tt.method, tt.path, got, tt.allow)
		}
	}
}

func TestPanicIsJSON500(t *testing.T) {
	e := newTestEnv(t, nil)
	e.chats.Panic = true
	rec := e.do(http.MethodGet, "/chats/all", "")
	if code, _ := decodeError(t, rec); rec.Code != http.StatusInternalServerError || code != chat.EINTERNAL {
		t.Errorf("status %d code %s, want 500 internal", rec.Code, code)
	}
	found := false
	for _, l := range e.logs.Records(t) {
		if l["msg"] == "Handler panicked" && l["level"] == "ERROR" && l["request_id"] != "" {
			found = true
		}
	}
	if !found {
		t.Error("no ERROR log line for the panic")
	}
	if got := testutil.ToFloat64(e.metrics.HTTPRequests.WithLabelValues("GET", "/chats/all", "500")); got != 1 {
		t.Errorf("http_requests_total{status=500} = %v, want 1", got)
	}
	e.chats.Panic = false
	if rec := e.do(http.MethodGet, "/chats/all", ""); rec.Code != http.StatusOK {
		t.Errorf("after a panic: status %d, want 200", rec.Code)
	}
}

func TestBodyLimit(t *testing.T) {
	e := newTestEnv(t, nil)
	req := httpRequest(http.MethodPost, "/chats/1/participants/refresh", strings.NewReader("x"))
	req.ContentLength = DefaultBodyLimit + 1
	rec := serve(e, req)
	if code, _ := decodeError(t, rec); rec.Code != http.StatusRequestEntityTooLarge || code != codeRequestTooLarge {
		t.Errorf("status %d code %s, want 413 request_too_large", rec.Code, code)
	}
	if e.chats.calls != 0 {
		t.Error("service called for an oversized request")
	}
	req = httpRequest(http.MethodPost, "/chats/1/participants/refresh", strings.NewReader(`{"ignored":true}`))
	if rec := serve(e, req); rec.Code != http.StatusOK {
		t.Errorf("small body: status %d, want 200", rec.Code)
	}
}

func TestRequestIDAndLog(t *testing.T) {
	e := newTestEnv(t, nil)
	req := httpRequest(http.MethodGet, "/chats/1", nil)
	req.Header.Set("X-Request-Id", "abc-123")
	rec := serve(e, req)
	if got := rec.Header().Get("X-Request-Id"); got != "abc-123" {
		t.Errorf("X-Request-Id = %q, want the caller's abc-123", got)
	}
	req = httpRequest(http.MethodGet, "/chats/2", nil)
	req.Header.Set("X-Request-Id", "bad id\n{}")
	rec = serve(e, req)
	generated := rec.Header().Get("X-Request-Id")
	if generated == "" || strings.ContainsAny(generated, " \n{") {
		t.Errorf("X-Request-Id = %q, want a fresh plain id", generated)
	}

	var reqLogs []map[string]any
	for _, l := range e.logs.Records(t) {
		if l["msg"] == "HTTP request" {
			reqLogs = append(reqLogs, l)
		}
	}
	if len(reqLogs) != 2 {
		t.Fatalf("%d request log lines, want 2", len(reqLogs))
	}
	l := reqLogs[0]
	if l["level"] != "INFO" || l["method"] != "GET" || l["route"] != "/chats/{id}" || l["path"] != "/chats/1" ||
		l["status"] != 200.0 || l["request_id"] != "abc-123" {
		t.Errorf("request log %v", l)
	}
	if _, ok := l["duration_ms"].(float64); !ok {
		t.Errorf("request log lacks a numeric duration_ms: %v", l)
	}
	if reqLogs[1]["request_id"] != generated {
		t.Errorf("second log has request_id %v, want %s", reqLogs[1]["request_id"], generated)
	}
}

func TestHTTPMetricsUseRoutePatterns(t *testing.T) {
	e := newTestEnv(t, fakeMax("healthy"))
	e.do(http.MethodGet, "/chats/1", "")
	e.do(http.MethodGet, "/chats/2", "")
	e.do(http.MethodGet, "/chats/99", "")
	e.do(http.MethodGet, "/chats/all", "limit=0")
	e.do(http.MethodPost, "/chats/3/participants/refresh", "")
	e.do(http.MethodGet, "/definitely/not/here", "")
	e.do(http.MethodGet, "/another/unknown", "")
	e.do(http.MethodPost, "/chats/all", "")
	e.do(http.MethodGet, "/health/detailed", "")
	e.do("BREW\xf6", "/chats/all", "")

	counts := []struct {
		method, route, status string
		want                  float64
	}{
		{"GET", "/chats/{id}", "200", 2},
		{"GET", "/chats/{id}", "404", 1},
		{"GET", "/chats/all", "400", 1},
		{"POST", "/chats/{id}/participants/refresh", "200", 1},
		{"GET", routeUnmatched, "404", 2},
		{"POST", routeUnmatched, "405", 1},
		{"GET", "/health/detailed", "200", 1},
		{"other", routeUnmatched, "405", 1},
	}
	for _, c := range counts {
		if got := testutil.ToFloat64(e.metrics.HTTPRequests.WithLabelValues(c.method, c.route, c.status)); got != c.want {
			t.Errorf("http_requests_total{%s,%s,%s} = %v, want %v", c.method, c.route, c.status, got, c.want)
		}
	}
	if n := testutil.CollectAndCount(e.metrics.HTTPRequests); n != len(counts) {
		t.Errorf("http_requests_total has %d series, want %d (no raw paths as labels)", n, len(counts))
	}
	if n := testutil.CollectAndCount(e.metrics.HTTPDuration); n != 7 {
		t.Errorf("http_request_duration_seconds has %d series, want 7", n)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	e := newTestEnv(t, nil)
	e.do(http.MethodGet, "/chats/1", "")
	rec := e.do(http.MethodGet, "/metrics", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	body := rec.Body.String()
	for _, want := range []string{
		`http_requests_total{method="GET",route="/chats/{id}",status="200"} 1`,
		"participants_cache_errors_total 0",
		"go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestLivezAndReadyz(t *testing.T) {
	e := newTestEnv(t, nil)
	e.db.Err = errBoom
	e.redis.Err = errBoom
	if rec := e.do(http.MethodGet, "/livez", ""); rec.Code != http.StatusOK {
		t.Errorf("livez with dependencies down: %d, want 200", rec.Code)
	}
	rec := e.do(http.MethodGet, "/readyz", "")
	if code, _ := decodeError(t, rec); rec.Code != http.StatusServiceUnavailable || code != chat.EDATABASEUNAVAILABLE || rec.Header().Get("Retry-After") == "" {
		t.Errorf("readyz with the database down: %d %s, want 503 database_unavailable with Retry-After", rec.Code, code)
	}
	if got := testutil.ToFloat64(e.metrics.DependencyUp.WithLabelValues(metrics.DepDatabase)); got != 0 {
		t.Errorf("dependency_up{database} = %v, want 0", got)
	}
	// The failed ping's reason is logged: dependency_up alone cannot say why.
	failed := 0
	for _, l := range e.logs.Records(t) {
		if l["msg"] == "Health check failed" {
			failed++
			if l["level"] != "DEBUG" || l["dependency"] != metrics.DepDatabase || l["error"] != errBoom.Error() || l["duration_ms"] == nil {
				t.Errorf("failed ping logged as %v, want DEBUG with dependency database, the error and duration_ms", l)
			}
		}
	}
	if failed != 1 {
		t.Errorf("%d \"Health check failed\" lines for one failed ping, want 1", failed)
	}
	e.db.Err = nil
	if rec := e.do(http.MethodGet, "/readyz", ""); rec.Code != http.StatusOK {
		t.Errorf("readyz with Redis down but the database up: %d, want 200", rec.Code)
	}

	e.db.Hang = true
	start := time.Now()
	if rec := e.do(http.MethodGet, "/readyz", ""); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("readyz with a hanging database: %d, want 503", rec.Code)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("readyz took %s with a hanging database; the deadline is 100ms", d)
	}
}
