package maxapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"go.yaml.in/yaml/v3"

	fakemax "github.com/faultline/faultline/fakes/maxapi"
)

// schemaFile is a verbatim copy of the published MAX Bot API description.
const schemaFile = "testdata/schema_2026_07_01.yaml"

// loadSchema parses the schema once per test binary; it is read-only after.
var loadSchema = sync.OnceValues(func() (*openapi3.T, error) {
	raw, err := os.ReadFile(schemaFile)
	if err != nil {
		return nil, err
	}
	var tree map[string]any
	if err := yaml.Unmarshal(raw, &tree); err != nil {
		return nil, err
	}
	patchSchema(tree)
	data, err := json.Marshal(tree)
	if err != nil {
		return nil, err
	}
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		return nil, err
	}
	// The description carries a few things kin-openapi rightly rejects, none
	// in the parts the fake serves: a "summary" inside a schema (ChatAdmin),
	// examples that do not match their schema (GetSubscriptionsResult), a
	// string default for an integer (count of GET members) and a Perl-only
	// look-ahead regular expression (callback_id of POST /answers). Those
	// checks are switched off for the document check only; responses are
	// still validated with every check.
	err = doc.Validate(context.Background(),
		openapi3.AllowExtraSiblingFields("summary"),
		openapi3.DisableExamplesValidation(),
		openapi3.DisableSchemaDefaultsValidation(),
	)
	return doc, err
})

// patchSchema repairs, in memory, the parts of the published description that
// are not valid OpenAPI 3.0 and stop kin-openapi from loading it at all. The
// file in testdata stays a verbatim copy. None of the repairs touches a schema
// used by the endpoints the fake serves (Chat, ChatMembersList, BotInfo,
// Error) except user_ids, whose serialisation is made the one the official Go
// client really uses.
func patchSchema(tree map[string]any) {
	schemas := tree["components"].(map[string]any)["schemas"].(map[string]any)
	// UserIdsList (request body of POST members) is written as a parameter
	// object, with a string maxItems inside items; replace it by the schema it
	// means.
	schemas["UserIdsList"] = map[string]any{
		"type":     "object",
		"required": []any{"user_ids"},
		"properties": map[string]any{
			"user_ids": map[string]any{
				"type": "array", "uniqueItems": true, "maxItems": 100,
				"items": map[string]any{"type": "integer", "format": "int64"},
			},
		},
	}
	// Only the GET operations the fake serves are kept. Other operations
	// carry their own errors (GET /chats has no responses object, GET
	// /messages an array parameter without items, ...), and GET
	// /chats/{chatLink} is the same template as GET /chats/{chatId} to an
	// OpenAPI router (the real server tells them apart by whether the segment
	// is a number); the fake serves neither, so nothing is lost.
	paths := tree["paths"].(map[string]any)
	for p, item := range paths {
		if !slices.Contains(slices.Collect(maps.Values(specPaths)), p) {
			delete(paths, p)
			continue
		}
		for method := range item.(map[string]any) {
			if method != "get" && method != "parameters" {
				delete(item.(map[string]any), method)
			}
		}
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			// "required: false/true" on a property (MessageBody.attachments)
			// is Swagger 2 syntax; in 3.0 required is the parent's list.
			if props, ok := x["properties"].(map[string]any); ok {
				for _, p := range props {
					if pm, ok := p.(map[string]any); ok {
						if _, isBool := pm["required"].(bool); isBool {
							delete(pm, "required")
						}
					}
				}
			}
			// Discriminator mappings must map to strings, not {$ref: ...}.
			if d, ok := x["discriminator"].(map[string]any); ok {
				if m, ok := d["mapping"].(map[string]any); ok {
					for k, mv := range m {
						if ref, ok := mv.(map[string]any); ok {
							m[k] = ref["$ref"]
						}
					}
				}
			}
			// style "simple" is not allowed for query parameters; user_ids
			// is sent comma separated, which is form with explode false.
			if x["in"] == "query" && x["style"] == "simple" {
				x["style"], x["explode"] = "form", false
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(tree)
}

// specPaths maps each endpoint of the fake to its path in the description.
var specPaths = map[string]string{
	fakemax.EndpointMe:      "/me",
	fakemax.EndpointChat:    "/chats/{chatId}",
	fakemax.EndpointMembers: "/chats/{chatId}/members",
}

// checkSchema fails the test if an answer of the fake does not match the
// description (see schemaError).
func checkSchema(t testing.TB, endpoint string, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	if err := schemaError(endpoint, req, status, header, body); err != nil {
		t.Errorf("%s %s -> %d: %v\nbody: %.2000s", req.Method, req.URL, status, err, body)
	}
}

// schemaError validates one answer of the fake against the description. A
// status the operation declares is validated with openapi3filter. A status it
// does not declare (404 on GET /chats/{chatId}, 429 anywhere, 403
// deprecated.token, unknown paths) is validated against the Error schema: the
// description says every error is that object, it just does not list every
// status per operation.
func schemaError(endpoint string, req *http.Request, status int, header http.Header, body []byte) error {
	doc, err := loadSchema()
	if err != nil {
		return fmt.Errorf("load schema: %w", err)
	}
	if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("Content-Type = %q, want application/json", ct)
	}
	if tpl, ok := specPaths[endpoint]; ok {
		item := doc.Paths.Value(tpl)
		if item.Get.Responses.Status(status) != nil {
			route := &routers.Route{Spec: doc, Path: tpl, PathItem: item, Method: http.MethodGet, Operation: item.Get}
			params := map[string]string{}
			if strings.Contains(tpl, "{chatId}") {
				params["chatId"] = strings.Split(req.URL.Path, "/")[2]
			}
			in := &openapi3filter.ResponseValidationInput{
				RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
				Status:                 status,
				Header:                 header,
				Body:                   io.NopCloser(bytes.NewReader(body)),
				Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
			}
			return openapi3filter.ValidateResponse(context.Background(), in)
		}
	}
	if status < 400 {
		return fmt.Errorf("no schema for success status %d", status)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("error body is not JSON: %w", err)
	}
	return doc.Components.Schemas["Error"].Value.VisitJSON(v, openapi3.MultiErrors())
}

func TestSchemaLoads(t *testing.T) {
	doc, err := loadSchema()
	if err != nil {
		t.Fatalf("load schema: %v", err)
	}
	for _, tpl := range specPaths {
		if doc.Paths.Value(tpl) == nil || doc.Paths.Value(tpl).Get == nil {
			t.Errorf("schema has no GET %s", tpl)
		}
	}
}

// TestResponsesMatchSchema sends every kind of answer the fake gives (success
// and error, on every endpoint) and validates each against the description.
func TestResponsesMatchSchema(t *testing.T) {
	minimal := fakemax.Chat{ID: -42} // every nullable field null, no members
	cases := []struct {
		name     string
		endpoint string
		path     string
		token    string
		setup    func(*fakemax.Server)
		status   int
	}{
		{"me", fakemax.EndpointMe, "/me", testToken, nil, 200},
		{"me with commands", fakemax.EndpointMe, "/me", testToken, func(s *fakemax.Server) {
			b := fakemax.DefaultBot()
			b.Commands = []fakemax.BotCommand{{Name: "start", Description: "Start"}, {Name: "help"}}
			b.AvatarURL, b.FullAvatarURL, b.LastActivityTime = "https://x/a", "https://x/b", 1767225600000
			if err := s.SetBot(b); err != nil {
				t.Fatal(err)
			}
		}, 200},
		{"me without username and description", fakemax.EndpointMe, "/me", testToken, func(s *fakemax.Server) {
			if err := s.SetBot(fakemax.Bot{UserID: 7, FirstName: "b"}); err != nil {
				t.Fatal(err)
			}
		}, 200},
		{"chat full", fakemax.EndpointChat, "/chats/-70000000000005", testToken, nil, 200},
		{"chat nulls", fakemax.EndpointChat, "/chats/-42", testToken, nil, 200},
		{"chat not found", fakemax.EndpointChat, "/chats/-1", testToken, nil, 404},
		{"members first page", fakemax.EndpointMembers, "/chats/-70000000000005/members?count=1", testToken, nil, 200},
		{"members last page", fakemax.EndpointMembers, "/chats/-70000000000005/members?count=1&marker=123123123", testToken, nil, 200},
		{"members by ids", fakemax.EndpointMembers, "/chats/-70000000000005/members?user_ids=229229229,5", testToken, nil, 200},
		{"members empty", fakemax.EndpointMembers, "/chats/-42/members", testToken, nil, 200},
		{"members not found", fakemax.EndpointMembers, "/chats/-1/members", testToken, nil, 404},
		{"members bad count", fakemax.EndpointMembers, "/chats/-42/members?count=1000", testToken, nil, 400},
		{"no token", fakemax.EndpointChat, "/chats/-42", "", nil, 401},
		{"wrong token", fakemax.EndpointMembers, "/chats/-42/members", "wrong", nil, 401},
		{"me wrong token", fakemax.EndpointMe, "/me", "Bearer " + testToken, nil, 401},
		{"deprecated token", fakemax.EndpointMe, "/me?access_token=" + testToken, "", nil, 403},
		{"rate limited", fakemax.EndpointChat, "/chats/-42", testToken, func(s *fakemax.Server) { s.SetRateLimit(1) }, 429},
		{"unknown path", fakemax.EndpointUnknown, "/messages", testToken, nil, 404},
		{"fault 503", fakemax.EndpointChat, "/chats/-42", testToken, func(s *fakemax.Server) { s.Fail(fakemax.Status(503)) }, 503},
		{"fault 500", fakemax.EndpointMe, "/me", testToken, func(s *fakemax.Server) { s.Fail(fakemax.Status(500)) }, 500},
		{"fault 429 retry-after", fakemax.EndpointMembers, "/chats/-42/members", testToken, func(s *fakemax.Server) { s.Fail(fakemax.RateLimited(2 * time.Second)) }, 429},
		{"fault 401", fakemax.EndpointChat, "/chats/-42", testToken, func(s *fakemax.Server) { s.Fail(fakemax.Status(401)) }, 401},
		{"fault 403", fakemax.EndpointMembers, "/chats/-42/members", testToken, func(s *fakemax.Server) { s.Fail(fakemax.Status(403)) }, 403},
		{"fault latency", fakemax.EndpointChat, "/chats/-70000000000005", testToken, func(s *fakemax.Server) { s.Fail(fakemax.Latency(time.Millisecond)) }, 200},
		{"fault oversized", fakemax.EndpointChat, "/chats/-70000000000005", testToken, func(s *fakemax.Server) { s.Fail(fakemax.Oversized(64 << 10)) }, 200},
		{"fault oversized error", fakemax.EndpointChat, "/chats/-1", testToken, func(s *fakemax.Server) { s.Fail(fakemax.Oversized(4 << 10)) }, 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake, ts := newFake(t, fakemax.WithToken(testToken), fakemax.WithChats(sampleChat(), minimal))
			if tc.setup != nil {
				tc.setup(fake)
			}
			if tc.status == 429 && len(fake.Faults()) == 0 {
				get(t, ts, tc.path, tc.token) // use up the budget of one request
			}
			got := get(t, ts, tc.path, tc.token)
			if got.status != tc.status {
				t.Fatalf("GET %s = %d, want %d: %s", tc.path, got.status, tc.status, got.body)
			}
			req, _ := http.NewRequest(http.MethodGet, ts.URL+tc.path, nil)
			checkSchema(t, tc.endpoint, req, got.status, got.header, got.body)
		})
	}
}

// TestSchemaCheckIsLive proves the validation above rejects what a real client
// would choke on, so a passing TestResponsesMatchSchema means something.
func TestSchemaCheckIsLive(t *testing.T) {
	fake, ts := newFake(t, fakemax.WithChats(sampleChat()))
	path := "/chats/-70000000000005"
	req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)

	id := fake.Fail(fakemax.WrongTypes())
	got := get(t, ts, path, testToken)
	if err := schemaError(fakemax.EndpointChat, req, got.status, got.header, got.body); err == nil {
		t.Errorf("numbers sent as strings passed the schema: %s", got.body)
	}
	fake.ClearFault(id)

	fake.Fail(fakemax.StatusBody(200, `{"chat_id": -1}`))
	got = get(t, ts, path, testToken)
	if err := schemaError(fakemax.EndpointChat, req, got.status, got.header, got.body); err == nil {
		t.Errorf("a chat without required fields passed the schema")
	}
	fake.ClearFaults()

	fake.Fail(fakemax.StatusBody(503, `{"error": "no code"}`))
	got = get(t, ts, path, testToken)
	if err := schemaError(fakemax.EndpointChat, req, got.status, got.header, got.body); err == nil {
		t.Errorf("an error body without code and message passed the Error schema")
	}
}
