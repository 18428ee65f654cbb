// Command stack brings up the whole chaos environment by hand: Postgres and Redis in
// containers, the fake MAX API, an embedded Toxiproxy in front of each, and the service
// under test wired to the proxies. It prints the URLs and then reads tiny commands on
// stdin to break things (type "help"). Ctrl-C tears everything down.
//
//	go run ./chaos/cmd/stack
//	go run ./chaos/cmd/stack -do 'latency redis 300ms; max 503'
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/faultline/faultline/chaos"
	"github.com/faultline/faultline/contract"
	"github.com/faultline/faultline/fakes/maxapi"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		sayln(os.Stderr, "stack:", err)
		os.Exit(1)
	}
}

// say, sayln and sayRaw print to the console; a console that cannot be written to leaves
// nothing to report the error on.
func say(w io.Writer, format string, args ...any) { _, _ = fmt.Fprintf(w, format, args...) }
func sayln(w io.Writer, args ...any)              { _, _ = fmt.Fprintln(w, args...) }
func sayRaw(w io.Writer, args ...any)             { _, _ = fmt.Fprint(w, args...) }

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("stack", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		sutCmd      = fs.String("sut-cmd", "", "command that runs the SUT (default: CHAOS_SUT_CMD, else build ./service/cmd/chatd)")
		race        = fs.Bool("race", false, "build the SUT with the race detector")
		verbose     = fs.Bool("v", false, "copy the SUT's log to stderr")
		chats       = fs.Int("chats", 5, "demo chats to seed (linked to chats of the fake MAX)")
		do          = fs.String("do", "", "commands to run once the stack is up, separated by ';'")
		showSecrets = fs.Bool("show-secrets", false, "print the MAX token and the database password")
		sutEnv      multiFlag
	)
	fs.Var(&sutEnv, "env", "KEY=VALUE for the SUT (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}

	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	opts := []chaos.Option{
		chaos.WithLogger(logger),
		chaos.WithToxiproxyAPI(),
		chaos.WithBaseSUTEnv(sutEnv...),
		chaos.WithMaxOptions(maxapi.WithChats(demoMaxChats(*chats)...)),
	}
	if *sutCmd != "" {
		opts = append(opts, chaos.WithSUTCommand(strings.Fields(*sutCmd)...))
	}
	if *race {
		opts = append(opts, chaos.WithRace(true))
	}
	if *verbose {
		opts = append(opts, chaos.WithSUTOutput(stderr))
	}
	sayln(stdout, "Starting the stack (containers, proxies, fake MAX, service)...")
	env, err := chaos.Start(ctx, opts...)
	if err != nil {
		return err
	}
	defer func() {
		sayln(stdout, "Tearing down...")
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := env.Close(closeCtx); err != nil {
			sayln(stderr, "stack: teardown:", err)
		}
	}()
	st := &stack{env: env, out: stdout, seed: demoRows(*chats), showSecrets: *showSecrets}
	if err := env.Reset(ctx, chaos.WithChats(st.seed...)); err != nil {
		return err
	}
	st.printURLs(ctx)

	for _, c := range strings.Split(*do, ";") {
		if strings.TrimSpace(c) == "" {
			continue
		}
		say(stdout, "> %s\n", strings.TrimSpace(c))
		if st.exec(ctx, c) {
			return nil
		}
	}

	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	sayRaw(stdout, "stack> ")
	for {
		select {
		case <-ctx.Done():
			sayln(stdout)
			return nil
		case line, ok := <-lines:
			if !ok {
				// No more input (stdin closed or not a terminal): keep the stack up until
				// Ctrl-C, as a developer running it in the background expects.
				lines = nil
				continue
			}
			if st.exec(ctx, line) {
				return nil
			}
			sayRaw(stdout, "stack> ")
		}
	}
}

func demoMaxChats(n int) []maxapi.Chat {
	out := make([]maxapi.Chat, n)
	for i := range out {
		out[i] = maxapi.Chat{ID: -int64(1000 + i + 1), Title: fmt.Sprintf("Demo chat %d", i+1), ParticipantsCount: 10 * (i + 1)}
	}
	return out
}

func demoRows(n int) []chaos.ChatRow {
	out := make([]chaos.ChatRow, n)
	for i := range out {
		out[i] = chaos.ChatRow{ID: int64(i + 1), Name: fmt.Sprintf("Demo chat %d", i+1), MaxChatID: -int64(1000 + i + 1), Count: i + 1}
	}
	return out
}

// applied is a fault in place, with the dependency it acts on.
type applied struct {
	dep  chaos.Dependency
	name string
	undo chaos.UndoFunc
}

type stack struct {
	env         *chaos.Env
	out         io.Writer
	seed        []chaos.ChatRow
	showSecrets bool
	faults      []applied
}

func (s *stack) printURLs(ctx context.Context) {
	e := s.env
	t := e.Timings()
	w := s.out
	say(w, "\nStack is up (start %s: containers %s, build %s, migrate %s, service %s; reset %s)\n\n",
		t.Start.Round(time.Millisecond), t.Containers.Round(time.Millisecond), t.Build.Round(time.Millisecond),
		t.Migrate.Round(time.Millisecond), t.SUTStart.Round(time.Millisecond), t.Reset.Round(time.Millisecond))
	say(w, "  service        %s   (try %s/chats/all, /health/detailed, /metrics)\n", e.URL(), e.URL())
	say(w, "  fake MAX       %s   admin API %s%s (chats, faults, journal)\n", e.MaxURL(), e.MaxURL(), maxapi.AdminPrefix)
	say(w, "  toxiproxy API  %s   (toxiproxy-cli -h %s)\n", e.ToxiproxyURL(), strings.TrimPrefix(e.ToxiproxyURL(), "http://"))
	for _, dep := range chaos.Dependencies() {
		say(w, "  proxy %-8s %s -> %s\n", dep, e.ProxyAddr(dep), e.DirectAddr(ctx, dep))
	}
	dsn := e.DatabaseURL(ctx)
	if !s.showSecrets {
		for _, secret := range e.Secrets() {
			dsn = strings.ReplaceAll(dsn, secret, "xxxxx")
		}
	}
	say(w, "  postgres       %s   (direct, no faults)\n", dsn)
	say(w, "  redis          redis://%s/0   (direct, no faults)\n", e.DirectAddr(ctx, chaos.Redis))
	if s.showSecrets {
		say(w, "  MAX token      %s\n", e.MaxToken())
	}
	say(w, "\nType \"help\" for commands; Ctrl-C tears everything down.\n")
}

const help = `commands (dep is postgres, redis or max_api; database for postgres too):
  down DEP | up DEP                 refuse connections / take every fault on DEP away
  latency DEP DUR [JITTER]          delay data from DEP
  blackhole DEP                     connections hang
  timeout DEP DUR                   drop data, close after DUR
  resetpeer DEP                     TCP RST on first bytes
  bandwidth DEP KB_PER_SEC          throttle
  slowclose DEP DUR | slicer DEP AVG VAR DELAY | limit DEP BYTES
  stop DEP | pause DEP              stop (cold cache for redis) / freeze a container
  max CODE [RETRY_AFTER]            fake MAX answers CODE (429 takes a Retry-After)
  max hang|slow DUR|malformed|wrongtypes|truncated|unauthorized|disconnect
  max clear                         take every fake MAX fault away
  clear                             take every fault away
  restart [KEY=VALUE...]            restart the service (fresh memory)
  reset [KEY=VALUE...]              full reset: faults off, data re-seeded, service restarted
  status | logs [N] | metrics [NAME] | get PATH | refresh ID | urls | quit`

// exec runs one command line and reports whether the stack should stop.
func (s *stack) exec(ctx context.Context, line string) (quit bool) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return false
	}
	if err := s.do(ctx, f[0], f[1:]); err != nil {
		if errors.Is(err, errQuit) {
			return true
		}
		sayln(s.out, "error:", err)
	}
	return false
}

var errQuit = errors.New("quit")

func (s *stack) do(ctx context.Context, cmd string, args []string) error {
	need := func(n int) error {
		if len(args) < n {
			return fmt.Errorf("%s needs %d argument(s); type help", cmd, n)
		}
		return nil
	}
	depArg := func() (chaos.Dependency, error) {
		if err := need(1); err != nil {
			return "", err
		}
		return contract.ParseDependency(args[0])
	}
	switch cmd {
	case "help", "?":
		sayln(s.out, help)
	case "quit", "exit":
		return errQuit
	case "urls":
		s.printURLs(ctx)
	case "status":
		say(s.out, "service pid %d at %s\n", s.env.SUTPid(), s.env.URL())
		for _, a := range s.faults {
			say(s.out, "  fault: %s\n", a.name)
		}
		if len(s.faults) == 0 {
			sayln(s.out, "  no faults")
		}
	case "up":
		dep, err := depArg()
		if err != nil {
			return err
		}
		return s.clear(ctx, func(a applied) bool { return a.dep == dep })
	case "clear":
		return s.clear(ctx, func(applied) bool { return true })
	case "down", "blackhole", "resetpeer", "stop", "pause":
		dep, err := depArg()
		if err != nil {
			return err
		}
		faults := map[string]func(chaos.Dependency) chaos.Fault{
			"down":      chaos.Down,
			"blackhole": func(d chaos.Dependency) chaos.Fault { return chaos.Blackhole(d) },
			"resetpeer": func(d chaos.Dependency) chaos.Fault { return chaos.Reset(d) },
			"stop":      chaos.ContainerStopped,
			"pause":     chaos.ContainerPaused,
		}
		return s.apply(ctx, dep, faults[cmd](dep))
	case "latency", "timeout", "slowclose":
		dep, err := depArg()
		if err != nil {
			return err
		}
		if err := need(2); err != nil {
			return err
		}
		d, err := time.ParseDuration(args[1])
		if err != nil {
			return err
		}
		switch cmd {
		case "latency":
			var jitter time.Duration
			if len(args) > 2 {
				if jitter, err = time.ParseDuration(args[2]); err != nil {
					return err
				}
			}
			return s.apply(ctx, dep, chaos.Latency(dep, d, jitter))
		case "timeout":
			return s.apply(ctx, dep, chaos.Timeout(dep, d))
		default:
			return s.apply(ctx, dep, chaos.SlowClose(dep, d))
		}
	case "bandwidth", "limit":
		dep, err := depArg()
		if err != nil {
			return err
		}
		if err := need(2); err != nil {
			return err
		}
		var n int64
		if _, err := fmt.Sscan(args[1], &n); err != nil {
			return fmt.Errorf("%s: %w", cmd, err)
		}
		if cmd == "bandwidth" {
			return s.apply(ctx, dep, chaos.Bandwidth(dep, n))
		}
		return s.apply(ctx, dep, chaos.LimitData(dep, n))
	case "slicer":
		dep, err := depArg()
		if err != nil {
			return err
		}
		if err := need(4); err != nil {
			return err
		}
		var avg, variation int
		if _, err := fmt.Sscan(args[1], &avg); err != nil {
			return err
		}
		if _, err := fmt.Sscan(args[2], &variation); err != nil {
			return err
		}
		delay, err := time.ParseDuration(args[3])
		if err != nil {
			return err
		}
		return s.apply(ctx, dep, chaos.Slicer(dep, avg, variation, delay))
	case "max":
		return s.max(ctx, args)
	case "restart":
		return s.env.RestartSUT(ctx, args...)
	case "reset":
		s.faults = nil
		if err := s.env.Reset(ctx, chaos.WithSUTEnv(args...), chaos.WithChats(s.seed...)); err != nil {
			return err
		}
		say(s.out, "reset in %s\n", s.env.Timings().Reset.Round(time.Millisecond))
	case "logs":
		n := 20
		if len(args) > 0 {
			if _, err := fmt.Sscan(args[0], &n); err != nil {
				return err
			}
		}
		sayRaw(s.out, s.env.Logs().Tail(n))
	case "metrics":
		snap, err := s.env.Metrics(ctx)
		if err != nil {
			return err
		}
		if len(args) > 0 {
			for _, smp := range snap.Series(args[0]) {
				sayln(s.out, smp)
			}
			return nil
		}
		sayRaw(s.out, snap.Delta(s.env.Baseline()))
	case "get":
		if err := need(1); err != nil {
			return err
		}
		sayln(s.out, s.env.Client().Do(ctx, "GET", args[0]))
	case "refresh":
		if err := need(1); err != nil {
			return err
		}
		var id int64
		if _, err := fmt.Sscan(args[0], &id); err != nil {
			return err
		}
		sayln(s.out, s.env.Client().Refresh(ctx, id).Response)
	default:
		return fmt.Errorf("unknown command %q; type help", cmd)
	}
	return nil
}

func (s *stack) max(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("max needs a status code or a fault; type help")
	}
	var f chaos.MaxFault
	switch args[0] {
	case "clear":
		return s.clear(ctx, func(a applied) bool { return a.dep == chaos.MaxAPI && strings.HasPrefix(a.name, "max-") })
	case "hang":
		f = chaos.MaxHang()
	case "slow":
		if len(args) < 2 {
			return errors.New("max slow needs a duration")
		}
		d, err := time.ParseDuration(args[1])
		if err != nil {
			return err
		}
		f = chaos.MaxSlow(d)
	case "malformed":
		f = chaos.MaxMalformed()
	case "wrongtypes":
		f = chaos.MaxWrongTypes()
	case "truncated":
		f = chaos.MaxTruncated()
	case "unauthorized":
		f = chaos.MaxUnauthorized()
	case "disconnect":
		f = chaos.MaxDisconnect()
	default:
		var code int
		if _, err := fmt.Sscan(args[0], &code); err != nil {
			return fmt.Errorf("max: %q is neither a status code nor a fault; type help", args[0])
		}
		f = chaos.MaxStatus(code)
		if code == 429 {
			var retry time.Duration
			if len(args) > 1 {
				d, err := time.ParseDuration(args[1])
				if err != nil {
					return err
				}
				retry = d
			}
			f = chaos.MaxRateLimited(retry)
		}
	}
	return s.apply(ctx, chaos.MaxAPI, f)
}

func (s *stack) apply(ctx context.Context, dep chaos.Dependency, f chaos.Fault) error {
	undo, err := s.env.Inject(ctx, f)
	if err != nil {
		return err
	}
	s.faults = append(s.faults, applied{dep: dep, name: f.String(), undo: undo})
	say(s.out, "applied %s\n", f)
	return nil
}

func (s *stack) clear(ctx context.Context, match func(applied) bool) error {
	var keep []applied
	var errs []error
	for i := len(s.faults) - 1; i >= 0; i-- {
		a := s.faults[i]
		if !match(a) {
			keep = append([]applied{a}, keep...)
			continue
		}
		if err := a.undo(ctx); err != nil {
			errs = append(errs, err)
			continue
		}
		say(s.out, "removed %s\n", a.name)
	}
	s.faults = keep
	return errors.Join(errs...)
}
