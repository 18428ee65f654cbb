package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The process backend runs PostgreSQL and Redis as child processes of the harness, from the
// machine's own binaries, where there is no Docker engine (or CHAOS_BACKEND=process). The
// container faults keep their meaning: stop is SIGINT for PostgreSQL (a fast shutdown, as
// the image's STOPSIGNAL) and SIGTERM for Redis, with the data directory kept, so Redis,
// which saves nothing, comes back empty and PostgreSQL with its data; pause is SIGSTOP to
// the dependency's whole process group (every PostgreSQL backend freezes, as under docker
// pause), unpause SIGCONT.

// ErrBinariesUnavailable is returned by Start on the process backend when PostgreSQL's or
// Redis's binaries cannot be found.
var ErrBinariesUnavailable = errors.New("postgres or redis binaries not found")

const binariesHint = "install PostgreSQL 15+ and Redis (Debian: apt-get install -y postgresql-15 redis-server), " +
	"or use the Docker backend (CHAOS_BACKEND=docker)"

// depProcess is a dependency running as a child process group.
type depProcess struct {
	dep     Dependency
	port    *reservedPort
	argv    []string
	dir     string // the data directory (PostgreSQL) or work directory (Redis)
	cred    *syscall.Credential
	version string
	stopSig syscall.Signal
	logFile string // the process's output, kept in the environment's work directory

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	paused bool
}

func (d *depProcess) describe() string { return d.version }

func (d *depProcess) addr(context.Context) (string, error) { return d.port.addr, nil }

func (d *depProcess) state(context.Context) (containerState, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	running := d.cmd != nil && !isDone(d.done)
	return containerState{running: running, paused: running && d.paused}, nil
}

func isDone(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// start runs the process and waits until it accepts connections on its port.
func (d *depProcess) start(ctx context.Context) error {
	d.mu.Lock()
	if d.cmd != nil && !isDone(d.done) {
		d.mu.Unlock()
		return nil
	}
	// The process outlives the call that starts it: stop and terminate end it.
	//nolint:gosec // G204: the machine's own postgres or redis-server with arguments built here
	cmd := exec.CommandContext(context.WithoutCancel(ctx), d.argv[0], d.argv[1:]...)
	cmd.Dir = d.dir
	out, err := os.OpenFile(d.logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		d.mu.Unlock()
		return fmt.Errorf("start %s: %w", d.dep, err)
	}
	defer out.Close() // the child has its own descriptor
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so pause freezes every backend; killed if the harness dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: d.cred}
	if err := cmd.Start(); err != nil {
		d.mu.Unlock()
		return fmt.Errorf("start %s: %w", d.dep, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	d.cmd, d.done, d.paused = cmd, done, false
	d.mu.Unlock()
	return d.waitListening(ctx, done)
}

// waitListening polls the port until it accepts a connection or the process exits.
func (d *depProcess) waitListening(ctx context.Context, done chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, containerStartTimeout)
	defer cancel()
	var dialer net.Dialer
	for {
		c, err := dialer.DialContext(ctx, "tcp", d.port.addr)
		if err == nil {
			return c.Close()
		}
		select {
		case <-done:
			return fmt.Errorf("%s exited before it listened on %s:\n%s", d.dep, d.port.addr, tailFile(d.logFile, 20))
		case <-ctx.Done():
			return fmt.Errorf("%s did not listen on %s: %w", d.dep, d.port.addr, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (d *depProcess) signal(sig syscall.Signal) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd == nil || isDone(d.done) {
		return nil
	}
	if err := syscall.Kill(-d.cmd.Process.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %s %s: %w", d.dep, sig, err)
	}
	return nil
}

// signalTree sends sig to the process and every descendant. A process group is not enough:
// each PostgreSQL backend calls setsid(), so only a walk of the process tree reaches them,
// as docker pause's freezer does.
func (d *depProcess) signalTree(sig syscall.Signal) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd == nil || isDone(d.done) {
		return nil
	}
	var errs []error
	for _, pid := range descendants(d.cmd.Process.Pid) {
		if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("signal %s process %d %s: %w", d.dep, pid, sig, err))
		}
	}
	return errors.Join(errs...)
}

// descendants returns root and every process below it, from /proc.
func descendants(root int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The fields after the command, which may hold spaces and parentheses: state, ppid.
		rest := string(b[bytes.LastIndexByte(b, ')')+1:])
		f := strings.Fields(rest)
		if len(f) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(f[1]); err == nil {
			children[ppid] = append(children[ppid], pid)
		}
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// stop shuts the process down, killing it after containerStopTimeout, and waits for it.
func (d *depProcess) stop(ctx context.Context) error {
	d.mu.Lock()
	done, paused := d.done, d.paused
	d.mu.Unlock()
	if done == nil || isDone(done) {
		return nil
	}
	if paused {
		if err := d.unpause(ctx); err != nil {
			return err
		}
	}
	if err := d.signal(d.stopSig); err != nil {
		return err
	}
	select {
	case <-done:
		return nil
	case <-time.After(containerStopTimeout):
	case <-ctx.Done():
	}
	if err := d.signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-done
	return nil
}

func (d *depProcess) pause(context.Context) error { return d.freeze(syscall.SIGSTOP, true) }

func (d *depProcess) unpause(context.Context) error { return d.freeze(syscall.SIGCONT, false) }

// freeze stops (SIGSTOP) or continues (SIGCONT) the whole process tree and records it.
func (d *depProcess) freeze(sig syscall.Signal, paused bool) error {
	if err := d.signalTree(sig); err != nil {
		return err
	}
	d.mu.Lock()
	d.paused = paused
	d.mu.Unlock()
	return nil
}

// terminate stops the process for good and gives its port back.
func (d *depProcess) terminate(ctx context.Context) error {
	return errors.Join(d.stop(ctx), d.port.release())
}

// tailFile returns the last n lines of a file, or nothing when it cannot be read.
func tailFile(path string, n int) string {
	b, err := os.ReadFile(path) //nolint:gosec // a log file the harness wrote
	if err != nil {
		return ""
	}
	return tail(string(b), n)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// unprivileged is the user the dependencies run as when the harness is root (PostgreSQL
// refuses to run as root): postgres where the distribution's package made it, else nobody.
func unprivileged() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 == nil && err2 == nil {
			return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
		}
	}
	return nil, errors.New("running as root, and neither user postgres nor nobody exists to run the dependencies as")
}

// chownTree gives dir and everything in it to cred's user (when the harness is root).
func chownTree(dir string, cred *syscall.Credential) error {
	if cred == nil {
		return nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	return fs.WalkDir(root.FS(), ".", func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return root.Lchown(p, int(cred.Uid), int(cred.Gid))
	})
}

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

func commandVersion(ctx context.Context, bin string) string {
	if v, ok := versionCache.Load(bin); ok {
		return v.(string)
	}
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return filepath.Base(bin)
	}
	v := strings.TrimSpace(string(out))
	versionCache.Store(bin, v)
	return v
}

// versionCache caches commandVersion: a binary's version does not change during a run.
var versionCache sync.Map

// pgTemplateMu serialises making the template cluster within this process; a lock file
// does it across processes.
var pgTemplateMu sync.Mutex

// postgresTemplate returns a cluster made by initdb once per machine, PostgreSQL version and
// user, which every environment copies instead of running initdb (most of a cold start). It
// holds an empty database, templateDB, which each copy renames and gives to its own role:
// cheaper than CREATE DATABASE, which copies template1 again. WAL segments of 1 MB instead
// of 16 keep the copy small.
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
	if err := singleUser(ctx, binDir, data, cred, "CREATE DATABASE "+quoteIdent(templateDB)+" STRATEGY FILE_COPY;\n"); err != nil {
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
	templateLayout = "walseg1-db"
)

// singleUser runs SQL statements in PostgreSQL's single-user mode on a stopped cluster.
func singleUser(ctx context.Context, binDir, data string, cred *syscall.Credential, sql string) error {
	//nolint:gosec // G204: the machine's postgres
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "postgres"), "--single", "-D", data, "-F", "-c", "listen_addresses=", "postgres")
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

// startRedisProcess starts redis-server on a reserved loopback port, saving nothing.
func startRedisProcess(ctx context.Context, workDir string) (*depProcess, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("%w: no redis-server on PATH; %s", ErrBinariesUnavailable, binariesHint)
	}
	cred, err := unprivileged()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(workDir, "redis")
	if err := os.Mkdir(dir, 0o750); err != nil {
		return nil, err
	}
	if err := chownTree(dir, cred); err != nil {
		return nil, err
	}
	port, err := reservePort()
	if err != nil {
		return nil, err
	}
	p := &depProcess{
		dep: Redis, port: port, dir: dir, cred: cred, stopSig: syscall.SIGTERM, logFile: filepath.Join(workDir, "redis.log"),
		version: redisVersion(ctx, bin) + " (process)",
		argv: []string{bin, "--bind", "127.0.0.1", "--port", portOf(port.addr), "--dir", dir,
			"--save", "", "--appendonly", "no", "--daemonize", "no"},
	}
	if err := p.start(ctx); err != nil {
		return nil, errors.Join(err, p.terminate(context.WithoutCancel(ctx)))
	}
	return p, nil
}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

func quoteIdent(s string) string   { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func redactPassword(s, password string) string {
	if password == "" {
		return s
	}
	return strings.ReplaceAll(s, password, "[REDACTED]")
}

// redisVersion is "redis-server 7.0.15" from redis-server's "Redis server v=7.0.15 sha=...".
func redisVersion(ctx context.Context, bin string) string {
	for _, f := range strings.Fields(commandVersion(ctx, bin)) {
		if v, ok := strings.CutPrefix(f, "v="); ok {
			return "redis-server " + v
		}
	}
	return "redis-server"
}
