// Package rowrun runs one row of the behaviour matrix against a chaos environment and
// returns what it observed: the glue between matrix (rows, Compare) and chaos (the
// environment, faults, probes). It follows the steps of the matrix package documentation
// and decides nothing itself: every verdict is matrix.Compare's.
package rowrun

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/faultline/faultline/chaos"
	"github.com/faultline/faultline/fakes/maxapi"
	"github.com/faultline/faultline/matrix"
)

// Config configures a Runner.
type Config struct {
	// Mode is how observations are judged while waiting for them to settle: ModeContract
	// for a service other than the reference one skips the reference service's own promises.
	Mode matrix.Mode
	// CacheTTL is the service's PARTICIPANTS_CACHE_TTL; seeded entries live what remains of it.
	CacheTTL time.Duration
	// Poll is the interval between observations while waiting for eventual expectations
	// (default 100ms).
	Poll time.Duration
	// HoldPoll is the interval between observations once they are met, for the row's Hold
	// (default 250ms), with one more at its end. What the hold looks for, a late write,
	// stays written: the observation at its end sees it however far apart the others are,
	// and each observation scrapes every replica and reads both stores.
	HoldPoll time.Duration
	// Alerts replays each row's metrics through the alert rules; nil skips the replay and
	// leaves Observation.Alerts nil.
	Alerts *AlertReplay
	// Log receives progress (default: discarded).
	Log *slog.Logger
}

// Runner runs rows against one environment, one at a time (and replays each row's alerts in
// a second one, at the same time).
type Runner struct {
	env    *chaos.Env
	cfg    Config
	resets []time.Duration
}

// Resets returns how long each reset of the environment took, in order.
func (r *Runner) Resets() []time.Duration { return slices.Clone(r.resets) }

// LastReset returns how long the last reset took (0 before the first).
func (r *Runner) LastReset() time.Duration {
	if len(r.resets) == 0 {
		return 0
	}
	return r.resets[len(r.resets)-1]
}

// reset resets the environment with the row's seed and records how long that took.
func (r *Runner) reset(ctx context.Context, row matrix.Row, seededAt time.Time) error {
	err := r.env.Reset(ctx, ResetOptions(row.Given, seededAt, r.cfg.CacheTTL)...)
	if err == nil {
		r.resets = append(r.resets, r.env.Timings().Reset)
	}
	return err
}

// New returns a Runner for env.
func New(env *chaos.Env, cfg Config) *Runner {
	if cfg.Poll <= 0 {
		cfg.Poll = 100 * time.Millisecond
	}
	if cfg.HoldPoll <= 0 {
		cfg.HoldPoll = 250 * time.Millisecond
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = 24 * time.Hour
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Runner{env: env, cfg: cfg}
}

// Run runs the row and returns the observation. Problems of the harness (a reset that
// failed, a fault that could not be applied, a service that did not stop cleanly) are
// recorded in Observation.Failures, which Compare turns into mismatches.
func (r *Runner) Run(ctx context.Context, row matrix.Row) matrix.Observation {
	return r.RunAs(ctx, row, r.cfg.Mode)
}

// RunAs is Run judging the observations it waits on by mode instead of the Config's, for
// a run that tests services of both kinds (the self-test's variants).
func (r *Runner) RunAs(ctx context.Context, row matrix.Row, mode matrix.Mode) matrix.Observation {
	run := &rowRun{Runner: r, row: row, mode: mode, obs: matrix.Observation{RowID: row.ID}, keepMetric: metricsRead(row.Expected)}
	if r.cfg.Alerts == nil {
		run.run(ctx)
		return run.obs
	}
	var alerts *matrix.AlertsObserved
	var replayErr error
	var wg sync.WaitGroup
	wg.Go(func() { alerts, replayErr = r.replayAlerts(ctx, row) })
	run.run(ctx)
	wg.Wait()
	if replayErr != nil {
		run.fail("alert replay: %v", replayErr)
	} else {
		run.obs.Alerts = alerts
	}
	return run.obs
}

// rowRun is the state of one row while it runs.
type rowRun struct {
	*Runner
	row  matrix.Row
	mode matrix.Mode
	obs  matrix.Observation

	// Metric snapshots at the start of the row window and the two ends of the measured one,
	// each of the series keepMetric accepts.
	start, measured, measuredEnd chaos.Snapshot
	keepMetric                   func(name string) bool
	// bodies are every measured response body, for the secrets check.
	bodies [][]byte
	// undo lifts the held faults; undoFreezing lifts those that keep stores unreadable.
	undo, undoFreezing chaos.UndoFunc
	// clients are the service's replicas, the first one (the only one, mostly) first; the
	// killer goroutine drops a killed one and records how the kill went (clientsMu).
	clientsMu sync.Mutex
	clients   []*chaos.Client
	killed    bool
	killErr   error
}

// client is the replica the i-th request of a kind goes to: each live one in turn.
func (rr *rowRun) client(i int) *chaos.Client {
	rr.clientsMu.Lock()
	defer rr.clientsMu.Unlock()
	if len(rr.clients) == 0 {
		return rr.env.Client()
	}
	return rr.clients[i%len(rr.clients)]
}

// killAfter kills the last replica once MAX has answered calls chat calls, watching the fake's
// journal beside the row; the returned function stops the watch and waits for it.
func (rr *rowRun) killAfter(ctx context.Context, calls int) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	since := time.Now()
	wg.Go(func() {
		for ctx.Err() == nil {
			n := 0
			for _, c := range rr.env.Max().Journal() {
				if c.Endpoint == maxapi.EndpointChat && c.Done && !c.Time.Before(since) {
					n++
				}
			}
			if n >= calls {
				rr.clientsMu.Lock()
				defer rr.clientsMu.Unlock()
				last := len(rr.clients) - 1
				rr.clients = rr.clients[:last]
				rr.killed, rr.killErr = true, rr.env.KillReplica(last)
				return
			}
			if !sleep(ctx, 10*time.Millisecond) {
				return
			}
		}
	})
	return func() { cancel(); wg.Wait() }
}

// metrics reads the service's metrics: the one process's page, or every replica's added
// up (chaos.CombinePages), and every page as read, for the secrets check.
func (rr *rowRun) metrics(ctx context.Context) (snap chaos.Snapshot, bodies [][]byte, err error) {
	pages, err := rr.env.MetricsPagesWhere(ctx, rr.keepMetric)
	if err != nil {
		return chaos.Snapshot{}, nil, err
	}
	for _, p := range pages {
		bodies = append(bodies, p.Body)
	}
	return chaos.CombinePages(pages), bodies, nil
}

func (rr *rowRun) fail(format string, args ...any) {
	rr.obs.Failures = append(rr.obs.Failures, fmt.Sprintf(format, args...))
}

func (rr *rowRun) run(ctx context.Context) {
	env, row := rr.env, rr.row
	plan, err := PlanFaults(row.Given)
	if err != nil {
		rr.fail("plan faults: %v", err)
		return
	}

	// 1-2. Reset and seed (the service restarts: breakers, queues and metrics from zero).
	seededAt := time.Now().UTC()
	if err := rr.reset(ctx, row, seededAt); err != nil {
		rr.fail("reset: %v", err)
		return
	}
	rr.obs.SeededAt = seededAt
	if n := row.Given.Replicas; n > 1 {
		if err := env.StartReplicas(ctx, n-1); err != nil {
			rr.fail("start %d more replicas: %v", n-1, err)
			return
		}
	}
	rr.clients = env.Clients()
	if n := row.Given.KilledAfter; n > 0 {
		stop := rr.killAfter(ctx, n)
		defer func() {
			stop()
			switch {
			case rr.killErr != nil:
				rr.fail("kill a replica: %v", rr.killErr)
			case !rr.killed:
				rr.fail("no replica killed: MAX answered fewer than %d chat calls", n)
			}
		}()
	}

	// 3. Faults, then the row window starts.
	if !rr.applyFaults(ctx, plan) {
		return
	}
	var ok bool
	if rr.start, ok = rr.scrape(ctx, "start of the row"); !ok {
		return
	}
	rr.obs.Phases.Start = time.Now()

	// 4. Warm-up.
	req := row.Request
	var warmUp []time.Duration
	for i := range req.WarmUp {
		warmUp = append(warmUp, send(ctx, rr.client(i), req).latency)
		if !sleep(ctx, req.WarmUpInterval) {
			return
		}
	}
	rr.obs.WarmUpLatency = matrix.NewLatency(warmUp)
	if rr.measured, ok = rr.scrape(ctx, "start of the measured requests"); !ok {
		return
	}
	readsBefore, readsOK := rr.redisCalls(ctx, rr.row.Expected.CacheReads, rr.env.CacheReads, "reads")
	pingsBefore, pingsOK := rr.redisCalls(ctx, rr.row.Expected.CachePings, rr.env.CachePings, "pings")
	rr.obs.Phases.Measured = time.Now()

	// 5. Measured requests, then probes.
	var latencies []time.Duration
	for i := range req.Repeat {
		if i > 0 && !sleep(ctx, req.Interval) {
			return
		}
		a := send(ctx, rr.client(i), req)
		rr.record(i, a)
		latencies = append(latencies, a.latency)
	}
	rr.obs.Latency = matrix.NewLatency(latencies)
	if rr.measuredEnd, ok = rr.scrape(ctx, "end of the measured requests"); !ok {
		return
	}
	if readsAfter, ok := rr.redisCalls(ctx, rr.row.Expected.CacheReads, rr.env.CacheReads, "reads"); ok && readsOK {
		n := int(readsAfter - readsBefore)
		rr.obs.CacheReads = &n
	}
	if pingsAfter, ok := rr.redisCalls(ctx, rr.row.Expected.CachePings, rr.env.CachePings, "pings"); ok && pingsOK {
		n := int(pingsAfter - pingsBefore)
		rr.obs.CachePings = &n
	}
	rr.obs.Phases.MeasuredEnd = time.Now()
	for _, p := range row.Expected.Probes {
		resp := env.Client().Do(ctx, p.Method, p.Path)
		rr.obs.Probes = append(rr.obs.Probes, matrix.ProbeResult{Method: p.Method, Path: p.Path, Status: resp.Status})
	}

	// 6. Recovery; without one, a frozen store is thawed so the harness can read it.
	if row.Expected.Recovery != nil {
		rr.recover(ctx)
	} else if rr.undoFreezing != nil {
		if err := rr.undoFreezing(ctx); err != nil {
			rr.fail("lift %v to read the stores: %v", plan.Freezing, err)
		}
	}

	// 7. Observe until nothing eventual differs or Within has passed, then hold.
	rr.observeUntilSettled(ctx)

	// The run's exit is checked here, so a crash or a race report fails this row, not the next.
	if err := env.StopSUT(); err != nil {
		rr.fail("service run: %v", err)
	}
}

// applyFaults puts the plan in place (Plan.Apply) and keeps its undo functions.
func (rr *rowRun) applyFaults(ctx context.Context, plan Plan) bool {
	applied, err := plan.Apply(ctx, rr.env)
	if err != nil {
		rr.fail("%v", err)
		return false
	}
	rr.undo, rr.undoFreezing = applied.Undo, applied.UndoFreezing
	return true
}

// record keeps what the observation needs of the i-th measured answer.
func (rr *rowRun) record(i int, a answer) {
	rr.obs.Statuses = append(rr.obs.Statuses, a.status)
	rr.bodies = append(rr.bodies, a.body)
	if a.err != nil {
		rr.fail("measured request #%d %s: %v", i+1, rr.row.Request.Method+" "+rr.row.Request.Path, a.err)
	}
	if i == 0 {
		rr.obs.ErrorCode, rr.obs.ErrorMessage = a.errCode, a.errMessage
		rr.obs.Headers = firstHeaders(a.header)
		rr.obs.Chats = a.chats
	}
	for _, c := range a.chats {
		if rr.obs.Sources == nil {
			rr.obs.Sources = map[int64][]matrix.Source{}
		}
		if !slices.Contains(rr.obs.Sources[c.ID], c.Source) {
			rr.obs.Sources[c.ID] = append(rr.obs.Sources[c.ID], c.Source)
		}
	}
}

// maxFaultActs bounds the wait for a MAX fault to act before recovery lifts it.
const maxFaultActs = 5 * time.Second

// awaitMaxFault waits until the service has called MAX's chat endpoint under the row's MAX
// fault and the fake has answered, so that recovery lifts a fault that acted: a background
// refresh that a loaded machine started late would otherwise find MAX healthy again, and
// the row would prove nothing. If no call comes within maxFaultActs the faults are lifted
// all the same, and the row's own expectations say what did not happen.
func (rr *rowRun) awaitMaxFault(ctx context.Context) {
	deadline := time.Now().Add(maxFaultActs)
	for {
		for _, c := range rr.env.Max().Journal() {
			if c.Endpoint == maxapi.EndpointChat && c.Done && !c.Time.Before(rr.obs.Phases.Start) {
				return
			}
		}
		if time.Now().After(deadline) || !sleep(ctx, 20*time.Millisecond) {
			return
		}
	}
}

// recoveryPoll separates the requests that wait for recovery.
const recoveryPoll = 100 * time.Millisecond

// recover lifts the faults and repeats the request until its answer is the recovered
// behaviour, or Recovery.Within has passed.
func (rr *rowRun) recover(ctx context.Context) {
	rc := rr.row.Expected.Recovery
	if f := rr.row.Given.MaxAPI; f.Active() && f.Kind != matrix.FaultDown && f.Kind != matrix.FaultBlackhole {
		// A fault the fake MAX answers itself (a connection refused never reaches it).
		rr.awaitMaxFault(ctx)
	}
	if err := rr.undo(ctx); err != nil {
		rr.fail("lift the faults: %v", err)
		return
	}
	lifted := time.Now()
	ro := &matrix.RecoveryObserved{LiftedAt: lifted}
	rr.obs.Recovery = ro
	ro.Recovered, ro.After = untilRecovered(ctx, lifted, rc.Within, recoveryPoll, func(ctx context.Context) bool {
		a := send(ctx, rr.env.Client(), rr.row.Request)
		ro.Status, ro.Chats = a.status, a.chats
		return matrix.RecoveryMatches(rr.row, rr.obs.SeededAt, a.status, a.chats)
	})
	if snap, ok := rr.scrape(ctx, "after recovery"); ok {
		ro.Gauges = gauges(snap, gaugeNames(rc.Gauges))
	}
}

// observeUntilSettled observes until the eventual expectations hold (or Within has
// passed), then keeps observing for Hold: anything that changes in that time (a late
// write) ends the row with the observation that shows it. A row already decided (a
// mismatch waiting cannot change) is observed once, and marked Unsettled.
func (rr *rowRun) observeUntilSettled(ctx context.Context) {
	e := rr.row.Expected
	var decided bool
	last, have, err := settle(ctx, e.Within, e.Hold, rr.cfg.Poll, rr.cfg.HoldPoll, rr.observe, func(obs matrix.Observation) verdict {
		ms := matrix.Compare(rr.row, obs, rr.mode)
		if matrix.Decided(ms) {
			decided = true
			return verdictDecided
		}
		for _, m := range ms {
			if slices.Contains(matrix.EventualFields(), m.Field) {
				return verdictPending
			}
		}
		return verdictMet
	})
	if have {
		rr.obs = last
		rr.obs.Unsettled = decided
	}
	if err != nil {
		rr.fail("%v", err)
	}
}

// observe reads everything that is not a response: metrics, logs, the fake MAX journal,
// the stores, health and any secret in the output. It returns a copy of the observation.
func (rr *rowRun) observe(ctx context.Context) (matrix.Observation, error) {
	obs := rr.obs
	obs.Failures = slices.Clone(rr.obs.Failures)
	snap, pages, err := rr.metrics(ctx)
	if err != nil {
		return obs, fmt.Errorf("scrape metrics: %w", err)
	}
	expected := rr.row.Expected
	obs.Metrics, obs.Gauges, obs.Resources = metricsObserved(expected, rr.start, snap, rr.measured, rr.measuredEnd)
	obs.Logs = logEvents(rr.env.Logs())
	obs.MaxCalls = maxCalls(rr.env.Max().Journal())
	obs.Stores = rr.stores(ctx)
	if expected.Health != nil {
		h := rr.env.Client().Health(ctx)
		if h.Err != nil {
			return obs, fmt.Errorf("health: %w", h.Err)
		}
		obs.Health = healthObservation(h)
		rr.bodies = append(rr.bodies, h.Body)
	}
	obs.SecretsFound = rr.secretsFound(pages)
	obs.Phases.End = time.Now()
	return obs, nil
}

// stores reads every seeded chat from both stores directly, bypassing the proxies: one
// query and one pipelined Redis round trip however many chats the row seeds, as it runs
// every poll.
func (rr *rowRun) stores(ctx context.Context) []matrix.StoredValue {
	chats := rr.row.Given.Seed.Chats
	if len(chats) == 0 {
		return nil
	}
	ids := make([]int64, len(chats))
	for i, c := range chats {
		ids[i] = c.ID
	}
	rows, dbErr := rr.env.ReadChatRows(ctx, ids)
	entries := rr.env.ReadCacheEntries(ctx, ids)
	out := make([]matrix.StoredValue, 0, 2*len(chats))
	for i, id := range ids {
		db := matrix.StoredValue{ChatID: id, Store: matrix.StoreDatabase}
		if row, found := rows[id]; dbErr != nil {
			db.Error = dbErr.Error()
		} else if found {
			db.Present, db.Count = true, row.Count
			if !row.UpdatedAt.IsZero() {
				at := row.UpdatedAt
				db.UpdatedAt = &at
			}
		}
		cache := matrix.StoredValue{ChatID: id, Store: matrix.StoreRedis}
		switch e := entries[i]; {
		case e.Err != nil:
			cache.Error = e.Err.Error()
		case e.Found:
			at := e.Entry.UpdatedAt
			cache.Present, cache.Count, cache.UpdatedAt, cache.TTL = true, e.Entry.Count, &at, e.Entry.TTL
		}
		out = append(out, db, cache)
	}
	return out
}

// secretsFound names the outputs of the service that hold a secret: its log, a response
// body, its metrics.
func (rr *rowRun) secretsFound(metricsPages [][]byte) []string {
	var out []string
	for _, s := range rr.env.Secrets() {
		if s == "" {
			continue
		}
		if rr.env.Logs().Contains(s) && !slices.Contains(out, "the service's log") {
			out = append(out, "the service's log")
		}
		for _, b := range rr.bodies {
			if strings.Contains(string(b), s) && !slices.Contains(out, "a response body") {
				out = append(out, "a response body")
			}
		}
		for _, b := range metricsPages {
			if strings.Contains(string(b), s) && !slices.Contains(out, "/metrics") {
				out = append(out, "/metrics")
			}
		}
	}
	return out
}

// redisCalls counts Redis commands of one kind so far (count reads them), when the row
// bounds them (want is set).
func (rr *rowRun) redisCalls(ctx context.Context, want *matrix.Count, count func(context.Context) (int64, error), what string) (int64, bool) {
	if want == nil {
		return 0, false
	}
	n, err := count(ctx)
	if err != nil {
		rr.fail("count Redis %s: %v", what, err)
		return 0, false
	}
	return n, true
}

// scrape reads the metrics, recording a failure when it cannot.
func (rr *rowRun) scrape(ctx context.Context, when string) (chaos.Snapshot, bool) {
	snap, _, err := rr.metrics(ctx)
	if err != nil {
		rr.fail("scrape metrics at the %s: %v", when, err)
		return chaos.Snapshot{}, false
	}
	return snap, true
}

// sleep waits d, or until ctx is done; it reports whether ctx is still live. It paces
// requests as the row asks (intervals are part of the row, not synchronisation).
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
