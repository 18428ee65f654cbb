package maxapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	fakemax "github.com/faultline/faultline/fakes/maxapi"
)

// TestConcurrentClients runs many clients against the fake while the test
// changes state, faults and reads the journal, for the race detector; a
// FailNext fault must answer exactly its number of calls.
func TestConcurrentClients(t *testing.T) {
	const clients, perClient, faulted = 16, 25, 100
	fake, ts := newFake(t, fakemax.WithRateLimit(0), fakemax.WithChats(sampleChat(), fakemax.Chat{ID: -2}))
	fake.FailNext(faulted, fakemax.Status(503).OnEndpoint(fakemax.EndpointChat))

	var ok, unavailable, other atomic.Int64
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perClient {
				path := chatPath
				if i%2 == 1 {
					path = "/chats/-2"
				}
				switch statusOf(ts, path, fmt.Sprintf("token-%d", c)) {
				case 200:
					ok.Add(1)
				case 503:
					unavailable.Add(1)
				default:
					other.Add(1)
				}
			}
		}()
	}
	// Meanwhile the harness side works the fake.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 50 {
			if err := fake.SetParticipants(-2, i); err != nil {
				t.Error(err)
			}
			if err := fake.PutMember(-2, fakemax.Member{UserID: int64(i + 1), FirstName: "m"}); err != nil {
				t.Error(err)
			}
			id := fake.Fail(fakemax.Latency(1).OnEndpoint(fakemax.EndpointMe))
			fake.ClearFault(id)
			_ = fake.Journal()
			_ = fake.Count(fakemax.EndpointChat)
			_ = fake.Faults()
			_ = fake.Chats()
		}
	}()
	wg.Wait()

	total := int64(clients * perClient)
	if unavailable.Load() != faulted || ok.Load() != total-faulted || other.Load() != 0 {
		t.Errorf("ok %d, 503 %d, other %d; want %d, %d, 0", ok.Load(), unavailable.Load(), other.Load(), total-faulted, faulted)
	}
	if n := fake.Count(fakemax.EndpointChat); n != int(total) {
		t.Errorf("Count = %d, want %d", n, total)
	}
	if len(fake.Faults()) != 0 {
		t.Errorf("FailNext fault not removed after %d calls: %+v", faulted, fake.Faults())
	}
	seen := map[int64]bool{}
	for _, c := range fake.Journal() {
		if seen[c.Seq] || !c.Done {
			t.Fatalf("journal entry duplicated or unfinished: %+v", c)
		}
		seen[c.Seq] = true
	}
	if n, _ := fake.Participants(-2); n != 49 {
		t.Errorf("participants = %d, want the last value set (49)", n)
	}
}

// TestConcurrentRateLimit checks the limiter is exact under concurrency: with
// a frozen clock, exactly the limit gets through.
func TestConcurrentRateLimit(t *testing.T) {
	clk := newClock()
	fake, ts := newFake(t, fakemax.WithClock(clk.Now))
	var ok, limited atomic.Int64
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch statusOf(ts, "/me", "shared") {
			case 200:
				ok.Add(1)
			case 429:
				limited.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != int64(fakemax.DefaultRateLimit) || limited.Load() != 50-int64(fakemax.DefaultRateLimit) {
		t.Errorf("ok %d, limited %d; want %d, %d", ok.Load(), limited.Load(), fakemax.DefaultRateLimit, 50-fakemax.DefaultRateLimit)
	}
	if n := fake.Count(fakemax.EndpointMe); n != 50 {
		t.Errorf("Count = %d", n)
	}
}

// statusOf is get for goroutines other than the test's: it cannot call
// t.Fatal, so a transport error is status -1, which the counts then reject.
func statusOf(ts *httptest.Server, path, token string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+path, nil)
	if err != nil {
		return -1
	}
	req.Header.Set("Authorization", token)
	resp, err := ts.Client().Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return -1
	}
	return resp.StatusCode
}
