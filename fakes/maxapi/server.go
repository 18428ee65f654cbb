package maxapi

import (
	"crypto/subtle"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultRateLimit is the per-token request rate (requests per second) the
// real API allows, and the fake's default.
const DefaultRateLimit = 30

// DefaultJournalLimit is how many calls the journal keeps by default; older
// calls are dropped, counters keep counting.
const DefaultJournalLimit = 10000

// AdminPrefix is the path prefix of the admin HTTP API served next to the fake
// API. The real API has no such path, so a client cannot reach it by mistake.
const AdminPrefix = "/_fake/"

// Option configures a Server built by NewServer. Options describe the state
// that Reset returns to.
type Option func(*settings)

// settings is what options set and Reset restores.
type settings struct {
	token        string
	rateLimit    int
	rateLimitSet bool
	now          func() time.Time
	bot          *Bot
	chats        []Chat
	journalLimit int
}

// WithToken makes the fake accept only token in the Authorization header.
// Without it (or with an empty token) any non-empty token that does not start
// with "Bearer " is accepted.
func WithToken(token string) Option { return func(s *settings) { s.token = token } }

// WithRateLimit sets the per-token limit in requests per second; zero or a
// negative value turns rate limiting off.
func WithRateLimit(perSecond int) Option {
	return func(s *settings) { s.rateLimit, s.rateLimitSet = perSecond, true }
}

// WithClock sets the clock used for the rate limit, the journal and default
// timestamps, so tests can be deterministic. now must be safe for concurrent
// use and must not call the Server. Latency and Hang faults use real time.
func WithClock(now func() time.Time) Option { return func(s *settings) { s.now = now } }

// WithBot sets the bot that GET /me describes.
func WithBot(b Bot) Option { return func(s *settings) { bb := b.clone(); s.bot = &bb } }

// WithChats adds chats (with their members) to the initial state.
func WithChats(chats ...Chat) Option {
	return func(s *settings) {
		for _, c := range chats {
			s.chats = append(s.chats, c.clone())
		}
	}
}

// WithSeed adds the bot and chats of a seed to the initial state.
func WithSeed(seed Seed) Option {
	return func(s *settings) {
		if seed.Bot != nil {
			WithBot(*seed.Bot)(s)
		}
		WithChats(seed.Chats...)(s)
	}
}

// WithJournalLimit sets how many calls the journal keeps (DefaultJournalLimit
// when zero or negative).
func WithJournalLimit(n int) Option { return func(s *settings) { s.journalLimit = n } }

// Server is the fake MAX Bot API. It is an http.Handler; its zero value is
// ready for use and behaves as NewServer() with no options. All methods are
// safe for concurrent use.
type Server struct {
	mu      sync.Mutex
	started bool
	base    settings // from NewServer; Reset restores it
	cfg     settings // current

	chats map[int64]Chat
	bot   Bot

	faults    []*installedFault
	nextFault FaultID

	journal    []Call
	nextSeq    int64
	byEndpoint map[string]int
	byPath     map[string]int

	windows map[string][]time.Time // rate limit: recent admitted requests per token

	// release is closed to let requests held by Hang faults go; it is
	// replaced by a fresh channel afterwards.
	release chan struct{}
	closed  bool

	adminOnce sync.Once
	admin     *http.ServeMux
}

type installedFault struct {
	id        FaultID
	fault     Fault
	remaining int
	applied   int
}

// NewServer returns a fake configured by opts. It panics if an option carries
// a chat or bot the real API could not produce (see ParseSeed to check a seed
// first): a broken fixture is a bug in the test.
func NewServer(opts ...Option) *Server {
	s := &Server{}
	for _, o := range opts {
		o(&s.base)
	}
	now := s.base.clock()
	for i, c := range s.base.chats {
		nc, err := c.normalize(now().UnixMilli())
		if err != nil {
			panic(fmt.Sprintf("maxapi.NewServer: %v", err))
		}
		s.base.chats[i] = nc
	}
	if s.base.bot != nil {
		if err := s.base.bot.validate(); err != nil {
			panic(fmt.Sprintf("maxapi.NewServer: %v", err))
		}
	}
	if dup := duplicateChat(s.base.chats); dup != 0 {
		panic(fmt.Sprintf("maxapi.NewServer: chat %d given twice", dup))
	}
	s.mu.Lock()
	s.resetLocked()
	s.mu.Unlock()
	return s
}

func duplicateChat(chats []Chat) int64 {
	seen := make(map[int64]bool, len(chats))
	for _, c := range chats {
		if seen[c.ID] {
			return c.ID
		}
		seen[c.ID] = true
	}
	return 0
}

func (s *settings) clock() func() time.Time {
	if s.now != nil {
		return s.now
	}
	return time.Now
}

func (s *settings) limit() int {
	if !s.rateLimitSet {
		return DefaultRateLimit
	}
	return s.rateLimit
}

// lock takes the mutex and initialises a zero-value Server on first use.
func (s *Server) lock() {
	s.mu.Lock()
	if !s.started {
		s.resetLocked()
	}
}

// resetLocked rebuilds the state from s.base and releases held requests.
func (s *Server) resetLocked() {
	s.started = true
	s.cfg = s.base
	s.cfg.chats = nil
	s.chats = make(map[int64]Chat, len(s.base.chats))
	for _, c := range s.base.chats {
		s.chats[c.ID] = c.clone()
	}
	s.bot = DefaultBot()
	if s.base.bot != nil {
		s.bot = s.base.bot.clone()
	}
	s.faults = nil
	s.journal = nil
	s.byEndpoint = map[string]int{}
	s.byPath = map[string]int{}
	s.windows = map[string][]time.Time{}
	s.releaseLocked()
}

// releaseLocked lets every request held by a Hang fault go.
func (s *Server) releaseLocked() {
	if s.release != nil {
		close(s.release)
	}
	s.release = make(chan struct{})
}

func (s *Server) nowLocked() time.Time { return s.cfg.clock()() }

// Reset returns the fake to the state NewServer built it in (for a zero-value
// Server: no chats, the default bot, any token, 30 requests per second): it
// drops chats, faults, the journal, counters and rate-limit history, undoes
// SetToken/SetRateLimit/SetClock/SetBot, and releases requests held by Hang
// faults. Close is not undone.
func (s *Server) Reset() {
	s.lock()
	defer s.mu.Unlock()
	s.resetLocked()
}

// Close releases every request held by a Hang fault, now and later, so that an
// http.Server (or httptest.Server) serving the fake can shut down. The fake
// keeps answering requests.
func (s *Server) Close() {
	s.lock()
	defer s.mu.Unlock()
	s.closed = true
	s.releaseLocked()
}

// SetToken makes the fake accept only token; an empty token accepts any
// non-empty token that does not start with "Bearer ".
func (s *Server) SetToken(token string) {
	s.lock()
	defer s.mu.Unlock()
	s.cfg.token = token
}

// SetRateLimit sets the per-token limit in requests per second; zero or a
// negative value turns rate limiting off.
func (s *Server) SetRateLimit(perSecond int) {
	s.lock()
	defer s.mu.Unlock()
	s.cfg.rateLimit, s.cfg.rateLimitSet = perSecond, true
}

// RateLimit returns the per-token limit in requests per second (zero: off).
func (s *Server) RateLimit() int {
	s.lock()
	defer s.mu.Unlock()
	return max(s.cfg.limit(), 0)
}

// TokenConfigured reports whether a specific token is required. The token
// itself is never exposed.
func (s *Server) TokenConfigured() bool {
	s.lock()
	defer s.mu.Unlock()
	return s.cfg.token != ""
}

// SetClock replaces the clock (see WithClock); nil restores time.Now.
func (s *Server) SetClock(now func() time.Time) {
	s.lock()
	defer s.mu.Unlock()
	s.cfg.now = now
}

// SetBot sets the bot that GET /me describes. It wraps ErrInvalid for a bot the
// real API could not describe.
func (s *Server) SetBot(b Bot) error {
	if err := b.validate(); err != nil {
		return fmt.Errorf("set bot: %w", err)
	}
	s.lock()
	defer s.mu.Unlock()
	s.bot = b.clone()
	return nil
}

// Bot returns the bot that GET /me describes.
func (s *Server) Bot() Bot {
	s.lock()
	defer s.mu.Unlock()
	return s.bot.clone()
}

// authorizedLocked reports whether the Authorization header value is accepted.
func (s *Server) authorizedLocked(token string) bool {
	if token == "" {
		return false
	}
	if s.cfg.token == "" {
		// The real API has no Bearer scheme; a client that sends one is
		// broken, so the permissive mode still refuses it.
		return !strings.HasPrefix(token, "Bearer ")
	}
	return subtle.ConstantTimeCompare([]byte(token), []byte(s.cfg.token)) == 1
}

// admitLocked applies the per-token rate limit: at most limit requests in any
// one-second window of the fake's clock. Refused requests do not count.
func (s *Server) admitLocked(token string, now time.Time) bool {
	limit := s.cfg.limit()
	if limit <= 0 {
		return true
	}
	cutoff := now.Add(-time.Second)
	recent := s.windows[token]
	i := 0
	for i < len(recent) && !recent[i].After(cutoff) {
		i++
	}
	recent = recent[i:]
	if len(recent) >= limit {
		s.windows[token] = recent
		return false
	}
	s.windows[token] = append(recent, now)
	return true
}

// Fail installs f until it is cleared and returns its id. It panics if f is
// invalid (see Fault.Validate); use AddFault to get an error instead.
func (s *Server) Fail(f Fault) FaultID {
	id, err := s.AddFault(f)
	if err != nil {
		panic(fmt.Sprintf("maxapi: Fail: %v", err))
	}
	return id
}

// FailNext installs f for the next n matching requests (n must be positive)
// and returns its id. It panics if f is invalid.
func (s *Server) FailNext(n int, f Fault) FaultID {
	if n <= 0 {
		panic(fmt.Sprintf("maxapi: FailNext: n = %d, want > 0", n))
	}
	f.Times = n
	return s.Fail(f)
}

// AddFault installs f (for f.Times matching requests, or until cleared when
// f.Times is zero) and returns its id. When several faults match a request,
// the most recently added one answers it. It wraps ErrInvalid for an invalid
// fault.
func (s *Server) AddFault(f Fault) (FaultID, error) {
	if err := f.Validate(); err != nil {
		return 0, fmt.Errorf("add fault: %w", err)
	}
	s.lock()
	defer s.mu.Unlock()
	s.nextFault++
	s.faults = append(s.faults, &installedFault{id: s.nextFault, fault: f.clone(), remaining: f.Times})
	return s.nextFault, nil
}

// ClearFault removes the fault with id and reports whether it was installed.
// Requests it holds in a hang are released.
func (s *Server) ClearFault(id FaultID) bool {
	s.lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.faults, func(f *installedFault) bool { return f.id == id })
	if i < 0 {
		return false
	}
	if s.faults[i].fault.Hang {
		s.releaseLocked()
	}
	s.faults = slices.Delete(s.faults, i, i+1)
	return true
}

// ClearFaults removes every fault and releases requests held by hangs.
func (s *Server) ClearFaults() {
	s.lock()
	defer s.mu.Unlock()
	s.faults = nil
	s.releaseLocked()
}

// Faults returns the installed faults, oldest first.
func (s *Server) Faults() []ActiveFault {
	s.lock()
	defer s.mu.Unlock()
	out := make([]ActiveFault, 0, len(s.faults))
	for _, f := range s.faults {
		out = append(out, ActiveFault{ID: f.id, Fault: f.fault.clone(), Remaining: f.remaining, Applied: f.applied})
	}
	return out
}

// takeFaultLocked picks the newest fault matching the request and counts it.
func (s *Server) takeFaultLocked(endpoint string, chatID int64) (FaultID, *Fault) {
	for i := len(s.faults) - 1; i >= 0; i-- {
		f := s.faults[i]
		if !f.fault.matches(endpoint, chatID) {
			continue
		}
		f.applied++
		if f.remaining > 0 {
			f.remaining--
			if f.remaining == 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			}
		}
		fc := f.fault.clone()
		return f.id, &fc
	}
	return 0, nil
}

// counts returns a copy of a counter map.
func counts(m map[string]int) map[string]int { return maps.Clone(m) }

var _ http.Handler = (*Server)(nil)
