package main

import (
	"fmt"
	"sync"
	"time"
)

// dbHistory is every version of every chat's count that the database held during the run,
// read from a trigger's log of the writes (writeLog), and the chats served with source
// "database" that wait to be checked against it: such a count must be one the database
// held while the request was being answered, not an older copy, nor the cache's under
// the database's name.
//
// The check is sound on its own terms, whatever the scheduling: a version counts as
// replaced only from the end of the first poll that read its successor (the successor had
// committed by then, so any read that began later sees it), and an answer is checked only
// after a poll that began after the answer ended (every version the answer could have read
// had committed by then, so it has been read).
type dbHistory struct {
	mu       sync.Mutex
	versions map[int64][]dbVersion
	pending  []dbServed
	checked  int
}

// dbVersion is one version of a chat's row.
type dbVersion struct {
	Count int
	At    *time.Time // participants_updated_at; nil when never observed
	// Written is when the write ran (the trigger's clock); Seen when the poll that read it
	// ended: the write had committed by then.
	Written, Seen time.Time
}

// dbServed is a chat served with source "database".
type dbServed struct {
	ID         int64
	Count      int
	At         *time.Time
	Start, End time.Time
	Request    string // method and path, for the evidence
}

func newDBHistory() *dbHistory { return &dbHistory{versions: map[int64][]dbVersion{}} }

// add records a version of chat id, in the order the database wrote them.
func (h *dbHistory) add(id int64, v dbVersion) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.versions[id] = append(h.versions[id], v)
}

// served queues a chat served with source "database" for the check.
func (h *dbHistory) served(x dbServed) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pending = append(h.pending, x)
}

// settle checks the queued answers that ended before pollStart, the start of a poll that
// read the write log completely, and returns a problem for each that fails (with the
// answer's end, for the violation's time).
func (h *dbHistory) settle(pollStart time.Time) []settled {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []settled
	keep := h.pending[:0]
	for _, x := range h.pending {
		if !x.End.Before(pollStart) {
			keep = append(keep, x)
			continue
		}
		h.checked++
		if p := checkServed(x, h.versions[x.ID]); p != "" {
			out = append(out, settled{At: x.End, Text: x.Request + ": " + p})
		}
	}
	clear(h.pending[len(keep):])
	h.pending = keep
	return out
}

// settled is a failed check of a served chat.
type settled struct {
	At   time.Time
	Text string
}

// checkServed says what is wrong with x against the versions its chat had, or "" when one
// of them was the database's while x's request was answered: written before the answer
// ended, and not yet replaced by a committed successor when the request began.
func checkServed(x dbServed, versions []dbVersion) string {
	var stale *dbVersion
	for i, v := range versions {
		if v.Count != x.Count || !sameTime(v.At, x.At) || v.Written.After(x.End) {
			continue
		}
		next := versions[i+1:]
		if len(next) == 0 || !x.Start.After(next[0].Seen) {
			return ""
		}
		stale = &next[0]
	}
	if stale == nil {
		return fmt.Sprintf("chat %d: count %d observed %s served with source database, which the database never held before the answer",
			x.ID, x.Count, timeOrNull(x.At))
	}
	return fmt.Sprintf("chat %d: count %d observed %s served with source database, but the database held count %d observed %s "+
		"(committed by %s, before the request began at %s)",
		x.ID, x.Count, timeOrNull(x.At), stale.Count, timeOrNull(stale.At),
		stale.Seen.UTC().Format(time.RFC3339Nano), x.Start.UTC().Format(time.RFC3339Nano))
}

// sameTime compares observation times to the microsecond, PostgreSQL's precision.
func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Truncate(time.Microsecond).Equal(b.Truncate(time.Microsecond))
}

// stats is how many served chats were checked and how many wait.
func (h *dbHistory) stats() (checked, pending int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.checked, len(h.pending)
}
