package participants

import (
	"context"
	"slices"
	"time"

	"github.com/faultline/faultline/service/internal/chat"
	"github.com/faultline/faultline/service/internal/metrics"
)

// Refresh backoff: when MAX answers that it does not know a chat (not_found) or refuses the
// request for it (client_error), as when the bot was removed from the chat, asking again at
// every list would cost a MAX call each time and tell nothing new. The chat's refreshes are
// suspended for FailureBackoff instead, in the cache so that every replica skips it, and in
// memory so that the backoff holds while the cache cannot be read. While the cache can be
// read, it is authoritative. The data served is left
// exactly as it is. An explicit refresh (POST) still asks MAX, and its success lifts the
// backoff.

const msgBackedOff = "Participants refresh backed off"

// backsOff reports whether a MAX failure of reason suspends the chat's refreshes.
func backsOff(reason string) bool { return reason == reasonNotFound || reason == reasonClientError }

// backOff suspends the refreshes of c for FailureBackoff.
func (s *Service) backOff(ctx context.Context, c chat.Chat, reason string) {
	d := s.cfg.FailureBackoff
	until := s.clock.Now().Add(d).UTC()
	s.mu.Lock()
	s.pruneBackoffsLocked()
	s.backoffs[c.ID] = until
	s.mu.Unlock()
	s.log.WarnContext(ctx, msgBackedOff,
		"chat_id", c.ID, "max_chat_id", c.MaxChatID, "reason", reason, "backoff", d.String())
	// The cache adapter counts and logs its own failures; memory holds the backoff anyway.
	_ = s.cache.SetBackoff(ctx, c.ID, until, d)
}

// liftBackoff ends a backoff of chat id known here, after MAX answered for it again.
func (s *Service) liftBackoff(ctx context.Context, id int64) {
	s.mu.Lock()
	_, known := s.backoffs[id]
	delete(s.backoffs, id)
	s.mu.Unlock()
	if known {
		_ = s.cache.ClearBackoff(ctx, id)
	}
}

// syncBackoffs takes the backoffs of ids from a cache read: the cache, shared by every
// replica, is authoritative while it can be read (another replica may have lifted a
// backoff, or started one). A time further ahead than FailureBackoff comes from a clock
// running ahead and is cut to it.
func (s *Service) syncBackoffs(ids []int64, backoffs map[int64]time.Time) {
	limit := s.clock.Now().Add(s.cfg.FailureBackoff)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if until, ok := backoffs[id]; ok {
			s.backoffs[id] = minTime(until, limit)
		} else {
			delete(s.backoffs, id)
		}
	}
}

// backedOff reports whether the refreshes of chat id are suspended at now.
func (s *Service) backedOff(id int64, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	until, ok := s.backoffs[id]
	return ok && now.Before(until)
}

// skipBackedOff returns the chats of stale whose refreshes are not suspended, and counts
// the others as refreshes not made.
func (s *Service) skipBackedOff(ctx context.Context, stale []chat.Chat) []chat.Chat {
	now := s.clock.Now()
	return slices.DeleteFunc(stale, func(c chat.Chat) bool {
		if !s.backedOff(c.ID, now) {
			return false
		}
		s.m.RefreshDropped.WithLabelValues(metrics.ReasonFailureBackoff).Inc()
		s.log.DebugContext(ctx, "Refresh backed off", "chat_id", c.ID)
		return true
	})
}

// pruneBackoffsLocked forgets backoffs that ended, so the map holds only current ones.
func (s *Service) pruneBackoffsLocked() {
	now := s.clock.Now()
	for id, until := range s.backoffs {
		if !now.Before(until) {
			delete(s.backoffs, id)
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
