package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faultline/faultline/matrix"
)

// The reports of matrix/testdata/baseline, from real runs: new.json is the service with
// REDIS_TIMEOUT=400ms against base.json at 100ms, one row of it failing.
var (
	tdBase   = filepath.Join("..", "..", "testdata", "baseline", "base.json")
	tdNew    = filepath.Join("..", "..", "testdata", "baseline", "new.json")
	tdAccept = filepath.Join("..", "..", "testdata", "baseline", "accepted.yaml")
)

// newReportDir copies new.json into a report directory of its own.
func newReportDir(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(tdNew)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, matrix.FileJSON), b, 0o600); err != nil { //nolint:gosec // the test's own temporary directory
		t.Fatal(err)
	}
	return dir
}

func TestDiff(t *testing.T) {
	code, out, stderr := runCmd(t, nil, "diff", tdBase, newReportDir(t))
	if code != 0 {
		t.Fatalf("diff: %d %s", code, stderr)
	}
	lines := strings.Split(out, "\n")
	for i, want := range []string{
		"diff: commit da5a714eaa95",
		"REGRESSED redis-down.max-up.cache-fresh: passed → failed; alerts fired ParticipantsCacheDown, ParticipantsFallbackRateHigh → ParticipantsCacheDown; 10 metric deltas differ",
	} {
		if !strings.HasPrefix(lines[i], want) {
			t.Errorf("line %d: %q, want it to start %q", i+1, lines[i], want)
		}
	}
	for _, want := range []string{
		"4 rows changed, 3 regressed (0 accepted)",
		"REGRESSED redis-blackhole.max-up.cache-fresh: warm-up p95 216.7ms → 432.4ms (+215.7ms)",
		"REGRESSED health.redis-blackhole: p50 202.1ms → 403.1ms (+200.9ms); p95 208.2ms → 412.3ms (+204ms)",
		"NEW       redis-slow.max-up.cache-fresh: new row, passed",
		`    metric http_requests_total{method="GET",route="/chats/all",status="500"} (measured) absent → 20`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q:\n%s", want, out)
		}
	}

	code, out, _ = runCmd(t, nil, "diff", "-json", tdBase, tdNew)
	var c matrix.Comparison
	if err := json.Unmarshal([]byte(out), &c); err != nil || code != 0 || len(c.Rows) != 4 || c.Regressed() != 3 {
		t.Errorf("diff -json: %d %v, %d rows", code, err, len(c.Rows))
	}
	// A looser threshold leaves only the flipped result.
	code, out, _ = runCmd(t, nil, "diff", "-latency-regression", "150%", tdBase, tdNew)
	if code != 0 || !strings.Contains(out, "2 rows changed, 1 regressed") {
		t.Errorf("diff -latency-regression 150%%: %d\n%s", code, out)
	}
}

func TestGateWithABaseline(t *testing.T) {
	code, out, _ := runCmd(t, nil, "gate", "-allow-missing", "-baseline", tdBase, tdNew)
	if code != 1 || !strings.Contains(out, "FAILED redis-down.max-up.cache-fresh") ||
		!strings.Contains(out, "REGRESSED redis-blackhole.max-up.cache-fresh: against the baseline (commit da5a714eaa95") ||
		!strings.Contains(out, "REGRESSED health.redis-blackhole:") || !strings.Contains(out, "gate: refused, 3 problems") {
		t.Errorf("gate -baseline: %d\n%s", code, out)
	}
	code, out, _ = runCmd(t, nil, "gate", "-allow-missing", "-baseline", tdBase, "-accept", tdAccept, tdNew)
	if code != 1 || strings.Contains(out, "REGRESSED redis-blackhole") ||
		!strings.Contains(out, "ACCEPTED redis-blackhole.max-up.cache-fresh: slower: warm-up p95 216.7ms → 432.4ms (+215.7ms) (accepted: REDIS_TIMEOUT raised to 400ms on purpose") ||
		!strings.Contains(out, "note: the accepted change for redis-up.max-up.cache-fresh matches no regression; remove it") ||
		!strings.Contains(out, "gate: refused, 2 problems") {
		t.Errorf("gate -baseline -accept: %d\n%s", code, out)
	}
	// The base report against itself passes.
	if code, out, _ := runCmd(t, nil, "gate", "-allow-missing", "-baseline", tdBase, tdBase); code != 0 ||
		!strings.Contains(out, fmt.Sprintf("gate: passed (4 of %d rows passed; against the baseline", len(matrix.Rows()))) {
		t.Errorf("gate against itself: %d\n%s", code, out)
	}

	dir := t.TempDir()
	noReason := filepath.Join(dir, "accept.yaml")
	if err := os.WriteFile(noReason, []byte("health.redis-blackhole:\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"accept without baseline": {"gate", "-accept", tdAccept, tdNew},
		"accepted without reason": {"gate", "-baseline", tdBase, "-accept", noReason, tdNew},
		"absent baseline":         {"gate", "-baseline", filepath.Join(dir, "absent.json"), tdNew},
		"bad percentage":          {"gate", "-latency-regression", "fast", tdNew},
		"bad quantile":            {"gate", "-latency-quantiles", "p99", tdNew},
		"diff of one report":      {"diff", tdBase},
	} {
		if code, _, stderr := runCmd(t, nil, args...); code != 2 || stderr == "" {
			t.Errorf("%s: exit %d, stderr %q", name, code, stderr)
		}
	}
}

func TestRenderLeadsWithTheChangesAndTheGateKeepsThem(t *testing.T) {
	dir := newReportDir(t)
	code, out, stderr := runCmd(t, nil, "render", "-baseline", tdBase, "-accept", tdAccept, dir)
	if code != 0 || !strings.Contains(out, "matrix: FAILED; against the baseline") {
		t.Fatalf("render: %d %s%s", code, out, stderr)
	}
	md, err := os.ReadFile(filepath.Join(dir, matrix.FileMarkdown))
	if err != nil {
		t.Fatal(err)
	}
	page := string(md)
	if changes, run := strings.Index(page, "## Changes against the baseline"), strings.Index(page, "| Run |"); changes < 0 || changes > run ||
		!strings.Contains(page, "| `health.redis-blackhole` | 🔺 regressed |") {
		t.Errorf("matrix.md does not lead with the changes:\n%s", page)
	}
	for _, f := range []string{matrix.FileHTML, matrix.FileJUnit} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || !strings.Contains(string(b), "health.redis-blackhole") {
			t.Errorf("%s: %v", f, err)
		}
	}
	// The comparison is recorded in matrix.json, so the gate without flags refuses the same rows.
	code, out, _ = runCmd(t, nil, "gate", "-allow-missing", filepath.Join(dir, matrix.FileJSON))
	if code != 1 || !strings.Contains(out, "REGRESSED health.redis-blackhole") || !strings.Contains(out, "ACCEPTED redis-blackhole.max-up.cache-fresh") {
		t.Errorf("gate on the rendered report: %d\n%s", code, out)
	}
}
