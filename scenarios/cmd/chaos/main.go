// Command chaos runs the behaviour matrix (the scenarios suite) across parallel processes, each
// with its own environments, and prints one line per finished row. `make chaos` and `make
// scenario` call it; the release gate runs after it (matrix gate).
//
//	chaos [-procs n] [-shard i/n] [-row id] [-labels filter] [-contract-only] [-out dir] [-timeout d] [-v]
//
// Exit status: 0 every selected row passed, 1 the suite failed, 2 bad usage or a run that
// could not start.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/faultline/faultline/chaos"
	"github.com/faultline/faultline/matrix"
	"github.com/faultline/faultline/scenarios/internal/suiterun"
	"github.com/onsi/ginkgo/v2/types"
)

// The number of parallel processes when neither -procs nor MATRIX_PROCS says, measured on
// two cores (README, "Running the matrix"): as many as keep every row within its bounds run
// after run (make flake). On the process backend five: 84 rows passed ten runs of ten, the
// suite 68 to 74 s (81 s at four, 62 s at six). The Docker backend's containers cost more
// CPU, and so does a service built with -race (CI): at four processes, one fresh-clone CI
// run saw three rows miss production deadlines (a 1 s database write, a 100 ms p95, a
// database alert in a replay).
const (
	DefaultProcs       = 5
	DefaultDockerProcs = 3
	DefaultRaceProcs   = 3
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "chaos: %v\n", err)
		return 2
	}
	start := time.Now()
	fmt.Fprintf(stdout, "chaos: %d rows on %d parallel processes%s; report in %s\n", o.Rows, o.Procs, o.describe, o.Out)
	err = suiterun.Run(ctx, o.Options)
	summary(stdout, o.Out, time.Since(start))
	switch {
	case err == nil:
		return 0
	case errors.Is(err, suiterun.ErrSuiteFailed):
		fmt.Fprintf(stderr, "chaos: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "chaos: %v\n", err)
	return 2
}

type options struct {
	suiterun.Options
	describe string
}

func parse(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	procs := fs.Int("procs", envInt("MATRIX_PROCS", 0), "parallel processes, each with its own environments "+
		"(MATRIX_PROCS; default 5, or 3 on the Docker backend or with -race)")
	shard := fs.String("shard", "", "run shard i/n of the rows, balanced by matrix/timings.json (e.g. 2/4)")
	row := fs.String("row", "", "run this row only")
	labels := fs.String("labels", "", "run the rows this Ginkgo label filter selects, e.g. 'dep:redis && fault:blackhole'")
	contractOnly := fs.Bool("contract-only", os.Getenv("MATRIX_CONTRACT_ONLY") == "1",
		"another implementation: leave out scope:reference rows and judge the contract only (MATRIX_CONTRACT_ONLY=1)")
	out := fs.String("out", "out", "report directory")
	timeout := fs.Duration("timeout", 30*time.Minute, "limit of the whole run")
	verbose := fs.Bool("v", false, "print Ginkgo's verbose output too")
	suite := fs.String("suite", "./scenarios", "the suite: its package, or a precompiled test binary")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *procs == 0 {
		*procs = DefaultProcs
		if race, err := chaos.ResolveRace(); err == nil && race {
			*procs = DefaultRaceProcs
		}
		if b, err := chaos.ResolveBackend(context.Background()); err == nil && b == chaos.BackendDocker {
			*procs = min(*procs, DefaultDockerProcs)
		}
	}
	if *procs < 1 {
		return options{}, errors.New("-procs must be at least 1")
	}
	root, err := chaos.ModuleRoot(".")
	if err != nil {
		return options{}, err
	}
	dir, err := filepath.Abs(*out)
	if err != nil {
		return options{}, err
	}
	rows, describe, err := selectRows(*shard, *row, *labels, *contractOnly)
	if err != nil {
		return options{}, err
	}
	if len(rows) == 0 {
		return options{}, errors.New("no row is selected")
	}
	o := options{describe: describe, Options: suiterun.Options{
		Suite: *suite, Dir: root, Out: dir, Procs: min(*procs, len(rows)), Rows: len(rows),
		Timeout: *timeout, Verbose: *verbose, Progress: os.Stdout,
	}}
	// The selection is handed to Ginkgo as the rows it names, so what runs is exactly
	// what was counted; every row still carries its labels in the report.
	if len(rows) < len(matrix.Rows()) {
		o.LabelFilter = matrix.RowFilter(rows)
	}
	if *contractOnly {
		o.Env = append(o.Env, "MATRIX_CONTRACT_ONLY=1")
	}
	return o, nil
}

// selectRows applies, in order: the contract-only scope, the shard, one row, a label filter.
func selectRows(shard, row, labels string, contractOnly bool) ([]matrix.Row, string, error) {
	rows := matrix.Rows()
	describe := ""
	if contractOnly {
		rows = keep(rows, func(r matrix.Row) bool { return !r.Reference })
		describe += ", contract rows only"
	}
	if shard != "" {
		i, n, err := matrix.ParseShard(shard)
		if err != nil {
			return nil, "", err
		}
		t, err := matrix.MeasuredTimings()
		if err != nil {
			return nil, "", err
		}
		if rows, err = matrix.Shard(rows, t, i, n); err != nil {
			return nil, "", err
		}
		describe += ", shard " + shard
	}
	if row != "" {
		rows = keep(rows, func(r matrix.Row) bool { return r.ID == row })
		if len(rows) == 0 {
			return nil, "", fmt.Errorf("no row %q in this selection (go run ./matrix/cmd/matrix list)", row)
		}
	}
	if labels != "" {
		f, err := types.ParseLabelFilter(labels)
		if err != nil {
			return nil, "", fmt.Errorf("label filter %q: %w", labels, err)
		}
		rows = keep(rows, func(r matrix.Row) bool { return f(matrix.Labels(r)) })
		describe += ", labels " + labels
	}
	return rows, describe, nil
}

func keep(rows []matrix.Row, ok func(matrix.Row) bool) []matrix.Row {
	var out []matrix.Row
	for _, r := range rows {
		if ok(r) {
			out = append(out, r)
		}
	}
	return out
}

// summary prints the report's counts and its failed rows, or says there is no report.
func summary(w io.Writer, dir string, took time.Duration) {
	f, err := os.Open(filepath.Join(dir, matrix.FileJSON))
	if err != nil {
		fmt.Fprintf(w, "chaos: no matrix report after %s (see %s)\n", took.Round(time.Second), filepath.Join(dir, suiterun.FileLog))
		return
	}
	defer f.Close()
	rep, err := matrix.ReadReport(f)
	if err != nil {
		fmt.Fprintf(w, "chaos: %v\n", err)
		return
	}
	s := rep.Summary
	fmt.Fprintf(w, "chaos: %d passed, %d failed of %d run in %s (suite %s)\n",
		s.Passed, s.Failed, s.Passed+s.Failed+s.Skipped, took.Round(100*time.Millisecond), s.Run.Duration.Round(100*time.Millisecond))
	for _, rr := range rep.Rows {
		if rr.Result == matrix.ResultFailed {
			fmt.Fprintf(w, "  FAILED %s: %s\n", rr.ID, rr.Reason)
		}
	}
	for _, sf := range s.Run.SuiteFailures {
		fmt.Fprintf(w, "  SUITE %s\n", sf)
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}
