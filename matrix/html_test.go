package matrix

import (
	"bytes"
	"slices"
	"strings"
	"testing"

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
		case "script", "link", "img", "iframe", "object", "embed":
			t.Errorf("<%s> in a self-contained report", n.Data)
		}
		for _, a := range n.Attr {
			if (a.Key == "src" || a.Key == "href") && a.Val != "" {
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
