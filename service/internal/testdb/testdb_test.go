package testdb

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestPostgresAndProxy(t *testing.T) {
	ctx := context.Background()
	pg, err := StartPostgres(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := pg.Close(); err != nil {
			t.Error(err)
		}
	})
	dsn := pg.NewDatabase(t, "pw")
	proxy := NewProxy(t, pg.Addr())
	via := URLVia(dsn, proxy.Addr())

	query := func(timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		conn, err := pgx.Connect(ctx, via)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		var one int
		return conn.QueryRow(ctx, "SELECT 1").Scan(&one)
	}
	if err := query(10 * time.Second); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	proxy.Refuse()
	if err := query(5 * time.Second); err == nil {
		t.Fatal("refusing proxy: query succeeded")
	}
	proxy.Hang()
	if err := proxy.Restore(); err != nil {
		t.Fatal(err)
	}
	proxy.Hang()
	start := time.Now()
	if err := query(300 * time.Millisecond); err == nil {
		t.Fatal("hanging proxy: query succeeded")
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("hanging proxy failed after %s, want it to hang until the deadline", d)
	}
	if err := proxy.Restore(); err != nil {
		t.Fatal(err)
	}
	if err := query(10 * time.Second); err != nil {
		t.Fatalf("restored proxy: %v", err)
	}
}

func TestRedisStopStart(t *testing.T) {
	ctx := context.Background()
	r, err := StartRedis(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	url := r.NewDatabase(t)
	if url == "" {
		t.Fatal("no URL")
	}
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := redisCommand(ctx, r.Addr(), "", 0, "PING"); err == nil {
		t.Fatal("stopped server answered PING")
	}
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := redisCommand(ctx, r.Addr(), "", 0, "PING"); err != nil {
		t.Fatal(err)
	}
}
