package rowrun

import (
	"testing"
	"time"

	"github.com/faultline/faultline/fakes/maxapi"
	"github.com/faultline/faultline/matrix"
)

func TestSeedDataFollowsTheRow(t *testing.T) {
	at := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	s := matrix.Seed{Chats: []matrix.SeedChat{
		{ID: 1, Name: "alpha", MaxChatID: -1001, MaxCount: 12,
			DB: matrix.Stored{Count: 10, Age: time.Hour}, Cache: &matrix.Stored{Count: 11, Age: 2 * time.Hour}},
		{ID: 2, Name: "beta", MaxChatID: -1002, MaxCount: 22, DB: matrix.Stored{Count: 20, Unknown: true}},
		{ID: 3, Name: "gamma", DB: matrix.Stored{Count: 30, Unknown: true}},
	}}
	d := seedData(s, at, 24*time.Hour)
	if len(d.rows) != 3 || d.rows[0].UpdatedAt != at.Add(-time.Hour) || !d.rows[1].UpdatedAt.IsZero() ||
		d.rows[2].MaxChatID != 0 || d.rows[0].Count != 10 || d.rows[0].MaxChatID != -1001 {
		t.Errorf("rows %+v", d.rows)
	}
	if len(d.entries) != 1 || d.entries[0].ChatID != 1 || d.entries[0].Count != 11 ||
		d.entries[0].UpdatedAt != at.Add(-2*time.Hour) || d.entries[0].TTL != 22*time.Hour {
		t.Errorf("cache entries %+v", d.entries)
	}
	if len(d.chats) != 2 || d.chats[0].ID != -1001 || d.chats[0].ParticipantsCount != 12 || d.chats[1].ParticipantsCount != 22 {
		t.Errorf("fake MAX chats %+v", d.chats)
	}
}

func TestSeedDataEveryRowSeedsThreeDistinctValues(t *testing.T) {
	for _, r := range matrix.Rows() {
		d := seedData(r.Given.Seed, time.Now(), 24*time.Hour)
		if len(d.rows) == 0 {
			t.Errorf("%s seeds no chat", r.ID)
		}
		for _, e := range d.entries {
			if e.TTL <= 0 {
				t.Errorf("%s: cache entry %d would never expire or is already gone: %s", r.ID, e.ChatID, e.TTL)
			}
		}
	}
}

func TestSeedDataMakesMaxRefuseAChat(t *testing.T) {
	s := matrix.Seed{Chats: []matrix.SeedChat{
		{ID: 1, Name: "alpha", MaxChatID: -1001, MaxCount: 12, DB: matrix.Stored{Count: 10}, MaxStatus: 404},
		{ID: 2, Name: "beta", MaxChatID: -1002, MaxCount: 22, DB: matrix.Stored{Count: 20}, MaxStatus: 403},
		{ID: 3, Name: "gamma", MaxChatID: -1003, MaxCount: 32, DB: matrix.Stored{Count: 30}},
	}}
	d := seedData(s, time.Now(), time.Hour)
	if len(d.rows) != 3 || len(d.chats) != 2 || d.chats[0].ID != -1002 || d.chats[1].ID != -1003 {
		t.Errorf("rows %d, fake MAX chats %+v; want every row, and MAX knowing beta and gamma", len(d.rows), d.chats)
	}
	if len(d.faults) != 1 || d.faults[0].Status != 403 || d.faults[0].ChatID != -1002 || d.faults[0].Endpoint != maxapi.EndpointChat {
		t.Errorf("fake MAX faults %+v; want 403 for beta's chat calls only", d.faults)
	}
}
