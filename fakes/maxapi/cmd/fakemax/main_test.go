package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer that run's goroutine and the test can share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var urlLine = regexp.MustCompile(`fakemax listening on (http://\S+)`)

// start runs the command in the background and waits for its URL.
func start(t *testing.T, ctx context.Context, args ...string) (url string, out *syncBuffer, done <-chan error) {
	t.Helper()
	out = &syncBuffer{}
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, args, out, io.Discard) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := urlLine.FindStringSubmatch(out.String()); m != nil {
			return m[1], out, errc
		}
		select {
		case err := <-errc:
			t.Fatalf("run returned before listening: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("no URL printed")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func call(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

func waitDone(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop")
		return nil
	}
}

func TestRunServesSeedAndStopsOnSIGTERM(t *testing.T) {
	url, out, done := start(t, context.Background(),
		"-addr", "127.0.0.1:0", "-token", "T", "-seed", "../../testdata/chats.json")

	if st, body := call(t, "GET", url+"/me", "T", ""); st != 200 || !strings.Contains(body, "faultline_fake_bot") {
		t.Errorf("GET /me = %d %s", st, body)
	}
	if st, _ := call(t, "GET", url+"/me", "wrong", ""); st != 401 {
		t.Errorf("wrong token = %d", st)
	}
	if st, body := call(t, "GET", url+"/chats/-70000000000001", "T", ""); st != 200 || !strings.Contains(body, `"participants_count":3`) {
		t.Errorf("seeded chat = %d %s", st, body)
	}
	if st, body := call(t, "PUT", url+"/_fake/chats/-70000000000001/participants", "", `{"count":9}`); st != 200 {
		t.Errorf("admin = %d %s", st, body)
	}
	if _, body := call(t, "GET", url+"/chats/-70000000000001", "T", ""); !strings.Contains(body, `"participants_count":9`) {
		t.Errorf("admin change not served: %s", body)
	}

	// A request held by a hang must not keep shutdown waiting.
	if st, body := call(t, "POST", url+"/_fake/faults", "", `{"hang":true}`); st != 201 {
		t.Fatalf("install hang = %d %s", st, body)
	}
	hung := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", url+"/me", nil)
		req.Header.Set("Authorization", "T")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		hung <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := call(t, "GET", url+"/_fake/journal?endpoint=GET%20/me", "", "")
		if strings.Count(body, `"seq"`) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hung request never arrived: %s", body)
		}
		time.Sleep(5 * time.Millisecond)
	}

	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := waitDone(t, done); err != nil {
		t.Fatalf("run after SIGTERM: %v", err)
	}
	if err := <-hung; err != nil {
		t.Errorf("hung request failed instead of being released: %v", err)
	}
	if !strings.Contains(out.String(), "fakemax stopped") {
		t.Errorf("output = %q", out.String())
	}
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "http://"), time.Second); err == nil {
		t.Error("still listening after stop")
	}
}

func TestRunStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	url, _, done := start(t, ctx, "-addr", "127.0.0.1:0")
	if st, _ := call(t, "GET", url+"/me", "any", ""); st != 200 {
		t.Errorf("GET /me without -token = %d", st)
	}
	cancel()
	if err := waitDone(t, done); err != nil {
		t.Fatalf("run: %v", err)
	}
}

func TestRunErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cases := map[string][]string{
		"unknown flag":  {"-nope"},
		"extra args":    {"-addr", "127.0.0.1:0", "extra"},
		"missing seed":  {"-addr", "127.0.0.1:0", "-seed", "does-not-exist.json"},
		"invalid seed":  {"-addr", "127.0.0.1:0", "-seed", "main.go"},
		"address taken": {"-addr", ln.Addr().String()},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
				t.Errorf("run(%q) succeeded", args)
			}
		})
	}
}
