package maxclient

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeChat: any body MAX could send decodes to a count in the schema's int32 range,
// or to an error; never a panic, and never a count from a body that is not JSON.
func FuzzDecodeChat(f *testing.F) {
	for _, s := range []string{
		`{"chat_id":-1001,"type":"chat","status":"active","title":"t","participants_count":42}`,
		`{"participants_count":"42"}`, `{"participants_count":null}`, `{"participants_count":-1}`,
		`{"participants_count":2147483648}`, `{"participants_count":1e3}`, `{"participants_count":42`, `[]`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := decodeChat(body)
		if err != nil {
			return
		}
		if c.ParticipantsCount < 0 || c.ParticipantsCount > math.MaxInt32 {
			t.Fatalf("count %d out of range from %q", c.ParticipantsCount, body)
		}
		if !json.Valid(body) {
			t.Fatalf("a count from a body that is not JSON: %q", body)
		}
	})
}

// FuzzErrorAnswer: a failed call's status, error body and Retry-After become a MAX error with
// a reason, bounded code and message that never carry the token, and a pause never negative.
func FuzzErrorAnswer(f *testing.F) {
	const token = "fuzz-secret-token-0123456789"
	f.Add(429, []byte(`{"code":"too.many.requests","message":"slow down"}`), "30")
	f.Add(401, []byte(`{"code":"verify.token","message":"Invalid access_token: `+token+`"}`), "")
	f.Add(503, []byte(`<html>busy</html>`), "Wed, 21 Oct 2015 07:28:00 GMT")
	f.Add(404, []byte(`{"code":"`+strings.Repeat("x", 200)+token+`"}`), "-1")
	f.Add(429, []byte(`{}`), "99999999999999999999")
	c := New("http://max.invalid", token)
	defer c.Close()
	f.Fuzz(func(t *testing.T, status int, body []byte, retryAfter string) {
		if status < 100 || status > 999 {
			return
		}
		resp := &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(body))}
		resp.Header.Set("Retry-After", retryAfter)
		err := c.statusError("get chat", resp)
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("status %d: not a MAX error: %v", status, err)
		}
		if e.Reason() == "" || len(e.Code) > 100+len("...") || len(e.Message) > 300+len("...") {
			t.Fatalf("reason %q, code %d bytes, message %d bytes", e.Reason(), len(e.Code), len(e.Message))
		}
		for _, s := range []string{e.Code, e.Message, err.Error()} {
			if strings.Contains(s, token) {
				t.Fatalf("the token leaked into %q", s)
			}
			if !utf8.ValidString(s) {
				t.Fatalf("not UTF-8, as a log line must be: %q", s)
			}
		}
		if e.retryAfter < 0 {
			t.Fatalf("Retry-After %q: a negative pause %s", retryAfter, e.retryAfter)
		}
	})
}

func TestTruncateKeepsRunesWhole(t *testing.T) {
	s := strings.Repeat("a", 99) + "é" // é's two bytes straddle the cut at 100
	if got := truncate(s, 100); got != strings.Repeat("a", 99)+"..." || !utf8.ValidString(got) {
		t.Errorf("truncate = %q", got)
	}
	if got := truncate("short", 100); got != "short" {
		t.Errorf("truncate of a short string = %q", got)
	}
}
