package matrix

import (
	"testing"
	"time"
)

// BenchmarkCompareManyChats compares an observation of the 300-chat replicas row with the
// row, as the harness does at every poll while the row settles.
func BenchmarkCompareManyChats(b *testing.B) {
	row, ok := Lookup(Rows(), "replicas.max-up.cache-stale.many-chats")
	if !ok {
		b.Fatal("no row replicas.max-up.cache-stale.many-chats")
	}
	obs := Exemplar(row, time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC))
	if len(obs.Stores) < 600 {
		b.Fatalf("the exemplar reads %d stored values, want at least 600", len(obs.Stores))
	}
	if ms := Compare(row, obs, ModeReference); len(ms) != 0 {
		b.Fatalf("the exemplar does not meet its row: %v", ms)
	}
	for b.Loop() {
		Compare(row, obs, ModeReference)
	}
}
