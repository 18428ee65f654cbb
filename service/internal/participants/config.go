package participants

import (
	"errors"
	"fmt"
	"time"
)

// Policy decides what a request does when the participants cache fails.
type Policy string

// The cache error policies.
const (
	// PolicyFallback serves database data and counts the fallback.
	PolicyFallback Policy = "fallback"
	// PolicyFail fails the request with cache_unavailable. It reproduces the behaviour of a
	// service that treats its cache as a hard dependency, so the harness can show it catches
	// that.
	PolicyFail Policy = "fail"
)

// Valid reports whether p is a known policy.
func (p Policy) Valid() bool { return p == PolicyFallback || p == PolicyFail }

// Clock is the service's source of time. Staleness, data age, rate limiting and
// Retry-After pauses all read it, so tests can move time without sleeping.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Config tunes enrichment and the background refresher. NewService replaces zero or
// negative numbers and durations with the defaults of DefaultConfig; LazyUpdate has no
// default because its zero value (off) is a legitimate setting.
type Config struct {
	// StaleAfter is the age after which served data is refreshed from MAX.
	StaleAfter time.Duration
	// CacheTTL is how long the cache keeps an entry. The cache adapter applies it; the
	// service only requires it to exceed StaleAfter, so that stale data is still there to
	// serve while MAX is down.
	CacheTTL time.Duration
	// LazyUpdate enables the cache and background refreshes. Off, lists and gets serve
	// database data as is.
	LazyUpdate bool
	// Policy decides what a cache failure does to a request.
	Policy Policy
	// Workers is the number of background refresh workers.
	Workers int
	// QueueSize bounds the background refresh queue; a full queue drops refreshes.
	QueueSize int
	// RateLimit is the most MAX calls per second the whole deployment makes, background and
	// synchronous together, every replica included. MAX allows 30 per bot token.
	RateLimit float64
	// Quota shares RateLimit and MAX's Retry-After pauses between replicas (through Redis).
	// Nil, each replica keeps to RateLimit / Replicas alone; while it cannot be asked, to
	// LocalShare.
	Quota Quota
	// Replicas is the number of replicas expected to share the token; it only sizes the
	// local share used without Quota.
	Replicas int
	// MaxTimeout is the deadline of one MAX call and, separately, of the writes that
	// follow a successful one.
	MaxTimeout time.Duration
	// BreakerFailures consecutive MAX failures open the circuit breaker.
	BreakerFailures int
	// BreakerCooldown is how long the breaker stays open before it lets one probe call
	// through.
	BreakerCooldown time.Duration
	// FailureBackoff is how long a chat's refreshes are suspended after MAX answered that
	// it does not know the chat (not_found) or refused the request (client_error).
	FailureBackoff time.Duration
	// ClockSkewMax is how far in the future an observation time may lie and still be
	// trusted. A later one (a replica with a clock ahead wrote it) is served as observed
	// now and refreshed, and the stores let a refresh overwrite it. Zero tolerates none;
	// it has no default, like LazyUpdate.
	ClockSkewMax time.Duration
	// Clock is the time source; nil means the wall clock. The circuit breaker always uses
	// the wall clock, because the breaker library does not take one.
	Clock Clock
}

// DefaultConfig returns the documented defaults of the service's environment.
func DefaultConfig() Config {
	return Config{
		StaleAfter:      time.Hour,
		CacheTTL:        24 * time.Hour,
		LazyUpdate:      true,
		Policy:          PolicyFallback,
		Workers:         4,
		QueueSize:       1024,
		RateLimit:       20,
		MaxTimeout:      2 * time.Second,
		BreakerFailures: 5,
		BreakerCooldown: 10 * time.Second,
		FailureBackoff:  10 * time.Minute,
		ClockSkewMax:    5 * time.Second,
	}
}

// maxRateLimit is MAX's own limit of requests per second for one bot.
const maxRateLimit = 30

// Validate reports every setting that is out of range, naming each by its field.
func (c Config) Validate() error {
	var errs []error
	if c.StaleAfter <= 0 {
		errs = append(errs, fmt.Errorf("setting StaleAfter = %v must be positive", c.StaleAfter))
	}
	if c.CacheTTL <= c.StaleAfter {
		errs = append(errs, fmt.Errorf("setting CacheTTL = %v must exceed StaleAfter %v", c.CacheTTL, c.StaleAfter))
	}
	if !c.Policy.Valid() {
		errs = append(errs, fmt.Errorf("setting Policy = %q must be %q or %q", c.Policy, PolicyFallback, PolicyFail))
	}
	if c.Workers < 1 {
		errs = append(errs, fmt.Errorf("setting Workers = %d must be at least 1", c.Workers))
	}
	if c.QueueSize < 1 {
		errs = append(errs, fmt.Errorf("setting QueueSize = %d must be at least 1", c.QueueSize))
	}
	if c.RateLimit <= 0 || c.RateLimit > maxRateLimit {
		errs = append(errs, fmt.Errorf("setting RateLimit = %v must be in (0, %d]", c.RateLimit, maxRateLimit))
	}
	if c.Replicas < 0 {
		errs = append(errs, fmt.Errorf("setting Replicas = %d must be at least 1", c.Replicas))
	}
	if c.MaxTimeout <= 0 {
		errs = append(errs, fmt.Errorf("setting MaxTimeout = %v must be positive", c.MaxTimeout))
	}
	if c.BreakerFailures < 1 {
		errs = append(errs, fmt.Errorf("setting BreakerFailures = %d must be at least 1", c.BreakerFailures))
	}
	if c.BreakerCooldown <= 0 {
		errs = append(errs, fmt.Errorf("setting BreakerCooldown = %v must be positive", c.BreakerCooldown))
	}
	if c.FailureBackoff <= 0 {
		errs = append(errs, fmt.Errorf("setting FailureBackoff = %v must be positive", c.FailureBackoff))
	}
	if c.ClockSkewMax < 0 {
		errs = append(errs, fmt.Errorf("setting ClockSkewMax = %v must not be negative", c.ClockSkewMax))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("participants config: %w", err)
	}
	return nil
}

// withDefaults fills unset settings from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.StaleAfter <= 0 {
		c.StaleAfter = d.StaleAfter
	}
	if c.CacheTTL <= 0 {
		c.CacheTTL = d.CacheTTL
	}
	if !c.Policy.Valid() {
		c.Policy = d.Policy
	}
	if c.Workers <= 0 {
		c.Workers = d.Workers
	}
	if c.QueueSize <= 0 {
		c.QueueSize = d.QueueSize
	}
	if c.RateLimit <= 0 {
		c.RateLimit = d.RateLimit
	}
	if c.MaxTimeout <= 0 {
		c.MaxTimeout = d.MaxTimeout
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.BreakerFailures <= 0 {
		c.BreakerFailures = d.BreakerFailures
	}
	if c.BreakerCooldown <= 0 {
		c.BreakerCooldown = d.BreakerCooldown
	}
	if c.FailureBackoff <= 0 {
		c.FailureBackoff = d.FailureBackoff
	}
	if c.Clock == nil {
		c.Clock = realClock{}
	}
	return c
}

// LocalShare is the calls a second this replica makes on its own, without the shared quota.
// Without Quota every replica does so: RateLimit / Replicas each. With Quota, a replica falls
// back to its share only while Redis is down for it, and others may still spend the whole
// budget beside it (Redis down for some replicas only, or their breakers not open yet): so
// the shares together fit in what MAX allows beyond the budget, min(RateLimit, 30 -
// RateLimit) / Replicas each, and no mix of replicas on the budget and on their shares
// exceeds MAX's limit. A single replica has the whole budget.
func (c Config) LocalShare() float64 {
	if c.Quota == nil || c.Replicas <= 1 {
		return c.RateLimit / float64(max(c.Replicas, 1))
	}
	return max(0, min(c.RateLimit, maxRateLimit-c.RateLimit)) / float64(c.Replicas)
}
