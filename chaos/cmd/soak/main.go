// Command soak runs the service under test for a long time under constant mixed load while a
// fault schedule drawn from a seed breaks its dependencies one after another, overlapping at
// times, and checks the contract's invariants all the time: every answer for the faults
// active when it was given, every served count against what really was observed, the stores
// never going backwards, recovery after each fault within the SLA's bound, MAX's quota in
// every second, and at the end goroutines, file descriptors, memory and the refresh queue
// back where they were before the first fault. It writes out/soak.{md,json,svg} and exits 1
// on any violation.
//
//	go run ./chaos/cmd/soak                       # 2m, a new seed (printed)
//	go run ./chaos/cmd/soak -seed 42 -duration 30m -rate 200
//
// Traffic goes only to the environment's own loopback addresses.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/faultline/faultline/chaos"
	"github.com/faultline/faultline/fakes/maxapi"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code, err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		_, _ = fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	os.Exit(code)
}

// config is one soak run's settings.
type config struct {
	Seed     uint64        `json:"seed"`
	Duration time.Duration `json:"duration"`
	Rate     int           `json:"rate"`
	Replicas int           `json:"replicas"`
	Chats    int           `json:"chats"`
	Hot      int           `json:"hot_chats"`
	// WarmUp is load without faults before the first; Tail the quiet end, as long as the
	// recovery bound, after the last.
	WarmUp time.Duration `json:"warm_up"`
	Tail   time.Duration `json:"tail"`
	Out    string        `json:"-"`
	Race   bool          `json:"race"`
	// StopWhen ends the run once every invariant it names was broken (-stop-when).
	StopWhen []string `json:"stop_when,omitempty"`
}

// Bounds of a run: this is a soak, not a stress test.
const (
	maxRate     = 1000
	maxDuration = 24 * time.Hour
	minDuration = 45 * time.Second
)

func parse(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	defDuration := 2 * time.Minute
	if v := getenv("SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return config{}, fmt.Errorf("SOAK_DURATION=%q: %w", v, err)
		}
		defDuration = d
	}
	defSeed := uint64(time.Now().UnixNano()) //nolint:gosec // G115: any bits make a seed
	if v := getenv("SOAK_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return config{}, fmt.Errorf("SOAK_SEED=%q: %w", v, err)
		}
		defSeed = s
	}
	c := config{WarmUp: 10 * time.Second}
	fs.Uint64Var(&c.Seed, "seed", defSeed, "seed of the fault schedule and the load's mix (default: SOAK_SEED, else the clock); printed so a run can be repeated")
	fs.DurationVar(&c.Duration, "duration", defDuration, fmt.Sprintf("length of the run, warm-up and quiet end included (default: SOAK_DURATION, else 2m; at least %s)", minDuration))
	fs.IntVar(&c.Rate, "rate", 200, fmt.Sprintf("requests a second, all kinds together (at most %d)", maxRate))
	fs.IntVar(&c.Replicas, "replicas", 2, "processes of the service, sharing one MAX quota")
	fs.IntVar(&c.Chats, "chats", 200, "chats seeded, all linked to MAX")
	fs.IntVar(&c.Hot, "hot", 8, "chats that POST refreshes go to, a few times a second on every replica at once: racing writers")
	fs.StringVar(&c.Out, "out", "out", "directory of soak.md, soak.json and soak.svg")
	fs.BoolVar(&c.Race, "race", false, "build the service with the race detector (not by default, even in CI: the soak measures the service's own resources)")
	stopWhen := fs.String("stop-when", "", "end the run as soon as every invariant named (comma-separated) is broken, without the end checks: "+
		"a run that must fail on them need not last longer")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if *stopWhen != "" {
		for name := range strings.SplitSeq(*stopWhen, ",") {
			if !knownInvariant(name) {
				return config{}, fmt.Errorf("-stop-when: no invariant %q", name)
			}
			c.StopWhen = append(c.StopWhen, name)
		}
	}
	switch {
	case c.Duration < minDuration || c.Duration > maxDuration:
		return config{}, fmt.Errorf("-duration must be in [%s, %s]", minDuration, maxDuration)
	case c.Rate < 10 || c.Rate > maxRate:
		return config{}, fmt.Errorf("-rate must be in 10..%d", maxRate)
	case c.Replicas < 1 || c.Replicas > 8:
		return config{}, errors.New("-replicas must be in 1..8")
	case c.Chats < 10 || c.Chats > 10_000:
		return config{}, errors.New("-chats must be in 10..10000")
	case c.Hot < 1 || c.Hot > c.Chats:
		return config{}, errors.New("-hot must be in 1..chats")
	}
	c.Tail = recoveryBound + 5*time.Second
	return c, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (int, error) {
	cfg, err := parse(args, getenv, stderr)
	if err != nil {
		return 0, err
	}
	_, _ = fmt.Fprintf(stdout, "soak: seed %d, %s at %d requests/s on %d replicas (repeat with -seed %d)\n",
		cfg.Seed, cfg.Duration, cfg.Rate, cfg.Replicas, cfg.Seed)

	// The harness's own Redis client reconnects by itself after a fault stops Redis; its
	// pool's complaints meanwhile are no finding.
	redis.SetLogger(quietRedis{})
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts := []chaos.Option{
		chaos.WithLogger(log),
		chaos.WithRace(cfg.Race),
		chaos.WithMaxOptions(maxapi.WithJournalLimit(4 * maxapi.DefaultJournalLimit)),
		// Info level: a debug line per refresh for an hour would be the logger's soak.
		chaos.WithBaseSUTEnv("LOG_LEVEL=info"),
	}
	if cmd := getenv("CHAOS_SUT_CMD"); cmd != "" {
		opts = append(opts, chaos.WithSUTCommand(strings.Fields(cmd)...))
	}
	env, err := chaos.Start(ctx, opts...)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err := env.Close(context.WithoutCancel(ctx)); err != nil {
			_, _ = fmt.Fprintln(stderr, "soak: close:", err)
		}
	}()
	if err := chaos.CheckLoopback(env.URL()); err != nil {
		return 0, err
	}

	s, err := newSoak(ctx, env, cfg)
	if err != nil {
		return 0, err
	}
	rep, err := s.run(ctx)
	if err != nil {
		return 0, err
	}
	if err := rep.write(cfg.Out); err != nil {
		return 0, err
	}
	rep.summary(stdout)
	_, _ = fmt.Fprintf(stdout, "soak: report in %s\n", filepath.Join(cfg.Out, "soak.md"))
	if len(rep.Violations) > 0 {
		return 1, nil
	}
	return 0, nil
}

type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}
