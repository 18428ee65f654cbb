package matrix

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// Secrets the fixture run leaks on purpose; no report may contain them.
const (
	fixtureToken      = "s3cr3t-max-token-0123"
	fixtureDBPassword = "pg-pass-9876"
)

// fixtureCatalogue is a slice of the real catalogue, so the goldens show real rows.
func fixtureCatalogue(t *testing.T) []Row {
	t.Helper()
	var out []Row
	for _, id := range []string{
		"redis-up.max-up.cache-fresh",   // passes
		"redis-down.max-up.cache-fresh", // spec passed, but the observation shows a cache source
		"postgres-down.list",            // spec failed, observation without Retry-After
		"recovery.redis-down",           // spec timed out, no observation
		"health.all-up",                 // pending
		"refresh.max-up",                // skipped on purpose
		"refresh.max-down",              // filtered out
		"redis-up.max-up.cache-stale",   // no spec at all
	} {
		out = append(out, row(t, id))
	}
	return out
}

// spec builds the SpecReport a DescribeTable entry of the row produces.
func spec(t *testing.T, r Row, state types.SpecState, obs *Observation, failure string) types.SpecReport {
	t.Helper()
	sp := types.SpecReport{
		ContainerHierarchyTexts: []string{"behaviour matrix"},
		LeafNodeType:            types.NodeTypeIt,
		LeafNodeText:            r.ID + ": " + r.Title,
		LeafNodeLabels:          Labels(r),
		State:                   state,
		StartTime:               t0,
		EndTime:                 t0.Add(2 * time.Second),
		RunTime:                 2 * time.Second,
		Failure:                 types.Failure{Message: failure},
	}
	if obs != nil {
		// As Ginkgo stores it: the value's JSON.
		b, err := json.Marshal(obs)
		if err != nil {
			t.Fatal(err)
		}
		var v types.ReportEntryValue
		wrapped, _ := json.Marshal(map[string]string{"AsJSON": string(b), "Representation": ""})
		if err := json.Unmarshal(wrapped, &v); err != nil {
			t.Fatal(err)
		}
		sp.ReportEntries = types.ReportEntries{{Name: "other entry"}, {Name: ObservationEntry, Value: v}}
	}
	return sp
}

func fixtureSuites(t *testing.T) []types.Report {
	t.Helper()
	cat := fixtureCatalogue(t)
	pass := perfect(cat[0])
	pass.Latency.Max = 40 * time.Millisecond

	wrongSource := perfect(cat[1])
	wrongSource.Chats[0].Source = SourceCache
	wrongSource.Logs = append(wrongSource.Logs, LogEvent{Time: wrongSource.Phases.Start, Level: "WARN", Msg: LogCacheFailed,
		Attrs: map[string]any{"error": "dial tcp: auth " + fixtureToken, "max_api_token": "x" + fixtureToken}})
	wrongSource.Headers = map[string]string{"Authorization": fixtureToken}

	noRetryAfter := perfect(cat[2])
	noRetryAfter.Headers = nil
	noRetryAfter.Failures = []string{"connect postgres://faultline:" + fixtureDBPassword + "@127.0.0.1:5432/chats: refused"}

	specs := []types.SpecReport{
		{LeafNodeType: types.NodeTypeBeforeSuite, State: types.SpecStatePassed},
		spec(t, cat[0], types.SpecStatePassed, &pass, ""),
		spec(t, cat[1], types.SpecStatePassed, &wrongSource, ""),
		spec(t, cat[2], types.SpecStateFailed, &noRetryAfter, "Expected Retry-After\nfull gomega output"),
		spec(t, cat[3], types.SpecStateTimedout, nil, "A node timeout occurred"),
		spec(t, cat[4], types.SpecStatePending, nil, ""),
		spec(t, cat[5], types.SpecStateSkipped, nil, "fake MAX cannot do this yet"),
		spec(t, cat[6], types.SpecStateSkipped, nil, ""),
		spec(t, Row{ID: "no-such.row", Title: "renamed"}, types.SpecStatePassed, nil, ""),
		{LeafNodeType: types.NodeTypeIt, LeafNodeText: "an ordinary spec", State: types.SpecStatePassed},
		{LeafNodeType: types.NodeTypeAfterSuite, State: types.SpecStateFailed,
			Failure: types.Failure{Message: "service exited with status 2 (DATABASE_URL=postgres://u:" + fixtureDBPassword + "@h/db)"}},
	}
	specs[2].RunTime = 9 * time.Second
	return []types.Report{{
		SuiteDescription: "Scenarios", SuiteSucceeded: false,
		StartTime: t0, EndTime: t0.Add(95 * time.Second), RunTime: 95 * time.Second,
		SpecReports: specs,
	}}
}

func fixtureReport(t *testing.T) Report {
	t.Helper()
	return BuildReport(fixtureCatalogue(t), fixtureSuites(t), ReportOptions{
		Meta:    map[string]string{"commit": "0123abc", "go": "go1.26.8", "images": "faultline-offline/postgres:15, faultline-offline/redis:7"},
		Secrets: []string{fixtureToken, fixtureDBPassword},
	})
}

func TestBuildReportJudgesEveryKindOfSpec(t *testing.T) {
	rep := fixtureReport(t)
	want := map[string]Result{
		"redis-up.max-up.cache-fresh":   ResultPassed,
		"redis-down.max-up.cache-fresh": ResultFailed,
		"postgres-down.list":            ResultFailed,
		"recovery.redis-down":           ResultFailed,
		"health.all-up":                 ResultSkipped,
		"refresh.max-up":                ResultSkipped,
		"refresh.max-down":              ResultMissing,
		"redis-up.max-up.cache-stale":   ResultMissing,
	}
	for _, r := range rep.Rows {
		if r.Result != want[r.ID] {
			t.Errorf("%s: %s (%s), want %s", r.ID, r.Result, r.Reason, want[r.ID])
		}
	}
	s := rep.Summary
	if s.Total != 8 || s.Passed != 1 || s.Failed != 3 || s.Skipped != 2 || s.Missing != 2 {
		t.Errorf("summary %+v", s)
	}
	if len(s.Unknown) != 1 || s.Unknown[0] != "no-such.row" {
		t.Errorf("unknown %v", s.Unknown)
	}
	if len(s.Run.SuiteFailures) != 1 || !strings.Contains(s.Run.SuiteFailures[0], "AfterSuite") {
		t.Errorf("suite failures %v", s.Run.SuiteFailures)
	}
	if rep.Passed() {
		t.Error("report passed")
	}
	byID := map[string]RowResult{}
	for _, r := range rep.Rows {
		byID[r.ID] = r
	}
	// A spec that passed while the observation disagrees still fails the row, in the right cell.
	r := byID["redis-down.max-up.cache-fresh"]
	if r.Cells[FieldChats] != CellFail || r.Cells[FieldStatus] != CellPass || r.Cells[FieldHealth] != CellNone {
		t.Errorf("cells %v", r.Cells)
	}
	// A failed spec without an observation fails in the run column and leaves the rest unknown.
	r = byID["recovery.redis-down"]
	if r.Cells[FieldRun] != CellFail || r.Cells[FieldChats] != CellUnknown || !strings.Contains(r.Reason, "timedout") {
		t.Errorf("timed-out row: %s %v", r.Reason, r.Cells)
	}
	if r := byID["health.all-up"]; r.Cells[FieldStatus] != CellNotRun || r.Reason != "pending" {
		t.Errorf("pending row: %s %v", r.Reason, r.Cells)
	}
	if s.Slowest[0].ID != "redis-down.max-up.cache-fresh" {
		t.Errorf("slowest %v", s.Slowest)
	}
}

func TestBuildReportFailsAPassedSpecWithoutObservation(t *testing.T) {
	r := row(t, "redis-up.max-up.cache-fresh")
	rep := BuildReport([]Row{r}, []types.Report{{SpecReports: []types.SpecReport{spec(t, r, types.SpecStatePassed, nil, "")}}}, ReportOptions{})
	if got := rep.Rows[0]; got.Result != ResultFailed || got.Cells[FieldRun] != CellFail {
		t.Errorf("%s %s %v", got.Result, got.Reason, got.Cells)
	}
}

func TestBuildReportReadsTheInProcessReport(t *testing.T) {
	// ReportAfterSuite receives entries holding the value itself, without AsJSON.
	r := row(t, "redis-up.max-up.cache-fresh")
	ok := perfect(r)
	sp := spec(t, r, types.SpecStatePassed, nil, "")
	sp.ReportEntries = types.ReportEntries{{Name: ObservationEntry, Value: types.WrapEntryValue(ok)}}
	rep := BuildReport([]Row{r}, []types.Report{{SpecReports: []types.SpecReport{sp}}}, ReportOptions{})
	if got := rep.Rows[0]; got.Result != ResultPassed || got.Observed == nil || got.Observed.RowID != r.ID {
		t.Errorf("%s %s %v", got.Result, got.Reason, got.Mismatches)
	}
}

func TestBuildReportTakesTheWorstOfDuplicateSpecs(t *testing.T) {
	r := row(t, "redis-up.max-up.cache-fresh")
	ok := perfect(r)
	rep := BuildReport([]Row{r}, []types.Report{{SpecReports: []types.SpecReport{
		spec(t, r, types.SpecStatePassed, &ok, ""),
		spec(t, r, types.SpecStateFailed, &ok, "boom"),
	}}}, ReportOptions{})
	if got := rep.Rows[0]; got.Result != ResultFailed || got.Specs != 2 || !strings.Contains(got.Reason, "2 specs") {
		t.Errorf("%s %d %q", got.Result, got.Specs, got.Reason)
	}
}

func TestReportsNeverContainSecrets(t *testing.T) {
	rep := fixtureReport(t)
	for name, write := range map[string]func(*bytes.Buffer, Report) error{
		"json": func(b *bytes.Buffer, r Report) error { return WriteJSON(b, r) },
		"md":   func(b *bytes.Buffer, r Report) error { return WriteMarkdown(b, r) },
		"html": func(b *bytes.Buffer, r Report) error { return WriteHTML(b, r) },
	} {
		var b bytes.Buffer
		if err := write(&b, rep); err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{fixtureToken, fixtureDBPassword} {
			if strings.Contains(b.String(), secret) {
				t.Errorf("%s report contains %q", name, secret)
			}
		}
	}
	// Without being told the secrets, the patterns still catch the URL password.
	bare := BuildReport(fixtureCatalogue(t), fixtureSuites(t), ReportOptions{})
	var b bytes.Buffer
	if err := WriteJSON(&b, bare); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), fixtureDBPassword) {
		t.Error("URL password survives without explicit secrets")
	}
	if strings.Contains(b.String(), `"x`+fixtureToken) {
		t.Error("a member named like a token survives without explicit secrets")
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./matrix -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; if the change is intended, run go test ./matrix -update and review the diff.\n%s",
			name, firstDifference(string(want), string(got)))
	}
}

func firstDifference(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(wl), len(gl)) {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + itoa(i+1) + ":\n- " + w + "\n+ " + g
		}
	}
	return ""
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestMarkdownGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMarkdown(&b, fixtureReport(t)); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.golden.md", b.Bytes())
}

func TestJSONGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, fixtureReport(t)); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.golden.json", b.Bytes())
	// The file answers the shape the issue promises and reads back.
	var shape struct {
		Rows []struct {
			ID       string          `json:"id"`
			Given    json.RawMessage `json:"given"`
			Expected json.RawMessage `json:"expected"`
			Observed json.RawMessage `json:"observed"`
			Result   string          `json:"result"`
		} `json:"rows"`
		Summary json.RawMessage `json:"summary"`
	}
	if err := json.Unmarshal(b.Bytes(), &shape); err != nil {
		t.Fatal(err)
	}
	if len(shape.Rows) != 8 || shape.Rows[0].Result != "passed" || len(shape.Rows[0].Given) < 10 ||
		len(shape.Rows[0].Expected) < 10 || len(shape.Rows[0].Observed) < 10 || len(shape.Summary) < 10 {
		t.Errorf("unexpected shape: %d rows", len(shape.Rows))
	}
	back, err := ReadReport(&b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Summary.Failed != 3 || back.Rows[1].Mismatches[0].Field != FieldChats {
		t.Errorf("read back %+v", back.Summary)
	}
}

func TestWriteFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	if err := WriteFiles(dir, fixtureReport(t)); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{FileJSON, FileMarkdown, FileHTML} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestReadGinkgoReport(t *testing.T) {
	b, err := json.Marshal(fixtureSuites(t))
	if err != nil {
		t.Fatal(err)
	}
	suites, err := ReadGinkgoReport(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	rep := BuildReport(fixtureCatalogue(t), suites, ReportOptions{})
	if rep.Summary.Passed != 1 || rep.Summary.Failed != 3 {
		t.Errorf("after a JSON round trip: %+v", rep.Summary)
	}
	if _, err := ReadGinkgoReport(strings.NewReader("{")); err == nil {
		t.Error("bad JSON accepted")
	}
}

func TestMergedShardsCountARowOnceWhereItRan(t *testing.T) {
	a, b := row(t, "redis-up.max-up.cache-fresh"), row(t, "redis-down.max-up.cache-fresh")
	pa, pb := perfect(a), perfect(b)
	shard1 := types.Report{SuiteDescription: "shard 1", SpecReports: types.SpecReports{
		spec(t, a, types.SpecStatePassed, &pa, ""), spec(t, b, types.SpecStateSkipped, nil, ""),
	}}
	shard2 := types.Report{SuiteDescription: "shard 2", SpecReports: types.SpecReports{
		spec(t, a, types.SpecStateSkipped, nil, ""), spec(t, b, types.SpecStatePassed, &pb, ""),
	}}
	rep := BuildReport([]Row{a, b}, []types.Report{shard1, shard2}, ReportOptions{})
	for _, rr := range rep.Rows {
		if rr.Result != ResultPassed || rr.Specs != 1 || rr.Reason != "" {
			t.Errorf("%s: result %s, %d specs, reason %q; want passed by the one spec that ran", rr.ID, rr.Result, rr.Specs, rr.Reason)
		}
	}
	// A shard that is missing leaves its rows missing.
	rep = BuildReport([]Row{a, b}, []types.Report{shard1}, ReportOptions{})
	if rep.Rows[1].Result != ResultMissing {
		t.Errorf("%s without its shard: %s, want missing", b.ID, rep.Rows[1].Result)
	}
}
