// Package suiterun runs the scenarios suite with the Ginkgo CLI across parallel processes
// and shows its progress: one line per finished row. `make chaos` (scenarios/cmd/chaos) and
// the self-test both run the suite through it.
package suiterun

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Options say how to run the suite.
type Options struct {
	// Suite is the suite's package ("./scenarios", relative to Dir) or a precompiled test
	// binary (go test -c), which then runs in its own directory.
	Suite string
	// Dir is the module root, where the go tool runs.
	Dir string
	// Out is the absolute report directory: matrix.{json,md,html}, junit.xml, report.json
	// (unless NoGinkgoJSON), and ginkgo.log, the suite's own output.
	Out string
	// Procs is the number of parallel processes, each with its own environments.
	Procs int
	// LabelFilter selects the rows (empty: every row).
	LabelFilter string
	// Rows is how many rows the filter selects, for the progress lines' count.
	Rows int
	// Timeout bounds the whole run.
	Timeout time.Duration
	// Env is added to the suite's environment (KEY=VALUE).
	Env []string
	// NoGinkgoJSON leaves out Ginkgo's own report (FileGinkgoJSON), for a run whose
	// matrix reports are all that is read of it: the self-test's run of every variant,
	// where the report holds every row of every variant (66 MB) and writing it takes the
	// Ginkgo CLI ten seconds after the last row on two cores.
	NoGinkgoJSON bool
	// Verbose streams Ginkgo's own verbose output too.
	Verbose bool
	// Progress receives one line per finished row; nil prints none.
	Progress io.Writer
}

// The files the run writes into Out.
const (
	FileGinkgoJSON = "report.json"
	FileLog        = "ginkgo.log"
	FileProgress   = "progress.log"
)

// suiteGOGC is the suite processes' garbage collection target, unless GOGC is set. Each
// process keeps the Ginkgo report of every row it ran, observations and all, so its live
// heap grows through the run and the default (100) collects it again and again: a
// sixth of the harness's CPU in a profile of the self-test's run, on two cores shared with
// the environments. The Ginkgo CLI and the go tool it runs have it too; the service under
// test does not (chaos builds its environment from a short list), nor do PostgreSQL and
// Redis. A GOGC in the caller's environment or in Options.Env wins.
const suiteGOGC = "GOGC=400"

// ErrSuiteFailed is returned when the suite ran and failed (a row, or a suite node).
var ErrSuiteFailed = errors.New("the suite failed")

// Run runs the suite and returns nil when it passed, an error wrapping ErrSuiteFailed when it
// ran and failed, and another error when it could not run.
func Run(ctx context.Context, o Options) error {
	if o.Procs < 1 {
		o.Procs = 1
	}
	if err := os.MkdirAll(o.Out, 0o750); err != nil {
		return err
	}
	progress := filepath.Join(o.Out, FileProgress)
	if err := os.WriteFile(progress, nil, 0o644); err != nil { //nolint:gosec // a progress log for people
		return err
	}
	logFile, err := os.Create(filepath.Join(o.Out, FileLog))
	if err != nil {
		return err
	}
	defer logFile.Close()

	cmd := exec.CommandContext(ctx, "go", ginkgoArgs(o)...) //nolint:gosec // G204: the go tool running the suite, arguments from Options
	cmd.Dir = o.Dir
	cmd.Env = append(append(os.Environ(), o.Env...), "MATRIX_OUT="+o.Out, "MATRIX_PROGRESS="+progress)
	if os.Getenv("GOGC") == "" && !slices.ContainsFunc(o.Env, func(kv string) bool { return strings.HasPrefix(kv, "GOGC=") }) {
		cmd.Env = append(cmd.Env, suiteGOGC)
	}
	if o.Dir != "" {
		// A precompiled suite runs in its own directory, which may lie outside the module.
		root, err := filepath.Abs(o.Dir)
		if err != nil {
			return err
		}
		cmd.Env = append(cmd.Env, "MATRIX_ROOT="+root)
	}
	var out io.Writer = logFile
	if o.Verbose {
		out = io.MultiWriter(logFile, os.Stdout)
	}
	cmd.Stdout, cmd.Stderr = out, out
	// Interrupt first, so every process closes its environments, then kill.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 2 * time.Minute

	stop := make(chan struct{})
	var wg sync.WaitGroup
	if o.Progress != nil {
		wg.Go(func() { follow(progress, o.Rows, o.Progress, stop) })
	}
	runErr := cmd.Run()
	close(stop)
	wg.Wait()
	var exit *exec.ExitError
	switch {
	case runErr == nil:
		return nil
	case errors.As(runErr, &exit):
		return fmt.Errorf("%w (%w; its output: %s)", ErrSuiteFailed, exit, logFile.Name())
	}
	return fmt.Errorf("run the suite: %w", runErr)
}

// ginkgoArgs are the go tool's arguments that run the suite as o says.
func ginkgoArgs(o Options) []string {
	// --randomize-all makes every row a unit of scheduling, so the rows' SpecPriority (their
	// measured time) orders them, slowest first; rows of equal priority are shuffled, and
	// every row resets its environment, so no row may depend on another having run before.
	// The Ginkgo CLI compiles the suite, and links it without DWARF or a symbol table
	// unless told otherwise, as the harness does its own binaries (chaos.LDFlags).
	args := []string{"tool", "ginkgo", "run", "--procs", fmt.Sprint(o.Procs), "--no-color",
		"--randomize-all", "--output-dir", o.Out}
	if !o.NoGinkgoJSON {
		args = append(args, "--json-report", FileGinkgoJSON)
	}
	if o.Timeout > 0 {
		args = append(args, "--timeout", o.Timeout.String())
	}
	if o.LabelFilter != "" {
		args = append(args, "--label-filter", o.LabelFilter)
	}
	if o.Verbose {
		args = append(args, "-v")
	}
	args = append(args, o.Suite)
	return args
}

// follow prints the progress log's lines as they are written, until stop, then what is left.
func follow(path string, total int, w io.Writer, stop <-chan struct{}) {
	var done int
	var offset int64
	read := func() {
		f, err := os.Open(path)
		if err != nil {
			return
		}
		defer f.Close()
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			return
		}
		r := bufio.NewReader(f)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return // a partial line is read again next time
			}
			offset += int64(len(line))
			done++
			fmt.Fprintln(w, FormatLine(strings.TrimSuffix(line, "\n"), done, total))
		}
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			read()
			return
		case <-tick.C:
			read()
		}
	}
}

// FormatLine renders a progress log line ("row\tstate\ttime") as the person at the terminal
// sees it: the count, the result, the time, the row and how many rows are left.
func FormatLine(line string, done, total int) string {
	parts := strings.SplitN(line, "\t", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	row, state, took := parts[0], parts[1], parts[2]
	left := ""
	if total > 0 {
		left = fmt.Sprintf(", %d left", max(total-done, 0))
	}
	width := len(fmt.Sprint(total))
	return fmt.Sprintf("[%*d/%d] %-7s %7s  %s%s", width, done, total, state, took, row, left)
}
