package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// lockRetrySeconds is how often a migrate waiting for another one's lock tries again.
// The wait as a whole is bounded by the caller's context, not by a retry count.
const lockRetrySeconds = 1

// Migrate applies the embedded migrations that dsn's database lacks. It holds a
// PostgreSQL session advisory lock while it does, so several chatd processes may migrate
// the same database at once: one applies, the others wait and then find nothing to do.
// ctx bounds the whole run, including the wait for the lock.
func Migrate(ctx context.Context, dsn string, log *slog.Logger) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("migrate: parse database url: %w", redact(err, dsnSecrets(dsn)))
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()

	files, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(lockRetrySeconds, 1<<20))
	if err != nil {
		return fmt.Errorf("migrate: create lock: %w", err)
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, files,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	results, err := provider.Up(ctx)
	for _, r := range results {
		log.InfoContext(ctx, "Migration applied",
			"version", r.Source.Version, "file", r.Source.Path, "duration_ms", r.Duration.Milliseconds())
	}
	if err != nil {
		return fmt.Errorf("migrate: %w", redact(err, dsnSecrets(dsn)))
	}
	version, err := provider.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("migrate: read schema version: %w", redact(err, dsnSecrets(dsn)))
	}
	log.InfoContext(ctx, "Database schema up to date", "version", version, "applied", len(results))
	return nil
}
