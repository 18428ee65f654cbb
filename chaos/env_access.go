package chaos

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/faultline/faultline/fakes/maxapi"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// URL is the SUT's base URL.
func (e *Env) URL() string { return e.client.URL() }

// Client returns the probe client for the SUT's primary replica.
func (e *Env) Client() *Client { return e.client }

// Max is the fake MAX API: its state, faults and journal.
func (e *Env) Max() *maxapi.Server { return e.max }

// MaxURL is the fake MAX's own address, bypassing its proxy. Its admin API is under
// MaxURL() + maxapi.AdminPrefix.
func (e *Env) MaxURL() string { return e.maxServer.URL }

// ProxyAddr is the loopback address of dep's proxy, which the SUT is configured with.
func (e *Env) ProxyAddr(dep Dependency) string { return e.proxies.listen(dep) }

// DirectAddr is dep's own address, bypassing the proxy: a container's published port, or
// the fake MAX's listener.
func (e *Env) DirectAddr(ctx context.Context, dep Dependency) string {
	if dep == MaxAPI {
		return e.maxServer.Listener.Addr().String()
	}
	c, ok := e.containers[dep]
	if !ok {
		return ""
	}
	addr, err := c.addr(ctx)
	if err != nil {
		return ""
	}
	return addr
}

// DatabaseURL is a DSN for the database that bypasses the proxy.
func (e *Env) DatabaseURL(ctx context.Context) string {
	return e.databaseURL(e.DirectAddr(ctx, Postgres))
}

// ToxiproxyURL is the address of Toxiproxy's HTTP API, when WithToxiproxyAPI was given.
func (e *Env) ToxiproxyURL() string {
	if e.proxies.api == nil {
		return ""
	}
	return e.proxies.api.URL
}

// DB is the harness's own pool on Postgres, bypassing the proxy and its faults.
func (e *Env) DB() *pgxpool.Pool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.db
}

// Redis is the harness's own client on Redis, bypassing the proxy and its faults.
func (e *Env) Redis() *redis.Client {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.rdb
}

// MaxToken is the bot token the SUT was given.
func (e *Env) MaxToken() string { return e.maxToken }

// Secrets lists the values that must never appear in the SUT's logs, errors or reports.
func (e *Env) Secrets() []string { return []string{e.maxToken, e.dbPassword} }

// Images names the container image each containerised dependency runs (after the offline
// fallback, so it says what was really used).
func (e *Env) Images() map[Dependency]string {
	out := make(map[Dependency]string, len(e.containers))
	for dep, c := range e.containers {
		out[dep] = c.describe()
	}
	return out
}

// Backend is where PostgreSQL and Redis run: BackendDocker or BackendProcess.
func (e *Env) Backend() string { return e.backend }

// Logs queries what the SUT wrote since the last Reset (or Start).
func (e *Env) Logs() Logs {
	e.mu.Lock()
	defer e.mu.Unlock()
	return Logs{buf: e.logs, from: e.mark}
}

func (e *Env) allLogs() Logs { return Logs{buf: e.logs} }

// LogMark is the current end of the log, for Logs().Since(mark).
func (e *Env) LogMark() LogMark { return e.logs.mark() }

// Baseline is the metrics snapshot taken right after the last Reset (or Start).
func (e *Env) Baseline() Snapshot {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.baseline
}

// cacheReadCommands are the Redis commands that read a value, as INFO commandstats names them.
var cacheReadCommands = []string{"get", "mget", "getex", "hget", "hmget", "hgetall"}

// CacheReads returns how many read commands (GET, MGET and the like) Redis has executed
// since it started, from INFO commandstats, read directly (bypassing the proxy). The
// harness's own reads count too, so callers take differences over windows in which the
// harness reads nothing.
func (e *Env) CacheReads(ctx context.Context) (int64, error) {
	return e.redisCalls(ctx, cacheReadCommands)
}

// CachePings returns how many PING commands Redis has executed since it started, read as
// CacheReads reads: what a health probe costs Redis.
func (e *Env) CachePings(ctx context.Context) (int64, error) {
	return e.redisCalls(ctx, []string{"ping"})
}

func (e *Env) redisCalls(ctx context.Context, commands []string) (int64, error) {
	info, err := e.Redis().Info(ctx, "commandstats").Result()
	if err != nil {
		return 0, fmt.Errorf("redis INFO commandstats: %w", err)
	}
	return parseCommandCalls(info, commands), nil
}

// parseCommandCalls sums the calls of the named commands in INFO commandstats output, whose
// lines read "cmdstat_get:calls=3,usec=12,...".
func parseCommandCalls(info string, commands []string) int64 {
	var total int64
	for line := range strings.SplitSeq(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		cmd, isStat := strings.CutPrefix(name, "cmdstat_")
		if !ok || !isStat || !slices.Contains(commands, cmd) {
			continue
		}
		for field := range strings.SplitSeq(rest, ",") {
			if v, ok := strings.CutPrefix(field, "calls="); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err == nil {
					total += n
				}
			}
		}
	}
	return total
}

// CheckLoopback refuses a service URL that is not on this machine's loopback: the load
// generators (bench, soak) only ever send traffic to the environment's own addresses.
func CheckLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("service URL %q: %w", raw, err)
	}
	switch u.Hostname() {
	case "127.0.0.1", "localhost", "::1":
		return nil
	}
	return fmt.Errorf("service URL %q is not on loopback: load is only sent to 127.0.0.1", raw)
}
