package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/faultline/faultline/fakes/maxapi"
)

// TestMain lets this test binary serve the fake MAX, as the bench binary does, for startMax.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == maxCommand {
		if err := serveMax(context.Background(), os.Getenv, os.Stdout); err != nil {
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
		{[]int{400, 0, 150, 100}, 3, 150 * time.Millisecond}, // unordered, as calls finish
		{[]int{0, 100, 150, 400}, 4, 400 * time.Millisecond},
		{[]int{0, 100}, 3, 0},
	} {
		if got := tightest(at(c.times...), c.n); got != c.want {
			t.Errorf("tightest(%v, %d) = %v, want %v", c.times, c.n, got, c.want)
		}
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
	if err := p.ResetJournal(ctx); err != nil {
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
		t.Fatalf("journal of %d calls, first %+v", len(calls), calls[0])
	}
	// MAX's limit: with all of them within a second, the last is refused.
	if calls[len(calls)-1].Time.Sub(calls[0].Time) < time.Second &&
		(codes[http.StatusOK] != maxapi.DefaultRateLimit || codes[http.StatusTooManyRequests] != 1) {
		t.Errorf("%d calls within a second answered %v", len(calls), codes)
	}
}
