package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/faultline/faultline/matrix"
)

// baselineFlags are the flags that compare a report with a baseline; diff, render and gate
// take them.
type baselineFlags struct {
	baseline, accept string
	threshold        matrix.LatencyThreshold
}

// addBaselineFlags registers the flags; withBaseline adds -baseline and -accept (diff takes
// its baseline as an argument and accepts nothing).
func addBaselineFlags(fs *flag.FlagSet, withBaseline bool) *baselineFlags {
	f := &baselineFlags{threshold: matrix.DefaultLatencyThreshold()}
	if withBaseline {
		fs.StringVar(&f.baseline, "baseline", "", "compare with this report (matrix.json, or its directory): the last release's")
		fs.StringVar(&f.accept, "accept", "", "accepted-changes file: row id: reason, one a line (YAML)")
	}
	fs.Func("latency-regression", "a latency change is a move by more than this share of the baseline's value, e.g. 50%",
		func(s string) error {
			v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "%"), 64)
			if err != nil || v < 0 {
				return fmt.Errorf("%q is not a percentage", s)
			}
			f.threshold.Ratio = v / 100
			return nil
		})
	fs.DurationVar(&f.threshold.Min, "latency-regression-min", f.threshold.Min, "... and by more than this absolute time")
	fs.Func("latency-quantiles", "the quantiles whose slowing down is a regression, comma-separated (p50, p95, max; default p95)",
		func(s string) error {
			qs := strings.Split(s, ",")
			for _, q := range qs {
				if q != matrix.QuantileP50 && q != matrix.QuantileP95 && q != matrix.QuantileMax {
					return fmt.Errorf("%q is not p50, p95 or max", q)
				}
			}
			f.threshold.Quantiles = qs
			return nil
		})
	return f
}

// compare returns the report's comparison with the baseline of -baseline, with the changes
// of -accept accepted; nil without -baseline.
func (f *baselineFlags) compare(rep matrix.Report) (*matrix.Comparison, error) {
	if f.baseline == "" {
		if f.accept != "" {
			return nil, errors.New("-accept needs -baseline")
		}
		return nil, nil
	}
	base, err := readMatrixFile(reportPath(f.baseline))
	if err != nil {
		return nil, err
	}
	c := matrix.CompareReports(base, rep, f.threshold)
	if f.accept != "" {
		file, err := os.Open(f.accept)
		if err != nil {
			return nil, ioErr(err)
		}
		defer file.Close()
		acc, err := matrix.ReadAcceptances(file)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.accept, err)
		}
		c.Accept(acc)
	}
	return &c, nil
}

// reportPath is the matrix.json a path names: the file itself, or the one in a directory.
func reportPath(p string) string {
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		return filepath.Join(p, matrix.FileJSON)
	}
	return p
}

// diff lists how each row of a newer report differs from a baseline's.
func diff(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("diff", stderr)
	asJSON := fs.Bool("json", false, "print the comparison as JSON")
	bf := addBaselineFlags(fs, false)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return errors.New("diff: which two reports? (matrix diff BASE NEW)")
	}
	bf.baseline = fs.Arg(0)
	rep, err := readMatrixFile(reportPath(fs.Arg(1)))
	if err != nil {
		return err
	}
	c, err := bf.compare(rep)
	if err != nil {
		return err
	}
	if *asJSON {
		b, err := json.MarshalIndent(c, "", "  ")
		if err != nil {
			return ioErr(err)
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return ioErr(err)
	}
	return ioErr(printChanges(stdout, c, matrix.Describe(rep)))
}

// printChanges writes the comparison for people: a line per changed row, regressions first,
// metric deltas indented below.
func printChanges(w io.Writer, c *matrix.Comparison, now string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "diff: %s → %s, %s; latency changes beyond %s\n", c.Baseline, now, strings.TrimPrefix(c.Line(), "against the baseline ("+c.Baseline+"): "), c.Latency)
	for _, ch := range matrix.OrderedChanges(c) {
		state := strings.ToUpper(string(ch.Kind))
		switch {
		case len(ch.Regressions) > 0:
			state = "REGRESSED"
		case !ch.Notable():
			state = "COUNTERS"
		}
		fmt.Fprintf(&b, "%-9s %s: %s\n", state, ch.ID, ch.Summary())
		if ch.Accepted != "" {
			fmt.Fprintf(&b, "    accepted: %s\n", ch.Accepted)
		}
		for _, m := range ch.Metrics {
			fmt.Fprintf(&b, "    metric %s\n", m)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// render rewrites a report directory's pages (matrix.md, matrix.html, junit.xml) and
// matrix.json from its matrix.json, compared with a baseline when one is given.
func render(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("render", stderr)
	bf := addBaselineFlags(fs, true)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("render: which report directory?")
	}
	dir := fs.Arg(0)
	rep, err := readMatrixFile(filepath.Join(dir, matrix.FileJSON))
	if err != nil {
		return err
	}
	if rep.Baseline, err = bf.compare(rep); err != nil {
		return err
	}
	if err := matrix.WriteFiles(dir, rep); err != nil {
		return ioErr(err)
	}
	line := "no baseline"
	if rep.Baseline != nil {
		line = rep.Baseline.Line()
	}
	fmt.Fprintf(stdout, "matrix: %s; %s; wrote %s/{%s,%s,%s,%s}\n", matrix.Verdict(rep), line, dir,
		matrix.FileJSON, matrix.FileMarkdown, matrix.FileHTML, matrix.FileJUnit)
	return nil
}
