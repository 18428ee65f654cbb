package scenarios_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"time"
)

// progressLog is the file every parallel process appends a line to when it finishes a row
// (MATRIX_PROGRESS): the row, its state and its time, tab-separated. The command that runs
// the suite follows it and prints it, since Ginkgo keeps each process's own output until the
// end. A nil progressLog writes nothing.
type progressLog struct {
	path string
}

func openProgress(path string) *progressLog {
	if path == "" {
		return nil
	}
	return &progressLog{path: path}
}

// add appends one line, in one write to a file opened for appending, so the lines of
// several processes never interleave.
func (p *progressLog) add(row, state string, took time.Duration) {
	if p == nil {
		return
	}
	f, err := os.OpenFile(p.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644) //nolint:gosec // a progress log for people
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = fmt.Fprintf(f, "%s\t%s\t%s\n", row, state, took.Round(10*time.Millisecond))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
