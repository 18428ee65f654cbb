package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/faultline/faultline/chaos"
	"github.com/faultline/faultline/contract"
)

// requestKind is what a request of the load asks.
type requestKind string

const (
	kindList    requestKind = "list"
	kindGet     requestKind = "get"
	kindRefresh requestKind = "refresh"
	kindHealth  requestKind = "health"
	kindReady   requestKind = "readyz"
	kindLive    requestKind = "livez"
)

// answer is one response of the load as the judge sees it.
type answer struct {
	Kind       requestKind
	Start, End time.Time
	Status     int
	Header     http.Header
	Body       []byte
	// Err is the transport's error: no answer in time, connection refused...
	Err string
}

// truth is what the soak's stores and MAX have held for every chat: the seeded database and
// cache observations, and MAX's counts, which change every epoch.
type truth struct {
	mu sync.Mutex
	// seeded[id] are the observations the stores were seeded with.
	seeded map[int64][]observation
	// epochs[e] is when MAX began answering count(id, e) for every chat.
	epochs []time.Time
	// db and cache are the database's and Redis's histories, for the chats served from them.
	db, cache *history
	// slackBefore and slackAfter widen an epoch: an observation is stamped after the call
	// reached MAX, at most MAX_API_TIMEOUT (and the proxy's delay) later.
	slackBefore, slackAfter time.Duration
}

type observation struct {
	Count int
	At    time.Time
}

// maxCount is MAX's count for chat id in epoch e: distinct for every chat and epoch below
// epochSpan.
func maxCount(id int64, e int) int { return int(id)*epochSpan + e }

// epochSpan bounds the epochs of a run (one every epochEvery: 83 hours).
const epochSpan = 1 << 16

func newTruth(slackBefore, slackAfter time.Duration) *truth {
	cache := newHistory(string(contract.SourceCache))
	// Redis's record starts when its feed is first read (followCache).
	cache.lost()
	return &truth{seeded: map[int64][]observation{}, db: newHistory(string(contract.SourceDatabase)),
		cache: cache, slackBefore: slackBefore, slackAfter: slackAfter}
}

func (t *truth) seed(id int64, o observation) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seeded[id] = append(t.seeded[id], o)
}

// beginEpoch records that MAX answers epoch e's counts from at on.
func (t *truth) beginEpoch(at time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.epochs = append(t.epochs, at)
	return len(t.epochs) - 1
}

// check says what is wrong with a served count and its time, or "" when they are an
// observation that really happened: a seeded one, or MAX's count of the epoch it was
// observed in.
func (t *truth) check(id int64, count int, at *time.Time) string {
	if at == nil {
		return fmt.Sprintf("chat %d: count %d without participants_updated_at, but every chat was observed", id, count)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, o := range t.seeded[id] {
		if o.Count == count && o.At.Equal(*at) {
			return ""
		}
	}
	e := count - maxCount(id, 0)
	if e < 0 || e >= len(t.epochs) {
		return fmt.Sprintf("chat %d: count %d observed at %s is no count the stores or MAX held", id, count, at.Format(time.RFC3339Nano))
	}
	from := t.epochs[e].Add(-t.slackBefore)
	to := time.Now().Add(t.slackAfter)
	if e+1 < len(t.epochs) {
		to = t.epochs[e+1].Add(t.slackAfter)
	}
	if at.Before(from) || at.After(to) {
		return fmt.Sprintf("chat %d: count %d (MAX's from %s) is stamped %s, outside the time MAX answered it",
			id, count, t.epochs[e].Format(time.RFC3339Nano), at.Format(time.RFC3339Nano))
	}
	return ""
}

// judgement is the fault state a response is judged against.
type judgement struct {
	// DatabaseDown: a fault that makes the database unavailable held at some time during
	// the request, or was lifted less than the recovery bound before it began.
	DatabaseDown bool
}

// problem is one way an answer breaks an invariant.
type problem struct{ invariant, text string }

func responseProblem(format string, args ...any) []problem {
	return []problem{{invResponse, fmt.Sprintf(format, args...)}}
}

// judge returns every way a answers other than the contract says for the fault state j.
func judge(a answer, j judgement, t *truth) []problem {
	if a.Err != "" {
		return responseProblem("no answer: %s", a.Err)
	}
	if a.Kind == kindLive {
		if a.Status != http.StatusOK {
			return responseProblem("/livez answered %d: it checks no dependency", a.Status)
		}
		return nil
	}
	switch a.Status {
	case http.StatusOK:
	case http.StatusServiceUnavailable:
		if !j.DatabaseDown {
			return responseProblem("%s answered 503 while the database was available: %s", a.Kind, snippet(a.Body))
		}
		return check503(a)
	default:
		return responseProblem("%s answered %d: %s", a.Kind, a.Status, snippet(a.Body))
	}
	switch a.Kind {
	case kindList:
		var body struct {
			Chats []chaos.Chat `json:"chats"`
		}
		if err := json.Unmarshal(a.Body, &body); err != nil {
			return responseProblem("list body is not the contract's JSON: %v: %s", err, snippet(a.Body))
		}
		var out []problem
		for _, c := range body.Chats {
			out = append(out, checkChat(c, a, t)...)
		}
		return out
	case kindGet, kindRefresh:
		var c chaos.Chat
		if err := json.Unmarshal(a.Body, &c); err != nil {
			return responseProblem("%s body is not a chat: %v: %s", a.Kind, err, snippet(a.Body))
		}
		return checkChat(c, a, t)
	case kindHealth:
		var h chaos.Health
		if err := json.Unmarshal(a.Body, &h); err != nil || h.Service == "" {
			return responseProblem("/health/detailed body is not the contract's: %s", snippet(a.Body))
		}
	}
	return nil
}

// check503 checks a 503: the contract's database_unavailable, with Retry-After on the data
// endpoints.
func check503(a answer) []problem {
	switch a.Kind {
	case kindHealth, kindReady:
		return nil
	}
	var out []problem
	if a.Header.Get("Retry-After") == "" {
		out = append(out, responseProblem("%s answered 503 without Retry-After", a.Kind)...)
	}
	var body struct {
		Error chaos.APIError `json:"error"`
	}
	if err := json.Unmarshal(a.Body, &body); err != nil || body.Error.Code != "database_unavailable" {
		out = append(out, responseProblem("%s answered 503 with a body other than database_unavailable: %s", a.Kind, snippet(a.Body))...)
	}
	return out
}

// checkChat checks one chat of a's body. A chat a list or a get served from the database
// or the cache waits for that store's history; a refresh's may be the stored data a
// refresh it joined read before it began, so only the observation is checked.
func checkChat(c chaos.Chat, a answer, t *truth) []problem {
	if a.Kind == kindList || a.Kind == kindGet {
		x := servedChat{ID: c.ID, Count: c.ParticipantsCount, At: c.ParticipantsUpdatedAt, Start: a.Start, End: a.End,
			Request: string(a.Kind)}
		switch c.ParticipantsSource {
		case contract.SourceDatabase:
			t.db.served(x)
		case contract.SourceCache:
			t.cache.served(x)
		}
	}
	var out []problem
	if !slices.Contains(contract.Sources(), c.ParticipantsSource) {
		out = append(out, responseProblem("chat %d: participants_source %q", c.ID, c.ParticipantsSource)...)
	}
	if p := t.check(c.ID, c.ParticipantsCount, c.ParticipantsUpdatedAt); p != "" {
		out = append(out, problem{invData, p + " (source " + string(c.ParticipantsSource) + ")"})
	}
	return out
}

// snippet is the start of a body, for evidence.
func snippet(b []byte) string {
	const n = 200
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
