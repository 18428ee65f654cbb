package chaos

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
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
	for _, p := range ProcessTree(d.cmd.Process.Pid) {
		if err := syscall.Kill(p.PID, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("signal %s process %d %s: %w", d.dep, p.PID, sig, err))
		}
	}
	return errors.Join(errs...)
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

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}
