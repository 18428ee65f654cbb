// Command matrix lists the behaviour matrix, builds its report from a Ginkgo JSON report,
// applies the release gate and generates the SLA document.
//
//	matrix list [-ids | -json]
//	matrix show <row-id>
//	matrix report [-out dir] [-meta key=value]... [-secret value]... report.json...
//	matrix gate [-allow-missing] [-contract-only] [-baseline base] [-accept file] [-latency-regression 50%] [-latency-regression-min 20ms] matrix.json
//	matrix diff [-json] [-latency-regression 50%] [-latency-regression-min 20ms] base new
//	matrix render [-baseline base] [-accept file] dir
//	matrix sla [-o docs/SLA.md]
//	matrix merge [-o out] dir...
//	matrix timings [-o matrix/timings.json] matrix.json...
//	matrix flake [-o out/flake.md] dir...
//
// Exit status: 0 success, 1 the gate refused the report, 2 bad usage or an I/O error.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/faultline/faultline/matrix"
	"github.com/onsi/ginkgo/v2/types"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Environ()))
}

// Exit statuses.
const (
	exitOK    = 0
	exitGate  = 1
	exitUsage = 2
)

const usage = `usage:
  matrix list [-ids | -json]
  matrix show <row-id>
  matrix report [-out dir] [-meta key=value]... [-secret value]... report.json...
  matrix gate [-allow-missing] [-contract-only] [-baseline base] [-accept file]
              [-latency-regression 50%] [-latency-regression-min 20ms] [-latency-quantiles p50,p95] matrix.json
  matrix diff [-json] [-latency-regression 50%] [-latency-regression-min 20ms] base new
  matrix render [-baseline base] [-accept file] [-latency-regression ...] report-dir
  matrix sla [-o file]
  matrix merge [-o dir] report-dir...
  matrix timings [-o file] matrix.json...
  matrix flake [-o file] report-dir...
  matrix coverage [-v] [-json]
`

// errGate marks a refused gate, so run can tell it from usage and I/O errors.
var errGate = errors.New("gate refused the report")

func run(args []string, stdout, stderr io.Writer, environ []string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "list":
		err = list(args[1:], stdout, stderr)
	case "show":
		err = show(args[1:], stdout, stderr)
	case "report":
		err = report(args[1:], stdout, stderr, environ)
	case "gate":
		err = gate(args[1:], stdout, stderr)
	case "diff":
		err = diff(args[1:], stdout, stderr)
	case "render":
		err = render(args[1:], stdout, stderr)
	case "sla":
		err = sla(args[1:], stdout, stderr)
	case "merge":
		err = merge(args[1:], stdout, stderr, environ)
	case "timings":
		err = timings(args[1:], stdout, stderr)
	case "flake":
		err = flake(args[1:], stdout, stderr)
	case "coverage":
		err = coverage(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		err = fmt.Errorf("unknown command %q", args[0])
	}
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errGate):
		return exitGate
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	}
	fmt.Fprintf(stderr, "matrix: %v\n", err)
	if !errors.Is(err, errIO) {
		fmt.Fprint(stderr, usage)
	}
	return exitUsage
}

// errIO marks failures reading or writing files, which need no usage text.
var errIO = errors.New("i/o")

func ioErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", errIO, err)
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// show prints one row as JSON with an example of an observation that passes it: what an
// implementation of the contract must let the harness see.
func show(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("show", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("show: which row? (matrix list -ids)")
	}
	id := fs.Arg(0)
	for _, r := range matrix.Rows() {
		if r.ID != id {
			continue
		}
		seeded := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
		b, err := json.MarshalIndent(struct {
			Row     matrix.Row         `json:"row"`
			Labels  []string           `json:"labels"`
			Example matrix.Observation `json:"example_observation"`
		}{r, matrix.Labels(r), matrix.Exemplar(r, seeded)}, "", "  ")
		if err != nil {
			return ioErr(err)
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return ioErr(err)
	}
	return fmt.Errorf("show: no row %q (matrix list -ids)", id)
}

func list(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("list", stderr)
	ids := fs.Bool("ids", false, "print row ids only, one a line")
	asJSON := fs.Bool("json", false, "print the whole catalogue as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rows := matrix.Rows()
	switch {
	case *asJSON:
		b, err := json.MarshalIndent(rows, "", "  ")
		if err != nil {
			return ioErr(err)
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return ioErr(err)
	case *ids:
		for _, r := range rows {
			fmt.Fprintln(stdout, r.ID)
		}
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tLABELS\tTITLE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.ID, strings.Join(matrix.Labels(r)[1:], ","), r.Title)
	}
	if err := tw.Flush(); err != nil {
		return ioErr(err)
	}
	return nil
}

// multiFlag collects a repeated flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// getenv returns the value of key in environ, "" when unset.
func getenv(environ []string, key string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

func report(args []string, stdout, stderr io.Writer, environ []string) error {
	fs := newFlags("report", stderr)
	out := fs.String("out", "out", "directory for matrix.json, matrix.md, matrix.html and junit.xml")
	var metas, secrets multiFlag
	fs.Var(&metas, "meta", "run metadata key=value (commit, images, ...); repeatable")
	fs.Var(&secrets, "secret", "a value that must not appear in the report; repeatable (secret-looking environment variables are added)")
	contractOnly := fs.Bool("contract-only", getenv(environ, matrix.EnvContractOnly) == "1",
		"judge against the contract only: the run was of another implementation (MATRIX_CONTRACT_ONLY=1)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("report: which Ginkgo JSON report?")
	}
	meta := map[string]string{"go": runtime.Version(), "generated": time.Now().UTC().Format(time.RFC3339)}
	for _, kv := range metas {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("report: -meta %q is not key=value", kv)
		}
		meta[k] = v
	}
	var suites []types.Report
	for _, path := range fs.Args() {
		s, err := readGinkgoFile(path)
		if err != nil {
			return err
		}
		suites = append(suites, s...)
	}
	rep := matrix.BuildReport(matrix.Rows(), suites, matrix.ReportOptions{
		Meta:    meta,
		Mode:    matrix.ModeOf(*contractOnly),
		Secrets: append(secrets, matrix.SecretsFromEnv(environ)...),
	})
	if err := matrix.WriteFiles(*out, rep); err != nil {
		return ioErr(err)
	}
	s := rep.Summary
	fmt.Fprintf(stdout, "matrix: %d passed, %d failed, %d skipped, %d missing of %d rows; wrote %s/{%s,%s,%s,%s}\n",
		s.Passed, s.Failed, s.Skipped, s.Missing, s.Total, *out, matrix.FileJSON, matrix.FileMarkdown, matrix.FileHTML, matrix.FileJUnit)
	return nil
}

func gate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("gate", stderr)
	allowMissing := fs.Bool("allow-missing", false, "accept rows that did not run (partial local runs)")
	contractOnly := fs.Bool("contract-only", false,
		"gate another implementation of the contract: rows marked scope:reference are out of scope (a run with MATRIX_CONTRACT_ONLY=1 needs it)")
	bf := addBaselineFlags(fs, true)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("gate: which matrix.json?")
	}
	rep, err := readMatrixFile(fs.Arg(0))
	if err != nil {
		return err
	}
	if bf.baseline != "" || bf.accept != "" {
		if rep.Baseline, err = bf.compare(rep); err != nil {
			return err
		}
	}
	catalogue := matrix.Rows()
	ps := matrix.Gate(rep, catalogue, matrix.GateOptions{AllowMissing: *allowMissing, Mode: matrix.ModeOf(*contractOnly)})
	if err := printAccepted(stdout, rep.Baseline); err != nil {
		return ioErr(err)
	}
	if len(ps) == 0 {
		scope := ""
		if *contractOnly {
			scope = ", contract only: rows marked scope:reference not judged"
		}
		if rep.Baseline != nil {
			scope += "; " + rep.Baseline.Line()
		}
		fmt.Fprintf(stdout, "gate: passed (%d of %d rows passed%s)\n", rep.Summary.Passed, len(catalogue), scope)
		return nil
	}
	if err := matrix.PrintProblems(stdout, ps); err != nil {
		return ioErr(err)
	}
	fmt.Fprintf(stdout, "gate: refused, %d problems\n", len(ps))
	return errGate
}

// printAccepted writes the regressions the accepted-changes file accepts, and its entries
// that match none.
func printAccepted(w io.Writer, c *matrix.Comparison) error {
	if c == nil {
		return nil
	}
	var b strings.Builder
	for _, ch := range c.Rows {
		if ch.Accepted != "" {
			fmt.Fprintf(&b, "ACCEPTED %s: %s (accepted: %s)\n", ch.ID, strings.Join(ch.Regressions, "; "), ch.Accepted)
		}
	}
	for _, id := range c.Unused {
		fmt.Fprintf(&b, "note: the accepted change for %s matches no regression; remove it\n", id)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func sla(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sla", stderr)
	out := fs.String("o", "", "write to this file instead of standard output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return ioErr(matrix.WriteSLA(stdout, matrix.Rows()))
	}
	var b strings.Builder
	if err := matrix.WriteSLA(&b, matrix.Rows()); err != nil {
		return ioErr(err)
	}
	return ioErr(os.WriteFile(*out, []byte(b.String()), 0o600))
}
