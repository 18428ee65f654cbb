package maxapi

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ErrNotFound is returned (wrapped) by state methods when a chat or member
// does not exist.
var ErrNotFound = errors.New("not found")

// ErrInvalid is returned (wrapped) when a chat, member, bot or fault could never
// be produced by the real API, so the fake refuses to serve it.
var ErrInvalid = errors.New("invalid")

// Chat is a group chat or channel as the fake stores it. Its JSON form (used by
// seed files and the admin API) uses the API's field names with plain values;
// the fake renders it into the API's Chat object, turning empty optional values
// into the nulls the real API sends.
type Chat struct {
	// ID is the chat_id. MAX group chats and channels have negative ids.
	ID int64 `json:"chat_id"`
	// Type is "chat" (default), "channel" or "dialog". The published schema's
	// enum lists only "chat", so only that value validates against it.
	Type string `json:"type,omitempty"`
	// Status is "active" (default), "removed", "left" or "closed".
	Status string `json:"status,omitempty"`
	// Title is rendered as null when empty.
	Title string `json:"title,omitempty"`
	// IconURL is rendered as "icon": {"url": IconURL}, or null when empty.
	IconURL string `json:"icon_url,omitempty"`
	// LastEventTime is in Unix milliseconds; zero means the fake's clock at the
	// moment the chat was stored.
	LastEventTime int64 `json:"last_event_time,omitempty"`
	// ParticipantsCount is served as is. It is not derived from Members, so a
	// test can set any count without creating that many members.
	ParticipantsCount int `json:"participants_count"`
	// OwnerID is rendered as null when zero.
	OwnerID  int64 `json:"owner_id,omitempty"`
	IsPublic bool  `json:"is_public,omitempty"`
	// Link is rendered as null when empty.
	Link string `json:"link,omitempty"`
	// Description is rendered as null when empty.
	Description   string `json:"description,omitempty"`
	MessagesCount int    `json:"messages_count,omitempty"`
	// Members are served by GET /chats/{chatId}/members, ordered by user id,
	// and as the chat's "participants" map (user id -> last access time).
	Members []Member `json:"members,omitempty"`
}

// Member is a chat member, rendered as the API's ChatMember object.
type Member struct {
	UserID    int64  `json:"user_id"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name,omitempty"`
	// Username is rendered as null when empty.
	Username    string `json:"username,omitempty"`
	IsBot       bool   `json:"is_bot,omitempty"`
	Description string `json:"description,omitempty"`
	AvatarURL   string `json:"avatar_url,omitempty"`
	// FullAvatarURL is omitted when empty.
	FullAvatarURL string `json:"full_avatar_url,omitempty"`
	// JoinTime is in Unix milliseconds; zero means the fake's clock when the
	// member was stored.
	JoinTime int64 `json:"join_time,omitempty"`
	// LastAccessTime defaults to JoinTime.
	LastAccessTime int64 `json:"last_access_time,omitempty"`
	// LastActivityTime defaults to LastAccessTime.
	LastActivityTime int64 `json:"last_activity_time,omitempty"`
	IsOwner          bool  `json:"is_owner,omitempty"`
	IsAdmin          bool  `json:"is_admin,omitempty"`
	// Permissions must be values of the schema's ChatAdminPermission enum;
	// they are rendered as null when empty, as the API does for non-admins.
	Permissions []string `json:"permissions,omitempty"`
	Alias       string   `json:"alias,omitempty"`
}

// Bot is the bot that owns the token, served by GET /me as BotInfo.
type Bot struct {
	UserID    int64  `json:"user_id"`
	FirstName string `json:"first_name"`
	// Username is rendered as null when empty.
	Username      string `json:"username,omitempty"`
	Description   string `json:"description,omitempty"`
	AvatarURL     string `json:"avatar_url,omitempty"`
	FullAvatarURL string `json:"full_avatar_url,omitempty"`
	// LastActivityTime is in Unix milliseconds; zero means the fake's clock at
	// the time of the request.
	LastActivityTime int64        `json:"last_activity_time,omitempty"`
	Commands         []BotCommand `json:"commands,omitempty"`
}

// BotCommand is one command of the bot, as in the API's BotCommand object.
type BotCommand struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// DefaultBot returns the bot that GET /me describes until SetBot or WithBot
// says otherwise.
func DefaultBot() Bot {
	return Bot{
		UserID:      1000001,
		FirstName:   "Faultline Fake Bot",
		Username:    "faultline_fake_bot",
		Description: "In-memory fake of the MAX Bot API",
	}
}

// chatTypes lists the chat types the real API sends; anything else would make
// a client see a value it was never promised.
func chatTypes() []string { return []string{"chat", "channel", "dialog"} }

// chatStatuses lists the chat statuses the real API sends.
func chatStatuses() []string { return []string{"active", "removed", "left", "closed"} }

// adminPermissions is the schema's ChatAdminPermission enum.
func adminPermissions() []string {
	return []string{
		"read_all_messages", "add_remove_members", "add_admins", "change_chat_info",
		"pin_message", "write", "can_call", "edit_link", "post_edit_delete_message",
		"edit_message", "delete_message", "edit", "delete",
	}
}

// normalize fills defaults and checks the chat, returning the stored form: a
// deep copy with members sorted by user id.
func (c Chat) normalize(nowMS int64) (Chat, error) {
	if c.ID == 0 {
		return Chat{}, fmt.Errorf("chat_id must not be zero: %w", ErrInvalid)
	}
	if c.Type == "" {
		c.Type = "chat"
	}
	if !slices.Contains(chatTypes(), c.Type) {
		return Chat{}, fmt.Errorf("chat %d: type %q not one of %v: %w", c.ID, c.Type, chatTypes(), ErrInvalid)
	}
	if c.Status == "" {
		c.Status = "active"
	}
	if !slices.Contains(chatStatuses(), c.Status) {
		return Chat{}, fmt.Errorf("chat %d: status %q not one of %v: %w", c.ID, c.Status, chatStatuses(), ErrInvalid)
	}
	// The schema declares participants_count as int32; a larger value could
	// never come from the real API.
	if c.ParticipantsCount < 0 || c.ParticipantsCount > 1<<31-1 {
		return Chat{}, fmt.Errorf("chat %d: participants_count %d out of range: %w", c.ID, c.ParticipantsCount, ErrInvalid)
	}
	if c.MessagesCount < 0 {
		return Chat{}, fmt.Errorf("chat %d: messages_count %d negative: %w", c.ID, c.MessagesCount, ErrInvalid)
	}
	if c.LastEventTime == 0 {
		c.LastEventTime = nowMS
	}
	members := make([]Member, 0, len(c.Members))
	seen := make(map[int64]bool, len(c.Members))
	for _, m := range c.Members {
		nm, err := m.normalize(nowMS)
		if err != nil {
			return Chat{}, fmt.Errorf("chat %d: %w", c.ID, err)
		}
		if seen[nm.UserID] {
			return Chat{}, fmt.Errorf("chat %d: member %d listed twice: %w", c.ID, nm.UserID, ErrInvalid)
		}
		seen[nm.UserID] = true
		members = append(members, nm)
	}
	sortMembers(members)
	c.Members = members
	return c, nil
}

// clone returns a deep copy, so callers never share slices with the store.
func (c Chat) clone() Chat {
	members := make([]Member, len(c.Members))
	for i, m := range c.Members {
		members[i] = m.clone()
	}
	c.Members = members
	return c
}

func (m Member) normalize(nowMS int64) (Member, error) {
	if m.UserID <= 0 {
		return Member{}, fmt.Errorf("member user_id %d must be positive: %w", m.UserID, ErrInvalid)
	}
	for _, p := range m.Permissions {
		if !slices.Contains(adminPermissions(), p) {
			return Member{}, fmt.Errorf("member %d: permission %q not one of %v: %w", m.UserID, p, adminPermissions(), ErrInvalid)
		}
	}
	if m.JoinTime == 0 {
		m.JoinTime = nowMS
	}
	if m.LastAccessTime == 0 {
		m.LastAccessTime = m.JoinTime
	}
	if m.LastActivityTime == 0 {
		m.LastActivityTime = m.LastAccessTime
	}
	return m.clone(), nil
}

func (m Member) clone() Member {
	m.Permissions = slices.Clone(m.Permissions)
	return m
}

func sortMembers(ms []Member) {
	slices.SortFunc(ms, func(a, b Member) int {
		switch {
		case a.UserID < b.UserID:
			return -1
		case a.UserID > b.UserID:
			return 1
		}
		return 0
	})
}

func (b Bot) validate() error {
	if b.UserID <= 0 {
		return fmt.Errorf("bot user_id %d must be positive: %w", b.UserID, ErrInvalid)
	}
	if len(b.Commands) > 32 {
		return fmt.Errorf("bot has %d commands, the API allows 32: %w", len(b.Commands), ErrInvalid)
	}
	for _, c := range b.Commands {
		if c.Name == "" || len(c.Name) > 64 {
			return fmt.Errorf("bot command name %q must be 1..64 bytes: %w", c.Name, ErrInvalid)
		}
	}
	return nil
}

func (b Bot) clone() Bot {
	b.Commands = slices.Clone(b.Commands)
	return b
}

// Wire forms. Pointers are the nullable fields: the schema marks them required
// and nullable, so they must be present and may be null.

type wireError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type wireImage struct {
	URL string `json:"url"`
}

type wireChat struct {
	ChatID            int64            `json:"chat_id"`
	Type              string           `json:"type"`
	Status            string           `json:"status"`
	Title             *string          `json:"title"`
	Icon              *wireImage       `json:"icon"`
	LastEventTime     int64            `json:"last_event_time"`
	ParticipantsCount int              `json:"participants_count"`
	OwnerID           *int64           `json:"owner_id"`
	Participants      map[string]int64 `json:"participants"`
	IsPublic          bool             `json:"is_public"`
	Link              *string          `json:"link"`
	Description       *string          `json:"description"`
	MessagesCount     int              `json:"messages_count"`
}

type wireMember struct {
	UserID           int64    `json:"user_id"`
	FirstName        string   `json:"first_name"`
	LastName         string   `json:"last_name,omitempty"`
	Username         *string  `json:"username"`
	IsBot            bool     `json:"is_bot"`
	LastActivityTime int64    `json:"last_activity_time"`
	Name             *string  `json:"name"`
	Description      string   `json:"description,omitempty"`
	AvatarURL        string   `json:"avatar_url,omitempty"`
	FullAvatarURL    string   `json:"full_avatar_url,omitempty"`
	LastAccessTime   int64    `json:"last_access_time"`
	IsOwner          bool     `json:"is_owner"`
	IsAdmin          bool     `json:"is_admin"`
	JoinTime         int64    `json:"join_time"`
	Permissions      []string `json:"permissions"`
	Alias            string   `json:"alias,omitempty"`
}

type wireMembers struct {
	Members []wireMember `json:"members"`
	Marker  *int64       `json:"marker"`
}

type wireBot struct {
	UserID           int64        `json:"user_id"`
	FirstName        string       `json:"first_name"`
	Username         *string      `json:"username"`
	IsBot            bool         `json:"is_bot"`
	LastActivityTime int64        `json:"last_activity_time"`
	Name             *string      `json:"name"`
	Description      *string      `json:"description"`
	AvatarURL        string       `json:"avatar_url,omitempty"`
	FullAvatarURL    string       `json:"full_avatar_url,omitempty"`
	Commands         []BotCommand `json:"commands,omitempty"`
}

func nullable[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

func (c Chat) wire() wireChat {
	w := wireChat{
		ChatID:            c.ID,
		Type:              c.Type,
		Status:            c.Status,
		Title:             nullable(c.Title),
		LastEventTime:     c.LastEventTime,
		ParticipantsCount: c.ParticipantsCount,
		OwnerID:           nullable(c.OwnerID),
		Participants:      make(map[string]int64, len(c.Members)),
		IsPublic:          c.IsPublic,
		Link:              nullable(c.Link),
		Description:       nullable(c.Description),
		MessagesCount:     c.MessagesCount,
	}
	if c.IconURL != "" {
		w.Icon = &wireImage{URL: c.IconURL}
	}
	for _, m := range c.Members {
		w.Participants[strconv.FormatInt(m.UserID, 10)] = m.LastAccessTime
	}
	return w
}

func (m Member) wire() wireMember {
	return wireMember{
		UserID:           m.UserID,
		FirstName:        m.FirstName,
		LastName:         m.LastName,
		Username:         nullable(m.Username),
		IsBot:            m.IsBot,
		LastActivityTime: m.LastActivityTime,
		Name:             nullable(strings.TrimSpace(m.FirstName + " " + m.LastName)),
		Description:      m.Description,
		AvatarURL:        m.AvatarURL,
		FullAvatarURL:    m.FullAvatarURL,
		LastAccessTime:   m.LastAccessTime,
		IsOwner:          m.IsOwner,
		IsAdmin:          m.IsAdmin,
		JoinTime:         m.JoinTime,
		Permissions:      slices.Clone(m.Permissions),
		Alias:            m.Alias,
	}
}

func (b Bot) wire(nowMS int64) wireBot {
	last := b.LastActivityTime
	if last == 0 {
		last = nowMS
	}
	return wireBot{
		UserID:           b.UserID,
		FirstName:        b.FirstName,
		Username:         nullable(b.Username),
		IsBot:            true,
		LastActivityTime: last,
		Name:             nullable(b.FirstName),
		Description:      nullable(b.Description),
		AvatarURL:        b.AvatarURL,
		FullAvatarURL:    b.FullAvatarURL,
		Commands:         slices.Clone(b.Commands),
	}
}
