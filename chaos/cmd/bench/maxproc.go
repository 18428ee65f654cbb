package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/faultline/faultline/chaos"
	"github.com/faultline/faultline/fakes/maxapi"
)

// quotaMax is the fake MAX of the quota case: from Begin on, it records the calls as they
// arrive, as MAX counts them, and answers 429 beyond MAX's limit.
type quotaMax interface {
	// Seed adds chats to MAX (replacing any with the same ids) before the environment's
	// reset; the reset options it returns make the service use this fake MAX.
	Seed(ctx context.Context, chats []maxapi.Chat) ([]chaos.ResetOption, error)
	// Begin, after the reset, forgets the calls recorded so far and limits at MAX's rate.
	Begin(ctx context.Context) error
	// ChatCalls is every GET /chats/{id} recorded since Begin, oldest first; an error when
	// the journal no longer holds them all.
	ChatCalls(ctx context.Context) ([]maxapi.Call, error)
	Close()
}

// envMax is the environment's own fake MAX: in the bench process, behind a Toxiproxy proxy.
type envMax struct{ env *chaos.Env }

func (m envMax) Seed(_ context.Context, chats []maxapi.Chat) ([]chaos.ResetOption, error) {
	return []chaos.ResetOption{chaos.WithMaxChats(chats...)}, nil
}

// Begin sets the limit after the reset, which restores the environment's own (none).
func (m envMax) Begin(context.Context) error {
	m.env.Max().SetRateLimit(maxapi.DefaultRateLimit)
	m.env.Max().ResetJournal()
	return nil
}

func (m envMax) ChatCalls(context.Context) ([]maxapi.Call, error) {
	return wholeJournal(m.env.Max().Calls(maxapi.EndpointChat), m.env.Max().Count(maxapi.EndpointChat))
}

func (envMax) Close() {}

// wholeJournal returns calls when they are all count calls the fake MAX received: a journal
// that dropped its oldest would undercount every figure made from it.
func wholeJournal(calls []maxapi.Call, count int) ([]maxapi.Call, error) {
	if len(calls) != count {
		return nil, fmt.Errorf("fake MAX: the journal holds %d of its %d calls; raise its limit", len(calls), count)
	}
	return calls, nil
}

// The first argument that makes this binary serve the fake MAX, and its settings, in the
// environment so that the token is not on a command line.
const (
	maxCommand    = "serve-fakemax"
	maxEnvToken   = "BENCH_FAKEMAX_TOKEN"
	maxEnvJournal = "BENCH_FAKEMAX_JOURNAL"
)

// procMax is a fake MAX in a process of its own (this binary, started with maxCommand),
// reached directly rather than through a proxy, and driven through its admin API. The
// journal's arrival times are then taken by a process that does nothing else: in the bench
// process they would wait behind the load generator, the proxies and the bench's own
// garbage collection, which a real MAX's clock does not.
type procMax struct {
	*selfProcess
	client *http.Client
}

// startMax starts the fake MAX's process accepting token, keeping a journal of journal
// calls, and limiting at MAX's own rate.
func startMax(ctx context.Context, token string, journal int) (*procMax, error) {
	p, err := startSelf(ctx, maxCommand, maxEnvToken+"="+token, maxEnvJournal+"="+strconv.Itoa(journal))
	if err != nil {
		return nil, fmt.Errorf("fake MAX: %w", err)
	}
	return &procMax{selfProcess: p, client: &http.Client{Timeout: time.Minute}}, nil
}

func (m *procMax) Seed(ctx context.Context, chats []maxapi.Chat) ([]chaos.ResetOption, error) {
	body, err := json.Marshal(maxapi.Seed{Chats: chats})
	if err != nil {
		return nil, fmt.Errorf("fake MAX: seed: %w", err)
	}
	if err := m.admin(ctx, http.MethodPost, "seed", bytes.NewReader(body), nil); err != nil {
		return nil, err
	}
	return []chaos.ResetOption{chaos.WithSUTEnv("MAX_API_URL=" + m.URL())}, nil
}

// Begin forgets the calls so far; the process limits at MAX's rate from its start.
func (m *procMax) Begin(ctx context.Context) error {
	return m.admin(ctx, http.MethodDelete, "journal", nil, nil)
}

func (m *procMax) ChatCalls(ctx context.Context) ([]maxapi.Call, error) {
	var j struct {
		Calls []maxapi.Call `json:"calls"`
	}
	if err := m.admin(ctx, http.MethodGet, "journal?endpoint="+url.QueryEscape(maxapi.EndpointChat), nil, &j); err != nil {
		return nil, err
	}
	var counts struct {
		Endpoints map[string]int `json:"endpoints"`
	}
	if err := m.admin(ctx, http.MethodGet, "counts", nil, &counts); err != nil {
		return nil, err
	}
	return wholeJournal(j.Calls, counts.Endpoints[maxapi.EndpointChat])
}

func (m *procMax) Close() {
	m.client.CloseIdleConnections()
	m.selfProcess.Close()
}

// admin sends one request to the admin API, decoding the answer into out when it is not nil.
func (m *procMax) admin(ctx context.Context, method, path string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, m.URL()+maxapi.AdminPrefix+path, body)
	if err != nil {
		return fmt.Errorf("fake MAX: %w", err)
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return fmt.Errorf("fake MAX: %s %s: %w", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("fake MAX: %s %s: %s %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("fake MAX: %s %s: %w", method, path, err)
	}
	return nil
}

// serveMax is the fake MAX's process: it serves on a loopback port, prints the address on
// stdout, and stops on SIGINT or SIGTERM.
func serveMax(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	journal, err := strconv.Atoi(getenv(maxEnvJournal))
	if err != nil || journal < 1 {
		return fmt.Errorf("fake MAX: %s must be a positive integer", maxEnvJournal)
	}
	token := getenv(maxEnvToken)
	if token == "" {
		return fmt.Errorf("fake MAX: %s is empty", maxEnvToken)
	}
	fake := maxapi.NewServer(maxapi.WithToken(token), maxapi.WithRateLimit(maxapi.DefaultRateLimit), maxapi.WithJournalLimit(journal))
	if err := serveSelf(ctx, fake, stdout); err != nil {
		return fmt.Errorf("fake MAX: %w", err)
	}
	return nil
}
