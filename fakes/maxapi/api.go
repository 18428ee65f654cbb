package maxapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// contentType is what the real API sends with every JSON body.
const contentType = "application/json; charset=utf-8"

// ServeHTTP serves the fake API, and the admin API under AdminPrefix.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == strings.TrimSuffix(AdminPrefix, "/") || strings.HasPrefix(r.URL.Path, AdminPrefix) {
		s.serveAdmin(w, r)
		return
	}
	endpoint, chatID := route(r.Method, r.URL.Path)
	seq := s.begin(r, endpoint, chatID)
	var o outcome
	// Deferred so that a call is completed in the journal even when the
	// response is aborted (Disconnect panics with http.ErrAbortHandler when it
	// cannot hijack).
	defer func() { s.finish(seq, o) }()
	s.serveAPI(w, r, endpoint, chatID, &o)
}

// outcome is what the fake did with a call, for the journal.
type outcome struct {
	status  int
	faultID FaultID
	fault   string
}

// route maps a request to the endpoint pattern it matches and the chat id in
// its path. Only GET is served; everything else is EndpointUnknown, including
// non-numeric chat ids (the real API routes those to GET /chats/{chatLink},
// which the fake does not serve).
func route(method, path string) (string, int64) {
	if method != http.MethodGet {
		return EndpointUnknown, 0
	}
	if path == "/me" {
		return EndpointMe, 0
	}
	rest, ok := strings.CutPrefix(path, "/chats/")
	if !ok {
		return EndpointUnknown, 0
	}
	idText, tail, _ := strings.Cut(rest, "/")
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || id == 0 {
		return EndpointUnknown, 0
	}
	switch {
	case !strings.Contains(rest, "/"):
		return EndpointChat, id
	case tail == "members":
		return EndpointMembers, id
	}
	return EndpointUnknown, 0
}

// plan is a response decided under the lock and written without it.
type plan struct {
	status  int
	body    []byte
	faultID FaultID
	fault   *Fault
	release chan struct{}
	closed  bool
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, endpoint string, chatID int64, o *outcome) {
	if endpoint == EndpointUnknown {
		o.status = writeJSON(w, http.StatusNotFound, errorBody("method.not.found",
			fmt.Sprintf("Path %s with method %s is not recognized", r.URL.Path, r.Method)))
		return
	}
	query := r.URL.Query()
	if query.Has("access_token") {
		o.status = writeJSON(w, http.StatusForbidden, errorBody("deprecated.token",
			"Passing access_token in the query is no longer supported, use the Authorization header"))
		return
	}
	var mq membersQuery
	var problem string
	if endpoint == EndpointMembers {
		mq, problem = parseMembersQuery(query)
	}
	p, ok := s.decide(w, r.Header.Get("Authorization"), endpoint, chatID, mq, problem, o)
	if !ok {
		return
	}
	s.respond(w, r.Context(), p, o)
}

// decide authenticates and rate-limits the request and, under the lock, picks
// the fault and renders the normal response. It writes refusals itself and
// then returns false.
func (s *Server) decide(w http.ResponseWriter, token, endpoint string, chatID int64, mq membersQuery, problem string, o *outcome) (plan, bool) {
	s.lock()
	if !s.authorizedLocked(token) {
		s.mu.Unlock()
		o.status = writeJSON(w, http.StatusUnauthorized, errorBody("verify.token", "Invalid access_token"))
		return plan{}, false
	}
	if !s.admitLocked(token, s.nowLocked()) {
		s.mu.Unlock()
		o.status = writeJSON(w, http.StatusTooManyRequests, errorBody("too.many.requests", "Too many requests"))
		return plan{}, false
	}
	p := plan{release: s.release, closed: s.closed}
	p.faultID, p.fault = s.takeFaultLocked(endpoint, chatID)
	if problem != "" {
		p.status, p.body = http.StatusBadRequest, errorBody("proto.payload", problem)
	} else {
		p.status, p.body = s.renderLocked(endpoint, chatID, mq)
	}
	s.mu.Unlock()
	if p.fault != nil {
		o.faultID, o.fault = p.faultID, p.fault.effects()
	}
	return p, true
}

// renderLocked builds the normal answer of an endpoint from the state.
func (s *Server) renderLocked(endpoint string, chatID int64, mq membersQuery) (int, []byte) {
	switch endpoint {
	case EndpointMe:
		return http.StatusOK, mustJSON(s.bot.wire(s.nowLocked().UnixMilli()))
	case EndpointChat:
		c, ok := s.chats[chatID]
		if !ok {
			return chatNotFound(chatID)
		}
		return http.StatusOK, mustJSON(c.wire())
	case EndpointMembers:
		c, ok := s.chats[chatID]
		if !ok {
			return chatNotFound(chatID)
		}
		return http.StatusOK, mustJSON(mq.page(c.Members))
	}
	// route only yields the endpoints above; reaching here is a bug in the fake.
	panic("maxapi: no renderer for endpoint " + endpoint)
}

func chatNotFound(id int64) (int, []byte) {
	return http.StatusNotFound, errorBody("chat.not.found", fmt.Sprintf("Chat %d not found", id))
}

// respond writes the planned answer with the fault's effects.
func (s *Server) respond(w http.ResponseWriter, ctx context.Context, p plan, o *outcome) {
	f := p.fault
	if f == nil {
		o.status = writeJSON(w, p.status, p.body)
		return
	}
	if f.Latency > 0 && !sleep(ctx, f.Latency) {
		return // the client gave up; nothing was answered
	}
	if f.Hang && !p.closed {
		select {
		case <-ctx.Done():
			return
		case <-p.release:
		}
	}
	if f.Disconnect {
		disconnect(w)
		return
	}
	status, body := p.status, p.body
	if f.Status != 0 {
		status = f.Status
		if f.Status >= 400 {
			body = defaultErrorBody(f.Status)
		}
	}
	if f.Body != "" {
		body = []byte(f.Body)
	}
	for k, v := range f.Header {
		w.Header().Set(k, v)
	}
	if f.WrongTypes {
		body = stringifyNumbers(body)
	}
	if f.MalformedJSON {
		body = malform(body)
	}
	o.status = status
	writeShaped(w, status, body, f.Oversize, f.Truncate)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// disconnect closes the connection in the middle of the response headers, so
// the client's round trip itself fails.
func disconnect(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		// HTTP/2 and recorders cannot be hijacked; aborting the handler is
		// the closest equivalent (net/http resets the stream or connection).
		panic(http.ErrAbortHandler)
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/js")
	_ = buf.Flush()
	_ = conn.Close()
}

func errorBody(code, message string) []byte {
	return mustJSON(wireError{Code: code, Message: message})
}

// defaultErrorBody is the body a Status fault sends when it has no Body: the
// codes the real API uses where known, otherwise the status text in the API's
// dotted style.
func defaultErrorBody(status int) []byte {
	switch status {
	case http.StatusUnauthorized:
		return errorBody("verify.token", "Invalid access_token")
	case http.StatusTooManyRequests:
		return errorBody("too.many.requests", "Too many requests")
	case http.StatusBadRequest:
		return errorBody("proto.payload", "Invalid request payload")
	case http.StatusNotFound:
		return errorBody("not.found", "Resource not found")
	case http.StatusInternalServerError:
		return errorBody("internal.error", "Internal server error")
	}
	text := http.StatusText(status)
	if text == "" {
		text = "Status " + strconv.Itoa(status)
	}
	return errorBody(strings.ToLower(strings.ReplaceAll(text, " ", ".")), text)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only the fake's own wire types are marshalled; they always encode.
		panic("maxapi: encode response: " + err.Error())
	}
	return b
}

func setJSONHeaders(w http.ResponseWriter) {
	h := w.Header()
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", contentType)
	}
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-cache")
	}
}

func writeJSON(w http.ResponseWriter, status int, body []byte) int {
	writeShaped(w, status, body, 0, false)
	return status
}

// writeShaped writes body padded to oversize bytes and, with truncate, only
// the first half of it under a Content-Length for all of it. Padding is
// streamed so an oversized body of many megabytes costs no memory.
func writeShaped(w http.ResponseWriter, status int, body []byte, oversize int, truncate bool) {
	head, pad, fill, tail := body, 0, byte(0), []byte(nil)
	if oversize > len(body) {
		head, pad, fill, tail = padding(body, oversize)
	}
	setJSONHeaders(w)
	if !bodyAllowed(status) {
		// 204 and 304 carry no body; net/http would refuse to write one.
		w.Header().Del("Content-Length")
		w.WriteHeader(status)
		return
	}
	total := len(head) + pad + len(tail)
	w.Header().Set("Content-Length", strconv.Itoa(total))
	w.WriteHeader(status)
	var out io.Writer = w
	if truncate {
		// Short of the declared length, net/http closes the connection after
		// the handler returns: the client reads an unexpected EOF.
		out = &limitWriter{w: w, n: total / 2}
	}
	_, _ = out.Write(head)
	writePadding(out, pad, fill)
	_, _ = out.Write(tail)
}

func bodyAllowed(status int) bool {
	return status != http.StatusNoContent && status != http.StatusNotModified && status >= 200
}

// padding splits an oversized body into head, padding length and byte, and
// tail. A JSON object gets a "padding" string member so that a client has to
// read it all; anything else gets trailing spaces, which keep JSON valid.
func padding(body []byte, size int) (head []byte, n int, fill byte, tail []byte) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) >= 2 && trimmed[0] == '{' && trimmed[len(trimmed)-1] == '}' {
		inner := bytes.TrimSpace(trimmed[:len(trimmed)-1])
		head = append([]byte{}, inner...)
		if len(inner) > 1 {
			head = append(head, ',')
		}
		head = append(head, `"padding":"`...)
		tail = []byte(`"}`)
		return head, max(size-len(head)-len(tail), 0), 'x', tail
	}
	return body, size - len(body), ' ', nil
}

func writePadding(w io.Writer, n int, fill byte) {
	if n <= 0 {
		return
	}
	chunk := bytes.Repeat([]byte{fill}, min(n, 32<<10))
	for n > 0 {
		k := min(n, len(chunk))
		if _, err := w.Write(chunk[:k]); err != nil {
			return
		}
		n -= k
	}
}

// limitWriter passes on the first n bytes and silently drops the rest.
type limitWriter struct {
	w io.Writer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n <= 0 {
		return len(p), nil
	}
	k := min(len(p), l.n)
	if _, err := l.w.Write(p[:k]); err != nil {
		return 0, err
	}
	l.n -= k
	return len(p), nil
}

// stringifyNumbers turns every JSON number in body into a string; a body that
// is not JSON is returned unchanged.
func stringifyNumbers(body []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return body
	}
	var conv func(any) any
	conv = func(v any) any {
		switch x := v.(type) {
		case json.Number:
			return x.String()
		case map[string]any:
			for k, e := range x {
				x[k] = conv(e)
			}
		case []any:
			for i, e := range x {
				x[i] = conv(e)
			}
		}
		return v
	}
	return mustJSON(conv(v))
}

// malform injects a trailing comma before the final closing brace or bracket,
// or appends one when there is none.
func malform(body []byte) []byte {
	trimmed := bytes.TrimRight(body, " \t\r\n")
	if n := len(trimmed); n > 0 && (trimmed[n-1] == '}' || trimmed[n-1] == ']') {
		out := append([]byte{}, trimmed[:n-1]...)
		out = append(out, ',')
		return append(out, trimmed[n-1])
	}
	return append(append([]byte{}, body...), ',')
}

// membersQuery is the parsed query of GET /chats/{chatId}/members.
type membersQuery struct {
	userIDs []int64
	byIDs   bool
	marker  int64
	count   int
}

// parseMembersQuery returns the query, or a problem worded like the real API's
// proto.payload messages.
func parseMembersQuery(q url.Values) (membersQuery, string) {
	mq := membersQuery{count: 20}
	for _, v := range q["user_ids"] {
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part == "" {
				continue
			}
			id, err := strconv.ParseInt(part, 10, 64)
			if err != nil {
				return mq, fmt.Sprintf("Field 'user_ids' value (%s) is not a valid number", part)
			}
			mq.userIDs = append(mq.userIDs, id)
			mq.byIDs = true
		}
	}
	if v := q.Get("marker"); v != "" {
		m, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return mq, fmt.Sprintf("Field 'marker' value (%s) is not a valid number", v)
		}
		mq.marker = m
	}
	if v := q.Get("count"); v != "" {
		c, err := strconv.Atoi(v)
		switch {
		case err != nil:
			return mq, fmt.Sprintf("Field 'count' value (%s) is not a valid number", v)
		case c < 1:
			return mq, fmt.Sprintf("Field 'count' value (%d) must be at least 1", c)
		case c > 100:
			return mq, fmt.Sprintf("Field 'count' value (%d) must be at most 100", c)
		}
		mq.count = c
	}
	return mq, ""
}

// page selects members (sorted by user id). With user_ids, count and marker
// are ignored, as the API documents. The marker is the last user id returned;
// the next page starts after it, so members added meanwhile are not skipped.
func (mq membersQuery) page(members []Member) wireMembers {
	out := wireMembers{Members: []wireMember{}}
	if mq.byIDs {
		for _, m := range members {
			for _, id := range mq.userIDs {
				if m.UserID == id {
					out.Members = append(out.Members, m.wire())
					break
				}
			}
		}
		return out
	}
	start := 0
	for start < len(members) && members[start].UserID <= mq.marker {
		start++
	}
	end := min(start+mq.count, len(members))
	for _, m := range members[start:end] {
		out.Members = append(out.Members, m.wire())
	}
	if end < len(members) {
		last := members[end-1].UserID
		out.Marker = &last
	}
	return out
}
