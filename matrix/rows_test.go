package matrix

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"
	"go.yaml.in/yaml/v3"
)

func TestRowsAreValid(t *testing.T) {
	rows := Rows()
	if len(rows) < 50 {
		t.Fatalf("only %d rows", len(rows))
	}
	for _, err := range Validate(rows) {
		t.Error(err)
	}
}

func TestRowIDsAreUniqueAndSelectable(t *testing.T) {
	rows := Rows()
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r.ID] {
			t.Errorf("duplicate id %s", r.ID)
		}
		seen[r.ID] = true
		if !ValidID(r.ID) {
			t.Errorf("id %q is not label-safe", r.ID)
		}
		// The filter `make scenario ROW=<id>` passes to Ginkgo must select this row and no other.
		filter, err := types.ParseLabelFilter(LabelRow + ":" + r.ID)
		if err != nil {
			t.Fatalf("row %s: label filter: %v", r.ID, err)
		}
		for _, other := range rows {
			if got := filter(Labels(other)); got != (other.ID == r.ID) {
				t.Errorf("filter row:%s on row %s = %v", r.ID, other.ID, got)
			}
		}
	}
}

func TestLabelsAreValidGinkgoLabelsFromTheVocabulary(t *testing.T) {
	vocab := Vocabulary()
	for _, r := range Rows() {
		ls := Labels(r)
		if id, err := RowID(ls); err != nil || id != r.ID {
			t.Errorf("row %s: RowID(%v) = %q, %v", r.ID, ls, id, err)
		}
		for _, l := range ls {
			if _, err := types.ValidateAndCleanupLabel(l, types.CodeLocation{}); err != nil {
				t.Errorf("row %s: label %q: %v", r.ID, l, err)
			}
			if !strings.HasPrefix(l, "row:") && !slices.Contains(vocab, l) {
				t.Errorf("row %s: label %q is not in the vocabulary", r.ID, l)
			}
		}
	}
}

// TestVocabularyIsFrozen fails when a label is added, renamed or removed: CI filters, Makefile
// targets and people's habits depend on these names, so changing one is a deliberate act.
func TestVocabularyIsFrozen(t *testing.T) {
	want := []string{
		"group:cache", "group:max", "group:redis", "group:refresh", "group:postgres", "group:health", "group:recovery", "group:api",
		"group:replicas",
		"dep:postgres", "dep:redis", "dep:max_api",
		"fault:none", "fault:down", "fault:blackhole", "fault:latency", "fault:reset", "fault:restarted-empty", "fault:paused",
		"fault:status", "fault:rate-limited", "fault:unauthorized", "fault:slow", "fault:hang", "fault:malformed",
		"fault:wrong-types", "fault:truncated", "fault:oversized",
		"scope:reference",
	}
	if got := Vocabulary(); !slices.Equal(got, want) {
		t.Errorf("vocabulary changed:\n got %q\nwant %q", got, want)
	}
}

func TestRowIDRejectsMissingOrAmbiguousLabels(t *testing.T) {
	if _, err := RowID([]string{"dep:redis"}); err == nil {
		t.Error("no row label accepted")
	}
	if _, err := RowID([]string{"row:a", "row:b"}); err == nil {
		t.Error("two row labels accepted")
	}
	if id, err := RowID([]string{"row:a", "dep:redis", "row:a"}); err != nil || id != "a" {
		t.Errorf("RowID = %q, %v", id, err)
	}
}

func TestCatalogueCoversTheIssue(t *testing.T) {
	rows := Rows()
	for _, id := range []string{
		// The four rows of the original analysis.
		"redis-up.max-up.cache-fresh", "redis-up.max-down.cache-stale", "redis-down.max-up.cache-fresh", "redis-down.max-down.cache-fresh",
		"redis-up.max-up.cache-stale", "redis-up.max-up.cache-cold",
		"redis-up.max-503.cache-stale", "redis-up.max-429.cache-stale", "redis-up.max-401.cache-stale", "redis-up.max-slow.cache-stale",
		"redis-up.max-malformed.cache-stale",
		"redis-blackhole.max-up.cache-fresh", "redis-blackhole.max-down.cache-fresh", "redis-slow.max-up.cache-fresh",
		"redis-slow.max-down.cache-fresh", "redis-reset.max-up.cache-fresh", "redis-reset.max-down.cache-fresh",
		"redis-restarted-empty.max-up.cache-fresh", "redis-restarted-empty.max-down.cache-fresh",
		"refresh.max-up", "refresh.max-down", "postgres-down.list", "postgres-slow.list",
		"health.all-up", "health.redis-down", "health.max-down", "health.postgres-down",
		"recovery.redis-down", "recovery.max-down", "recovery.postgres-down", "recovery.redis-restarted-empty",
	} {
		if _, ok := Lookup(rows, id); !ok {
			t.Errorf("row %s missing", id)
		}
	}
	// Several faults per dependency.
	kinds := map[Dependency]map[FaultKind]bool{}
	for _, r := range rows {
		for _, d := range r.Given.Active() {
			if kinds[d] == nil {
				kinds[d] = map[FaultKind]bool{}
			}
			kinds[d][r.Given.Fault(d).Kind] = true
		}
	}
	for _, d := range Dependencies() {
		if len(kinds[d]) < 3 {
			t.Errorf("%s has only %d fault kinds", d, len(kinds[d]))
		}
	}
	// The original analysis: Redis up/down x MAX up/down all answer 200 with these sources for alpha.
	for id, src := range map[string]Source{
		"redis-up.max-up.cache-fresh": SourceCache, "redis-up.max-down.cache-stale": SourceCache,
		"redis-down.max-up.cache-fresh": SourceDatabase, "redis-down.max-down.cache-fresh": SourceDatabase,
	} {
		r, _ := Lookup(rows, id)
		if r.Expected.Status != http.StatusOK || r.Expected.Chats[0].Source != src {
			t.Errorf("%s: %d %s, want 200 %s", id, r.Expected.Status, r.Expected.Chats[0].Source, src)
		}
	}
}

func TestStrictModeFailsRedisRows(t *testing.T) {
	// Strict mode (a cache error fails the request) is not a row; the self-test relies on every
	// row with Redis unreachable expecting 200, so strict mode must fail them.
	n := 0
	for _, r := range Rows() {
		if redisUnreachableKind(r.Given.Redis.Kind) && r.Given.Postgres.Kind == FaultUp && !strings.HasPrefix(r.Request.Path, "/health") {
			n++
			if r.Expected.Status != http.StatusOK {
				t.Errorf("%s expects %d with Redis unreachable", r.ID, r.Expected.Status)
			}
		}
	}
	if n < 10 {
		t.Errorf("only %d rows with Redis unreachable", n)
	}
}

func TestBoundsAgreeWithBaseEnv(t *testing.T) {
	env := BaseEnv()
	dur := func(k string) time.Duration {
		d, err := time.ParseDuration(env[k])
		if err != nil {
			t.Fatalf("%s=%q: %v", k, env[k], err)
		}
		return d
	}
	if dur("PARTICIPANTS_CACHE_TTL") <= dur("PARTICIPANTS_STALE_AFTER") {
		t.Error("cache TTL must exceed the stale age")
	}
	if breakerP95*2 > dur("REDIS_TIMEOUT") {
		t.Error("the breaker p95 bound is not far below REDIS_TIMEOUT")
	}
	if noWaitBound >= dur("MAX_API_TIMEOUT") {
		t.Error("the no-wait bound cannot prove a response did not wait for MAX")
	}
	if databaseP95 >= dur("DATABASE_TIMEOUT") {
		t.Error("the database p95 bound is not below DATABASE_TIMEOUT")
	}
	for _, r := range Rows() {
		for _, d := range Dependencies() {
			f := r.Given.Fault(d)
			if f.Kind == FaultLatency && d == Redis && f.Delay <= dur("REDIS_TIMEOUT") {
				t.Errorf("%s: Redis latency %s does not exceed REDIS_TIMEOUT", r.ID, f.Delay)
			}
			if f.Kind == FaultLatency && d == Postgres && f.Delay <= dur("DATABASE_TIMEOUT") {
				t.Errorf("%s: database latency %s does not exceed DATABASE_TIMEOUT", r.ID, f.Delay)
			}
			if f.Kind == FaultSlow && f.Delay <= dur("MAX_API_TIMEOUT") {
				t.Errorf("%s: MAX delay %s does not exceed MAX_API_TIMEOUT", r.ID, f.Delay)
			}
		}
		if rc := r.Expected.Recovery; rc != nil && rc.Within <= dur("REDIS_BREAKER_COOLDOWN")+dur("MAX_API_BREAKER_COOLDOWN") {
			t.Errorf("%s: recovery bound %s leaves no room for a breaker cooldown", r.ID, rc.Within)
		}
	}
}

func TestRowsAreFreshValues(t *testing.T) {
	a := Rows()
	a[0].Expected.Metrics[0].Name = "changed"
	a[0].Given.Seed.Chats[0].Cache.Count = -1
	b := Rows()
	if b[0].Expected.Metrics[0].Name == "changed" || b[0].Given.Seed.Chats[0].Cache.Count == -1 {
		t.Error("Rows shares state between calls")
	}
}

// TestValidateCatchesBrokenRows proves the validator bites: each mutation of a valid row must
// be reported.
func TestValidateCatchesBrokenRows(t *testing.T) {
	base := func(id string) Row {
		r, ok := Lookup(Rows(), id)
		if !ok {
			t.Fatalf("no row %s", id)
		}
		return r
	}
	cases := map[string]func() []Row{
		"duplicate id": func() []Row {
			r := base("redis-up.max-up.cache-fresh")
			return []Row{r, r}
		},
		"id with a slash":    func() []Row { r := base("redis-up.max-up.cache-fresh"); r.ID = "redis/up"; return []Row{r} },
		"id with upper case": func() []Row { r := base("redis-up.max-up.cache-fresh"); r.ID = "Redis-up"; return []Row{r} },
		"no title":           func() []Row { r := base("redis-up.max-up.cache-fresh"); r.Title = ""; return []Row{r} },
		"a Redis fault limited to a number of calls": func() []Row {
			r := base("redis-down.max-up.cache-fresh")
			r.Given.Redis.Times = 1
			return []Row{r}
		},
		"too many replicas": func() []Row {
			r := base("replicas.max-404-chat.cache-stale.backoff")
			r.Given.Replicas = 50
			return []Row{r}
		},
		"a chat MAX refuses with 401": func() []Row {
			r := base("replicas.max-404-chat.cache-stale.backoff")
			r.Given.Seed.Chats[0].MaxStatus = 401
			return []Row{r}
		},
		"a removed chat expected refreshed": func() []Row {
			r := base("replicas.max-404-chat.cache-stale.backoff")
			id := r.Given.Seed.Chats[0].ID
			r.Expected.Stores = storeSet(r.Expected.Stores).set(id, StoreDatabase, StoreRefreshed, false)
			return []Row{r}
		},
		"no latency bound": func() []Row {
			r := base("redis-up.max-up.cache-fresh")
			r.Expected.Latency = LatencyBound{}
			return []Row{r}
		},
		"warm-up without a bound": func() []Row {
			r := base("redis-blackhole.max-up.cache-fresh")
			r.Expected.WarmUpMax = 0
			return []Row{r}
		},
		"warm-up bound without warm-up": func() []Row {
			r := base("redis-up.max-up.cache-fresh")
			r.Expected.WarmUpMax = time.Second
			return []Row{r}
		},
		"no metrics": func() []Row { r := base("redis-up.max-up.cache-fresh"); r.Expected.Metrics = nil; return []Row{r} },
		"no logs":    func() []Row { r := base("redis-up.max-up.cache-fresh"); r.Expected.Logs = nil; return []Row{r} },
		"no MAX calls": func() []Row {
			r := base("redis-up.max-up.cache-fresh")
			r.Expected.MaxCalls = nil
			return []Row{r}
		},
		"no within": func() []Row { r := base("redis-up.max-up.cache-fresh"); r.Expected.Within = 0; return []Row{r} },
		"missing chat": func() []Row {
			r := base("redis-up.max-up.cache-fresh")
			r.Expected.Chats = r.Expected.Chats[:2]
			return []Row{r}
		},
		"missing store": func() []Row {
			r := base("redis-up.max-up.cache-fresh")
			r.Expected.Stores = r.Expected.Stores[1:]
			return []Row{r}
		},
		"log expected and forbidden": func() []Row {
			r := base("redis-down.max-up.cache-fresh")
			r.Expected.Logs = append(r.Expected.Logs, logged(LevelWarn, LogFallback, nil, None()))
			return []Row{r}
		},
		"metric expected and forbidden": func() []Row {
			r := base("redis-up.max-503.cache-stale")
			r.Expected.Metrics = append(r.Expected.Metrics, metric(MetricMaxErrors, nil, None()))
			return []Row{r}
		},
		"MAX calls while MAX is down": func() []Row {
			r := base("redis-up.max-down.cache-stale")
			r.Expected.MaxCalls = []MaxCallExpectation{maxCalls(alphaMax, AtLeast(1))}
			return []Row{r}
		},
		"cache source while Redis is down": func() []Row {
			r := base("redis-down.max-up.cache-fresh")
			r.Expected.Chats[0] = chat(alphaID, SourceCache, OriginCache)
			return []Row{r}
		},
		"cache value from the database": func() []Row {
			r := base("redis-up.max-up.cache-fresh")
			r.Expected.Chats[0] = chat(alphaID, SourceDatabase, OriginCache)
			return []Row{r}
		},
		"refreshed while MAX fails": func() []Row {
			r := base("redis-up.max-503.cache-stale")
			r.Expected.Stores = linkedRefreshed()
			return []Row{r}
		},
		"503 without Retry-After": func() []Row {
			r := base("postgres-down.list")
			r.Expected.Headers = nil
			return []Row{r}
		},
		"postgres row without health": func() []Row {
			r := base("postgres-down.list")
			r.Expected.Health = nil
			return []Row{r}
		},
		"recovery row without recovery": func() []Row {
			r := base("recovery.redis-down")
			r.Expected.Recovery = nil
			return []Row{r}
		},
		"no alerts": func() []Row { r := base("redis-up.max-up.cache-fresh"); r.SLA.Alerts = nil; return []Row{r} },
		"none with another alert": func() []Row {
			r := base("redis-up.max-up.cache-fresh")
			r.SLA.Alerts = alerts(AlertNone, AlertCacheDown)
			return []Row{r}
		},
		"staleness for a failed request": func() []Row {
			r := base("postgres-down.list")
			r.SLA.Staleness = freshWithin()
			return []Row{r}
		},
		"seed counts that do not prove the source": func() []Row {
			r := base("redis-up.max-up.cache-fresh")
			r.Given.Seed.Chats[0].MaxCount = r.Given.Seed.Chats[0].Cache.Count
			return []Row{r}
		},
		"stale seed under a fresh cache state": func() []Row {
			r := base("redis-up.max-up.cache-fresh")
			r.Given.Seed.Chats[0].Cache.Age = 2 * time.Hour
			return []Row{r}
		},
		"MAX fault on Redis": func() []Row {
			r := base("redis-down.max-up.cache-fresh")
			r.Given.Redis = faultOf(FaultHang)
			return []Row{r}
		},
		"no repeat": func() []Row { r := base("redis-up.max-up.cache-fresh"); r.Request.Repeat = 0; return []Row{r} },
		"error status without error code": func() []Row {
			r := base("postgres-down.list")
			r.Expected.ErrorCode = ""
			return []Row{r}
		},
	}
	for name, mutate := range cases {
		if errs := Validate(mutate()); len(errs) == 0 {
			t.Errorf("%s: not reported", name)
		}
	}
}

// TestAlertsAreTheRuleFilesAlerts keeps the matrix's alert list equal to the rule file's, so a
// new rule is judged by every row (a row whose state fires it must say so).
func TestAlertsAreTheRuleFilesAlerts(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "deploy", "prometheus", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	var inFile []string
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				inFile = append(inFile, r.Alert)
			}
		}
	}
	var known []string
	for _, a := range Alerts() {
		known = append(known, string(a))
	}
	if !slices.Equal(known, inFile) {
		t.Errorf("Alerts() = %v\nalerts.yml has %v", known, inFile)
	}
}

func TestFaultStringNamesALimitedFault(t *testing.T) {
	for f, want := range map[Fault]string{
		{Kind: FaultRateLimited, RetryAfter: 5 * time.Second, Times: 1}: "rate-limited(retry-after 5s) once",
		{Kind: FaultStatus, Status: 503, Times: 3}:                      "status(503) x3",
		{Kind: FaultStatus, Status: 503}:                                "status(503)",
	} {
		if got := f.String(); got != want {
			t.Errorf("%+v: %q, want %q", f, got, want)
		}
	}
}
