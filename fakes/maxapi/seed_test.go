package maxapi_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	fakemax "github.com/faultline/faultline/fakes/maxapi"
)

func TestReadSeedFileExample(t *testing.T) {
	seed, err := fakemax.ReadSeedFile("testdata/chats.json")
	if err != nil {
		t.Fatalf("example seed: %v", err)
	}
	if seed.Bot == nil || seed.Bot.Username != "faultline_fake_bot" || len(seed.Chats) != 2 {
		t.Fatalf("seed = %+v", seed)
	}
	fake, ts := newFake(t, fakemax.WithSeed(seed))
	m := decode(t, get(t, ts, "/chats/-70000000000001", testToken).body)
	if m["participants_count"] != float64(3) || m["title"] != "Support team" || m["last_event_time"] != float64(1767225600000) {
		t.Errorf("seeded chat = %v", m)
	}
	if len(decode(t, get(t, ts, "/chats/-70000000000001", testToken).body)["participants"].(map[string]any)) != 3 {
		t.Error("seeded members missing from participants")
	}
	// Seeded state is what Reset returns to.
	if err := fake.SetParticipants(-70000000000001, 10); err != nil {
		t.Fatal(err)
	}
	fake.DeleteChat(-70000000000002)
	fake.Reset()
	if n, _ := fake.Participants(-70000000000001); n != 3 || len(fake.Chats()) != 2 || fake.Bot().Username != "faultline_fake_bot" {
		t.Errorf("Reset did not restore the seed: %d chats, count %d", len(fake.Chats()), n)
	}
	// Every seeded answer is valid for the schema too.
	for _, p := range []struct{ endpoint, path string }{
		{fakemax.EndpointMe, "/me"},
		{fakemax.EndpointChat, "/chats/-70000000000001"},
		{fakemax.EndpointChat, "/chats/-70000000000002"},
		{fakemax.EndpointMembers, "/chats/-70000000000001/members"},
	} {
		got := get(t, ts, p.path, testToken)
		req := mustRequest(t, ts.URL+p.path)
		checkSchema(t, p.endpoint, req, got.status, got.header, got.body)
	}
}

func TestParseSeedRejects(t *testing.T) {
	cases := map[string]string{
		"unknown field":      `{"chats":[{"chat_id":-1,"titel":"x"}]}`,
		"duplicate chat":     `{"chats":[{"chat_id":-1},{"chat_id":-1}]}`,
		"zero chat id":       `{"chats":[{"title":"x"}]}`,
		"bad permission":     `{"chats":[{"chat_id":-1,"members":[{"user_id":1,"permissions":["view_stats"]}]}]}`,
		"duplicate member":   `{"chats":[{"chat_id":-1,"members":[{"user_id":1},{"user_id":1}]}]}`,
		"bad bot":            `{"bot":{"first_name":"no id"},"chats":[]}`,
		"trailing data":      `{"chats":[]} {}`,
		"not json":           `chats: []`,
		"wrong type":         `{"chats":[{"chat_id":"-1"}]}`,
		"count beyond int32": `{"chats":[{"chat_id":-1,"participants_count":3000000000}]}`,
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := fakemax.ParseSeed([]byte(in)); err == nil {
				t.Errorf("ParseSeed(%s) accepted it", in)
			}
		})
	}
	if _, err := fakemax.ParseSeed([]byte(`{"chats":[{"chat_id":-1},{"chat_id":-1}]}`)); !errors.Is(err, fakemax.ErrInvalid) {
		t.Errorf("duplicate chat error = %v, want ErrInvalid", err)
	}
	if _, err := fakemax.ReadSeedFile(filepath.Join(t.TempDir(), "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file error = %v", err)
	}
}

func TestApplySeed(t *testing.T) {
	fake := &fakemax.Server{}
	if err := fake.PutChat(fakemax.Chat{ID: -1, Title: "old"}); err != nil {
		t.Fatal(err)
	}
	seed, err := fakemax.ParseSeed([]byte(`{"chats":[{"chat_id":-1,"title":"new"},{"chat_id":-2}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := fake.ApplySeed(seed); err != nil {
		t.Fatal(err)
	}
	if c, _ := fake.Chat(-1); c.Title != "new" || len(fake.Chats()) != 2 {
		t.Errorf("after ApplySeed: %+v", fake.Chats())
	}
	fake.Reset() // ApplySeed changes the current state only
	if len(fake.Chats()) != 0 {
		t.Errorf("Reset kept applied seed chats")
	}
}
