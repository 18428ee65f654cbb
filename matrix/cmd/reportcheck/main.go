// Command reportcheck opens the matrix report's page in headless Chromium and checks what a
// person would see: no console error, the verdict of matrix.json, every row shown, the
// filters and the grid narrowing the rows to the right count. It saves a screenshot of the
// first screen.
//
//	reportcheck [-dir out] [-screenshot out/matrix.png] [-browser path] [-timeout 3m]
//
// Exit status: 0 the page passed, 1 it did not, 2 bad usage, or no browser could run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/faultline/faultline/matrix"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("reportcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "out", "report directory: matrix.html and matrix.json")
	shot := fs.String("screenshot", "", "write a PNG of the page's first screen here (default: <dir>/matrix.png)")
	browser := fs.String("browser", "", "Chromium's executable (default: the first of chromium, chromium-browser, google-chrome on PATH)")
	timeout := fs.Duration("timeout", 3*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *shot == "" {
		*shot = filepath.Join(*dir, "matrix.png")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	start := time.Now()
	browserCtx, stop, err := newBrowser(ctx, *browser)
	if err != nil {
		fmt.Fprintf(stderr, "reportcheck: %v (scripts/setup.sh test installs Chromium)\n", err)
		return 2
	}
	defer stop()
	res, err := check(browserCtx, checkOptions{Dir: *dir, Screenshot: *shot})
	if err != nil {
		fmt.Fprintf(stderr, "reportcheck: %v\n", err)
		if errors.Is(err, errPage) {
			return 1
		}
		return 2
	}
	fmt.Fprintf(stdout, "reportcheck: %s passed in %s: verdict %s, %d of %d rows shown, result filter checked on each of the %d results present, a grid cell clicked, no console error; screenshot %s\n",
		filepath.Join(*dir, matrix.FileHTML), time.Since(start).Round(10*time.Millisecond), res.Verdict, res.Shown, res.Total, res.Filters, *shot)
	return 0
}
