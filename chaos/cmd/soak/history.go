package main

import (
	"fmt"
	"sync"
	"time"
)

// history is every version of every chat's count that a store (the database, or Redis)
// held during the run, read from the store's own record of its writes (the database's
// write log, Redis's MONITOR feed), and the chats served with that store as their
// participants_source that wait to be checked against it: such a count must be one the
// store held while the request was being answered, not an older copy, nor another store's
// under this one's name.
//
// The check is sound on its own terms, whatever the scheduling: a version counts as
// replaced only from the moment its successor is known to have committed (Seen), and an
// answer is checked only once the record is known complete up to a moment after the answer
// ended (settle). While the record may be incomplete (the MONITOR connection lost while
// Redis restarts), the answers that it could concern are skipped, not judged.
type history struct {
	store    string // "database" or "cache": the participants_source checked against it
	mu       sync.Mutex
	versions map[int64][]version
	pending  []servedChat
	checked  int
	skipped  int
	writes   int // the writes read from the record and checked for regressions
	// blind is set while the record may be missing writes; answers that began before
	// blindUntil are skipped.
	blind      bool
	blindUntil time.Time
}

// version is one version of a chat's count in the store.
type version struct {
	Count int
	At    *time.Time // the observation time; nil when never observed
	// Written is when the write ran (the store's clock); Seen when it was known committed:
	// the end of the poll that read it, or, for Redis, the write itself.
	Written, Seen time.Time
	// Expires is when the store drops it by itself (a Redis entry's TTL); zero for never.
	Expires time.Time
	// Absent is a deletion: the chat has no entry from Written on.
	Absent bool
}

// servedChat is a chat served with the history's store as its source.
type servedChat struct {
	ID         int64
	Count      int
	At         *time.Time
	Start, End time.Time
	Request    string // method and path, for the evidence
}

func newHistory(store string) *history {
	return &history{store: store, versions: map[int64][]version{}}
}

// add records a write of chat id, in the order the store ran them, and returns what is
// wrong when it moved the chat's observation back (the store invariant): an observed count
// replaced by an older observation, or by none. A deletion is no regression, nor is any
// write over no entry (deleted, or expired by then: Redis keeps its expiry to the
// millisecond).
func (h *history) add(id int64, v version) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.writes++
	prev := h.versions[id]
	h.versions[id] = append(prev, v)
	if len(prev) == 0 {
		return ""
	}
	old := prev[len(prev)-1]
	if old.Absent || v.Absent || old.At == nil || v.At != nil && !v.At.Before(*old.At) {
		return ""
	}
	if !old.Expires.IsZero() && !old.Expires.After(v.Written.Add(time.Millisecond)) {
		return ""
	}
	return fmt.Sprintf("%s, chat %d: count %d observed %s replaced by %d observed %s",
		h.store, id, old.Count, timeOrNull(old.At), v.Count, timeOrNull(v.At))
}

// restart begins a new stretch of chat id's history with v, what the store held when it
// was read whole (before the load, or anew after its record had a gap): no write, so not
// counted as one, and not compared with the version before a gap, which the missed writes
// may have replaced in any way.
func (h *history) restart(id int64, v version) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.versions[id] = append(h.versions[id], v)
}

// served queues a chat served with the history's store as its source for the check, or
// skips it when the record may miss writes it could have read.
func (h *history) served(x servedChat) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.blind || x.Start.Before(h.blindUntil) {
		h.skipped++
		return
	}
	h.pending = append(h.pending, x)
}

// lost says the record may be missing writes from now on: the queued answers are skipped,
// and so is every answer until found is called.
func (h *history) lost() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.blind = true
	h.skipped += len(h.pending)
	clear(h.pending)
	h.pending = h.pending[:0]
}

// found says the record is complete again from at on (the store's content was read anew
// at at): answers that began before at are skipped.
func (h *history) found(at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.blind = false
	h.blindUntil = at
}

// settle checks the queued answers that ended before covered, a moment up to which the
// record is complete (the start of a poll that read the write log completely; the sending
// of a fence the MONITOR feed has since delivered), and returns a problem for each that
// fails (with the answer's end, for the violation's time).
func (h *history) settle(covered time.Time) []settled {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []settled
	keep := h.pending[:0]
	for _, x := range h.pending {
		if !x.End.Before(covered) {
			keep = append(keep, x)
			continue
		}
		h.checked++
		if p := checkServed(h.store, x, h.versions[x.ID]); p != "" {
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

// checkServed says what is wrong with x, served with source store, against the versions
// its chat had there, or "" when one of them was the store's while x's request was
// answered: written before the answer ended, not expired before the request began, and
// not yet replaced by a committed successor when the request began.
func checkServed(store string, x servedChat, versions []version) string {
	// From the newest: the version an answer read is nearly always among the last.
	var stale, expired *version
	for i := len(versions) - 1; i >= 0; i-- {
		v := versions[i]
		if v.Absent || v.Count != x.Count || !sameTime(v.At, x.At) || v.Written.After(x.End) {
			continue
		}
		// Redis keeps its expiry to the millisecond.
		if !v.Expires.IsZero() && !v.Expires.Add(time.Millisecond).After(x.Start) {
			expired = &versions[i]
			continue
		}
		if i+1 == len(versions) || !x.Start.After(versions[i+1].Seen) {
			return ""
		}
		stale = &versions[i+1]
	}
	if stale == nil && expired != nil {
		return fmt.Sprintf("chat %d: count %d observed %s served with source %s, but the %s's entry expired at %s, before the request began at %s",
			x.ID, x.Count, timeOrNull(x.At), store, store,
			expired.Expires.UTC().Format(time.RFC3339Nano), x.Start.UTC().Format(time.RFC3339Nano))
	}
	if stale == nil {
		return fmt.Sprintf("chat %d: count %d observed %s served with source %s, which the %s never held before the answer",
			x.ID, x.Count, timeOrNull(x.At), store, store)
	}
	held := fmt.Sprintf("held count %d observed %s", stale.Count, timeOrNull(stale.At))
	if stale.Absent {
		held = "held no entry"
	}
	return fmt.Sprintf("chat %d: count %d observed %s served with source %s, but the %s %s "+
		"(committed by %s, before the request began at %s)",
		x.ID, x.Count, timeOrNull(x.At), store, store, held,
		stale.Seen.UTC().Format(time.RFC3339Nano), x.Start.UTC().Format(time.RFC3339Nano))
}

// sameTime compares observation times to the microsecond, PostgreSQL's precision.
func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Truncate(time.Microsecond).Equal(b.Truncate(time.Microsecond))
}

// stats is how many served chats were checked, how many wait, and how many were skipped.
func (h *history) stats() (checked, pending, skipped int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.checked, len(h.pending), h.skipped
}

// writesChecked is how many writes were read from the store's record and checked for
// regressions.
func (h *history) writesChecked() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.writes
}

// writeCursor reads the write log completely, in the order each chat's writes committed,
// although its sequence numbers are taken before commit: a write with a lower number can
// become visible after one with a higher number (its transaction committed later), and a
// number can be lost for good (its transaction rolled back: a statement timeout, a
// connection cut by a fault). Every row above done is read once; a missing number is kept
// as a gap until every transaction that could hold it has ended (the snapshot's xmin has
// passed the xmax of the poll that first missed it: the gap's transaction had its id before
// that poll, since a later number had committed), then given up as rolled back.
//
// One chat's writes cannot overtake each other (the row lock orders them, and a write's
// number is taken after the previous write committed), so each chat's history is read in
// its commit order even when gaps fill late.
type writeCursor struct {
	done int64           // every number up to done was read or given up
	seen map[int64]bool  // numbers above done already read
	gaps map[int64]int64 // missing numbers: the xmax of the poll that first missed each
}

func newWriteCursor() *writeCursor {
	return &writeCursor{seen: map[int64]bool{}, gaps: map[int64]int64{}}
}

// take reports whether the row numbered seq is new, and marks it read.
func (c *writeCursor) take(seq int64) bool {
	if seq <= c.done || c.seen[seq] {
		return false
	}
	c.seen[seq] = true
	delete(c.gaps, seq)
	return true
}

// advance ends a poll whose snapshot had xmin and xmax: it notes the numbers missing below
// the highest read, gives up those whose transactions have all ended, and moves done up.
func (c *writeCursor) advance(xmin, xmax int64) {
	top := c.done
	for seq := range c.seen {
		top = max(top, seq)
	}
	for seq := c.done + 1; seq < top; seq++ {
		if c.seen[seq] {
			continue
		}
		first, known := c.gaps[seq]
		switch {
		case !known:
			c.gaps[seq] = xmax
		case xmin >= first:
			delete(c.gaps, seq)
			c.seen[seq] = true // rolled back: never to be read
		}
	}
	for c.seen[c.done+1] {
		delete(c.seen, c.done+1)
		c.done++
	}
}

// pending is how many numbers wait as gaps.
func (c *writeCursor) pending() int { return len(c.gaps) }
