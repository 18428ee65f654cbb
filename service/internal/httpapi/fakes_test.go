package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/faultline/faultline/service/internal/chat"
	"github.com/faultline/faultline/service/internal/logcapture"
	"github.com/faultline/faultline/service/internal/metrics"
)

// fakeChats is an in-memory ChatService. Its zero value knows no chats. Err, when set, is
// returned by every call; Panic makes every call panic.
type fakeChats struct {
	mu       sync.Mutex
	Chats    []chat.Chat
	Err      error
	Panic    bool
	Unlinked map[int64]bool
	lastPage chat.Page
	calls    int
}

func (f *fakeChats) List(_ context.Context, page chat.Page) ([]chat.Chat, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.lastPage = page
	if f.Panic {
		panic("boom")
	}
	if f.Err != nil {
		return nil, f.Err
	}
	var out []chat.Chat
	for i, c := range f.Chats {
		if i >= page.Offset && len(out) < page.Limit {
			out = append(out, c)
		}
	}
	return out, nil
}

func (f *fakeChats) find(id int64) (chat.Chat, error) {
	for _, c := range f.Chats {
		if c.ID == id {
			return c, nil
		}
	}
	return chat.Chat{}, chat.Errorf(chat.ENOTFOUND, "chat %d not found", id)
}

func (f *fakeChats) Get(_ context.Context, id int64) (chat.Chat, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.Panic {
		panic("boom")
	}
	if f.Err != nil {
		return chat.Chat{}, f.Err
	}
	return f.find(id)
}

func (f *fakeChats) Refresh(_ context.Context, id int64) (chat.Chat, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.Err != nil {
		return chat.Chat{}, f.Err
	}
	c, err := f.find(id)
	if err != nil {
		return c, err
	}
	if !c.Linked() {
		return chat.Chat{}, chat.Errorf(chat.ECONFLICT, "chat %d is not linked to MAX", id)
	}
	c.Participants.Source = chat.SourceAPI
	return c, nil
}

// fakePinger answers Ping with Err, or blocks until the context ends when Hang is set.
// Started, when not nil, receives a value as each Ping begins.
type fakePinger struct {
	Err     error
	Hang    bool
	Started chan<- struct{}
	// WaitFor, when not nil, makes Ping wait for a value (or the context) before answering.
	WaitFor <-chan struct{}
	// SawOther is set when WaitFor delivered before the context ended.
	SawOther bool

	mu       sync.Mutex // guards Err once a test changes it while pings run
	calls    atomic.Int64
	failures atomic.Uint64
}

// Calls is the number of pings so far.
func (p *fakePinger) Calls() int64 { return p.calls.Load() }

// Failures implements FailureCounter: the failures callers saw, as counted by SawFailure.
func (p *fakePinger) Failures() uint64 { return p.failures.Load() }

// SawFailure records that a caller saw the dependency fail.
func (p *fakePinger) SawFailure() { p.failures.Add(1) }

// SetErr changes the answer of later pings; safe while pings run.
func (p *fakePinger) SetErr(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.Err = err
}

func (p *fakePinger) Ping(ctx context.Context) error {
	p.calls.Add(1)
	if p.Started != nil {
		p.Started <- struct{}{}
	}
	if p.WaitFor != nil {
		select {
		case <-p.WaitFor:
			p.SawOther = true
		case <-ctx.Done():
		}
	}
	if p.Hang {
		<-ctx.Done()
		return fmt.Errorf("ping: %w", ctx.Err())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.Err
}

type fakeMax string

func (f fakeMax) Health() string { return string(f) }

// testEnv is an API wired to fakes.
type testEnv struct {
	api     *API
	chats   *fakeChats
	db      *fakePinger
	redis   *fakePinger
	reg     *prometheus.Registry
	metrics *metrics.Metrics
	logs    *logcapture.Buffer
}

var testNow = time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)

// newTestEnv returns an API over fakes; configure changes its Config before it is built.
func newTestEnv(t testing.TB, max MaxHealth, configure ...func(*Config)) *testEnv {
	t.Helper()
	e := &testEnv{
		chats: &fakeChats{Chats: sampleChats()},
		db:    &fakePinger{},
		redis: &fakePinger{},
		reg:   prometheus.NewRegistry(),
		logs:  &logcapture.Buffer{},
	}
	e.metrics = metrics.New(e.reg)
	cfg := Config{
		DatabaseTimeout: 100 * time.Millisecond,
		RedisTimeout:    100 * time.Millisecond,
		Now:             func() time.Time { return testNow },
	}
	for _, f := range configure {
		f(&cfg)
	}
	e.api = New(Deps{
		Chats:    e.chats,
		Database: e.db,
		Redis:    e.redis,
		Max:      max,
		Metrics:  e.metrics,
		Gatherer: e.reg,
		Logger:   slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}, cfg)
	return e
}

func sampleChats() []chat.Chat {
	return []chat.Chat{
		{ID: 1, Name: "general", MaxChatID: -100, Participants: chat.Participants{
			Count: 42, UpdatedAt: time.Date(2026, 6, 30, 10, 0, 0, 123456789, time.FixedZone("x", 3*3600)), Source: chat.SourceCache}},
		{ID: 2, Name: "unlinked", Participants: chat.Participants{Source: chat.SourceDatabase}},
		{ID: 3, Name: "api", MaxChatID: -300, Participants: chat.Participants{
			Count: 7, UpdatedAt: time.Date(2026, 7, 1, 11, 0, 0, 0, time.UTC), Source: chat.SourceAPI}},
	}
}

// do sends a request with the given method, path and raw query straight to the handler.
// It builds the URL field by field, so any string can be tried without parsing.
func (e *testEnv) do(method, path, rawQuery string) *httptest.ResponseRecorder {
	req := httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/", nil)
	req.Method = method
	req.URL.Path = path
	req.URL.RawPath = ""
	req.URL.RawQuery = rawQuery
	rec := httptest.NewRecorder()
	e.api.ServeHTTP(rec, req)
	return rec
}

// decodeError returns the code and message of a JSON error response, failing the test
// when the body is not the contract's error shape.
func decodeError(t testing.TB, rec *httptest.ResponseRecorder) (string, string) {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var body struct {
		Error *struct {
			Code    *string `json:"code"`
			Message *string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("error body %q is not JSON: %v", rec.Body.String(), err)
	}
	if body.Error == nil || body.Error.Code == nil || body.Error.Message == nil {
		t.Fatalf("error body %q lacks error.code or error.message", rec.Body.String())
	}
	return *body.Error.Code, *body.Error.Message
}

var errBoom = errors.New("boom: password=hunter2 at 10.0.0.1")
