package participants_test

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/faultline/faultline/service/internal/chat"
	"github.com/faultline/faultline/service/internal/metrics"
	"github.com/faultline/faultline/service/internal/participants"
)

// write is one write a fake received.
type write struct {
	ID    int64
	Count int
	At    time.Time
}

// journal records the order of writes across fakes ("store:1", "cache:1").
type journal struct {
	mu      sync.Mutex
	entries []string
}

func (j *journal) add(s string) {
	if j == nil {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.entries = append(j.entries, s)
}

func (j *journal) all() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.entries)
}

// fakeStore is an in-memory Store. Its zero value is an empty database; the Fail methods
// switch faults on (nil switches them off). It records every UpdateParticipants call.
type fakeStore struct {
	mu        sync.Mutex
	chats     map[int64]chat.Chat
	listErr   error
	getErr    error
	updateErr error
	updates   []write
	journal   *journal
}

func (f *fakeStore) Put(cs ...chat.Chat) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.chats == nil {
		f.chats = make(map[int64]chat.Chat)
	}
	for _, c := range cs {
		f.chats[c.ID] = c
	}
}

func (f *fakeStore) FailList(err error)   { f.mu.Lock(); f.listErr = err; f.mu.Unlock() }
func (f *fakeStore) FailGet(err error)    { f.mu.Lock(); f.getErr = err; f.mu.Unlock() }
func (f *fakeStore) FailUpdate(err error) { f.mu.Lock(); f.updateErr = err; f.mu.Unlock() }

func (f *fakeStore) Updates() []write {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.updates)
}

func (f *fakeStore) Chat(id int64) chat.Chat {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.chats[id]
}

func (f *fakeStore) ListChats(_ context.Context, page chat.Page) ([]chat.Chat, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.listErr != nil {
		return nil, f.listErr
	}
	var out []chat.Chat
	for _, c := range f.chats {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b chat.Chat) int { return int(a.ID - b.ID) })
	out = out[min(page.Offset, len(out)):]
	if page.Limit > 0 {
		out = out[:min(page.Limit, len(out))]
	}
	return out, nil
}

func (f *fakeStore) GetChat(_ context.Context, id int64) (chat.Chat, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.getErr != nil {
		return chat.Chat{}, f.getErr
	}
	c, ok := f.chats[id]
	if !ok {
		return chat.Chat{}, chat.Errorf(chat.ENOTFOUND, "chat %d not found", id)
	}
	return c, nil
}

func (f *fakeStore) UpdateParticipants(_ context.Context, id int64, p chat.Participants) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updates = append(f.updates, write{ID: id, Count: p.Count, At: p.UpdatedAt})
	if f.updateErr != nil {
		return f.updateErr
	}
	f.journal.add(fmt.Sprintf("store:%d", id))
	c, ok := f.chats[id]
	if ok && p.UpdatedAt.After(c.Participants.UpdatedAt) {
		c.Participants = chat.Participants{Count: p.Count, UpdatedAt: p.UpdatedAt, Source: chat.SourceDatabase}
		f.chats[id] = c
	}
	return nil
}

// fakeCache is an in-memory Cache. Its zero value is empty and healthy. It records every
// GetMultiple and every Set call, failed ones included.
type fakeCache struct {
	mu       sync.Mutex
	entries  map[int64]chat.Participants
	backoffs map[int64]time.Time
	getErr   error
	setErr   error
	gets     [][]int64
	sets     []write
	journal  *journal
}

// Backoffs returns the backoffs stored, by chat id.
func (f *fakeCache) Backoffs() map[int64]time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.backoffs)
}

func (f *fakeCache) SetBackoff(_ context.Context, id int64, until time.Time, d time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.setErr != nil {
		return f.setErr
	}
	if d <= 0 {
		return fmt.Errorf("fake cache: backoff of chat %d without a lifetime", id)
	}
	if f.backoffs == nil {
		f.backoffs = make(map[int64]time.Time)
	}
	f.backoffs[id] = until
	return nil
}

func (f *fakeCache) ClearBackoff(_ context.Context, id int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.setErr != nil {
		return f.setErr
	}
	delete(f.backoffs, id)
	return nil
}

func (f *fakeCache) Put(id int64, count int, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.entries == nil {
		f.entries = make(map[int64]chat.Participants)
	}
	f.entries[id] = chat.Participants{Count: count, UpdatedAt: at, Source: chat.SourceCache}
}

// Fail makes every operation fail with err, like a Redis that is down.
func (f *fakeCache) Fail(err error) { f.mu.Lock(); f.getErr, f.setErr = err, err; f.mu.Unlock() }

func (f *fakeCache) Gets() [][]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.gets)
}

func (f *fakeCache) Sets() []write {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sets)
}

func (f *fakeCache) Lookup(_ context.Context, ids []int64) (chat.CacheLookup, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets = append(f.gets, slices.Clone(ids))
	if f.getErr != nil {
		return chat.CacheLookup{}, f.getErr
	}
	out := chat.CacheLookup{Counts: make(map[int64]chat.Participants), Backoffs: make(map[int64]time.Time)}
	for _, id := range ids {
		if p, ok := f.entries[id]; ok {
			out.Counts[id] = p
		}
		if until, ok := f.backoffs[id]; ok {
			out.Backoffs[id] = until
		}
	}
	return out, nil
}

func (f *fakeCache) Set(_ context.Context, id int64, p chat.Participants) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sets = append(f.sets, write{ID: id, Count: p.Count, At: p.UpdatedAt})
	if f.setErr != nil {
		return f.setErr
	}
	f.journal.add(fmt.Sprintf("cache:%d", id))
	if f.entries == nil {
		f.entries = make(map[int64]chat.Participants)
	}
	f.entries[id] = chat.Participants{Count: p.Count, UpdatedAt: p.UpdatedAt, Source: chat.SourceCache}
	return nil
}

// maxError is a MAX failure as the real client reports it.
type maxError struct {
	reason     string
	retryAfter time.Duration
}

func (e *maxError) Error() string             { return "fake max: " + e.reason }
func (e *maxError) Reason() string            { return e.reason }
func (e *maxError) RetryAfter() time.Duration { return e.retryAfter }

// fakeMax is an in-memory ChatInfoGetter. Its zero value knows no chat (not_found).
// Fail switches a fault on for every chat, Block holds calls until released or
// cancelled.
type fakeMax struct {
	mu        sync.Mutex
	counts    map[int64]int
	err       error
	gate      chan struct{}
	calls     []int64
	cancelled int
}

func (f *fakeMax) SetCount(maxChatID int64, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.counts == nil {
		f.counts = make(map[int64]int)
	}
	f.counts[maxChatID] = n
}

func (f *fakeMax) Fail(err error) { f.mu.Lock(); f.err = err; f.mu.Unlock() }

// Block makes calls wait; the returned function releases them.
func (f *fakeMax) Block() (release func()) {
	gate := make(chan struct{})
	f.mu.Lock()
	f.gate = gate
	f.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			f.gate = nil
			f.mu.Unlock()
			close(gate)
		})
	}
}

func (f *fakeMax) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *fakeMax) Cancelled() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cancelled
}

func (f *fakeMax) ParticipantsCount(ctx context.Context, maxChatID int64) (int, error) {
	f.mu.Lock()
	f.calls = append(f.calls, maxChatID)
	gate := f.gate
	f.mu.Unlock()
	if _, ok := ctx.Deadline(); !ok {
		return 0, fmt.Errorf("fake max: call without a deadline")
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			f.mu.Lock()
			f.cancelled++
			f.mu.Unlock()
			return 0, fmt.Errorf("fake max: %w", ctx.Err())
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return 0, f.err
	}
	n, ok := f.counts[maxChatID]
	if !ok {
		return 0, &maxError{reason: "not_found"}
	}
	return n, nil
}

// fakeClock is a Clock that moves only when told to.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []clockWaiter
}

type clockWaiter struct {
	at time.Time
	ch chan time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, clockWaiter{at: c.now.Add(d), ch: ch})
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = kept
}

// Waiters is the number of After channels that have not fired.
func (c *fakeClock) Waiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// logRecord is one captured log record with its attributes flattened to strings.
type logRecord struct {
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

// logCapture is a slog.Handler that keeps every record, at every level.
type logCapture struct {
	mu      *sync.Mutex
	records *[]logRecord
	attrs   []slog.Attr
	// onRecord, when set, sees each record as it is logged, outside the capture's lock, so
	// a test can look at the service at the moment it logs.
	onRecord *func(logRecord)
}

func newLogCapture() *logCapture {
	return &logCapture{mu: &sync.Mutex{}, records: &[]logRecord{}, onRecord: new(func(logRecord))}
}

// OnRecord sets the function that sees each record as it is logged.
func (h *logCapture) OnRecord(f func(logRecord)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.onRecord = f
}

func (h *logCapture) Enabled(context.Context, slog.Level) bool { return true }

func (h *logCapture) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{Level: r.Level, Msg: r.Message, Attrs: map[string]string{}}
	add := func(a slog.Attr) bool {
		rec.Attrs[a.Key] = a.Value.Resolve().String()
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	h.mu.Lock()
	*h.records = append(*h.records, rec)
	hook := *h.onRecord
	h.mu.Unlock()
	if hook != nil {
		hook(rec)
	}
	return nil
}

func (h *logCapture) WithAttrs(as []slog.Attr) slog.Handler {
	return &logCapture{mu: h.mu, records: h.records, attrs: append(slices.Clone(h.attrs), as...), onRecord: h.onRecord}
}

func (h *logCapture) WithGroup(string) slog.Handler { return h }

// Find returns the records with message msg.
func (h *logCapture) Find(msg string) []logRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []logRecord
	for _, r := range *h.records {
		if r.Msg == msg {
			out = append(out, r)
		}
	}
	return out
}

// requireLog checks that exactly one record with msg exists at level, with the attributes
// of want (and possibly others).
func requireLog(t testing.TB, logs *logCapture, level slog.Level, msg string, want map[string]string) {
	t.Helper()
	recs := logs.Find(msg)
	if len(recs) != 1 {
		t.Fatalf("%d %q log records, want 1: %+v", len(recs), msg, recs)
	}
	r := recs[0]
	if r.Level != level {
		t.Errorf("%q logged at %v, want %v", msg, r.Level, level)
	}
	for k, v := range want {
		if got, ok := r.Attrs[k]; !ok || got != v {
			t.Errorf("%q attr %s = %q (present %v), want %q; all: %v", msg, k, got, ok, v, r.Attrs)
		}
	}
}

// The instants of the tests: now, a fresh and a stale cache entry, the stored row.
var (
	t0      = time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	freshAt = t0.Add(-10 * time.Minute)
	staleAt = t0.Add(-2 * time.Hour)
	dbAt    = t0.Add(-3 * time.Hour)
)

// env is a service over fakes.
type env struct {
	store   *fakeStore
	cache   *fakeCache
	max     *fakeMax
	clock   *fakeClock
	logs    *logCapture
	m       *metrics.Metrics
	svc     *participants.Service
	journal *journal
	stopRun func()
}

func testConfig(clock participants.Clock) participants.Config {
	return participants.Config{
		StaleAfter:      time.Hour,
		CacheTTL:        24 * time.Hour,
		LazyUpdate:      true,
		Policy:          participants.PolicyFallback,
		Workers:         2,
		QueueSize:       16,
		RateLimit:       math.Inf(1),
		MaxTimeout:      time.Second,
		BreakerFailures: 3,
		BreakerCooldown: time.Hour,
		// The racing-writer tests seed another replica's observation a minute ahead;
		// the clock skew tests set their own allowance.
		ClockSkewMax: time.Hour,
		Clock:        clock,
	}
}

func newEnv(t testing.TB, configure ...func(*participants.Config)) *env {
	t.Helper()
	j := &journal{}
	e := &env{
		store:   &fakeStore{journal: j},
		cache:   &fakeCache{journal: j},
		max:     &fakeMax{},
		clock:   &fakeClock{now: t0},
		logs:    newLogCapture(),
		m:       metrics.New(prometheus.NewRegistry()),
		journal: j,
		stopRun: func() {},
	}
	cfg := testConfig(e.clock)
	for _, f := range configure {
		f(&cfg)
	}
	e.svc = participants.NewService(e.store, e.cache, e.max, slog.New(e.logs), e.m, cfg)
	return e
}

// run starts the background refresher; it stops when the test ends or on e.stopRun.
func (e *env) run(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.svc.Run(ctx) }()
	var once sync.Once
	e.stopRun = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Errorf("Run did not return after cancellation")
			}
		})
	}
	t.Cleanup(e.stopRun)
}

func (e *env) fallback(reason string) float64 {
	return testutil.ToFloat64(e.m.FallbackUsage.WithLabelValues(reason))
}
func (e *env) maxErrors(reason string) float64 {
	return testutil.ToFloat64(e.m.MaxAPIErrors.WithLabelValues(reason))
}
func (e *env) refreshes(result string) float64 {
	return testutil.ToFloat64(e.m.RefreshTotal.WithLabelValues(result))
}
func (e *env) dropped(reason string) float64 {
	return testutil.ToFloat64(e.m.RefreshDropped.WithLabelValues(reason))
}
func (e *env) queueLen() float64 { return testutil.ToFloat64(e.m.RefreshQueueLen) }
func (e *env) breakerState() float64 {
	return testutil.ToFloat64(e.m.BreakerState.WithLabelValues(metrics.DepMaxAPI))
}

// eventually polls cond until it holds or a generous deadline passes.
func eventually(t testing.TB, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until "+format, args...)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// goroutinesIn counts goroutine stack frames whose function text contains fn.
func goroutinesIn(fn string) int {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	return strings.Count(string(buf[:n]), fn)
}

func linked(id, maxID int64, count int, at time.Time) chat.Chat {
	return chat.Chat{ID: id, Name: fmt.Sprintf("chat %d", id), MaxChatID: maxID,
		Participants: chat.Participants{Count: count, UpdatedAt: at, Source: chat.SourceDatabase}}
}

func unlinked(id int64, count int, at time.Time) chat.Chat {
	return chat.Chat{ID: id, Name: fmt.Sprintf("chat %d", id),
		Participants: chat.Participants{Count: count, UpdatedAt: at, Source: chat.SourceDatabase}}
}
