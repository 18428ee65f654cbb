package metrics

// The dashboards and alerting rules in deploy/ query the service's metrics by name. These tests
// live here, next to the collectors, so that a renamed metric or label fails the build of the
// service instead of leaving a blank panel or an alert that can never fire. PromQL is read with
// the parser Prometheus itself uses, so the expressions are checked exactly as Prometheus
// would read them.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

// repoRoot is the repository root as seen from this package's directory, where go test runs.
const repoRoot = "../../.."

// runbookURL is the prefix every alert's runbook_url starts with, followed by the anchor of the
// alert's section in docs/runbook.md.
const runbookURL = "https://github.com/faultline/faultline/blob/main/docs/runbook.md#"

// series describes one series name the service exports: its label names and, for each, the
// values seen in a freshly built registry.
type series map[string]map[string]bool

// exportedSeries returns every series name the service exports, keyed by name, with the target
// labels Prometheus adds at scrape time and the scrape's own `up` series.
func exportedSeries(t *testing.T) map[string]series {
	t.Helper()
	families, err := newTouchedRegistry(t).Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]series{}
	add := func(name string, m *dto.Metric, extra string) {
		s := out[name]
		if s == nil {
			s = series{"job": {}, "instance": {}}
			out[name] = s
		}
		if extra != "" {
			s[extra] = map[string]bool{}
		}
		for _, lp := range m.GetLabel() {
			if s[lp.GetName()] == nil {
				s[lp.GetName()] = map[string]bool{}
			}
			s[lp.GetName()][lp.GetValue()] = true
		}
	}
	for _, f := range families {
		name := f.GetName()
		for _, m := range f.GetMetric() {
			switch f.GetType() {
			case dto.MetricType_HISTOGRAM:
				add(name+"_bucket", m, "le")
				add(name+"_sum", m, "")
				add(name+"_count", m, "")
			case dto.MetricType_SUMMARY:
				add(name, m, "quantile")
				add(name+"_sum", m, "")
				add(name+"_count", m, "")
			default:
				add(name, m, "")
			}
		}
	}
	// up is written by Prometheus for every scrape of the service, not by the service.
	out["up"] = series{"job": {}, "instance": {}}
	return out
}

// selectorProblems parses a PromQL expression and returns the metric names it reads, its
// longest range (of range selectors and subqueries), and one message per selector that cannot
// match what the service exports: an unknown metric, a label the metric does not have, or a
// value outside an enumerated label's set.
func selectorProblems(expr string, exported map[string]series) (names []string, longest time.Duration, problems []string) {
	node, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, 0, []string{fmt.Sprintf("parse: %v", err)}
	}
	parser.Inspect(node, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.MatrixSelector:
			longest = max(longest, n.Range)
		case *parser.SubqueryExpr:
			longest = max(longest, n.Range)
		case *parser.VectorSelector:
			names = append(names, n.Name)
			problems = append(problems, matcherProblems(n, exported)...)
		}
		return nil
	})
	return names, longest, problems
}

// matcherProblems checks one selector's matchers against the exported series.
func matcherProblems(vs *parser.VectorSelector, exported map[string]series) []string {
	name := vs.Name
	if name == "" {
		return []string{fmt.Sprintf("selector %s names no metric", vs)}
	}
	s, ok := exported[name]
	if !ok {
		return []string{fmt.Sprintf("metric %s is not exported by the service", name)}
	}
	var problems []string
	for _, m := range vs.LabelMatchers {
		if m.Name == labels.MetricName {
			continue
		}
		values, ok := s[m.Name]
		if !ok {
			problems = append(problems, fmt.Sprintf("metric %s has no label %q", name, m.Name))
			continue
		}
		// These labels take a closed set of values fixed by the contract; a query naming any
		// other value of them can never match.
		enumerated := slices.Contains([]string{"reason", "dependency", "result"}, m.Name)
		if enumerated && (m.Type == labels.MatchEqual || m.Type == labels.MatchNotEqual) && m.Value != "" && !values[m.Value] {
			problems = append(problems, fmt.Sprintf("metric %s never has %s=%q (known: %s)", name, m.Name, m.Value, strings.Join(sortedKeys(values), ", ")))
		}
	}
	return problems
}

// sortedKeys returns the keys of m in order, for stable messages.
func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// dashboard is the part of a Grafana dashboard model these tests read.
type dashboard struct {
	Title         string  `json:"title"`
	UID           string  `json:"uid"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	GridPos struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // the panels of a collapsed row
}

// grafanaExpr replaces Grafana's interval variables, which stand where PromQL wants a duration,
// by durations. Other variables ($instance) only appear inside label values, which parse as they
// are.
func grafanaExpr(expr string) string {
	return strings.NewReplacer(
		"${__rate_interval}", "5m", "$__rate_interval", "5m",
		"${__interval}", "1m", "$__interval", "1m",
		"${__range}", "1h", "$__range", "1h",
	).Replace(expr)
}

func TestDashboardsQueryOnlyExportedMetrics(t *testing.T) {
	exported := exportedSeries(t)
	files, err := filepath.Glob(filepath.Join(repoRoot, "deploy", "grafana", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboard under deploy/grafana (err %v)", err)
	}
	labelValues := regexp.MustCompile(`^label_values\((.+),\s*(\w+)\s*\)$`)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var d dashboard
			if err := json.Unmarshal(raw, &d); err != nil {
				t.Fatalf("parse: %v", err)
			}
			if d.Title == "" || d.UID == "" || d.SchemaVersion == 0 {
				t.Errorf("dashboard needs a title, a uid and a schemaVersion: %q %q %d", d.Title, d.UID, d.SchemaVersion)
			}

			used := map[string]bool{}
			ids := map[int]bool{}
			var walk func(ps []panel)
			walk = func(ps []panel) {
				for _, p := range ps {
					if ids[p.ID] {
						t.Errorf("panel id %d is used twice", p.ID)
					}
					ids[p.ID] = true
					if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X < 0 || p.GridPos.X+p.GridPos.W > 24 {
						t.Errorf("panel %q: gridPos %+v is outside the 24-column grid", p.Title, p.GridPos)
					}
					if p.Type == "row" {
						walk(p.Panels)
						continue
					}
					if p.Title == "" || len(p.Targets) == 0 {
						t.Errorf("panel %d (%q) needs a title and at least one target", p.ID, p.Title)
					}
					refs := map[string]bool{}
					for _, tg := range p.Targets {
						if tg.RefID == "" || refs[tg.RefID] {
							t.Errorf("panel %q: refId %q is empty or repeated", p.Title, tg.RefID)
						}
						refs[tg.RefID] = true
						names, _, problems := selectorProblems(grafanaExpr(tg.Expr), exported)
						for _, pr := range problems {
							t.Errorf("panel %q, target %s: %s\n%s", p.Title, tg.RefID, pr, tg.Expr)
						}
						for _, n := range names {
							used[n] = true
						}
					}
				}
			}
			walk(d.Panels)
			if len(ids) == 0 {
				t.Fatal("dashboard has no panels")
			}

			for _, v := range d.Templating.List {
				if v.Type != "query" {
					continue
				}
				var q struct {
					Query string `json:"query"`
				}
				if err := json.Unmarshal(v.Query, &q); err != nil {
					if err := json.Unmarshal(v.Query, &q.Query); err != nil {
						t.Errorf("variable %s: query is neither an object nor a string", v.Name)
						continue
					}
				}
				m := labelValues.FindStringSubmatch(q.Query)
				if m == nil {
					t.Errorf("variable %s: query %q is not label_values(selector, label)", v.Name, q.Query)
					continue
				}
				expr := fmt.Sprintf("%s{%s!=\"\"}", m[1], m[2])
				if strings.Contains(m[1], "{") {
					expr = m[1]
				}
				_, _, problems := selectorProblems(expr, exported)
				for _, pr := range problems {
					t.Errorf("variable %s: %s", v.Name, pr)
				}
			}

			// The dashboard is the operator's view of the service's resilience: these must be on it.
			for _, want := range []string{
				"participants_cache_errors_total",
				"participants_max_api_errors_total",
				"participants_fallback_usage_total",
				"participants_data_freshness_seconds",
				"http_requests_total",
				"http_request_duration_seconds_bucket",
				"dependency_up",
				"circuit_breaker_state",
				"participants_refresh_queue_length",
				"participants_refresh_queue_capacity",
				"participants_refresh_dropped_total",
			} {
				if !used[want] {
					t.Errorf("no panel shows %s", want)
				}
			}
		})
	}
}

// ruleFile is the part of a Prometheus rule file these tests read.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// ruleTests is the part of a promtool rule test file these tests read.
type ruleTests struct {
	Tests []struct {
		AlertRuleTest []struct {
			Alertname string `yaml:"alertname"`
			ExpAlerts []any  `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, into); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
}

// githubAnchors returns the anchors GitHub generates for the headings of a Markdown file.
func githubAnchors(t *testing.T, path string) map[string]bool {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	drop := regexp.MustCompile(`[^\p{L}\p{N} _-]`)
	anchors := map[string]bool{}
	inFence := false
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "```") {
			inFence = !inFence
		}
		if inFence || !strings.HasPrefix(line, "#") {
			continue
		}
		heading := strings.TrimSpace(strings.TrimLeft(line, "#"))
		slug := strings.ReplaceAll(drop.ReplaceAllString(strings.ToLower(heading), ""), " ", "-")
		anchors[slug] = true
	}
	return anchors
}

func TestAlertRulesQueryOnlyExportedMetrics(t *testing.T) {
	exported := exportedSeries(t)
	var rf ruleFile
	readYAML(t, filepath.Join(repoRoot, "deploy", "prometheus", "alerts.yml"), &rf)
	var rt ruleTests
	readYAML(t, filepath.Join(repoRoot, "deploy", "prometheus", "alerts_test.yml"), &rt)
	anchors := githubAnchors(t, filepath.Join(repoRoot, "docs", "runbook.md"))

	firing, silent := map[string]bool{}, map[string]bool{}
	for _, tc := range rt.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				firing[a.Alertname] = true
			} else {
				silent[a.Alertname] = true
			}
		}
	}

	alerts := 0
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			name := r.Alert
			if name == "" {
				name = r.Record
			}
			t.Run(name, func(t *testing.T) {
				_, longest, problems := selectorProblems(r.Expr, exported)
				for _, pr := range problems {
					t.Errorf("%s\n%s", pr, r.Expr)
				}
				if r.Alert == "" {
					return
				}
				alerts++
				// A `for` shorter than the rate window lets one isolated increment fire the alert.
				forDur, err := model.ParseDuration(r.For)
				if err != nil || time.Duration(forDur) < longest {
					t.Errorf("for %q must be a duration of at least the longest range in the expression (%s)", r.For, longest)
				}
				if s := r.Labels["severity"]; s != "warning" && s != "critical" {
					t.Errorf("severity label %q, want warning or critical", s)
				}
				for _, key := range []string{"summary", "description", "runbook_url"} {
					if r.Annotations[key] == "" {
						t.Errorf("annotation %s is missing", key)
					}
				}
				anchor, ok := strings.CutPrefix(r.Annotations["runbook_url"], runbookURL)
				if !ok || anchor != strings.ToLower(r.Alert) || !anchors[anchor] {
					t.Errorf("runbook_url %q must be %s%s, a heading of docs/runbook.md", r.Annotations["runbook_url"], runbookURL, strings.ToLower(r.Alert))
				}
				if !firing[r.Alert] || !silent[r.Alert] {
					t.Errorf("alerts_test.yml must show %s both firing (%v) and silent (%v)", r.Alert, firing[r.Alert], silent[r.Alert])
				}
			})
		}
	}
	if alerts == 0 {
		t.Fatal("alerts.yml defines no alert")
	}
}
