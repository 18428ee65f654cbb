package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/matrix"
	"github.com/onsi/ginkgo/v2/types"
)

// fileGinkgoJSON is the Ginkgo report a run of the suite leaves beside the matrix files.
const fileGinkgoJSON = "report.json"

// merge joins the report directories of shards (or of runs on several machines) into one:
// matrix.{json,md,html} and junit.xml built from all their Ginkgo reports, and one
// report.json. A row that ran in no shard is missing, and the gate refuses it. The rows are
// judged in the mode the shards' reports record (which must agree), else in the mode
// MATRIX_CONTRACT_ONLY selects.
func merge(args []string, stdout, stderr io.Writer, environ []string) error {
	fs := newFlags("merge", stderr)
	out := fs.String("o", "out", "directory for the merged report")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("merge: which report directories?")
	}
	var suites []types.Report
	meta := map[string]string{}
	var modes []matrix.Mode
	for _, dir := range fs.Args() {
		s, err := readGinkgoFile(filepath.Join(dir, fileGinkgoJSON))
		if err != nil {
			return err
		}
		suites = append(suites, s...)
		if rep, err := readMatrixFile(filepath.Join(dir, matrix.FileJSON)); err == nil {
			if m := cmp.Or(rep.Summary.Mode, matrix.ModeReference); !slices.Contains(modes, m) {
				modes = append(modes, m)
			}
			for k, v := range rep.Summary.Run.Meta {
				if _, ok := meta[k]; !ok {
					meta[k] = v
				}
			}
		}
	}
	if len(modes) > 1 {
		return fmt.Errorf("merge: the reports were judged in different modes (%v): merge runs of one kind", modes)
	}
	mode := matrix.ModeOf(getenv(environ, matrix.EnvContractOnly) == "1")
	if len(modes) == 1 {
		mode = modes[0]
	}
	meta["merged"] = fmt.Sprintf("%d report directories: %s", fs.NArg(), strings.Join(fs.Args(), ", "))
	meta["generated"] = time.Now().UTC().Format(time.RFC3339)
	rep := matrix.BuildReport(matrix.Rows(), suites, matrix.ReportOptions{Meta: meta, Mode: mode, Secrets: matrix.SecretsFromEnv(environ)})
	if err := matrix.WriteFiles(*out, rep); err != nil {
		return ioErr(err)
	}
	if err := writeGinkgoFile(*out, suites); err != nil {
		return ioErr(err)
	}
	s := rep.Summary
	fmt.Fprintf(stdout, "matrix: merged %d reports: %d passed, %d failed, %d skipped, %d missing of %d rows; wrote %s/{%s,%s,%s,%s,%s}\n",
		fs.NArg(), s.Passed, s.Failed, s.Skipped, s.Missing, s.Total, *out,
		matrix.FileJSON, matrix.FileMarkdown, matrix.FileHTML, matrix.FileJUnit, fileGinkgoJSON)
	return nil
}

// writeGinkgoFile writes the suites as one Ginkgo JSON report, as a run of the whole matrix
// would have.
func writeGinkgoFile(dir string, suites []types.Report) error {
	b, err := json.MarshalIndent(suites, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, fileGinkgoJSON), b, 0o644) //nolint:gosec // a report for people and CI
}

func readGinkgoFile(path string) ([]types.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, ioErr(err)
	}
	defer f.Close()
	s, err := matrix.ReadGinkgoReport(f)
	if err != nil {
		return nil, ioErr(fmt.Errorf("%s: %w", path, err))
	}
	return s, nil
}

func readMatrixFile(path string) (matrix.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return matrix.Report{}, ioErr(err)
	}
	defer f.Close()
	rep, err := matrix.ReadReport(f)
	if err != nil {
		return matrix.Report{}, ioErr(fmt.Errorf("%s: %w", path, err))
	}
	return rep, nil
}

// timings writes the rows' measured times from one or more full runs (the median of each
// row's times), for balancing shards and ordering parallel runs.
func timings(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("timings", stderr)
	out := fs.String("o", "", "write to this file (matrix/timings.json) instead of standard output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("timings: which matrix.json?")
	}
	all := map[string][]time.Duration{}
	for _, path := range fs.Args() {
		rep, err := readMatrixFile(path)
		if err != nil {
			return err
		}
		for id, d := range matrix.TimingsFromReport(rep) {
			all[id] = append(all[id], d)
		}
	}
	t := matrix.Timings{}
	for _, id := range slices.Sorted(maps.Keys(all)) {
		ds := all[id]
		slices.Sort(ds)
		t[id] = ds[len(ds)/2]
	}
	b, err := json.MarshalIndent(t, "", " ")
	if err != nil {
		return ioErr(err)
	}
	b = append(b, '\n')
	if *out == "" {
		_, err = stdout.Write(b)
		return ioErr(err)
	}
	return ioErr(os.WriteFile(*out, b, 0o644)) //nolint:gosec // committed data
}

// flake counts, over the report directories of repeated runs, how often each row passed, and
// writes the count as Markdown. Any row that did not pass every run refuses, like the gate.
func flake(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("flake", stderr)
	out := fs.String("o", "", "write the Markdown to this file instead of standard output")
	note := fs.String("note", "", "a line about the runs (command, machine) for the page")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("flake: which report directories?")
	}
	var runs []matrix.Report
	for _, dir := range fs.Args() {
		rep, err := readMatrixFile(filepath.Join(dir, matrix.FileJSON))
		if err != nil {
			return err
		}
		runs = append(runs, rep)
	}
	rows := matrix.Flakes(matrix.Rows(), runs)
	var b strings.Builder
	if err := matrix.WriteFlakeMarkdown(&b, rows, *note); err != nil {
		return ioErr(err)
	}
	if *out == "" {
		fmt.Fprint(stdout, b.String())
	} else if err := os.WriteFile(*out, []byte(b.String()), 0o644); err != nil { //nolint:gosec // a report for people
		return ioErr(err)
	}
	unsteady := 0
	for _, f := range rows {
		if !f.Steady() {
			unsteady++
		}
	}
	fmt.Fprintf(stdout, "flake: %d of %d rows passed all %d runs\n", len(rows)-unsteady, len(rows), len(runs))
	if unsteady > 0 {
		return errGate
	}
	return nil
}
