package maxapi_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	fakemax "github.com/faultline/faultline/fakes/maxapi"
)

func decode(t testing.TB, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, body)
	}
	return m
}

func wantError(t testing.TB, got response, status int, code string) {
	t.Helper()
	if got.status != status {
		t.Fatalf("status = %d, want %d: %s", got.status, status, got.body)
	}
	m := decode(t, got.body)
	if m["code"] != code {
		t.Errorf("code = %v, want %q", m["code"], code)
	}
	if msg, _ := m["message"].(string); msg == "" {
		t.Errorf("message empty in %s", got.body)
	}
	if ct := got.header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
}

func TestZeroValueServerIsReady(t *testing.T) {
	ts := httptest.NewServer(&fakemax.Server{})
	defer ts.Close()
	got := get(t, ts, "/me", "any-token")
	if got.status != http.StatusOK {
		t.Fatalf("GET /me = %d: %s", got.status, got.body)
	}
	me := decode(t, got.body)
	if me["is_bot"] != true || me["username"] != fakemax.DefaultBot().Username {
		t.Errorf("GET /me = %s", got.body)
	}
	wantError(t, get(t, ts, "/chats/-1", "any-token"), 404, "chat.not.found")
}

func TestGetChat(t *testing.T) {
	fake, ts := newFake(t, fakemax.WithChats(sampleChat()))
	got := get(t, ts, "/chats/-70000000000005", testToken)
	if got.status != http.StatusOK {
		t.Fatalf("status %d: %s", got.status, got.body)
	}
	want := map[string]any{
		"chat_id":            float64(-70000000000005),
		"type":               "chat",
		"status":             "active",
		"title":              "chat title",
		"icon":               map[string]any{"url": "https://example.com/icon.png"},
		"last_event_time":    float64(1775628268494),
		"participants_count": float64(3),
		"owner_id":           float64(123123123),
		"participants":       map[string]any{"123123123": float64(1775626919577), "229229229": float64(1775626919577)},
		"is_public":          false,
		"link":               "https://max.ru/join/hash-chat-link",
		"description":        "chat description",
		"messages_count":     float64(7),
	}
	if m := decode(t, got.body); !reflect.DeepEqual(m, want) {
		t.Errorf("chat =\n%v\nwant\n%v", m, want)
	}
	if got.header.Get("Cache-Control") != "no-cache" {
		t.Errorf("Cache-Control = %q", got.header.Get("Cache-Control"))
	}

	// The count the harness changes is what the next call sees.
	if err := fake.SetParticipants(-70000000000005, 250); err != nil {
		t.Fatal(err)
	}
	if m := decode(t, get(t, ts, "/chats/-70000000000005", testToken).body); m["participants_count"] != float64(250) {
		t.Errorf("participants_count = %v after SetParticipants(250)", m["participants_count"])
	}
}

func TestGetChatNullsAndDefaults(t *testing.T) {
	clk := newClock()
	_, ts := newFake(t, fakemax.WithClock(clk.Now), fakemax.WithChats(fakemax.Chat{ID: -5}))
	m := decode(t, get(t, ts, "/chats/-5", testToken).body)
	for _, k := range []string{"title", "icon", "owner_id", "link", "description"} {
		v, present := m[k]
		if !present || v != nil {
			t.Errorf("%s = %v (present %v), want null", k, v, present)
		}
	}
	if m["last_event_time"] != float64(clk.Now().UnixMilli()) {
		t.Errorf("last_event_time = %v, want the clock in ms %d", m["last_event_time"], clk.Now().UnixMilli())
	}
	if m["participants_count"] != float64(0) || m["type"] != "chat" || m["status"] != "active" {
		t.Errorf("defaults wrong: %v", m)
	}
}

func TestGetChatNotFound(t *testing.T) {
	fake, ts := newFake(t, fakemax.WithChats(sampleChat()))
	got := get(t, ts, "/chats/-99", testToken)
	wantError(t, got, 404, "chat.not.found")
	if m := decode(t, got.body); m["message"] != "Chat -99 not found" {
		t.Errorf("message = %v", m["message"])
	}
	if !fake.DeleteChat(-70000000000005) {
		t.Fatal("DeleteChat reported the chat missing")
	}
	wantError(t, get(t, ts, "/chats/-70000000000005", testToken), 404, "chat.not.found")
}

type membersPage struct {
	Members []struct {
		UserID      int64    `json:"user_id"`
		Name        *string  `json:"name"`
		Username    *string  `json:"username"`
		Permissions []string `json:"permissions"`
		IsOwner     bool     `json:"is_owner"`
	} `json:"members"`
	Marker *int64 `json:"marker"`
}

func members(t testing.TB, ts *httptest.Server, path string) membersPage {
	t.Helper()
	got := get(t, ts, path, testToken)
	if got.status != http.StatusOK {
		t.Fatalf("GET %s = %d: %s", path, got.status, got.body)
	}
	var p membersPage
	if err := json.Unmarshal(got.body, &p); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return p
}

func ids(p membersPage) []int64 {
	var out []int64
	for _, m := range p.Members {
		out = append(out, m.UserID)
	}
	return out
}

func TestGetMembersPagination(t *testing.T) {
	c := fakemax.Chat{ID: -7}
	for _, id := range []int64{50, 10, 40, 20, 30} {
		c.Members = append(c.Members, fakemax.Member{UserID: id, FirstName: "u"})
	}
	fake, ts := newFake(t, fakemax.WithChats(c))

	p := members(t, ts, "/chats/-7/members?count=2")
	if !reflect.DeepEqual(ids(p), []int64{10, 20}) || p.Marker == nil || *p.Marker != 20 {
		t.Fatalf("page 1 = %v marker %v", ids(p), p.Marker)
	}
	// A member added before the marker does not shift the next page.
	if err := fake.PutMember(-7, fakemax.Member{UserID: 5, FirstName: "new"}); err != nil {
		t.Fatal(err)
	}
	p = members(t, ts, "/chats/-7/members?count=2&marker=20")
	if !reflect.DeepEqual(ids(p), []int64{30, 40}) || p.Marker == nil || *p.Marker != 40 {
		t.Fatalf("page 2 = %v marker %v", ids(p), p.Marker)
	}
	p = members(t, ts, "/chats/-7/members?count=2&marker=40")
	if !reflect.DeepEqual(ids(p), []int64{50}) || p.Marker != nil {
		t.Fatalf("page 3 = %v marker %v", ids(p), p.Marker)
	}
	// Default count is 20.
	if p = members(t, ts, "/chats/-7/members"); len(p.Members) != 6 || p.Marker != nil {
		t.Fatalf("default page = %v marker %v", ids(p), p.Marker)
	}
	// user_ids wins over count and marker; unknown ids are skipped; both the
	// comma form (official client) and repeated keys work.
	p = members(t, ts, "/chats/-7/members?user_ids=40,999,10&count=1&marker=30")
	if !reflect.DeepEqual(ids(p), []int64{10, 40}) || p.Marker != nil {
		t.Fatalf("by ids = %v marker %v", ids(p), p.Marker)
	}
	if p = members(t, ts, "/chats/-7/members?user_ids=20&user_ids=30"); !reflect.DeepEqual(ids(p), []int64{20, 30}) {
		t.Fatalf("by repeated ids = %v", ids(p))
	}
	if err := fake.DeleteMember(-7, 5); err != nil {
		t.Fatal(err)
	}
	if err := fake.DeleteMember(-7, 5); !errors.Is(err, fakemax.ErrNotFound) {
		t.Errorf("second DeleteMember = %v, want ErrNotFound", err)
	}
}

func TestGetMembersFields(t *testing.T) {
	_, ts := newFake(t, fakemax.WithChats(sampleChat()))
	p := members(t, ts, "/chats/-70000000000005/members")
	if len(p.Members) != 2 {
		t.Fatalf("members = %v", ids(p))
	}
	john := p.Members[0]
	if john.UserID != 123123123 || john.Name == nil || *john.Name != "John Doe" || john.Username != nil || !john.IsOwner {
		t.Errorf("John = %+v", john)
	}
	bot := p.Members[1]
	if bot.Username == nil || *bot.Username != "test-bot" || !reflect.DeepEqual(bot.Permissions, []string{"read_all_messages", "write"}) {
		t.Errorf("bot = %+v", bot)
	}
}

func TestGetMembersErrors(t *testing.T) {
	_, ts := newFake(t, fakemax.WithChats(fakemax.Chat{ID: -7}))
	wantError(t, get(t, ts, "/chats/-8/members", testToken), 404, "chat.not.found")
	for _, q := range []string{"count=0", "count=101", "count=x", "marker=x", "user_ids=1,x"} {
		wantError(t, get(t, ts, "/chats/-7/members?"+q, testToken), 400, "proto.payload")
	}
}

func TestUnknownRequestsFailLoudly(t *testing.T) {
	fake, ts := newFake(t)
	cases := []struct{ method, path string }{
		{"GET", "/messages"},
		{"GET", "/chats"},
		{"GET", "/chats/@somechannel"}, // the link form is not served
		{"GET", "/chats/-1/members/me"},
		{"GET", "/chats/-1/"},
		{"GET", "/me/"},
		{"POST", "/me"},
		{"PATCH", "/chats/-1"},
		{"DELETE", "/chats/-1/members"},
	}
	for _, c := range cases {
		got := do(t, ts, c.method, c.path, testToken, "")
		wantError(t, got, 404, "method.not.found")
	}
	unknown := fake.Calls(fakemax.EndpointUnknown)
	if len(unknown) != len(cases) {
		t.Fatalf("journal has %d unknown calls, want %d", len(unknown), len(cases))
	}
	for i, c := range cases {
		if unknown[i].Method != c.method || unknown[i].Path != c.path || unknown[i].Status != 404 {
			t.Errorf("unknown call %d = %+v, want %s %s 404", i, unknown[i], c.method, c.path)
		}
	}
	if n := fake.Count(fakemax.EndpointUnknown); n != len(cases) {
		t.Errorf("Count(unknown) = %d", n)
	}
}

func TestStateMethodsValidate(t *testing.T) {
	fake := &fakemax.Server{}
	bad := []fakemax.Chat{
		{},
		{ID: -1, Type: "group"},
		{ID: -1, Status: "gone"},
		{ID: -1, ParticipantsCount: -1},
		{ID: -1, ParticipantsCount: 1 << 31},
		{ID: -1, Members: []fakemax.Member{{UserID: 0}}},
		{ID: -1, Members: []fakemax.Member{{UserID: 1}, {UserID: 1}}},
		{ID: -1, Members: []fakemax.Member{{UserID: 1, Permissions: []string{"view_stats"}}}},
	}
	for _, c := range bad {
		if err := fake.PutChat(c); !errors.Is(err, fakemax.ErrInvalid) {
			t.Errorf("PutChat(%+v) = %v, want ErrInvalid", c, err)
		}
	}
	if err := fake.SetParticipants(-1, 3); !errors.Is(err, fakemax.ErrNotFound) {
		t.Errorf("SetParticipants on unknown chat = %v, want ErrNotFound", err)
	}
	if err := fake.PutMember(-1, fakemax.Member{UserID: 1}); !errors.Is(err, fakemax.ErrNotFound) {
		t.Errorf("PutMember on unknown chat = %v", err)
	}
	if err := fake.PutChat(fakemax.Chat{ID: -1}); err != nil {
		t.Fatal(err)
	}
	if err := fake.SetParticipants(-1, -3); !errors.Is(err, fakemax.ErrInvalid) {
		t.Errorf("SetParticipants(-3) = %v, want ErrInvalid", err)
	}
	if n, ok := fake.Participants(-1); !ok || n != 0 {
		t.Errorf("a failed update changed the chat: %d %v", n, ok)
	}
	if err := fake.UpdateChat(-1, func(c *fakemax.Chat) { c.ID = -2 }); !errors.Is(err, fakemax.ErrInvalid) {
		t.Errorf("changing the id = %v", err)
	}
	if err := fake.SetBot(fakemax.Bot{}); !errors.Is(err, fakemax.ErrInvalid) {
		t.Errorf("SetBot(zero) = %v", err)
	}
	// Returned values are copies.
	c, _ := fake.Chat(-1)
	c.Title = "changed"
	if c2, _ := fake.Chat(-1); c2.Title != "" {
		t.Error("Chat returned shared state")
	}
}

func TestNewServerPanicsOnBrokenFixture(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewServer accepted a chat with id 0")
		}
	}()
	fakemax.NewServer(fakemax.WithChats(fakemax.Chat{}))
}
