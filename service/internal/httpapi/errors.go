package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/faultline/faultline/service/internal/chat"
	"github.com/faultline/faultline/service/internal/metrics"
)

// Error codes of the HTTP layer itself, next to the domain's codes in package chat.
const (
	codeRouteNotFound    = "route_not_found"
	codeMethodNotAllowed = "method_not_allowed"
	codeRequestTooLarge  = "request_too_large"
)

// statusClientClosedRequest is the nginx convention for a request whose client went away
// before the answer; nobody receives it, but logs and metrics should not call it a 500.
const statusClientClosedRequest = 499

// errorBody is the JSON shape of every error response.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// statusOf maps a domain error code to its HTTP status.
func statusOf(code string) int {
	switch code {
	case chat.EINVALID:
		return http.StatusBadRequest
	case chat.ENOTFOUND:
		return http.StatusNotFound
	case chat.ECONFLICT:
		return http.StatusConflict
	case chat.EDATABASEUNAVAILABLE:
		return http.StatusServiceUnavailable
	case chat.ECACHEUNAVAILABLE, chat.EINTERNAL:
		return http.StatusInternalServerError
	}
	return http.StatusInternalServerError
}

// writeJSON writes v with status. Encoding our own response types cannot fail, and a
// write error means the client is gone, so there is nothing left to report it to.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErrorCode(w http.ResponseWriter, status int, code, message string) {
	if status == http.StatusServiceUnavailable {
		// Unavailability is expected to be short: the database breaker probes again
		// within about a second.
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, errorBody{Error: errorDetail{Code: code, Message: message}})
}

// writeError answers with the JSON form of err. Server-side failures are logged with their
// cause; the client sees only the code and the safe message.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ctx := r.Context()
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		// The client went away; the error says nothing about the service.
		w.WriteHeader(statusClientClosedRequest)
		return
	}
	code := chat.ErrorCode(err)
	status := statusOf(code)
	if code == chat.EDATABASEUNAVAILABLE {
		// Bad news for the health endpoints: readiness must not answer from a cached ping
		// that predates it.
		a.news.report(metrics.DepDatabase)
	}
	switch {
	case status == http.StatusServiceUnavailable:
		a.log.WarnContext(ctx, "Request failed", "code", code, "error", err.Error(), "request_id", requestIDFrom(ctx))
	case status >= http.StatusInternalServerError:
		a.log.ErrorContext(ctx, "Request failed", "code", code, "error", err.Error(), "request_id", requestIDFrom(ctx))
	}
	writeErrorCode(w, status, code, chat.ErrorMessage(err))
}

func (a *API) notFound(w http.ResponseWriter, r *http.Request) {
	markUnmatched(r.Context())
	writeErrorCode(w, http.StatusNotFound, codeRouteNotFound, "no such route")
}

func (a *API) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	markUnmatched(r.Context())
	// chi does not hand its list of allowed methods to a custom handler, so ask the
	// router which of ours match the path.
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		if a.router.Match(chi.NewRouteContext(), m, r.URL.Path) {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
	}
	writeErrorCode(w, http.StatusMethodNotAllowed, codeMethodNotAllowed, "method not allowed on this route")
}
