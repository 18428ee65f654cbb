package chaos

import (
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
