package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/faultline/faultline/chaos"
)

// Redis's record of its writes is its MONITOR feed: every command it runs, in the order it
// runs them, with the commands scripts run (the service's conditional write is a script).
// followCache reads it from a direct connection into the cache's history, so a chat served
// with source cache can be checked as one served from the database is.
//
// Two things make that check complete. A fence: every fenceEvery the soak sends an ECHO
// with a number on another connection; when the feed delivers it, every command Redis ran
// before the fence was sent has been read, so the answers that ended before then are
// settled. A fresh start after a gap: when the connection drops (Redis stopped, killed,
// restarted empty), the feed may have missed writes, so the answers waiting are skipped,
// and after reconnecting the chats' entries are read anew (after MONITOR began, so no
// write falls between) and the answers that began before that are skipped too.

const (
	fenceEvery   = 200 * time.Millisecond
	fencePrefix  = "soak-fence-"
	monitorRetry = 200 * time.Millisecond
)

// fences are the fences sent and not yet delivered by the feed.
type fences struct {
	mu   sync.Mutex
	next int
	sent map[int]time.Time
}

// send numbers the next fence and notes when it was sent.
func (f *fences) send() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next++
	f.sent[f.next] = time.Now()
	return f.next
}

// delivered returns when fence n was sent and forgets it and every earlier one.
func (f *fences) delivered(n int) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	at, ok := f.sent[n]
	for k := range f.sent {
		if k <= n {
			delete(f.sent, k)
		}
	}
	return at, ok
}

// followCache follows Redis's writes until ctx ends: the MONITOR feed, and the fences.
func (s *soak) followCache(ctx context.Context) {
	f := &fences{sent: map[int]time.Time{}}
	var wg sync.WaitGroup
	wg.Go(func() {
		every(ctx, fenceEvery, func() {
			n := f.send()
			fctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			_ = s.env.Redis().Echo(fctx, fencePrefix+strconv.Itoa(n)).Err()
		})
	})
	for ctx.Err() == nil {
		read, err := s.monitor(ctx, f)
		if ctx.Err() != nil {
			break
		}
		s.truth.cache.lost()
		if read {
			s.noteMonitor(err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(monitorRetry):
		}
	}
	wg.Wait()
}

// noteMonitor counts the times the feed was lost, with the last reason, for the report.
func (s *soak) noteMonitor(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.monitorLost++
	if err != nil {
		s.monitorErr = err.Error()
	}
}

// monitor reads one MONITOR connection until it fails or ctx ends; read says whether the
// feed was being read (a failed reconnection is not another loss).
func (s *soak) monitor(ctx context.Context, f *fences) (read bool, err error) {
	addr := s.env.DirectAddr(ctx, chaos.Redis)
	if addr == "" {
		return false, errors.New("redis has no address")
	}
	conn, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return false, err
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	defer func() { _ = conn.Close() }()
	if _, err := conn.Write([]byte("MONITOR\r\n")); err != nil {
		return false, err
	}
	rd := bufio.NewReaderSize(conn, 1<<16)
	if line, err := readLine(rd); err != nil || line != "OK" {
		return false, fmt.Errorf("MONITOR answered %q: %w", line, err)
	}
	if err := s.readCacheAnew(ctx); err != nil {
		return false, err
	}
	s.truth.cache.found(time.Now())
	for {
		line, err := readLine(rd)
		if err != nil {
			return true, err
		}
		s.cacheCommand(parseMonitorLine(line), f)
	}
}

// readLine reads one RESP simple string, the form of every line of the MONITOR feed.
func readLine(rd *bufio.Reader) (string, error) {
	line, err := rd.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if !strings.HasPrefix(line, "+") {
		return "", fmt.Errorf("not a MONITOR line: %q", line)
	}
	return line[1:], nil
}

// readCacheAnew reads every chat's entry, as the first version of a new stretch of the
// cache's history: the feed may have missed what happened before.
func (s *soak) readCacheAnew(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	at := time.Now()
	pipe := s.env.Redis().Pipeline()
	gets := make([]*redis.StringCmd, len(s.chats))
	ttls := make([]*redis.DurationCmd, len(s.chats))
	for i, id := range s.chats {
		gets[i] = pipe.Get(ctx, chaos.CacheKey(id))
		ttls[i] = pipe.PTTL(ctx, chaos.CacheKey(id))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("read the cache anew: %w", err)
	}
	for i, id := range s.chats {
		v := version{Written: at, Seen: at, Absent: true}
		if raw, err := gets[i].Result(); err == nil {
			v = cacheVersion(raw, at)
			if ttl, err := ttls[i].Result(); err == nil && ttl > 0 {
				v.Expires = at.Add(ttl)
			}
		}
		s.truth.cache.restart(id, v)
	}
	return nil
}

// cacheVersion is the version a write of raw at t makes: one that never matches an answer
// when raw is not the contract's entry.
func cacheVersion(raw string, t time.Time) version {
	v := version{Written: t, Seen: t}
	count, at, err := chaos.DecodeCacheValue(raw)
	if err != nil {
		v.Absent = true
		return v
	}
	v.Count, v.At = count, &at
	return v
}

// cacheCommand applies one command of the feed to the cache's history, or settles the
// answers a fence covers.
func (s *soak) cacheCommand(c monitorCommand, f *fences) {
	if len(c.Args) == 0 {
		return
	}
	h := s.truth.cache
	switch strings.ToUpper(c.Args[0]) {
	case "ECHO":
		if len(c.Args) != 2 || !strings.HasPrefix(c.Args[1], fencePrefix) {
			return
		}
		n, err := strconv.Atoi(strings.TrimPrefix(c.Args[1], fencePrefix))
		if err != nil {
			return
		}
		if sent, ok := f.delivered(n); ok {
			for _, p := range h.settle(sent) {
				s.violate(s.offset(p.At), invSource, p.Text)
			}
		}
	case "SET":
		if id, ok := s.chatKey(c.Args, 1); ok && len(c.Args) >= 3 {
			v := cacheVersion(c.Args[2], c.At)
			v.Expires = setExpiry(c.At, c.Args[3:])
			if p := h.add(id, v); p != "" {
				s.violate(s.offset(c.At), invStore, p)
			}
		}
	case "DEL", "UNLINK":
		for i := 1; i < len(c.Args); i++ {
			if id, ok := s.chatKey(c.Args, i); ok {
				h.add(id, version{Written: c.At, Seen: c.At, Absent: true})
			}
		}
	case "FLUSHALL", "FLUSHDB":
		for _, id := range s.chats {
			h.add(id, version{Written: c.At, Seen: c.At, Absent: true})
		}
	}
}

// chatKey is the chat whose cache entry c.Args[i] names.
func (s *soak) chatKey(args []string, i int) (int64, bool) {
	if i >= len(args) {
		return 0, false
	}
	rest, ok := strings.CutPrefix(args[i], chaos.CacheKeyPrefix)
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	return id, err == nil
}

// setExpiry is when a SET with these options (after key and value) makes the entry expire;
// zero for never. KEEPTTL and the options that depend on the entry before are not used by
// the contract's writers.
func setExpiry(at time.Time, opts []string) time.Time {
	for i := 0; i+1 < len(opts); i++ {
		n, err := strconv.ParseInt(opts[i+1], 10, 64)
		if err != nil {
			continue
		}
		switch strings.ToUpper(opts[i]) {
		case "PX":
			return at.Add(time.Duration(n) * time.Millisecond)
		case "EX":
			return at.Add(time.Duration(n) * time.Second)
		case "PXAT":
			return time.UnixMilli(n)
		case "EXAT":
			return time.Unix(n, 0)
		}
	}
	return time.Time{}
}

// monitorCommand is one line of the MONITOR feed: when Redis ran it, and its arguments.
type monitorCommand struct {
	At   time.Time
	Args []string
}

// feedCommands are the commands cacheCommand reads; of the others (the reads, the service's
// script calls), parseMonitorLine keeps the name alone.
var feedCommands = map[string]bool{"ECHO": true, "SET": true, "DEL": true, "UNLINK": true, "FLUSHALL": true, "FLUSHDB": true}

// parseMonitorLine reads `1733500000.123456 [0 127.0.0.1:5000] "SET" "k" "v"`: seconds and
// microseconds, the database and the client (or lua), then each argument quoted with
// Redis's escapes (\" \\ \n \r \t \a \b \xHH), which Go's unquoting reads. A line that does
// not parse gives no arguments; one whose command is not among feedCommands, its name
// alone.
func parseMonitorLine(line string) monitorCommand {
	stamp, rest, ok := strings.Cut(line, " ")
	if !ok {
		return monitorCommand{}
	}
	secs, frac, _ := strings.Cut(stamp, ".")
	sec, err1 := strconv.ParseInt(secs, 10, 64)
	usec, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil || len(frac) != 6 {
		return monitorCommand{}
	}
	_, rest, ok = strings.Cut(rest, "] ")
	if !ok {
		return monitorCommand{}
	}
	c := monitorCommand{At: time.Unix(sec, usec*1000)}
	for rest != "" {
		q, err := strconv.QuotedPrefix(rest)
		if err != nil {
			return monitorCommand{}
		}
		arg, err := strconv.Unquote(q)
		if err != nil {
			return monitorCommand{}
		}
		c.Args = append(c.Args, arg)
		if len(c.Args) == 1 && !feedCommands[strings.ToUpper(arg)] {
			return c
		}
		rest = strings.TrimPrefix(rest[len(q):], " ")
	}
	return c
}
