package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/faultline/faultline/service/internal/chat"
)

// routeUnmatched labels requests that matched no route, so that arbitrary paths cannot
// grow the metrics' label space.
const routeUnmatched = "unmatched"

// maxLoggedPath bounds the request path written to the log.
const maxLoggedPath = 256

// requestIDHeader carries the request id in both directions.
const requestIDHeader = "X-Request-Id"

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyRequestInfo
)

// requestInfo is filled in by handlers for the middleware that wraps them.
type requestInfo struct {
	unmatched bool
}

func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(keyRequestID).(string)
	return id
}

func markUnmatched(ctx context.Context) {
	if info, ok := ctx.Value(keyRequestInfo).(*requestInfo); ok {
		info.unmatched = true
	}
}

// validRequestID accepts a caller's id only when it is short and plain, so that it is
// safe to echo in headers and logs.
func validRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux (and panics, not errors, elsewhere).
	return hex.EncodeToString(b[:])
}

// methodLabel bounds the method label to the standard methods: a client may send any
// token as a method, and Prometheus refuses label values that are not UTF-8.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// requestID keeps the caller's X-Request-Id when it is sane, or makes one, and returns it
// in the response so a client can quote it.
func (a *API) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(requestIDHeader)
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set(requestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyRequestID, id)))
	})
}

// observe logs every request and records its count and latency by route pattern.
func (a *API) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &requestInfo{}
		ctx := context.WithValue(r.Context(), keyRequestInfo, info)
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)

		next.ServeHTTP(ww, r.WithContext(ctx))

		elapsed := time.Since(start)
		status := ww.Status()
		if status == 0 {
			// Nothing written: net/http answers 200 with an empty body.
			status = http.StatusOK
		}
		route := chi.RouteContext(ctx).RoutePattern()
		if info.unmatched || route == "" {
			route = routeUnmatched
		}
		method := methodLabel(r.Method)
		a.deps.Metrics.HTTPRequests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
		a.deps.Metrics.HTTPDuration.WithLabelValues(method, route).Observe(elapsed.Seconds())

		path := r.URL.Path
		if len(path) > maxLoggedPath {
			path = path[:maxLoggedPath]
		}
		a.log.InfoContext(ctx, "HTTP request",
			"method", r.Method,
			"route", route,
			"path", path,
			"status", status,
			"duration_ms", float64(elapsed.Microseconds())/1000,
			"request_id", requestIDFrom(ctx),
		)
	})
}

// recoverPanic turns a handler panic into a logged JSON 500, so one bad request cannot
// take the process down or leave the client without an answer.
func (a *API) recoverPanic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ww, ok := w.(middleware.WrapResponseWriter)
		if !ok {
			ww = middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				// net/http's own signal to abort the response; it must reach the server.
				panic(v)
			}
			a.log.ErrorContext(r.Context(), "Handler panicked",
				"panic", v, "stack", string(debug.Stack()), "request_id", requestIDFrom(r.Context()))
			if ww.Status() == 0 {
				writeErrorCode(ww, http.StatusInternalServerError, chat.EINTERNAL, "internal error")
			}
		}()
		next.ServeHTTP(ww, r)
	})
}

// limitBody refuses bodies over the limit: up front when the length is declared, and
// while reading otherwise.
func (a *API) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > a.cfg.BodyLimit {
			writeErrorCode(w, http.StatusRequestEntityTooLarge, codeRequestTooLarge,
				"request body larger than "+strconv.FormatInt(a.cfg.BodyLimit, 10)+" bytes")
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, a.cfg.BodyLimit)
		}
		next.ServeHTTP(w, r)
	})
}
