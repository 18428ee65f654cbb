package chaos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/faultline/faultline/contract"
	"github.com/faultline/faultline/fakes/maxapi"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/moby/moby/client"
	"github.com/redis/go-redis/v9"
)

// Dependency names something the SUT depends on (package contract). Each has a proxy of
// the same name.
type Dependency = contract.Dependency

// The SUT's dependencies.
const (
	Postgres = contract.Postgres
	Redis    = contract.Redis
	MaxAPI   = contract.MaxAPI
)

// Dependencies lists every dependency in a fixed order.
func Dependencies() []Dependency { return contract.Dependencies() }

// Timings are the measured durations of the environment's set-up steps.
type Timings struct {
	// Containers is the time until both containers logged readiness and answer a ping.
	Containers time.Duration
	// Build is the SUT build (0 when a command was given instead).
	Build time.Duration
	// Migrate is the SUT's migrate subcommand.
	Migrate time.Duration
	// SUTStart is the last start of the SUT until /readyz answered 200.
	SUTStart time.Duration
	// Start is the whole of Start.
	Start time.Duration
	// Reset is the last Reset.
	Reset time.Duration
}

// Database names used in the Postgres container.
const (
	dbUser = "chaos"
	dbName = "chaos"
)

// Env is a running environment: Postgres and Redis in containers, the fake MAX in process,
// an embedded Toxiproxy in front of each, and the SUT as a child process (or several
// replicas, see StartReplicas) talking to them only through the proxies. One Env serves a
// whole suite; Reset makes it fresh between scenarios. All methods are safe for concurrent
// use.
type Env struct {
	cfg  config
	log  *slog.Logger
	logs *logBuffer

	docker     *client.Client
	containers map[Dependency]dependency
	backend    string
	proxies    *proxies
	max        *maxapi.Server
	maxServer  *httptest.Server
	workDir    string
	sutCommand []string
	// ownCommand is the command prepareSUT settled on; sutCommand differs from it while
	// UseSUT runs another service, with sutRunEnv after CHAOS_SUT_ENV (mu).
	ownCommand []string
	sutRunEnv  []string
	sutAddr    string
	client     *Client
	dbPassword string
	maxToken   string

	// opMu serialises operations that change the environment (Reset, faults, restarts,
	// Close), so the stack's command loop and its signal handler cannot interleave them.
	opMu sync.Mutex

	mu         sync.Mutex // guards the fields below
	db         *pgxpool.Pool
	rdb        *redis.Client
	sut        *sutProcess
	replicas   []*replica    // the current run's extra replicas, replica 1 first
	slots      []replicaSlot // the ports and clients of replicas 1, 2..., kept for the life of the Env
	runs       int
	overrides  []string
	baseline   Snapshot
	mark       LogMark
	timings    Timings
	generation int64
	active     map[int64]string
	nextFault  int64
	closers    []func(context.Context) error
	closed     bool
}

// Start brings up the whole environment and returns it with the SUT ready. It fails within
// seconds when Docker is unreachable (ErrDockerUnavailable) or the images cannot be had
// (ErrImageUnavailable). On error everything already started is torn down.
//
// Start sets TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1 and TESTCONTAINERS_RYUK_DISABLED=true
// in the process environment when they are unset, because testcontainers-go reads them
// only from there and needs them on machines without a registry.
func Start(ctx context.Context, opts ...Option) (*Env, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	e := &Env{
		cfg:        cfg,
		log:        cfg.logger,
		logs:       &logBuffer{},
		containers: make(map[Dependency]dependency),
		dbPassword: cfg.dbPassword,
		maxToken:   cfg.maxToken,
		active:     make(map[int64]string),
	}
	if err := e.start(ctx); err != nil {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		return nil, errors.Join(err, e.Close(closeCtx))
	}
	return e, nil
}

// dependency is PostgreSQL or Redis running for the environment: a container (the Docker
// backend) or a child process group (the process backend). The faults and Reset act on it
// through these methods alone.
type dependency interface {
	// addr is where it listens on loopback now (a restarted container may move).
	addr(ctx context.Context) (string, error)
	state(ctx context.Context) (containerState, error)
	stop(ctx context.Context) error
	start(ctx context.Context) error
	pause(ctx context.Context) error
	unpause(ctx context.Context) error
	terminate(ctx context.Context) error
	// describe names what runs: the image, or the binary's version.
	describe() string
}

var (
	_ dependency = (*depContainer)(nil)
	_ dependency = (*depProcess)(nil)
)

// The backends.
const (
	BackendDocker  = "docker"
	BackendProcess = "process"
	BackendAuto    = "auto"
)

// ResolveRace reports whether Start would build the SUT with the race detector with these
// options (WithRace, CHAOS_RACE, CI): false when a command or binary is given instead.
func ResolveRace(opts ...Option) (bool, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return false, err
	}
	return cfg.race && len(cfg.sutCommand) == 0 && cfg.sutBinary == "", nil
}

// ResolveBackend returns the backend Start would use with these options: BackendDocker or
// BackendProcess, auto settled by whether the Docker engine answers.
func ResolveBackend(ctx context.Context, opts ...Option) (string, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return "", err
	}
	return cfg.resolveBackend(ctx), nil
}

func (c config) resolveBackend(ctx context.Context) string {
	if c.backend != BackendAuto {
		return c.backend
	}
	docker, err := connectDocker(ctx, c.dockerHost)
	if err != nil {
		return BackendProcess
	}
	_ = docker.Close()
	return BackendDocker
}

func (e *Env) start(ctx context.Context) error {
	t0 := time.Now()
	backend := e.cfg.resolveBackend(ctx)
	e.backend = backend
	if backend == BackendDocker {
		applyTestcontainersDefaults()
		docker, err := connectDocker(ctx, e.cfg.dockerHost)
		if err != nil {
			return err
		}
		e.docker = docker
		e.onClose(func(context.Context) error { return docker.Close() })
		if e.cfg.keepOrphans {
			e.log.InfoContext(ctx, "Containers of dead harness processes kept (CHAOS_REAP_ORPHANS=0)")
		} else if n, err := reapOrphans(ctx, docker); err != nil {
			e.log.WarnContext(ctx, "Could not remove orphaned containers", "error", err)
		} else if n > 0 {
			e.log.InfoContext(ctx, "Removed containers of dead harness processes", "count", n)
		}
	}

	workDir, err := os.MkdirTemp("", "faultline-chaos-")
	if err != nil {
		return fmt.Errorf("create work dir: %w", err)
	}
	e.workDir = workDir
	e.onClose(func(context.Context) error { return os.RemoveAll(workDir) })
	if backend == BackendProcess {
		// The dependencies run as an unprivileged user when the harness is root: it must
		// reach their directories.
		if err := os.Chmod(workDir, 0o711); err != nil { //nolint:gosec // traverse only, no listing
			return fmt.Errorf("work dir: %w", err)
		}
	}

	// The build and the two dependencies are independent and each takes a while: overlap them.
	var wg sync.WaitGroup
	var buildErr, pgErr, redisErr error
	var pg, rd dependency
	var pgUp, rdUp time.Time
	wg.Go(func() { buildErr = e.prepareSUT(ctx) })
	wg.Go(func() {
		pg, pgErr = e.startDependency(ctx, Postgres)
		pgUp = time.Now()
	})
	wg.Go(func() {
		rd, redisErr = e.startDependency(ctx, Redis)
		rdUp = time.Now()
	})
	wg.Wait()
	// Register what did start before looking at errors, so Close terminates it. The two are
	// independent and stopped at once: a teardown takes the slower one's time, not the sum,
	// which is what a person pressing Ctrl-C waits for.
	var started []dependency
	for _, d := range []struct {
		dep Dependency
		c   dependency
	}{{Postgres, pg}, {Redis, rd}} {
		if d.c != nil {
			e.containers[d.dep] = d.c
			started = append(started, d.c)
		}
	}
	if len(started) > 0 {
		e.onClose(func(ctx context.Context) error {
			errs := make([]error, len(started))
			var wg sync.WaitGroup
			for i, c := range started {
				wg.Go(func() { errs[i] = c.terminate(ctx) })
			}
			wg.Wait()
			return errors.Join(errs...)
		})
	}
	if err := errors.Join(buildErr, pgErr, redisErr); err != nil {
		return err
	}

	e.proxies = newProxies()
	e.onClose(func(context.Context) error { e.proxies.close(); return nil })
	for _, dep := range []Dependency{Postgres, Redis} {
		addr, err := e.containers[dep].addr(ctx)
		if err != nil {
			return err
		}
		if err := e.proxies.add(dep, addr); err != nil {
			return err
		}
	}
	e.max = maxapi.NewServer(append([]maxapi.Option{maxapi.WithToken(e.maxToken)}, e.cfg.maxOptions...)...)
	e.maxServer = httptest.NewServer(e.max)
	e.onClose(func(context.Context) error {
		// Release requests held by hang faults first: the server waits for them.
		e.max.Close()
		e.maxServer.Close()
		return nil
	})
	if err := e.proxies.add(MaxAPI, e.maxServer.Listener.Addr().String()); err != nil {
		return err
	}
	if e.cfg.toxiproxyAPI {
		e.proxies.serveAPI()
	}

	tc := time.Now()
	if err := e.connectDirect(ctx); err != nil {
		return err
	}
	// The build overlaps the containers, so their time is measured apart from it.
	e.timings.Containers = later(pgUp, rdUp).Sub(t0) + time.Since(tc)
	e.onClose(func(context.Context) error {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.db.Close()
		return e.rdb.Close()
	})

	port, err := reservePort()
	if err != nil {
		return err
	}
	e.onClose(func(context.Context) error { return port.release() })
	e.sutAddr = port.addr
	e.client = NewClient("http://" + port.addr)

	tm := time.Now()
	if err := runMigrate(ctx, e.sutCommand, e.childEnv(nil), e.cfg.sutOutput); err != nil {
		return err
	}
	e.timings.Migrate = time.Since(tm)

	// Registered before the stop, so it runs after it: no replica still listens on a port
	// another environment could then reserve.
	e.onClose(e.releaseReplicaPorts)
	e.onClose(func(context.Context) error { return e.stopSUT() })
	if err := e.startSUT(ctx, nil); err != nil {
		return err
	}
	if err := e.takeBaseline(ctx); err != nil {
		return err
	}
	e.timings.Start = time.Since(t0)
	e.log.InfoContext(ctx, "Environment started",
		"start", e.timings.Start, "containers", e.timings.Containers, "build", e.timings.Build,
		"migrate", e.timings.Migrate, "sut_start", e.timings.SUTStart,
		"backend", e.backend, "postgres", e.containers[Postgres].describe(), "redis", e.containers[Redis].describe(),
		"sut", e.client.URL())
	return nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (e *Env) onClose(f func(context.Context) error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closers = append(e.closers, f)
}

// startDependency starts PostgreSQL or Redis on the environment's backend.
func (e *Env) startDependency(ctx context.Context, dep Dependency) (dependency, error) {
	if e.backend == BackendProcess {
		if dep == Postgres {
			return nilIfErr(startPostgresProcess(ctx, e.workDir, dbUser, e.dbPassword, dbName))
		}
		return nilIfErr(startRedisProcess(ctx, e.workDir))
	}
	spec, image, explicit, offline, envVar := redisSpec(), e.cfg.redisImage, e.cfg.redisImageExplicit, e.cfg.offlineRedisImage, "CHAOS_REDIS_IMAGE"
	if dep == Postgres {
		spec, image, explicit, offline, envVar = postgresSpec(dbUser, e.dbPassword, dbName),
			e.cfg.postgresImage, e.cfg.postgresImageExplicit, e.cfg.offlinePostgresImage, "CHAOS_POSTGRES_IMAGE"
	}
	choice, err := resolveImage(ctx, e.docker, image, explicit, offline, envVar)
	if err != nil {
		return nil, err
	}
	if choice.offline {
		e.log.InfoContext(ctx, "Using offline image", "dependency", spec.dep, "wanted", image, "image", choice.image)
	}
	return nilIfErr(runContainer(ctx, e.docker, spec, choice, e.log))
}

// nilIfErr keeps a typed nil pointer from becoming a non-nil interface.
func nilIfErr[T dependency](d T, err error) (dependency, error) {
	if err != nil {
		return nil, err
	}
	return d, nil
}

// directTimeout bounds waiting for a container to answer its first ping after its log
// said it was ready.
const directTimeout = 30 * time.Second

// connectDirect (re)creates the harness's own clients on the containers' published ports.
func (e *Env) connectDirect(ctx context.Context) error {
	pgAddr, err := e.containers[Postgres].addr(ctx)
	if err != nil {
		return err
	}
	redisAddr, err := e.containers[Redis].addr(ctx)
	if err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, e.databaseURL(pgAddr))
	if err != nil {
		return fmt.Errorf("connect to postgres: %w", err)
	}
	rdb := redis.NewClient(&redis.Options{
		Addr: redisAddr, DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second,
		WriteTimeout: 2 * time.Second, PoolSize: 4,
	})
	err = pollUntil(ctx, directTimeout, func(ctx context.Context) error {
		if err := pool.Ping(ctx); err != nil {
			return fmt.Errorf("ping postgres at %s: %w", pgAddr, err)
		}
		if err := rdb.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("ping redis at %s: %w", redisAddr, err)
		}
		return nil
	})
	if err != nil {
		pool.Close()
		_ = rdb.Close()
		return err
	}
	e.mu.Lock()
	oldDB, oldRedis := e.db, e.rdb
	e.db, e.rdb = pool, rdb
	e.mu.Unlock()
	if oldDB != nil {
		oldDB.Close()
	}
	if oldRedis != nil {
		_ = oldRedis.Close()
	}
	return nil
}

// pollUntil calls try every 50 ms until it succeeds or timeout passes, then returns its
// last error.
func pollUntil(ctx context.Context, timeout time.Duration, try func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, 2*time.Second)
		err := try(attempt)
		cancelAttempt()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gave up after %s: %w", timeout, err)
		case <-tick.C:
		}
	}
}

func (e *Env) databaseURL(hostPort string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(dbUser, e.dbPassword),
		Host:     hostPort,
		Path:     "/" + dbName,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Close stops the SUT (reporting an unclean exit), terminates the containers and stops
// the proxies and the fake MAX. It is safe to call more than once.
func (e *Env) Close(ctx context.Context) error {
	e.opMu.Lock()
	defer e.opMu.Unlock()
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	closers := e.closers
	e.closers = nil
	e.mu.Unlock()
	// A paused container cannot be stopped; unpause first.
	for _, c := range e.containers {
		if st, err := c.state(ctx); err == nil && st.paused {
			_ = c.unpause(ctx)
		}
	}
	var errs []error
	for i := len(closers) - 1; i >= 0; i-- {
		if err := closers[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Timings returns the measured set-up durations.
func (e *Env) Timings() Timings {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.timings
}
