package maxapi_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	fakemax "github.com/faultline/faultline/fakes/maxapi"
)

func TestJournalRecordsEveryCall(t *testing.T) {
	clk := newClock()
	fake, ts := newFake(t, fakemax.WithClock(clk.Now), fakemax.WithToken(testToken), fakemax.WithChats(sampleChat()))
	get(t, ts, "/me", testToken)
	clk.Advance(time.Second)
	get(t, ts, chatPath+"/members?count=1", testToken)
	get(t, ts, "/chats/-9", "")
	get(t, ts, "/me?access_token="+testToken, "")
	id := fake.Fail(fakemax.Status(503).OnChat(-70000000000005))
	get(t, ts, chatPath, testToken)
	get(t, ts, "/nowhere", testToken)
	do(t, ts, "GET", "/_fake/chats", "", "") // admin calls are not journaled

	want := []fakemax.Call{
		{Seq: 1, Time: clk.Now().Add(-time.Second), Method: "GET", Path: "/me", Endpoint: fakemax.EndpointMe, Auth: true, Done: true, Status: 200},
		{Seq: 2, Time: clk.Now(), Method: "GET", Path: chatPath + "/members", Query: "count=1", Endpoint: fakemax.EndpointMembers, ChatID: -70000000000005, Auth: true, Done: true, Status: 200},
		{Seq: 3, Time: clk.Now(), Method: "GET", Path: "/chats/-9", Endpoint: fakemax.EndpointChat, ChatID: -9, Auth: false, Done: true, Status: 401},
		{Seq: 4, Time: clk.Now(), Method: "GET", Path: "/me", Query: "access_token=REDACTED", Endpoint: fakemax.EndpointMe, Done: true, Status: 403},
		{Seq: 5, Time: clk.Now(), Method: "GET", Path: chatPath, Endpoint: fakemax.EndpointChat, ChatID: -70000000000005, Auth: true, Done: true, Status: 503, FaultID: id, Fault: "status:503"},
		{Seq: 6, Time: clk.Now(), Method: "GET", Path: "/nowhere", Endpoint: fakemax.EndpointUnknown, Auth: true, Done: true, Status: 404},
	}
	got := fake.Journal()
	if len(got) != len(want) {
		t.Fatalf("journal has %d calls, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if !got[i].Time.Equal(want[i].Time) {
			t.Errorf("call %d time %v, want %v", i+1, got[i].Time, want[i].Time)
		}
		got[i].Time = want[i].Time
		if got[i] != want[i] {
			t.Errorf("call %d =\n%+v\nwant\n%+v", i+1, got[i], want[i])
		}
	}
	// The token never appears in the journal.
	data, _ := json.Marshal(got)
	if strings.Contains(string(data), testToken) {
		t.Errorf("journal contains the token: %s", data)
	}
}

func TestJournalHelpers(t *testing.T) {
	fake, ts := newFake(t, fakemax.WithChats(sampleChat(), fakemax.Chat{ID: -2}), fakemax.WithJournalLimit(4))
	for range 3 {
		get(t, ts, chatPath, testToken)
	}
	get(t, ts, "/chats/-2", testToken)
	get(t, ts, "/chats/-2/members", testToken)
	get(t, ts, "/me", testToken)

	if n := fake.Count(fakemax.EndpointChat); n != 4 {
		t.Errorf("Count(chat endpoint) = %d, want 4", n)
	}
	if n := fake.Count(chatPath); n != 3 {
		t.Errorf("Count(%s) = %d, want 3", chatPath, n)
	}
	if n := fake.Count("/nothing"); n != 0 {
		t.Errorf("Count(/nothing) = %d", n)
	}
	want := map[string]int{fakemax.EndpointChat: 4, fakemax.EndpointMembers: 1, fakemax.EndpointMe: 1}
	if got := fake.Counts(); len(got) != len(want) || got[fakemax.EndpointChat] != 4 || got[fakemax.EndpointMembers] != 1 || got[fakemax.EndpointMe] != 1 {
		t.Errorf("Counts = %v, want %v", got, want)
	}
	// The journal keeps the newest calls within its limit; counters do not
	// forget.
	j := fake.Journal()
	if len(j) > 4 || j[len(j)-1].Seq != 6 {
		t.Errorf("journal beyond its limit: %+v", j)
	}
	if cs := fake.ChatCalls(-2); len(cs) != 2 || cs[0].Endpoint != fakemax.EndpointChat || cs[1].Endpoint != fakemax.EndpointMembers {
		t.Errorf("ChatCalls(-2) = %+v", cs)
	}
	if cs := fake.Calls("/chats/-2"); len(cs) != 1 {
		t.Errorf("Calls(/chats/-2) = %+v", cs)
	}

	fake.ResetJournal()
	if len(fake.Journal()) != 0 || fake.Count(fakemax.EndpointChat) != 0 || len(fake.Counts()) != 0 {
		t.Error("ResetJournal kept calls")
	}
	if _, ok := fake.Chat(-2); !ok {
		t.Error("ResetJournal dropped state")
	}
	// Sequence numbers keep growing, so calls stay distinguishable.
	get(t, ts, "/me", testToken)
	if c := fake.Journal()[0]; c.Seq != 7 {
		t.Errorf("seq after ResetJournal = %d, want 7", c.Seq)
	}
}

func TestResetRestoresConstructionState(t *testing.T) {
	clk := newClock()
	fake, ts := newFake(t, fakemax.WithClock(clk.Now), fakemax.WithChats(sampleChat()), fakemax.WithRateLimit(5))
	if err := fake.PutChat(fakemax.Chat{ID: -2}); err != nil {
		t.Fatal(err)
	}
	if err := fake.SetParticipants(-70000000000005, 99); err != nil {
		t.Fatal(err)
	}
	if err := fake.SetBot(fakemax.Bot{UserID: 9, FirstName: "x"}); err != nil {
		t.Fatal(err)
	}
	fake.SetToken("T")
	fake.Fail(fakemax.Status(500))
	get(t, ts, "/me", "T")

	fake.Reset()
	if cs := fake.Chats(); len(cs) != 1 || cs[0].ParticipantsCount != 3 {
		t.Errorf("chats after Reset = %+v", cs)
	}
	if len(fake.Faults()) != 0 || len(fake.Journal()) != 0 || fake.TokenConfigured() || fake.RateLimit() != 5 {
		t.Errorf("Reset kept faults/journal/token or lost the rate limit option")
	}
	if !reflect.DeepEqual(fake.Bot(), fakemax.DefaultBot()) {
		t.Errorf("bot after Reset = %+v", fake.Bot())
	}
	if got := get(t, ts, chatPath, "any"); got.status != 200 {
		t.Errorf("after Reset: %d", got.status)
	}

	zero := &fakemax.Server{}
	if err := zero.PutChat(fakemax.Chat{ID: -1}); err != nil {
		t.Fatal(err)
	}
	zero.Reset()
	if len(zero.Chats()) != 0 {
		t.Error("zero-value Reset kept chats")
	}
}
