package scenarios_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline/chaos"
	"github.com/faultline/faultline/matrix"
	"github.com/faultline/faultline/matrix/alertreplay"
	"github.com/faultline/faultline/scenarios/internal/rowrun"
	"github.com/faultline/faultline/scenarios/internal/suiterun"
	"golang.org/x/sync/errgroup"
)

func TestMatrix(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "behaviour matrix")
}

// Alert replay (docs/alerts.md explains the time mapping): each sample stands for 30s of
// rule time, the scrape interval the rules are written for. A few healthy samples give the
// counters their baselines; the samples under the fault must outlast the longest `for`
// (ParticipantsDataStale, 15m: 31 samples, plus the few a slow first request delays its
// request rate by) and, in real time, MAX_HEALTH_INTERVAL (2s), after which a service with
// no chat traffic learns from its health probe that MAX is down: 70 samples 40ms apart.
const (
	alertStep     = 30 * time.Second
	alertHealthy  = 3
	alertFaulty   = 70
	alertInterval = 40 * time.Millisecond
)

// suite is the state shared by the specs of this process.
var suite struct {
	root, out string
	env       *chaos.Env
	replayEnv *chaos.Env
	runner    *rowrun.Runner
	redactor  *matrix.Redactor
	secrets   []string
	meta      map[string]string
	progress  *progressLog
}

// shared is what the first parallel process prepares once for every process of the run:
// one build of the service, and one set of credentials, so that every process knows every
// secret its report must not contain.
type shared struct {
	// Binary is the service built once for the run; empty when CHAOS_SUT_CMD names one.
	Binary     string `json:"binary"`
	BuildTime  string `json:"build_time"`
	DBPassword string `json:"db_password"`
	MaxToken   string `json:"max_token"`
}

var _ = SynchronizedBeforeSuite(func(ctx SpecContext) []byte {
	dir, err := os.MkdirTemp("", "faultline-matrix-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, dir)
	t0 := time.Now()
	bin, err := chaos.BuildSUT(ctx, dir)
	Expect(err).NotTo(HaveOccurred(), "build the service under test")
	sh := shared{Binary: bin, BuildTime: time.Since(t0).Round(time.Millisecond).String(),
		DBPassword: randomHex(12), MaxToken: randomHex(16)}
	b, err := json.Marshal(sh)
	Expect(err).NotTo(HaveOccurred())
	return b
}, func(ctx SpecContext, data []byte) {
	var sh shared
	Expect(json.Unmarshal(data, &sh)).To(Succeed())
	root, err := moduleRoot()
	Expect(err).NotTo(HaveOccurred())
	suite.root = root
	suite.out = outDir(root)
	suite.progress = openProgress(os.Getenv("MATRIX_PROGRESS"))
	suiteConfig, _ := GinkgoConfiguration()
	suite.meta = map[string]string{"go": runtime.Version(), "commit": commit(root),
		"procs": strconv.Itoa(suiteConfig.ParallelTotal)}
	if v := os.Getenv("CHAOS_SUT_ENV"); v != "" {
		suite.meta["sut_env"] = v
	}

	base := matrix.BaseEnv()
	var settings []string
	for _, k := range slices.Sorted(maps.Keys(base)) {
		settings = append(settings, k+"="+base[k])
	}
	opts := []chaos.Option{
		chaos.WithLogger(slog.New(slog.NewTextHandler(GinkgoWriter, &slog.HandlerOptions{Level: slog.LevelInfo}))),
		chaos.WithBaseSUTEnv(settings...),
		chaos.WithCredentials(sh.DBPassword, sh.MaxToken),
	}
	if sh.Binary != "" {
		opts = append(opts, chaos.WithSUTBinary(sh.Binary))
	}

	// The row's environment and, when alerts are replayed, the replay's own: both start at
	// once.
	replay, promtool := alertReplay(root)
	var replayEnv *chaos.Env
	var replayErr error
	var wg sync.WaitGroup
	if replay != nil {
		wg.Go(func() { replayEnv, replayErr = chaos.Start(ctx, opts...) })
	}
	env, err := chaos.Start(ctx, opts...)
	wg.Wait()
	if env != nil {
		suite.env = env
	}
	if replayEnv != nil {
		suite.replayEnv = replayEnv
	}
	Expect(err).NotTo(HaveOccurred(), "start the environment")
	Expect(replayErr).NotTo(HaveOccurred(), "start the alert replay's environment")
	suite.secrets = append(env.Secrets(), matrix.SecretsFromEnv(os.Environ())...)
	suite.redactor = matrix.NewRedactor(suite.secrets...)

	if replay != nil {
		replay.Env = replayEnv
		suite.meta["alert_replay"] = fmt.Sprintf("%d healthy + %d faulty samples, %s apart, each %s of rule time, in an environment of its own (%s)",
			alertHealthy, alertFaulty, alertInterval, alertStep, promtool)
	} else {
		suite.meta["alert_replay"] = "off (MATRIX_ALERTS=0)"
	}
	t := env.Timings()
	suite.meta["env_start"] = fmt.Sprintf("%s (containers %s, migrate %s, service ready %s; service build %s, once per run)",
		t.Start.Round(time.Millisecond), t.Containers.Round(time.Millisecond),
		t.Migrate.Round(time.Millisecond), t.SUTStart.Round(time.Millisecond), sh.BuildTime)
	images := env.Images()
	suite.meta["backend"] = env.Backend()
	suite.meta["images"] = fmt.Sprintf("postgres %s, redis %s", images[chaos.Postgres], images[chaos.Redis])
	suite.meta["sut"] = env.SUT()
	if runMode().Contract() {
		suite.meta["judged"] = "contract only (MATRIX_CONTRACT_ONLY=1)"
	}
	ttl, err := time.ParseDuration(base["PARTICIPANTS_CACHE_TTL"])
	Expect(err).NotTo(HaveOccurred())
	suite.runner = rowrun.New(env, rowrun.Config{Mode: runMode(), CacheTTL: ttl, Alerts: replay,
		Log: slog.New(slog.NewTextHandler(GinkgoWriter, nil))})
}, NodeTimeout(15*time.Minute))

// alertReplay configures the alert replay, or returns nil when MATRIX_ALERTS=0.
func alertReplay(root string) (*rowrun.AlertReplay, string) {
	if os.Getenv("MATRIX_ALERTS") == "0" {
		return nil, ""
	}
	promtool, err := exec.LookPath("promtool")
	Expect(err).NotTo(HaveOccurred(), "the alert replay needs promtool (apt-get install -y prometheus); MATRIX_ALERTS=0 skips it")
	return &rowrun.AlertReplay{
		Replayer: alertreplay.Replayer{RulesPath: filepath.Join(root, "deploy", "prometheus", "alerts.yml"),
			Promtool: promtool, Step: alertStep},
		Healthy: alertHealthy, Faulty: alertFaulty, Interval: alertInterval,
	}, promtool
}

var _ = SynchronizedAfterSuite(func() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The row's and the replay's environments close at once: an interrupted run must leave
	// nothing behind within seconds (scenarios/cmd/chaos's interrupt test).
	envs := []*chaos.Env{suite.env, suite.replayEnv}
	errs := make([]error, len(envs))
	var wg sync.WaitGroup
	for i, env := range envs {
		if env != nil {
			wg.Go(func() { errs[i] = env.Close(ctx) })
		}
	}
	wg.Wait()
	Expect(errors.Join(errs...)).To(Succeed(), "close the environments")
}, func() {})

// ReportAfterEach writes the row's line to the progress log, for a person watching the run.
var _ = ReportAfterEach(func(r SpecReport) {
	if r.State.Is(types.SpecStateSkipped) {
		return
	}
	suite.progress.add(r.LeafNodeText, r.State.String(), r.RunTime)
})

var _ = Describe("Behaviour matrix", func() {
	// The slowest rows are handed out first (the runner shuffles the rows, and Ginkgo orders
	// them by priority before the shuffle): a long row taken last would run on one process
	// while the others sit idle.
	timings, err := matrix.MeasuredTimings()
	if err != nil {
		panic(err)
	}
	priority := matrix.Priorities(matrix.Rows(), timings)
	var entries []TableEntry
	if variants == nil {
		for _, row := range matrix.Rows() {
			args := []any{Label(matrix.Labels(row)...), SpecTimeout(3 * time.Minute), SpecPriority(priority[row.ID]), row, (*suiterun.Variant)(nil)}
			entries = append(entries, Entry(row.ID, args...))
		}
	}
	// Every variant's rows, in the order of suiterun.Priorities: the long ones are the rows
	// that take at least twice the median row's time, and those a variant names long.
	byID := map[string]matrix.Row{}
	for _, row := range matrix.Rows() {
		byID[row.ID] = row
	}
	var specs []suiterun.Spec
	longOn := map[suiterun.Spec]bool{}
	for _, v := range variants {
		for _, id := range v.Long {
			longOn[suiterun.Spec{Variant: v.Name, Row: id}] = true
		}
		for _, id := range v.Rows {
			if _, ok := byID[id]; !ok {
				panic(fmt.Sprintf("%s: variant %s: no row %q", suiterun.EnvVariants, v.Name, id))
			}
			specs = append(specs, suiterun.Spec{Variant: v.Name, Row: id})
		}
	}
	median := int(timings.Median(matrix.Rows()).Milliseconds())
	long := func(s suiterun.Spec) bool { return longOn[s] || priority[s.Row] >= 2*median }
	order := suiterun.Priorities(specs, long)
	for i := range variants {
		v := &variants[i]
		for _, id := range v.Rows {
			row := byID[id]
			args := []any{Label(append(matrix.Labels(row), v.Label())...), SpecTimeout(3 * time.Minute),
				SpecPriority(order[suiterun.Spec{Variant: v.Name, Row: id}]), row, v}
			entries = append(entries, Entry(v.Name+" "+row.ID, args...))
		}
	}
	DescribeTable("row", func(ctx SpecContext, row matrix.Row, v *suiterun.Variant) {
		mode := runMode()
		var obs matrix.Observation
		if v == nil {
			obs = suite.runner.Run(ctx, row)
		} else {
			mode = matrix.ModeOf(v.ContractOnly)
			obs = runVariant(ctx, row, v, mode)
		}
		obs, err := matrix.Redact(suite.redactor, obs)
		Expect(err).NotTo(HaveOccurred(), "redact the observation")
		AddReportEntry(matrix.ObservationEntry, obs, ReportEntryVisibilityNever)
		AddReportEntry(resetEntry, suite.runner.LastReset(), ReportEntryVisibilityNever)
		if mm := matrix.Compare(row, obs, mode); len(mm) > 0 {
			lines := make([]string, len(mm))
			for i, m := range mm {
				lines[i] = m.String()
			}
			Fail(suite.redactor.String(fmt.Sprintf("%s: %d expectations not met:\n%s", row.ID, len(mm), strings.Join(lines, "\n"))))
		}
	}, entries)
})

// variants are the services of MATRIX_VARIANTS, run side by side in place of one
// (nil when it is unset).
var variants = func() []suiterun.Variant {
	path := os.Getenv(suiterun.EnvVariants)
	if path == "" {
		return nil
	}
	vs, err := suiterun.ReadVariants(path)
	if err != nil {
		panic(err)
	}
	return vs
}()

// runVariant runs the row against the variant's service, and clears the environment at
// its end (faults lifted, service stopped), so that an unclean exit is found in the
// variant's row and not in whichever variant's row this process runs next.
func runVariant(ctx context.Context, row matrix.Row, v *suiterun.Variant, mode matrix.Mode) matrix.Observation {
	if err := suite.env.UseSUT(v.Command, v.Env); err != nil {
		return matrix.Observation{RowID: row.ID, Failures: []string{err.Error()}}
	}
	obs := suite.runner.RunAs(ctx, row, mode)
	if err := suite.env.Clear(ctx); err != nil {
		obs.Failures = append(obs.Failures, "clear the environment after the row: "+err.Error())
	}
	return obs
}

// runMode is how the rows are judged: MATRIX_CONTRACT_ONLY=1 for another implementation.
func runMode() matrix.Mode {
	return matrix.ModeOf(os.Getenv(matrix.EnvContractOnly) == "1")
}

var _ = ReportAfterSuite("matrix report", func(r Report) {
	if suite.out == "" {
		root, err := moduleRoot()
		Expect(err).NotTo(HaveOccurred())
		suite.out = outDir(root)
	}
	meta := maps.Clone(suite.meta)
	if meta == nil {
		meta = map[string]string{"go": runtime.Version()}
	}
	// Ginkgo writes report.json from this same report after this node: prove, beside the
	// matrix report's building, that no secret is in it (observations and failure
	// messages were redacted). A run that writes none of Ginkgo's own reports (the
	// self-test's) has nothing to prove.
	var leaked []int
	var marshalErr error
	var wg sync.WaitGroup
	if _, rc := GinkgoConfiguration(); rc.WillGenerateReport() {
		wg.Go(func() {
			raw, err := json.Marshal(r)
			marshalErr = err
			for i, secret := range suite.secrets {
				if len(secret) >= 4 && bytes.Contains(raw, []byte(secret)) {
					leaked = append(leaked, i+1)
				}
			}
		})
	}
	if variants != nil {
		writeVariantReports(r, meta)
	} else {
		writeReport(r, suite.out, meta, runMode())
	}
	wg.Wait()
	Expect(marshalErr).NotTo(HaveOccurred())
	for _, i := range leaked {
		Fail(fmt.Sprintf("secret #%d of the environment is in the Ginkgo report; do not publish report.json", i))
	}
})

// writeReport writes the matrix report of the rows in r to dir.
func writeReport(r Report, dir string, meta map[string]string, mode matrix.Mode) {
	line, err := buildReport(r, dir, meta, mode)
	Expect(err).NotTo(HaveOccurred())
	fmt.Print(line)
}

// buildReport writes the matrix report of the rows in r to dir, and returns the line that
// sums it up.
func buildReport(r Report, dir string, meta map[string]string, mode matrix.Mode) (string, error) {
	meta["resets"] = resetSummary(resets(r))
	rep := matrix.BuildReport(matrix.Rows(), []types.Report{r}, matrix.ReportOptions{Meta: meta, Mode: mode, Secrets: suite.secrets})
	if err := matrix.WriteFiles(dir, rep); err != nil {
		return "", err
	}
	s := rep.Summary
	return fmt.Sprintf("\nmatrix: %d passed, %d failed, %d skipped, %d missing of %d rows; wrote %s\n",
		s.Passed, s.Failed, s.Skipped, s.Missing, s.Total, filepath.Join(dir, "matrix.{json,md,html}")), nil
}

// writeVariantReports writes each variant's report to its directory, from its own specs
// and every node of the suite (a failed BeforeSuite fails every variant's run), as many
// at once as there are cores: the run waits for them all.
func writeVariantReports(r Report, meta map[string]string) {
	// Each variant's specs, in the run's order, in one pass over them: a spec goes to the
	// variant its label names, each of the suite's nodes to every variant.
	byLabel := make(map[string][]types.SpecReport, len(variants))
	for _, sp := range r.SpecReports {
		if !sp.LeafNodeType.Is(types.NodeTypeIt) {
			for _, v := range variants {
				byLabel[v.Label()] = append(byLabel[v.Label()], sp)
			}
			continue
		}
		for _, l := range sp.Labels() {
			if strings.HasPrefix(l, suiterun.LabelVariant+":") {
				byLabel[l] = append(byLabel[l], sp)
			}
		}
	}
	lines := make([]string, len(variants))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, v := range variants {
		vr := r
		vr.SpecReports = byLabel[v.Label()]
		vm := maps.Clone(meta)
		vm["sut"] = strings.Join(v.Command, " ")
		if len(v.Env) > 0 {
			vm["sut_env"] = strings.Join(slices.Concat(strings.Fields(meta["sut_env"]), v.Env), " ")
		}
		if v.ContractOnly {
			vm["judged"] = "contract only"
		}
		maps.Copy(vm, v.Meta)
		g.Go(func() error {
			line, err := buildReport(vr, v.Out, vm, matrix.ModeOf(v.ContractOnly))
			lines[i] = v.Name + ":" + line
			return err
		})
	}
	err := g.Wait()
	fmt.Print(strings.Join(lines, ""))
	Expect(err).NotTo(HaveOccurred())
}

// moduleRoot is MATRIX_ROOT, set by the runner, or else the first directory with a go.mod
// above the working directory (go test runs in the package's).
func moduleRoot() (string, error) {
	if root := os.Getenv("MATRIX_ROOT"); root != "" {
		return root, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
		dir = parent
	}
}

// outDir is MATRIX_OUT, relative to the module root, or out/ there.
func outDir(root string) string {
	out := os.Getenv("MATRIX_OUT")
	switch {
	case out == "":
		return filepath.Join(root, "out")
	case filepath.IsAbs(out):
		return out
	}
	return filepath.Join(root, out)
}

// commit names the tested source: GITHUB_SHA in CI, else git's HEAD, marked when the work
// tree has uncommitted changes.
func commit(root string) string {
	if sha := os.Getenv("GITHUB_SHA"); sha != "" {
		return sha
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if err := exec.CommandContext(ctx, "git", "-C", root, "diff", "--quiet", "HEAD").Run(); err != nil {
		c += " (with uncommitted changes)"
	}
	return c
}

// resetEntry is the report entry that carries how long the row's reset took, so the first
// process can summarise the resets of every process.
const resetEntry = "matrix.reset"

// resets collects the reset durations of every row of the report.
func resets(r Report) []time.Duration {
	var out []time.Duration
	for _, sp := range r.SpecReports {
		for _, e := range sp.ReportEntries {
			if e.Name != resetEntry {
				continue
			}
			// In process the entry holds the value; read back from another process, its JSON.
			d, ok := e.Value.GetRawValue().(time.Duration)
			if !ok && json.Unmarshal([]byte(e.Value.AsJSON), &d) != nil {
				continue
			}
			if d > 0 {
				out = append(out, d)
			}
		}
	}
	return out
}

func resetSummary(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return fmt.Sprintf("%d resets, median %s, max %s", len(s), s[len(s)/2].Round(time.Millisecond), s[len(s)-1].Round(time.Millisecond))
}
