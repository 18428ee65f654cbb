// Package logcapture captures a logger's output in tests: a writer that is safe for the
// concurrent writes of slog handlers, with readers for the JSON records written so far.
package logcapture

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
)

// Buffer is an io.Writer that keeps everything written to it. Its zero value is ready for
// use, and it is safe for concurrent use.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Reset forgets everything written so far: a fuzz target, whose one logger sees a
// million requests, keeps only the current input's lines.
func (b *Buffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = bytes.Buffer{}
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Records parses the lines written so far as JSON objects, failing tb on any line that is
// not one: a structured logger must never write anything else.
func (b *Buffer) Records(tb testing.TB) []map[string]any {
	tb.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			tb.Fatalf("log line is not a JSON object: %q", line)
		}
		out = append(out, rec)
	}
	return out
}

// Count returns how many lines written so far contain the JSON field "msg":msg.
func (b *Buffer) Count(msg string) int {
	want, err := json.Marshal(msg)
	if err != nil {
		return 0
	}
	return strings.Count(b.String(), `"msg":`+string(want))
}
