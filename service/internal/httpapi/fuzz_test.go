package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// checkResponse fails when a response is a server error or not the JSON the route
// promises.
func checkResponse(t *testing.T, method, path, query string, code int, body string) {
	t.Helper()
	if code >= 500 {
		t.Fatalf("%s %q ? %q: status %d, body %s", method, path, query, code, body)
	}
	if !json.Valid([]byte(body)) {
		t.Fatalf("%s %q ? %q: body is not JSON: %q", method, path, query, body)
	}
}

// FuzzListQuery feeds arbitrary query strings to GET /chats/all: every answer must be 200
// or 400, never a 5xx or a panic.
func FuzzListQuery(f *testing.F) {
	for _, seed := range []string{
		"", "limit=1", "limit=1000", "limit=1001", "limit=0", "limit=-1", "offset=0", "offset=-5",
		"limit=10&offset=20", "limit=1&limit=1", "foo=bar", "limit=%zz", "limit=5;offset=1",
		"limit=+1", "limit=1e3", "limit=0x10", "offset=99999999999999999999", "&&&", "=", "limit",
		"limit=%00", "%ff=1", "limit=\u0661", strings.Repeat("a=1&", 100),
	} {
		f.Add(seed)
	}
	e := newTestEnv(f, fakeMax("healthy"))
	f.Fuzz(func(t *testing.T, query string) {
		defer e.logs.Reset()
		rec := e.do(http.MethodGet, "/chats/all", query)
		checkResponse(t, http.MethodGet, "/chats/all", query, rec.Code, rec.Body.String())
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("query %q: status %d, want 200 or 400", query, rec.Code)
		}
	})
}

// FuzzChatID feeds arbitrary id segments to the chat routes: every answer must be a
// JSON 200, 400, 404 or 409 (or 404/405 when the segment changes the route).
func FuzzChatID(f *testing.F) {
	for _, seed := range []string{
		"1", "2", "3", "0", "-1", "+1", "abc", "9223372036854775807", "9223372036854775808",
		"1.5", " 1", "%31", "1/participants", "", "/", "all", "１", "\x00", "1?x=1", "1#frag",
	} {
		f.Add(seed)
	}
	e := newTestEnv(f, nil)
	f.Fuzz(func(t *testing.T, id string) {
		defer e.logs.Reset()
		for _, r := range []struct{ method, path string }{
			{http.MethodGet, "/chats/" + id},
			{http.MethodPost, "/chats/" + id + "/participants/refresh"},
		} {
			rec := e.do(r.method, r.path, "")
			checkResponse(t, r.method, r.path, "", rec.Code, rec.Body.String())
		}
	})
}

// FuzzRequest sends arbitrary methods, paths and queries to the whole router.
func FuzzRequest(f *testing.F) {
	f.Add("GET", "/chats/all", "limit=5")
	f.Add("POST", "/chats/1/participants/refresh", "")
	f.Add("DELETE", "/chats/1", "")
	f.Add("GET", "/health/detailed", "x=1")
	f.Add("GET", "/../../etc/passwd", "")
	f.Add("PATCH", "//chats//1", "a=%")
	f.Add("GET", "/livez", "")
	f.Add("OPTIONS", "*", "")
	e := newTestEnv(f, fakeMax("unhealthy"))
	f.Fuzz(func(t *testing.T, method, path, query string) {
		defer e.logs.Reset()
		if method == "" || strings.ContainsAny(method, " \t\r\n") {
			// net/http rejects such request lines before any handler runs.
			t.Skip()
		}
		if path == "/metrics" {
			// Prometheus text, not JSON.
			t.Skip()
		}
		rec := e.do(method, path, query)
		if rec.Code >= 500 {
			t.Fatalf("%s %q ? %q: status %d, body %s", method, path, query, rec.Code, rec.Body)
		}
	})
}
