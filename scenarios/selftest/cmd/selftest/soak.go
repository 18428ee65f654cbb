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
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/faultline/faultline/chaos"
	"github.com/faultline/faultline/scenarios/selftest"
)

// controlName is the soak self-test's control: the reference service, unpatched, which
// must pass the same soak that each variant must fail.
const controlName = "reference"

// soakOutcome is one soak variant's run, or the control's.
type soakOutcome struct {
	Variant  string         `json:"variant"`
	Control  bool           `json:"control,omitempty"`
	Seed     uint64         `json:"seed"`
	Exit     int            `json:"exit"`
	Violated map[string]int `json:"violated"`
	// Missing are the invariants the variant had to break and did not.
	Missing  []string      `json:"missing,omitempty"`
	Err      string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration"`
	Dir      string        `json:"dir"`
	// Alone is the control's second run, with the same seed, alone after the variants: made
	// when it broke beside them only invariants that no variant is caught on.
	Alone *soakOutcome `json:"alone,omitempty"`
}

// ok says the run went as it must: the control passed (beside the variants, or run again
// alone); a variant failed on the invariants it must break.
func (o soakOutcome) ok() bool {
	if o.Control {
		return o.Err == "" && (o.Exit == 0 || o.Alone != nil && o.Alone.ok())
	}
	return o.Err == "" && o.Exit == 1 && len(o.Missing) == 0
}

// againAlone says whether the control runs again alone: it broke invariants beside the
// variants (a soak that ran), and none that a variant is caught on. A saturated machine can
// make a dependency call outlast its deadline (a 503 with the database up breaks
// response); it says nothing of the invariants the variants broke, and the reference
// passing alone shows that the failure was the machine's. A control that broke what a
// variant is caught on would put that catch in doubt: it stays failed.
func againAlone(o soakOutcome, variants []selftest.SoakVariant) bool {
	if !o.Control || o.Err != "" || o.Exit != 1 {
		return false
	}
	for _, v := range variants {
		for _, inv := range v.Violates {
			if o.Violated[inv] > 0 {
				return false
			}
		}
	}
	return true
}

// runSoak proves the soak can fail: it runs the soak (chaos/cmd/soak, its defaults) against
// each soak variant's mutant and passes when every run fails on the invariants its variant
// must break. With -control (the default) it runs the reference too, side by side with the
// variants on the same machine, which must pass: a variant is caught by its bug, not by a
// machine too loaded for the soak.
func runSoak(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("selftest soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "out/selftest/soak", "directory of the runs and summary.md")
	parallel := fs.Int("parallel", 2, "soak runs at once")
	names := fs.String("variants", "", "comma-separated soak variants (default: all)")
	soakFlags := fs.String("soak-flags", "", "more flags for every soak run, e.g. \"-duration 3m\"")
	control := fs.Bool("control", true, "run the reference too, which must pass (in "+controlName+"/)")
	buildOnly := fs.Bool("build-only", false, "build the soak and the variants' binaries, and run nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	variants := selftest.SoakVariants()
	if *names != "" {
		want := strings.Split(*names, ",")
		variants = slices.DeleteFunc(variants, func(v selftest.SoakVariant) bool { return !slices.Contains(want, v.Name) })
		if len(variants) != len(want) {
			return fmt.Errorf("unknown soak variant among %q", *names)
		}
	}
	if *parallel < 1 {
		return errors.New("-parallel must be at least 1")
	}
	root, err := selftest.ModuleRoot(".")
	if err != nil {
		return err
	}
	dir, err := filepath.Abs(*out)
	if err != nil {
		return err
	}
	start := time.Now()
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o750); err != nil {
		return err
	}
	soak := filepath.Join(bin, "soak")
	also := ""
	if *control {
		also = " and the reference"
	}
	fmt.Fprintf(stdout, "selftest soak: building the soak and %d variants%s\n", len(variants), also)
	patches := map[string]string{}
	for _, v := range variants {
		patches[v.Name] = v.Patch()
	}
	runs := variants
	if *control {
		patches[controlName] = ""
		runs = append([]selftest.SoakVariant{{Name: controlName}}, variants...)
	}
	binaries, err := buildBinaries(ctx, selftest.Builder{Root: root}, bin, patches, func(ctx context.Context) error {
		if err := goCmd(ctx, root, "build", chaos.LDFlags, "-o", soak, "./chaos/cmd/soak"); err != nil {
			return fmt.Errorf("build the soak: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "selftest soak: built in %s\n", time.Since(start).Round(time.Second))
	if *buildOnly {
		return nil
	}

	outcomes := make([]soakOutcome, len(runs))
	sem := make(chan struct{}, *parallel)
	var wg sync.WaitGroup
	for i, v := range runs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			outcomes[i] = soakVariant(ctx, v, soak, binaries[v.Name], filepath.Join(dir, v.Name), strings.Fields(*soakFlags))
			fmt.Fprintf(stdout, "selftest soak: %s: %s in %s\n", v.Name, soakVerdict(outcomes[i]), outcomes[i].Duration.Round(time.Second))
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if *control && againAlone(outcomes[0], variants) {
		flags := append(strings.Fields(*soakFlags), "-seed", strconv.FormatUint(outcomes[0].Seed, 10))
		alone := soakVariant(ctx, runs[0], soak, binaries[controlName], filepath.Join(dir, controlName+"-alone"), flags)
		outcomes[0].Alone = &alone
		fmt.Fprintf(stdout, "selftest soak: %s, run again alone: %s in %s\n", controlName, soakVerdict(alone), alone.Duration.Round(time.Second))
	}

	var md strings.Builder
	fmt.Fprintf(&md, "# Soak self-test: %d variants in %s\n\n| variant | must break | broke (violations) | seed | verdict |\n|---|---|---|---|---|\n",
		len(variants), time.Since(start).Round(time.Second))
	failed := false
	for i, v := range runs {
		o := outcomes[i]
		broke := broken(o.Violated)
		must := strings.Join(v.Violates, ", ")
		if o.Control {
			must = "nothing (the control)"
		}
		fmt.Fprintf(&md, "| %s | %s | %s | %d | %s |\n", v.Name, must, strings.Join(broke, ", "), o.Seed, soakVerdict(o))
		failed = failed || !o.ok()
	}
	fmt.Fprintf(stdout, "\n%s", md.String())
	if err := os.WriteFile(filepath.Join(dir, "summary.md"), []byte(md.String()), 0o644); err != nil { //nolint:gosec // a report for people
		return err
	}
	js, err := json.MarshalIndent(outcomes, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "summary.json"), append(js, '\n'), 0o644); err != nil { //nolint:gosec // a report for people
		return err
	}
	if failed {
		return errMismatch
	}
	return nil
}

func soakVerdict(o soakOutcome) string {
	switch {
	case o.Control && o.Exit == 1 && o.Alone != nil && o.Alone.ok():
		return "passed when run again alone (beside the variants it broke " + strings.Join(broken(o.Violated), ", ") + ")"
	case o.Control && o.Alone != nil && !o.Alone.ok():
		return "FAILED: the reference broke the soak's invariants, beside the variants and alone"
	case o.Control && o.ok():
		return "passed"
	case o.Control && o.Err != "":
		return "broken run: " + o.Err
	case o.Control:
		return "FAILED: the reference broke the soak's invariants"
	case o.ok():
		return "caught"
	case o.Err != "":
		return "broken run: " + o.Err
	case o.Exit == 0:
		return "NOT CAUGHT: the soak passed"
	}
	return "NOT CAUGHT: " + strings.Join(o.Missing, ", ") + " held"
}

// broken lists the invariants violated, each with its count, in name order.
func broken(violated map[string]int) []string {
	var out []string
	for _, inv := range slices.Sorted(maps.Keys(violated)) {
		if violated[inv] > 0 {
			out = append(out, fmt.Sprintf("%s (%d)", inv, violated[inv]))
		}
	}
	return out
}

// soakVariant runs the soak against one variant's service and judges the run.
func soakVariant(ctx context.Context, v selftest.SoakVariant, soak, sut, dir string, flags []string) (o soakOutcome) {
	start := time.Now()
	o = soakOutcome{Variant: v.Name, Control: v.Name == controlName, Dir: dir}
	defer func() { o.Duration = time.Since(start) }()
	if err := os.RemoveAll(dir); err != nil {
		o.Err = err.Error()
		return o
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		o.Err = err.Error()
		return o
	}
	log, err := os.Create(filepath.Join(dir, "soak.log"))
	if err != nil {
		o.Err = err.Error()
		return o
	}
	defer log.Close()
	args := append([]string{"-out", dir}, flags...)
	if !o.Control {
		// A variant's run has done its job once it broke what it must: it ends there.
		args = append(args, "-stop-when", strings.Join(v.Violates, ","))
	}
	cmd := exec.CommandContext(ctx, soak, args...) //nolint:gosec // G204: the soak just built
	cmd.Env = append(os.Environ(), envSUTCommand+"="+sut)
	cmd.Stdout, cmd.Stderr = log, log
	runErr := cmd.Run()
	var exit *exec.ExitError
	switch {
	case runErr == nil:
	case errors.As(runErr, &exit):
		o.Exit = exit.ExitCode()
	default:
		o.Err = runErr.Error()
		return o
	}
	if o.Exit > 1 {
		o.Err = fmt.Sprintf("the soak exited %d (see %s)", o.Exit, log.Name())
		return o
	}
	raw, err := os.ReadFile(filepath.Join(dir, "soak.json"))
	if err != nil {
		o.Err = err.Error()
		return o
	}
	var rep struct {
		Config struct {
			Seed uint64 `json:"seed"`
		} `json:"config"`
		Invariants map[string]int `json:"invariants"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		o.Err = fmt.Sprintf("soak.json: %v", err)
		return o
	}
	o.Seed, o.Violated = rep.Config.Seed, rep.Invariants
	for _, inv := range v.Violates {
		if _, known := rep.Invariants[inv]; !known {
			o.Err = fmt.Sprintf("the soak checks no invariant %q", inv)
			return o
		}
		if rep.Invariants[inv] == 0 {
			o.Missing = append(o.Missing, inv)
		}
	}
	return o
}
