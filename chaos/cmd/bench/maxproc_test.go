package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/fakes/maxapi"
)

// TestMain lets this test binary serve what the bench binary serves, for startSelf.
func TestMain(m *testing.M) {
	if serve := serveCommand(os.Args[1:]); serve != nil {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := serve(ctx, os.Getenv, os.Stdout)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestTightestIsTheShortestSpanOfNTimes(t *testing.T) {
	at := func(ms ...int) []time.Time {
		base := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
		ts := make([]time.Time, len(ms))
		for i, m := range ms {
			ts[i] = base.Add(time.Duration(m) * time.Millisecond)
		}
		return ts
	}
	for _, c := range []struct {
		times []int
		n     int
		want  time.Duration
	}{
		{[]int{0, 100, 150, 400}, 2, 50 * time.Millisecond},
		{[]int{0, 100, 150, 400}, 3, 150 * time.Millisecond},
		{[]int{0, 100, 150, 400}, 4, 400 * time.Millisecond},
		{[]int{0, 100}, 3, 0},
	} {
		if got := tightest(at(c.times...), c.n); got != c.want {
			t.Errorf("tightest(%v, %d) = %v, want %v", c.times, c.n, got, c.want)
		}
	}
	// Calls in the order they finished: 31 within 300 ms, two of them 1 ms apart.
	ms := []int{300, 0, 1}
	for i := 2; i < maxPerSecond; i++ {
		ms = append(ms, 10*i)
	}
	if over, closest := spans(at(ms...)); over != 300*time.Millisecond || closest != time.Millisecond {
		t.Errorf("spans of unordered calls = %v, %v; want 300ms, 1ms", over, closest)
	}
}

func TestTheFakeMaxProcessJournalsCallsAndLimitsLikeMAX(t *testing.T) {
	ctx := t.Context()
	p, err := startMax(ctx, "bench-token", 100)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	opts, err := p.Seed(ctx, []maxapi.Chat{{ID: -7, Title: "seeded", ParticipantsCount: 5}})
	if err != nil || len(opts) != 1 {
		t.Fatalf("seed: %d reset options, %v", len(opts), err)
	}
	get := func(token string) int {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL()+"/chats/-7", nil)
		req.Header.Set("Authorization", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("wrong"); code != http.StatusUnauthorized {
		t.Errorf("a wrong token answered %d", code)
	}
	if err := p.Begin(ctx); err != nil {
		t.Fatal(err)
	}
	codes := map[int]int{}
	for range maxapi.DefaultRateLimit + 1 {
		codes[get("bench-token")]++
	}
	calls, err := p.ChatCalls(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != maxapi.DefaultRateLimit+1 || calls[0].ChatID != -7 {
		t.Fatalf("journal of %d calls, want %d for chat -7: %+v", len(calls), maxapi.DefaultRateLimit+1, calls)
	}
	// MAX's limit: with all of them well within a second, the last is refused. The fake
	// admits a call a moment after journaling it, so a span near the second proves nothing.
	span := calls[len(calls)-1].Time.Sub(calls[0].Time)
	if span >= 900*time.Millisecond {
		t.Skipf("%d calls took %v: too slow a machine to see MAX's limit", len(calls), span)
	}
	if codes[http.StatusOK] != maxapi.DefaultRateLimit || codes[http.StatusTooManyRequests] != 1 {
		t.Errorf("%d calls in %v answered %v", len(calls), span, codes)
	}
}

func TestAJournalThatDroppedCallsIsRefused(t *testing.T) {
	calls := []maxapi.Call{{Seq: 1}, {Seq: 2}}
	if got, err := wholeJournal(calls, 2); err != nil || len(got) != 2 {
		t.Errorf("a whole journal: %d calls, %v", len(got), err)
	}
	if _, err := wholeJournal(calls, 3); err == nil {
		t.Error("a journal holding 2 of 3 calls was accepted")
	}
}

func TestOnlyTheServerCommandsServe(t *testing.T) {
	if serveCommand([]string{maxCommand}) == nil || serveCommand([]string{floorCommand}) == nil {
		t.Error("a server command was not recognised")
	}
	if serveCommand(nil) != nil || serveCommand([]string{"-only", "quota"}) != nil {
		t.Error("the bench's own arguments were taken for a server command")
	}
}
