package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// testTruth has chat 1 seeded with 5 at t0-3h, and MAX's epochs 0 and 1 at t0 and t0+5s.
func testTruth() *truth {
	tr := newTruth(100*time.Millisecond, 3*time.Second)
	tr.seed(1, observation{Count: 5, At: t0.Add(-3 * time.Hour)})
	tr.epochs = []time.Time{t0, t0.Add(5 * time.Second)}
	return tr
}

func chatJSON(id int64, count int, source string, at *time.Time) string {
	s := fmt.Sprintf(`{"id":%d,"name":"c","max_chat_id":-1,"participants_count":%d,"participants_source":%q`, id, count, source)
	if at != nil {
		s += fmt.Sprintf(`,"participants_updated_at":%q`, at.Format(time.RFC3339Nano))
	}
	return s + "}"
}

func ptr(t time.Time) *time.Time { return &t }

func TestJudge(t *testing.T) {
	seeded := ptr(t0.Add(-3 * time.Hour))
	inEpoch1 := ptr(t0.Add(6 * time.Second))
	unavailable := `{"error":{"code":"database_unavailable","message":"database unavailable"}}`
	retry := http.Header{"Retry-After": {"1"}}
	cases := []struct {
		name string
		a    answer
		j    judgement
		want string // the invariant of the one problem wanted, "" for none
	}{
		{"list of observations that happened", answer{Kind: kindList, Status: 200,
			Body: []byte(`{"chats":[` + chatJSON(1, 5, "database", seeded) + `,` + chatJSON(1, maxCount(1, 1), "api", inEpoch1) + `]}`)}, judgement{}, ""},
		{"a count MAX answered stamped before it did", answer{Kind: kindGet, Status: 200,
			Body: []byte(chatJSON(1, maxCount(1, 1), "cache", ptr(t0.Add(2*time.Second))))}, judgement{}, invData},
		{"an older count with a newer time", answer{Kind: kindGet, Status: 200,
			Body: []byte(chatJSON(1, 5, "cache", inEpoch1))}, judgement{}, invData},
		{"a count without its time", answer{Kind: kindRefresh, Status: 200,
			Body: []byte(chatJSON(1, maxCount(1, 0), "api", nil))}, judgement{}, invData},
		{"a source the contract does not know", answer{Kind: kindGet, Status: 200,
			Body: []byte(chatJSON(1, 5, "memory", seeded))}, judgement{}, invResponse},
		{"503 while the database is up", answer{Kind: kindList, Status: 503, Header: retry, Body: []byte(unavailable)}, judgement{}, invResponse},
		{"503 while the database is down", answer{Kind: kindList, Status: 503, Header: retry, Body: []byte(unavailable)}, judgement{DatabaseDown: true}, ""},
		{"503 without Retry-After", answer{Kind: kindGet, Status: 503, Header: http.Header{}, Body: []byte(unavailable)}, judgement{DatabaseDown: true}, invResponse},
		{"503 with another code", answer{Kind: kindGet, Status: 503, Header: retry, Body: []byte(`{"error":{"code":"internal"}}`)}, judgement{DatabaseDown: true}, invResponse},
		{"readiness 503 while the database is down", answer{Kind: kindReady, Status: 503}, judgement{DatabaseDown: true}, ""},
		{"500", answer{Kind: kindList, Status: 500, Body: []byte(`{}`)}, judgement{DatabaseDown: true}, invResponse},
		{"no answer", answer{Kind: kindList, Err: "timeout"}, judgement{DatabaseDown: true}, invResponse},
		{"livez 503", answer{Kind: kindLive, Status: 503}, judgement{DatabaseDown: true}, invResponse},
		{"health without its body", answer{Kind: kindHealth, Status: 200, Body: []byte(`{}`)}, judgement{}, invResponse},
		{"list that is not JSON", answer{Kind: kindList, Status: 200, Body: []byte(`<html>`)}, judgement{}, invResponse},
	}
	for _, c := range cases {
		got := judge(c.a, c.j, testTruth())
		switch {
		case c.want == "" && len(got) > 0:
			t.Errorf("%s: %v, want no problem", c.name, got)
		case c.want != "" && (len(got) != 1 || got[0].invariant != c.want):
			t.Errorf("%s: %v, want one problem of %q", c.name, got, c.want)
		}
	}
}

func TestTruthLastEpochIsOpen(t *testing.T) {
	tr := testTruth()
	if p := tr.check(1, maxCount(1, 1), ptr(time.Now())); p != "" {
		t.Errorf("a count of the current epoch stamped now: %s", p)
	}
	if p := tr.check(1, maxCount(1, 2), ptr(time.Now())); !strings.Contains(p, "no count") {
		t.Errorf("a count of an epoch not begun: %q, want it refused", p)
	}
	if p := tr.check(2, maxCount(1, 0), ptr(t0)); p == "" {
		t.Error("chat 1's count served for chat 2 was accepted")
	}
}

func TestDatabaseDownCoversTheRecoveryBound(t *testing.T) {
	s := &soak{applied: []*appliedFault{
		{Fault: "down(postgres)", databaseDown: true, From: 10 * time.Second, To: 20 * time.Second},
		{Fault: "down(redis)", From: 50 * time.Second, To: 60 * time.Second},
		{Fault: "paused(postgres)", databaseDown: true, From: 70 * time.Second, Err: "not applied"},
		{Fault: "blackhole(postgres)", databaseDown: true, From: 90 * time.Second},
	}}
	for _, c := range []struct {
		from, to time.Duration
		want     bool
	}{
		{5 * time.Second, 9 * time.Second, false},   // before it
		{9 * time.Second, 11 * time.Second, true},   // across its start
		{34 * time.Second, 36 * time.Second, true},  // lifted 14 s before
		{36 * time.Second, 37 * time.Second, false}, // lifted 16 s before
		{55 * time.Second, 56 * time.Second, false}, // another dependency's
		{75 * time.Second, 76 * time.Second, false}, // never applied
		{95 * time.Second, 96 * time.Second, true},  // still held
	} {
		if got := s.databaseDown(c.from, c.to); got != c.want {
			t.Errorf("databaseDown(%s, %s) = %v, want %v", c.from, c.to, got, c.want)
		}
	}
	if got := s.activeAt(55 * time.Second); len(got) != 1 || got[0] != "down(redis)" {
		t.Errorf("activeAt(55s) = %v, want down(redis)", got)
	}
}

func TestChatsServedFromTheDatabaseWaitForItsHistory(t *testing.T) {
	seeded := ptr(t0.Add(-3 * time.Hour))
	list := `{"chats":[` + chatJSON(1, 5, "database", seeded) + `,` + chatJSON(1, 5, "cache", seeded) + `]}`
	for _, c := range []struct {
		kind requestKind
		body string
		want int
	}{
		{kindList, list, 1},
		{kindGet, chatJSON(1, 5, "database", seeded), 1},
		// A refresh's stored data may be what a refresh it joined read before it began.
		{kindRefresh, chatJSON(1, 5, "database", seeded), 0},
	} {
		tr := testTruth()
		a := answer{Kind: c.kind, Status: http.StatusOK, Body: []byte(c.body), Start: t0, End: t0.Add(time.Millisecond)}
		if p := judge(a, judgement{}, tr); len(p) != 0 {
			t.Fatalf("%s: %v", c.kind, p)
		}
		if _, pending, _ := tr.db.stats(); pending != c.want {
			t.Errorf("%s: %d chats wait for the database's history, want %d", c.kind, pending, c.want)
		}
	}
}
