package httpapi

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/faultline/faultline/service/internal/chat"
)

// chatJSON is the contract's Chat object.
type chatJSON struct {
	ID                int64  `json:"id"`
	Name              string `json:"name"`
	MaxChatID         *int64 `json:"max_chat_id"`
	ParticipantsCount int    `json:"participants_count"`
	// ParticipantsSource is always present: clients rely on it to tell fallback data
	// from fresh data.
	ParticipantsSource string `json:"participants_source"`
	// ParticipantsUpdatedAt is omitted only when the count was never observed.
	ParticipantsUpdatedAt string `json:"participants_updated_at,omitempty"`
}

type listJSON struct {
	Chats []chatJSON `json:"chats"`
}

func toJSON(c chat.Chat) chatJSON {
	out := chatJSON{
		ID:                 c.ID,
		Name:               c.Name,
		ParticipantsCount:  c.Participants.Count,
		ParticipantsSource: string(c.Participants.Source),
	}
	if c.Linked() {
		id := c.MaxChatID
		out.MaxChatID = &id
	}
	if !c.Participants.Source.Valid() {
		// Data without a known source can only have come from the table, the last
		// known good value.
		out.ParticipantsSource = string(chat.SourceDatabase)
	}
	if c.Participants.Known() {
		out.ParticipantsUpdatedAt = c.Participants.UpdatedAt.UTC().Format(time.RFC3339Nano)
	}
	return out
}

func (a *API) listChats(w http.ResponseWriter, r *http.Request) {
	page, err := parsePage(r.URL.RawQuery)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	chats, err := a.deps.Chats.List(r.Context(), page)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := listJSON{Chats: make([]chatJSON, 0, len(chats))}
	for _, c := range chats {
		out.Chats = append(out.Chats, toJSON(c))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) getChat(w http.ResponseWriter, r *http.Request) {
	id, err := a.chatID(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	c, err := a.deps.Chats.Get(r.Context(), id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toJSON(c))
}

func (a *API) refreshChat(w http.ResponseWriter, r *http.Request) {
	id, err := a.chatID(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	c, err := a.deps.Chats.Refresh(r.Context(), id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toJSON(c))
}

// chatID validates the query (none allowed) and the {id} segment of a chat route.
func (a *API) chatID(r *http.Request) (int64, error) {
	if err := requireNoQuery(r.URL.RawQuery); err != nil {
		return 0, err
	}
	return parseChatID(chi.URLParam(r, "id"))
}
