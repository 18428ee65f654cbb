package maxapi

import (
	"net/http"
	"net/url"
	"slices"
	"time"
)

// Call is one request to the fake API as the journal records it. Admin API
// requests are not recorded. The token is never recorded: Auth only says
// whether an Authorization header was sent, and an access_token query value is
// replaced by "REDACTED".
type Call struct {
	// Seq numbers calls from 1 in arrival order; numbers are never reused,
	// not even after Reset, so a call answered late cannot be mistaken for a
	// newer one.
	Seq int64 `json:"seq"`
	// Time is the arrival time on the fake's clock.
	Time   time.Time `json:"time"`
	Method string    `json:"method"`
	Path   string    `json:"path"`
	Query  string    `json:"query,omitempty"`
	// Endpoint is the matched pattern (EndpointChat, ...) or EndpointUnknown.
	Endpoint string `json:"endpoint"`
	// ChatID is the chat id in the path, zero when there is none.
	ChatID int64 `json:"chat_id,omitempty"`
	// Auth reports whether the request carried an Authorization header.
	Auth bool `json:"auth"`
	// Done reports whether the fake has finished with the request; calls in
	// flight (for example held by a Hang fault) are recorded on arrival.
	Done bool `json:"done"`
	// Status is the status code answered; zero when none was sent (still in
	// flight, the client gave up, or the connection was closed).
	Status int `json:"status"`
	// FaultID and Fault name the fault that answered the call, if any; Fault
	// lists its effects, e.g. "latency:1s+status:503".
	FaultID FaultID `json:"fault_id,omitempty"`
	Fault   string  `json:"fault,omitempty"`
}

// begin records a call on arrival and returns its sequence number.
func (s *Server) begin(r *http.Request, endpoint string, chatID int64) int64 {
	s.lock()
	defer s.mu.Unlock()
	s.nextSeq++
	c := Call{
		Seq:      s.nextSeq,
		Time:     s.nowLocked(),
		Method:   r.Method,
		Path:     r.URL.Path,
		Query:    redactQuery(r.URL.RawQuery),
		Endpoint: endpoint,
		ChatID:   chatID,
		Auth:     r.Header.Get("Authorization") != "",
	}
	limit := s.cfg.journalLimit
	if limit <= 0 {
		limit = DefaultJournalLimit
	}
	if len(s.journal) >= limit {
		// Drop the oldest quarter at once so trimming is amortised.
		s.journal = slices.Delete(s.journal, 0, max(len(s.journal)-limit+1, limit/4))
	}
	s.journal = append(s.journal, c)
	s.byEndpoint[endpoint]++
	s.byPath[r.URL.Path]++
	return c.Seq
}

// finish completes the call with seq, if the journal still holds it (Reset or
// ResetJournal may have dropped it meanwhile).
func (s *Server) finish(seq int64, o outcome) {
	s.lock()
	defer s.mu.Unlock()
	i, found := slices.BinarySearchFunc(s.journal, seq, func(c Call, seq int64) int {
		switch {
		case c.Seq < seq:
			return -1
		case c.Seq > seq:
			return 1
		}
		return 0
	})
	if !found {
		return
	}
	c := &s.journal[i]
	c.Done, c.Status, c.FaultID, c.Fault = true, o.status, o.faultID, o.fault
}

func redactQuery(raw string) string {
	if raw == "" {
		return ""
	}
	q, err := url.ParseQuery(raw)
	if err != nil || !q.Has("access_token") {
		if err != nil {
			// An unparsable query could hide a token; record nothing.
			return "(unparsable)"
		}
		return raw
	}
	for i := range q["access_token"] {
		q["access_token"][i] = "REDACTED"
	}
	return q.Encode()
}

// Journal returns the recorded calls, oldest first (at most the journal limit).
func (s *Server) Journal() []Call {
	s.lock()
	defer s.mu.Unlock()
	return slices.Clone(s.journal)
}

// Calls returns the recorded calls whose Endpoint or Path equals
// endpointOrPath, e.g. Calls(EndpointChat) or Calls("/chats/-100").
func (s *Server) Calls(endpointOrPath string) []Call {
	return s.filter(func(c Call) bool { return c.Endpoint == endpointOrPath || c.Path == endpointOrPath })
}

// ChatCalls returns the recorded calls for chatID on any endpoint.
func (s *Server) ChatCalls(chatID int64) []Call {
	return s.filter(func(c Call) bool { return c.ChatID == chatID })
}

func (s *Server) filter(keep func(Call) bool) []Call {
	s.lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.journal {
		if keep(c) {
			out = append(out, c)
		}
	}
	return out
}

// Count returns how many calls arrived for an endpoint pattern or a path since
// the last Reset or ResetJournal. Unlike Calls it is not bounded by the
// journal limit.
func (s *Server) Count(endpointOrPath string) int {
	s.lock()
	defer s.mu.Unlock()
	if n, ok := s.byEndpoint[endpointOrPath]; ok {
		return n
	}
	return s.byPath[endpointOrPath]
}

// Counts returns the number of calls per endpoint pattern (EndpointUnknown
// included) since the last Reset or ResetJournal.
func (s *Server) Counts() map[string]int {
	s.lock()
	defer s.mu.Unlock()
	return counts(s.byEndpoint)
}

// ResetJournal forgets recorded calls and counters, leaving state and faults.
func (s *Server) ResetJournal() {
	s.lock()
	defer s.mu.Unlock()
	s.journal = nil
	s.byEndpoint = map[string]int{}
	s.byPath = map[string]int{}
}
