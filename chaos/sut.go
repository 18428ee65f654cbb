package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// ErrSUT marks failures of the service under test itself: it did not build, did not
// become ready, or did not stop cleanly.
var ErrSUT = errors.New("service under test")

// buildTimeout bounds the one build per run; a cold -race build on a loaded machine is slow.
const buildTimeout = 10 * time.Minute

// BuildSUT builds the SUT package as Start would (with the race detector under the same
// settings) into dir and returns the binary's path, for WithSUTBinary. With a SUT command
// configured (CHAOS_SUT_CMD) there is nothing to build and it returns "".
func BuildSUT(ctx context.Context, dir string, opts ...Option) (string, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return "", err
	}
	if len(cfg.sutCommand) > 0 {
		return "", nil
	}
	return buildSUT(ctx, cfg.moduleRoot, cfg.sutPackage, dir, cfg.race)
}

// LDFlags is how the harness links the binaries it builds with the go tool (the service,
// the self-test's mutants, suite and soak): without DWARF, as they are run, not debugged,
// and each link takes half the time; stack traces and race reports still name files and
// lines. (The Ginkgo CLI links the suites it compiles without DWARF already.)
const LDFlags = "-ldflags=-w"

// buildSUT compiles pkg (relative to the module root) into dir and returns the binary.
func buildSUT(ctx context.Context, moduleRoot, pkg, dir string, race bool) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("%w: build %s: the go tool is not on PATH: %w", ErrSUT, pkg, err)
	}
	out := filepath.Join(dir, "sut")
	args := []string{"build", LDFlags, "-o", out}
	if race {
		args = append(args, "-race")
	}
	args = append(args, pkg)
	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = moduleRoot
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%w: go %v: %w\n%s", ErrSUT, args, err, output.String())
	}
	return out, nil
}

// runMigrate runs the SUT's migrate subcommand once.
func runMigrate(ctx context.Context, command, env []string, tee io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	args := append(append([]string(nil), command[1:]...), "migrate")
	//nolint:gosec // G204: running the configured service command (CHAOS_SUT_CMD) is the point.
	cmd := exec.CommandContext(ctx, command[0], args...)
	cmd.Env = env
	var output bytes.Buffer
	if tee != nil {
		cmd.Stdout, cmd.Stderr = io.MultiWriter(&output, tee), io.MultiWriter(&output, tee)
	} else {
		cmd.Stdout, cmd.Stderr = &output, &output
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w: %s migrate: %w\n%s", ErrSUT, command[0], err, output.String())
	}
	return nil
}

// sutProcess is one run of the SUT.
type sutProcess struct {
	cmd  *exec.Cmd
	run  int
	out  *lineWriter
	done chan struct{}
	err  error // set before done is closed
}

// startSUT starts the serving process; its stdout and stderr go to the log buffer.
func startSUT(command, env []string, logs *logBuffer, run int, tee io.Writer) (*sutProcess, error) {
	//nolint:gosec,noctx // G204: the configured service command; it is stopped with SIGTERM, not a context.
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Env = env
	cmd.Dir = os.TempDir()
	out := &lineWriter{buf: logs, run: run, tee: tee}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own process group: Ctrl-C in a terminal reaches the harness only, which then
		// stops the SUT in order; SIGTERM goes to the whole group, so a wrapper script's
		// children stop too.
		Setpgid: true,
		// A harness killed outright does not leave the SUT running on its port.
		Pdeathsig: syscall.SIGTERM,
	}
	// Output copying stops this long after exit even if a grandchild holds the pipes.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: start %s: %w", ErrSUT, command[0], err)
	}
	p := &sutProcess{cmd: cmd, run: run, out: out, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		out.flush()
		close(p.done)
	}()
	return p, nil
}

func (p *sutProcess) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitReady polls GET /readyz until it answers 200, the process exits, or timeout passes.
func (p *sutProcess) waitReady(ctx context.Context, baseURL string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last string
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/readyz", nil)
		if err != nil {
			return fmt.Errorf("%w: readyz request: %w", ErrSUT, err)
		}
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-p.done:
			return fmt.Errorf("%w: exited before it was ready: %w", ErrSUT, p.err)
		case <-ctx.Done():
			return fmt.Errorf("%w: not ready within %s (last /readyz: %s)", ErrSUT, timeout, last)
		case <-tick.C:
		}
	}
}

// stop sends SIGTERM and waits up to timeout for a clean exit (status 0). A process that
// does not stop in time is killed and reported.
func (p *sutProcess) stop(timeout time.Duration) error {
	if p.exited() {
		return p.exitErr("before it was stopped")
	}
	if err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("%w: send SIGTERM: %w", ErrSUT, err)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
		return p.exitErr("on SIGTERM")
	case <-t.C:
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("%w: did not exit within %s of SIGTERM; killed", ErrSUT, timeout)
	}
}

func (p *sutProcess) exitErr(when string) error {
	if p.err == nil {
		return nil
	}
	return fmt.Errorf("%w: exited uncleanly %s: %w", ErrSUT, when, p.err)
}

// sutEnv builds the child's environment: a few variables it needs to run at all, taken
// from the harness's own environment, then the contract's variables, then overrides.
// Nothing else is inherited, so a developer's DATABASE_URL cannot leak into a scenario.
func sutEnv(lookup func(string) (string, bool), contract map[string]string, overrides []string) []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "GOCOVERDIR", "LANG"} {
		if v, ok := lookup(k); ok {
			env = append(env, k+"="+v)
		}
	}
	// A -race binary sleeps a second at exit by default, which would make every reset and
	// every migrate a second slower; races found before exit are still reported, and the
	// exit status (66) still fails the stop check.
	gorace, _ := lookup("GORACE")
	if !strings.Contains(gorace, "atexit_sleep_ms") {
		gorace = strings.TrimSpace(gorace + " atexit_sleep_ms=0")
	}
	env = append(env, "GORACE="+gorace)
	for _, k := range sortedKeys(contract) {
		env = append(env, k+"="+contract[k])
	}
	// exec uses the last value of a repeated key, so overrides win.
	return append(env, overrides...)
}
