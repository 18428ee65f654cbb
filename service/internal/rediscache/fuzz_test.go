package rediscache

import (
	"testing"
	"time"
)

// FuzzDecode: any value found under a participants key decodes to a count that is not
// negative and a time in UTC, or to an error (a missing entry for the caller); never a panic.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"count":42,"updated_at":"2026-11-29T10:00:00.123456Z"}`, `{"count":42,"updated_at":"2026-11-29T13:00:00+03:00"}`,
		`{"count":-1,"updated_at":"2026-11-29T10:00:00Z"}`, `{"count":"42","updated_at":"x"}`, `{"count":42}`,
		`{"count": "eleven"`, `null`, ``, `{"count":1e400,"updated_at":"2026-11-29T10:00:00Z"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := decode(raw)
		if err != nil {
			return
		}
		if p.Count < 0 || p.UpdatedAt.IsZero() || p.UpdatedAt.Location() != time.UTC {
			t.Fatalf("%q decoded to count %d at %v", raw, p.Count, p.UpdatedAt)
		}
	})
}
