// Package maxclient is a small typed client of the MAX Bot API: GET /chats/{chatId} for a
// chat's participant count and GET /me for the health probe. Every call has a deadline
// and a bounded response body, every failure is an *Error with a reason the service
// counts by, and the bot token never appears in an error or a log.
package maxclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/faultline/faultline/service/internal/metrics"
)

// Defaults of the client's options.
const (
	DefaultTimeout        = 2 * time.Second
	DefaultMaxBodyBytes   = 1 << 20
	DefaultHealthInterval = 5 * time.Second
)

// errorBodyLimit bounds how much of an error answer is read to find MAX's error object;
// the object is small, and a huge error page is not worth reading.
const errorBodyLimit = 64 << 10

// Health values returned by (*Client).Health.
const (
	HealthUnknown   = "unknown"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// Chat is the part of MAX's Chat object the service uses.
type Chat struct {
	ChatID            int64
	Type              string
	Status            string
	Title             string
	ParticipantsCount int
	IsPublic          bool
	Link              string
	Description       string
}

// BotInfo is the part of MAX's BotInfo object (the answer of GET /me) the service uses.
type BotInfo struct {
	UserID    int64  `json:"user_id"`
	FirstName string `json:"first_name"`
	Username  string `json:"username"`
	IsBot     bool   `json:"is_bot"`
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the client send its requests through hc. Redirects are never
// followed, whatever hc says, so that the token is not forwarded to another address.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			cp := *hc
			c.hc = &cp
		}
	}
}

// WithTimeout sets the deadline of every call, including reading the answer.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// WithMaxBodyBytes sets the largest answer body the client reads; a larger one fails
// with reason too_large.
func WithMaxBodyBytes(n int64) Option {
	return func(c *Client) {
		if n > 0 {
			c.maxBody = n
		}
	}
}

// WithHealthInterval sets how long an observation of MAX stays current: Health starts a
// GET /me probe only when nothing was observed for this long, and at most once per
// interval.
func WithHealthInterval(d time.Duration) Option {
	return func(c *Client) {
		if d > 0 {
			c.healthInterval = d
		}
	}
}

// WithLogger sets the logger for health changes and probe failures.
func WithLogger(l *slog.Logger) Option {
	return func(c *Client) {
		if l != nil {
			c.log = l
		}
	}
}

// WithMetrics makes the client record the latency of every call in
// participants_max_api_request_duration_seconds.
func WithMetrics(m *metrics.Metrics) Option {
	return func(c *Client) { c.metrics = m }
}

// WithClock replaces the wall clock used to age health observations; tests use it to
// move time without sleeping.
func WithClock(now func() time.Time) Option {
	return func(c *Client) {
		if now != nil {
			c.now = now
		}
	}
}

// Client calls the MAX Bot API. It is safe for concurrent use. Close stops its background
// health probes.
type Client struct {
	baseURL        string
	token          string
	redact         redactor
	hc             *http.Client
	timeout        time.Duration
	maxBody        int64
	healthInterval time.Duration
	log            *slog.Logger
	metrics        *metrics.Metrics
	now            func() time.Time

	probeCtx   context.Context
	stopProbes context.CancelFunc
	probes     sync.WaitGroup

	mu             sync.Mutex
	health         string
	observedAt     time.Time
	probeStartedAt time.Time
	probing        bool
	closed         bool
}

// New returns a client of the MAX Bot API at baseURL (for example
// https://platform-api2.max.ru) that authenticates with token.
func New(baseURL, token string, opts ...Option) *Client {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	// Background workers and synchronous refreshes share the client; keep enough idle
	// connections that they do not redial MAX on every call.
	transport.MaxIdleConnsPerHost = 16
	c := &Client{
		baseURL:        strings.TrimRight(baseURL, "/"),
		token:          token,
		redact:         redactor(token),
		hc:             &http.Client{Transport: transport},
		timeout:        DefaultTimeout,
		maxBody:        DefaultMaxBodyBytes,
		healthInterval: DefaultHealthInterval,
		log:            slog.New(slog.DiscardHandler),
		now:            time.Now,
		health:         HealthUnknown,
	}
	for _, o := range opts {
		o(c)
	}
	c.hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.probeCtx, c.stopProbes = context.WithCancel(context.Background())
	return c
}

// ParticipantsCount returns the number of participants of the MAX chat maxChatID.
func (c *Client) ParticipantsCount(ctx context.Context, maxChatID int64) (int, error) {
	ch, err := c.GetChat(ctx, maxChatID)
	if err != nil {
		return 0, err
	}
	return ch.ParticipantsCount, nil
}

// GetChat returns the MAX chat maxChatID. A missing, null, non-integer or negative
// participants_count fails the call with reason malformed: the count is what the service
// needs, and a guess would overwrite good data.
func (c *Client) GetChat(ctx context.Context, maxChatID int64) (Chat, error) {
	op := "get chat " + strconv.FormatInt(maxChatID, 10)
	var out Chat
	err := c.call(ctx, op, "/chats/"+strconv.FormatInt(maxChatID, 10), func(body []byte) error {
		ch, err := decodeChat(body)
		out = ch
		return err
	})
	return out, err
}

// Me returns the bot the token belongs to. The health probe uses it because it is the
// cheapest authenticated call.
func (c *Client) Me(ctx context.Context) (BotInfo, error) {
	var out BotInfo
	err := c.call(ctx, "get me", "/me", func(body []byte) error {
		return json.Unmarshal(body, &out)
	})
	return out, err
}

// Health reports MAX's state from the last observed call: "unknown" before the first
// observation, then "healthy" or "unhealthy". It never waits for MAX. When the last
// observation is older than the health interval it starts one background GET /me, so a
// busy service probes MAX not at all and an idle one at most once per interval.
func (c *Client) Health() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	due := c.observedAt.IsZero() || now.Sub(c.observedAt) >= c.healthInterval
	allowed := c.probeStartedAt.IsZero() || now.Sub(c.probeStartedAt) >= c.healthInterval
	if due && allowed && !c.probing && !c.closed {
		c.probing = true
		c.probeStartedAt = now
		c.probes.Add(1)
		go c.probe()
	}
	return c.health
}

// Close stops background health probes and waits for a running one to end.
func (c *Client) Close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.stopProbes()
	c.probes.Wait()
}

func (c *Client) probe() {
	defer c.probes.Done()
	if _, err := c.Me(c.probeCtx); err != nil {
		c.log.DebugContext(c.probeCtx, "MAX API health probe failed", "error", err.Error())
	}
	c.mu.Lock()
	c.probing = false
	c.mu.Unlock()
}

// call sends GET path, hands a 2xx body to decode, records the outcome for Health and
// the latency metric, and returns nil, an *Error, or (only when ctx was cancelled by the
// caller) an error wrapping context.Canceled, which says nothing about MAX.
func (c *Client) call(ctx context.Context, op, path string, decode func([]byte) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	start := time.Now()
	err := c.roundTrip(ctx, op, path, decode)
	if c.metrics != nil {
		c.metrics.MaxAPIDuration.Observe(time.Since(start).Seconds())
	}
	c.observe(ctx, err)
	return err
}

func (c *Client) roundTrip(ctx context.Context, op, path string, decode func([]byte) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.baseURL+path, nil)
	if err != nil {
		return c.newError(op, ReasonConnection, 0, err)
	}
	req.Header.Set("Authorization", c.token)
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return c.transportError(ctx, op, 0, err)
	}
	defer func() { _ = resp.Body.Close() }()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return c.statusError(op, resp)
	}
	if resp.ContentLength > c.maxBody {
		return c.newError(op, ReasonTooLarge, resp.StatusCode,
			fmt.Errorf("content length %d over limit %d", resp.ContentLength, c.maxBody))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return c.transportError(ctx, op, resp.StatusCode, err)
	}
	if int64(len(body)) > c.maxBody {
		return c.newError(op, ReasonTooLarge, resp.StatusCode, fmt.Errorf("body over limit %d", c.maxBody))
	}
	if err := decode(body); err != nil {
		return c.newError(op, ReasonMalformed, resp.StatusCode, err)
	}
	return nil
}

// transportError classifies an error of sending the request or reading the answer.
func (c *Client) transportError(ctx context.Context, op string, status int, err error) error {
	var nerr net.Error
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return fmt.Errorf("maxclient: %s: %w", op, context.Canceled)
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &nerr) && nerr.Timeout():
		return c.newError(op, ReasonTimeout, status, err)
	case status != 0 && errors.Is(err, io.ErrUnexpectedEOF):
		// The answer started and stopped short of its announced length: a truncated body.
		return c.newError(op, ReasonMalformed, status, err)
	default:
		return c.newError(op, ReasonConnection, status, err)
	}
}

func (c *Client) statusError(op string, resp *http.Response) error {
	var reason string
	switch s := resp.StatusCode; {
	case s == http.StatusTooManyRequests:
		reason = ReasonRateLimited
	case s == http.StatusUnauthorized:
		reason = ReasonUnauthorized
	case s == http.StatusNotFound:
		reason = ReasonNotFound
	case s >= 400 && s <= 499:
		reason = ReasonClientError
	default:
		// 5xx, and statuses MAX does not document for these calls (1xx, 3xx).
		reason = ReasonServerError
	}
	e := c.newError(op, reason, resp.StatusCode, nil)
	limit := min(c.maxBody, errorBodyLimit)
	// The error object is informative only: a broken error body does not change the reason.
	if body, err := io.ReadAll(io.LimitReader(resp.Body, limit)); err == nil {
		var obj struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		if json.Unmarshal(body, &obj) == nil {
			// Redact before truncating, so that a cut cannot leave part of the token.
			e.Code = truncate(c.redact.redact(obj.Code), 100)
			e.Message = truncate(c.redact.redact(obj.Message), 300)
		}
	}
	if reason == ReasonRateLimited {
		e.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), c.now())
	}
	return e
}

func (c *Client) newError(op, reason string, status int, err error) *Error {
	e := &Error{Op: op, Status: status, reason: reason, err: err}
	if err != nil {
		e.detail = c.redact.redact(err.Error())
	}
	return e
}

// observe records the outcome of a call for Health. A chat MAX does not know, or a request
// it rejects as invalid, still proves MAX is up; a cancelled call proves nothing.
func (c *Client) observe(ctx context.Context, err error) {
	state := HealthHealthy
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			return
		}
		if r := e.Reason(); r != ReasonNotFound && r != ReasonClientError {
			state = HealthUnhealthy
		}
	}
	c.mu.Lock()
	prev := c.health
	c.health = state
	c.observedAt = c.now()
	c.mu.Unlock()
	if prev != state {
		c.log.InfoContext(ctx, "MAX API health changed", "from", prev, "to", state)
	}
}

// parseRetryAfter reads a Retry-After value, delay-seconds or an HTTP date, as a duration
// from now. It returns 0 when the value is absent, invalid or in the past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(math.MaxInt64/time.Second) {
			return time.Duration(math.MaxInt64)
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

type wireChat struct {
	ChatID            int64           `json:"chat_id"`
	Type              string          `json:"type"`
	Status            string          `json:"status"`
	Title             string          `json:"title"`
	ParticipantsCount json.RawMessage `json:"participants_count"`
	IsPublic          bool            `json:"is_public"`
	Link              string          `json:"link"`
	Description       string          `json:"description"`
}

func decodeChat(body []byte) (Chat, error) {
	var w wireChat
	if err := json.Unmarshal(body, &w); err != nil {
		return Chat{}, fmt.Errorf("decode chat: %w", err)
	}
	raw := strings.TrimSpace(string(w.ParticipantsCount))
	if raw == "" {
		return Chat{}, errors.New("decode chat: participants_count missing")
	}
	if raw == "null" {
		return Chat{}, errors.New("decode chat: participants_count is null")
	}
	var n int64
	if err := json.Unmarshal(w.ParticipantsCount, &n); err != nil {
		return Chat{}, fmt.Errorf("decode chat: participants_count: %w", err)
	}
	// The schema declares int32; anything outside it is not a count MAX would send.
	if n < 0 || n > math.MaxInt32 {
		return Chat{}, fmt.Errorf("decode chat: participants_count %d out of range", n)
	}
	return Chat{
		ChatID:            w.ChatID,
		Type:              w.Type,
		Status:            w.Status,
		Title:             w.Title,
		ParticipantsCount: int(n),
		IsPublic:          w.IsPublic,
		Link:              w.Link,
		Description:       w.Description,
	}, nil
}

// truncate cuts s to at most n bytes and marks the cut, never inside a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
