package participants

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/faultline/faultline/service/internal/chat"
	"github.com/faultline/faultline/service/internal/metrics"
)

// errStopped refuses refreshes after Run has ended.
var errStopped = fmt.Errorf("participants service stopped: %w", context.Canceled)

// errPaused is returned inside the breaker when a Retry-After pause began while the call
// waited for the rate limiter; the breaker ignores it.
var errPaused = errors.New("MAX API calls paused after a 429")

// Run runs the background refresh workers until ctx is done, then cancels every refresh
// in flight (background and synchronous), waits for them to end and returns nil. It may
// be called once.
func (s *Service) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("participants: Run called twice")
	}
	var workers sync.WaitGroup
	for range s.cfg.Workers {
		workers.Go(func() { s.work(ctx) })
	}
	<-ctx.Done()
	s.stop()
	workers.Wait()

	s.tasksMu.Lock()
	s.tasksEnd = true
	s.tasksMu.Unlock()
	s.tasks.Wait()

	// Refreshes still queued are abandoned; forget them so the gauges tell the truth.
	s.mu.Lock()
	for len(s.queue) > 0 {
		<-s.queue
	}
	clear(s.pending)
	s.m.RefreshQueueLen.Set(0)
	s.mu.Unlock()
	return nil
}

func (s *Service) work(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-s.queue:
			s.m.RefreshQueueLen.Set(float64(len(s.queue)))
			s.process(ctx, j)
			s.mu.Lock()
			delete(s.pending, j.id)
			s.mu.Unlock()
		}
	}
}

// process refreshes one queued chat. A Retry-After pause holds the worker rather than
// dropping the job, so the queue resumes when MAX allows it, also when the pause is learned
// (from another replica) only as the job asks for its call; an open breaker drops it.
func (s *Service) process(ctx context.Context, j job) {
	var err error
	for range pausedRetries {
		if err := s.waitPause(ctx); err != nil {
			return
		}
		// A refresh of the same chat may have started a backoff while this one was queued.
		if s.backedOff(j.id, s.clock.Now()) {
			s.m.RefreshDropped.WithLabelValues(metrics.ReasonFailureBackoff).Inc()
			return
		}
		_, err = s.refreshShared(ctx, chat.Chat{ID: j.id, MaxChatID: j.maxChatID}, true)
		if !errors.Is(err, errPaused) {
			break
		}
	}
	var f *refreshError
	if !errors.As(err, &f) {
		return
	}
	switch f.reason {
	case reasonCircuitOpen:
		s.m.RefreshDropped.WithLabelValues(metrics.ReasonMaxAPIUnavailable).Inc()
	case reasonLocalRateLimit:
		s.m.RefreshDropped.WithLabelValues(metrics.ReasonLocalRateLimit).Inc()
	case reasonRefreshedElsewhere:
		s.m.RefreshDropped.WithLabelValues(metrics.ReasonRefreshedElsewhere).Inc()
	}
}

// pausedRetries bounds how often a queued refresh waits out a pause that began after it
// was taken from the queue: replicas answered 429 again and again give up on it.
const pausedRetries = 3

// refreshShared refreshes c once for every concurrent caller: a synchronous refresh and
// a background one of the same chat share one MAX call and one write. The shared work
// runs detached from any single caller, so a caller that gives up does not cancel it
// for the others; Run's end does. A background refresh claims the chat from the other
// replicas (claim); the caller that starts the work decides.
func (s *Service) refreshShared(ctx context.Context, c chat.Chat, claim bool) (chat.Participants, error) {
	ch := s.flight.DoChan(key(c.ID), func() (any, error) {
		if !s.startTask() {
			return chat.Participants{}, errStopped
		}
		defer s.tasks.Done()
		return s.refreshOnce(ctx, c, claim)
	})
	select {
	case r := <-ch:
		p, _ := r.Val.(chat.Participants)
		return p, r.Err
	case <-ctx.Done():
		return chat.Participants{}, fmt.Errorf("refresh chat %d: %w", c.ID, ctx.Err())
	}
}

// startTask registers a refresh with Run's shutdown, or refuses it after Run ended.
func (s *Service) startTask() bool {
	s.tasksMu.Lock()
	defer s.tasksMu.Unlock()
	if s.tasksEnd {
		return false
	}
	s.tasks.Add(1)
	return true
}

// refreshOnce asks MAX for c's count and, on success, writes the database and then the
// cache. It counts and logs MAX failures, but not refusals (reasons circuit_open,
// local_rate_limit and refreshed_elsewhere), which its callers account for in their own
// terms. With claim, the chat is claimed from the other replicas, and a refresh that
// stores nothing releases it.
func (s *Service) refreshOnce(parent context.Context, c chat.Chat, claim bool) (_ chat.Participants, err error) {
	// Keep the caller's values (request id) for logs, but not its cancellation.
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	defer cancel()
	defer context.AfterFunc(s.base, cancel)()

	if err := s.maxUnavailable(); err != nil {
		return chat.Participants{}, err
	}
	claimed, err := s.waitLimiter(ctx, c, claim)
	if claimed {
		defer func() {
			if err != nil {
				s.release(ctx, c)
			}
		}()
	}
	if err != nil {
		return chat.Participants{}, err
	}
	n, err := s.breaker.Execute(func() (int, error) {
		if s.paused() {
			return 0, errPaused
		}
		callCtx, cancel := context.WithTimeout(ctx, s.cfg.MaxTimeout)
		defer cancel()
		n, err := s.max.ParticipantsCount(callCtx, c.MaxChatID)
		if err == nil && n < 0 {
			err = &reasonError{reason: reasonMalformed, msg: fmt.Sprintf("negative participant count %d", n)}
		}
		return n, err
	})
	switch {
	case err == nil:
	case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
		return chat.Participants{}, shortCircuit("circuit breaker open")
	case errors.Is(err, errPaused):
		return chat.Participants{}, s.pausedError()
	case errors.Is(err, chat.ErrShortCircuited):
		return chat.Participants{}, &refreshError{reason: reasonCircuitOpen, err: err}
	case ctx.Err() != nil:
		return chat.Participants{}, fmt.Errorf("refresh chat %d: %w", c.ID, ctx.Err())
	default:
		reason := reasonOf(err)
		// The pause begins before anything else is done with the 429: another worker
		// checks it just before its own call, and every moment spent logging first is a
		// moment in which that call still goes out.
		if reason == reasonRateLimited {
			s.pause(ctx, retryAfterOf(err))
		}
		s.countMaxFailure(ctx, c, reason, err)
		if backsOff(reason) {
			s.backOff(ctx, c, reason)
		}
		return chat.Participants{}, &refreshError{reason: reason, err: err}
	}

	// Microseconds, because that is what the database keeps: the answer, the row and the
	// cache entry then carry the same instant.
	p := chat.Participants{Count: n, UpdatedAt: s.clock.Now().UTC().Truncate(time.Microsecond), Source: chat.SourceAPI}
	wctx, wcancel := context.WithTimeout(ctx, s.cfg.MaxTimeout)
	defer wcancel()
	if err := s.store.UpdateParticipants(wctx, c.ID, p); err != nil {
		s.log.ErrorContext(ctx, "Participants refresh not stored", "chat_id", c.ID, "error", err.Error())
		s.m.RefreshTotal.WithLabelValues(metrics.ResultFailure).Inc()
		return chat.Participants{}, fmt.Errorf("store participants of chat %d: %w", c.ID, err)
	}
	// The database holds the count now; a cache failure only delays serving it from the
	// cache. The cache adapter counts and logs its own failures.
	if err := s.cache.Set(wctx, c.ID, p); err != nil {
		s.log.DebugContext(ctx, "Refreshed participants not cached", "chat_id", c.ID, "error", err.Error())
	}
	s.liftBackoff(ctx, c.ID)
	s.log.DebugContext(ctx, msgRefreshed, "chat_id", c.ID, "count", n)
	s.m.RefreshTotal.WithLabelValues(metrics.ResultSuccess).Inc()
	return p, nil
}

// countMaxFailure records a failed refresh of c: the ERROR log line, then the error metric
// by reason and the refresh result. Logging first means a failure that can be seen in the
// metrics has always been logged already.
func (s *Service) countMaxFailure(ctx context.Context, c chat.Chat, reason string, err error) {
	s.log.ErrorContext(ctx, msgMaxFailed,
		"chat_id", c.ID,
		"max_chat_id", c.MaxChatID,
		"reason", reason,
		"error", err.Error())
	s.m.MaxAPIErrors.WithLabelValues(reason).Inc()
	s.m.RefreshTotal.WithLabelValues(metrics.ResultFailure).Inc()
}

// pause stops MAX calls for d (MAX's Retry-After; capped, with a default when absent).
func (s *Service) pause(ctx context.Context, d time.Duration) {
	if d <= 0 {
		d = defaultPause
	}
	d = min(d, maxPause)
	until := s.clock.Now().Add(d)
	if s.extendPause(until) {
		s.log.WarnContext(ctx, msgPaused, "dependency", metrics.DepMaxAPI, "pause", d.String())
	}
	// Every replica shares the token, so every replica pauses. The cache adapter counts
	// and logs its own failures; this replica's pause holds anyway.
	if s.cfg.Quota != nil {
		_ = s.cfg.Quota.Pause(ctx, until, d)
	}
}

// extendPause pauses MAX calls until until unless a longer pause is in force, and reports
// whether it changed anything.
func (s *Service) extendPause(until time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !until.After(s.pausedUntil) {
		return false
	}
	s.pausedUntil = until
	return true
}

func (s *Service) paused() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clock.Now().Before(s.pausedUntil)
}

// waitPause blocks until no Retry-After pause is in force.
func (s *Service) waitPause(ctx context.Context) error {
	for {
		s.mu.Lock()
		until := s.pausedUntil
		s.mu.Unlock()
		d := until.Sub(s.clock.Now())
		if d <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.clock.After(d):
		}
	}
}

// breakerSuccess decides which MAX answers count against MAX: a chat it does not know, or
// a request it rejects as invalid, is about that chat, not MAX's health.
func breakerSuccess(err error) bool {
	if err == nil {
		return true
	}
	switch reasonOf(err) {
	case reasonNotFound, reasonClientError:
		return true
	}
	return false
}

// breakerExcluded keeps cancellations (shutdown) and pause refusals out of the breaker's
// counts: neither says anything about MAX.
func breakerExcluded(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, errPaused)
}

func (s *Service) breakerChanged(_ string, from, to gobreaker.State) {
	s.m.BreakerState.WithLabelValues(metrics.DepMaxAPI).Set(breakerValue(to))
	s.log.WarnContext(s.base, msgBreakerChange,
		"dependency", metrics.DepMaxAPI, "from", from.String(), "to", to.String())
}

func breakerValue(st gobreaker.State) float64 {
	switch st {
	case gobreaker.StateHalfOpen:
		return metrics.BreakerHalfOpen
	case gobreaker.StateOpen:
		return metrics.BreakerOpen
	}
	return metrics.BreakerClosed
}
