// Command chatd is the reference chat service: it serves chats with their participant
// counts over HTTP, from PostgreSQL, a Redis cache and the MAX Bot API, and degrades
// instead of failing when the cache or MAX do.
//
// Usage:
//
//	chatd [serve]   apply the database migrations, then serve (the default)
//	chatd migrate   apply the database migrations and exit
//
// It is configured by environment variables only; see service/README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/faultline/faultline/service/internal/config"
	"github.com/faultline/faultline/service/internal/httpapi"
	"github.com/faultline/faultline/service/internal/maxclient"
	"github.com/faultline/faultline/service/internal/metrics"
	"github.com/faultline/faultline/service/internal/participants"
	"github.com/faultline/faultline/service/internal/postgres"
	"github.com/faultline/faultline/service/internal/rediscache"
)

// HTTP server timeouts. They protect the server from slow clients; the handlers' own
// work is bounded by the dependency deadlines of the configuration.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 60 * time.Second
)

const usage = `usage: chatd [serve|migrate]

  serve    apply the database migrations, then serve HTTP (the default)
  migrate  apply the database migrations and exit

Configuration comes from environment variables; see service/README.md.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	go func() {
		// After the first signal, a second one kills the process the default way.
		<-ctx.Done()
		stop()
	}()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		// The log stream is JSON lines even for failures before the configured logger.
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("chatd failed", "error", err.Error())
		stop()
		os.Exit(1)
	}
	stop()
}

// run is chatd: it reads the configuration through getenv, logs to stderr and runs the
// command of args until ctx is cancelled (SIGTERM or SIGINT in production).
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	command := "serve"
	if len(args) > 0 {
		command = args[0]
	}
	switch {
	case len(args) > 1:
		return fmt.Errorf("unexpected arguments after %q\n%s", command, usage)
	case command == "help" || command == "-h" || command == "--help":
		_, err := io.WriteString(stderr, usage)
		return err
	case command != "serve" && command != "migrate":
		return fmt.Errorf("unknown command %q\n%s", command, usage)
	}

	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	rediscache.RouteLibraryLogs(log)

	if err := migrate(ctx, cfg, log); err != nil {
		return err
	}
	if command == "migrate" {
		return nil
	}
	return serve(ctx, cfg, log)
}

// warmFor bounds the wait for the pool's connections at start, in DATABASE_TIMEOUTs: each
// connection's opening is bounded by one, and a failed one is opened again once.
const warmFor = 3

// warmDatabase opens the pool's DATABASE_MIN_CONNS connections before the service serves,
// so its first requests, health checks and refreshes do not wait for connections to be
// opened. A database that does not give them in time delays the start by at most warmFor
// DATABASE_TIMEOUTs: the service then serves, and opens connections as they are needed.
func warmDatabase(ctx context.Context, store *postgres.Store, cfg config.Config, log *slog.Logger) {
	if cfg.DatabaseMinConns == 0 {
		return
	}
	start := time.Now()
	warmCtx, cancel := context.WithTimeout(ctx, warmFor*cfg.DatabaseTimeout)
	defer cancel()
	open := store.Warm(warmCtx)
	took := time.Since(start)
	if open < cfg.DatabaseMinConns {
		log.WarnContext(ctx, "Database connections not all opened at start; opening them as needed",
			"open", open, "want", cfg.DatabaseMinConns, "took", took.String())
		return
	}
	log.InfoContext(ctx, "Database connections opened", "open", open, "took", took.String())
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == config.LogText {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func migrate(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.MigrateTimeout)
	defer cancel()
	if err := postgres.Migrate(ctx, cfg.DatabaseURL, log); err != nil {
		return fmt.Errorf("migrate database: %w", err)
	}
	return nil
}

func version() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "unknown"
}

// serve wires the service together and serves HTTP until ctx is cancelled, then shuts
// down: in-flight requests finish (within SHUTDOWN_TIMEOUT), and only then are the
// background refreshes cancelled.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	log.InfoContext(ctx, "Starting chatd", "version", version(), "config", cfg)
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	m.BuildInfo.WithLabelValues(version()).Set(1)

	store, err := postgres.Open(cfg.DatabaseURL, postgres.Options{
		Timeout:         cfg.DatabaseTimeout,
		MaxConns:        int32(cfg.DatabaseMaxConns), //nolint:gosec // config bounds it to 1..1000
		MinConns:        int32(cfg.DatabaseMinConns), //nolint:gosec // config bounds it to 0..1000
		ClockSkewMax:    cfg.ClockSkewMax,
		BreakerFailures: cfg.DatabaseBreakerFailures,
		BreakerCooldown: cfg.DatabaseBreakerCooldown,
		Logger:          log,
		Metrics:         m,
	})
	if err != nil {
		return err
	}
	defer store.Close()

	cache, err := rediscache.New(cfg.RedisURL, rediscache.Options{
		Timeout:         cfg.RedisTimeout,
		TTL:             cfg.CacheTTL,
		BreakerFailures: cfg.RedisBreakerFailures,
		BreakerCooldown: cfg.RedisBreakerCooldown,
		Logger:          log,
		Metrics:         m,
		ClockSkewMax:    cfg.ClockSkewMax,
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := cache.Close(); err != nil {
			log.WarnContext(ctx, "Closing the Redis client failed", "error", err.Error())
		}
	}()

	maxAPI := maxclient.New(cfg.MaxAPIURL, cfg.MaxAPIToken,
		maxclient.WithTimeout(cfg.MaxAPITimeout),
		maxclient.WithHealthInterval(cfg.MaxHealthInterval),
		maxclient.WithLogger(log),
		maxclient.WithMetrics(m),
	)
	defer maxAPI.Close()

	svc := participants.NewService(store, cache, maxAPI, log, m, participants.Config{
		StaleAfter:      cfg.StaleAfter,
		CacheTTL:        cfg.CacheTTL,
		LazyUpdate:      cfg.LazyUpdate,
		Policy:          participants.Policy(cfg.CacheErrorPolicy),
		Workers:         cfg.RefreshWorkers,
		QueueSize:       cfg.RefreshQueueSize,
		RateLimit:       cfg.MaxAPIRateLimit,
		Quota:           cache.Quota(),
		Replicas:        cfg.Replicas,
		MaxTimeout:      cfg.MaxAPITimeout,
		BreakerFailures: cfg.MaxAPIBreakerFailures,
		BreakerCooldown: cfg.MaxAPIBreakerCooldown,
		FailureBackoff:  cfg.FailureBackoff,
		ClockSkewMax:    cfg.ClockSkewMax,
	})

	api := httpapi.New(httpapi.Deps{
		Chats:    svc,
		Database: store,
		Redis:    cache,
		Max:      maxAPI,
		Metrics:  m,
		Gatherer: reg,
		Logger:   log,
	}, httpapi.Config{
		DatabaseTimeout: cfg.DatabaseTimeout,
		RedisTimeout:    cfg.RedisTimeout,
		HealthCacheTTL:  cfg.HealthCacheTTL,
	})

	warmDatabase(ctx, store, cfg, log)

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// Requests must not inherit the signal context: a shutdown lets them finish.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}

	runCtx, stopRefreshes := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRefreshes()
	refresherDone := make(chan error, 1)
	go func() { refresherDone <- svc.Run(runCtx) }()
	healthDone := make(chan struct{})
	go func() {
		defer close(healthDone)
		api.WatchHealth(runCtx, cfg.HealthCheckInterval)
	}()

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.InfoContext(ctx, "Server started", "addr", ln.Addr().String())

	var failure error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		failure = fmt.Errorf("serve http: %w", err)
	}

	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		failure = errors.Join(failure, fmt.Errorf("shut down http server: %w", err))
	}
	stopRefreshes()
	<-healthDone
	select {
	case err := <-refresherDone:
		if err != nil {
			failure = errors.Join(failure, fmt.Errorf("background refresher: %w", err))
		}
	case <-shutdownCtx.Done():
		failure = errors.Join(failure, errors.New("background refreshes did not stop within the shutdown timeout"))
	}
	log.InfoContext(context.WithoutCancel(ctx), "Server stopped")
	return failure
}
