package maxapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// maxAdminBody bounds admin request bodies; a seed of many thousand chats
// still fits.
const maxAdminBody = 16 << 20

// serveAdmin serves the admin HTTP API. It needs no token and is not
// journaled: it is the test's hand on the fake, not traffic to MAX.
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	mux := s.adminMux()
	if _, pattern := mux.Handler(r); pattern == "" {
		adminError(w, http.StatusNotFound, "method.not.found",
			fmt.Sprintf("admin route %s %s not found", r.Method, r.URL.Path))
		return
	}
	mux.ServeHTTP(w, r)
}

func (s *Server) adminMux() *http.ServeMux {
	s.adminOnce.Do(func() {
		m := http.NewServeMux()
		p := AdminPrefix
		m.HandleFunc("GET "+p+"chats", s.adminListChats)
		m.HandleFunc("GET "+p+"chats/{chatId}", s.adminGetChat)
		m.HandleFunc("PUT "+p+"chats/{chatId}", s.adminPutChat)
		m.HandleFunc("PATCH "+p+"chats/{chatId}", s.adminPatchChat)
		m.HandleFunc("DELETE "+p+"chats/{chatId}", s.adminDeleteChat)
		m.HandleFunc("PUT "+p+"chats/{chatId}/participants", s.adminSetParticipants)
		m.HandleFunc("GET "+p+"chats/{chatId}/members", s.adminListMembers)
		m.HandleFunc("PUT "+p+"chats/{chatId}/members/{userId}", s.adminPutMember)
		m.HandleFunc("DELETE "+p+"chats/{chatId}/members/{userId}", s.adminDeleteMember)
		m.HandleFunc("POST "+p+"seed", s.adminSeed)
		m.HandleFunc("GET "+p+"bot", s.adminGetBot)
		m.HandleFunc("PUT "+p+"bot", s.adminPutBot)
		m.HandleFunc("GET "+p+"faults", s.adminListFaults)
		m.HandleFunc("POST "+p+"faults", s.adminAddFault)
		m.HandleFunc("DELETE "+p+"faults", s.adminClearFaults)
		m.HandleFunc("DELETE "+p+"faults/{id}", s.adminClearFault)
		m.HandleFunc("GET "+p+"journal", s.adminJournal)
		m.HandleFunc("DELETE "+p+"journal", s.adminResetJournal)
		m.HandleFunc("GET "+p+"counts", s.adminCounts)
		m.HandleFunc("GET "+p+"config", s.adminGetConfig)
		m.HandleFunc("PATCH "+p+"config", s.adminPatchConfig)
		m.HandleFunc("POST "+p+"reset", s.adminReset)
		s.admin = m
	})
	return s.admin
}

func adminJSON(w http.ResponseWriter, status int, v any) {
	writeJSON(w, status, mustJSON(v))
}

func adminError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, errorBody(code, message))
}

// adminFail maps an error of a Server method to a status.
func adminFail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		adminError(w, http.StatusNotFound, "not.found", err.Error())
	default:
		adminError(w, http.StatusBadRequest, "fake.invalid", err.Error())
	}
}

func readBody(r *http.Request) ([]byte, error) {
	data, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxAdminBody))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	return data, nil
}

// decodeStrict decodes one JSON value and refuses unknown fields, so that a
// typo in a curl command is an error rather than a silent no-op.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode body: %w: %w", err, ErrInvalid)
	}
	if dec.More() {
		return fmt.Errorf("decode body: trailing data: %w", ErrInvalid)
	}
	return nil
}

func readJSON(r *http.Request, v any) error {
	data, err := readBody(r)
	if err != nil {
		return fmt.Errorf("%w: %w", err, ErrInvalid)
	}
	return decodeStrict(data, v)
}

func pathInt(r *http.Request, name string) (int64, error) {
	v, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("path %s %q is not an integer: %w", name, r.PathValue(name), ErrInvalid)
	}
	return v, nil
}

func (s *Server) adminListChats(w http.ResponseWriter, _ *http.Request) {
	adminJSON(w, http.StatusOK, map[string]any{"chats": s.Chats()})
}

func (s *Server) adminGetChat(w http.ResponseWriter, r *http.Request) {
	id, err := pathInt(r, "chatId")
	if err != nil {
		adminFail(w, err)
		return
	}
	c, ok := s.Chat(id)
	if !ok {
		adminFail(w, fmt.Errorf("chat %d: %w", id, ErrNotFound))
		return
	}
	adminJSON(w, http.StatusOK, c)
}

func (s *Server) adminPutChat(w http.ResponseWriter, r *http.Request) {
	id, err := pathInt(r, "chatId")
	if err != nil {
		adminFail(w, err)
		return
	}
	var c Chat
	if err := readJSON(r, &c); err != nil {
		adminFail(w, err)
		return
	}
	if c.ID == 0 {
		c.ID = id
	}
	if c.ID != id {
		adminFail(w, fmt.Errorf("body chat_id %d differs from path %d: %w", c.ID, id, ErrInvalid))
		return
	}
	if err := s.PutChat(c); err != nil {
		adminFail(w, err)
		return
	}
	s.adminGetChat(w, r)
}

// adminPatchChat overlays the fields present in the body on the stored chat.
func (s *Server) adminPatchChat(w http.ResponseWriter, r *http.Request) {
	id, err := pathInt(r, "chatId")
	if err != nil {
		adminFail(w, err)
		return
	}
	data, err := readBody(r)
	if err != nil {
		adminFail(w, fmt.Errorf("%w: %w", err, ErrInvalid))
		return
	}
	var derr error
	err = s.UpdateChat(id, func(c *Chat) {
		patched := c.clone()
		if derr = decodeStrict(data, &patched); derr == nil {
			*c = patched
		}
	})
	if err == nil {
		err = derr
	}
	if err != nil {
		adminFail(w, err)
		return
	}
	s.adminGetChat(w, r)
}

func (s *Server) adminDeleteChat(w http.ResponseWriter, r *http.Request) {
	id, err := pathInt(r, "chatId")
	if err != nil {
		adminFail(w, err)
		return
	}
	if !s.DeleteChat(id) {
		adminFail(w, fmt.Errorf("chat %d: %w", id, ErrNotFound))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) adminSetParticipants(w http.ResponseWriter, r *http.Request) {
	id, err := pathInt(r, "chatId")
	if err != nil {
		adminFail(w, err)
		return
	}
	var body struct {
		Count *int `json:"count"`
	}
	if err := readJSON(r, &body); err != nil {
		adminFail(w, err)
		return
	}
	if body.Count == nil {
		adminFail(w, fmt.Errorf("body needs \"count\": %w", ErrInvalid))
		return
	}
	if err := s.SetParticipants(id, *body.Count); err != nil {
		adminFail(w, err)
		return
	}
	s.adminGetChat(w, r)
}

func (s *Server) adminListMembers(w http.ResponseWriter, r *http.Request) {
	id, err := pathInt(r, "chatId")
	if err != nil {
		adminFail(w, err)
		return
	}
	ms, err := s.Members(id)
	if err != nil {
		adminFail(w, err)
		return
	}
	adminJSON(w, http.StatusOK, map[string]any{"members": ms})
}

func (s *Server) adminPutMember(w http.ResponseWriter, r *http.Request) {
	chatID, err := pathInt(r, "chatId")
	if err != nil {
		adminFail(w, err)
		return
	}
	userID, err := pathInt(r, "userId")
	if err != nil {
		adminFail(w, err)
		return
	}
	var m Member
	if err := readJSON(r, &m); err != nil {
		adminFail(w, err)
		return
	}
	if m.UserID == 0 {
		m.UserID = userID
	}
	if m.UserID != userID {
		adminFail(w, fmt.Errorf("body user_id %d differs from path %d: %w", m.UserID, userID, ErrInvalid))
		return
	}
	if err := s.PutMember(chatID, m); err != nil {
		adminFail(w, err)
		return
	}
	s.adminListMembers(w, r)
}

func (s *Server) adminDeleteMember(w http.ResponseWriter, r *http.Request) {
	chatID, err := pathInt(r, "chatId")
	if err != nil {
		adminFail(w, err)
		return
	}
	userID, err := pathInt(r, "userId")
	if err != nil {
		adminFail(w, err)
		return
	}
	if err := s.DeleteMember(chatID, userID); err != nil {
		adminFail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) adminSeed(w http.ResponseWriter, r *http.Request) {
	data, err := readBody(r)
	if err != nil {
		adminFail(w, fmt.Errorf("%w: %w", err, ErrInvalid))
		return
	}
	seed, err := ParseSeed(data)
	if err != nil {
		adminFail(w, fmt.Errorf("%w: %w", err, ErrInvalid))
		return
	}
	if err := s.ApplySeed(seed); err != nil {
		adminFail(w, err)
		return
	}
	s.adminListChats(w, r)
}

func (s *Server) adminGetBot(w http.ResponseWriter, _ *http.Request) {
	adminJSON(w, http.StatusOK, s.Bot())
}

func (s *Server) adminPutBot(w http.ResponseWriter, r *http.Request) {
	var b Bot
	if err := readJSON(r, &b); err != nil {
		adminFail(w, err)
		return
	}
	if err := s.SetBot(b); err != nil {
		adminFail(w, err)
		return
	}
	s.adminGetBot(w, r)
}

func (s *Server) adminListFaults(w http.ResponseWriter, _ *http.Request) {
	adminJSON(w, http.StatusOK, map[string]any{"faults": s.Faults()})
}

func (s *Server) adminAddFault(w http.ResponseWriter, r *http.Request) {
	var f Fault
	if err := readJSON(r, &f); err != nil {
		adminFail(w, err)
		return
	}
	id, err := s.AddFault(f)
	if err != nil {
		adminFail(w, err)
		return
	}
	adminJSON(w, http.StatusCreated, map[string]any{"id": id})
}

func (s *Server) adminClearFaults(w http.ResponseWriter, _ *http.Request) {
	s.ClearFaults()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) adminClearFault(w http.ResponseWriter, r *http.Request) {
	id, err := pathInt(r, "id")
	if err != nil {
		adminFail(w, err)
		return
	}
	if !s.ClearFault(FaultID(id)) {
		adminFail(w, fmt.Errorf("fault %d: %w", id, ErrNotFound))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// adminJournal lists calls, filtered by the optional query parameters
// endpoint, path and chat_id (all must match).
func (s *Server) adminJournal(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	endpoint, path := q.Get("endpoint"), q.Get("path")
	var chatID int64
	if v := q.Get("chat_id"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			adminFail(w, fmt.Errorf("chat_id %q is not an integer: %w", v, ErrInvalid))
			return
		}
		chatID = id
	}
	calls := s.filter(func(c Call) bool {
		return (endpoint == "" || c.Endpoint == endpoint) &&
			(path == "" || c.Path == path) &&
			(chatID == 0 || c.ChatID == chatID)
	})
	if calls == nil {
		calls = []Call{}
	}
	adminJSON(w, http.StatusOK, map[string]any{"calls": calls})
}

func (s *Server) adminResetJournal(w http.ResponseWriter, _ *http.Request) {
	s.ResetJournal()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) adminCounts(w http.ResponseWriter, _ *http.Request) {
	s.lock()
	endpoints, paths := counts(s.byEndpoint), counts(s.byPath)
	s.mu.Unlock()
	adminJSON(w, http.StatusOK, map[string]any{"endpoints": endpoints, "paths": paths})
}

// adminConfig is the admin view of the configuration. The token is write-only:
// reading the configuration only tells whether one is set.
type adminConfig struct {
	TokenConfigured bool `json:"token_configured"`
	RateLimit       int  `json:"rate_limit"`
}

func (s *Server) adminGetConfig(w http.ResponseWriter, _ *http.Request) {
	adminJSON(w, http.StatusOK, adminConfig{TokenConfigured: s.TokenConfigured(), RateLimit: s.RateLimit()})
}

func (s *Server) adminPatchConfig(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Token     *string `json:"token"`
		RateLimit *int    `json:"rate_limit"`
	}
	if err := readJSON(r, &body); err != nil {
		adminFail(w, err)
		return
	}
	if body.Token != nil {
		s.SetToken(*body.Token)
	}
	if body.RateLimit != nil {
		s.SetRateLimit(*body.RateLimit)
	}
	s.adminGetConfig(w, r)
}

func (s *Server) adminReset(w http.ResponseWriter, _ *http.Request) {
	s.Reset()
	w.WriteHeader(http.StatusNoContent)
}
