// Package participants enriches chats with participant counts: it serves the newest of
// the cached and the stored count, refreshes stale or unknown counts from MAX in the
// background, and degrades to database data when the cache or MAX fails, saying so in
// metrics and logs.
package participants

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"github.com/faultline/faultline/service/internal/chat"
	"github.com/faultline/faultline/service/internal/metrics"
)

// Store is the database of chats.
type Store interface {
	// ListChats returns a page of chats in id order with their stored counts.
	ListChats(ctx context.Context, page chat.Page) ([]chat.Chat, error)
	// GetChat returns one chat, or a *chat.Error not_found.
	GetChat(ctx context.Context, id int64) (chat.Chat, error)
	// UpdateParticipants stores p for chat id unless the stored count is newer.
	UpdateParticipants(ctx context.Context, id int64, p chat.Participants) error
}

// Cache holds recently fetched participant counts, and the chats whose refreshes are
// backed off, shared by every replica.
type Cache interface {
	// Lookup returns, in one read, the entries of ids that exist (with Source cache;
	// missing ids are absent) and the backoffs of ids.
	Lookup(ctx context.Context, ids []int64) (chat.CacheLookup, error)
	// Set stores p for chat id.
	Set(ctx context.Context, id int64, p chat.Participants) error
	// SetBackoff suspends the refreshes of chat id until until, d from now.
	SetBackoff(ctx context.Context, id int64, until time.Time, d time.Duration) error
	// ClearBackoff lifts the backoff of chat id.
	ClearBackoff(ctx context.Context, id int64) error
}

// ChatInfoGetter asks MAX for a chat's participant count.
type ChatInfoGetter interface {
	ParticipantsCount(ctx context.Context, maxChatID int64) (int, error)
}

// Values of log attributes and metric labels that are part of the service's contract.
const (
	msgFallback      = "Using fallback data source"
	msgMaxFailed     = "MAX API call failed"
	msgBreakerChange = "Circuit breaker state changed"
	msgRefreshed     = "Participants refreshed"

	reasonCircuitOpen = "circuit_open"
	// reasonLocalRateLimit is a refresh the service's own rate limiter refused: MAX was
	// not asked, so it is neither a MAX failure nor a sign of MAX's health.
	reasonLocalRateLimit = metrics.ReasonLocalRateLimit
	// reasonRefreshedElsewhere is a background refresh another replica made or is making.
	reasonRefreshedElsewhere = metrics.ReasonRefreshedElsewhere
	reasonMalformed          = "malformed"
	reasonTimeout            = "timeout"
	reasonConnection         = "connection"
	reasonRateLimited        = "rate_limited"
	reasonNotFound           = "not_found"
	reasonClientError        = "client_error"

	sourceMixed = "mixed"
)

// msgRefused is logged (at debug) for a refresh refused without asking MAX.
const msgRefused = "Participants refresh refused"

// Retry-After pauses: MAX's value is capped so that a bogus header cannot stop refreshes
// for long, and a 429 without one still backs off briefly.
const (
	defaultPause = time.Second
	maxPause     = time.Minute
)

// Service enriches chats with participant counts and refreshes them from MAX.
type Service struct {
	store Store
	cache Cache
	max   ChatInfoGetter
	log   *slog.Logger
	m     *metrics.Metrics
	cfg   Config
	clock Clock

	// limiter is this replica's share of the rate limit (Config.LocalShare), used when Quota
	// is nil or cannot be asked.
	limiter *rate.Limiter
	// quota is whether the last ask of the shared quota failed, and the signal of its return.
	quota   quotaState
	breaker *gobreaker.CircuitBreaker[int]
	flight  singleflight.Group
	queue   chan job

	mu          sync.Mutex
	pending     map[int64]struct{} // queued or being refreshed in the background
	pausedUntil time.Time
	// backoffs are the chats whose refreshes are suspended, each until when: set here, or
	// learnt from the cache, so they hold while the cache cannot be read.
	backoffs map[int64]time.Time

	// base is cancelled when Run ends; every refresh runs under it, so shutdown cancels
	// synchronous and background refreshes alike.
	base     context.Context
	stop     context.CancelFunc
	running  atomic.Bool
	tasksMu  sync.Mutex
	tasksEnd bool
	tasks    sync.WaitGroup
}

type job struct {
	id        int64
	maxChatID int64
}

// NewService returns a service over its dependencies. Call Run to start the background
// refresher; List, Get and Refresh work without it, but queued refreshes wait for it.
func NewService(store Store, cache Cache, maxAPI ChatInfoGetter, log *slog.Logger, m *metrics.Metrics, cfg Config) *Service {
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{
		store:    store,
		cache:    cache,
		max:      maxAPI,
		log:      log,
		m:        m,
		cfg:      cfg,
		clock:    cfg.Clock,
		limiter:  rate.NewLimiter(rate.Limit(cfg.LocalShare()), 1),
		queue:    make(chan job, cfg.QueueSize),
		pending:  make(map[int64]struct{}),
		backoffs: make(map[int64]time.Time),
	}
	s.base, s.stop = context.WithCancel(context.Background())
	s.breaker = gobreaker.NewCircuitBreaker[int](gobreaker.Settings{
		Name:        metrics.DepMaxAPI,
		MaxRequests: 1,
		Timeout:     cfg.BreakerCooldown,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return int(c.ConsecutiveFailures) >= cfg.BreakerFailures
		},
		IsSuccessful:  breakerSuccess,
		IsExcluded:    breakerExcluded,
		OnStateChange: s.breakerChanged,
	})
	m.RefreshQueueCap.Set(float64(cfg.QueueSize))
	m.RefreshQueueLen.Set(0)
	m.BreakerState.WithLabelValues(metrics.DepMaxAPI).Set(metrics.BreakerClosed)
	return s
}

// List returns a page of chats with the best participant data available, and queues
// background refreshes for linked chats whose cache entry is missing or whose data is
// unknown or stale. It never waits
// for MAX.
func (s *Service) List(ctx context.Context, page chat.Page) ([]chat.Chat, error) {
	chats, err := s.store.ListChats(ctx, page)
	if err != nil {
		return nil, fmt.Errorf("list chats: %w", err)
	}
	if err := s.enrich(ctx, chats); err != nil {
		return nil, fmt.Errorf("list chats: %w", err)
	}
	s.m.DataFreshness.Set(oldestAge(chats, s.clock.Now()).Seconds())
	return chats, nil
}

// Get returns one chat with the best participant data available, like List.
func (s *Service) Get(ctx context.Context, id int64) (chat.Chat, error) {
	c, err := s.store.GetChat(ctx, id)
	if err != nil {
		return chat.Chat{}, fmt.Errorf("get chat %d: %w", id, err)
	}
	one := []chat.Chat{c}
	if err := s.enrich(ctx, one); err != nil {
		return chat.Chat{}, fmt.Errorf("get chat %d: %w", id, err)
	}
	return one[0], nil
}

// Refresh fetches chat id's count from MAX now, writes it to the database and then the
// cache, and returns the chat with source api. When MAX fails or is short-circuited it
// returns the stored data (source database) and no error, having written nothing. An
// unknown chat is a *chat.Error not_found, an unlinked one conflict. Refresh works
// whether or not lazy updates are on: it is an explicit request.
func (s *Service) Refresh(ctx context.Context, id int64) (chat.Chat, error) {
	c, err := s.store.GetChat(ctx, id)
	if err != nil {
		return chat.Chat{}, fmt.Errorf("refresh chat %d: %w", id, err)
	}
	c.Participants.Source = chat.SourceDatabase
	if !c.Linked() {
		return chat.Chat{}, chat.Errorf(chat.ECONFLICT, "chat %d is not linked to a MAX chat", id)
	}
	p, err := s.refreshShared(ctx, c, false)
	if err == nil {
		// The database may hold a newer observation than MAX's answer (another replica
		// refreshed later, a slow answer lost the race): it was kept, and it is served.
		// One from beyond the clock skew allowance was overwritten, as the store does.
		stored := c.Participants
		if !stored.Known() || stored.UpdatedAt.Before(p.UpdatedAt) || s.fromTheFuture(stored.UpdatedAt, p.UpdatedAt) {
			c.Participants = p
		}
		return c, nil
	}
	var f *refreshError
	if !errors.As(err, &f) {
		return chat.Chat{}, fmt.Errorf("refresh chat %d: %w", id, err)
	}
	c.Participants, _ = s.clamp(c.Participants, s.clock.Now(), "database")
	switch f.reason {
	case reasonCircuitOpen:
		// Nothing was called, so nothing was counted yet: this request's refresh failed.
		s.countMaxFailure(ctx, c, f.reason, f.err)
	case reasonLocalRateLimit:
		// Our own budget ran out, not MAX: counted as a refresh not made, never as a MAX
		// failure, so a flood of refresh requests does not report a healthy MAX down.
		s.m.RefreshDropped.WithLabelValues(metrics.ReasonLocalRateLimit).Inc()
		s.log.DebugContext(ctx, msgRefused, "chat_id", c.ID, "reason", f.reason, "error", f.err.Error())
	}
	s.m.FallbackUsage.WithLabelValues(metrics.ReasonMaxAPIUnavailable).Inc()
	s.log.WarnContext(ctx, msgFallback,
		"reason", metrics.ReasonMaxAPIUnavailable,
		"chat_count", 1,
		"fallback_source", string(chat.SourceDatabase),
		"error", f.Error())
	return c, nil
}

// enrich sets the served participant data of chats in place and schedules refreshes.
func (s *Service) enrich(ctx context.Context, chats []chat.Chat) error {
	for i := range chats {
		chats[i].Participants.Source = chat.SourceDatabase
	}
	if !s.cfg.LazyUpdate {
		return nil
	}
	var ids []int64
	for _, c := range chats {
		if c.Linked() {
			ids = append(ids, c.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	lookup, err := s.cache.Lookup(ctx, ids)
	cached := lookup.Counts
	cacheRead := err == nil
	if cacheRead {
		s.syncBackoffs(ids, lookup.Backoffs)
	}
	if err != nil {
		if s.cfg.Policy == PolicyFail {
			return chat.Wrap(fmt.Errorf("get cached participants: %w", err),
				chat.ECACHEUNAVAILABLE, "participants cache unavailable")
		}
		s.m.FallbackUsage.WithLabelValues(metrics.ReasonCacheUnavailable).Inc()
		s.log.WarnContext(ctx, msgFallback,
			"reason", metrics.ReasonCacheUnavailable,
			"chat_count", len(chats),
			"fallback_source", string(chat.SourceDatabase),
			"error", err.Error())
		cached = nil
	}

	now := s.clock.Now()
	var stale []chat.Chat
	for i := range chats {
		c := &chats[i]
		if !c.Linked() {
			continue
		}
		// Observation times from beyond the clock skew allowance are served as now and
		// refreshed: trusted, they would look fresh until the clock caught up.
		var dbFuture, cacheFuture bool
		c.Participants, dbFuture = s.clamp(c.Participants, now, "database")
		p, hit := cached[c.ID]
		if hit {
			p, cacheFuture = s.clamp(p, now, "cache")
		}
		// Serve the newer of cache and database; on a tie the cache, which is what a
		// successful refresh wrote last.
		if hit && !p.UpdatedAt.Before(c.Participants.UpdatedAt) {
			p.Source = chat.SourceCache
			c.Participants = p
		}
		// A readable cache without the entry is refilled from MAX even when the database
		// row is fresh: the contract refreshes every missing entry, so a cold cache warms
		// up by itself. While the cache is unreadable only the served data's age counts.
		missing := cacheRead && !hit
		if missing || dbFuture || cacheFuture || !c.Participants.Known() || now.Sub(c.Participants.UpdatedAt) > s.cfg.StaleAfter {
			stale = append(stale, *c)
		}
	}
	s.scheduleRefresh(ctx, stale)
	return nil
}

// scheduleRefresh queues background refreshes of stale, unless MAX is short-circuited:
// then the stale data served is a fallback, and queueing calls that would be refused
// only fills the queue.
func (s *Service) scheduleRefresh(ctx context.Context, stale []chat.Chat) {
	stale = s.skipBackedOff(ctx, stale)
	if len(stale) == 0 {
		return
	}
	if why := s.maxUnavailable(); why != nil {
		s.m.RefreshDropped.WithLabelValues(metrics.ReasonMaxAPIUnavailable).Add(float64(len(stale)))
		s.m.FallbackUsage.WithLabelValues(metrics.ReasonMaxAPIUnavailable).Inc()
		s.log.WarnContext(ctx, msgFallback,
			"reason", metrics.ReasonMaxAPIUnavailable,
			"chat_count", len(stale),
			"fallback_source", servedFrom(stale),
			"error", why.Error())
		return
	}
	for _, c := range stale {
		s.enqueue(ctx, c)
	}
}

// enqueue queues a background refresh of c without blocking. A chat already queued or
// being refreshed is not queued again.
func (s *Service) enqueue(ctx context.Context, c chat.Chat) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.pending[c.ID]; ok {
		return
	}
	select {
	case s.queue <- job{id: c.ID, maxChatID: c.MaxChatID}:
		s.pending[c.ID] = struct{}{}
		s.m.RefreshQueueLen.Set(float64(len(s.queue)))
	default:
		s.m.RefreshDropped.WithLabelValues(metrics.ReasonQueueFull).Inc()
		s.log.DebugContext(ctx, "Refresh queue full", "chat_id", c.ID)
	}
}

// servedFrom names the source the chats were served from: cache, database or mixed.
func servedFrom(chats []chat.Chat) string {
	src := string(chats[0].Participants.Source)
	for _, c := range chats[1:] {
		if string(c.Participants.Source) != src {
			return sourceMixed
		}
	}
	return src
}

// fromTheFuture reports whether an observation time lies further ahead of ref than the
// clock skew allowance: a replica whose clock runs ahead wrote it.
func (s *Service) fromTheFuture(at, ref time.Time) bool {
	return at.After(ref.Add(s.cfg.ClockSkewMax))
}

// clamp returns p observed at now when its time is from the future (see fromTheFuture),
// counting it by where it was read, and whether it did.
func (s *Service) clamp(p chat.Participants, now time.Time, source string) (chat.Participants, bool) {
	if !p.Known() || !s.fromTheFuture(p.UpdatedAt, now) {
		return p, false
	}
	s.m.FutureTimestamps.WithLabelValues(source).Inc()
	p.UpdatedAt = now.UTC().Truncate(time.Microsecond)
	return p, true
}

// oldestAge is the age of the oldest known participant data among chats linked to MAX.
// Unlinked chats are left out: their counts are never refreshed, so their age would say
// nothing about the refresh path and would keep a staleness alert firing for ever.
func oldestAge(chats []chat.Chat, now time.Time) time.Duration {
	var oldest time.Duration
	for _, c := range chats {
		if !c.Linked() {
			continue
		}
		if age := c.Participants.Age(now); age > oldest {
			oldest = age
		}
	}
	return oldest
}

// maxUnavailable refuses MAX calls without trying while they are paused after a 429 or the
// breaker is open; nil when they are not.
func (s *Service) maxUnavailable() *refreshError {
	if s.paused() {
		return s.pausedError()
	}
	if s.breaker.State() == gobreaker.StateOpen {
		return shortCircuit("circuit breaker open")
	}
	return nil
}

// pausedError refuses a MAX call during a Retry-After pause; it wraps errPaused, so a queued
// refresh can wait the pause out and try again.
func (s *Service) pausedError() *refreshError {
	s.mu.Lock()
	until := s.pausedUntil
	s.mu.Unlock()
	return &refreshError{reason: reasonCircuitOpen, err: fmt.Errorf("%w until %s: %w", errPaused,
		until.UTC().Format(time.RFC3339), chat.ErrShortCircuited)}
}

// refreshError is a refresh that MAX did not answer usefully, or that was refused without
// calling MAX: reason circuit_open when MAX is short-circuited, local_rate_limit when the
// service's own rate limit has no room for it.
type refreshError struct {
	reason string
	err    error
}

func (f *refreshError) Error() string  { return fmt.Sprintf("MAX API %s: %v", f.reason, f.err) }
func (f *refreshError) Unwrap() error  { return f.err }
func (f *refreshError) Reason() string { return f.reason }

func shortCircuit(why string) *refreshError {
	return &refreshError{reason: reasonCircuitOpen, err: fmt.Errorf("%s: %w", why, chat.ErrShortCircuited)}
}

// errLocalRateLimit is the cause of a refresh refused by the service's own MAX rate limit.
var errLocalRateLimit = errors.New("local MAX rate limit")

// errTaken refuses a background refresh of a chat another replica refreshes or just did.
var errTaken = &refreshError{reason: reasonRefreshedElsewhere,
	err: errors.New("another replica refreshes the chat or just did")}

func localRateLimit(why string) *refreshError {
	return &refreshError{reason: reasonLocalRateLimit, err: fmt.Errorf("%w: %s", errLocalRateLimit, why)}
}

// reasonOf classifies a MAX error. The client's errors say their reason; anything else
// is a call that got no usable answer.
func reasonOf(err error) string {
	var r interface{ Reason() string }
	if errors.As(err, &r) {
		return r.Reason()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return reasonTimeout
	}
	return reasonConnection
}

func retryAfterOf(err error) time.Duration {
	var r interface{ RetryAfter() time.Duration }
	if errors.As(err, &r) {
		return r.RetryAfter()
	}
	return 0
}

// reasonError gives a locally detected MAX problem a reason, like the client's errors.
type reasonError struct {
	reason string
	msg    string
}

func (e *reasonError) Error() string  { return e.msg }
func (e *reasonError) Reason() string { return e.reason }

// key formats a chat id as a singleflight key.
func key(id int64) string { return strconv.FormatInt(id, 10) }
