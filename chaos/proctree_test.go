package chaos

import (
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A PostgreSQL backend calls setsid(); pausing and stopping must reach it all the same.
func TestProcessTreeReachesChildrenInTheirOwnSession(t *testing.T) {
	cmd := exec.CommandContext(t.Context(), "sh", "-c", "setsid sleep 30 & echo $!; wait")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	buf := make([]byte, 32)
	n, err := out.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	child, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = syscall.Kill(child, syscall.SIGKILL) }()
	pids := func(ps []Proc) []int {
		out := make([]int, len(ps))
		for i, p := range ps {
			out[i] = p.PID
		}
		return out
	}
	var found Proc
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := ProcessTree(cmd.Process.Pid)
		// Until setsid has exec'd sleep, the child's command is setsid.
		if i := slices.Index(pids(got), child); len(got) > 0 && got[0].PID == cmd.Process.Pid && i > 0 && got[i].Comm == "sleep" {
			found = got[i]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ProcessTree(%d) = %v, want it to hold the setsid child %d running sleep", cmd.Process.Pid, got, child)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !found.Alive() {
		t.Fatalf("child %+v is not alive", found)
	}
	// Killed and reaped by its shell, it is no longer alive.
	if err := syscall.Kill(child, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for found.Alive() {
		if time.Now().After(deadline) {
			t.Fatal("a killed child still counts as alive")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ProcessTree(1<<30) != nil {
		t.Error("a pid that does not exist has a tree")
	}
	if (Proc{PID: os.Getpid(), Start: 1}).Alive() {
		t.Error("a process with another start time is alive: a reused pid would be mistaken for the old process")
	}
}
