package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/procfs"

	"github.com/faultline/faultline/chaos"
)

// writeLog is the database's own record of every write of a chat's count, a trigger on the
// contract's chats table, so no write goes unseen between two polls: the versions each chat
// had and when each was written, for the store check (no write moves an observation back)
// and the source check (history).
const writeLog = `
CREATE TABLE IF NOT EXISTS soak_writes (
    seq      bigserial PRIMARY KEY,
    chat_id  bigint NOT NULL,
    count    integer NOT NULL,
    observed timestamptz,
    at       timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE OR REPLACE FUNCTION soak_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO soak_writes (chat_id, count, observed)
    VALUES (NEW.id, NEW.participants_count, NEW.participants_updated_at);
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS soak_write ON chats;
CREATE TRIGGER soak_write AFTER UPDATE OF participants_count, participants_updated_at ON chats
    FOR EACH ROW
    WHEN (OLD.participants_count IS DISTINCT FROM NEW.participants_count OR
          OLD.participants_updated_at IS DISTINCT FROM NEW.participants_updated_at)
    EXECUTE FUNCTION soak_write();`

// installTriggers installs the write log, then reads every chat's version as the first of
// its history: the load has not begun, so no answer predates it.
func installTriggers(ctx context.Context, env *chaos.Env, h *history) error {
	if _, err := env.DB().Exec(ctx, writeLog); err != nil {
		return fmt.Errorf("install the database's write log: %w", err)
	}
	rows, err := env.DB().Query(ctx, `SELECT id, participants_count, participants_updated_at FROM chats`)
	if err != nil {
		return fmt.Errorf("read the chats: %w", err)
	}
	defer rows.Close()
	now := time.Now()
	for rows.Next() {
		var (
			id, count int64
			at        *time.Time
		)
		if err := rows.Scan(&id, &count, &at); err != nil {
			return fmt.Errorf("read the chats: %w", err)
		}
		h.restart(id, version{Count: int(count), At: at, Written: now, Seen: now})
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the chats: %w", err)
	}
	return nil
}

// pollWrites reads the writes logged since the last poll into the history (a write that
// moves an observation back breaks the store invariant), then checks the chats served from
// the database that the history now covers. The rows and the snapshot's bounds are read in
// one repeatable-read transaction, so the cursor knows which transactions had ended when
// the rows were read (writeCursor).
func (s *soak) pollWrites(ctx context.Context) error {
	pollStart := time.Now()
	type write struct {
		seq, id int64
		v       version
	}
	var (
		writes     []write
		xmin, xmax int64
	)
	err := pgx.BeginTxFunc(ctx, s.env.DB(), pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			if err := tx.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint,
       pg_snapshot_xmax(pg_current_snapshot())::text::bigint`).Scan(&xmin, &xmax); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, `SELECT seq, chat_id, count, observed, at FROM soak_writes WHERE seq > $1 ORDER BY seq`,
				s.cursor.done)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var (
					w     write
					count int64
				)
				if err := rows.Scan(&w.seq, &w.id, &count, &w.v.At, &w.v.Written); err != nil {
					return err
				}
				w.v.Count = int(count)
				writes = append(writes, w)
			}
			return rows.Err()
		})
	if err != nil {
		// Nothing is taken from a poll that failed: the next reads it all again.
		return fmt.Errorf("read the write log: %w", err)
	}
	seen := time.Now()
	for _, w := range writes {
		if !s.cursor.take(w.seq) {
			continue
		}
		w.v.Seen = seen
		if p := s.truth.db.add(w.id, w.v); p != "" {
			s.violate(s.offset(w.v.Written), invStore, p)
		}
	}
	s.cursor.advance(xmin, xmax)
	for _, p := range s.truth.db.settle(pollStart) {
		s.violate(s.offset(p.At), invSource, p.Text)
	}
	return nil
}

// pollDatabase reads the write log since the last poll.
func (s *soak) pollDatabase(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return s.pollWrites(ctx)
}

func timeOrNull(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// watchDatabase polls the write log every second; a poll that fails (the database
// paused) is retried at the next, and the run's last poll must succeed.
func (s *soak) watchDatabase(ctx context.Context) {
	every(ctx, time.Second, func() { _ = s.pollDatabase(ctx) })
}

// every runs f every d until ctx ends.
func every(ctx context.Context, d time.Duration, f func()) {
	tick := time.NewTicker(d)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			f()
		}
	}
}

// procUse is one replica's resources at a moment; -1 where unknown.
type procUse struct {
	Replica    int `json:"replica"`
	Goroutines int `json:"goroutines"`
	// FDs is every open file descriptor; Pooled those of them that are connections to the
	// dependencies (through their proxies), which pools keep up to their bounds.
	FDs    int   `json:"fds"`
	Pooled int   `json:"dependency_connections"`
	RSS    int64 `json:"rss_bytes"`
}

// use reads replica i's goroutines (go_goroutines of its /metrics) and its process's open
// file descriptors, those of them in toDependency, and resident memory.
func (s *soak) use(ctx context.Context, i int, c *chaos.Client, pid int, toDependency map[uint64]bool) procUse {
	u := procUse{Replica: i, Goroutines: -1, FDs: -1, Pooled: -1, RSS: -1}
	if m := c.WithTimeout(time.Second).Metrics(ctx); m.Err == nil && m.Status == http.StatusOK && m.Snapshot.Has("go_goroutines") {
		u.Goroutines = int(m.Snapshot.Value("go_goroutines"))
	}
	if pid <= 0 {
		return u
	}
	p, err := procfs.NewProc(pid)
	if err != nil {
		return u
	}
	if targets, err := p.FileDescriptorTargets(); err == nil {
		u.FDs = len(targets)
		if toDependency != nil {
			u.Pooled = countSockets(targets, toDependency)
		}
	}
	if st, err := p.Stat(); err == nil {
		u.RSS = int64(st.ResidentMemory())
	}
	return u
}

// dependencySockets is the inodes of this machine's TCP connections to one of the
// dependencies' proxies, or nil when /proc cannot tell.
func (s *soak) dependencySockets() map[uint64]bool {
	ports := map[uint64]bool{}
	for _, dep := range chaos.Dependencies() {
		if _, port, err := net.SplitHostPort(s.env.ProxyAddr(dep)); err == nil {
			if n, err := strconv.ParseUint(port, 10, 16); err == nil {
				ports[n] = true
			}
		}
	}
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return nil
	}
	inodes := map[uint64]bool{}
	// A few hundred sockets: /proc/net/tcp is enough, no netlink needed.
	for _, read := range []func() (procfs.NetTCP, error){fs.NetTCP, fs.NetTCP6} { //nolint:staticcheck // SA1019: as above
		lines, err := read()
		if err != nil {
			continue
		}
		for _, l := range lines {
			if ports[l.RemPort] {
				inodes[l.Inode] = true
			}
		}
	}
	return inodes
}

// countSockets counts the fds among targets that are sockets in inodes.
func countSockets(targets []string, inodes map[uint64]bool) int {
	n := 0
	for _, t := range targets {
		var inode uint64
		if _, err := fmt.Sscanf(t, "socket:[%d]", &inode); err == nil && inodes[inode] {
			n++
		}
	}
	return n
}

func (s *soak) uses(ctx context.Context) []procUse {
	clients, pids := s.env.Clients(), s.env.ReplicaPids()
	// One read of the socket table serves every replica.
	toDependency := s.dependencySockets()
	out := make([]procUse, len(clients))
	for i, c := range clients {
		pid := 0
		if i < len(pids) {
			pid = pids[i]
		}
		out[i] = s.use(ctx, i, c, pid, toDependency)
	}
	return out
}

// sample adds the replicas' resources to every second of the run.
func (s *soak) sample(ctx context.Context) {
	every(ctx, time.Second, func() {
		us := s.uses(ctx)
		s.mu.Lock()
		defer s.mu.Unlock()
		b := s.bucket(s.offset(time.Now()))
		b.sampled = true
		for _, u := range us {
			b.goroutines += max(u.Goroutines, 0)
			b.fds += max(u.FDs, 0)
			b.rss += max(u.RSS, 0)
		}
	})
}

// resourceSnapshot is each replica's least use over three samples a second apart: the
// load's requests in flight come and go, a leak stays.
func (s *soak) resourceSnapshot(ctx context.Context) []procUse {
	var low []procUse
	for k := range 3 {
		if k > 0 && sleepUntil(ctx, time.Now().Add(time.Second)) != nil {
			break
		}
		for i, u := range s.uses(ctx) {
			if i >= len(low) {
				low = append(low, u)
				continue
			}
			low[i].Goroutines = minKnown(low[i].Goroutines, u.Goroutines)
			low[i].FDs = minKnown(low[i].FDs, u.FDs)
			low[i].Pooled = minKnown(low[i].Pooled, u.Pooled)
			low[i].RSS = minKnown(low[i].RSS, u.RSS)
		}
	}
	return low
}

func minKnown[T int | int64](a, b T) T {
	switch {
	case a < 0:
		return b
	case b < 0:
		return a
	}
	return min(a, b)
}

// Margins of the end's resources over the start's: the larger of an absolute and a
// relative one. A goroutine per request, a file or connection per fault or memory that only
// grows exceeds them within minutes. Connections to the dependencies are pooled, and the
// pools may have grown to their bounds (the reference's PostgreSQL pool holds 10, its Redis
// pool 10 a CPU): they have a margin of their own, which a connection per request exceeds.
const (
	goroutineMargin, goroutineShare = 50, 0.25
	fdMargin, fdShare               = 10, 0.25
	pooledMargin, pooledShare       = 50, 0
	rssMargin, rssShare             = 32 << 20, 0.5
)

// resourceUse is a replica's resources before the first fault and at the end.
type resourceUse struct {
	Before procUse `json:"before"`
	After  procUse `json:"after"`
}

func allowed[T int | int64](before T, margin T, share float64) T {
	return before + max(margin, T(float64(before)*share))
}

// checkResources compares each replica's resources at the end with before the first fault.
func (s *soak) checkResources(before, after []procUse) {
	at := s.offset(time.Now())
	for i := range min(len(before), len(after)) {
		b, a := before[i], after[i]
		s.mu.Lock()
		s.resources = append(s.resources, resourceUse{Before: b, After: a})
		s.mu.Unlock()
		check := func(what string, b, a, limit int64) {
			if b >= 0 && a > limit {
				s.violate(at, invResources, fmt.Sprintf("replica %d: %s %d at the end, %d before the first fault (at most %d allowed)", i, what, a, b, limit))
			}
		}
		check("goroutines", int64(b.Goroutines), int64(a.Goroutines), int64(allowed(b.Goroutines, goroutineMargin, goroutineShare)))
		if b.FDs >= 0 && b.Pooled >= 0 && a.Pooled >= 0 {
			check("open file descriptors other than connections to the dependencies", int64(b.FDs-b.Pooled), int64(a.FDs-a.Pooled), int64(allowed(b.FDs-b.Pooled, fdMargin, fdShare)))
			check("connections to the dependencies", int64(b.Pooled), int64(a.Pooled), int64(allowed(b.Pooled, pooledMargin, pooledShare)))
		} else {
			check("open file descriptors", int64(b.FDs), int64(a.FDs), int64(allowed(b.FDs, fdMargin, fdShare)))
		}
		check("resident memory (bytes)", b.RSS, a.RSS, allowed(b.RSS, rssMargin, rssShare))
	}
}

// checkQueue waits, the load over, for every replica's refresh queue to drain, at most the
// recovery bound.
func (s *soak) checkQueue(ctx context.Context) {
	const metric = "participants_refresh_queue_length"
	deadline := time.Now().Add(recoveryBound)
	for {
		pages, err := s.env.MetricsPages(ctx)
		if err == nil {
			snap := chaos.CombinePages(pages)
			s.keepCounters(snap)
			if !snap.Has(metric) {
				s.mu.Lock()
				s.queueNote = metric + " is not exposed: the queue was not checked"
				s.mu.Unlock()
				return
			}
			if n := snap.Value(metric); n == 0 {
				s.mu.Lock()
				s.queueNote = "empty"
				s.mu.Unlock()
				return
			} else if time.Now().After(deadline) {
				s.violate(s.offset(time.Now()), invQueue, fmt.Sprintf("%g refreshes still queued %s after the load ended", n, recoveryBound))
				return
			}
		} else if time.Now().After(deadline) {
			s.violate(s.offset(time.Now()), invQueue, "the replicas' metrics could not be read: "+err.Error())
			return
		}
		if sleepUntil(ctx, time.Now().Add(200*time.Millisecond)) != nil {
			return
		}
	}
}

// counters are the reference metrics the report shows at the end, summed over the replicas:
// what the service says it did while the soak watched what it did.
var counters = []string{
	"participants_refresh_total", "participants_refresh_dropped_total", "participants_max_api_errors_total",
	"participants_fallback_usage_total", "participants_cache_errors_total", "database_errors_total",
	"participants_rate_limit_local_total", "participants_rate_limit_late_total",
}

func (s *soak) keepCounters(snap chaos.Snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counters = map[string]float64{}
	for _, name := range counters {
		if snap.Has(name) {
			s.counters[name] = snap.Value(name)
		}
	}
}
