package chaos

import (
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A PostgreSQL backend calls setsid(); pausing must reach it all the same.
func TestDescendantsReachChildrenInTheirOwnSession(t *testing.T) {
	cmd := exec.CommandContext(t.Context(), "sh", "-c", "setsid sleep 30 & echo $!; wait")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	buf := make([]byte, 32)
	n, err := out.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	child, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = syscall.Kill(child, syscall.SIGKILL) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := descendants(cmd.Process.Pid)
		if got[0] == cmd.Process.Pid && slices.Contains(got, child) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("descendants(%d) = %v, want it to hold the setsid child %d", cmd.Process.Pid, got, child)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

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
