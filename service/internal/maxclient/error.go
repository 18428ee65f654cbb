package maxclient

import (
	"fmt"
	"strings"
	"time"
)

// The reasons a call can fail, as returned by (*Error).Reason. They are the values of the
// reason label of participants_max_api_errors_total, so they are part of the service's
// observable contract.
const (
	// ReasonTimeout is a call that did not complete before its deadline.
	ReasonTimeout = "timeout"
	// ReasonConnection is a call that got no HTTP response: refused, reset, closed.
	ReasonConnection = "connection"
	// ReasonRateLimited is a 429 answer.
	ReasonRateLimited = "rate_limited"
	// ReasonUnauthorized is a 401 answer: the token is not accepted.
	ReasonUnauthorized = "unauthorized"
	// ReasonNotFound is a 404 answer: MAX does not know the chat (or the bot is not in it).
	ReasonNotFound = "not_found"
	// ReasonClientError is any other 4xx answer, 403 included: MAX's schema answers 403 for
	// a resource the bot may not access (a chat it was removed from), not for a bad token.
	ReasonClientError = "client_error"
	// ReasonServerError is a 5xx answer, or a status MAX does not document.
	ReasonServerError = "server_error"
	// ReasonMalformed is a 2xx answer whose body cannot be used: invalid or truncated JSON,
	// wrong types, a missing, null or negative participants_count.
	ReasonMalformed = "malformed"
	// ReasonTooLarge is an answer whose body exceeds the client's limit.
	ReasonTooLarge = "too_large"
)

// Error is a failed call to the MAX Bot API. Its text never contains the bot token, even
// when MAX echoes the token back in its error message.
type Error struct {
	// Op names the call, for example "get chat -100".
	Op string
	// Status is the HTTP status MAX answered with, or 0 when no answer arrived.
	Status int
	// Code and Message are MAX's error object, when the answer carried one.
	Code    string
	Message string

	reason     string
	retryAfter time.Duration
	// err is the underlying cause, kept for errors.Is; detail is its text with the token
	// removed, used for Error so that the cause's own formatting cannot leak it.
	err    error
	detail string
}

// Error implements the error interface.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "maxclient: %s: %s", e.Op, e.reason)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": status %d", e.Status)
	}
	if e.Code != "" || e.Message != "" {
		fmt.Fprintf(&b, ": %s: %s", e.Code, e.Message)
	}
	if e.detail != "" {
		fmt.Fprintf(&b, ": %s", e.detail)
	}
	return b.String()
}

// Unwrap returns the underlying cause, such as context.DeadlineExceeded or a network error.
func (e *Error) Unwrap() error { return e.err }

// Reason classifies the failure; it is one of the Reason constants.
func (e *Error) Reason() string { return e.reason }

// RetryAfter is how long MAX asked the caller to wait before the next call (from the
// Retry-After header of a 429 answer, in seconds or as an HTTP date). It is zero when MAX
// did not say.
func (e *Error) RetryAfter() time.Duration { return e.retryAfter }

// redactor removes a secret from text that may reach logs or error strings.
type redactor string

func (r redactor) redact(s string) string {
	if r == "" {
		return s
	}
	return strings.ReplaceAll(s, string(r), "[redacted]")
}
