package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/chaos"
)

// TestInterruptLeavesNothingBehind interrupts `make chaos` once its first row has finished,
// as Ctrl-C (SIGINT) or a CI runner's cancellation (SIGTERM) would, by signalling its whole
// process group, and then requires that nothing the run started is left 5 s later: no
// PostgreSQL, Redis or service process, no container; the harness's own processes must end
// within a minute. It runs a real matrix, so it runs only with CHAOS_INTERRUPT_TEST=1 (make
// interrupt-test, part of make test).
func TestInterruptLeavesNothingBehind(t *testing.T) {
	if os.Getenv("CHAOS_INTERRUPT_TEST") != "1" {
		t.Skip("set CHAOS_INTERRUPT_TEST=1 (make interrupt-test): runs make chaos and interrupts it")
	}
	// Each signal and each backend once: the harness handles both signals the same way on
	// both backends, and what differs by backend is what must be stopped.
	cases := []struct {
		backend string
		sig     syscall.Signal
	}{
		{"process", syscall.SIGINT},
		{"docker", syscall.SIGTERM},
	}
	for _, c := range cases {
		t.Run(c.backend+"-"+c.sig.String(), func(t *testing.T) {
			if c.backend == "docker" && exec.CommandContext(t.Context(), "docker", "info").Run() != nil {
				t.Skip("the Docker engine is not reachable")
			}
			interruptMatrix(t, c.backend, c.sig)
		})
	}
}

func interruptMatrix(t *testing.T, backend string, sig syscall.Signal) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	// The run's temporary files (environments, the PostgreSQL template, the service binary)
	// go under a directory of its own, which the dependencies' users must be able to enter.
	tmp, err := os.MkdirTemp("", "faultline-interrupt-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(tmp) })
	if err := os.Chmod(tmp, 0o711); err != nil { //nolint:gosec // traverse only, as the environment's work dirs
		t.Fatal(err)
	}
	//nolint:gosec // G204: make with a temporary directory of this test
	cmd := exec.CommandContext(t.Context(), "make", "--no-print-directory", "chaos", "SETUP=0", "MATRIX_OUT="+filepath.Join(tmp, "out"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "CHAOS_BACKEND="+backend)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stderr = cmd.Stdout
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	t.Cleanup(func() { _ = syscall.Kill(-pgid, syscall.SIGKILL); _ = cmd.Wait() })

	// Wait for the first finished row: by then every parallel process has its environment.
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var log strings.Builder
	deadline := time.After(3 * time.Minute)
wait:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("make chaos ended before its first row finished:\n%s", log.String())
			}
			log.WriteString(l + "\n")
			if strings.HasPrefix(strings.ReplaceAll(l, " ", ""), "[1/") {
				break wait
			}
		case <-deadline:
			t.Fatalf("no row finished within 3 minutes:\n%s", log.String())
		}
	}
	started := chaos.ProcessTree(pgid)
	names := map[string]int{}
	for _, p := range started {
		names[p.Comm]++
	}
	for _, want := range []string{"postgres", "sut"} {
		if names[want] == 0 && backend == "process" {
			t.Fatalf("no %s among the run's processes %v: the snapshot would prove nothing", want, names)
		}
	}
	if backend == "process" && names["redis-server"] == 0 {
		t.Fatalf("no redis-server among the run's processes %v", names)
	}
	containers := ownedContainers(t, started)
	if backend == "docker" && len(containers) == 0 {
		t.Fatalf("no container labelled with a pid of the run %v", names)
	}

	if err := syscall.Kill(-pgid, sig); err != nil {
		t.Fatal(err)
	}
	go func() {
		for l := range lines {
			log.WriteString(l + "\n")
		}
	}()
	killed := time.Now()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		t.Logf("make chaos ended after %s: %v", sig, err)
	case <-time.After(2 * time.Minute):
		t.Fatalf("make chaos still running 2 minutes after %s", sig)
	}
	// What the run started (dependencies, services, containers) must be gone 5 s after the
	// signal; the harness's own processes (ginkgo, the suites) may take longer to write their
	// reports, but not more than a minute.
	time.Sleep(time.Until(killed.Add(5 * time.Second)))
	var left []string
	for _, p := range started {
		if dependencyOrService(p.Comm) && p.Alive() {
			left = append(left, fmt.Sprintf("%s (pid %d)", p.Comm, p.PID))
		}
	}
	if n := len(ownedContainers(t, started)); n > 0 {
		left = append(left, fmt.Sprintf("%d containers", n))
	}
	if pg := pgrep(t, tmp); pg != "" {
		left = append(left, "pgrep -f "+tmp+": "+pg)
	}
	if len(left) > 0 {
		t.Errorf("%s to make chaos (%s backend) left behind after 5 s: %s", sig, backend, strings.Join(left, ", "))
	}
	harnessDeadline := killed.Add(time.Minute)
	for {
		var running []string
		for _, p := range started {
			if p.Alive() {
				running = append(running, fmt.Sprintf("%s (pid %d)", p.Comm, p.PID))
			}
		}
		if len(running) == 0 {
			break
		}
		if time.Now().After(harnessDeadline) {
			t.Errorf("%s to make chaos (%s backend): still running after a minute: %s", sig, backend, strings.Join(running, ", "))
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("%s: %d processes of the run (%v) and %d containers; dependencies and services gone within 5 s, the harness by %s",
		sig, len(started), names, len(containers), time.Since(killed).Round(100*time.Millisecond))
}

// ownedContainers lists the containers whose owner label names a process of the run.
func ownedContainers(t *testing.T, started []chaos.Proc) []string {
	t.Helper()
	if exec.CommandContext(t.Context(), "docker", "info").Run() != nil {
		return nil
	}
	out, err := exec.CommandContext(t.Context(), "docker", "ps", "-a", "--filter", "label=io.faultline.chaos=true",
		"--format", `{{.ID}} {{.Label "io.faultline.chaos.pid"}}`).Output()
	if err != nil {
		t.Fatalf("docker ps: %v", err)
	}
	pids := map[string]bool{}
	for _, p := range started {
		pids[strconv.Itoa(p.PID)] = true
	}
	var ids []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if id, pid, ok := strings.Cut(l, " "); ok && pids[pid] {
			ids = append(ids, id)
		}
	}
	return ids
}

// dependencyOrService reports whether a process of the run is one it started to test:
// PostgreSQL (postmaster and backends), Redis or the service under test.
func dependencyOrService(comm string) bool {
	return comm == "postgres" || comm == "redis-server" || comm == "sut"
}

// pgrep finds PostgreSQL and service processes whose command line names the run's
// temporary directory (postgres -D, the service binary), to catch any that left the
// process tree before the snapshot.
func pgrep(t *testing.T, tmp string) string {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "pgrep", "-a", "-f", tmp).Output()
	if err != nil {
		return "" // exit status 1: no match
	}
	var own []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.Contains(l, "postgres") || strings.Contains(l, "/sut") {
			own = append(own, l)
		}
	}
	return strings.Join(own, "; ")
}
