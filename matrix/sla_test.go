package matrix

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSLAIsDerivedFromTheRows(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSLA(&b, Rows()); err != nil {
		t.Fatal(err)
	}
	doc := b.String()
	for _, r := range Rows() {
		if !strings.Contains(doc, "| `"+r.ID+"`") {
			t.Errorf("row %s missing from the SLA", r.ID)
		}
	}
	f := Facts(row(t, "redis-down.max-down.cache-fresh"))
	if f.Status != "200" || f.Source != "alpha: database, beta: database, gamma: database" || f.Staleness != "unbounded" ||
		!strings.Contains(strings.Join(f.Alerts, ","), string(AlertCacheDown)) || f.Latency != "p95 ≤ 100ms, max ≤ 600ms; every request, the first ones included, ≤ 1s" {
		t.Errorf("facts %+v", f)
	}
	if !strings.Contains(strings.Join(f.Metrics, " "), `participants_fallback_usage_total{reason="cache_unavailable"} = 20`) {
		t.Errorf("metrics %v", f.Metrics)
	}
	if !strings.Contains(strings.Join(f.Logged, " "), `WARN "Using fallback data source"`) {
		t.Errorf("logged %v", f.Logged)
	}
	if f := Facts(row(t, "postgres-down.list")); f.Status != "503 + Retry-After" || f.Source != "none" || f.Staleness != "none served" {
		t.Errorf("postgres facts %+v", f)
	}
	if f := Facts(row(t, "recovery.postgres-down")); f.RecoversWithin != "15s" {
		t.Errorf("recovery facts %+v", f)
	}
	// A change to a row changes the document: it cannot drift from the matrix.
	rows := Rows()
	rows[0].Expected.Latency.P95 = 123 * 1e6
	var changed bytes.Buffer
	if err := WriteSLA(&changed, rows); err != nil {
		t.Fatal(err)
	}
	if changed.String() == doc || !strings.Contains(changed.String(), "p95 ≤ 123ms") {
		t.Error("SLA did not follow the row")
	}
}

// TestCommittedSLAIsCurrent fails when docs/SLA.md no longer says what the rows do.
func TestCommittedSLAIsCurrent(t *testing.T) {
	committed, err := os.ReadFile(filepath.Join("..", "docs", "SLA.md"))
	if err != nil {
		t.Fatalf("%v; generate it with make docs", err)
	}
	var b bytes.Buffer
	if err := WriteSLA(&b, Rows()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(committed, b.Bytes()) {
		t.Error("docs/SLA.md is out of date with matrix/rows.go: run make docs (go run ./matrix/cmd/matrix sla -o docs/SLA.md) and commit it")
	}
}
