package alertreplay

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

const rulesPath = "../../deploy/prometheus/alerts.yml"

// sample builds a Sample from a name and label pairs.
func sample(name string, value float64, kv ...string) Sample {
	l := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		l[kv[i]] = kv[i+1]
	}
	return Sample{Name: name, Labels: l, Value: value}
}

// fault says, for one scrape, which dependencies are down.
type fault struct{ redis, max bool }

// simulate returns n scrapes of chatd serving 10 list requests between scrapes, with the
// dependencies failing as faultAt says. The numbers follow the service's behaviour: with Redis
// down every request counts a cache error and a cache_unavailable fallback; with MAX down the
// breaker is open (half-open every fourth scrape), calls are rare and every request counts a
// max_api_unavailable fallback.
func simulate(n int, faultAt func(i int) fault) []Scrape {
	var (
		requests, cacheOps, cacheErrors, fallbackCache, fallbackMax float64
		maxCalls, maxServerErrors, refreshOK, refreshFail           float64
	)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var out []Scrape
	for i := range n {
		f := faultAt(i)
		requests += 10
		cacheOps += 10
		redisUp, redisBreaker := 1.0, 0.0
		if f.redis {
			cacheErrors += 10
			fallbackCache += 10
			redisUp, redisBreaker = 0, 2
		}
		maxUp, maxBreaker := 1.0, 0.0
		if f.max {
			fallbackMax += 10
			maxUp, maxBreaker = 0, 2
			if i%4 == 0 {
				maxBreaker = 1 // a half-open probe, which fails
				maxCalls++
				maxServerErrors++
				refreshFail++
			}
		} else {
			maxCalls += 2
			refreshOK += 2
		}
		s := Scrape{At: start.Add(time.Duration(i) * 250 * time.Millisecond), Samples: []Sample{
			sample("http_requests_total", requests, "method", "GET", "route", "/chats/all", "status", "200"),
			sample("http_requests_total", float64(i), "method", "GET", "route", "/health/detailed", "status", "200"),
			sample("participants_cache_errors_total", cacheErrors),
			sample("participants_cache_request_duration_seconds_count", cacheOps, "operation", "get"),
			sample("participants_fallback_usage_total", fallbackCache, "reason", "cache_unavailable"),
			sample("participants_fallback_usage_total", fallbackMax, "reason", "max_api_unavailable"),
			sample("participants_max_api_errors_total", maxServerErrors, "reason", "server_error"),
			sample("participants_max_api_errors_total", 0, "reason", "not_found"),
			sample("participants_max_api_request_duration_seconds_count", maxCalls),
			sample("participants_refresh_total", refreshOK, "result", "success"),
			sample("participants_refresh_total", refreshFail, "result", "failure"),
			sample("participants_refresh_dropped_total", fallbackMax, "reason", "max_api_unavailable"),
			sample("participants_refresh_dropped_total", 0, "reason", "queue_full"),
			sample("participants_refresh_queue_length", 0),
			sample("participants_refresh_queue_capacity", 1024),
			sample("participants_data_freshness_seconds", 600),
			sample("dependency_up", 1, "dependency", "database"),
			sample("dependency_up", redisUp, "dependency", "redis"),
			sample("dependency_up", maxUp, "dependency", "max_api"),
			sample("circuit_breaker_state", 0, "dependency", "database"),
			sample("circuit_breaker_state", redisBreaker, "dependency", "redis"),
			sample("circuit_breaker_state", maxBreaker, "dependency", "max_api"),
			sample("go_goroutines", 12),
		}}
		out = append(out, s)
	}
	return out
}

func requirePromtool(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("promtool"); err != nil {
		t.Fatalf("promtool is needed to replay alert rules; install Debian's prometheus package (apt-get install -y prometheus): %v", err)
	}
}

func TestReplayShowsWhichAlertsAFaultFires(t *testing.T) {
	requirePromtool(t)
	// 24 scrapes at the default 30s step are 11m30s of rule time: the fault, from scrape 4,
	// lasts long enough for the 5m alerts and not for the 10m ones.
	const scrapes = 24
	for _, tc := range []struct {
		name  string
		fault func(i int) fault
		want  []string
	}{
		{"healthy", func(int) fault { return fault{} }, nil},
		{"redis down", func(i int) fault { return fault{redis: i >= 4} }, []string{"ParticipantsCacheDown"}},
		{"max down", func(i int) fault { return fault{max: i >= 4} }, []string{"ParticipantsMaxAPIDown"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			res, err := Replayer{RulesPath: rulesPath}.Replay(ctx, simulate(scrapes, tc.fault))
			if err != nil {
				t.Fatal(err)
			}
			t.Log(res)
			if got := res.Fired(); !slices.Equal(got, tc.want) {
				t.Fatalf("fired %v, want %v\n%s", got, tc.want, res)
			}
			if got := res.FiringAtEnd(); !slices.Equal(got, tc.want) {
				t.Errorf("firing at the end %v, want %v", got, tc.want)
			}
			if !slices.Contains(res.Alerts, "ParticipantsDataStale") || res.Steps != scrapes || res.Step != DefaultStep {
				t.Errorf("result does not describe the replay: %+v", res)
			}
		})
	}
}

func TestReplayFiresChatdDownForFailedScrapes(t *testing.T) {
	requirePromtool(t)
	scrapes := simulate(12, func(int) fault { return fault{} })
	for i := 4; i < len(scrapes); i++ {
		scrapes[i] = Scrape{At: scrapes[i].At, Failed: true}
	}
	res, err := Replayer{RulesPath: rulesPath}.Replay(context.Background(), scrapes)
	if err != nil {
		t.Fatal(err)
	}
	// up = 0 from 2m (scrape 4); ChatdDown's for is 2m, so it fires at 4m.
	if got := res.Firing["ChatdDown"]; len(got) == 0 || got[0] != 4*time.Minute {
		t.Fatalf("ChatdDown firing at %v, want from 4m\n%s", got, res)
	}
}

func TestReplayNamesTheSeriesBehindAFiredAlert(t *testing.T) {
	requirePromtool(t)
	// The database's health check fails from scrape 4 to 9: dependency_up{database} is 0.
	scrapes := simulate(14, func(int) fault { return fault{} })
	for i := 4; i < 10; i++ {
		for k, smp := range scrapes[i].Samples {
			if smp.Name == "dependency_up" && smp.Labels["dependency"] == "database" {
				scrapes[i].Samples[k].Value = 0
			}
		}
	}
	res, err := Replayer{RulesPath: rulesPath}.Replay(context.Background(), scrapes)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Fired(); !slices.Equal(got, []string{"DatabaseUnavailable"}) {
		t.Fatalf("fired %v, want DatabaseUnavailable\n%s", got, res)
	}
	// It fires at 4m (scrape 8, its 2m for after scrape 4): the series is shown from two
	// steps before its for began. Series that did not move (Redis's dependency_up) and
	// series the alert reads only as a denominator (every http_requests_total) are not.
	want := []string{`dependency_up{dependency="database", instance="chatd:8080", job="chatd"}: 1 1 0 0 0 0 0 (steps 2-8)`}
	if got := res.Inputs["DatabaseUnavailable"]; !slices.Equal(got, want) {
		t.Errorf("inputs %q, want %q", got, want)
	}
	if !strings.Contains(res.String(), "\n  "+want[0]) {
		t.Errorf("summary does not show the input:\n%s", res)
	}
}

func TestReplayMapsEachScrapeToOneStep(t *testing.T) {
	requirePromtool(t)
	// With a 15s step the same 24 scrapes are only 5m45s of rule time: too short for a 5m
	// alert whose condition needs two scrapes of the fault to start.
	res, err := Replayer{RulesPath: rulesPath, Step: 15 * time.Second}.Replay(context.Background(),
		simulate(24, func(i int) fault { return fault{redis: i >= 4} }))
	if err != nil {
		t.Fatal(err)
	}
	if fired := res.Fired(); len(fired) != 0 {
		t.Fatalf("fired %v in 5m45s of rule time\n%s", fired, res)
	}
}

func TestReplayRejectsRulesThatDoNotLoad(t *testing.T) {
	requirePromtool(t)
	for _, path := range []string{"testdata/missing.yml", "testdata/unloadable_rules.yml"} {
		_, err := Replayer{RulesPath: path}.Replay(context.Background(), simulate(2, func(int) fault { return fault{} }))
		if err == nil {
			t.Errorf("replay with rules %s succeeded", path)
		} else {
			t.Log(err)
		}
	}
}

func TestTestFileRendersSeriesAsPrometheusStoresThem(t *testing.T) {
	scrapes := []Scrape{
		{Samples: []Sample{sample("participants_cache_errors_total", 0), sample("dependency_up", 1, "dependency", "redis", "instance", "own")}},
		{Failed: true},
		{Samples: []Sample{sample("participants_cache_errors_total", 1e6), sample("go_goroutines", 3)}},
	}
	file, err := Replayer{RulesPath: rulesPath, Step: time.Minute, Job: "j", Instance: "i:1"}.TestFile(scrapes)
	if err != nil {
		t.Fatal(err)
	}
	text := string(file)
	for _, want := range []string{
		"- alerts.yml",
		"evaluation_interval: 1m",
		`series: participants_cache_errors_total{instance="i:1", job="j"}`,
		"values: 0 stale 1e+06",
		`series: dependency_up{dependency="redis", exported_instance="own", instance="i:1", job="j"}`,
		"values: 1 stale _",
		`series: up{instance="i:1", job="j"}`,
		"values: 1 0 1",
		"eval_time: 2m",
		"alertname: ParticipantsCacheDown",
		"exp_alerts: []",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("test file lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "go_goroutines") {
		t.Errorf("test file carries go_goroutines, which no rule reads")
	}
}

// A scrape that holds only Metrics' series replays as the whole scrape does: the sampler may
// read no more of /metrics than that.
func TestScrapesOfMetricsAloneGiveTheSameTestFile(t *testing.T) {
	r := Replayer{RulesPath: rulesPath}
	names, err := r.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names, "participants_max_api_request_duration_seconds_count") || slices.Contains(names, "go_goroutines") {
		t.Fatalf("Metrics = %v: want the series the rules read, a histogram's _count among them, and nothing else", names)
	}
	whole := simulate(20, func(i int) fault { return fault{redis: i > 5, max: i > 10} })
	var reduced []Scrape
	for _, s := range whole {
		kept := Scrape{At: s.At, Failed: s.Failed}
		for _, smp := range s.Samples {
			if slices.Contains(names, smp.Name) {
				kept.Samples = append(kept.Samples, smp)
			}
		}
		reduced = append(reduced, kept)
	}
	want, err := r.TestFile(whole)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.TestFile(reduced)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("the reduced scrapes render another test file:\n%s\nwant:\n%s", got, want)
	}
}
