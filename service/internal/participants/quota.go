package participants

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/faultline/faultline/service/internal/chat"
	"github.com/faultline/faultline/service/internal/metrics"
)

// Quota is MAX's rate limit and its Retry-After pauses, shared by every replica that uses
// the same bot token (the reference implementation keeps both in Redis). It also keeps the
// replicas from refreshing one chat twice: a background refresh claims its chat.
type Quota interface {
	// Reserve takes the next MAX call of the shared budget if it can be made within
	// c.MaxWait, and answers the pause MAX imposed on any replica. Callers get their calls
	// in the order they asked. A call with a claim is refused (Taken, nothing reserved)
	// while another replica's refresh of its chat is under way or when the cache holds a
	// count of the chat observed since c.FreshSince; otherwise the claim is taken with the
	// slot.
	Reserve(ctx context.Context, c chat.QuotaCall) (chat.Reservation, error)
	// Release lifts the claim on chat id after a refresh that did not store a count, so
	// another replica may try it.
	Release(ctx context.Context, id int64) error
	// Pause stops every replica's MAX calls until until, d from now.
	Pause(ctx context.Context, until time.Time, d time.Duration) error
	// PausedUntil answers the pause MAX imposed on any replica (zero when none), as Reserve
	// does, for a call that waited for its slot: another replica may have been answered
	// 429 since the reservation.
	PausedUntil(ctx context.Context) (time.Time, error)
}

// claimFor is how long a background refresh holds its chat: the wait for a slot, the MAX
// call and the writes, each bounded by MAX_API_TIMEOUT. A replica that dies mid-refresh
// holds it no longer than that.
func (s *Service) claimFor() time.Duration { return 3 * s.cfg.MaxTimeout }

const (
	msgPaused      = "MAX API calls paused"
	msgQuotaLocal  = "Shared MAX rate limit unavailable, using this replica's share"
	msgQuotaShared = "Shared MAX rate limit available again"
)

// lateTries is how many slots a call may reserve, each given up when the call would be made
// too late for it, before it is refused as the local rate limit.
const lateTries = 3

// waitLimiter waits for permission to call MAX for c: from the shared quota, or from this
// replica's share (Config.LocalShare) while the quota cannot be asked. With other
// replicas, that is while Redis is down (its breaker open); a call still waiting for its
// share when the shared quota answers again takes the shared budget instead. A reservation
// that fails while the breaker is closed refuses the call (local_rate_limit), as one slow
// answer is no reason to call beside a budget the other replicas still spend whole. A wait
// longer than one call's deadline means callers pile up faster than MAX may be called: the
// call is refused (local_rate_limit) rather than queued without bound. A background
// refresh (claim) is refused with errTaken when another replica refreshes the chat or just
// did. It reports whether the chat was claimed.
//
// Slots are spaced 1/RateLimit apart on Redis's clock, but a call is made when its replica
// gets to it: after the reservation's round trip, the wait's timer and the scheduler. Calls
// made late bunch up behind their slots, and MAX counts calls as they arrive, so a call
// that would be made more than half a slot after its slot gives the slot up and reserves
// another (the bound uses the whole round trip, as the slot may have been taken at any
// point of it). Calls then leave at most half a slot behind their slots, and the rest of
// the budget's margin below MAX's limit is left for what delays them after that (the HTTP
// call, the network): at 28 a second, 53 of its 71 ms.
func (s *Service) waitLimiter(ctx context.Context, c chat.Chat, claim bool) (claimed bool, err error) {
	if s.cfg.Quota == nil {
		return false, s.waitLocal(ctx, nil)
	}
	call := chat.QuotaCall{Rate: s.cfg.RateLimit, MaxWait: s.cfg.MaxTimeout}
	if claim {
		now := s.clock.Now()
		call.ChatID, call.ClaimFor = c.ID, s.claimFor()
		call.FreshSince, call.FreshUntil = now.Add(-s.cfg.StaleAfter), now.Add(s.cfg.ClockSkewMax)
	}
	slot := time.Duration(float64(time.Second) / s.cfg.RateLimit)
	for try := 1; ; try++ {
		asked := s.clock.Now()
		r, err := s.cfg.Quota.Reserve(ctx, call)
		switch {
		case err == nil:
		case s.cfg.Replicas > 1 && !errors.Is(err, chat.ErrShortCircuited):
			// Redis failed this reservation but is not known to be down (a timeout under
			// load): the other replicas keep spending the whole budget, so a call on this
			// replica's share now would be one more than it allows.
			return claimed, localRateLimit(fmt.Sprintf("shared quota not answered: %v", err))
		default:
			err := s.waitLocal(ctx, s.quotaUnavailable(ctx, err))
			if !errors.Is(err, errQuotaBack) {
				return claimed, err
			}
			if try == lateTries {
				return claimed, localRateLimit("shared quota back while waiting for this replica's share")
			}
			continue
		}
		s.quotaAvailable(ctx)
		s.syncPause(ctx, r.PausedUntil)
		switch {
		case r.Taken:
			return claimed, errTaken
		case !r.OK:
			return claimed, localRateLimit(fmt.Sprintf("shared quota: wait %v over the call deadline", r.Wait))
		}
		// The chat is claimed with the first slot; later reservations keep that claim.
		claimed, call.ChatID = claim, 0
		if s.paused() {
			// The caller's check of the pause refuses the call: waiting for the slot, or
			// reserving another, would only spend the budget.
			return claimed, nil
		}
		if r.Wait > 0 {
			// The slot is taken: a caller that gives up now leaves it unused, never to another.
			select {
			case <-ctx.Done():
				return claimed, fmt.Errorf("wait for the MAX rate limit: %w", ctx.Err())
			case <-s.clock.After(r.Wait):
			}
		}
		late := s.clock.Now().Sub(asked) - r.Wait
		if late <= slot/2 {
			// Judged before the read: counted as lateness, one more round trip on a loaded
			// machine made calls miss three slots in a row and refreshes be dropped.
			if r.Wait > 0 {
				s.recheckPause(ctx)
			}
			return claimed, nil
		}
		s.m.QuotaLate.Inc()
		if try == lateTries {
			return claimed, localRateLimit(fmt.Sprintf("shared quota: %d slots missed, the last by %v", try, late.Round(time.Millisecond)))
		}
	}
}

// release lifts this replica's claim on c after a refresh that stored nothing.
func (s *Service) release(ctx context.Context, c chat.Chat) {
	if err := s.cfg.Quota.Release(ctx, c.ID); err != nil {
		s.log.DebugContext(ctx, "Refresh claim not released", "chat_id", c.ID, "error", err.Error())
	}
}

// errQuotaBack ends a wait for this replica's share when the shared quota answers again.
var errQuotaBack = errors.New("shared quota available again")

// waitLocal waits for this replica's share of the rate limit. When back is closed first (the
// shared quota answers again) it gives its place up and returns errQuotaBack: the call takes
// the shared budget instead, as calls made on a replica's share beside the budget the other
// replicas spend whole again would exceed MAX's limit for as long as the waits last.
func (s *Service) waitLocal(ctx context.Context, back <-chan struct{}) error {
	if s.limiter.Limit() == 0 {
		// MAX_API_RATE_LIMIT is all MAX allows: nothing is left for calls beside the budget.
		return localRateLimit("no share of the budget without the shared quota")
	}
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
	case <-back:
		r.CancelAt(s.clock.Now())
		return errQuotaBack
	case <-s.clock.After(d):
		return nil
	}
}

// quotaState is whether the shared quota could not be asked, and while so, a channel closed
// when it answers again.
type quotaState struct {
	mu   sync.Mutex
	down bool
	back chan struct{}
}

// setDown records that the quota could not be asked and returns the channel closed when it
// answers again; changed says whether it answered before.
func (q *quotaState) setDown() (back <-chan struct{}, changed bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.down {
		q.down, q.back, changed = true, make(chan struct{}), true
	}
	return q.back, changed
}

// setUp records that the quota answered, waking the calls waiting for this replica's share;
// changed says whether it could not be asked before.
func (q *quotaState) setUp() (changed bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.down {
		return false
	}
	close(q.back)
	q.down, q.back = false, nil
	return true
}

// quotaUnavailable counts a call permitted by the local share instead of the shared quota,
// logs when that starts, and returns the channel closed when the shared quota is back.
func (s *Service) quotaUnavailable(ctx context.Context, err error) <-chan struct{} {
	s.m.QuotaLocal.Inc()
	back, changed := s.quota.setDown()
	if changed {
		s.log.WarnContext(ctx, msgQuotaLocal,
			"dependency", metrics.DepRedis,
			"share", s.cfg.LocalShare(),
			"replicas", s.cfg.Replicas,
			"error", err.Error())
	}
	return back
}

func (s *Service) quotaAvailable(ctx context.Context) {
	if s.quota.setUp() {
		s.log.InfoContext(ctx, msgQuotaShared, "dependency", metrics.DepRedis)
	}
}

// recheckPause asks again for the shared pause before a call that waited for its slot: the
// pause its reservation answered is as old as the wait, and another replica answered 429
// meanwhile would otherwise see this call arrive inside its pause (the caller's check of
// the pause then stops it). A failed ask changes nothing: the reservation did answer.
func (s *Service) recheckPause(ctx context.Context) {
	until, err := s.cfg.Quota.PausedUntil(ctx)
	if err != nil {
		s.log.DebugContext(ctx, "Shared MAX pause not read again", "error", err.Error())
		return
	}
	s.syncPause(ctx, until)
}

// syncPause takes a pause another replica stored (MAX answered it 429): the call about to
// be made would break it.
func (s *Service) syncPause(ctx context.Context, until time.Time) {
	if !until.After(s.clock.Now()) {
		return
	}
	// A pause further ahead than any MAX may impose comes from a clock running ahead.
	until = minTime(until, s.clock.Now().Add(maxPause))
	if s.extendPause(until) {
		s.log.WarnContext(ctx, msgPaused, "dependency", metrics.DepMaxAPI,
			"pause", until.Sub(s.clock.Now()).Round(time.Millisecond).String(), "by", "another replica")
	}
}
