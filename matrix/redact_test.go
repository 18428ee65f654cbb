package matrix

import (
	"encoding/json"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestRedactorString(t *testing.T) {
	r := NewRedactor("tok-en/with&chars", "ab", "")
	cases := map[string]string{ //nolint:gosec // fake credentials the redactor must remove
		"token tok-en/with&chars leaked":                         "token [REDACTED] leaked",
		"escaped tok-en%2Fwith%26chars":                          "escaped [REDACTED]",
		"postgres://chat:hunter22@127.0.0.1:5432/db":             "postgres://chat:[REDACTED]@127.0.0.1:5432/db",
		"redis://:redispw@127.0.0.1:6379/0":                      "redis://:[REDACTED]@127.0.0.1:6379/0",
		"host=127.0.0.1 password=hunter22 dbname=chats":          "host=127.0.0.1 password=[REDACTED] dbname=chats",
		"GET /chats/1?access_token=abc123&x=1":                   "GET /chats/1?access_token=[REDACTED]&x=1",
		"Authorization: abcdef":                                  "Authorization: [REDACTED]",
		`{"Authorization":"Bearer abcdef"}`:                      `{"Authorization":"[REDACTED]"}`,
		`{"max_api_token": "abc", "password":"p\"w", "n": 1}`:    `{"max_api_token": "[REDACTED]", "password":"[REDACTED]", "n": 1}`,
		"a short secret ab is kept, an empty one ignored":        "a short secret ab is kept, an empty one ignored",
		"http://127.0.0.1:8080/chats/all stays as it is, no pw.": "http://127.0.0.1:8080/chats/all stays as it is, no pw.",
	}
	for in, want := range cases {
		if got := r.String(in); got != want {
			t.Errorf("String(%q)\n got %q\nwant %q", in, got, want)
		}
	}
}

// The plain searches that spare the expressions most text never change what they redact:
// every text made of pieces that each pattern needs, in any case and with non-ASCII
// look-alikes, redacts as with the expressions alone.
func TestRedactorSearchesBeforeTheExpressions(t *testing.T) {
	r := NewRedactor("s3cr3t-value")
	always := *r
	always.patterns = slices.Clone(r.patterns)
	for i := range always.patterns {
		always.patterns[i].may = func(string, string) bool { return true }
	}
	pieces := []string{"postgres://", "u:", "pw", "@", "host", " ", "PassWord", "pwd", "access_TOKEN", "apikey", "Api_Key", "SECRET",
		"=", "x1", "&", "Authorization", ": ", `"`, `":"`, "Bearer ", "max_api_token", "\u212a", "K", "toKen", "ſecret",
		"s3cr3t-value", ",", "}", "{", "<", "é"}
	rng := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // G404: texts repeated from a fixed seed, not a secret
	filtered := 0
	for range 20000 {
		var b strings.Builder
		for range 1 + rng.IntN(8) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		in := b.String()
		want := always.String(in)
		if got := r.String(in); got != want {
			t.Fatalf("String(%q) = %q, the expressions alone give %q", in, got, want)
		}
		lower := strings.ToLower(in)
		for _, p := range r.patterns {
			if !p.may(in, lower) {
				filtered++
			}
		}
	}
	if filtered == 0 {
		t.Error("no text was spared an expression")
	}
}

func TestRedactWalksEveryString(t *testing.T) {
	r := NewRedactor("sekrit-token")
	o := Observation{
		RowID:        "x",
		Headers:      map[string]string{"Authorization": "anything", "Retry-After": "1"},
		Logs:         []LogEvent{{Msg: "dial with sekrit-token", Attrs: map[string]any{"password": "p", "count": 3.0, "nested": map[string]any{"token": "t"}}}},
		Failures:     []string{"env: sekrit-token"},
		SecretsFound: []string{"log line 1"},
	}
	got, err := Redact(r, o)
	if err != nil {
		t.Fatal(err)
	}
	if got.Headers["Authorization"] != Redacted || got.Headers["Retry-After"] != "1" {
		t.Errorf("headers %v", got.Headers)
	}
	if got.Logs[0].Msg != "dial with "+Redacted || got.Logs[0].Attrs["password"] != Redacted || got.Logs[0].Attrs["count"] != 3.0 ||
		got.Logs[0].Attrs["nested"].(map[string]any)["token"] != Redacted {
		t.Errorf("logs %+v", got.Logs[0])
	}
	if got.Failures[0] != "env: "+Redacted || got.SecretsFound[0] != "log line 1" {
		t.Errorf("failures %v %v", got.Failures, got.SecretsFound)
	}
	if strings.Contains(o.Logs[0].Msg, Redacted) {
		t.Error("Redact changed its input")
	}
}

func TestSecretsFromEnv(t *testing.T) {
	got := SecretsFromEnv([]string{
		"MAX_API_TOKEN=tok1234",
		"POSTGRES_PASSWORD=pgpw1234",
		"DATABASE_URL=postgres://u:dbpw1234@127.0.0.1:5432/db",
		"CHAOS_REDIS_URL=redis://127.0.0.1:6379/0",
		"HOME=/root",
		"EMPTY_TOKEN=",
		"NOEQUALS",
	})
	want := []string{"tok1234", "pgpw1234", "dbpw1234"}
	if !slices.Equal(got, want) {
		t.Errorf("SecretsFromEnv = %q, want %q", got, want)
	}
}

func TestRedactIsTheReportsRedaction(t *testing.T) {
	o := Observation{RowID: "x", Failures: []string{"token abc-secret-123 in an error"}}
	got, err := Redact(NewRedactor("abc-secret-123"), o)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(got.Failures[0], "abc-secret-123") || o.Failures[0] != "token abc-secret-123 in an error" {
		t.Errorf("redacted %q, original %q", got.Failures[0], o.Failures[0])
	}
}

func TestRedactSkipsTheWalkOnlyWhereItWouldChangeNothing(t *testing.T) {
	r := NewRedactor(`s3cr<t"pw`, "plainsecret")
	clean := Observation{RowID: "x", Failures: []string{"dial tcp 127.0.0.1:5432: connection refused"},
		Logs: []LogEvent{{Msg: "Request served", Attrs: map[string]any{"route": "/chats/all", "status": 200.0}}}}
	for _, tc := range []struct {
		name   string
		change func(*Observation)
		may    bool
	}{
		{"nothing to redact", func(*Observation) {}, false},
		{"a literal secret", func(o *Observation) { o.Failures = append(o.Failures, "with plainsecret inside") }, true},
		{"a secret JSON escapes", func(o *Observation) { o.Failures = append(o.Failures, `with s3cr<t"pw inside`) }, true},
		{"a URL password", func(o *Observation) { o.Failures = append(o.Failures, "postgres://u:x@h/db") }, true},
		{"a password pair", func(o *Observation) { o.Failures = append(o.Failures, "password=x") }, true},
		{"an authorization header", func(o *Observation) { o.Headers = map[string]string{"Authorization": "x"} }, true},
		{"a secret-naming key", func(o *Observation) { o.Logs[0].Attrs["session_cookie"] = "x" }, true},
		{"text outside ASCII", func(o *Observation) { o.Failures = append(o.Failures, "тест") }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := clean
			o.Failures = slices.Clone(clean.Failures)
			o.Logs = []LogEvent{{Msg: clean.Logs[0].Msg, Attrs: maps.Clone(clean.Logs[0].Attrs)}}
			tc.change(&o)
			b, err := json.Marshal(o)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.mayChange(b); got != tc.may {
				t.Errorf("mayChange = %v, want %v", got, tc.may)
			}
			// Whichever way it goes, the result is the full walk's.
			fast, err := Redact(r, o)
			if err != nil {
				t.Fatal(err)
			}
			slow, err := redactJSON[Observation](r, b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(fast, slow) {
				t.Errorf("Redact %+v, the walk %+v", fast, slow)
			}
			if tc.may && reflect.DeepEqual(fast, o) && tc.name != "text outside ASCII" {
				t.Errorf("nothing was redacted in %+v", fast)
			}
		})
	}
}
