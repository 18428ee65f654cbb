// Package alertreplay replays metrics sampled from a running service through Prometheus
// alerting rules, to show which alerts a fault really fires.
//
// The scrapes become the input series of a promtool rule unit test, in which every alert of the
// rule file is asked, at every step, to be silent. promtool evaluates the rules with the
// Prometheus rule engine and reports each alert that fired anyway, with its time; Replay reads
// those reports back. A canary alert that always fires guards against reading promtool's output
// wrongly. See docs/alerts.md for the time mapping.
package alertreplay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

// DefaultStep is the rule time one scrape stands for when Replayer.Step is zero: the longest
// scrape interval the chatd rules are written for.
const DefaultStep = 30 * time.Second

// canary is an alert that fires at every evaluation. Replay asks for it to be silent at time
// zero, so a run whose output does not report it was misread.
const canary = "AlertreplayCanary"

const canaryRules = `groups:
  - name: alertreplay
    rules:
      - alert: ` + canary + `
        expr: vector(1)
`

// Replayer evaluates alerting rules over scrapes. Its zero value is not usable: RulesPath is
// required.
type Replayer struct {
	// RulesPath is the Prometheus rule file, for example deploy/prometheus/alerts.yml.
	RulesPath string
	// Promtool is the promtool binary; empty means promtool from PATH.
	Promtool string
	// Step is the rule time between two consecutive scrapes; zero means DefaultStep.
	Step time.Duration
	// Job and Instance are the target labels Prometheus would add to every series; empty means
	// "chatd" and "chatd:8080".
	Job, Instance string
}

// Result is what a replay found.
type Result struct {
	// Step is the rule time between scrapes; Steps is the number of scrapes, evaluated at rule
	// times 0, Step, ..., (Steps-1)*Step.
	Step  time.Duration
	Steps int
	// Alerts names every alert of the rule file, in file order.
	Alerts []string
	// Firing holds, for each alert that fired, the rule times at which it was firing.
	Firing map[string][]time.Duration
	// TestFile is the promtool test file the replay ran, kept for reports and debugging.
	TestFile []byte
	// Inputs holds, for each alert that fired, the input series its expression selects
	// with a label matcher that changed in the steps before it first fired (its for
	// period and two more), each as "series: values" over those steps, so a report says
	// what made it fire.
	Inputs map[string][]string
}

// Fired returns the alerts that fired at any step, in rule file order.
func (r Result) Fired() []string {
	var out []string
	for _, a := range r.Alerts {
		if len(r.Firing[a]) > 0 {
			out = append(out, a)
		}
	}
	return out
}

// FiringAtEnd returns the alerts firing at the last step, in rule file order.
func (r Result) FiringAtEnd() []string {
	last := time.Duration(r.Steps-1) * r.Step
	var out []string
	for _, a := range r.Alerts {
		if slices.Contains(r.Firing[a], last) {
			out = append(out, a)
		}
	}
	return out
}

// String summarises the result in one line per fired alert, for reports.
func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d scrapes replayed as %s of rule time", r.Steps, model.Duration(time.Duration(r.Steps-1)*r.Step))
	fired := r.Fired()
	if len(fired) == 0 {
		b.WriteString("; no alert fired")
	}
	for _, a := range fired {
		times := r.Firing[a]
		fmt.Fprintf(&b, "\n%s firing from %s to %s", a, model.Duration(times[0]), model.Duration(times[len(times)-1]))
		for _, in := range r.Inputs[a] {
			fmt.Fprintf(&b, "\n  %s", in)
		}
	}
	return b.String()
}

// Metrics returns the names of the series the rules read, sorted: all a scrape needs to
// hold for Replay, which ignores every other series.
func (r Replayer) Metrics() ([]string, error) {
	rules, err := readRules(r.RulesPath)
	if err != nil {
		return nil, err
	}
	return slices.Sorted(maps.Keys(rules.metrics)), nil
}

// Replay evaluates the rules over the scrapes and returns the alerts that fired. It fails when
// promtool is missing, the rules do not load, or promtool's output cannot be read.
func (r Replayer) Replay(ctx context.Context, scrapes []Scrape) (Result, error) {
	rules, err := readRules(r.RulesPath)
	if err != nil {
		return Result{}, err
	}
	promtool := r.Promtool
	if promtool == "" {
		promtool = "promtool"
	}
	promtool, err = exec.LookPath(promtool)
	if err != nil {
		return Result{}, fmt.Errorf("find promtool (Debian package prometheus): %w", err)
	}
	rulesPath, err := filepath.Abs(r.RulesPath)
	if err != nil {
		return Result{}, fmt.Errorf("rules path: %w", err)
	}

	dir, err := os.MkdirTemp("", "alertreplay")
	if err != nil {
		return Result{}, fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	canaryPath := filepath.Join(dir, "canary.yml")
	if err := os.WriteFile(canaryPath, []byte(canaryRules), 0o600); err != nil {
		return Result{}, fmt.Errorf("write canary rules: %w", err)
	}
	file, err := r.testFile([]string{rulesPath, canaryPath}, rules, scrapes, true)
	if err != nil {
		return Result{}, err
	}
	testPath := filepath.Join(dir, "replay_test.yml")
	if err := os.WriteFile(testPath, file, 0o600); err != nil {
		return Result{}, fmt.Errorf("write test file: %w", err)
	}

	cmd := exec.CommandContext(ctx, promtool, "test", "rules", testPath)
	out, runErr := cmd.CombinedOutput()
	var exit *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exit) {
		return Result{}, fmt.Errorf("run promtool: %w", runErr)
	}
	firing, err := parseFailures(out)
	if err != nil {
		return Result{}, err
	}
	if !slices.Contains(firing[canary], 0) {
		return Result{}, fmt.Errorf("promtool did not report the canary alert, so its output cannot be read (%w):\n%s", runErr, out)
	}
	delete(firing, canary)
	for a := range firing {
		if !slices.Contains(rules.alerts, a) {
			return Result{}, fmt.Errorf("promtool reported unknown alert %q:\n%s", a, out)
		}
	}
	return Result{
		Step:     r.step(),
		Steps:    len(scrapes),
		Alerts:   rules.alerts,
		Firing:   firing,
		TestFile: file,
		Inputs:   r.inputs(rules, scrapes, firing),
	}, nil
}

// inputs finds, for each fired alert, the series behind it (Result.Inputs).
func (r Replayer) inputs(rules ruleSet, scrapes []Scrape, firing map[string][]time.Duration) map[string][]string {
	step := r.step()
	series, values := inputSeries(rules, scrapes, r.Job, r.Instance)
	keys := slices.Sorted(maps.Keys(values))
	out := map[string][]string{}
	for alert, times := range firing {
		if len(times) == 0 {
			continue
		}
		last := int(times[0] / step)
		first := max(0, last-int(rules.pending[alert]/step)-2)
		for _, key := range keys {
			if !rules.selects(alert, series[key]) {
				continue
			}
			window := values[key][first:min(last+1, len(values[key]))]
			if !changes(window) {
				continue
			}
			out[alert] = append(out[alert], fmt.Sprintf("%s: %s (steps %d-%d)", key, seriesValues(window), first, last))
		}
	}
	return out
}

// changes reports whether a series takes more than one value (or appears or disappears)
// over vs.
func changes(vs []*float64) bool {
	for i := 1; i < len(vs); i++ {
		a, b := vs[i-1], vs[i]
		if (a == nil) != (b == nil) || (a != nil && *a != *b) {
			return true
		}
	}
	return false
}

// TestFile returns the promtool test file Replay runs for the scrapes, without the canary, with
// rule_files naming RulesPath as given. Written next to the rules, it can be run by hand with
// `promtool test rules`; every alert that fires is reported as a failure.
func (r Replayer) TestFile(scrapes []Scrape) ([]byte, error) {
	rules, err := readRules(r.RulesPath)
	if err != nil {
		return nil, err
	}
	return r.testFile([]string{filepath.Base(r.RulesPath)}, rules, scrapes, false)
}

func (r Replayer) step() time.Duration {
	if r.Step > 0 {
		return r.Step
	}
	return DefaultStep
}

// ruleSet is what Replay needs to know of a rule file.
type ruleSet struct {
	alerts  []string        // alert names in file order
	metrics map[string]bool // metric names the expressions read
	// selectors are each alert's selectors that match on a label besides the metric name
	// (the series an alert is about, not its denominators); pending is each alert's for.
	selectors map[string][]*parser.VectorSelector
	pending   map[string]time.Duration
}

// selects reports whether one of alert's selectors matches sample s.
func (rs ruleSet) selects(alert string, s Sample) bool {
	set := labels.FromMap(s.Labels)
	set = labels.NewBuilder(set).Set(model.MetricNameLabel, s.Name).Labels()
	for _, vs := range rs.selectors[alert] {
		if labels.Selector(vs.LabelMatchers).Matches(set) {
			return true
		}
	}
	return false
}

// readRules reads the alert names and the metric names a rule file's expressions select.
func readRules(path string) (ruleSet, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return ruleSet{}, fmt.Errorf("read rules: %w", err)
	}
	var file struct {
		Groups []struct {
			Rules []struct {
				Alert string         `yaml:"alert"`
				Expr  string         `yaml:"expr"`
				For   model.Duration `yaml:"for"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		return ruleSet{}, fmt.Errorf("parse rules %s: %w", path, err)
	}
	rs := ruleSet{metrics: map[string]bool{}, selectors: map[string][]*parser.VectorSelector{}, pending: map[string]time.Duration{}}
	p := parser.NewParser(parser.Options{})
	for _, g := range file.Groups {
		for _, rule := range g.Rules {
			if rule.Alert != "" && !slices.Contains(rs.alerts, rule.Alert) {
				rs.alerts = append(rs.alerts, rule.Alert)
				rs.pending[rule.Alert] = time.Duration(rule.For)
			}
			expr, err := p.ParseExpr(rule.Expr)
			if err != nil {
				return ruleSet{}, fmt.Errorf("parse expression of %s: %w", rule.Alert, err)
			}
			parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
				vs, ok := n.(*parser.VectorSelector)
				if !ok {
					return nil
				}
				rs.metrics[vs.Name] = true
				if rule.Alert != "" && len(vs.LabelMatchers) > 1 {
					rs.selectors[rule.Alert] = append(rs.selectors[rule.Alert], vs)
				}
				return nil
			})
		}
	}
	if len(rs.alerts) == 0 {
		return ruleSet{}, fmt.Errorf("rules %s define no alert", path)
	}
	return rs, nil
}

// promtool's rule unit test file format.
type (
	testFileYAML struct {
		RuleFiles          []string        `yaml:"rule_files"`
		EvaluationInterval string          `yaml:"evaluation_interval"`
		Tests              []testGroupYAML `yaml:"tests"`
	}
	testGroupYAML struct {
		Interval    string          `yaml:"interval"`
		InputSeries []seriesYAML    `yaml:"input_series"`
		AlertTests  []alertRuleYAML `yaml:"alert_rule_test"`
	}
	seriesYAML struct {
		Series string `yaml:"series"`
		Values string `yaml:"values"`
	}
	alertRuleYAML struct {
		EvalTime  string     `yaml:"eval_time"`
		Alertname string     `yaml:"alertname"`
		ExpAlerts []struct{} `yaml:"exp_alerts"`
	}
)

// testFile renders the scrapes as input series, keeping only the metrics the rules read and the
// synthetic up series, and asks every alert to be silent at every step, and the canary, when
// withCanary is set, at time zero.
func (r Replayer) testFile(ruleFiles []string, rules ruleSet, scrapes []Scrape, withCanary bool) ([]byte, error) {
	if len(scrapes) == 0 {
		return nil, errors.New("no scrape to replay")
	}
	step := r.step()
	_, values := inputSeries(rules, scrapes, r.Job, r.Instance)

	group := testGroupYAML{Interval: model.Duration(step).String()}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		group.InputSeries = append(group.InputSeries, seriesYAML{Series: k, Values: seriesValues(values[k])})
	}
	if withCanary {
		group.AlertTests = append(group.AlertTests, alertRuleYAML{EvalTime: "0s", Alertname: canary, ExpAlerts: []struct{}{}})
	}
	for i := range scrapes {
		at := model.Duration(time.Duration(i) * step).String()
		for _, a := range rules.alerts {
			group.AlertTests = append(group.AlertTests, alertRuleYAML{EvalTime: at, Alertname: a, ExpAlerts: []struct{}{}})
		}
	}
	file := testFileYAML{
		RuleFiles:          ruleFiles,
		EvaluationInterval: model.Duration(step).String(),
		Tests:              []testGroupYAML{group},
	}
	var buf bytes.Buffer
	buf.WriteString("# Generated by matrix/alertreplay from sampled /metrics scrapes: each alert is asked to be\n# silent at every step, so promtool reports every alert that fired.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(file); err != nil {
		return nil, fmt.Errorf("render test file: %w", err)
	}
	return buf.Bytes(), nil
}

// inputSeries renders the scrapes as the input series of a test file: values[key][i] is the
// series' value in scrape i, if it was present, and series[key] one of its samples. Only
// the metrics the rules read are kept, with the synthetic up series. Empty job and
// instance mean "chatd" and "chatd:8080".
func inputSeries(rules ruleSet, scrapes []Scrape, job, instance string) (series map[string]Sample, values map[string][]*float64) {
	if job == "" {
		job = "chatd"
	}
	if instance == "" {
		instance = "chatd:8080"
	}
	series, values = map[string]Sample{}, map[string][]*float64{}
	up := fmt.Sprintf("up{instance=%q, job=%q}", instance, job)
	series[up] = Sample{Name: "up"}
	values[up] = make([]*float64, len(scrapes))
	for i, s := range scrapes {
		upValue := 1.0
		if s.Failed {
			upValue = 0
		}
		values[up][i] = &upValue
		if s.Failed {
			continue
		}
		for _, sample := range s.Samples {
			if !rules.metrics[sample.Name] {
				continue
			}
			key := seriesKey(sample, job, instance)
			if values[key] == nil {
				values[key] = make([]*float64, len(scrapes))
				series[key] = sample
			}
			v := sample.Value
			values[key][i] = &v
		}
	}
	return series, values
}

// seriesKey renders a sample's series in PromQL notation with the target labels. Labels the
// service sets itself under the names job or instance are renamed exported_job and
// exported_instance, as Prometheus does without honor_labels.
func seriesKey(s Sample, job, instance string) string {
	labels := map[string]string{}
	for k, v := range s.Labels {
		if k == "job" || k == "instance" {
			k = "exported_" + k
		}
		labels[k] = v
	}
	labels["job"], labels["instance"] = job, instance
	names := make([]string, 0, len(labels))
	for k := range labels {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = k + "=" + strconv.Quote(labels[k])
	}
	return s.Name + "{" + strings.Join(parts, ", ") + "}"
}

// seriesValues renders one series in promtool's expanding notation: "_" before the series is
// first seen, "stale" where it disappears, as Prometheus marks a series that a scrape no longer
// returns.
func seriesValues(vs []*float64) string {
	out := make([]string, len(vs))
	seen := false
	for i, v := range vs {
		switch {
		case v != nil:
			out[i] = formatFloat(*v)
			seen = true
		case seen && vs[i-1] != nil:
			out[i] = "stale"
		default:
			out[i] = "_"
		}
	}
	return strings.Join(out, " ")
}

// parseFailures reads the alerts promtool reported as firing against an empty expectation, from
// lines of the form "alertname: NAME, time: DURATION,".
func parseFailures(out []byte) (map[string][]time.Duration, error) {
	line := regexp.MustCompile(`(?m)^\s*alertname: (\S+), time: (\S+),`)
	firing := map[string][]time.Duration{}
	for _, m := range line.FindAllSubmatch(out, -1) {
		d, err := model.ParseDuration(string(m[2]))
		if err != nil {
			return nil, fmt.Errorf("promtool output: time %q: %w", m[2], err)
		}
		name := string(m[1])
		firing[name] = append(firing[name], time.Duration(d))
	}
	for _, times := range firing {
		slices.Sort(times)
	}
	return firing, nil
}
