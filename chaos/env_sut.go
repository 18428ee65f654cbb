package chaos

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// prepareSUT settles the command that runs the SUT, building it when none was given.
func (e *Env) prepareSUT(ctx context.Context) error {
	defer func() { e.ownCommand = e.sutCommand }()
	if len(e.cfg.sutCommand) > 0 {
		e.sutCommand = e.cfg.sutCommand
		return nil
	}
	if e.cfg.sutBinary != "" {
		e.sutCommand = []string{e.cfg.sutBinary}
		return nil
	}
	t0 := time.Now()
	bin, err := buildSUT(ctx, e.cfg.moduleRoot, e.cfg.sutPackage, e.workDir, e.cfg.race)
	if err != nil {
		return err
	}
	e.timings.Build = time.Since(t0)
	e.sutCommand = []string{bin}
	e.log.InfoContext(ctx, "Built the service under test", "package", e.cfg.sutPackage, "race", e.cfg.race, "took", e.timings.Build)
	return nil
}

// contractEnv is the SUT's configuration per the contract, pointing at the proxies.
func (e *Env) contractEnv() map[string]string {
	return map[string]string{
		"HTTP_ADDR":     e.sutAddr,
		"DATABASE_URL":  e.databaseURL(e.proxies.listen(Postgres)),
		"REDIS_URL":     "redis://" + e.proxies.listen(Redis) + "/0",
		"MAX_API_URL":   "http://" + e.proxies.listen(MaxAPI),
		"MAX_API_TOKEN": e.maxToken,
		"LOG_FORMAT":    "json",
		// Debug adds the refresh successes that scenarios look for.
		"LOG_LEVEL": "debug",
	}
}

func (e *Env) childEnv(overrides []string) []string {
	e.mu.Lock()
	runEnv := e.sutRunEnv
	e.mu.Unlock()
	all := slices.Concat(e.cfg.sutEnv, runEnv, overrides)
	return sutEnv(e.cfg.lookup, e.contractEnv(), all)
}

// UseSUT runs command, with the KEY=VALUE settings env after CHAOS_SUT_ENV's and before
// a Reset's overrides, from the next start of the service on: one environment serves
// several services in turn, as the self-test's variants. A nil command returns to the
// environment's own service and settings. The running service is not touched.
func (e *Env) UseSUT(command, env []string) error {
	if err := checkSettings(env); err != nil {
		return fmt.Errorf("use SUT: %w", err)
	}
	e.opMu.Lock()
	defer e.opMu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(command) == 0 {
		e.sutCommand, e.sutRunEnv = e.ownCommand, nil
		return nil
	}
	e.sutCommand, e.sutRunEnv = slices.Clone(command), slices.Clone(env)
	return nil
}

// startSUT starts the SUT with overrides and waits until it is ready. The caller holds opMu
// or is Start.
func (e *Env) startSUT(ctx context.Context, overrides []string) error {
	e.mu.Lock()
	if e.sut != nil && !e.sut.exited() {
		e.mu.Unlock()
		return fmt.Errorf("%w: already running", ErrSUT)
	}
	e.runs++
	run := e.runs
	e.overrides = append([]string(nil), overrides...)
	e.mu.Unlock()

	t0 := time.Now()
	p, err := startSUT(e.sutCommand, e.childEnv(overrides), e.logs, run, e.cfg.sutOutput)
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.sut = p
	e.mu.Unlock()
	if err := p.waitReady(ctx, e.client.URL(), e.cfg.readyTimeout); err != nil {
		// The failure is reported here; a process still running is not left behind.
		_ = p.stop(e.cfg.stopTimeout)
		e.mu.Lock()
		e.sut = nil
		e.mu.Unlock()
		return fmt.Errorf("%w\nlast SUT output:\n%s", err, e.runTail(run))
	}
	e.mu.Lock()
	e.timings.SUTStart = time.Since(t0)
	e.mu.Unlock()
	return nil
}

// stopSUT stops the running SUT, if any: the extra replicas together, then the primary.
// It reports every unclean exit but those KillReplica caused.
func (e *Env) stopSUT() error {
	e.mu.Lock()
	p := e.sut
	replicas := e.replicas
	e.sut, e.replicas = nil, nil
	e.mu.Unlock()
	errs := []error{e.stopReplicas(replicas)}
	if p != nil {
		if err := p.stop(e.cfg.stopTimeout); err != nil {
			errs = append(errs, fmt.Errorf("run %d: %w\nlast SUT output:\n%s", p.run, err, e.runTail(p.run)))
		}
	}
	// The next run listens on the same ports; its first scrapes open new connections.
	e.client.CloseIdle()
	e.mu.Lock()
	slots := e.slots
	e.mu.Unlock()
	for _, s := range slots {
		s.client.CloseIdle()
	}
	return errors.Join(errs...)
}

func (e *Env) takeBaseline(ctx context.Context) error {
	m := e.client.Metrics(ctx)
	if m.Err != nil || m.Status != http.StatusOK {
		return fmt.Errorf("%w: metrics baseline: %s", ErrSUT, m.Response)
	}
	mark := e.logs.mark()
	e.mu.Lock()
	e.baseline = m.Snapshot
	e.mark = mark
	e.mu.Unlock()
	return nil
}

// SUTEnv is the environment of the current SUT run, as KEY=VALUE lines. It contains the
// secrets; do not print it.
func (e *Env) SUTEnv() []string {
	e.mu.Lock()
	overrides := e.overrides
	e.mu.Unlock()
	return e.childEnv(overrides)
}

// SUTPid is the process id of the running SUT's primary replica, 0 when it is not
// running. ReplicaPids lists the others.
func (e *Env) SUTPid() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return pidOf(e.sut)
}

// SUT describes the service under test for reports: the command given (CHAOS_SUT_CMD or
// WithSUTCommand), or the package built and whether with -race.
func (e *Env) SUT() string {
	e.mu.Lock()
	command, own := e.sutCommand, e.ownCommand
	e.mu.Unlock()
	if !slices.Equal(command, own) {
		return strings.Join(command, " ")
	}
	if len(e.cfg.sutCommand) > 0 {
		return strings.Join(e.cfg.sutCommand, " ")
	}
	if e.cfg.race {
		return "go build -race " + e.cfg.sutPackage
	}
	return "go build " + e.cfg.sutPackage
}

// RestartSUT stops the SUT with SIGTERM (checking that it exits cleanly) and starts it
// again with the given KEY=VALUE overrides, or with the current run's overrides when none
// are given. Its in-memory state starts from zero; the baselines are not retaken. Extra
// replicas are stopped with it and not started again: the SUT runs as the primary alone.
func (e *Env) RestartSUT(ctx context.Context, overrides ...string) error {
	e.opMu.Lock()
	defer e.opMu.Unlock()
	return e.restartSUT(ctx, overrides)
}

func (e *Env) restartSUT(ctx context.Context, overrides []string) error {
	if overrides == nil {
		e.mu.Lock()
		overrides = e.overrides
		e.mu.Unlock()
	}
	stopErr := e.stopSUT()
	if err := e.startSUT(ctx, overrides); err != nil {
		return errors.Join(stopErr, err)
	}
	return stopErr
}

// StopSUT stops the SUT with SIGTERM, its extra replicas first, and reports an exit that
// is not clean (status 0 within the stop timeout), except a replica's that KillReplica
// caused. Afterwards Clients holds the primary's client alone.
func (e *Env) StopSUT() error {
	e.opMu.Lock()
	defer e.opMu.Unlock()
	return e.stopSUT()
}

// StartSUT starts a stopped SUT with the given KEY=VALUE overrides.
func (e *Env) StartSUT(ctx context.Context, overrides ...string) error {
	e.opMu.Lock()
	defer e.opMu.Unlock()
	return e.startSUT(ctx, overrides)
}
