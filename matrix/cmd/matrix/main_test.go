package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/matrix"
	"github.com/onsi/ginkgo/v2/types"
)

func runCmd(t *testing.T, environ []string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut, environ)
	return code, out.String(), errOut.String()
}

func TestList(t *testing.T) {
	rows := matrix.Rows()
	code, out, _ := runCmd(t, nil, "list")
	if code != 0 || !strings.HasPrefix(out, "ID") || !strings.Contains(out, rows[0].ID) || !strings.Contains(out, "group:cache") {
		t.Errorf("list: %d\n%s", code, out)
	}
	code, out, _ = runCmd(t, nil, "list", "-ids")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != 0 || len(lines) != len(rows) || lines[0] != rows[0].ID {
		t.Errorf("list -ids: %d, %d lines", code, len(lines))
	}
	code, out, _ = runCmd(t, nil, "list", "-json")
	var got []matrix.Row
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != 0 || len(got) != len(rows) {
		t.Errorf("list -json: %d %v", code, err)
	}
}

// writeGinkgoReport writes a Ginkgo JSON report in which one row's spec failed, leaking a
// secret in its failure message, and every other row is absent.
func writeGinkgoReport(t *testing.T, dir string) string {
	t.Helper()
	r := matrix.Rows()[0]
	start := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	suites := []types.Report{{
		SuiteDescription: "Scenarios", StartTime: start, EndTime: start.Add(time.Minute), RunTime: time.Minute,
		SpecReports: []types.SpecReport{{
			LeafNodeType: types.NodeTypeIt, LeafNodeText: r.ID, LeafNodeLabels: matrix.Labels(r),
			State: types.SpecStateFailed, RunTime: time.Second,
			Failure: types.Failure{Message: "service said: token envtoken123 rejected"},
		}},
	}}
	b, err := json.Marshal(suites)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "report.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReportThenGate(t *testing.T) {
	dir := t.TempDir()
	in := writeGinkgoReport(t, dir)
	out := filepath.Join(dir, "out")
	env := []string{"MAX_API_TOKEN=envtoken123"}
	code, stdout, stderr := runCmd(t, env, "report", "-out", out, "-meta", "commit=abc123", "-meta", "images=pg:15,redis:7", in)
	if code != 0 || !strings.Contains(stdout, "0 passed, 1 failed") {
		t.Fatalf("report: %d\n%s%s", code, stdout, stderr)
	}
	md, err := os.ReadFile(filepath.Join(out, matrix.FileMarkdown))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| commit | abc123 |", "| images | pg:15,redis:7 |", "| go | go1.", "service said: token [REDACTED] rejected"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("matrix.md lacks %q", want)
		}
	}
	for _, f := range []string{matrix.FileJSON, matrix.FileMarkdown, matrix.FileHTML} {
		b, err := os.ReadFile(filepath.Join(out, f))
		if err != nil || bytes.Contains(b, []byte("envtoken123")) {
			t.Errorf("%s: %v, or it holds the token from the environment", f, err)
		}
	}

	code, stdout, _ = runCmd(t, nil, "gate", filepath.Join(out, matrix.FileJSON))
	if code != 1 || !strings.Contains(stdout, "FAILED "+matrix.Rows()[0].ID) || !strings.Contains(stdout, "MISSING "+matrix.Rows()[1].ID) ||
		!strings.Contains(stdout, "gate: refused") {
		t.Errorf("gate: %d\n%s", code, stdout)
	}
	// Allowing missing rows does not excuse a failed one.
	if code, stdout, _ = runCmd(t, nil, "gate", "-allow-missing", filepath.Join(out, matrix.FileJSON)); code != 1 || strings.Contains(stdout, "MISSING") {
		t.Errorf("gate -allow-missing: %d\n%s", code, stdout)
	}
}

// writeMatrixJSON writes rep as dir/matrix.json and returns the path.
func writeMatrixJSON(t *testing.T, dir string, rep matrix.Report) string {
	t.Helper()
	path := filepath.Join(dir, matrix.FileJSON)
	var b bytes.Buffer
	if err := matrix.WriteJSON(&b, rep); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestGateAllowMissingPassesAPartialRun(t *testing.T) {
	dir := t.TempDir()
	rep := matrix.Report{Rows: []matrix.RowResult{{ID: matrix.Rows()[0].ID, Result: matrix.ResultPassed}}, Summary: matrix.Summary{Total: 1, Passed: 1}}
	path := writeMatrixJSON(t, dir, rep)
	if code, stdout, _ := runCmd(t, nil, "gate", "-allow-missing", path); code != 0 || !strings.Contains(stdout, "gate: passed") {
		t.Errorf("partial run: %d\n%s", code, stdout)
	}
	if code, _, _ := runCmd(t, nil, "gate", path); code != 1 {
		t.Errorf("partial run without -allow-missing: %d", code)
	}
}

func TestGateContractOnly(t *testing.T) {
	// A run of another implementation: every row outside scope:reference passed, judged
	// against the contract only; the reference rows did not run.
	var rows []matrix.RowResult
	for _, r := range matrix.Rows() {
		if !r.Reference {
			rows = append(rows, matrix.RowResult{ID: r.ID, Result: matrix.ResultPassed,
				Observed: &matrix.Observation{RowID: r.ID}})
		}
	}
	if len(rows) == len(matrix.Rows()) {
		t.Fatal("the catalogue has no scope:reference row to leave out")
	}
	rep := matrix.Report{Rows: rows, Summary: matrix.Summary{Total: len(rows), Passed: len(rows), Mode: matrix.ModeContract}}
	path := writeMatrixJSON(t, t.TempDir(), rep)
	if code, stdout, _ := runCmd(t, nil, "gate", "-contract-only", path); code != 0 || !strings.Contains(stdout, "contract only") {
		t.Errorf("gate -contract-only: %d\n%s", code, stdout)
	}
	// The reference gate refuses the same report: its rows were judged leniently and the
	// reference rows are missing.
	code, stdout, _ := runCmd(t, nil, "gate", path)
	if code != 1 || !strings.Contains(stdout, "judged against the contract only") || !strings.Contains(stdout, "MISSING") {
		t.Errorf("gate without -contract-only: %d\n%s", code, stdout)
	}
}

func TestSLA(t *testing.T) {
	path := filepath.Join(t.TempDir(), "SLA.md")
	if code, _, stderr := runCmd(t, nil, "sla", "-o", path); code != 0 {
		t.Fatalf("sla: %d %s", code, stderr)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := matrix.WriteSLA(&want, matrix.Rows()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Error("sla -o differs from WriteSLA")
	}
	if code, stdout, _ := runCmd(t, nil, "sla"); code != 0 || stdout != want.String() {
		t.Error("sla to stdout differs")
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for name, args := range map[string][]string{
		"no command":         nil,
		"unknown command":    {"frobnicate"},
		"report without ins": {"report"},
		"report bad meta":    {"report", "-meta", "novalue", "x.json"},
		"report no file":     {"report", "-out", dir, filepath.Join(dir, "absent.json")},
		"gate no file":       {"gate", filepath.Join(dir, "absent.json")},
		"gate two files":     {"gate", "a", "b"},
		"bad flag":           {"list", "-nope"},
	} {
		if code, _, stderr := runCmd(t, nil, args...); code != 2 || stderr == "" {
			t.Errorf("%s: exit %d, stderr %q", name, code, stderr)
		}
	}
	if code, stdout, _ := runCmd(t, nil, "help"); code != 0 || !strings.Contains(stdout, "usage") {
		t.Errorf("help: %d", code)
	}
}

func TestShow(t *testing.T) {
	id := "postgres-down.get"
	code, stdout, stderr := runCmd(t, nil, "show", id)
	if code != 0 {
		t.Fatalf("show: %d %s", code, stderr)
	}
	var got struct {
		Row     matrix.Row         `json:"row"`
		Labels  []string           `json:"labels"`
		Example matrix.Observation `json:"example_observation"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("show output is not the row's JSON: %v", err)
	}
	if got.Row.ID != id || !slices.Contains(got.Labels, "row:"+id) {
		t.Errorf("showed row %q with labels %v", got.Row.ID, got.Labels)
	}
	// The example survives JSON and still passes the catalogued row.
	for _, r := range matrix.Rows() {
		if r.ID == id {
			if ms := matrix.Compare(r, got.Example, matrix.ModeReference); len(ms) > 0 {
				t.Errorf("the example observation fails its row: %v", ms)
			}
		}
	}
	if code, _, stderr := runCmd(t, nil, "show", "no.such-row"); code != 2 || !strings.Contains(stderr, `no row "no.such-row"`) {
		t.Errorf("show of an unknown row: %d %s", code, stderr)
	}
}

// writeShard writes the report directory of a shard that passed the rows given and left
// every other row out, as a label filter does.
func writeShard(t *testing.T, dir string, ran map[string]bool) {
	t.Helper()
	start := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	suite := types.Report{SuiteDescription: "behaviour matrix", SuiteSucceeded: true, StartTime: start,
		EndTime: start.Add(time.Minute), RunTime: time.Minute}
	for _, r := range matrix.Rows() {
		sp := types.SpecReport{LeafNodeType: types.NodeTypeIt, LeafNodeText: r.ID, LeafNodeLabels: matrix.Labels(r),
			State: types.SpecStateSkipped}
		if ran[r.ID] {
			obs := matrix.Exemplar(r, start)
			sp.State, sp.RunTime = types.SpecStatePassed, time.Second
			sp.ReportEntries = types.ReportEntries{{Name: matrix.ObservationEntry, Value: types.WrapEntryValue(obs)}}
		}
		suite.SpecReports = append(suite.SpecReports, sp)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal([]types.Report{suite})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestMergeJoinsShardsAndTheGateRefusesAMissingOne(t *testing.T) {
	tmp := t.TempDir()
	timings, err := matrix.MeasuredTimings()
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for i := 1; i <= 3; i++ {
		rows, err := matrix.Shard(matrix.Rows(), timings, i, 3)
		if err != nil {
			t.Fatal(err)
		}
		ran := map[string]bool{}
		for _, r := range rows {
			ran[r.ID] = true
		}
		dir := filepath.Join(tmp, "shard-"+string(rune('0'+i)))
		writeShard(t, dir, ran)
		dirs = append(dirs, dir)
	}
	out := filepath.Join(tmp, "merged")
	code, stdout, stderr := runCmd(t, nil, append([]string{"merge", "-o", out}, dirs...)...)
	if code != 0 || !strings.Contains(stdout, fmt.Sprintf("%d passed, 0 failed, 0 skipped, 0 missing", len(matrix.Rows()))) {
		t.Fatalf("merge: %d\n%s%s", code, stdout, stderr)
	}
	for _, f := range []string{"matrix.json", "matrix.md", "matrix.html", "report.json", "junit.xml"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("merged %s: %v", f, err)
		}
	}
	junit, _ := os.ReadFile(filepath.Join(out, "junit.xml"))
	if n := strings.Count(string(junit), "<testcase "); n != len(matrix.Rows()) {
		t.Errorf("merged junit.xml has %d test cases, want one per row", n)
	}
	if code, stdout, _ := runCmd(t, nil, "gate", filepath.Join(out, "matrix.json")); code != 0 {
		t.Errorf("gate on the merged shards: %d\n%s", code, stdout)
	}

	// Without the second shard, its rows are missing, each named, and the gate refuses.
	code, _, stderr = runCmd(t, nil, "merge", "-o", out, dirs[0], dirs[2])
	if code != 0 {
		t.Fatalf("merge of two shards: %d %s", code, stderr)
	}
	code, stdout, _ = runCmd(t, nil, "gate", filepath.Join(out, "matrix.json"))
	second, _ := matrix.Shard(matrix.Rows(), timings, 2, 3)
	if code != 1 || !strings.Contains(stdout, "MISSING "+second[0].ID+":") || strings.Contains(stdout, "specs carry") {
		t.Errorf("gate without shard 2: %d\n%s", code, stdout)
	}
}

func TestTimingsAndFlake(t *testing.T) {
	tmp := t.TempDir()
	rows := matrix.Rows()
	var dirs []string
	for i, ran := range []map[string]bool{{rows[0].ID: true, rows[1].ID: true}, {rows[0].ID: true}} {
		run := filepath.Join(tmp, "run-"+string(rune('1'+i)))
		writeShard(t, filepath.Join(run, "g"), ran)
		code, _, stderr := runCmd(t, nil, "report", "-out", run, filepath.Join(run, "g", "report.json"))
		if code != 0 {
			t.Fatalf("report: %s", stderr)
		}
		dirs = append(dirs, run)
	}
	code, stdout, _ := runCmd(t, nil, "timings", filepath.Join(dirs[0], "matrix.json"))
	if code != 0 || !strings.Contains(stdout, `"`+rows[0].ID+`": 1000`) || strings.Contains(stdout, rows[2].ID) {
		t.Errorf("timings: %d\n%s", code, stdout)
	}
	md := filepath.Join(tmp, "flake.md")
	code, stdout, _ = runCmd(t, nil, append([]string{"flake", "-o", md}, dirs...)...)
	page, _ := os.ReadFile(md)
	if code != 1 || !strings.Contains(stdout, fmt.Sprintf("1 of %d rows passed all 2 runs", len(rows))) ||
		!strings.Contains(string(page), "| `"+rows[1].ID+"` | 1/2 |") {
		t.Errorf("flake: %d %s\n%s", code, stdout, page)
	}
}

func TestMergeKeepsTheShardsModeAndRefusesMixedModes(t *testing.T) {
	tmp := t.TempDir()
	rows := matrix.Rows()
	// Two shards of another implementation's run, each with its contract-only matrix.json
	// and a row of its own.
	var dirs []string
	for i, name := range []string{"a", "b"} {
		dir := filepath.Join(tmp, name)
		writeShard(t, dir, map[string]bool{rows[i].ID: true})
		if code, _, stderr := runCmd(t, []string{matrix.EnvContractOnly + "=1"}, "report", "-out", dir, filepath.Join(dir, "report.json")); code != 0 {
			t.Fatalf("report: %s", stderr)
		}
		dirs = append(dirs, dir)
	}
	out := filepath.Join(tmp, "merged")
	if code, _, stderr := runCmd(t, nil, append([]string{"merge", "-o", out}, dirs...)...); code != 0 {
		t.Fatalf("merge: %s", stderr)
	}
	rep, err := readMatrixFile(filepath.Join(out, "matrix.json"))
	if err != nil || rep.Summary.Mode != matrix.ModeContract {
		t.Fatalf("merged mode %q (%v), want the shards' %q", rep.Summary.Mode, err, matrix.ModeContract)
	}
	// A reference run's shard does not merge with them.
	ref := filepath.Join(tmp, "ref")
	writeShard(t, ref, map[string]bool{rows[2].ID: true})
	if code, _, stderr := runCmd(t, nil, "report", "-out", ref, filepath.Join(ref, "report.json")); code != 0 {
		t.Fatalf("report: %s", stderr)
	}
	code, _, stderr := runCmd(t, nil, "merge", "-o", out, dirs[0], ref)
	if code == 0 || !strings.Contains(stderr, "different modes") {
		t.Errorf("merge of mixed modes: %d %s", code, stderr)
	}
}

func TestCoverage(t *testing.T) {
	code, stdout, _ := runCmd(t, nil, "coverage")
	if code != 0 || !strings.Contains(stdout, "§behaviour.one-cache-read (contract)") ||
		!strings.Contains(stdout, "rows: redis-up.max-up.cache-fresh") ||
		!strings.Contains(stdout, "none, on purpose: ") ||
		!strings.Contains(stdout, "coverage: every clause of") {
		t.Errorf("coverage: %d\n%s", code, stdout)
	}
	code, stdout, _ = runCmd(t, nil, "coverage", "-json")
	var cov []matrix.ClauseCoverage
	if err := json.Unmarshal([]byte(stdout), &cov); code != 0 || err != nil || len(cov) != len(matrix.Coverage()) {
		t.Errorf("coverage -json: %d %v, %d clauses", code, err, len(cov))
	}
}
