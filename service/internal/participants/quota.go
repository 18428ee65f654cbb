package participants

import (
	"context"
	"fmt"
	"time"

	"github.com/faultline/faultline/service/internal/metrics"
)

// Quota is MAX's rate limit and its Retry-After pauses, shared by every replica that uses
// the same bot token (the reference implementation keeps both in Redis).
type Quota interface {
	// Reserve takes the next MAX call of a budget of rate calls per second if it can be
	// made within maxWait: ok with how long to wait for it, or not ok (nothing taken) with
	// how long the wait would have been. Callers get their calls in the order they asked.
	Reserve(ctx context.Context, rate float64, maxWait time.Duration) (wait time.Duration, ok bool, err error)
	// PausedUntil returns the end of the pause MAX imposed on any replica (zero when none).
	PausedUntil(ctx context.Context) (time.Time, error)
	// Pause stops every replica's MAX calls until until, d from now.
	Pause(ctx context.Context, until time.Time, d time.Duration) error
}

const (
	msgPaused      = "MAX API calls paused"
	msgQuotaLocal  = "Shared MAX rate limit unavailable, using this replica's share"
	msgQuotaShared = "Shared MAX rate limit available again"
)

// waitLimiter waits for permission to call MAX: from the shared quota, or from this
// replica's share (RateLimit / Replicas) while the quota cannot be asked. A wait longer
// than one call's deadline means callers pile up faster than MAX may be called: the call
// is refused (local_rate_limit) rather than queued without bound.
func (s *Service) waitLimiter(ctx context.Context) error {
	if s.cfg.Quota == nil {
		return s.waitLocal(ctx)
	}
	wait, ok, err := s.cfg.Quota.Reserve(ctx, s.cfg.RateLimit, s.cfg.MaxTimeout)
	if err != nil {
		s.quotaUnavailable(ctx, err)
		return s.waitLocal(ctx)
	}
	s.quotaAvailable(ctx)
	if !ok {
		return localRateLimit(fmt.Sprintf("shared quota: wait %v over the call deadline", wait))
	}
	if wait <= 0 {
		return nil
	}
	// The slot is taken: a caller that gives up now leaves it unused, never to another.
	select {
	case <-ctx.Done():
		return fmt.Errorf("wait for the MAX rate limit: %w", ctx.Err())
	case <-s.clock.After(wait):
		return nil
	}
}

// waitLocal waits for this replica's share of the rate limit.
func (s *Service) waitLocal(ctx context.Context) error {
	now := s.clock.Now()
	r := s.limiter.ReserveN(now, 1)
	if !r.OK() {
		return localRateLimit("no reservation possible")
	}
	d := r.DelayFrom(now)
	if d <= 0 {
		return nil
	}
	if d > s.cfg.MaxTimeout {
		r.CancelAt(now)
		return localRateLimit(fmt.Sprintf("wait %v over the call deadline", d))
	}
	select {
	case <-ctx.Done():
		r.CancelAt(s.clock.Now())
		return fmt.Errorf("wait for the MAX rate limit: %w", ctx.Err())
	case <-s.clock.After(d):
		return nil
	}
}

// quotaUnavailable counts a call permitted by the local share instead of the shared quota,
// and logs when that starts.
func (s *Service) quotaUnavailable(ctx context.Context, err error) {
	s.m.QuotaLocal.Inc()
	if !s.quotaDown.Swap(true) {
		s.log.WarnContext(ctx, msgQuotaLocal,
			"dependency", metrics.DepRedis,
			"share", s.cfg.RateLimit/float64(s.cfg.Replicas),
			"replicas", s.cfg.Replicas,
			"error", err.Error())
	}
}

func (s *Service) quotaAvailable(ctx context.Context) {
	if s.quotaDown.Swap(false) {
		s.log.InfoContext(ctx, msgQuotaShared, "dependency", metrics.DepRedis)
	}
}

// syncPause takes a pause another replica stored (MAX answered it 429): the call about to
// be made would break it.
func (s *Service) syncPause(ctx context.Context) {
	if s.cfg.Quota == nil {
		return
	}
	until, err := s.cfg.Quota.PausedUntil(ctx)
	if err != nil || !until.After(s.clock.Now()) {
		return
	}
	// A pause further ahead than any MAX may impose comes from a clock running ahead.
	until = minTime(until, s.clock.Now().Add(maxPause))
	if s.extendPause(until) {
		s.log.WarnContext(ctx, msgPaused, "dependency", metrics.DepMaxAPI,
			"pause", until.Sub(s.clock.Now()).Round(time.Millisecond).String(), "by", "another replica")
	}
}
