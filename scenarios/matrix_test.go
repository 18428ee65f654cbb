package scenarios_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline/chaos"
	"github.com/faultline/faultline/matrix"
	"github.com/faultline/faultline/matrix/alertreplay"
	"github.com/faultline/faultline/scenarios/internal/rowrun"
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
	runner    *rowrun.Runner
	redactor  *matrix.Redactor
	secrets   []string
	meta      map[string]string
}

var _ = BeforeSuite(func(ctx SpecContext) {
	root, err := moduleRoot()
	Expect(err).NotTo(HaveOccurred())
	suite.root = root
	suite.out = outDir(root)
	suite.meta = map[string]string{"go": runtime.Version(), "commit": commit(root)}
	if v := os.Getenv("CHAOS_SUT_ENV"); v != "" {
		suite.meta["sut_env"] = v
	}

	var replay *rowrun.AlertReplay
	if os.Getenv("MATRIX_ALERTS") != "0" {
		promtool, err := exec.LookPath("promtool")
		Expect(err).NotTo(HaveOccurred(), "the alert replay needs promtool (apt-get install -y prometheus); MATRIX_ALERTS=0 skips it")
		replay = &rowrun.AlertReplay{
			Replayer: alertreplay.Replayer{RulesPath: filepath.Join(root, "deploy", "prometheus", "alerts.yml"),
				Promtool: promtool, Step: alertStep},
			Healthy: alertHealthy, Faulty: alertFaulty, Interval: alertInterval,
		}
		suite.meta["alert_replay"] = fmt.Sprintf("%d healthy + %d faulty samples, %s apart, each %s of rule time",
			alertHealthy, alertFaulty, alertInterval, alertStep)
	} else {
		suite.meta["alert_replay"] = "off (MATRIX_ALERTS=0)"
	}

	base := matrix.BaseEnv()
	var settings []string
	for _, k := range slices.Sorted(maps.Keys(base)) {
		settings = append(settings, k+"="+base[k])
	}
	env, err := chaos.Start(ctx,
		chaos.WithReporter(GinkgoT()),
		chaos.WithLogger(slog.New(slog.NewTextHandler(GinkgoWriter, &slog.HandlerOptions{Level: slog.LevelInfo}))),
		chaos.WithBaseSUTEnv(settings...),
	)
	Expect(err).NotTo(HaveOccurred(), "start the environment")
	suite.env = env
	suite.secrets = append(env.Secrets(), matrix.SecretsFromEnv(os.Environ())...)
	suite.redactor = matrix.NewRedactor(suite.secrets...)

	t := env.Timings()
	suite.meta["env_start"] = fmt.Sprintf("%s (containers %s, build %s, migrate %s, service ready %s)",
		t.Start.Round(time.Millisecond), t.Containers.Round(time.Millisecond), t.Build.Round(time.Millisecond),
		t.Migrate.Round(time.Millisecond), t.SUTStart.Round(time.Millisecond))
	images := env.Images()
	suite.meta["images"] = fmt.Sprintf("postgres %s, redis %s", images[chaos.Postgres], images[chaos.Redis])
	suite.meta["sut"] = env.SUT()
	contractOnly := os.Getenv("MATRIX_CONTRACT_ONLY") == "1"
	if contractOnly {
		suite.meta["judged"] = "contract only (MATRIX_CONTRACT_ONLY=1)"
	}
	ttl, err := time.ParseDuration(base["PARTICIPANTS_CACHE_TTL"])
	Expect(err).NotTo(HaveOccurred())
	suite.runner = rowrun.New(env, rowrun.Config{ContractOnly: contractOnly, CacheTTL: ttl, Alerts: replay,
		Log: slog.New(slog.NewTextHandler(GinkgoWriter, nil))})
}, NodeTimeout(15*time.Minute))

var _ = AfterSuite(func() {
	if suite.env == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	Expect(suite.env.Close(ctx)).To(Succeed(), "close the environment")
})

var _ = Describe("Behaviour matrix", func() {
	var entries []TableEntry
	for _, row := range matrix.Rows() {
		entries = append(entries, Entry(row.ID, Label(matrix.Labels(row)...), SpecTimeout(3*time.Minute), row))
	}
	DescribeTable("row", func(ctx SpecContext, row matrix.Row) {
		obs := suite.runner.Run(ctx, row)
		obs, err := matrix.Redact(suite.redactor, obs)
		Expect(err).NotTo(HaveOccurred(), "redact the observation")
		AddReportEntry(matrix.ObservationEntry, obs, ReportEntryVisibilityNever)
		if mm := matrix.Compare(row, obs); len(mm) > 0 {
			lines := make([]string, len(mm))
			for i, m := range mm {
				lines[i] = m.String()
			}
			Fail(suite.redactor.String(fmt.Sprintf("%s: %d expectations not met:\n%s", row.ID, len(mm), strings.Join(lines, "\n"))))
		}
	}, entries)
})

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
	if suite.runner != nil {
		meta["resets"] = resetSummary(suite.runner.Resets())
	}
	rep := matrix.BuildReport(matrix.Rows(), []types.Report{r}, matrix.ReportOptions{Meta: meta, Secrets: suite.secrets})
	Expect(matrix.WriteFiles(suite.out, rep)).To(Succeed())
	s := rep.Summary
	fmt.Printf("\nmatrix: %d passed, %d failed, %d skipped, %d missing of %d rows; wrote %s\n",
		s.Passed, s.Failed, s.Skipped, s.Missing, s.Total, filepath.Join(suite.out, "matrix.{json,md,html}"))
	// Ginkgo writes report.json and junit.xml from this same report after this node: prove
	// that no secret is in it (observations and failure messages were redacted).
	raw, err := json.Marshal(r)
	Expect(err).NotTo(HaveOccurred())
	for i, secret := range suite.secrets {
		if len(secret) >= 4 && bytes.Contains(raw, []byte(secret)) {
			Fail(fmt.Sprintf("secret #%d of the environment is in the Ginkgo report; do not publish report.json or junit.xml", i+1))
		}
	}
})

// moduleRoot walks up from the working directory (go test runs in the package's) to go.mod.
func moduleRoot() (string, error) {
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

func resetSummary(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return fmt.Sprintf("%d resets, median %s, max %s", len(s), s[len(s)/2].Round(time.Millisecond), s[len(s)-1].Round(time.Millisecond))
}
