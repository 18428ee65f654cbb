package maxapi

import (
	"fmt"
	"maps"
	"slices"
)

// PutChat creates the chat or replaces the one with the same ID, members
// included. It fills defaults (see Chat) and wraps ErrInvalid for a chat the
// real API could not return.
func (s *Server) PutChat(c Chat) error {
	s.lock()
	defer s.mu.Unlock()
	nc, err := c.normalize(s.nowLocked().UnixMilli())
	if err != nil {
		return fmt.Errorf("put chat: %w", err)
	}
	s.chats[nc.ID] = nc
	return nil
}

// UpdateChat changes the stored chat with id through fn, which gets a copy and
// must not call the Server. The result is checked like PutChat's; on error the
// chat is left as it was. It wraps ErrNotFound for an unknown chat.
func (s *Server) UpdateChat(id int64, fn func(*Chat)) error {
	s.lock()
	defer s.mu.Unlock()
	c, ok := s.chats[id]
	if !ok {
		return fmt.Errorf("update chat %d: %w", id, ErrNotFound)
	}
	c = c.clone()
	fn(&c)
	if c.ID != id {
		return fmt.Errorf("update chat %d: chat_id changed to %d: %w", id, c.ID, ErrInvalid)
	}
	nc, err := c.normalize(s.nowLocked().UnixMilli())
	if err != nil {
		return fmt.Errorf("update chat %d: %w", id, err)
	}
	s.chats[id] = nc
	return nil
}

// Chat returns the stored chat with id and whether it exists.
func (s *Server) Chat(id int64) (Chat, bool) {
	s.lock()
	defer s.mu.Unlock()
	c, ok := s.chats[id]
	return c.clone(), ok
}

// Chats returns every stored chat, ordered by id.
func (s *Server) Chats() []Chat {
	s.lock()
	defer s.mu.Unlock()
	ids := slices.Sorted(maps.Keys(s.chats))
	out := make([]Chat, 0, len(ids))
	for _, id := range ids {
		out = append(out, s.chats[id].clone())
	}
	return out
}

// DeleteChat removes the chat and reports whether it existed; the API then
// answers 404 chat.not.found for it.
func (s *Server) DeleteChat(id int64) bool {
	s.lock()
	defer s.mu.Unlock()
	_, ok := s.chats[id]
	delete(s.chats, id)
	return ok
}

// SetParticipants sets the participants_count the API reports for the chat.
// It wraps ErrNotFound for an unknown chat and ErrInvalid for a count that is
// negative or beyond int32.
func (s *Server) SetParticipants(chatID int64, n int) error {
	return s.UpdateChat(chatID, func(c *Chat) { c.ParticipantsCount = n })
}

// Participants returns the participants_count of the chat and whether it
// exists.
func (s *Server) Participants(chatID int64) (int, bool) {
	c, ok := s.Chat(chatID)
	return c.ParticipantsCount, ok
}

// PutMember adds the member to the chat or replaces the one with the same
// user id. It does not change participants_count. It wraps ErrNotFound for an
// unknown chat and ErrInvalid for an invalid member.
func (s *Server) PutMember(chatID int64, m Member) error {
	return s.UpdateChat(chatID, func(c *Chat) {
		i := slices.IndexFunc(c.Members, func(x Member) bool { return x.UserID == m.UserID })
		if i >= 0 {
			c.Members[i] = m
			return
		}
		c.Members = append(c.Members, m)
	})
}

// DeleteMember removes the member from the chat. It does not change
// participants_count. It wraps ErrNotFound when the chat or member is unknown.
func (s *Server) DeleteMember(chatID, userID int64) error {
	found := false
	err := s.UpdateChat(chatID, func(c *Chat) {
		n := len(c.Members)
		c.Members = slices.DeleteFunc(c.Members, func(x Member) bool { return x.UserID == userID })
		found = len(c.Members) < n
	})
	if err != nil {
		return fmt.Errorf("delete member %d: %w", userID, err)
	}
	if !found {
		return fmt.Errorf("delete member %d of chat %d: %w", userID, chatID, ErrNotFound)
	}
	return nil
}

// Members returns the members of the chat ordered by user id. It wraps
// ErrNotFound for an unknown chat.
func (s *Server) Members(chatID int64) ([]Member, error) {
	c, ok := s.Chat(chatID)
	if !ok {
		return nil, fmt.Errorf("members of chat %d: %w", chatID, ErrNotFound)
	}
	return c.Members, nil
}
