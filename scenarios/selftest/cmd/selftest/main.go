// Command selftest runs the behaviour matrix against deliberately broken variants of the
// reference service and passes only when the gate rejects each variant on exactly the rows
// expected (see scenarios/selftest/README.md).
//
//	selftest [run] [-variants a,b] [-sample] [-alerts] [-parallel 4] [-procs 4] [-out out/selftest] [-race] [-timeout 30m] [-v] [-build-only]
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
	"maps"
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
	"github.com/onsi/ginkgo/v2/types"
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
	// envSUTEnv holds run-wide KEY=VALUE overrides for every start of the service.
	envSUTEnv = "CHAOS_SUT_ENV"
	// envAlerts=0 skips the alert replay, a second pass over every row's fault.
	envAlerts = "MATRIX_ALERTS"
	// envContractOnly=1 judges the rows against the contract only.
	envContractOnly = "MATRIX_CONTRACT_ONLY"
)

const usage = `usage:
  selftest [run] [-variants a,b] [-sample] [-alerts] [-parallel n] [-procs n] [-out dir] [-race] [-timeout d] [-v] [-build-only]
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
	// buildOnly stops after the build.
	buildOnly bool
}

// dockerProcs is the processes of a variant's suite on the Docker backend, as make chaos's.
const dockerProcs = 3

// Variants run at the same time on the process backend, as measured on two cores
// (README): every row of the 27 variants took 12m44s two at a time, 8m49s three at a time
// and 7m0s four at a time (the cores 80% busy; five of three processes each, 7m8s). The
// sample runs beside the soak's self-test in make test, which leaves less: three at a time
// there (3m4s against 3m46s) saturated the cores, and a fresh-clone CI saw the reference
// service drop a refresh whose rate-limit slots it woke for too late three times
// (participants_refresh_dropped_total{reason="local_rate_limit"}), failing
// redis-up.max-up.cache-stale; at four, a variant without a MAX rate limit was not caught.
const (
	defaultParallel       = 4
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
	parallel := fs.Int("parallel", defaultParallel, fmt.Sprintf("variants run at the same time (%d with -sample; 1 on Docker)", defaultParallelSample))
	procs := fs.Int("procs", 4, "parallel processes of each variant's suite, each with its own environment")
	alerts := fs.Bool("alerts", false, "replay each row's alerts too (twice the time; no variant targets alerts)")
	buildOnly := fs.Bool("build-only", false, "build the suite and the variants' binaries, and run nothing")
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
	o := options{all: !*sample, out: *out, race: *race, timeout: *timeout, verbose: *verbose, alerts: *alerts, parallel: *parallel, procs: *procs, buildOnly: *buildOnly}
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
	// Variants run in parallel: a run mostly waits (for background work to land, breakers to
	// cool down, recovery), and each has its own containers, proxies and service.
	sum.Outcomes = make([]selftest.Outcome, len(opts.variants))
	timing := make([][]string, len(opts.variants))
	sem := make(chan struct{}, opts.parallel)
	var wg sync.WaitGroup
	for i, v := range opts.variants {
		sem <- struct{}{}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			sum.Outcomes[i], timing[i] = runVariant(ctx, v, binaries[v.Name], suite, root, out, catalogue, opts, logf)
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	// Rows rejected unexpectedly on latency alone run again, one at a time, with nothing
	// beside them: the variant's verdict must not hang on a stall of the shared machine.
	for i, v := range opts.variants {
		for _, id := range timing[i] {
			alone := runAlone(ctx, v, id, binaries[v.Name], suite, root, out, catalogue, opts, logf)
			sum.Outcomes[i].RanAgainAlone(id, alone)
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
// returns the rows rejected unexpectedly on latency alone (Outcome.TimingExtras).
func runVariant(ctx context.Context, v selftest.Variant, sut, suite, root, out string, catalogue []matrix.Row,
	opts options, logf func(string, ...any),
) (selftest.Outcome, []string) {
	start := time.Now()
	rows := selftest.Selection(v, catalogue, opts.all)
	dir := filepath.Join(out, v.Name)
	logf("%s: %d rows, %d expected rejected (%s)", v.Name, len(rows), countIn(rows, v.Reject), madeBy(v))
	rep, err := runSuite(ctx, v, rows, sut, suite, root, dir, catalogue, opts, opts.procs)
	if err != nil {
		o := selftest.Outcome{Variant: v.Name, Ran: rows, Errors: []string{err.Error()}, Dir: dir}
		o.Duration = time.Since(start)
		logf("%s: %s (%s)", v.Name, o.Verdict(), err)
		return o, nil
	}
	o := selftest.Judge(v, rows, rep, catalogue)
	o.Dir = dir
	o.Duration = time.Since(start)
	logf("%s: %s in %s: rejected %d rows, %d expected", v.Name, o.Verdict(), o.Duration.Round(time.Second),
		len(o.Rejected), len(o.Expected))
	return o, o.TimingExtras(rep)
}

// runAlone runs one row of the variant again, on one process, and returns its result as the
// gate judged it: passed only when the gate has nothing against it.
func runAlone(ctx context.Context, v selftest.Variant, id, sut, suite, root, out string, catalogue []matrix.Row,
	opts options, logf func(string, ...any),
) matrix.RowResult {
	dir := filepath.Join(out, v.Name, "alone", id)
	logf("%s: %s rejected on latency alone; running it again alone", v.Name, id)
	rep, err := runSuite(ctx, v, []string{id}, sut, suite, root, dir, catalogue, opts, 1)
	if err != nil {
		return matrix.RowResult{ID: id, Result: matrix.ResultMissing, Reason: err.Error()}
	}
	r := matrix.RowResult{ID: id, Result: matrix.ResultMissing, Reason: "absent from the report"}
	for _, row := range rep.Rows {
		if row.ID == id {
			r = row
		}
	}
	if o := selftest.Judge(v, []string{id}, rep, catalogue); r.Result == matrix.ResultPassed && !o.OK() {
		r.Result, r.Reason = matrix.ResultFailed, strings.Join(slices.Concat(o.Details, o.Errors), "; ")
	}
	logf("%s: %s run again alone: %s", v.Name, id, r.Result)
	return r
}

// runSuite runs the suite on rows of the variant with procs processes, writes the matrix
// report into dir and returns it.
func runSuite(ctx context.Context, v selftest.Variant, rows []string, sut, suite, root, dir string, catalogue []matrix.Row,
	opts options, procs int,
) (matrix.Report, error) {
	if err := os.RemoveAll(dir); err != nil {
		return matrix.Report{}, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "suite"), 0o750); err != nil {
		return matrix.Report{}, err
	}
	suiteDir := filepath.Join(dir, "suite")
	env := []string{envSUTCommand + "=" + sut}
	if len(v.Env) > 0 {
		env = append(env, envSUTEnv+"="+strings.Join(v.Env, " "))
	}
	if !opts.alerts {
		env = append(env, envAlerts+"=0")
	}
	contractOnly := "0"
	if v.ContractOnly {
		contractOnly = "1"
	}
	env = append(env, envContractOnly+"="+contractOnly)
	runErr := suiterun.Run(ctx, suiterun.Options{
		Suite: suite, Dir: root, Out: suiteDir, Procs: min(procs, len(rows)),
		LabelFilter: selftest.LabelFilter(rows, catalogue), Rows: len(rows),
		Timeout: opts.timeout, Env: env, Verbose: opts.verbose,
	})
	// The suite fails whenever a row does, which is the point here; only a missing report
	// means it did not run.
	suites, err := readGinkgo(filepath.Join(suiteDir, suiterun.FileGinkgoJSON))
	if err != nil {
		return matrix.Report{}, fmt.Errorf("no suite report (suite: %s; see %s): %w", exitText(runErr),
			filepath.Join(suiteDir, suiterun.FileLog), err)
	}
	// The suite's own report knows the environment (images, start-up times, the service
	// binary); keep that, and say which variant ran.
	meta := suiteMeta(filepath.Join(suiteDir, matrix.FileJSON))
	maps.Copy(meta, map[string]string{
		"selftest_variant": v.Name,
		"selftest_breaks":  v.Breaks,
		"selftest_made_by": madeBy(v),
		"go":               runtime.Version(),
		"generated":        time.Now().UTC().Format(time.RFC3339),
	})
	rep := matrix.BuildReport(catalogue, suites, matrix.ReportOptions{
		Meta:    meta,
		Mode:    v.Mode(),
		Secrets: matrix.SecretsFromEnv(os.Environ()),
	})
	if err := matrix.WriteFiles(dir, rep); err != nil {
		return matrix.Report{}, err
	}
	return rep, nil
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

// suiteMeta returns the run metadata of the report the suite wrote itself, or an empty map.
func suiteMeta(path string) map[string]string {
	meta := map[string]string{}
	f, err := os.Open(path)
	if err != nil {
		return meta
	}
	defer f.Close()
	if rep, err := matrix.ReadReport(f); err == nil {
		maps.Copy(meta, rep.Summary.Run.Meta)
	}
	return meta
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

func readGinkgo(path string) ([]types.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return matrix.ReadGinkgoReport(f)
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
