// Command bench measures the service under test under load, healthy and with each
// dependency broken, and prints one Markdown table row per case. It brings up the chaos
// environment, seeds chats, and for every case resets the environment, applies the fault,
// sends warm-up requests (so breakers reach their steady state), then attacks
// GET /chats/all at a constant rate with vegeta and reports latency percentiles, success
// ratio and status codes.
//
//	go run ./chaos/cmd/bench
//	go run ./chaos/cmd/bench -rate 300 -duration 20s -chats 200 -race
//
// The raw floor of the saturation comparison and the quota case's fake MAX run as processes
// of this same binary (its first argument serve-floor or serve-fakemax), so that neither
// shares a runtime with the load generator.
//
// Traffic goes only to the environment's own loopback addresses, and every attack is
// bounded in rate and time.
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
	"sort"
	"strings"
	"syscall"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/faultline/faultline/chaos"
	"github.com/faultline/faultline/fakes/maxapi"
)

// Bounds of one attack: this is a measurement, not a stress test.
const (
	maxRate     = 2000
	maxDuration = time.Minute
	warmUp      = 20
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var err error
	if serve := serveCommand(os.Args[1:]); serve != nil {
		err = serve(ctx, os.Getenv, os.Stdout)
	} else {
		err = run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	}
	stop()
	if err != nil {
		_, _ = fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// benchCase is one measured situation: a fault (nil for none) and whether the cache is
// seeded fresh or stale.
type benchCase struct {
	name  string
	fault func() chaos.Fault
	stale bool
}

// The two cases whose p99s make a target.
const (
	caseHealthy        = "healthy, cache fresh"
	caseRedisBlackhole = "redis blackhole (hangs)"
)

func cases() []benchCase {
	return []benchCase{
		{name: caseHealthy},
		{name: "healthy, cache stale (refreshes queued)", stale: true},
		{name: "redis down (connection refused)", fault: func() chaos.Fault { return chaos.Down(chaos.Redis) }},
		{name: caseRedisBlackhole, fault: func() chaos.Fault { return chaos.Blackhole(chaos.Redis) }},
		{name: "redis +50ms latency", fault: func() chaos.Fault { return chaos.Latency(chaos.Redis, 50*time.Millisecond, 0) }},
		{name: "MAX down, cache stale", stale: true, fault: func() chaos.Fault { return chaos.Down(chaos.MaxAPI) }},
		{name: "MAX hangs, cache stale", stale: true, fault: func() chaos.Fault { return chaos.MaxHang() }},
		{name: "postgres down (503)", fault: func() chaos.Fault { return chaos.Down(chaos.Postgres) }},
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		rate       = fs.Int("rate", 200, fmt.Sprintf("requests per second of the cases and the quota case's lists (at most %d)", maxRate))
		duration   = fs.Duration("duration", 10*time.Second, fmt.Sprintf("length of each attack (at most %s)", maxDuration))
		nChats     = fs.Int("chats", 100, "chats seeded, all linked to MAX; the list returns all of them")
		race       = fs.Bool("race", false, "build the service with the race detector")
		only       = fs.String("only", "", "run only the cases whose name contains this text (the two comparisons are named \"saturation\" and \"quota\")")
		sutCmd     = fs.String("sut-cmd", "", "command that runs the service (default: CHAOS_SUT_CMD, else build ./service/cmd/chatd)")
		workers    = fs.Int("workers", 8, "requests in flight during a saturation attack")
		rounds     = fs.Int("rounds", 2, "saturation attacks on each of the service and the raw floor, in turn")
		staleChats = fs.Int("stale-chats", 10000, "stale chats of the quota case")
		replicas   = fs.Int("replicas", 3, "processes of the service in the quota case")
		budget     = fs.Int("budget", 28, "MAX_API_RATE_LIMIT of the quota case: MAX calls a second for the whole deployment (MAX allows 30)")
		quotaRate  = fs.Int("quota-rate", 50, fmt.Sprintf("lists a second of the quota case, pages of %d chats (at most %d)", quotaPage, maxRate))
		quotaMaxIn = fs.String("quota-max", "process", "the quota case's fake MAX: \"process\" (a process of its own, reached directly) or \"env\" (the environment's, in the bench process behind a proxy)")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rate <= 0 || *rate > maxRate {
		return fmt.Errorf("-rate must be in 1..%d", maxRate)
	}
	if *duration <= 0 || *duration > maxDuration {
		return fmt.Errorf("-duration must be in (0, %s]", maxDuration)
	}
	if *workers < 1 || *workers > 256 || *rounds < 1 || *rounds > 10 {
		return errors.New("-workers must be in 1..256 and -rounds in 1..10")
	}
	if *quotaMaxIn != "process" && *quotaMaxIn != "env" {
		return fmt.Errorf("-quota-max must be \"process\" or \"env\", not %q", *quotaMaxIn)
	}
	if *staleChats < 1 || *staleChats > 100_000 || *replicas < 1 || *replicas > 8 || *budget < 1 || *quotaRate < 1 || *quotaRate > maxRate {
		return fmt.Errorf("-stale-chats must be in 1..100000, -replicas in 1..8, -budget positive and -quota-rate in 1..%d", maxRate)
	}
	selected := func(name string) bool { return *only == "" || strings.Contains(name, *only) }

	// A journal with room for every call of the quota case: four a chat.
	journal := maxapi.DefaultJournalLimit + 4**staleChats
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts := []chaos.Option{
		chaos.WithLogger(log),
		chaos.WithRace(*race),
		// No limit at MAX but in the quota case, and a journal that keeps all of its calls.
		chaos.WithMaxOptions(maxapi.WithRateLimit(0), maxapi.WithJournalLimit(journal)),
		// Info level: the debug log of every refresh would measure the logger.
		chaos.WithBaseSUTEnv("LOG_LEVEL=info"),
	}
	if *sutCmd != "" {
		opts = append(opts, chaos.WithSUTCommand(strings.Fields(*sutCmd)...))
	}
	env, err := chaos.Start(ctx, opts...)
	if err != nil {
		return err
	}
	defer func() {
		if err := env.Close(context.WithoutCancel(ctx)); err != nil {
			_, _ = fmt.Fprintln(stderr, "bench: close:", err)
		}
	}()
	if err := chaos.CheckLoopback(env.URL()); err != nil {
		return err
	}

	var targets []target
	p99 := map[string]time.Duration{}
	_, _ = fmt.Fprintf(stdout, "GET /chats/all?limit=%d, %d req/s for %s per case, service built with race=%v\n\n",
		*nChats, *rate, *duration, *race)
	_, _ = fmt.Fprintln(stdout, "| case | p50 | p95 | p99 | max | success | status codes |")
	_, _ = fmt.Fprintln(stdout, "|---|---|---|---|---|---|---|")
	for _, c := range cases() {
		if !selected(c.name) {
			continue
		}
		m, err := measure(ctx, env, c, *nChats, *rate, *duration)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		p99[c.name] = m.Latencies.P99
		_, _ = fmt.Fprintf(stdout, "| %s | %s | %s | %s | %s | %.1f%% | %s |\n", c.name,
			ms(m.Latencies.P50), ms(m.Latencies.P95), ms(m.Latencies.P99), ms(m.Latencies.Max),
			100*m.Success, codes(m.StatusCodes))
	}
	healthy, okH := p99[caseHealthy]
	blackhole, okB := p99[caseRedisBlackhole]
	if okH && okB {
		targets = append(targets, latencyTarget(healthy, blackhole))
	}

	if selected("saturation") {
		sat, err := compareSaturation(ctx, env, *nChats, *workers, *rounds, *duration)
		if err != nil {
			return fmt.Errorf("saturation: %w", err)
		}
		sat.write(stdout)
		targets = append(targets, throughputTarget(mean(sat.service), mean(sat.floor)))
	}

	if selected("quota") {
		var fake quotaMax = envMax{env}
		if *quotaMaxIn == "process" {
			p, err := startMax(ctx, env.MaxToken(), journal)
			if err != nil {
				return fmt.Errorf("quota: %w", err)
			}
			defer p.Close()
			fake = p
		}
		q, err := quotaCase(ctx, env, fake, *staleChats, *replicas, *budget, *quotaRate)
		if err != nil {
			return fmt.Errorf("quota: %w", err)
		}
		q.write(stdout)
		targets = append(targets, quotaTargets(q)...)
	}

	if len(targets) == 0 {
		return nil
	}
	return writeTargets(stdout, targets)
}

// measure runs one case: reset and seed, fault, warm-up, attack.
func measure(ctx context.Context, env *chaos.Env, c benchCase, n, rate int, d time.Duration) (*vegeta.Metrics, error) {
	age := 5 * time.Minute
	if c.stale {
		age = 2 * time.Hour
	}
	rows, entries, maxChats := seedChats(n, time.Now().UTC(), age)
	if err := env.Reset(ctx, chaos.WithChats(rows...), chaos.WithCache(entries...), chaos.WithMaxChats(maxChats...)); err != nil {
		return nil, fmt.Errorf("reset: %w", err)
	}
	if c.fault != nil {
		undo, err := env.Inject(ctx, c.fault())
		if err != nil {
			return nil, fmt.Errorf("apply the fault: %w", err)
		}
		defer func() { _ = undo(context.WithoutCancel(ctx)) }()
	}

	target := vegeta.Target{Method: "GET", URL: fmt.Sprintf("%s/chats/all?limit=%d", env.URL(), n)}
	client := env.Client().WithTimeout(attackTimeout)
	for range warmUp {
		client.List(ctx, chaos.Limit(n))
	}
	a := vegeta.NewAttacker(vegeta.Timeout(attackTimeout), vegeta.KeepAlive(true), vegeta.MaxWorkers(64))
	return collect(ctx, a, a.Attack(vegeta.NewStaticTargeter(target), vegeta.Rate{Freq: rate, Per: time.Second}, d, c.name))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func codes(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s×%d", k, m[k])
	}
	return strings.Join(parts, " ")
}
