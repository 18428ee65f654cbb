package maxapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Endpoint names, as recorded in the journal and as used by Fault.Endpoint and
// Calls. They are the net/http pattern of each endpoint the fake serves.
const (
	EndpointMe      = "GET /me"
	EndpointChat    = "GET /chats/{chatId}"
	EndpointMembers = "GET /chats/{chatId}/members"
	// EndpointUnknown marks requests the fake does not serve; they get 404
	// method.not.found.
	EndpointUnknown = "unknown"
)

// Endpoints returns the endpoints the fake serves, in a stable order.
func Endpoints() []string {
	return []string{EndpointMe, EndpointChat, EndpointMembers}
}

// FaultID identifies an installed fault so that it can be cleared.
type FaultID int64

// Fault describes how the fake misbehaves for the requests it matches. The
// zero value matches everything and does nothing, which Validate rejects:
// set at least one effect.
//
// Faults apply after routing, authentication and the rate limit, so they act
// on requests the real API would have answered. Effects combine, in this order:
// Latency, Hang, Disconnect, then the response (Status, Body, Header), then the
// body changes (WrongTypes, MalformedJSON, Oversize), then Truncate.
//
// Its JSON form (admin API) uses the field names in the tags, with latency as a
// Go duration string ("250ms").
type Fault struct {
	// Endpoint limits the fault to one endpoint (EndpointChat, ...); empty
	// matches every endpoint the fake serves.
	Endpoint string `json:"endpoint,omitempty"`
	// ChatID limits the fault to requests for that chat; zero matches any.
	// A fault with a ChatID never matches GET /me.
	ChatID int64 `json:"chat_id,omitempty"`
	// Times is how many matching requests the fault applies to before it
	// removes itself; zero means until cleared. FailNext sets it.
	Times int `json:"times,omitempty"`

	// Status replaces the status code. The body is the one from Body or, when
	// Body is empty, an API error body for statuses >= 400 and the normal
	// response body for statuses below 400.
	Status int `json:"status,omitempty"`
	// Body replaces the response body byte for byte (any text, even not JSON).
	Body string `json:"body,omitempty"`
	// Header adds or replaces response headers, e.g. Retry-After.
	Header map[string]string `json:"header,omitempty"`

	// Latency delays the response; the request is dropped unanswered if the
	// client gives up first.
	Latency time.Duration `json:"-"`
	// Hang holds the request until the client gives up (its context is done),
	// or until the fault is cleared, Reset or Close is called; a released
	// request is then answered as if Hang were not set.
	Hang bool `json:"hang,omitempty"`
	// Disconnect hijacks the connection, writes the first part of the response
	// headers and closes it: the client's Do fails with an unexpected EOF.
	Disconnect bool `json:"disconnect,omitempty"`

	// WrongTypes turns every number in the JSON body into a string, e.g.
	// "participants_count": "12".
	WrongTypes bool `json:"wrong_types,omitempty"`
	// MalformedJSON injects a syntax error (a trailing comma) into the body,
	// which keeps a correct Content-Length: only parsing can notice.
	MalformedJSON bool `json:"malformed_json,omitempty"`
	// Oversize pads a JSON object body with a "padding" string member so that
	// the body is at least this many bytes (other bodies get trailing spaces).
	// The padded body is still valid JSON and still valid for the schema.
	Oversize int `json:"oversize,omitempty"`
	// Truncate declares the full Content-Length but sends only the first half
	// of the body, then closes the connection: Do succeeds and reading the
	// body fails with an unexpected EOF.
	Truncate bool `json:"truncate,omitempty"`
}

// Status returns a fault that answers code with the API's error body for it
// (for code >= 400) or the normal body (below 400).
func Status(code int) Fault { return Fault{Status: code} }

// StatusBody returns a fault that answers code with body, byte for byte.
func StatusBody(code int, body string) Fault { return Fault{Status: code, Body: body} }

// RateLimited returns a 429 too.many.requests fault. A positive retryAfter adds
// a Retry-After header in whole seconds (rounded up); zero sends none.
func RateLimited(retryAfter time.Duration) Fault {
	f := Fault{Status: http.StatusTooManyRequests}
	if retryAfter > 0 {
		secs := int64((retryAfter + time.Second - 1) / time.Second)
		f.Header = map[string]string{"Retry-After": strconv.FormatInt(secs, 10)}
	}
	return f
}

// Latency returns a fault that delays the normal response by d.
func Latency(d time.Duration) Fault { return Fault{Latency: d} }

// Hang returns a fault that holds requests until the client gives up.
func Hang() Fault { return Fault{Hang: true} }

// Disconnect returns a fault that closes the connection in the middle of the
// response headers.
func Disconnect() Fault { return Fault{Disconnect: true} }

// WrongTypes returns a fault that sends every number of the body as a string.
func WrongTypes() Fault { return Fault{WrongTypes: true} }

// MalformedJSON returns a fault that sends syntactically invalid JSON.
func MalformedJSON() Fault { return Fault{MalformedJSON: true} }

// Oversized returns a fault that pads the body to at least size bytes.
func Oversized(size int) Fault { return Fault{Oversize: size} }

// Truncated returns a fault that cuts the body in half and closes the
// connection.
func Truncated() Fault { return Fault{Truncate: true} }

// OnEndpoint returns a copy of f limited to endpoint.
func (f Fault) OnEndpoint(endpoint string) Fault { f.Endpoint = endpoint; return f }

// OnChat returns a copy of f limited to requests for chatID.
func (f Fault) OnChat(chatID int64) Fault { f.ChatID = chatID; return f }

// WithLatency returns a copy of f that also delays the response by d.
func (f Fault) WithLatency(d time.Duration) Fault { f.Latency = d; return f }

// Validate reports whether the fault can be installed. It wraps ErrInvalid.
func (f Fault) Validate() error {
	if f.Endpoint != "" && !slices.Contains(Endpoints(), f.Endpoint) {
		return fmt.Errorf("fault endpoint %q not one of %v: %w", f.Endpoint, Endpoints(), ErrInvalid)
	}
	if f.ChatID != 0 && f.Endpoint == EndpointMe {
		return fmt.Errorf("fault for chat %d can never match %s: %w", f.ChatID, EndpointMe, ErrInvalid)
	}
	if f.Times < 0 {
		return fmt.Errorf("fault times %d negative: %w", f.Times, ErrInvalid)
	}
	// 1xx codes would leave the client waiting for a final response; they
	// are not a failure the real API produces.
	if f.Status != 0 && (f.Status < 200 || f.Status > 599) {
		return fmt.Errorf("fault status %d not in 200..599: %w", f.Status, ErrInvalid)
	}
	if f.Latency < 0 {
		return fmt.Errorf("fault latency %v negative: %w", f.Latency, ErrInvalid)
	}
	if f.Oversize < 0 {
		return fmt.Errorf("fault oversize %d negative: %w", f.Oversize, ErrInvalid)
	}
	for k := range f.Header {
		if k == "" || strings.ContainsAny(k, " \t\r\n:") {
			return fmt.Errorf("fault header name %q: %w", k, ErrInvalid)
		}
		if strings.ContainsAny(f.Header[k], "\r\n") {
			return fmt.Errorf("fault header %q value has a line break: %w", k, ErrInvalid)
		}
	}
	if f.effects() == "" {
		return fmt.Errorf("fault has no effect: %w", ErrInvalid)
	}
	return nil
}

// effects names what the fault does, e.g. "latency+status:503"; the journal
// records it so a test can see which fault answered a call.
func (f Fault) effects() string {
	var e []string
	if f.Latency > 0 {
		e = append(e, "latency:"+f.Latency.String())
	}
	if f.Hang {
		e = append(e, "hang")
	}
	if f.Disconnect {
		e = append(e, "disconnect")
	}
	if f.Status != 0 {
		e = append(e, "status:"+strconv.Itoa(f.Status))
	}
	if f.Body != "" {
		e = append(e, "body")
	}
	if len(f.Header) > 0 {
		e = append(e, "header")
	}
	if f.WrongTypes {
		e = append(e, "wrong_types")
	}
	if f.MalformedJSON {
		e = append(e, "malformed_json")
	}
	if f.Oversize > 0 {
		e = append(e, "oversize:"+strconv.Itoa(f.Oversize))
	}
	if f.Truncate {
		e = append(e, "truncate")
	}
	return strings.Join(e, "+")
}

func (f Fault) matches(endpoint string, chatID int64) bool {
	if endpoint == EndpointUnknown {
		return false
	}
	if f.Endpoint != "" && f.Endpoint != endpoint {
		return false
	}
	return f.ChatID == 0 || f.ChatID == chatID
}

func (f Fault) clone() Fault {
	if f.Header != nil {
		h := make(map[string]string, len(f.Header))
		for k, v := range f.Header {
			h[k] = v
		}
		f.Header = h
	}
	return f
}

// faultJSON is Fault with latency as a duration string, which reads better in
// curl commands than nanoseconds.
type faultJSON struct {
	faultAlias
	Latency string `json:"latency,omitempty"`
}

type faultAlias Fault

// MarshalJSON encodes the fault with latency as a Go duration string.
func (f Fault) MarshalJSON() ([]byte, error) {
	j := faultJSON{faultAlias: faultAlias(f)}
	if f.Latency != 0 {
		j.Latency = f.Latency.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes the fault, reading latency as a Go duration string.
func (f *Fault) UnmarshalJSON(data []byte) error {
	var j faultJSON
	// Unknown fields are refused: a misspelt effect would otherwise install a
	// fault that silently does something else.
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return fmt.Errorf("decode fault: %w", err)
	}
	*f = Fault(j.faultAlias)
	if j.Latency != "" {
		d, err := time.ParseDuration(j.Latency)
		if err != nil {
			return fmt.Errorf("decode fault latency: %w", err)
		}
		f.Latency = d
	}
	return nil
}

// ActiveFault is an installed fault as Faults reports it.
type ActiveFault struct {
	ID    FaultID `json:"id"`
	Fault Fault   `json:"fault"`
	// Remaining is how many more requests it applies to; zero means until
	// cleared.
	Remaining int `json:"remaining"`
	// Applied counts the requests it has answered so far.
	Applied int `json:"applied"`
}
