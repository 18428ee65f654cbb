package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresPackage is the Debian package that provides the server binaries.
const PostgresPackage = "postgresql-15"

// Postgres is a PostgreSQL server for tests.
type Postgres struct {
	// adminURL reaches the maintenance database as a superuser.
	adminURL *url.URL

	// Set only for a server this package started.
	dir     string
	binDir  string
	port    int
	asUser  *user.User
	setpriv string

	mu   sync.Mutex
	proc *process
}

// StartPostgres returns the server named by FAULTLINE_TEST_DATABASE_URL, or starts a
// throwaway one: initdb into a temporary directory and postgres on a free loopback port.
// When the binaries are missing the error says which package to install.
func StartPostgres(ctx context.Context) (*Postgres, error) {
	if raw := os.Getenv(EnvDatabaseURL); raw != "" {
		u, err := url.Parse(raw)
		if err != nil {
			// url errors quote the input, which holds the password.
			return nil, fmt.Errorf("%s is not a valid URL", EnvDatabaseURL)
		}
		return &Postgres{adminURL: u}, nil
	}

	binDir, err := postgresBinDir()
	if err != nil {
		return nil, err
	}
	p := &Postgres{binDir: binDir}
	if os.Geteuid() == 0 {
		// postgres refuses to run as root: run it as the postgres user the Debian
		// package creates.
		if p.asUser, err = user.Lookup("postgres"); err != nil {
			return nil, fmt.Errorf("running as root needs the postgres user to start PostgreSQL (install %s): %w", PostgresPackage, err)
		}
		if p.setpriv, err = exec.LookPath("setpriv"); err != nil {
			return nil, fmt.Errorf("running as root needs setpriv to start PostgreSQL as user postgres (install util-linux): %w", err)
		}
	}
	if p.dir, err = os.MkdirTemp("", "faultline-pg-*"); err != nil {
		return nil, fmt.Errorf("create postgres dir: %w", err)
	}
	if err := p.chown(p.dir); err != nil {
		p.Close()
		return nil, err
	}
	initdb := p.command(ctx, "initdb", "-D", p.dataDir(), "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--no-sync", "--no-instructions")
	if out, err := initdb.CombinedOutput(); err != nil {
		p.Close()
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	if p.port, err = freePort(); err != nil {
		p.Close()
		return nil, err
	}
	p.adminURL = &url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     hostPort(p.port),
		Path:     "/postgres",
		RawQuery: "sslmode=disable",
	}
	if err := p.Start(ctx); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// postgresBinDir finds the directory holding initdb and postgres.
func postgresBinDir() (string, error) {
	candidates := []string{"/usr/lib/postgresql/15/bin"}
	others, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(others)))
	candidates = append(candidates, others...)
	if path, err := exec.LookPath("initdb"); err == nil {
		candidates = append(candidates, filepath.Dir(path))
	}
	for _, dir := range candidates {
		if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("PostgreSQL server binaries (initdb, postgres) not found in /usr/lib/postgresql/*/bin or PATH: "+
		"install the Debian package %s (apt-get install -y %s), or set %s to a server's URL",
		PostgresPackage, PostgresPackage, EnvDatabaseURL)
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

func (p *Postgres) dataDir() string { return filepath.Join(p.dir, "data") }

func (p *Postgres) chown(path string) error {
	if p.asUser == nil {
		return nil
	}
	uid, _ := strconv.Atoi(p.asUser.Uid)
	gid, _ := strconv.Atoi(p.asUser.Gid)
	if err := os.Chown(path, uid, gid); err != nil {
		return fmt.Errorf("give %s to user postgres: %w", path, err)
	}
	return nil
}

// command runs a PostgreSQL binary, as the postgres user when we are root.
func (p *Postgres) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	bin := filepath.Join(p.binDir, name)
	if p.asUser == nil {
		return exec.CommandContext(ctx, bin, args...) //nolint:gosec // a fixed server binary with our own arguments
	}
	// Changing the user clears the parent-death signal, so setpriv sets it again.
	all := append([]string{"--reuid=postgres", "--regid=postgres", "--init-groups", "--pdeathsig", "SIGKILL", bin}, args...)
	return exec.CommandContext(ctx, p.setpriv, all...) //nolint:gosec // as above, through setpriv
}

// Local reports whether this package started the server, so it can be stopped and
// started by a test.
func (p *Postgres) Local() bool { return p.dir != "" }

// Start starts the (stopped) local server on its port and waits until it accepts
// connections.
func (p *Postgres) Start(ctx context.Context) error {
	if !p.Local() {
		return errors.New("start postgres: the server is not ours to start")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc != nil && !p.proc.exited() {
		return nil
	}
	// The command must outlive ctx, which may be a single test's.
	cmd := p.command(context.WithoutCancel(ctx), "postgres", "-D", p.dataDir(), "-p", strconv.Itoa(p.port),
		"-k", p.dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
		"-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200")
	proc, err := startProcess(cmd, filepath.Join(p.dir, "postgres.log"))
	if err != nil {
		return err
	}
	p.proc = proc
	return waitReady(ctx, proc, "postgres", func(ctx context.Context) error {
		return pingURL(ctx, p.adminURL.String())
	})
}

// Stop shuts the local server down (fast shutdown: sessions are terminated).
func (p *Postgres) Stop() error {
	if !p.Local() {
		return errors.New("stop postgres: the server is not ours to stop")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc == nil {
		return nil
	}
	return p.proc.stop(syscall.SIGINT)
}

// Close stops a local server and removes its files. It does nothing to an external one.
func (p *Postgres) Close() error {
	if !p.Local() {
		return nil
	}
	err := p.Stop()
	if rmErr := os.RemoveAll(p.dir); rmErr != nil {
		err = errors.Join(err, fmt.Errorf("remove %s: %w", p.dir, rmErr))
	}
	return err
}

func pingURL(ctx context.Context, dsn string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return conn.Ping(ctx)
}

// Addr is the server's host:port.
func (p *Postgres) Addr() string { return p.adminURL.Host }

// NewDatabase creates an empty database for one test and returns its URL; the database
// is dropped when the test ends. password, when not empty, is put in the URL: the local
// server trusts loopback connections and ignores it, which lets tests check that errors
// never repeat it.
func (p *Postgres) NewDatabase(tb testing.TB, password string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "faultline_test_" + hex.EncodeToString(b[:])

	admin, err := pgx.Connect(ctx, p.adminURL.String())
	if err != nil {
		tb.Fatalf("connect to the test server: %v", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("create database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, p.adminURL.String())
		if err != nil {
			// The test may have stopped the server; its files go with the server.
			tb.Logf("drop database %s: %v", name, err)
			return
		}
		defer conn.Close(context.WithoutCancel(ctx))
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Logf("drop database %s: %v", name, err)
		}
	})

	u := *p.adminURL
	u.Path = "/" + name
	if password != "" {
		u.User = url.UserPassword(u.User.Username(), password)
	}
	return u.String()
}

// URLVia returns dsn with its host replaced by addr, to route a client through a Proxy.
func URLVia(dsn, addr string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	u.Host = addr
	return u.String()
}
