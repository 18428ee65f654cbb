package participants

// Pending returns how many chats are queued or being refreshed in the background: zero once
// every background refresh has ended, its shared call included.
func (s *Service) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}
