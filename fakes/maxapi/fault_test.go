package maxapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	fakemax "github.com/faultline/faultline/fakes/maxapi"
)

const chatPath = "/chats/-70000000000005"

// tryGet is get for answers that may fail: it returns the Do error and the
// body read error separately.
func tryGet(ts *httptest.Server, path string, timeout time.Duration) (resp *http.Response, body []byte, doErr, readErr error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+path, nil)
	req.Header.Set("Authorization", testToken)
	resp, doErr = ts.Client().Do(req)
	if doErr != nil {
		return nil, nil, doErr, nil
	}
	defer resp.Body.Close()
	body, readErr = io.ReadAll(resp.Body)
	return resp, body, nil, readErr
}

func lastCall(t testing.TB, fake *fakemax.Server) fakemax.Call {
	t.Helper()
	j := fake.Journal()
	if len(j) == 0 {
		t.Fatal("journal empty")
	}
	return j[len(j)-1]
}

func TestFaultStatusDefaultBodies(t *testing.T) {
	cases := []struct {
		status int
		code   string
	}{
		{400, "proto.payload"},
		{401, "verify.token"},
		{403, "forbidden"},
		{404, "not.found"},
		{429, "too.many.requests"},
		{500, "internal.error"},
		{502, "bad.gateway"},
		{503, "service.unavailable"},
		{504, "gateway.timeout"},
	}
	fake, ts := newFake(t, fakemax.WithChats(sampleChat()))
	for _, c := range cases {
		id := fake.Fail(fakemax.Status(c.status))
		got := get(t, ts, chatPath, testToken)
		wantError(t, got, c.status, c.code)
		call := lastCall(t, fake)
		if call.FaultID != id || call.Fault != "status:"+strconv.Itoa(c.status) || call.Status != c.status || !call.Done {
			t.Errorf("journal = %+v", call)
		}
		if !fake.ClearFault(id) {
			t.Errorf("ClearFault(%d) = false", id)
		}
	}
	if fake.ClearFault(12345) {
		t.Error("ClearFault of an unknown id = true")
	}
	if got := get(t, ts, chatPath, testToken); got.status != 200 {
		t.Errorf("after clearing: %d", got.status)
	}
}

func TestFaultAnyStatusAnyBody(t *testing.T) {
	fake, ts := newFake(t, fakemax.WithChats(sampleChat()))
	fake.Fail(fakemax.Fault{Status: 502, Body: "<html>Bad Gateway</html>", Header: map[string]string{"Content-Type": "text/html", "X-Extra": "1"}})
	got := get(t, ts, chatPath, testToken)
	if got.status != 502 || string(got.body) != "<html>Bad Gateway</html>" || got.header.Get("Content-Type") != "text/html" || got.header.Get("X-Extra") != "1" {
		t.Errorf("got %d %q %v", got.status, got.body, got.header)
	}
	fake.ClearFaults()
	// A success status keeps the normal body.
	fake.Fail(fakemax.Status(203))
	got = get(t, ts, chatPath, testToken)
	if got.status != 203 || decode(t, got.body)["participants_count"] != float64(3) {
		t.Errorf("203 fault: %d %s", got.status, got.body)
	}
}

func TestFaultRateLimited(t *testing.T) {
	fake, ts := newFake(t, fakemax.WithChats(sampleChat()))
	fake.FailNext(1, fakemax.RateLimited(1500*time.Millisecond))
	got := get(t, ts, chatPath, testToken)
	wantError(t, got, 429, "too.many.requests")
	if ra := got.header.Get("Retry-After"); ra != "2" {
		t.Errorf("Retry-After = %q, want 2 (rounded up)", ra)
	}
	fake.FailNext(1, fakemax.RateLimited(0))
	got = get(t, ts, chatPath, testToken)
	wantError(t, got, 429, "too.many.requests")
	if _, ok := got.header["Retry-After"]; ok {
		t.Errorf("Retry-After sent: %q", got.header.Get("Retry-After"))
	}
	if got := get(t, ts, chatPath, testToken); got.status != 200 {
		t.Errorf("FailNext(1) lasted: %d", got.status)
	}
}

func TestFaultLatency(t *testing.T) {
	fake, ts := newFake(t, fakemax.WithChats(sampleChat()))
	const d = 150 * time.Millisecond
	fake.FailNext(1, fakemax.Latency(d))
	start := time.Now()
	got := get(t, ts, chatPath, testToken)
	if elapsed := time.Since(start); elapsed < d {
		t.Errorf("answered after %v, want >= %v", elapsed, d)
	}
	if got.status != 200 || decode(t, got.body)["chat_id"] != float64(-70000000000005) {
		t.Errorf("latency changed the answer: %d %s", got.status, got.body)
	}
	// Latency combines with other effects.
	fake.FailNext(1, fakemax.Status(503).WithLatency(20*time.Millisecond))
	wantError(t, get(t, ts, chatPath, testToken), 503, "service.unavailable")
	if c := lastCall(t, fake); c.Fault != "latency:20ms+status:503" {
		t.Errorf("journal fault = %q", c.Fault)
	}
	// A client that gives up first gets nothing; the journal says so.
	fake.FailNext(1, fakemax.Latency(time.Minute))
	_, _, err, _ := tryGet(ts, chatPath, 50*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("client error = %v, want deadline exceeded", err)
	}
	eventually(t, "the abandoned call to be done", func() bool { return lastCall(t, fake).Done })
	if c := lastCall(t, fake); c.Status != 0 {
		t.Errorf("abandoned call status = %d, want 0", c.Status)
	}
}

func TestFaultHangUntilClientGivesUp(t *testing.T) {
	fake, ts := newFake(t, fakemax.WithChats(sampleChat()))
	fake.Fail(fakemax.Hang().OnEndpoint(fakemax.EndpointChat))
	_, _, err, _ := tryGet(ts, chatPath, 100*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("client error = %v, want deadline exceeded", err)
	}
	eventually(t, "the hung call to end", func() bool { return lastCall(t, fake).Done })
	if c := lastCall(t, fake); c.Status != 0 || c.Fault != "hang" {
		t.Errorf("journal = %+v", c)
	}
	// Other endpoints are not affected.
	if got := get(t, ts, "/me", testToken); got.status != 200 {
		t.Errorf("/me: %d", got.status)
	}
}

func TestFaultHangReleasedByClear(t *testing.T) {
	fake, ts := newFake(t, fakemax.WithChats(sampleChat()))
	id := fake.Fail(fakemax.Hang())
	type result struct {
		status int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, _, err, _ := tryGet(ts, chatPath, 10*time.Second)
		if err != nil {
			done <- result{err: err}
			return
		}
		done <- result{status: resp.StatusCode}
	}()
	eventually(t, "the request to arrive", func() bool { return len(fake.Calls(chatPath)) == 1 })
	if c := fake.Calls(chatPath)[0]; c.Done {
		t.Fatalf("hung call already done: %+v", c)
	}
	fake.ClearFault(id)
	r := <-done
	if r.err != nil || r.status != 200 {
		t.Fatalf("released request: %d %v", r.status, r.err)
	}
}

func TestFaultHangReleasedByClose(t *testing.T) {
	fake, ts := newFake(t, fakemax.WithChats(sampleChat()))
	fake.Fail(fakemax.Hang())
	done := make(chan error, 1)
	go func() {
		_, _, err, _ := tryGet(ts, chatPath, 10*time.Second)
		done <- err
	}()
	eventually(t, "the request to arrive", func() bool { return fake.Count(fakemax.EndpointChat) == 1 })
	fake.Close()
	if err := <-done; err != nil {
		t.Fatalf("request after Close: %v", err)
	}
	// After Close hangs no longer hold requests.
	if resp, _, err, _ := tryGet(ts, chatPath, 10*time.Second); err != nil || resp.StatusCode != 200 {
		t.Fatalf("hang after Close: %v", err)
	}
}

func TestFaultMalformedJSON(t *testing.T) {
	fake, ts := newFake(t, fakemax.WithChats(sampleChat()))
	fake.FailNext(1, fakemax.MalformedJSON())
	got := get(t, ts, chatPath, testToken)
	if got.status != 200 {
		t.Fatalf("status %d", got.status)
	}
	if json.Valid(got.body) {
		t.Errorf("body is valid JSON: %s", got.body)
	}
	if got.header.Get("Content-Length") != strconv.Itoa(len(got.body)) {
		t.Errorf("Content-Length %s for %d bytes", got.header.Get("Content-Length"), len(got.body))
	}
	if !strings.Contains(string(got.body), `"participants_count":3`) {
		t.Errorf("malformed body should otherwise look normal: %s", got.body)
	}
}

func TestFaultWrongTypes(t *testing.T) {
	fake, ts := newFake(t, fakemax.WithChats(sampleChat()))
	fake.Fail(fakemax.WrongTypes())
	m := decode(t, get(t, ts, chatPath, testToken).body)
	if m["participants_count"] != "3" || m["chat_id"] != "-70000000000005" || m["last_event_time"] != "1775628268494" {
		t.Errorf("numbers not turned into strings: %v", m)
	}
	if m["title"] != "chat title" || m["is_public"] != false {
		t.Errorf("non-numbers changed: %v", m)
	}
	var p struct {
		Members []map[string]any `json:"members"`
	}
	if err := json.Unmarshal(get(t, ts, chatPath+"/members", testToken).body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Members[0]["user_id"] != "123123123" {
		t.Errorf("nested numbers not turned into strings: %v", p.Members[0])
	}
	// A client decoding into the real types fails.
	var typed struct {
		ParticipantsCount int `json:"participants_count"`
	}
	if err := json.Unmarshal(get(t, ts, chatPath, testToken).body, &typed); err == nil {
		t.Error("typed decoding of wrong types succeeded")
	}
}

func TestFaultTruncated(t *testing.T) {
	fake, ts := newFake(t, fakemax.WithChats(sampleChat()))
	full := get(t, ts, chatPath, testToken).body
	fake.FailNext(1, fakemax.Truncated())
	resp, body, doErr, readErr := tryGet(ts, chatPath, 10*time.Second)
	if doErr != nil {
		t.Fatalf("Do failed: %v (the headers should arrive)", doErr)
	}
	if resp.StatusCode != 200 || resp.ContentLength != int64(len(full)) {
		t.Errorf("status %d, Content-Length %d, want 200 and %d", resp.StatusCode, resp.ContentLength, len(full))
	}
	if !errors.Is(readErr, io.ErrUnexpectedEOF) {
		t.Errorf("read error = %v, want unexpected EOF", readErr)
	}
	if len(body) != len(full)/2 || string(body) != string(full[:len(full)/2]) {
		t.Errorf("got %d bytes, want the first %d", len(body), len(full)/2)
	}
	if got := get(t, ts, chatPath, testToken); got.status != 200 {
		t.Errorf("next call: %d", got.status)
	}
}

func TestFaultOversized(t *testing.T) {
	fake, ts := newFake(t, fakemax.WithChats(sampleChat()))
	const size = 1 << 20
	fake.FailNext(1, fakemax.Oversized(size))
	got := get(t, ts, chatPath, testToken)
	if len(got.body) != size || got.header.Get("Content-Length") != strconv.Itoa(size) {
		t.Fatalf("body %d bytes, Content-Length %s, want %d", len(got.body), got.header.Get("Content-Length"), size)
	}
	m := decode(t, got.body)
	if m["participants_count"] != float64(3) || len(m["padding"].(string)) < size/2 {
		t.Errorf("oversized body lost its fields or padding")
	}
	// Non-object bodies get trailing spaces and stay what they were.
	fake.FailNext(1, fakemax.Fault{Status: 500, Body: "oops", Oversize: 100})
	got = get(t, ts, chatPath, testToken)
	if len(got.body) != 100 || strings.TrimSpace(string(got.body)) != "oops" {
		t.Errorf("non-JSON oversized = %q", got.body)
	}
	// A body already larger than Oversize is left alone.
	fake.FailNext(1, fakemax.Oversized(10))
	if got := get(t, ts, chatPath, testToken); decode(t, got.body)["padding"] != nil {
		t.Errorf("small oversize padded anyway")
	}
}

func TestFaultDisconnect(t *testing.T) {
	fake, ts := newFake(t, fakemax.WithChats(sampleChat()))
	fake.FailNext(1, fakemax.Disconnect())
	_, _, err, _ := tryGet(ts, chatPath, 10*time.Second)
	if err == nil {
		t.Fatal("Do succeeded on a closed connection")
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Do timed out instead of failing fast: %v", err)
	}
	eventually(t, "the call to be done", func() bool { return lastCall(t, fake).Done })
	if c := lastCall(t, fake); c.Status != 0 || c.Fault != "disconnect" {
		t.Errorf("journal = %+v", c)
	}
	if n := fake.Count(chatPath); n != 1 {
		t.Errorf("%d calls, want 1 (no transparent retry)", n)
	}
	if got := get(t, ts, chatPath, testToken); got.status != 200 {
		t.Errorf("next call: %d", got.status)
	}
}

func TestFaultScopes(t *testing.T) {
	other := fakemax.Chat{ID: -2}
	fake, ts := newFake(t, fakemax.WithChats(sampleChat(), other))
	fake.Fail(fakemax.Status(503).OnChat(-70000000000005))
	if got := get(t, ts, chatPath, testToken); got.status != 503 {
		t.Errorf("faulted chat: %d", got.status)
	}
	if got := get(t, ts, chatPath+"/members", testToken); got.status != 503 {
		t.Errorf("faulted chat members: %d", got.status)
	}
	if got := get(t, ts, "/chats/-2", testToken); got.status != 200 {
		t.Errorf("other chat: %d", got.status)
	}
	if got := get(t, ts, "/me", testToken); got.status != 200 {
		t.Errorf("/me: %d", got.status)
	}
	fake.ClearFaults()

	fake.Fail(fakemax.Status(500).OnEndpoint(fakemax.EndpointMembers))
	if got := get(t, ts, chatPath, testToken); got.status != 200 {
		t.Errorf("chat with a members fault: %d", got.status)
	}
	if got := get(t, ts, "/chats/-2/members", testToken); got.status != 500 {
		t.Errorf("members: %d", got.status)
	}
	fake.ClearFaults()

	// Unknown requests are never faulted: they stay loud.
	fake.Fail(fakemax.Status(503))
	wantError(t, get(t, ts, "/messages", testToken), 404, "method.not.found")
}

func TestFaultNewestWinsAndCounts(t *testing.T) {
	fake, ts := newFake(t, fakemax.WithChats(sampleChat()))
	base := fake.Fail(fakemax.Status(503))
	next := fake.FailNext(2, fakemax.Status(429))
	for i, want := range []int{429, 429, 503, 503} {
		if got := get(t, ts, chatPath, testToken); got.status != want {
			t.Errorf("call %d: %d, want %d", i+1, got.status, want)
		}
	}
	fs := fake.Faults()
	if len(fs) != 1 || fs[0].ID != base || fs[0].Applied != 2 || fs[0].Remaining != 0 {
		t.Errorf("Faults = %+v (the FailNext(2) fault %d should be gone)", fs, next)
	}
	if fake.ClearFault(next) {
		t.Error("a used-up fault could still be cleared")
	}
}

func TestFaultValidate(t *testing.T) {
	fake := &fakemax.Server{}
	bad := []fakemax.Fault{
		{},
		{Endpoint: fakemax.EndpointChat},
		{Endpoint: "GET /nope", Status: 500},
		{Endpoint: fakemax.EndpointMe, ChatID: -1, Status: 500},
		{Status: 100},
		{Status: 600},
		{Status: 500, Times: -1},
		{Latency: -time.Second},
		{Oversize: -1},
		{Status: 500, Header: map[string]string{"Bad Name": "x"}},
		{Status: 500, Header: map[string]string{"X": "a\r\nb"}},
	}
	for _, f := range bad {
		if _, err := fake.AddFault(f); !errors.Is(err, fakemax.ErrInvalid) {
			t.Errorf("AddFault(%+v) = %v, want ErrInvalid", f, err)
		}
	}
	panics := func(name string, fn func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", name)
			}
		}()
		fn()
	}
	panics("Fail(invalid)", func() { fake.Fail(fakemax.Fault{}) })
	panics("FailNext(0)", func() { fake.FailNext(0, fakemax.Status(500)) })
	if len(fake.Faults()) != 0 {
		t.Errorf("invalid faults installed: %+v", fake.Faults())
	}
}

func TestFaultJSON(t *testing.T) {
	f := fakemax.Fault{Endpoint: fakemax.EndpointChat, ChatID: -1, Times: 2, Status: 429,
		Header: map[string]string{"Retry-After": "3"}, Latency: 250 * time.Millisecond, Oversize: 10}
	data, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"latency":"250ms"`) {
		t.Errorf("latency not a duration string: %s", data)
	}
	var back fakemax.Fault
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, f) {
		t.Errorf("round trip = %+v, want %+v", back, f)
	}
	for _, in := range []string{`{"hangg": true}`, `{"latency": "soon"}`} {
		if err := json.Unmarshal([]byte(in), &back); err == nil {
			t.Errorf("decoded %s", in)
		}
	}
}

func TestFaultStatusWithoutBody(t *testing.T) {
	fake, ts := newFake(t, fakemax.WithChats(sampleChat()))
	fake.FailNext(1, fakemax.Status(http.StatusNoContent))
	if got := get(t, ts, chatPath, testToken); got.status != 204 || len(got.body) != 0 {
		t.Errorf("204 fault: %d %q", got.status, got.body)
	}
	if c := lastCall(t, fake); c.Status != 204 {
		t.Errorf("journal status %d", c.Status)
	}
}
