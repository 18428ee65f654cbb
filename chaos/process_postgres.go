package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// postgresBinDir finds the directory of initdb and postgres: PATH first, then the highest
// version under /usr/lib/postgresql (Debian's layout).
func postgresBinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
	}
	versions, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	slices.SortFunc(versions, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(a))))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(b))))
		return vb - va
	})
	if len(versions) > 0 {
		return filepath.Dir(versions[0]), nil
	}
	return "", fmt.Errorf("%w: no initdb and postgres on PATH or under /usr/lib/postgresql; %s", ErrBinariesUnavailable, binariesHint)
}

// pgTemplateMu serialises making the template cluster within this process; a lock file
// does it across processes.
var pgTemplateMu sync.Mutex

// postgresTemplate returns a cluster made by initdb once per machine, PostgreSQL version and
// user, which every environment copies instead of running initdb (most of a cold start). It
// holds an empty database, templateDB, which each copy renames and gives to its own role:
// cheaper than CREATE DATABASE, which copies template1 again. WAL segments of 1 MB instead
// of 16, and no databases but template1 and templateDB (initdb's postgres and template0
// serve nothing here), keep the copy small: 20 MB and 672 files, copied in 0.10 CPU-s against
// 35 MB, 1,268 files and 0.21 CPU-s with them (ten copies of each, side by side).
func postgresTemplate(ctx context.Context, binDir string, cred *syscall.Credential) (string, error) {
	pgTemplateMu.Lock()
	defer pgTemplateMu.Unlock()
	version := commandVersion(ctx, filepath.Join(binDir, "postgres"))
	uid := os.Geteuid()
	if cred != nil {
		uid = int(cred.Uid)
	}
	name := fmt.Sprintf("faultline-pg-template-%s-%d-%s", strings.Join(strings.Fields(version), "_"), uid, templateLayout)
	dir := filepath.Join(os.TempDir(), name)
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", fmt.Errorf("postgres template: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("postgres template: lock: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err == nil {
		return dir, nil
	}
	tmp, err := os.MkdirTemp(os.TempDir(), name+"-new-")
	if err != nil {
		return "", fmt.Errorf("postgres template: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := chownTree(tmp, cred); err != nil {
		return "", fmt.Errorf("postgres template: %w", err)
	}
	data := filepath.Join(tmp, "data")
	//nolint:gosec // G204: the machine's initdb
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "initdb"), "-D", data, "--username=postgres",
		"--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync", "--wal-segsize=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("postgres template: initdb: %w\n%s", err, tail(string(out), 20))
	}
	sql := "CREATE DATABASE " + quoteIdent(templateDB) + " STRATEGY FILE_COPY;\n" +
		"DROP DATABASE postgres;\n" +
		"ALTER DATABASE template0 IS_TEMPLATE false;\n" +
		"DROP DATABASE template0;\n"
	if err := singleUser(ctx, binDir, data, cred, sql); err != nil {
		return "", fmt.Errorf("postgres template: %w", err)
	}
	if err := os.Rename(data, dir); err != nil {
		return "", fmt.Errorf("postgres template: %w", err)
	}
	return dir, nil
}

// copyTree copies the directory src to dst (which must not exist), keeping owners and modes.
func copyTree(ctx context.Context, src, dst string) error {
	out, err := exec.CommandContext(ctx, "cp", "-a", src, dst).CombinedOutput()
	if err != nil {
		return fmt.Errorf("copy %s: %w: %s", src, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// startPostgresProcess makes a cluster from the template with the user, password and
// database asked for, and starts it on a reserved loopback port.
func startPostgresProcess(ctx context.Context, workDir, user, password, db string) (*depProcess, error) {
	binDir, err := postgresBinDir()
	if err != nil {
		return nil, err
	}
	cred, err := unprivileged()
	if err != nil {
		return nil, err
	}
	template, err := postgresTemplate(ctx, binDir, cred)
	if err != nil {
		return nil, err
	}
	data := filepath.Join(workDir, "postgres")
	if err := copyTree(ctx, template, data); err != nil {
		return nil, err
	}
	// The role and database, in single-user mode: no server, no socket, a few milliseconds.
	sql := fmt.Sprintf("CREATE ROLE %s SUPERUSER LOGIN PASSWORD %s;\n", quoteIdent(user), quoteLiteral(password))
	if db != templateDB {
		sql += fmt.Sprintf("ALTER DATABASE %s RENAME TO %s;\n", quoteIdent(templateDB), quoteIdent(db))
	}
	sql += fmt.Sprintf("ALTER DATABASE %s OWNER TO %s;\n", quoteIdent(db), quoteIdent(user))
	if err := singleUser(ctx, binDir, data, cred, sql); err != nil {
		return nil, fmt.Errorf("postgres: create role and database: %s", redactPassword(err.Error(), password))
	}
	postgres := filepath.Join(binDir, "postgres")
	port, err := reservePort()
	if err != nil {
		return nil, err
	}
	p := &depProcess{
		dep: Postgres, port: port, dir: data, cred: cred, stopSig: syscall.SIGINT, logFile: filepath.Join(workDir, "postgres.log"),
		version: commandVersion(ctx, postgres) + " (process)",
		argv: []string{postgres, "-D", data, "-c", "listen_addresses=127.0.0.1", "-c", "port=" + portOf(port.addr),
			"-c", "unix_socket_directories=" + data,
			// Durability is worthless in a throw-away test database and costs time.
			"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"},
	}
	if err := p.start(ctx); err != nil {
		return nil, errors.Join(err, p.terminate(context.WithoutCancel(ctx)))
	}
	return p, nil
}

// templateDB is the database the template holds; templateLayout names the template's layout
// in its directory name, so that a template made differently is never reused.
const (
	templateDB     = "faultline_template"
	templateLayout = "walseg1-db-only"
)

// singleUserDB is the database single-user mode connects to: the one that is neither
// dropped nor renamed.
const singleUserDB = "template1"

// singleUser runs SQL statements in PostgreSQL's single-user mode on a stopped cluster.
func singleUser(ctx context.Context, binDir, data string, cred *syscall.Credential, sql string) error {
	//nolint:gosec // G204: the machine's postgres
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "postgres"), "--single", "-D", data, "-F", "-c", "listen_addresses=", singleUserDB)
	cmd.Stdin = strings.NewReader(sql)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	out, err := cmd.CombinedOutput()
	if err == nil && bytes.Contains(out, []byte("ERROR:")) {
		err = errors.New("single-user mode reported an error")
	}
	if err != nil {
		return fmt.Errorf("%w\n%s", err, tail(string(out), 20))
	}
	return nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func redactPassword(s, password string) string {
	if password == "" {
		return s
	}
	return strings.ReplaceAll(s, password, "[REDACTED]")
}
