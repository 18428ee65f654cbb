package chaos

import (
	"os"
	"testing"
)

func TestSQLQuotingDoublesQuotes(t *testing.T) {
	if got := quoteIdent(`a"b`); got != `"a""b"` {
		t.Errorf("quoteIdent = %s", got)
	}
	if got := quoteLiteral(`it's`); got != `'it''s'` {
		t.Errorf("quoteLiteral = %s", got)
	}
}

// BenchmarkStartPostgresProcess is the cost of one environment's database on the process
// backend: copy the template, create the role and database, start, stop.
func BenchmarkStartPostgresProcess(b *testing.B) {
	if _, err := postgresBinDir(); err != nil {
		b.Skip(err)
	}
	for b.Loop() {
		dir, err := os.MkdirTemp("", "faultline-bench-")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = os.RemoveAll(dir) })
		if err := os.Chmod(dir, 0o711); err != nil { //nolint:gosec // as Start does: traverse only
			b.Fatal(err)
		}
		p, err := startPostgresProcess(b.Context(), dir, "bench", "secret", "benchdb")
		if err != nil {
			b.Fatal(err)
		}
		if err := p.terminate(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}
