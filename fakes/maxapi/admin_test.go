package maxapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	fakemax "github.com/faultline/faultline/fakes/maxapi"
)

func wantStatus(t testing.TB, got response, status int) {
	t.Helper()
	if got.status != status {
		t.Fatalf("status %d, want %d: %s", got.status, status, got.body)
	}
}

func TestAdminChatsAndMembers(t *testing.T) {
	fake, ts := newFake(t)
	// Create with PUT; the id comes from the path.
	got := do(t, ts, "PUT", "/_fake/chats/-100", "", `{"title":"Team","participants_count":5}`)
	wantStatus(t, got, 200)
	if m := decode(t, got.body); m["chat_id"] != float64(-100) || m["type"] != "chat" || m["title"] != "Team" {
		t.Errorf("PUT answered %s", got.body)
	}
	if c, ok := fake.Chat(-100); !ok || c.ParticipantsCount != 5 {
		t.Fatalf("chat not stored: %+v", c)
	}
	// The API serves it at once.
	if m := decode(t, get(t, ts, "/chats/-100", testToken).body); m["participants_count"] != float64(5) {
		t.Errorf("API sees %v", m)
	}
	// PATCH changes only the fields given.
	wantStatus(t, do(t, ts, "PATCH", "/_fake/chats/-100", "", `{"description":"d"}`), 200)
	if c, _ := fake.Chat(-100); c.Title != "Team" || c.Description != "d" || c.ParticipantsCount != 5 {
		t.Errorf("after PATCH: %+v", c)
	}
	// The named participants operation.
	got = do(t, ts, "PUT", "/_fake/chats/-100/participants", "", `{"count":42}`)
	wantStatus(t, got, 200)
	if n, _ := fake.Participants(-100); n != 42 {
		t.Errorf("participants = %d", n)
	}
	// Members.
	wantStatus(t, do(t, ts, "PUT", "/_fake/chats/-100/members/7", "", `{"first_name":"Ann","is_admin":true,"permissions":["write"]}`), 200)
	wantStatus(t, do(t, ts, "PUT", "/_fake/chats/-100/members/3", "", `{"first_name":"Bob"}`), 200)
	got = do(t, ts, "GET", "/_fake/chats/-100/members", "", "")
	var ms struct{ Members []fakemax.Member }
	if err := json.Unmarshal(got.body, &ms); err != nil || len(ms.Members) != 2 || ms.Members[0].UserID != 3 {
		t.Errorf("members = %s (%v)", got.body, err)
	}
	wantStatus(t, do(t, ts, "DELETE", "/_fake/chats/-100/members/3", "", ""), 204)
	wantStatus(t, do(t, ts, "DELETE", "/_fake/chats/-100/members/3", "", ""), 404)
	// Listing and reading.
	got = do(t, ts, "GET", "/_fake/chats", "", "")
	var list struct{ Chats []fakemax.Chat }
	if err := json.Unmarshal(got.body, &list); err != nil || len(list.Chats) != 1 || len(list.Chats[0].Members) != 1 {
		t.Errorf("list = %s", got.body)
	}
	wantStatus(t, do(t, ts, "GET", "/_fake/chats/-100", "", ""), 200)
	// Delete.
	wantStatus(t, do(t, ts, "DELETE", "/_fake/chats/-100", "", ""), 204)
	wantStatus(t, do(t, ts, "DELETE", "/_fake/chats/-100", "", ""), 404)
	wantError(t, get(t, ts, "/chats/-100", testToken), 404, "chat.not.found")
}

func TestAdminRejectsBadRequests(t *testing.T) {
	_, ts := newFake(t, fakemax.WithChats(fakemax.Chat{ID: -1}))
	cases := []struct {
		method, path, body string
		status             int
	}{
		{"PUT", "/_fake/chats/-2", `{"chat_id":-3}`, 400},
		{"PUT", "/_fake/chats/x", `{}`, 400},
		{"PUT", "/_fake/chats/-2", `{"titel":"typo"}`, 400},
		{"PUT", "/_fake/chats/-2", `{"type":"group"}`, 400},
		{"PUT", "/_fake/chats/-2", `not json`, 400},
		{"PATCH", "/_fake/chats/-9", `{"title":"x"}`, 404},
		{"PATCH", "/_fake/chats/-1", `{"participants_count":-1}`, 400},
		{"PATCH", "/_fake/chats/-1", `{"participants_count":"7"}`, 400},
		{"PUT", "/_fake/chats/-1/participants", `{}`, 400},
		{"PUT", "/_fake/chats/-9/participants", `{"count":1}`, 404},
		{"PUT", "/_fake/chats/-1/members/5", `{"user_id":6}`, 400},
		{"PUT", "/_fake/chats/-9/members/5", `{}`, 404},
		{"POST", "/_fake/faults", `{}`, 400},
		{"POST", "/_fake/faults", `{"status":503,"hangg":true}`, 400},
		{"DELETE", "/_fake/faults/99", ``, 404},
		{"PUT", "/_fake/bot", `{"first_name":"no id"}`, 400},
		{"POST", "/_fake/seed", `{"chats":[{"chat_id":-5},{"chat_id":-5}]}`, 400},
		{"GET", "/_fake/journal?chat_id=x", ``, 400},
		{"GET", "/_fake/nothing", ``, 404},
		{"POST", "/_fake/chats", `{}`, 404},
		{"GET", "/_fake", ``, 404},
	}
	for _, c := range cases {
		got := do(t, ts, c.method, c.path, "", c.body)
		if got.status != c.status {
			t.Errorf("%s %s %s = %d, want %d: %s", c.method, c.path, c.body, got.status, c.status, got.body)
			continue
		}
		if m := decode(t, got.body); m["code"] == nil || m["message"] == nil {
			t.Errorf("%s %s: error body %s", c.method, c.path, got.body)
		}
	}
	// A failed PATCH leaves the chat as it was.
	if m := decode(t, do(t, ts, "GET", "/_fake/chats/-1", "", "").body); m["participants_count"] != float64(0) {
		t.Errorf("chat changed by failed PATCH: %v", m)
	}
}

func TestAdminFaults(t *testing.T) {
	fake, ts := newFake(t, fakemax.WithChats(sampleChat()))
	got := do(t, ts, "POST", "/_fake/faults", "", `{"endpoint":"GET /chats/{chatId}","chat_id":-70000000000005,"times":2,"status":429,"header":{"Retry-After":"3"},"latency":"10ms"}`)
	wantStatus(t, got, 201)
	var created struct{ ID fakemax.FaultID }
	if err := json.Unmarshal(got.body, &created); err != nil || created.ID == 0 {
		t.Fatalf("created = %s", got.body)
	}
	got = do(t, ts, "GET", "/_fake/faults", "", "")
	var list struct{ Faults []fakemax.ActiveFault }
	if err := json.Unmarshal(got.body, &list); err != nil || len(list.Faults) != 1 ||
		list.Faults[0].Fault.Latency != 10*time.Millisecond || list.Faults[0].Remaining != 2 {
		t.Fatalf("faults = %s", got.body)
	}
	r := get(t, ts, chatPath, testToken)
	if r.status != 429 || r.header.Get("Retry-After") != "3" {
		t.Errorf("faulted call: %d %v", r.status, r.header)
	}
	wantStatus(t, do(t, ts, "DELETE", "/_fake/faults/"+jsonNumber(created.ID), "", ""), 204)
	if r := get(t, ts, chatPath, testToken); r.status != 200 {
		t.Errorf("after delete: %d", r.status)
	}
	// Every fault kind can be installed over HTTP.
	for _, body := range []string{
		`{"hang":true}`, `{"disconnect":true}`, `{"malformed_json":true}`, `{"wrong_types":true}`,
		`{"truncate":true}`, `{"oversize":2048}`, `{"status":500,"body":"<html>"}`, `{"latency":"1s"}`,
	} {
		wantStatus(t, do(t, ts, "POST", "/_fake/faults", "", body), 201)
	}
	if n := len(fake.Faults()); n != 8 {
		t.Errorf("%d faults installed, want 8", n)
	}
	wantStatus(t, do(t, ts, "DELETE", "/_fake/faults", "", ""), 204)
	if n := len(fake.Faults()); n != 0 {
		t.Errorf("%d faults left after DELETE /_fake/faults", n)
	}
}

func jsonNumber(id fakemax.FaultID) string {
	b, _ := json.Marshal(id)
	return string(b)
}

func TestAdminJournalCountsConfigReset(t *testing.T) {
	fake, ts := newFake(t, fakemax.WithChats(sampleChat(), fakemax.Chat{ID: -2}))
	get(t, ts, chatPath, testToken)
	get(t, ts, "/chats/-2", testToken)
	get(t, ts, "/chats/-2/members", testToken)
	get(t, ts, "/me", testToken)

	calls := func(query string) []fakemax.Call {
		t.Helper()
		got := do(t, ts, "GET", "/_fake/journal"+query, "", "")
		wantStatus(t, got, 200)
		var j struct{ Calls []fakemax.Call }
		if err := json.Unmarshal(got.body, &j); err != nil {
			t.Fatal(err)
		}
		return j.Calls
	}
	if n := len(calls("")); n != 4 {
		t.Errorf("journal has %d calls", n)
	}
	if cs := calls("?endpoint=" + url.QueryEscape(fakemax.EndpointChat)); len(cs) != 2 {
		t.Errorf("endpoint filter: %+v", cs)
	}
	if cs := calls("?chat_id=-2"); len(cs) != 2 {
		t.Errorf("chat filter: %+v", cs)
	}
	if cs := calls("?path=/chats/-2/members&chat_id=-2"); len(cs) != 1 || cs[0].Endpoint != fakemax.EndpointMembers {
		t.Errorf("path filter: %+v", cs)
	}
	if cs := calls("?path=/none"); cs == nil || len(cs) != 0 {
		t.Errorf("empty filter result should be [] not null: %+v", cs)
	}

	got := do(t, ts, "GET", "/_fake/counts", "", "")
	var counts struct {
		Endpoints map[string]int
		Paths     map[string]int
	}
	if err := json.Unmarshal(got.body, &counts); err != nil || counts.Endpoints[fakemax.EndpointChat] != 2 || counts.Paths["/chats/-2"] != 1 {
		t.Errorf("counts = %s", got.body)
	}
	wantStatus(t, do(t, ts, "DELETE", "/_fake/journal", "", ""), 204)
	if len(fake.Journal()) != 0 {
		t.Error("journal not cleared")
	}

	// The token can be set but never read back.
	got = do(t, ts, "PATCH", "/_fake/config", "", `{"token":"secret-T","rate_limit":7}`)
	wantStatus(t, got, 200)
	if strings.Contains(string(got.body), "secret-T") {
		t.Errorf("config echoes the token: %s", got.body)
	}
	if m := decode(t, got.body); m["token_configured"] != true || m["rate_limit"] != float64(7) {
		t.Errorf("config = %s", got.body)
	}
	wantError(t, get(t, ts, "/me", "other"), 401, "verify.token")
	if r := get(t, ts, "/me", "secret-T"); r.status != 200 {
		t.Errorf("new token refused: %d", r.status)
	}
	if m := decode(t, do(t, ts, "GET", "/_fake/config", "", "").body); m["rate_limit"] != float64(7) {
		t.Errorf("GET config = %v", m)
	}

	// Bot.
	wantStatus(t, do(t, ts, "PUT", "/_fake/bot", "", `{"user_id":5,"first_name":"B","username":"b_bot"}`), 200)
	if m := decode(t, get(t, ts, "/me", "secret-T").body); m["user_id"] != float64(5) || m["username"] != "b_bot" {
		t.Errorf("GET /me after PUT bot = %v", m)
	}
	if m := decode(t, do(t, ts, "GET", "/_fake/bot", "", "").body); m["first_name"] != "B" {
		t.Errorf("GET bot = %v", m)
	}

	wantStatus(t, do(t, ts, "POST", "/_fake/reset", "", ""), 204)
	if fake.TokenConfigured() || len(fake.Chats()) != 2 || fake.Bot().UserID != fakemax.DefaultBot().UserID {
		t.Error("reset over HTTP did not restore the construction state")
	}
}

func TestAdminSeed(t *testing.T) {
	fake, ts := newFake(t)
	data, err := os.ReadFile("testdata/chats.json")
	if err != nil {
		t.Fatal(err)
	}
	got := do(t, ts, "POST", "/_fake/seed", "", string(data))
	wantStatus(t, got, 200)
	if cs := fake.Chats(); len(cs) != 2 || fake.Bot().Description != "Bot of the fake MAX API" {
		t.Errorf("seeded chats = %+v, bot %+v", cs, fake.Bot())
	}
	if r := get(t, ts, "/chats/-70000000000001/members?count=2", testToken); r.status != http.StatusOK {
		t.Errorf("seeded members: %d", r.status)
	}
}
