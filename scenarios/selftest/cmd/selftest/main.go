// Command selftest runs the behaviour matrix against deliberately broken variants of the
// reference service and passes only when the gate rejects each variant on exactly the rows
// expected (see scenarios/selftest/README.md).
//
//	selftest [run] [-variants a,b] [-sample] [-alerts] [-parallel 5] [-procs 4] [-each] [-out out/selftest] [-race] [-timeout 30m] [-v] [-build-only]
//	selftest soak [-variants a,b] [-parallel 2] [-out out/selftest/soak] [-soak-flags "-duration 3m"] [-build-only]
//	selftest list
//	selftest edit <variant>         prepare a copy of service/ to (re)write a mutant's patch
//	selftest save <variant> <dir>   write the copy's changes as the mutant's patch
//
// -build-only builds what the run would, and stops. A later run with the same flags finds
// its binaries up to date (go build leaves a binary whose build ID matches), so make test
// builds both self-tests' binaries before running the two side by side: built beside the
// soak's load, the mutants took a minute and a half.
//
// Exit status: 0 every variant passed, 1 a variant did not, 2 bad usage or a broken run.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/faultline/faultline/chaos"
	"github.com/faultline/faultline/matrix"
	"github.com/faultline/faultline/scenarios/internal/suiterun"
	"github.com/faultline/faultline/scenarios/selftest"
	"golang.org/x/sync/errgroup"
)

// Exit statuses.
const (
	exitOK       = 0
	exitMismatch = 1
	exitUsage    = 2
)

// How the scenarios suite is run: its package, and the variables it reads.
const (
	suitePackage = "./scenarios"
	// envSUTCommand runs this binary as the service instead of building one.
	envSUTCommand = "CHAOS_SUT_CMD"
	// envAlerts=0 skips the alert replay, a second pass over every row's fault.
	envAlerts = "MATRIX_ALERTS"
)

const usage = `usage:
  selftest [run] [-variants a,b] [-sample] [-alerts] [-parallel n] [-procs n] [-each] [-out dir] [-race] [-timeout d] [-v] [-build-only]
  selftest soak [-variants a,b] [-parallel n] [-out dir] [-soak-flags flags] [-build-only]
  selftest list
  selftest edit <variant>
  selftest save <variant> <dir>
`

// errMismatch marks a self-test whose variants did not all pass.
var errMismatch = errors.New("self-test failed")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "run":
		err = runAll(ctx, args, stdout, stderr)
	case "soak":
		err = runSoak(ctx, args, stdout, stderr)
	case "list":
		err = list(stdout)
	case "edit":
		err = edit(ctx, args, stdout)
	case "save":
		err = save(ctx, args, stdout)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		err = fmt.Errorf("unknown command %q", cmd)
	}
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errMismatch):
		return exitMismatch
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	}
	fmt.Fprintf(stderr, "selftest: %v\n", err)
	return exitUsage
}

type options struct {
	variants []selftest.Variant
	all      bool
	out      string
	race     bool
	timeout  time.Duration
	verbose  bool
	alerts   bool
	parallel int
	procs    int
	// each runs a suite per variant, parallel at a time, instead of one for all.
	each bool
	// buildOnly stops after the build.
	buildOnly bool
}

// dockerProcs is the processes of a variant's suite on the Docker backend, as make chaos's.
const dockerProcs = 3

// Every variant's rows run in one suite run of parallel x procs processes. As measured on
// two cores (README), the full run takes 4m42s on 20 processes and 4m17s on 24, the cores
// about 60% and 80% busy; 20 leave room for a slower host. The sample runs beside the
// soak's self-test in make test, which leaves less: 8 processes (2m16s); as suite runs
// per variant, three at a time there saturated the cores, and a fresh-clone CI saw the
// reference service drop a refresh whose rate-limit slots it woke for too late three
// times (participants_refresh_dropped_total{reason="local_rate_limit"}), failing
// redis-up.max-up.cache-stale; at four, a variant without a MAX rate limit was not caught.
const (
	defaultParallel       = 5
	defaultParallelSample = 2
)

func parseRun(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	names := fs.String("variants", "", "comma-separated variants to run (default: all)")
	sample := fs.Bool("sample", false, "run each variant's expected, watched and control rows only, not every row (faster)")
	out := fs.String("out", "out/selftest", "directory for the binaries, each variant's report and summary.md")
	race := fs.Bool("race", false, "build the service binaries with the race detector")
	timeout := fs.Duration("timeout", 30*time.Minute, "limit of one variant's suite run")
	verbose := fs.Bool("v", false, "copy the suite's output to standard output")
	parallel := fs.Int("parallel", defaultParallel, fmt.Sprintf("with procs, the processes of the one suite run: parallel x procs "+
		"(%d with -sample; 1 on Docker); with -each, the variants run at the same time", defaultParallelSample))
	procs := fs.Int("procs", 4, "processes per variant run at the same time, each with its own environment")
	alerts := fs.Bool("alerts", false, "replay each row's alerts too (twice the time; no variant targets alerts)")
	buildOnly := fs.Bool("build-only", false, "build the suite and the variants' binaries, and run nothing")
	each := fs.Bool("each", false, "run a suite per variant, -parallel at a time, instead of one suite of parallel x procs processes for all")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("run: unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *sample && !set["parallel"] {
		*parallel = defaultParallelSample
	}
	if b, err := chaos.ResolveBackend(context.Background()); err == nil && b == chaos.BackendDocker {
		// Containers cost about three times the CPU of processes: on two cores, three
		// variants of four processes each overload the machine until rows fail on time
		// bounds. One variant at a time, with make chaos's Docker default.
		if !set["parallel"] {
			*parallel = 1
		}
		if !set["procs"] {
			*procs = dockerProcs
		}
	}
	o := options{all: !*sample, out: *out, race: *race, timeout: *timeout, verbose: *verbose, alerts: *alerts, parallel: *parallel, procs: *procs, each: *each, buildOnly: *buildOnly}
	if o.parallel < 1 || o.procs < 1 {
		return options{}, errors.New("run: -parallel and -procs must be at least 1")
	}
	if *names == "" {
		o.variants = selftest.Variants()
		return o, nil
	}
	for n := range strings.SplitSeq(*names, ",") {
		v, ok := selftest.Lookup(strings.TrimSpace(n))
		if !ok {
			return options{}, fmt.Errorf("run: unknown variant %q (selftest list shows them)", n)
		}
		o.variants = append(o.variants, v)
	}
	return o, nil
}

func runAll(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, err := parseRun(args, stderr)
	if err != nil {
		return err
	}
	root, err := selftest.ModuleRoot(".")
	if err != nil {
		return err
	}
	out, err := filepath.Abs(opts.out)
	if err != nil {
		return err
	}
	start := time.Now()
	catalogue := matrix.Rows()
	var logMu sync.Mutex
	logf := func(format string, a ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		fmt.Fprintf(stdout, "selftest: "+format+"\n", a...)
	}

	// Everything is built before the first run, so a patch that no longer applies fails the
	// self-test within seconds, not after the first variants' runs.
	bin := filepath.Join(out, "bin")
	if err := os.MkdirAll(bin, 0o750); err != nil {
		return err
	}
	b := selftest.Builder{Root: root, Race: opts.race}
	suite := filepath.Join(bin, "scenarios.test")
	logf("building the scenarios suite and %d service variants", len(opts.variants))
	patches := map[string]string{}
	for _, v := range opts.variants {
		patches[v.Name] = v.Patch
	}
	binaries, err := buildBinaries(ctx, b, bin, patches, func(ctx context.Context) error {
		if err := goCmd(ctx, root, "test", "-c", chaos.LDFlags, "-o", suite, suitePackage); err != nil {
			return fmt.Errorf("build the scenarios suite: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	logf("built in %s", time.Since(start).Round(time.Second))
	if opts.buildOnly {
		return nil
	}

	sum := selftest.Summary{Sampled: !opts.all, Notes: notes(ctx, root, opts)}
	var timing [][]string
	if !opts.each {
		sum.Outcomes, timing = runTogether(ctx, opts.variants, binaries, suite, root, out, catalogue, opts, logf)
		sum.Notes = append(sum.Notes, fmt.Sprintf("The variants ran together, in one suite run of %d processes: "+
			"a variant's duration is the sum of its rows' times.", opts.parallel*opts.procs))
	} else {
		sum.Outcomes, timing = runEach(ctx, opts.variants, binaries, suite, root, out, catalogue, opts, logf)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	// Rows rejected unexpectedly on the machine's stalls (Outcome.TimingExtras) run again,
	// away from the full run's load: the variant's verdict must not hang on a stall of the
	// shared machine.
	byID := map[string]matrix.Row{}
	for _, r := range catalogue {
		byID[r.ID] = r
	}
	for i, results := range runAgain(ctx, opts.variants, timing, binaries, suite, root, out, catalogue, opts, logf) {
		for k, r := range results {
			sum.Outcomes[i].RanAgain(opts.variants[i], byID[timing[i][k]], r)
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	sum.Duration = time.Since(start)

	var md strings.Builder
	if err := sum.WriteMarkdown(&md); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n%s", md.String())
	if err := os.WriteFile(filepath.Join(out, "summary.md"), []byte(md.String()), 0o644); err != nil { //nolint:gosec // a report for people
		return err
	}
	js, err := json.MarshalIndent(sum.Outcomes, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "summary.json"), append(js, '\n'), 0o644); err != nil { //nolint:gosec // a report for people
		return err
	}
	logf("wrote %s", filepath.Join(out, "summary.md"))
	if !sum.OK() {
		return errMismatch
	}
	return nil
}

// runEach runs the variants' suites, opts.parallel at a time, and judges each. It also
// returns, per variant, the rows rejected unexpectedly on the machine's stalls (Outcome.TimingExtras).
func runEach(ctx context.Context, vs []selftest.Variant, binaries map[string]string, suite, root, out string,
	catalogue []matrix.Row, opts options, logf func(string, ...any),
) ([]selftest.Outcome, [][]string) {
	// Variants run in parallel: a run mostly waits (for background work to land, breakers to
	// cool down, recovery), and each has its own containers, proxies and service.
	outcomes := make([]selftest.Outcome, len(vs))
	timing := make([][]string, len(vs))
	sem := make(chan struct{}, opts.parallel)
	var wg sync.WaitGroup
	for i, v := range vs {
		sem <- struct{}{}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			outcomes[i], timing[i] = runVariant(ctx, v, binaries[v.Name], suite, root, out, catalogue, opts, logf)
		})
	}
	wg.Wait()
	return outcomes, timing
}

// runTogether runs every variant's rows in one suite run of opts.parallel x opts.procs
// processes (suiterun.EnvVariants), each process's environment serving whichever variant's
// row comes next, and judges each variant on its own report. Against a suite run per
// variant, this starts the processes and their environments once instead of once per
// variant, and leaves no process idle while its variant's last rows finish.
func runTogether(ctx context.Context, vs []selftest.Variant, binaries map[string]string, suite, root, out string,
	catalogue []matrix.Row, opts options, logf func(string, ...any),
) ([]selftest.Outcome, [][]string) {
	start := time.Now()
	outcomes := make([]selftest.Outcome, len(vs))
	timing := make([][]string, len(vs))
	specs := make([]suiterun.Variant, len(vs))
	total := 0
	for i, v := range vs {
		rows := selftest.Selection(v, catalogue, opts.all)
		total += len(rows)
		specs[i] = variantSpec(v, binaries[v.Name], rows, filepath.Join(out, v.Name))
		logf("%s: %d rows, %d expected rejected (%s)", v.Name, len(rows), countIn(rows, v.Reject), madeBy(v))
	}
	suiteDir := filepath.Join(out, "suite")
	procs := min(opts.parallel*opts.procs, total)
	logf("running the %d rows of the %d variants together on %d processes (progress: %s)", total, len(vs), procs,
		filepath.Join(suiteDir, suiterun.FileProgress))
	reps, errs := together(ctx, specs, suite, root, suiteDir, procs, opts)
	logf("ran together in %s", time.Since(start).Round(time.Second))
	for i, v := range vs {
		// A variant's duration is the sum of its rows' times.
		var d time.Duration
		for _, r := range reps[i].Rows {
			d += r.Duration
		}
		outcomes[i], timing[i] = judged(v, specs[i], reps[i], errs[i], d, catalogue, logf)
	}
	return outcomes, timing
}

// judged is the outcome of variant v's run of spec, its report rep or the error that left
// none, which took d, and the rows it rejected unexpectedly on the machine's stalls
// (Outcome.TimingExtras).
func judged(v selftest.Variant, spec suiterun.Variant, rep matrix.Report, err error, d time.Duration,
	catalogue []matrix.Row, logf func(string, ...any),
) (selftest.Outcome, []string) {
	if err != nil {
		o := selftest.Outcome{Variant: v.Name, Ran: spec.Rows, Dir: spec.Out, Errors: []string{err.Error()}, Duration: d}
		logf("%s: %s (%s)", v.Name, o.Verdict(), err)
		return o, nil
	}
	o := selftest.Judge(v, spec.Rows, rep, catalogue)
	o.Dir, o.Duration = spec.Out, d
	logf("%s: %s in %s: rejected %d rows, %d expected", v.Name, o.Verdict(), d.Round(time.Second),
		len(o.Rejected), len(o.Expected))
	return o, o.TimingExtras(rep)
}

// againProcs is how many rows run again side by side, away from the full run's load: no
// more than make chaos runs at once.
const againProcs = 3

// runAgain runs each variant's rows of again (by variant, as vs) once more, in one suite
// run of at most againProcs processes with nothing else running, and returns their
// results as the gate judged them, each row passed only when the gate has nothing against
// it.
func runAgain(ctx context.Context, vs []selftest.Variant, again [][]string, binaries map[string]string, suite, root, out string,
	catalogue []matrix.Row, opts options, logf func(string, ...any),
) [][]matrix.RowResult {
	results := make([][]matrix.RowResult, len(vs))
	var specs []suiterun.Variant
	type at struct{ variant, row int }
	var where []at
	for i, v := range vs {
		results[i] = make([]matrix.RowResult, len(again[i]))
		for k, id := range again[i] {
			logf("%s: %s rejected on the machine's stalls; running it again", v.Name, id)
			// One variant entry per row, so that each row's report holds it alone.
			sp := variantSpec(v, binaries[v.Name], []string{id}, filepath.Join(out, v.Name, "again", id))
			sp.Name = fmt.Sprintf("%s.again-%d", v.Name, k+1)
			specs = append(specs, sp)
			where = append(where, at{i, k})
		}
	}
	if len(specs) == 0 {
		return results
	}
	reps, errs := together(ctx, specs, suite, root, filepath.Join(out, "again"), min(len(specs), againProcs), opts)
	for j, w := range where {
		v, id := vs[w.variant], specs[j].Rows[0]
		r, ok := reps[j].Row(id)
		if !ok {
			r = matrix.RowResult{ID: id, Result: matrix.ResultMissing, Reason: "absent from the report"}
			if errs[j] != nil {
				r.Reason = errs[j].Error()
			}
		}
		if o := selftest.Judge(v, []string{id}, reps[j], catalogue); r.Result == matrix.ResultPassed && !o.OK() {
			r.Result, r.Reason = matrix.ResultFailed, strings.Join(slices.Concat(o.Details, o.Errors), "; ")
		}
		logf("%s: %s run again: %s", v.Name, id, r.Result)
		results[w.variant][w.row] = r
	}
	return results
}

// variantSpec is how the suite runs rows of a variant, its report in dir.
// Its long rows are those it is expected to fail, which wait out their time to settle.
func variantSpec(v selftest.Variant, sut string, rows []string, dir string) suiterun.Variant {
	var long []string
	for _, id := range rows {
		if slices.Contains(v.Reject, id) {
			long = append(long, id)
		}
	}
	return suiterun.Variant{Name: v.Name, Command: []string{sut}, Env: v.Env, ContractOnly: v.ContractOnly,
		Rows: rows, Long: long, Out: dir, Meta: variantMeta(v)}
}

// together runs the specs' rows in one suite run of procs processes, the suite's own files
// in dir, and returns each spec's report, or why there is none.
func together(ctx context.Context, specs []suiterun.Variant, suite, root, dir string, procs int, opts options,
) ([]matrix.Report, []error) {
	reps := make([]matrix.Report, len(specs))
	errs := make([]error, len(specs))
	fail := func(err error) ([]matrix.Report, []error) {
		for i := range errs {
			errs[i] = err
		}
		return reps, errs
	}
	total := 0
	for _, sp := range specs {
		total += len(sp.Rows)
		if err := os.RemoveAll(sp.Out); err != nil {
			return fail(err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fail(err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fail(err)
	}
	file := filepath.Join(dir, "variants.json")
	if err := suiterun.WriteVariants(file, specs); err != nil {
		return fail(err)
	}
	// The environments start with the first variant's service (they migrate the database
	// with it); every row then runs its own variant's.
	env := []string{envSUTCommand + "=" + specs[0].Command[0], suiterun.EnvVariants + "=" + file}
	if !opts.alerts {
		env = append(env, envAlerts+"=0")
	}
	runErr := suiterun.Run(ctx, suiterun.Options{
		Suite: suite, Dir: root, Out: dir, Procs: procs, Rows: total,
		Timeout: opts.timeout, Env: env, Verbose: opts.verbose, NoGinkgoJSON: true,
	})
	// The reports are read as many at once as there are cores: decoding them is most of
	// the time between the suite's end and the verdicts.
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, sp := range specs {
		g.Go(func() error {
			rep, err := readReport(filepath.Join(sp.Out, matrix.FileJSON))
			if err != nil {
				errs[i] = fmt.Errorf("no report (suite: %s; see %s): %w", exitText(runErr), filepath.Join(dir, suiterun.FileLog), err)
				return nil
			}
			reps[i] = rep
			return nil
		})
	}
	_ = g.Wait() // every error is the spec's own, in errs
	return reps, errs
}

// variantMeta is what a variant's report says about it.
func variantMeta(v selftest.Variant) map[string]string {
	return map[string]string{
		"selftest_variant": v.Name,
		"selftest_breaks":  v.Breaks,
		"selftest_made_by": madeBy(v),
	}
}

// readReport reads a matrix report the suite wrote.
func readReport(path string) (matrix.Report, error) {
	f, err := os.Open(path) //nolint:gosec // the run's own report
	if err != nil {
		return matrix.Report{}, err
	}
	defer f.Close()
	return matrix.ReadReport(f)
}

// buildBinaries builds, side by side, also and the service of every variant in patches
// (name to patch, "" for the reference service) to bin/<name>/chatd, and returns those paths
// by name. A build's link runs on one core and the variants differ in a package or two, so
// as many builds run at once as there are cores.
func buildBinaries(ctx context.Context, b selftest.Builder, bin string, patches map[string]string,
	also func(context.Context) error,
) (map[string]string, error) {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.NumCPU())
	g.Go(func() error { return also(gctx) })
	binaries := map[string]string{}
	for name, patch := range patches {
		path := filepath.Join(bin, name, "chatd")
		binaries[name] = path
		g.Go(func() error {
			if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
				return err
			}
			var err error
			if patch == "" {
				err = b.Build(gctx, b.Root, path)
			} else {
				err = b.Mutant(gctx, patch, path)
			}
			if err != nil {
				return fmt.Errorf("variant %s: %w", name, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return binaries, nil
}

// runVariant runs the suite on the variant's rows and judges the gate's verdict. It also
// returns the rows rejected unexpectedly on the machine's stalls (Outcome.TimingExtras).
func runVariant(ctx context.Context, v selftest.Variant, sut, suite, root, out string, catalogue []matrix.Row,
	opts options, logf func(string, ...any),
) (selftest.Outcome, []string) {
	start := time.Now()
	rows := selftest.Selection(v, catalogue, opts.all)
	dir := filepath.Join(out, v.Name)
	logf("%s: %d rows, %d expected rejected (%s)", v.Name, len(rows), countIn(rows, v.Reject), madeBy(v))
	spec := variantSpec(v, sut, rows, dir)
	reps, errs := together(ctx, []suiterun.Variant{spec}, suite, root, filepath.Join(dir, "suite"), min(opts.procs, len(rows)), opts)
	return judged(v, spec, reps[0], errs[0], time.Since(start), catalogue, logf)
}

// madeBy says how the variant is made and judged, in a few words.
func madeBy(v selftest.Variant) string {
	how := "patch " + v.Patch
	if v.Patch == "" {
		how = "env " + strings.Join(v.Env, " ")
	}
	if v.ContractOnly {
		how += ", gated as another implementation"
	}
	return how
}

// exitText describes how the suite ended.
func exitText(err error) string {
	if err == nil {
		return "exit 0"
	}
	return err.Error()
}

func countIn(ids, set []string) int {
	n := 0
	for _, id := range ids {
		if slices.Contains(set, id) {
			n++
		}
	}
	return n
}

// notes describes the run for the summary.
func notes(ctx context.Context, root string, opts options) []string {
	var out []string
	if c, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--short", "HEAD").Output(); err == nil {
		out = append(out, "Commit "+strings.TrimSpace(string(c))+".")
	}
	race := "without"
	if opts.race {
		race = "with"
	}
	out = append(out, "Service binaries built "+race+" the race detector.")
	if !opts.alerts {
		out = append(out, "Alert replay off ("+envAlerts+"=0): no variant targets alerts.")
	}
	return out
}

func goCmd(ctx context.Context, dir string, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	b, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(b)))
	}
	return nil
}

func list(stdout io.Writer) error {
	catalogue := matrix.Rows()
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIANT\tMADE BY\tREJECT\tSAMPLED ROWS\tBREAKS")
	for _, v := range selftest.Variants() {
		how := madeBy(v)
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", v.Name, how, len(v.Reject), len(selftest.Selection(v, catalogue, false)), v.Breaks)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, v := range selftest.Variants() {
		fmt.Fprintf(stdout, "\n%s: %s\n  rejects: %s\n", v.Name, v.Why, strings.Join(v.Reject, " "))
		if v.ContractOnly {
			fmt.Fprintf(stdout, "  differs from the reference service on: %s\n", strings.Join(v.Differs, " "))
		}
	}
	return nil
}

func edit(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return errors.New("edit: which variant?")
	}
	name := patchName(args[0])
	root, err := selftest.ModuleRoot(".")
	if err != nil {
		return err
	}
	dir, applied, err := selftest.Builder{Root: root}.Edit(ctx, name)
	if err != nil {
		return err
	}
	state := "with the patch applied"
	if !applied {
		state = "WITHOUT the whole patch: fix the rejected hunks (*.rej files), or write the mutant from scratch"
	}
	fmt.Fprintf(stdout, "A copy of service/ is in %s, %s.\nEdit it (git diff there shows the mutant), then run:\n"+
		"  go run ./scenarios/selftest/cmd/selftest save %s %s\n", dir, state, strings.TrimSuffix(name, ".patch"), dir)
	return nil
}

func save(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) != 2 {
		return errors.New("save: usage: save <variant> <dir>")
	}
	name := patchName(args[0])
	root, err := selftest.ModuleRoot(".")
	if err != nil {
		return err
	}
	if err := (selftest.Builder{Root: root}).Save(ctx, args[1], name); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s; it builds. Check the variant's expected rows, then remove %s.\n",
		filepath.Join(selftest.MutantDir, name), args[1])
	return nil
}

// patchName turns a variant name (or a patch file name) into its patch file name.
func patchName(s string) string {
	if v, ok := selftest.Lookup(s); ok && v.Patch != "" {
		return v.Patch
	}
	return strings.TrimSuffix(filepath.Base(s), ".patch") + ".patch"
}
