package chaos

import (
	"errors"
	"net"
	"os"
	"strconv"
	"testing"
)

func TestReservePortHoldsAPortBelowTheEphemeralRange(t *testing.T) {
	a, err := reservePort()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = a.release() }()
	b, err := reservePort()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.release() }()
	if a.addr == b.addr {
		t.Fatalf("two reservations got the same address %s", a.addr)
	}
	_, port, _ := net.SplitHostPort(a.addr)
	n, _ := strconv.Atoi(port)
	if n < portLow || n >= ephemeralStart() {
		t.Errorf("port %d is outside [%d, %d)", n, portLow, ephemeralStart())
	}
	// Held: no other environment may take it, even while nothing listens on it.
	if _, err := tryPort(n); !errors.Is(err, errPortTaken) {
		t.Errorf("tryPort(%d) while reserved = %v, want errPortTaken", n, err)
	}
	if err := a.release(); err != nil {
		t.Fatal(err)
	}
	again, err := tryPort(n)
	if err != nil {
		t.Fatalf("tryPort(%d) after release: %v", n, err)
	}
	_ = again.release()
}

func TestTryPortRefusesAPortSomethingListensOn(t *testing.T) {
	var lc net.ListenConfig
	l, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	n, _ := strconv.Atoi(port)
	if p, err := tryPort(n); !errors.Is(err, errPortTaken) {
		_ = p.release()
		t.Errorf("tryPort(%d) with a listener = %v, want errPortTaken", n, err)
	}
}

// A run given a TMPDIR of its own (the interrupt test's, beside the environment specs)
// still reserves its ports where every other run does.
func TestPortLocksAreTheMachinesWhateverTheRunsTMPDIR(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	if got := machineTempDir(); got != "/tmp" {
		t.Errorf("lock directory under %q with TMPDIR=%s, want /tmp", got, os.Getenv("TMPDIR"))
	}
	if portLockDir != "/tmp/faultline-ports" {
		t.Errorf("portLockDir = %q", portLockDir)
	}
}
