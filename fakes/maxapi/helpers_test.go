package maxapi_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	fakemax "github.com/faultline/faultline/fakes/maxapi"
)

const testToken = "test-token-123"

// newFake starts the fake on a loopback httptest server. Cleanup closes the
// fake first (releasing hung requests), then the listener.
func newFake(t testing.TB, opts ...fakemax.Option) (*fakemax.Server, *httptest.Server) {
	t.Helper()
	fake := fakemax.NewServer(opts...)
	ts := httptest.NewServer(fake)
	t.Cleanup(ts.Close)
	t.Cleanup(fake.Close)
	return fake, ts
}

// response is what a test needs of an HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// get sends GET base+path with the token in the Authorization header (none
// when token is empty) and a generous deadline.
func get(t testing.TB, ts *httptest.Server, path, token string) response {
	t.Helper()
	return do(t, ts, http.MethodGet, path, token, "")
}

func do(t testing.TB, ts *httptest.Server, method, path, token, body string) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, ts.URL+path, rd)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

// clock is a manual clock for deterministic rate limits and timestamps.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock {
	return &clock{now: time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// eventually polls cond until it holds or a generous deadline passes; the
// machine is shared, so deadlines are wide and nothing sleeps to synchronise.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sampleChat is a chat with every optional field set and two members.
func sampleChat() fakemax.Chat {
	return fakemax.Chat{
		ID:                -70000000000005,
		Title:             "chat title",
		IconURL:           "https://example.com/icon.png",
		LastEventTime:     1775628268494,
		ParticipantsCount: 3,
		OwnerID:           123123123,
		Link:              "https://max.ru/join/hash-chat-link",
		Description:       "chat description",
		MessagesCount:     7,
		Members: []fakemax.Member{
			{UserID: 229229229, FirstName: "bot firstname", Username: "test-bot", IsBot: true, JoinTime: 1775626919577,
				IsAdmin: true, Permissions: []string{"read_all_messages", "write"}, AvatarURL: "https://localhost/a.png",
				FullAvatarURL: "https://localhost/a.full.png", Description: "bot for tests"},
			{UserID: 123123123, FirstName: "John", LastName: "Doe", JoinTime: 1775626919577, IsOwner: true, IsAdmin: true,
				Permissions: []string{"add_admins", "edit_link"}, Alias: "boss"},
		},
	}
}

func mustRequest(t testing.TB, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
