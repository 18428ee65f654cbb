package chaos

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
)

// Record is one line the service under test wrote to stderr. JSON lines are decoded into
// Attrs (numbers kept as json.Number); other lines are kept with JSON false and only Raw set.
type Record struct {
	// Seq is the line's position in the environment's log, counted across SUT restarts.
	Seq int64
	// Run is the SUT start that wrote the line: 1 for the first start, 2 after a restart...
	Run   int
	Time  time.Time
	Level string
	Msg   string
	Attrs map[string]any
	Raw   string
	JSON  bool
}

// Attr returns the record's attribute key as a string ("" when absent).
func (r Record) Attr(key string) string {
	v, ok := r.Attrs[key]
	if !ok || v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// LogMark is a position in the captured log; Logs.Since(mark) shows what came after it.
type LogMark int64

// maxLogRecords bounds the memory a long-running stack spends on its log; the oldest
// records are dropped first.
const maxLogRecords = 200_000

// logBuffer holds every record captured from the SUT during the environment's life.
type logBuffer struct {
	mu      sync.Mutex
	records []Record
	next    int64
}

func (b *logBuffer) mark() LogMark {
	b.mu.Lock()
	defer b.mu.Unlock()
	return LogMark(b.next)
}

func (b *logBuffer) add(run int, line []byte) {
	line = bytes.TrimRight(line, "\r\n")
	if len(line) == 0 {
		return
	}
	rec := parseRecord(line)
	rec.Run = run
	b.mu.Lock()
	defer b.mu.Unlock()
	rec.Seq = b.next
	b.next++
	if len(b.records) >= maxLogRecords {
		b.records = append(b.records[:0], b.records[maxLogRecords/2:]...)
	}
	b.records = append(b.records, rec)
}

func (b *logBuffer) since(m LogMark) []Record {
	b.mu.Lock()
	defer b.mu.Unlock()
	i := sort.Search(len(b.records), func(i int) bool { return b.records[i].Seq >= int64(m) })
	return append([]Record(nil), b.records[i:]...)
}

func parseRecord(line []byte) Record {
	rec := Record{Raw: string(line), Time: time.Now()}
	if line[0] != '{' {
		return rec
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var attrs map[string]any
	if err := dec.Decode(&attrs); err != nil {
		return rec
	}
	rec.JSON = true
	rec.Attrs = attrs
	rec.Level, _ = attrs["level"].(string)
	rec.Msg, _ = attrs["msg"].(string)
	if s, ok := attrs["time"].(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			rec.Time = t
		}
	}
	return rec
}

// lineWriter feeds a process's output into the buffer one line at a time, and copies it
// to tee when tee is not nil. It accepts lines of any length, so a long line can never
// stall the child on a full pipe.
type lineWriter struct {
	mu      sync.Mutex
	buf     *logBuffer
	run     int
	tee     io.Writer
	partial []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.tee != nil {
		_, _ = w.tee.Write(p)
	}
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.buf.add(w.run, w.partial[:i])
		w.partial = w.partial[i+1:]
	}
	if len(w.partial) == 0 {
		w.partial = nil
	}
	return len(p), nil
}

// flush keeps a last line that had no newline.
func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		w.buf.add(w.run, w.partial)
		w.partial = nil
	}
}

// ParseLogs reads a log as the SUT writes it (JSON lines, possibly mixed with other
// lines), for example a saved stderr, and returns a query over all of it.
func ParseLogs(r io.Reader) (Logs, error) {
	buf := &logBuffer{}
	w := &lineWriter{buf: buf, run: 1}
	if _, err := io.Copy(w, r); err != nil {
		return Logs{}, fmt.Errorf("read log: %w", err)
	}
	w.flush()
	return Logs{buf: buf}, nil
}

// Logs is a query over the captured log. It is a value: each method returns a narrower
// query and leaves the receiver unchanged, so a base query can be reused.
type Logs struct {
	buf     *logBuffer
	from    LogMark
	filters []func(Record) bool
}

// Since narrows the query to records written at or after mark.
func (l Logs) Since(mark LogMark) Logs {
	l.from = mark
	return l
}

// Where narrows the query to records for which keep returns true.
func (l Logs) Where(keep func(Record) bool) Logs {
	l.filters = append(append([]func(Record) bool(nil), l.filters...), keep)
	return l
}

// With narrows the query to JSON records whose attribute key equals value. Values compare
// by their printed form, so With("chat_count", 3) matches the JSON number 3.
func (l Logs) With(key string, value any) Logs {
	want := fmt.Sprint(value)
	return l.Where(func(r Record) bool {
		got, ok := r.Attrs[key]
		return ok && fmt.Sprint(got) == want
	})
}

// Has narrows the query to JSON records that carry the attribute key.
func (l Logs) Has(key string) Logs {
	return l.Where(func(r Record) bool {
		_, ok := r.Attrs[key]
		return ok
	})
}

// Msg narrows the query to records with this message.
func (l Logs) Msg(msg string) Logs { return l.With("msg", msg) }

// Level narrows the query to records of this level (DEBUG, INFO, WARN, ERROR).
func (l Logs) Level(level string) Logs {
	return l.Where(func(r Record) bool { return strings.EqualFold(r.Level, level) })
}

// Raw narrows the query to lines that are not JSON.
func (l Logs) Raw() Logs {
	return l.Where(func(r Record) bool { return !r.JSON })
}

// Records returns the matching records in the order they were written.
func (l Logs) Records() []Record {
	if l.buf == nil {
		return nil
	}
	var out []Record
next:
	for _, r := range l.buf.since(l.from) {
		for _, keep := range l.filters {
			if !keep(r) {
				continue next
			}
		}
		out = append(out, r)
	}
	return out
}

// Count returns how many records match.
func (l Logs) Count() int { return len(l.Records()) }

// First returns the first matching record.
func (l Logs) First() (Record, bool) {
	recs := l.Records()
	if len(recs) == 0 {
		return Record{}, false
	}
	return recs[0], true
}

// Contains reports whether any matching line contains s as written, for example to prove
// that a secret never reached the log.
func (l Logs) Contains(s string) bool {
	for _, r := range l.Records() {
		if strings.Contains(r.Raw, s) {
			return true
		}
	}
	return false
}

// Tail returns the last n matching lines as written, for failure messages.
func (l Logs) Tail(n int) string {
	recs := l.Records()
	if len(recs) > n {
		recs = recs[len(recs)-n:]
	}
	var sb strings.Builder
	for _, r := range recs {
		sb.WriteString(r.Raw)
		sb.WriteByte('\n')
	}
	return sb.String()
}
