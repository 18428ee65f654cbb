// Package chat holds the domain of the chat service: chats, their participant counts and
// where a count came from, and the service's error type. It imports nothing of ours, so
// every other package of the service can talk in its terms without knowing each other.
package chat

import "time"

// Source says where a participant count served to a client came from.
type Source string

// The sources a participant count can come from.
const (
	// SourceCache is a count read from the Redis participants cache.
	SourceCache Source = "cache"
	// SourceAPI is a count fetched from the MAX Bot API during the request.
	SourceAPI Source = "api"
	// SourceDatabase is the last known good count stored in PostgreSQL.
	SourceDatabase Source = "database"
)

// Valid reports whether s is one of the known sources.
func (s Source) Valid() bool {
	switch s {
	case SourceCache, SourceAPI, SourceDatabase:
		return true
	}
	return false
}

// Participants is a participant count, when it was observed and where it was read from.
// A zero UpdatedAt means the count has never been observed.
type Participants struct {
	Count     int
	UpdatedAt time.Time
	Source    Source
}

// Known reports whether the count was ever observed.
func (p Participants) Known() bool { return !p.UpdatedAt.IsZero() }

// Age is how old the count is at now; it is zero for a count never observed.
func (p Participants) Age(now time.Time) time.Duration {
	if !p.Known() {
		return 0
	}
	return now.Sub(p.UpdatedAt)
}

// Chat is a chat the service knows about, enriched with its participant count.
type Chat struct {
	ID   int64
	Name string
	// MaxChatID is the chat's id in MAX; zero when the chat is not linked to MAX.
	// MAX group chat ids are negative.
	MaxChatID    int64
	Participants Participants
}

// Linked reports whether the chat has a MAX chat id, so its count can be refreshed.
func (c Chat) Linked() bool { return c.MaxChatID != 0 }

// CacheLookup is what the participants cache holds about a set of chats, read at once.
type CacheLookup struct {
	// Counts are the cached counts by chat id, with Source cache; a chat without an entry
	// is absent.
	Counts map[int64]Participants
	// Backoffs are the chats whose refreshes from MAX are suspended (MAX answered that it
	// does not know the chat, or refused the request), by chat id, each until when.
	Backoffs map[int64]time.Time
}

// Page selects a window of chats in id order.
type Page struct {
	Limit  int
	Offset int
}

// The bounds of a Page.
const (
	DefaultLimit = 1000
	MaxLimit     = 1000
)
