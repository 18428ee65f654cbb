package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/chaos"
)

func testReport() *report {
	return &report{
		Config:     config{Seed: 9, Duration: time.Minute, Rate: 100, Replicas: 2, Chats: 20, Hot: 2},
		SUT:        "chatd",
		Elapsed:    time.Minute,
		Requests:   6000,
		Statuses:   map[requestKind]map[int]int{kindList: {200: 5900, 503: 100}},
		Invariants: map[string]int{invResponse: 0, invStore: 1},
		Violations: []violation{{At: 30 * time.Second, Invariant: invStore, Faults: []string{"down(redis)"}, Evidence: "postgres chat 3: count 7 observed … replaced by 6 | older"}},
		Faults: []appliedFault{
			{Kind: "redis-down", Dep: chaos.Redis, Fault: "down(redis)", From: 20 * time.Second, To: 32 * time.Second},
			{Kind: "max-500", Dep: chaos.MaxAPI, Fault: "max-status(500)", From: 25 * time.Second, To: 28 * time.Second},
		},
		Recoveries: []recovery{{After: "down(redis)", At: 32 * time.Second, Took: 700 * time.Millisecond}},
		Series:     []point{{T: 0, Requests: 100, P50: 1, P99: 3, MaxCalls: 20, Goroutines: 40}, {T: 1, Requests: 100, Errors: 10, P50: 2, P99: 9, MaxCalls: 12, Goroutines: 41}},
	}
}

func TestReportWritesItsThreeFiles(t *testing.T) {
	dir := t.TempDir()
	if err := testReport().write(dir); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "soak.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(md)
	for _, want := range []string{"# Soak: FAILED: 1 violations", "-seed 9", "down(redis)", `replaced by 6 \| older`, "700ms"} {
		if !strings.Contains(text, want) {
			t.Errorf("soak.md lacks %q:\n%s", want, text)
		}
	}
	if v, inv := strings.Index(text, "## Violations"), strings.Index(text, "## Invariants"); v < 0 || v > inv {
		t.Errorf("violations are not listed first:\n%s", text)
	}

	var back report
	raw, err := os.ReadFile(filepath.Join(dir, "soak.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &back); err != nil || back.Config.Seed != 9 || len(back.Violations) != 1 || len(back.Series) != 2 {
		t.Errorf("soak.json read back: %+v, %v", back, err)
	}

	svg, err := os.ReadFile(filepath.Join(dir, "soak.svg"))
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(svg))
	root := ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("soak.svg is not XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		t.Errorf("soak.svg's root element is %q", root)
	}
	if !strings.Contains(string(svg), "redis") || !strings.Contains(string(svg), "MAX calls/s") {
		t.Error("soak.svg lacks the fault lanes or the MAX panel")
	}
}

func TestReportPassesWithoutViolations(t *testing.T) {
	r := testReport()
	r.Violations, r.Invariants = nil, map[string]int{invResponse: 0}
	var b strings.Builder
	r.markdown(&b)
	if !strings.HasPrefix(b.String(), "# Soak: PASSED") || strings.Contains(b.String(), "## Violations") {
		t.Errorf("a run without violations:\n%s", b.String())
	}
}

func TestParse(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	c, err := parse(nil, env(map[string]string{"SOAK_DURATION": "3m", "SOAK_SEED": "5"}), io.Discard)
	if err != nil || c.Duration != 3*time.Minute || c.Seed != 5 || c.Tail != recoveryBound+5*time.Second {
		t.Errorf("parse with SOAK_DURATION and SOAK_SEED = %+v, %v", c, err)
	}
	c, err = parse([]string{"-seed", "6", "-duration", "1m"}, env(map[string]string{"SOAK_SEED": "5"}), io.Discard)
	if err != nil || c.Seed != 6 || c.Duration != time.Minute {
		t.Errorf("flags over the environment = %+v, %v", c, err)
	}
	for _, args := range [][]string{{"-duration", "10s"}, {"-rate", "0"}, {"-replicas", "9"}, {"-hot", "0"}, {"-chats", "5"}} {
		if _, err := parse(args, env(nil), io.Discard); err == nil {
			t.Errorf("parse(%v) accepted", args)
		}
	}
	if _, err := parse(nil, env(map[string]string{"SOAK_DURATION": "soon"}), io.Discard); err == nil || !strings.Contains(err.Error(), "SOAK_DURATION") {
		t.Errorf("a bad SOAK_DURATION: %v", err)
	}
}
