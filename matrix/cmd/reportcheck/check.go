package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/chromedp/chromedp"

	"github.com/faultline/faultline/matrix"
)

// errPage marks a page that failed a check, as opposed to a check that could not run.
var errPage = errors.New("the page failed")

type checkOptions struct {
	Dir, Screenshot string
}

// result is what the check saw.
type result struct {
	Verdict      string
	Shown, Total int
	Filters      int
}

// pageState is what the page shows at one moment.
type pageState struct {
	Verdict string `json:"verdict"`
	Shown   string `json:"shown"`
	Total   string `json:"total"`
	// Visible counts the table rows not hidden by a filter.
	Visible int `json:"visible"`
}

const stateJS = `({
  verdict: (document.getElementById("verdict") || {}).textContent || "",
  shown: (document.getElementById("shown") || {}).textContent || "",
  total: (document.getElementById("total") || {}).textContent || "",
  visible: document.querySelectorAll("tr.row:not([hidden])").length
})`

// setFilterJS selects a value in one filter as a person would, then reads the state.
const setFilterJS = `(function (name, value) {
  var s = document.getElementById("filter-" + name);
  s.value = value;
  s.dispatchEvent(new Event("change", {bubbles: true}));
  return %s;
})(%q, %q)`

// doneMarker is logged last, so reading the console up to it reads every message before it.
const doneMarker = "reportcheck: done"

// viewport is the first screen the screenshot shows.
const viewportWidth, viewportHeight = 1400, 1000

// newBrowser starts headless Chromium (path, or the first chromedp finds) for checks to open
// tabs in; stop ends it. It starts the browser at once: a check given a context whose browser
// has not started would start a browser of its own.
func newBrowser(ctx context.Context, path string) (browser context.Context, stop context.CancelFunc, err error) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.WindowSize(viewportWidth, viewportHeight))
	if path != "" {
		opts = append(opts, chromedp.ExecPath(path))
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancel := chromedp.NewContext(actx)
	stop = func() { cancel(); cancelAlloc() }
	if err := chromedp.Do(bctx); err != nil {
		stop()
		return nil, nil, fmt.Errorf("start the browser: %w", err)
	}
	return bctx, stop, nil
}

// check opens the report's page in a new tab of the browser and checks it.
func check(browser context.Context, o checkOptions) (result, error) {
	rep, err := readReport(filepath.Join(o.Dir, matrix.FileJSON))
	if err != nil {
		return result{}, err
	}
	page, err := filepath.Abs(filepath.Join(o.Dir, matrix.FileHTML))
	if err != nil {
		return result{}, err
	}
	if _, err := os.Stat(page); err != nil {
		return result{}, err
	}
	bctx, cancel := chromedp.NewContext(browser)
	defer cancel()

	// Subscribed before the page loads, so no message is lost.
	console := chromedp.Console(bctx)
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(viewportWidth, viewportHeight),
		chromedp.Navigate((&url.URL{Scheme: "file", Path: page}).String())); err != nil {
		return result{}, fmt.Errorf("open %s in the browser: %w", page, err)
	}
	res := result{Verdict: matrix.Verdict(rep), Total: len(rep.Rows)}
	var problems []string
	problems = append(problems, checkLoaded(bctx, rep, &res)...)
	problems = append(problems, checkFilters(bctx, rep, &res)...)
	problems = append(problems, checkGridCell(bctx)...)
	if err := screenshot(bctx, o.Screenshot); err != nil {
		return result{}, err
	}
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](fmt.Sprintf(`console.debug(%q), true`, doneMarker))); err != nil {
		return result{}, fmt.Errorf("mark the end of the console: %w", err)
	}
	for m, err := range console {
		if err != nil {
			return result{}, fmt.Errorf("read the console: %w", err)
		}
		if m.Text == doneMarker {
			break
		}
		if m.Type == chromedp.ConsoleError || m.IsException() {
			problems = append(problems, "console "+m.String())
		}
	}
	if len(problems) > 0 {
		return res, fmt.Errorf("%w:\n  %s", errPage, strings.Join(problems, "\n  "))
	}
	return res, nil
}

// checkLoaded compares the loaded page with matrix.json: the verdict, and every row shown.
func checkLoaded(ctx context.Context, rep matrix.Report, res *result) []string {
	st, err := chromedp.Run(ctx, chromedp.Evaluate[pageState](stateJS))
	if err != nil {
		return []string{"read the page: " + err.Error()}
	}
	var out []string
	if st.Verdict != res.Verdict {
		out = append(out, fmt.Sprintf("verdict %q, matrix.json says %q", st.Verdict, res.Verdict))
	}
	res.Shown, _ = strconv.Atoi(st.Shown)
	if st.Shown != strconv.Itoa(len(rep.Rows)) || st.Total != st.Shown || st.Visible != len(rep.Rows) {
		out = append(out, fmt.Sprintf("rows shown %q of %q, %d visible; matrix.json has %d", st.Shown, st.Total, st.Visible, len(rep.Rows)))
	}
	return out
}

// checkFilters selects each result the report holds and checks the count shown, then shows
// every row again.
func checkFilters(ctx context.Context, rep matrix.Report, res *result) []string {
	count := map[matrix.Result]int{}
	for _, r := range rep.Rows {
		count[r.Result]++
	}
	var out []string
	for _, r := range []matrix.Result{matrix.ResultPassed, matrix.ResultFailed, matrix.ResultSkipped, matrix.ResultMissing} {
		if count[r] == 0 {
			continue
		}
		st, err := chromedp.Run(ctx, chromedp.Evaluate[pageState](fmt.Sprintf(setFilterJS, stateJS, "result", r)))
		if err != nil {
			return append(out, fmt.Sprintf("filter result %s: %v", r, err))
		}
		res.Filters++
		if st.Shown != strconv.Itoa(count[r]) || st.Visible != count[r] {
			out = append(out, fmt.Sprintf("filter result %s: %s shown, %d visible; matrix.json has %d", r, st.Shown, st.Visible, count[r]))
		}
	}
	return append(out, showAll(ctx)...)
}

// checkGridCell clicks the grid's first cell and checks that the rows shown are its rows.
func checkGridCell(ctx context.Context) []string {
	const cell = "#grid a[data-dep]"
	attrs, err := chromedp.Run(ctx, chromedp.Attributes(chromedp.CSS(cell)))
	if err != nil {
		return []string{"no grid cell to click: " + err.Error()}
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(cell))); err != nil {
		return []string{"click a grid cell: " + err.Error()}
	}
	st, err := chromedp.Run(ctx, chromedp.Evaluate[pageState](stateJS))
	if err != nil {
		return []string{"read the page after a click: " + err.Error()}
	}
	var out []string
	if st.Shown != attrs["data-count"] || strconv.Itoa(st.Visible) != attrs["data-count"] {
		out = append(out, fmt.Sprintf("grid cell %s/%s holds %s rows, the click shows %s (%d visible)",
			attrs["data-dep"], attrs["data-fault"], attrs["data-count"], st.Shown, st.Visible))
	}
	return append(out, showAll(ctx)...)
}

func showAll(ctx context.Context) []string {
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#filter-reset"))); err != nil {
		return []string{"show every row again: " + err.Error()}
	}
	return nil
}

// screenshot saves the first screen, scrolled to the top.
func screenshot(ctx context.Context, path string) error {
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.scrollTo(0, 0), true`)); err != nil {
		return fmt.Errorf("scroll to the top: %w", err)
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	return os.WriteFile(path, png, 0o644) //nolint:gosec // an image for people
}

func readReport(path string) (matrix.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return matrix.Report{}, err
	}
	defer f.Close()
	return matrix.ReadReport(f)
}
