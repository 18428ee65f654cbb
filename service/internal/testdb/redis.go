package testdb

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RedisPackage is the Debian package that provides redis-server.
const RedisPackage = "redis-server"

// redisDatabases is how many logical databases a local server has; tests take one each.
const redisDatabases = 16

// Redis is a Redis server for tests.
type Redis struct {
	addr     string
	password string

	// Set only for a server this package started.
	dir  string
	bin  string
	port int

	mu     sync.Mutex
	proc   *process
	nextDB int
}

// StartRedis returns the server named by FAULTLINE_TEST_REDIS_URL, or starts a throwaway
// redis-server on a free loopback port with persistence off. When the binary is missing
// the error says which package to install.
func StartRedis(ctx context.Context) (*Redis, error) {
	if raw := os.Getenv(EnvRedisURL); raw != "" {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("%s is not a redis://host:port URL", EnvRedisURL)
		}
		pw, _ := u.User.Password()
		return &Redis{addr: u.Host, password: pw}, nil
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server not found in PATH: install the Debian package %s (apt-get install -y %s), or set %s to a server's URL",
			RedisPackage, RedisPackage, EnvRedisURL)
	}
	r := &Redis{bin: bin}
	if r.dir, err = os.MkdirTemp("", "faultline-redis-*"); err != nil {
		return nil, fmt.Errorf("create redis dir: %w", err)
	}
	if r.port, err = freePort(); err != nil {
		r.Close()
		return nil, err
	}
	r.addr = hostPort(r.port)
	if err := r.Start(ctx); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// Local reports whether this package started the server.
func (r *Redis) Local() bool { return r.dir != "" }

// Addr is the server's host:port.
func (r *Redis) Addr() string { return r.addr }

// Start starts the (stopped) local server on its port and waits until it answers PING.
func (r *Redis) Start(ctx context.Context) error {
	if !r.Local() {
		return errors.New("start redis: the server is not ours to start")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proc != nil && !r.proc.exited() {
		return nil
	}
	cmd := exec.CommandContext(context.WithoutCancel(ctx), r.bin, //nolint:gosec // the redis-server binary with our own arguments
		"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", r.dir, "--databases", strconv.Itoa(redisDatabases))
	proc, err := startProcess(cmd, filepath.Join(r.dir, "redis.log"))
	if err != nil {
		return err
	}
	r.proc = proc
	return waitReady(ctx, proc, "redis-server", func(ctx context.Context) error {
		return redisCommand(ctx, r.addr, r.password, 0, "PING")
	})
}

// Stop shuts the local server down.
func (r *Redis) Stop() error {
	if !r.Local() {
		return errors.New("stop redis: the server is not ours to stop")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proc == nil {
		return nil
	}
	return r.proc.stop(syscall.SIGTERM)
}

// Close stops a local server and removes its files. It does nothing to an external one.
func (r *Redis) Close() error {
	if !r.Local() {
		return nil
	}
	err := r.Stop()
	if rmErr := os.RemoveAll(r.dir); rmErr != nil {
		err = errors.Join(err, fmt.Errorf("remove %s: %w", r.dir, rmErr))
	}
	return err
}

// NewDatabase gives a test an empty logical database (flushed now and when the test ends)
// and returns its redis:// URL. Logical databases are reused round-robin, so tests that
// use this must not run in parallel.
func (r *Redis) NewDatabase(tb testing.TB) string {
	tb.Helper()
	r.mu.Lock()
	db := r.nextDB%(redisDatabases-1) + 1 // database 0 stays for whoever else uses the server
	r.nextDB++
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := redisCommand(ctx, r.addr, r.password, db, "FLUSHDB"); err != nil {
		tb.Fatalf("flush redis database %d: %v", db, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// The test may have stopped the server; then there is nothing to flush.
		_ = redisCommand(ctx, r.addr, r.password, db, "FLUSHDB")
	})
	return r.URL(r.addr, db)
}

// URL returns the redis:// URL of database db at addr (the server's, or a proxy's).
func (r *Redis) URL(addr string, db int) string {
	u := url.URL{Scheme: "redis", Host: addr, Path: "/" + strconv.Itoa(db)}
	if r.password != "" {
		u.User = url.UserPassword("", r.password)
	}
	return u.String()
}

// redisCommand sends one inline command (after AUTH and SELECT) and expects a status
// reply. It speaks the protocol directly so that starting a server needs no client.
func redisCommand(ctx context.Context, addr, password string, db int, cmd string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("dial redis: %w", err)
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	var cmds []string
	if password != "" {
		cmds = append(cmds, "AUTH "+password)
	}
	cmds = append(cmds, "SELECT "+strconv.Itoa(db), cmd)
	rd := bufio.NewReader(conn)
	for _, c := range cmds {
		if _, err := conn.Write([]byte(c + "\r\n")); err != nil {
			return fmt.Errorf("write to redis: %w", err)
		}
		line, err := rd.ReadString('\n')
		if err != nil {
			return fmt.Errorf("read from redis: %w", err)
		}
		if !strings.HasPrefix(line, "+") {
			return fmt.Errorf("redis answered %q to %s", strings.TrimSpace(line), strings.Fields(c)[0])
		}
	}
	return nil
}
