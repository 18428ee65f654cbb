package rowrun

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/faultline/faultline/chaos"
	"github.com/faultline/faultline/matrix"
)

func TestSendDecodesWhatTheContractPromises(t *testing.T) {
	bodies := map[string]struct {
		status int
		body   string
	}{
		"GET /chats/all":                       {200, `{"chats":[{"id":1,"name":"a","max_chat_id":-1,"participants_count":11,"participants_source":"cache","participants_updated_at":"2026-07-01T12:00:00Z"},{"id":3,"name":"c","max_chat_id":null,"participants_count":30,"participants_source":"database"}]}`},
		"GET /chats/1":                         {200, `{"id":1,"name":"a","max_chat_id":-1,"participants_count":10,"participants_source":"database"}`},
		"POST /chats/1/participants/refresh":   {200, `{"id":1,"name":"a","max_chat_id":-1,"participants_count":12,"participants_source":"api","participants_updated_at":"2026-07-01T12:00:00Z"}`},
		"POST /chats/999/participants/refresh": {404, `{"error":{"code":"not_found","message":"chat 999 not found"}}`},
		"GET /health/detailed":                 {503, `{"service":"unhealthy","timestamp":"2026-07-01T12:00:00Z","dependencies":{"database":"unhealthy","redis":"healthy","max_api":"healthy"}}`},
		"GET /chats/2":                         {200, `{"chats":`},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		b, ok := bodies[r.Method+" "+r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(b.status)
		_, _ = io.WriteString(w, b.body)
	}))
	defer srv.Close()
	c := chaos.NewClient(srv.URL)
	ctx := context.Background()

	list := send(ctx, c, matrix.Request{Method: http.MethodGet, Path: "/chats/all"})
	if list.err != nil || list.status != 200 || len(list.chats) != 2 || list.chats[0].Source != matrix.SourceCache ||
		list.chats[0].UpdatedAt == nil || list.chats[1].UpdatedAt != nil || list.chats[1].Count != 30 {
		t.Errorf("list %+v", list)
	}
	if h := firstHeaders(list.header); h["Retry-After"] != "1" {
		t.Errorf("headers %v", h)
	}
	get := send(ctx, c, matrix.Request{Method: http.MethodGet, Path: "/chats/1"})
	if get.err != nil || len(get.chats) != 1 || get.chats[0].Count != 10 || get.chats[0].Source != matrix.SourceDatabase {
		t.Errorf("get %+v", get)
	}
	refresh := send(ctx, c, matrix.Request{Method: http.MethodPost, Path: "/chats/1/participants/refresh"})
	if refresh.err != nil || len(refresh.chats) != 1 || refresh.chats[0].Source != matrix.SourceAPI {
		t.Errorf("refresh %+v", refresh)
	}
	missing := send(ctx, c, matrix.Request{Method: http.MethodPost, Path: "/chats/999/participants/refresh"})
	if missing.err != nil || missing.status != 404 || missing.errCode != "not_found" || missing.errMessage != "chat 999 not found" || missing.chats != nil {
		t.Errorf("unknown chat %+v", missing)
	}
	if got := observedChat(chaos.Chat{ID: 3, Name: "c"}); got.Name != "c" || got.MaxChatID != nil {
		t.Errorf("an unlinked chat observed as %+v", got)
	}
	health := send(ctx, c, matrix.Request{Method: http.MethodGet, Path: "/health/detailed"})
	if health.err != nil || health.status != 503 || health.errCode != "" {
		t.Errorf("health %+v", health)
	}
	broken := send(ctx, c, matrix.Request{Method: http.MethodGet, Path: "/chats/2"})
	if !errors.Is(broken.err, chaos.ErrDecode) {
		t.Errorf("a body that is not a chat: %v", broken.err)
	}
}
