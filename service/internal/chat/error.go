package chat

import (
	"errors"
	"fmt"
)

// Error codes. They are part of the HTTP contract: clients see them in
// {"error": {"code": ..., "message": ...}}.
const (
	EINVALID             = "invalid_parameter"
	ENOTFOUND            = "not_found"
	ECONFLICT            = "conflict"
	EDATABASEUNAVAILABLE = "database_unavailable"
	ECACHEUNAVAILABLE    = "cache_unavailable"
	EINTERNAL            = "internal"
)

// Error is an error the service can explain to a client: a machine-readable code and a
// human-readable message that is safe to show (it never carries secrets or raw driver
// errors).
type Error struct {
	Code    string
	Message string
	// Err is the underlying cause, kept for logs and errors.Is; never shown to clients.
	Err error
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with the code and message that keeps err as its cause.
func Wrap(err error, code, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for any other
// non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, or a generic
// message for any other non-nil error.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrShortCircuited is returned, wrapped, by a dependency adapter that refuses a call
// without trying it because recent calls failed (its circuit breaker is open).
var ErrShortCircuited = errors.New("dependency short-circuited after repeated failures")
