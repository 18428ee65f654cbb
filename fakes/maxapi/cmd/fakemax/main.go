// Command fakemax serves the fake MAX Bot API and its admin API on one address,
// for running a MAX client by hand or driving the fake from another process.
//
//	fakemax -addr 127.0.0.1:9090 -token T -seed chats.json
//
// It prints its base URL on stdout once it listens and stops cleanly on SIGINT
// or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	fakemax "github.com/faultline/faultline/fakes/maxapi"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "fakemax:", err)
		os.Exit(1)
	}
}

// shutdownTimeout bounds how long in-flight requests may finish on shutdown.
const shutdownTimeout = 5 * time.Second

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fakemax", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:9090", "listen address")
	token := fs.String("token", "", "token to accept in the Authorization header (empty: any non-empty token)")
	seedPath := fs.String("seed", "", "seed file (JSON) with the initial bot and chats")
	rate := fs.Int("rate-limit", fakemax.DefaultRateLimit, "requests per second per token (0: unlimited)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("parse flags: %w", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	opts := []fakemax.Option{fakemax.WithToken(*token), fakemax.WithRateLimit(*rate)}
	if *seedPath != "" {
		seed, err := fakemax.ReadSeedFile(*seedPath)
		if err != nil {
			return err
		}
		opts = append(opts, fakemax.WithSeed(seed))
	}
	fake := fakemax.NewServer(opts...)

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           fake,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	fmt.Fprintf(stdout, "fakemax listening on http://%s\n", ln.Addr())

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// Requests held by Hang faults would otherwise keep Shutdown waiting.
	fake.Close()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	fmt.Fprintln(stdout, "fakemax stopped")
	return nil
}
