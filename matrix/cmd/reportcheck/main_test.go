package main

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faultline/faultline/matrix"
)

// browserOrSkip finds a browser chromedp can start; the check needs one.
func browserOrSkip(t *testing.T) {
	t.Helper()
	for _, b := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if _, err := exec.LookPath(b); err == nil {
			return
		}
	}
	t.Skip("no Chromium on PATH (scripts/setup.sh test installs it)")
}

// reportDir renders the real report of matrix/testdata/baseline/new.json, compared with
// base.json, into a directory of its own; edit changes the page before it is checked.
func reportDir(t *testing.T, edit func(page string) string) string {
	t.Helper()
	read := func(name string) matrix.Report {
		f, err := os.Open(filepath.Join("..", "..", "testdata", "baseline", name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rep, err := matrix.ReadReport(f)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	rep := read("new.json")
	c := matrix.CompareReports(read("base.json"), rep, matrix.DefaultLatencyThreshold())
	rep.Baseline = &c
	dir := t.TempDir()
	if err := matrix.WriteFiles(dir, rep); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		path := filepath.Join(dir, matrix.FileHTML)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(edit(string(b))), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestTheRealPagePasses(t *testing.T) {
	browserOrSkip(t)
	dir := reportDir(t, nil)
	shot := filepath.Join(dir, "shot.png")
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"-dir", dir, "-screenshot", shot}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "verdict FAILED, 5 of 5 rows shown") {
		t.Errorf("output %q", out.String())
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() != viewportWidth || b.Dy() != viewportHeight {
		t.Errorf("screenshot %v, want the first screen %dx%d", b, viewportWidth, viewportHeight)
	}
}

func TestABrokenPageFails(t *testing.T) {
	browserOrSkip(t)
	// One browser, a tab per page.
	browser, stop, err := newBrowser(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	for name, tc := range map[string]struct {
		edit func(string) string
		want string
	}{
		"a console error": {func(p string) string {
			return strings.Replace(p, "</body>", `<script>console.error("boom")</script></body>`, 1)
		}, `console error: boom`},
		"an exception": {func(p string) string {
			return strings.Replace(p, "</body>", `<script>null.x</script></body>`, 1)
		}, `console exception: `},
		"a wrong verdict": {func(p string) string {
			return strings.Replace(p, `<span id="verdict" class="failed">FAILED</span>`, `<span id="verdict" class="passed">PASSED</span>`, 1)
		}, `verdict "PASSED", matrix.json says "FAILED"`},
		"a row missing": {func(p string) string {
			return strings.Replace(p, `<tr id="row-health.redis-blackhole" class="row `, `<tr id="row-health.redis-blackhole" class="`, 1)
		}, `rows shown "4" of "5", 4 visible; matrix.json has 5`},
		"a filter that does not filter": {func(p string) string {
			return strings.Replace(p, `form.addEventListener("change", apply);`, ``, 1)
		}, `filter result failed: 5 shown`},
	} {
		t.Run(name, func(t *testing.T) {
			dir := reportDir(t, tc.edit)
			_, err := check(browser, checkOptions{Dir: dir, Screenshot: filepath.Join(dir, "shot.png")})
			if !errors.Is(err, errPage) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("check: %v; want the page refused, saying %q", err, tc.want)
			}
		})
	}
}
