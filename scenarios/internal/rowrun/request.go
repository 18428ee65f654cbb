package rowrun

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/faultline/faultline/chaos"
	"github.com/faultline/faultline/contract"
	"github.com/faultline/faultline/matrix"
)

// answer is one response to a row's request, as the observation needs it.
type answer struct {
	status              int
	header              http.Header
	chats               []matrix.ObservedChat
	errCode, errMessage string
	body                []byte
	latency             time.Duration
	// err is a transport error, or a body that does not have the contract's shape.
	err error
}

// send sends the row's request once and decodes what the contract says the answer holds:
// the chats of a list, the chat of a get or refresh.
func send(ctx context.Context, c *chaos.Client, req matrix.Request) answer {
	// The health endpoint's 503 body is a health report, not an error body.
	if req.Method == http.MethodGet && req.Path == contract.PathHealthDetailed {
		h := c.Health(ctx)
		return answer{status: h.Status, header: h.Header, body: h.Body, latency: h.Latency, err: h.Err}
	}
	r := c.Do(ctx, req.Method, req.Path)
	a := answer{status: r.Status, header: r.Header, body: r.Body, latency: r.Latency, err: r.Err}
	if r.APIError != nil {
		a.errCode, a.errMessage = r.APIError.Code, r.APIError.Message
	}
	if r.Err != nil || r.Status != http.StatusOK {
		return a
	}
	path, _, _ := strings.Cut(req.Path, "?")
	switch {
	case path == contract.PathList:
		var body struct {
			Chats *[]chaos.Chat `json:"chats"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil || body.Chats == nil {
			a.err = fmt.Errorf("%w: list body without a chats array", chaos.ErrDecode)
			return a
		}
		for _, ch := range *body.Chats {
			a.chats = append(a.chats, observedChat(ch))
		}
	case strings.HasPrefix(path, "/chats/"):
		var ch chaos.Chat
		if err := json.Unmarshal(r.Body, &ch); err != nil {
			a.err = fmt.Errorf("%w: %w", chaos.ErrDecode, err)
			return a
		}
		a.chats = []matrix.ObservedChat{observedChat(ch)}
	}
	return a
}

func observedChat(c chaos.Chat) matrix.ObservedChat {
	return matrix.ObservedChat{ID: c.ID, Name: c.Name, MaxChatID: c.MaxChatID, Count: c.ParticipantsCount,
		Source: c.ParticipantsSource, UpdatedAt: c.ParticipantsUpdatedAt}
}

// firstHeaders keeps the first value of each header.
func firstHeaders(h http.Header) map[string]string {
	if len(h) == 0 {
		return nil
	}
	out := make(map[string]string, len(h))
	for k, vs := range h {
		if len(vs) > 0 {
			out[k] = vs[0]
		}
	}
	return out
}
