package matrix

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func walk(n *html.Node, visit func(*html.Node)) {
	visit(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, visit)
	}
}

func text(n *html.Node) string {
	var b strings.Builder
	walk(n, func(x *html.Node) {
		if x.Type == html.TextNode {
			b.WriteString(x.Data)
		}
	})
	return b.String()
}

func TestHTMLReport(t *testing.T) {
	rep := fixtureReport(t)
	var b bytes.Buffer
	if err := WriteHTML(&b, rep); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(&b)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]*html.Node{}
	failures := map[string]*html.Node{}
	walk(doc, func(n *html.Node) {
		if n.Type != html.ElementNode {
			return
		}
		switch n.Data {
		case "link", "img", "iframe", "object", "embed":
			t.Errorf("<%s> in a self-contained report", n.Data)
		}
		for _, a := range n.Attr {
			if a.Key == "src" || (a.Key == "href" && !strings.HasPrefix(a.Val, "#")) {
				t.Errorf("<%s %s=%q>: external asset", n.Data, a.Key, a.Val)
			}
		}
		if id, ok := strings.CutPrefix(attr(n, "id"), "row-"); ok && n.Data == "tr" {
			rows[id] = n
		}
		if id, ok := strings.CutPrefix(attr(n, "id"), "failure-"); ok {
			failures[id] = n
		}
	})
	if len(rows) != len(rep.Rows) {
		t.Fatalf("%d table rows, want %d", len(rows), len(rep.Rows))
	}
	cellsOf := func(tr *html.Node) map[Field]string {
		out := map[Field]string{}
		walk(tr, func(n *html.Node) {
			if n.Type == html.ElementNode && n.Data == "td" && attr(n, "data-field") != "" {
				classes := strings.Fields(attr(n, "class"))
				out[Field(attr(n, "data-field"))] = classes[len(classes)-1]
			}
		})
		return out
	}
	for _, r := range rep.Rows {
		tr := rows[r.ID]
		if got := attr(tr, "data-result"); got != string(r.Result) {
			t.Errorf("%s: data-result %q, want %q", r.ID, got, r.Result)
		}
		cells := cellsOf(tr)
		if len(cells) != len(Fields()) {
			t.Errorf("%s: %d cells", r.ID, len(cells))
		}
		for f, c := range r.Cells {
			if cells[f] != string(c) {
				t.Errorf("%s %s: class %q, want %q", r.ID, f, cells[f], c)
			}
		}
	}
	// Green and red where they belong.
	pass := cellsOf(rows["redis-up.max-up.cache-fresh"])
	for _, f := range []Field{FieldStatus, FieldChats, FieldLatency, FieldMetrics, FieldLogs, FieldStores, FieldMaxCalls, FieldAlerts, FieldRun} {
		if pass[f] != "pass" {
			t.Errorf("passing row: %s is %q", f, pass[f])
		}
	}
	failed := cellsOf(rows["redis-down.max-up.cache-fresh"])
	if failed[FieldChats] != "fail" || failed[FieldStatus] != "pass" {
		t.Errorf("failed row cells %v", failed)
	}
	var chatsCell *html.Node
	walk(rows["redis-down.max-up.cache-fresh"], func(n *html.Node) {
		if attr(n, "data-field") == string(FieldChats) {
			chatsCell = n
		}
	})
	if title := attr(chatsCell, "title"); !strings.Contains(title, "expected database") || !strings.Contains(title, "observed cache") {
		t.Errorf("failed cell title %q", title)
	}
	// Which alerts each row's replay fired.
	firedOf := func(tr *html.Node) string {
		var out string
		walk(tr, func(n *html.Node) {
			if n.Type == html.ElementNode && n.Data == "td" && attr(n, "class") == "fired" {
				out = text(n)
			}
		})
		return out
	}
	if got := firedOf(rows["redis-down.max-up.cache-fresh"]); got != "ParticipantsCacheDown, ParticipantsFallbackRateHigh" {
		t.Errorf("alerts fired on the Redis row: %q", got)
	}
	if got := firedOf(rows["redis-up.max-up.cache-fresh"]); got != "none" {
		t.Errorf("alerts fired on the healthy row: %q", got)
	}
	if got := firedOf(rows["refresh.max-up"]); got != "" {
		t.Errorf("alerts fired on a row that did not run: %q", got)
	}
	// Expected vs observed for every failed row, and only for those.
	for _, r := range rep.Rows {
		if _, ok := failures[r.ID]; ok != (r.Result == ResultFailed) {
			t.Errorf("%s (%s): failure details present = %v", r.ID, r.Result, ok)
		}
	}
	details := text(failures["redis-down.max-up.cache-fresh"])
	if !strings.Contains(details, "chat 1 source") || !strings.Contains(details, "database") || !strings.Contains(details, "cache") {
		t.Errorf("failure details %q", details)
	}
	page := text(doc)
	for _, want := range []string{"FAILED", "0123abc", "go1.26.8", "faultline-offline/postgres:15", "1m35s", "no-such.row", "AfterSuite failed"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if slices.ContainsFunc([]string{fixtureToken, fixtureDBPassword}, func(s string) bool { return strings.Contains(b.String(), s) }) {
		t.Error("secret in HTML")
	}
}

// byID returns the element with the id, or nil.
func byID(doc *html.Node, id string) *html.Node {
	var found *html.Node
	walk(doc, func(n *html.Node) {
		if found == nil && n.Type == html.ElementNode && attr(n, "id") == id {
			found = n
		}
	})
	return found
}

func renderPage(t *testing.T, rep Report) (*html.Node, string) {
	t.Helper()
	var b bytes.Buffer
	if err := WriteHTML(&b, rep); err != nil {
		t.Fatal(err)
	}
	raw := b.String()
	doc, err := html.Parse(&b)
	if err != nil {
		t.Fatal(err)
	}
	return doc, raw
}

func TestHTMLPageAnswersAtAGlance(t *testing.T) {
	rep := fixtureReport(t)
	healthy := "redis-up.max-up.cache-fresh"
	rep.Baseline = &Comparison{Baseline: "commit base", Latency: DefaultLatencyThreshold(), Rows: []RowChange{
		{ID: healthy, Kind: ChangeChanged, Base: ResultPassed, New: ResultPassed,
			Latency:     []LatencyChange{{Quantile: QuantileP95, Base: 3 * time.Millisecond, New: 400 * time.Millisecond}},
			Regressions: []string{"slower: p95 3ms → 400ms (+397ms)"}},
		{ID: "postgres-down.list", Kind: ChangeChanged, Base: ResultPassed, New: ResultFailed,
			Regressions: []string{"result passed → failed"}, Accepted: "known"},
	}}
	doc, raw := renderPage(t, rep)

	if v := byID(doc, "verdict"); v == nil || text(v) != "FAILED" || attr(v, "class") != "failed" {
		t.Errorf("verdict %v", v)
	}
	// The order of the page: verdict, grid, what changed, what failed, then every row.
	last := -1
	for _, id := range []string{"verdict", "grid", "changes", "failures", "rows", "filters", "run"} {
		i := strings.Index(raw, `id="`+id+`"`)
		if i < last {
			t.Errorf("#%s comes before what should precede it", id)
		}
		last = i
	}
	if !strings.Contains(text(byID(doc, "summary")), "2 rows changed, 2 regressed (1 accepted)") {
		t.Errorf("summary %q", text(byID(doc, "summary")))
	}

	// The grid: one link per non-empty cell, coloured by its rows and their changes.
	cells := map[string]*html.Node{}
	walk(byID(doc, "grid"), func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "td" && n.FirstChild != nil && n.FirstChild.Data == "a" {
			a := n.FirstChild
			cells[attr(a, "data-dep")+"/"+attr(a, "data-fault")] = n
		}
	})
	for key, want := range map[string]struct {
		class string
		count string
	}{
		"none/none":       {"g partial regressed", "4"}, // one passed, three did not run; one regressed
		"redis/down":      {"g failed", "2"},
		"postgres/down":   {"g failed changed", "1"}, // its regression was accepted
		"max_api/down":    {"g not-run", "1"},
		"redis/blackhole": {"", ""},
	} {
		td := cells[key]
		if want.class == "" {
			if td != nil {
				t.Errorf("grid cell %s exists for no row", key)
			}
			continue
		}
		if td == nil {
			t.Errorf("no grid cell %s (cells %v)", key, len(cells))
			continue
		}
		if attr(td, "class") != want.class || attr(td.FirstChild, "data-count") != want.count {
			t.Errorf("grid cell %s: class %q count %q, want %q %q", key, attr(td, "class"), attr(td.FirstChild, "data-count"), want.class, want.count)
		}
	}

	// What changed: the refused regression first, then the accepted one.
	var changed []string
	walk(byID(doc, "changes"), func(n *html.Node) {
		if id := attr(n, "data-change-row"); id != "" {
			changed = append(changed, attr(n, "class")+" "+id)
		}
	})
	if strings.Join(changed, ",") != "regressed "+healthy+",accepted postgres-down.list" {
		t.Errorf("changes %v", changed)
	}

	// The full tables: filters, the count shown, and each row's data for them.
	for _, f := range []string{"group", "dep", "fault", "result", "change"} {
		if byID(doc, "filter-"+f) == nil {
			t.Errorf("no filter %s", f)
		}
	}
	if text(byID(doc, "shown")) != "8" || text(byID(doc, "total")) != "8" {
		t.Errorf("count shown %q of %q", text(byID(doc, "shown")), text(byID(doc, "total")))
	}
	tr := byID(doc, "row-"+healthy)
	if attr(tr, "data-pairs") != "none:none" || attr(tr, "data-change") != "regressed" || attr(tr, "data-group") != "cache" {
		t.Errorf("row data: pairs %q change %q group %q", attr(tr, "data-pairs"), attr(tr, "data-change"), attr(tr, "data-group"))
	}

	// Each row expands to what it observed.
	detail := text(byID(doc, "detail-"+healthy))
	for _, want := range []string{"statuses", "200 ×", "latency", "Chats (first response)", "alerts fired"} {
		if !strings.Contains(detail, want) {
			t.Errorf("the healthy row's detail lacks %q", want)
		}
	}
	detail = text(byID(doc, "detail-redis-down.max-up.cache-fresh"))
	obs := rep.Rows[1].Observed
	for _, want := range []string{"Not met", "chat 1 source", "Metric deltas", obs.Metrics[0].Name, "Log records", LogCacheFailed,
		"Stores at the end", "MAX calls"} {
		if !strings.Contains(detail, want) {
			t.Errorf("the failed row's detail lacks %q", want)
		}
	}
	for _, secret := range []string{fixtureToken, fixtureDBPassword} {
		if strings.Contains(raw, secret) {
			t.Errorf("page holds %q", secret)
		}
	}
}

func TestHTMLWithoutBaselineHasNoChanges(t *testing.T) {
	doc, _ := renderPage(t, fixtureReport(t))
	if byID(doc, "changes") != nil || byID(doc, "filter-change") != nil || byID(doc, "baseline-line") != nil {
		t.Error("a page without a baseline shows changes")
	}
}
