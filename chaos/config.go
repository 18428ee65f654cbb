package chaos

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/faultline/faultline/fakes/maxapi"
)

// Default images and the variables that override them.
const (
	DefaultPostgresImage        = "postgres:16-alpine"
	DefaultRedisImage           = "redis:7-alpine"
	DefaultOfflinePostgresImage = "faultline-offline/postgres:15"
	DefaultOfflineRedisImage    = "faultline-offline/redis:7"
	DefaultSUTPackage           = "./service/cmd/chatd"
)

// Option configures Start.
type Option func(*config)

type config struct {
	lookup func(string) (string, bool)
	logger *slog.Logger

	dockerHost            string
	postgresImage         string
	postgresImageExplicit bool
	redisImage            string
	redisImageExplicit    bool
	offlinePostgresImage  string
	offlineRedisImage     string
	sutCommand            []string
	sutBinary             string
	sutPackage            string
	dbPassword, maxToken  string
	moduleRoot            string
	race                  bool
	raceOpt               *bool
	sutOutput             io.Writer
	sutEnv                []string
	readyTimeout          time.Duration
	stopTimeout           time.Duration
	maxOptions            []maxapi.Option
	toxiproxyAPI          bool
	backend               string
	// keepOrphans (CHAOS_REAP_ORPHANS=0) leaves the containers of dead harness processes
	// alone at start, for a check that counts them (make env-checks' interrupt test).
	keepOrphans bool
}

// WithLogger sets the harness's own log (start-up and reset timings, faults applied).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithLookupEnv replaces os.LookupEnv as the source of the CHAOS_*, CI and DOCKER_HOST
// settings, and of the few variables passed through to the SUT.
func WithLookupEnv(lookup func(string) (string, bool)) Option {
	return func(c *config) { c.lookup = lookup }
}

// WithSUTCommand runs this command instead of building DefaultSUTPackage; it wins over
// CHAOS_SUT_CMD. The harness appends "migrate" to run the migrations.
func WithSUTCommand(command ...string) Option {
	return func(c *config) { c.sutCommand = command }
}

// WithSUTBinary runs this binary, already built from the SUT package (BuildSUT), instead of
// building it again: parallel environments of one run share one build.
func WithSUTBinary(path string) Option { return func(c *config) { c.sutBinary = path } }

// WithCredentials sets the database password and the MAX token instead of random ones, so
// the environments of one run share the secrets that their reports must never contain.
func WithCredentials(dbPassword, maxToken string) Option {
	return func(c *config) { c.dbPassword, c.maxToken = dbPassword, maxToken }
}

// WithBackend runs PostgreSQL and Redis in containers (BackendDocker), as child processes
// (BackendProcess), or in containers when Docker answers and as processes otherwise
// (BackendAuto, the default). CHAOS_BACKEND sets it when no option does.
func WithBackend(b string) Option { return func(c *config) { c.backend = b } }

// WithSUTPackage builds this package (relative to the module root) as the SUT.
func WithSUTPackage(pkg string) Option { return func(c *config) { c.sutPackage = pkg } }

// WithModuleRoot sets the directory the SUT is built in (found from the working directory
// by default).
func WithModuleRoot(dir string) Option { return func(c *config) { c.moduleRoot = dir } }

// WithRace builds the SUT with the race detector (default: CHAOS_RACE=1, or CI set).
func WithRace(race bool) Option { return func(c *config) { c.raceOpt = &race } }

// WithSUTOutput copies everything the SUT writes to w, as written.
func WithSUTOutput(w io.Writer) Option { return func(c *config) { c.sutOutput = w } }

// WithBaseSUTEnv adds KEY=VALUE settings to every start of the SUT; the settings of
// CHAOS_SUT_ENV (KEY=VALUE pairs separated by spaces or commas) come after them, and the
// overrides of a Reset or RestartSUT after those.
func WithBaseSUTEnv(kv ...string) Option {
	return func(c *config) { c.sutEnv = append(c.sutEnv, kv...) }
}

// WithReadyTimeout bounds the wait for /readyz after each start of the SUT.
func WithReadyTimeout(d time.Duration) Option { return func(c *config) { c.readyTimeout = d } }

// WithStopTimeout bounds the wait for the SUT to exit after SIGTERM.
func WithStopTimeout(d time.Duration) Option { return func(c *config) { c.stopTimeout = d } }

// WithMaxOptions configures the fake MAX (chats, bot, rate limit...). Its state returns to
// what these options describe on every Reset. The token is always the environment's.
func WithMaxOptions(opts ...maxapi.Option) Option {
	return func(c *config) { c.maxOptions = append(c.maxOptions, opts...) }
}

// WithToxiproxyAPI also serves Toxiproxy's HTTP API on a loopback port (see ToxiproxyURL).
func WithToxiproxyAPI() Option { return func(c *config) { c.toxiproxyAPI = true } }

func newConfig(opts []Option) (config, error) {
	c := config{
		lookup:       os.LookupEnv,
		logger:       slog.New(slog.DiscardHandler),
		readyTimeout: 60 * time.Second,
		stopTimeout:  15 * time.Second,
	}
	for _, o := range opts {
		o(&c)
	}
	get := func(k string) string { v, _ := c.lookup(k); return strings.TrimSpace(v) }
	c.dockerHost = get("DOCKER_HOST")
	switch get("CHAOS_REAP_ORPHANS") {
	case "", "1", "true":
	case "0", "false":
		c.keepOrphans = true
	default:
		return c, fmt.Errorf("CHAOS_REAP_ORPHANS %q: want 1 or 0", get("CHAOS_REAP_ORPHANS"))
	}
	if c.backend == "" {
		c.backend = get("CHAOS_BACKEND")
	}
	switch c.backend {
	case "":
		c.backend = BackendAuto
	case BackendAuto, BackendDocker, BackendProcess:
	default:
		return c, fmt.Errorf("CHAOS_BACKEND %q: want docker, process or auto", c.backend)
	}
	c.postgresImage, c.postgresImageExplicit = orDefault(get("CHAOS_POSTGRES_IMAGE"), DefaultPostgresImage)
	c.redisImage, c.redisImageExplicit = orDefault(get("CHAOS_REDIS_IMAGE"), DefaultRedisImage)
	c.offlinePostgresImage, _ = orDefault(get("CHAOS_OFFLINE_POSTGRES_IMAGE"), DefaultOfflinePostgresImage)
	c.offlineRedisImage, _ = orDefault(get("CHAOS_OFFLINE_REDIS_IMAGE"), DefaultOfflineRedisImage)
	if c.sutCommand == nil {
		// A plain split: paths with spaces are not supported; wrap them in a script.
		c.sutCommand = strings.Fields(get("CHAOS_SUT_CMD"))
	}
	if c.sutPackage == "" {
		c.sutPackage = DefaultSUTPackage
	}
	if c.raceOpt != nil {
		c.race = *c.raceOpt
	} else {
		switch get("CHAOS_RACE") {
		case "1", "true":
			c.race = true
		case "0", "false":
			c.race = false
		default:
			c.race = get("CI") != ""
		}
	}
	if len(c.sutCommand) == 0 && c.moduleRoot == "" {
		root, err := ModuleRoot(".")
		if err != nil {
			return c, err
		}
		c.moduleRoot = root
	}
	if c.dbPassword == "" {
		c.dbPassword = randomHex(12)
	}
	if c.maxToken == "" {
		c.maxToken = randomHex(16)
	}
	// CHAOS_SUT_ENV comes after the options, so a run can override what a suite sets.
	c.sutEnv = append(c.sutEnv, splitSettings(get("CHAOS_SUT_ENV"))...)
	if err := checkSettings(c.sutEnv); err != nil {
		return c, err
	}
	return c, nil
}

// splitSettings splits a list of KEY=VALUE settings separated by spaces or commas (values
// cannot contain either).
func splitSettings(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == ',' })
}

func orDefault(v, def string) (string, bool) {
	if v == "" {
		return def, false
	}
	return v, true
}

// ModuleRoot walks up from dir to the nearest directory holding go.mod: the root the
// harness builds the service and finds the alert rules from.
func ModuleRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	start := dir
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find module root: no go.mod at or above " + start)
		}
		dir = parent
	}
}

// applyTestcontainersDefaults sets the settings testcontainers-go needs on these machines.
// testcontainers reads them from the process environment only, so they are set there when
// unset; a value the user set is never changed.
func applyTestcontainersDefaults() {
	defaults := [][2]string{
		// /.dockerenv exists on the CI machines, which makes testcontainers dial the bridge
		// gateway; the published ports are on loopback.
		{"TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1"},
		// The reaper's image cannot be pulled without a registry; the harness terminates
		// its own containers instead.
		{"TESTCONTAINERS_RYUK_DISABLED", "true"},
	}
	for _, kv := range defaults {
		if _, ok := os.LookupEnv(kv[0]); !ok {
			_ = os.Setenv(kv[0], kv[1])
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}

// checkSettings refuses a SUT environment setting that is not KEY=VALUE.
func checkSettings(kvs []string) error {
	for _, kv := range kvs {
		if !strings.Contains(kv, "=") {
			return fmt.Errorf("SUT environment setting %q is not KEY=VALUE", kv)
		}
	}
	return nil
}
