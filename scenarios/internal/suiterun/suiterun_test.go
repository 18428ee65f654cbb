package suiterun

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFormatLine(t *testing.T) {
	got := FormatLine("redis-down.max-up.cache-fresh\tpassed\t1.3s", 3, 57)
	want := "[ 3/57] passed     1.3s  redis-down.max-up.cache-fresh, 54 left"
	if got != want {
		t.Errorf("FormatLine = %q, want %q", got, want)
	}
	if got := FormatLine("x\tfailed\t2s", 2, 1); !strings.HasSuffix(got, "x, 0 left") {
		t.Errorf("more rows than expected must not count below zero: %q", got)
	}
}

func TestFollowPrintsEachLineOnceAndTheLastAfterStop(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileProgress)
	if err := os.WriteFile(path, []byte("a\tpassed\t1s\nb\tfail"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { follow(path, 3, &out, stop); close(done) }()
	// The partial line is completed and a third added while follow runs.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("ed\t2s\nc\tpassed\t3s\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	close(stop)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not return after stop")
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], "failed") || !strings.Contains(lines[1], " b, 1 left") ||
		!strings.HasSuffix(lines[2], "c, 0 left") {
		t.Errorf("follow printed:\n%s", out.String())
	}
}

func TestGinkgoArgsWriteGinkgosReportUnlessToldNot(t *testing.T) {
	o := Options{Suite: "./scenarios", Out: "/out", Procs: 4, LabelFilter: "shard:1"}
	args := strings.Join(ginkgoArgs(o), " ")
	for _, want := range []string{"--procs 4", "--output-dir /out", "--json-report " + FileGinkgoJSON, "--label-filter shard:1"} {
		if !strings.Contains(args, want) {
			t.Errorf("arguments %q lack %q", args, want)
		}
	}
	if !strings.HasSuffix(args, " ./scenarios") {
		t.Errorf("arguments %q do not end with the suite", args)
	}
	o.NoGinkgoJSON = true
	if args := strings.Join(ginkgoArgs(o), " "); strings.Contains(args, "--json-report") {
		t.Errorf("NoGinkgoJSON, yet the arguments ask for Ginkgo's report: %q", args)
	}
}
