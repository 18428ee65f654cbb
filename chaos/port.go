package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// The SUT listens on a port of its own that the harness chooses, and it is restarted on that
// port on every reset. A port from the kernel's ephemeral range could be taken, while the
// service is down between two runs, as the local port of any outgoing connection on the
// machine (other environments of a parallel run open many), and the restart would fail.
// So the port comes from below that range, where the kernel never picks one by itself, and
// it is reserved with a lock file for the life of the environment, so two environments on
// one machine never share it.

// portLockDir holds one lock file per reserved port. It is the machine's, whatever TMPDIR a
// run was given (the interrupt test gives each of its runs one of its own): runs with
// different lock directories could reserve the same port.
var portLockDir = filepath.Join(machineTempDir(), "faultline-ports")

// machineTempDir is /tmp when it is a directory, else the run's temporary directory.
func machineTempDir() string {
	if fi, err := os.Stat("/tmp"); err == nil && fi.IsDir() {
		return "/tmp"
	}
	return os.TempDir()
}

// Ports are drawn from [portLow, ephemeral range start).
const portLow = 20000

// reservedPort is a loopback port held for one environment.
type reservedPort struct {
	addr string
	lock *os.File
}

// release lets another environment have the port.
func (p *reservedPort) release() error {
	if p == nil || p.lock == nil {
		return nil
	}
	err := p.lock.Close() // closing drops the flock
	p.lock = nil
	return err
}

// reservePort finds a port below the ephemeral range that no other environment holds and
// nothing listens on, and holds it until release.
func reservePort() (*reservedPort, error) {
	high := ephemeralStart()
	if err := os.MkdirAll(portLockDir, 0o750); err != nil {
		return nil, fmt.Errorf("reserve a port: %w", err)
	}
	var lastErr error
	for range 200 {
		port := portLow + rand.IntN(high-portLow) //nolint:gosec // a port number, not a secret
		p, err := tryPort(port)
		if err == nil {
			return p, nil
		}
		lastErr = err
	}
	return nil, fmt.Errorf("reserve a port in %d-%d: %w", portLow, high-1, lastErr)
}

var errPortTaken = errors.New("port taken")

func tryPort(port int) (*reservedPort, error) {
	f, err := os.OpenFile(filepath.Join(portLockDir, strconv.Itoa(port)), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("%w: %d is reserved by another environment", errPortTaken, port)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	var lc net.ListenConfig
	l, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("%w: %w", errPortTaken, err)
	}
	if err := l.Close(); err != nil {
		_ = f.Close()
		return nil, err
	}
	return &reservedPort{addr: addr, lock: f}, nil
}

// ephemeralStart is the first port of the kernel's ephemeral range (32768 when unknown).
func ephemeralStart() int {
	const fallback = 32768
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return fallback
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return fallback
	}
	n, err := strconv.Atoi(fields[0])
	if err != nil || n <= portLow+1000 {
		return fallback
	}
	return n
}
