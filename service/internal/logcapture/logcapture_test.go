package logcapture

import (
	"log/slog"
	"sync"
	"testing"
)

func TestBufferCapturesConcurrentRecords(t *testing.T) {
	var b Buffer
	log := slog.New(slog.NewJSONHandler(&b, nil))
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() { log.Info("Hello", "i", i) })
	}
	wg.Wait()
	log.Warn("Bye")

	recs := b.Records(t)
	if len(recs) != 21 {
		t.Fatalf("got %d records, want 21", len(recs))
	}
	if got := b.Count("Hello"); got != 20 {
		t.Errorf("Count(Hello) = %d, want 20", got)
	}
	if got := b.Count("Bye"); got != 1 {
		t.Errorf("Count(Bye) = %d, want 1", got)
	}
	if got := b.Count("Hell"); got != 0 {
		t.Errorf("Count(Hell) = %d, want 0: a prefix is not a match", got)
	}
}

func TestResetForgetsWhatWasWritten(t *testing.T) {
	var b Buffer
	log := slog.New(slog.NewJSONHandler(&b, nil))
	log.Info("Before")
	b.Reset()
	if b.String() != "" {
		t.Fatalf("after Reset: %q, want nothing", b.String())
	}
	log.Info("After")
	if b.Count("Before") != 0 || b.Count("After") != 1 {
		t.Errorf("after Reset and one record: %q", b.String())
	}
}
