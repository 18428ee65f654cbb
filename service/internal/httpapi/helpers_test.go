package httpapi

import (
	"io"
	"net/http"
	"net/http/httptest"
)

func httpRequest(method, target string, body io.Reader) *http.Request {
	return httptest.NewRequest(method, target, body)
}

func serve(e *testEnv, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.api.ServeHTTP(rec, req)
	return rec
}
