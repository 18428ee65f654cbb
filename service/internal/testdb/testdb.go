// Package testdb gives integration tests real PostgreSQL and Redis servers without
// Docker: throwaway servers started from the host's binaries on free loopback ports in a
// temporary directory, or servers named by FAULTLINE_TEST_DATABASE_URL and
// FAULTLINE_TEST_REDIS_URL. It also has a TCP proxy that can refuse or black-hole
// connections, to show what clients do when a server dies or hangs.
//
// Only tests import it. Servers are meant to be started once per package in TestMain and
// closed after m.Run; tests get isolated databases from them.
package testdb

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Environment variables that point the tests at servers someone else runs.
const (
	EnvDatabaseURL = "FAULTLINE_TEST_DATABASE_URL"
	EnvRedisURL    = "FAULTLINE_TEST_REDIS_URL"
)

// startTimeout bounds how long a server may take to accept connections. It is generous
// because the test machines are small and shared.
const startTimeout = 60 * time.Second

// stopTimeout bounds a graceful stop before the process is killed.
const stopTimeout = 15 * time.Second

// freePort asks the kernel for a free loopback port. Another process could take it before
// the server binds it; the server then fails to start and says so.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// process is a server child process with its log file.
type process struct {
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error
}

func startProcess(cmd *exec.Cmd, logPath string) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644) //nolint:gosec // a test server's log in its own temp dir
	if err != nil {
		return nil, fmt.Errorf("open server log: %w", err)
	}
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	p := &process{cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends sig, waits for the exit, and kills the process if it takes too long.
func (p *process) stop(sig os.Signal) error {
	if p.exited() {
		return nil
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal %s: %w", p.cmd.Path, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("%s did not stop within %s and was killed", p.cmd.Path, stopTimeout)
	}
}

// logTail returns the last lines of the server's log, for error messages.
func (p *process) logTail() string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		lines = append(lines, s.Text())
		if len(lines) > 20 {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// waitReady polls ready until it succeeds, the process exits, or the deadline passes.
func waitReady(ctx context.Context, p *process, what string, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	for {
		err := ready(ctx)
		if err == nil {
			return nil
		}
		if p.exited() {
			return fmt.Errorf("%s exited during start-up (%v); log:\n%s", what, p.err, p.logTail())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready within %s: %w; log:\n%s", what, startTimeout, err, p.logTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
