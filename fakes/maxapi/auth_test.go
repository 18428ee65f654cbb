package maxapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	fakemax "github.com/faultline/faultline/fakes/maxapi"
)

func TestAuthWithConfiguredToken(t *testing.T) {
	_, ts := newFake(t, fakemax.WithToken(testToken))
	cases := []struct {
		name   string
		path   string
		token  string
		status int
		code   string
	}{
		{"right token", "/me", testToken, 200, ""},
		{"missing", "/me", "", 401, "verify.token"},
		{"wrong", "/me", "other", 401, "verify.token"},
		{"bearer prefix", "/me", "Bearer " + testToken, 401, "verify.token"},
		{"query token", "/me?access_token=" + testToken, "", 403, "deprecated.token"},
		{"query token with header", "/me?access_token=" + testToken, testToken, 403, "deprecated.token"},
		{"chat missing token", "/chats/-1", "", 401, "verify.token"},
		{"members wrong token", "/chats/-1/members", "x", 401, "verify.token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := get(t, ts, c.path, c.token)
			if c.code == "" {
				if got.status != c.status {
					t.Fatalf("status %d: %s", got.status, got.body)
				}
				return
			}
			wantError(t, got, c.status, c.code)
			if c.code == "verify.token" && string(got.body) != `{"code":"verify.token","message":"Invalid access_token"}` {
				t.Errorf("body = %s, want the real API's exact body", got.body)
			}
			if strings.Contains(string(got.body), testToken) {
				t.Errorf("the answer echoes the token: %s", got.body)
			}
		})
	}
}

func TestAuthWithoutConfiguredTokenAcceptsAnyToken(t *testing.T) {
	fake, ts := newFake(t)
	for _, tok := range []string{"a", "some-long-token", testToken} {
		if got := get(t, ts, "/me", tok); got.status != http.StatusOK {
			t.Errorf("token %q: status %d", tok, got.status)
		}
	}
	wantError(t, get(t, ts, "/me", ""), 401, "verify.token")
	wantError(t, get(t, ts, "/me", "Bearer abc"), 401, "verify.token")

	fake.SetToken("T2")
	wantError(t, get(t, ts, "/me", "a"), 401, "verify.token")
	if got := get(t, ts, "/me", "T2"); got.status != http.StatusOK {
		t.Errorf("SetToken(T2) then T2: %d", got.status)
	}
	if !fake.TokenConfigured() {
		t.Error("TokenConfigured = false after SetToken")
	}
	fake.Reset()
	if got := get(t, ts, "/me", "a"); got.status != http.StatusOK {
		t.Errorf("after Reset any token should pass again: %d", got.status)
	}
}

// TestAuthComesBeforeFaults checks that faults act only on requests the real
// API would have answered, so a bad token is never hidden by a fault.
func TestAuthComesBeforeFaults(t *testing.T) {
	fake, ts := newFake(t, fakemax.WithToken(testToken))
	fake.FailNext(1, fakemax.Status(503))
	wantError(t, get(t, ts, "/me", "wrong"), 401, "verify.token")
	if got := get(t, ts, "/me", testToken); got.status != 503 {
		t.Errorf("fault not kept for the next authorised call: %d", got.status)
	}
}

func TestRateLimit(t *testing.T) {
	clk := newClock()
	fake, ts := newFake(t, fakemax.WithClock(clk.Now))
	if fake.RateLimit() != fakemax.DefaultRateLimit || fakemax.DefaultRateLimit != 30 {
		t.Fatalf("default rate limit = %d", fake.RateLimit())
	}
	for i := range 30 {
		if got := get(t, ts, "/me", "A"); got.status != http.StatusOK {
			t.Fatalf("request %d within the limit: %d", i+1, got.status)
		}
	}
	got := get(t, ts, "/me", "A")
	wantError(t, got, 429, "too.many.requests")
	if got.header.Get("Retry-After") != "" {
		t.Errorf("limiter sent Retry-After %q", got.header.Get("Retry-After"))
	}
	// Other tokens have their own budget.
	if got := get(t, ts, "/chats/-1", "B"); got.status != http.StatusNotFound {
		t.Errorf("token B limited by A's traffic: %d", got.status)
	}
	// The window slides on the fake's clock: still full just before a
	// second has passed, free again after.
	clk.Advance(999 * time.Millisecond)
	wantError(t, get(t, ts, "/me", "A"), 429, "too.many.requests")
	clk.Advance(time.Millisecond)
	if got := get(t, ts, "/me", "A"); got.status != http.StatusOK {
		t.Errorf("after one second: %d", got.status)
	}
	// Refused requests did not use budget: 29 more fit in this window.
	for i := range 29 {
		if got := get(t, ts, "/me", "A"); got.status != http.StatusOK {
			t.Fatalf("request %d of the new window: %d", i+2, got.status)
		}
	}
	wantError(t, get(t, ts, "/me", "A"), 429, "too.many.requests")

	limited := 0
	for _, c := range fake.Calls(fakemax.EndpointMe) {
		if c.Status == 429 {
			limited++
		}
	}
	if limited != 3 {
		t.Errorf("journal shows %d limited calls, want 3", limited)
	}
}

func TestRateLimitConfigurable(t *testing.T) {
	clk := newClock()
	fake, ts := newFake(t, fakemax.WithClock(clk.Now), fakemax.WithRateLimit(2))
	get(t, ts, "/me", "A")
	get(t, ts, "/me", "A")
	wantError(t, get(t, ts, "/me", "A"), 429, "too.many.requests")

	fake.SetRateLimit(0) // off
	for range 50 {
		if got := get(t, ts, "/me", "A"); got.status != http.StatusOK {
			t.Fatalf("limit off: %d", got.status)
		}
	}
	fake.Reset() // back to WithRateLimit(2)
	if fake.RateLimit() != 2 {
		t.Errorf("RateLimit after Reset = %d, want 2", fake.RateLimit())
	}
}
