package chaos

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"syscall"
)

// The SUT can run as several replicas: the primary (replica 0), which Start, Reset and
// StartSUT start, and extra processes that StartReplicas starts beside it with the same
// settings. They share the proxies, so a fault reaches every replica, and the data in
// Postgres and Redis. Each listens on a port of its own, reserved for the life of the
// environment: replica i listens on the same port in every run.

// replicaSlot is the port and probe client of one extra replica, kept for the life of the Env.
type replicaSlot struct {
	port   *reservedPort
	client *Client
}

// replica is an extra SUT process of the current run.
type replica struct {
	index  int
	proc   *sutProcess
	client *Client
	// killed is set by KillReplica, whose kill makes the exit expected. Guarded by Env.mu.
	killed bool
}

// StartReplicas starts n more SUT processes beside the running ones, numbered after them
// (the primary is replica 0), and waits until each answers GET /readyz. They run with the
// current run's settings, each listening on its own port, and each start counts as a run
// of its own (Record.Run). It fails (ErrSUT) when the primary is not running or n is
// negative; when one does not become ready, those it started are stopped again and the
// error carries that replica's last output. Stopping the SUT (StopSUT, RestartSUT, Reset,
// Close) stops the replicas too.
func (e *Env) StartReplicas(ctx context.Context, n int) error {
	e.opMu.Lock()
	defer e.opMu.Unlock()
	return e.startReplicas(ctx, n)
}

func (e *Env) startReplicas(ctx context.Context, n int) error {
	if n < 0 {
		return fmt.Errorf("%w: start %d replicas: the count is negative", ErrSUT, n)
	}
	e.mu.Lock()
	running := e.sut != nil && !e.sut.exited()
	first := len(e.replicas) + 1
	overrides := e.overrides
	e.mu.Unlock()
	if !running {
		return fmt.Errorf("%w: start replicas: the primary is not running", ErrSUT)
	}
	if n == 0 {
		return nil
	}
	slots, err := e.replicaSlots(first + n - 1)
	if err != nil {
		return fmt.Errorf("start replicas: %w", err)
	}

	started := make([]*replica, 0, n)
	for i := first; i < first+n; i++ {
		slot := slots[i-1]
		e.mu.Lock()
		e.runs++
		run := e.runs
		e.mu.Unlock()
		// exec uses the last value of a repeated key, so the replica's own address wins.
		env := e.childEnv(append(slices.Clone(overrides), "HTTP_ADDR="+slot.port.addr))
		p, err := startSUT(e.sutCommand, env, e.logs, run, e.cfg.sutOutput)
		if err != nil {
			e.stopStarted(started)
			return fmt.Errorf("replica %d: %w", i, err)
		}
		started = append(started, &replica{index: i, proc: p, client: slot.client})
	}

	waitErrs := make([]error, len(started))
	var wg sync.WaitGroup
	for k, r := range started {
		wg.Go(func() { waitErrs[k] = r.proc.waitReady(ctx, r.client.URL(), e.cfg.readyTimeout) })
	}
	wg.Wait()
	if errors.Join(waitErrs...) != nil {
		// The output is read after the stop, which flushes it.
		e.stopStarted(started)
		var errs []error
		for k, err := range waitErrs {
			if err != nil {
				r := started[k]
				errs = append(errs, fmt.Errorf("replica %d, run %d: %w\nlast SUT output:\n%s", r.index, r.proc.run, err, e.runTail(r.proc.run)))
			}
		}
		return errors.Join(errs...)
	}
	e.mu.Lock()
	e.replicas = append(e.replicas, started...)
	e.mu.Unlock()
	return nil
}

// replicaSlots returns the slots of replicas 1 to n, reserving the ports not yet held. The
// caller holds opMu.
func (e *Env) replicaSlots(n int) ([]replicaSlot, error) {
	e.mu.Lock()
	have := len(e.slots)
	e.mu.Unlock()
	for range n - have {
		port, err := reservePort()
		if err != nil {
			return nil, err
		}
		e.mu.Lock()
		e.slots = append(e.slots, replicaSlot{port: port, client: NewClient("http://" + port.addr)})
		e.mu.Unlock()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.slots[:n]), nil
}

// releaseReplicaPorts lets other environments have the replicas' ports. Close calls it
// after stopping the SUT.
func (e *Env) releaseReplicaPorts(context.Context) error {
	e.mu.Lock()
	slots := e.slots
	e.slots = nil
	e.mu.Unlock()
	var errs []error
	for _, s := range slots {
		errs = append(errs, s.port.release())
	}
	return errors.Join(errs...)
}

// stopStarted stops replicas that failed to start, whatever their exit.
func (e *Env) stopStarted(started []*replica) {
	var wg sync.WaitGroup
	for _, r := range started {
		wg.Go(func() { _ = r.proc.stop(e.cfg.stopTimeout) })
	}
	wg.Wait()
}

// stopReplicas stops the current run's extra replicas together and reports every unclean
// exit but those KillReplica caused. The caller has taken them out of e.replicas.
func (e *Env) stopReplicas(replicas []*replica) error {
	errs := make([]error, len(replicas))
	var wg sync.WaitGroup
	for k, r := range replicas {
		e.mu.Lock()
		killed := r.killed
		e.mu.Unlock()
		if killed {
			continue
		}
		wg.Go(func() {
			if err := r.proc.stop(e.cfg.stopTimeout); err != nil {
				errs[k] = fmt.Errorf("replica %d, run %d: %w\nlast SUT output:\n%s", r.index, r.proc.run, err, e.runTail(r.proc.run))
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// runTail is the last lines that one run of the SUT wrote, for error messages.
func (e *Env) runTail(run int) string {
	return e.allLogs().Where(func(r Record) bool { return r.Run == run }).Tail(20)
}

// KillReplica sends SIGKILL to extra replica i's process group and waits for it to exit.
// The exit is expected: stopping the SUT later does not report it. The replica keeps its
// place in Clients, and Metrics no longer scrapes it. The primary (replica 0) cannot be
// killed this way. Killing a replica again does nothing; a replica that exited by itself
// is an error (ErrSUT), and stopping the SUT reports its exit.
func (e *Env) KillReplica(i int) error {
	e.opMu.Lock()
	defer e.opMu.Unlock()
	if i == 0 {
		return errors.New("kill replica 0: the primary cannot be killed with KillReplica")
	}
	e.mu.Lock()
	if i < 0 || i > len(e.replicas) {
		n := len(e.replicas)
		e.mu.Unlock()
		return fmt.Errorf("kill replica %d: there are replicas 1 to %d besides the primary", i, n)
	}
	r := e.replicas[i-1]
	if r.killed {
		e.mu.Unlock()
		return nil
	}
	if r.proc.exited() {
		e.mu.Unlock()
		return fmt.Errorf("%w: kill replica %d: it is not running", ErrSUT, i)
	}
	r.killed = true
	e.mu.Unlock()
	if err := syscall.Kill(-r.proc.cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("%w: kill replica %d: %w", ErrSUT, i, err)
	}
	<-r.proc.done
	return nil
}

// Clients returns the probe clients of the current run's replicas, the primary's first and
// then in replica order; a killed replica keeps its place. With no extra replicas it
// holds Client() alone.
func (e *Env) Clients() []*Client {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*Client, 0, 1+len(e.replicas))
	out = append(out, e.client)
	for _, r := range e.replicas {
		out = append(out, r.client)
	}
	return out
}

// ReplicaPids returns the process ids of the current run's replicas in the order of
// Clients, 0 for one that is not running.
func (e *Env) ReplicaPids() []int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]int, 0, 1+len(e.replicas))
	out = append(out, pidOf(e.sut))
	for _, r := range e.replicas {
		out = append(out, pidOf(r.proc))
	}
	return out
}

func pidOf(p *sutProcess) int {
	if p == nil || p.exited() {
		return 0
	}
	return p.cmd.Process.Pid
}

// MetricsPages scrapes /metrics of every replica that KillReplica has not killed, the
// primary first, at once. A failed scrape of any replica is an error.
func (e *Env) MetricsPages(ctx context.Context) ([]MetricsResponse, error) {
	return e.MetricsPagesWhere(ctx, nil)
}

// MetricsPagesWhere scrapes as MetricsPages does, each snapshot keeping only the series
// whose name keep accepts (Client.MetricsWhere); a nil keep keeps every series.
func (e *Env) MetricsPagesWhere(ctx context.Context, keep func(name string) bool) ([]MetricsResponse, error) {
	type target struct {
		index  int
		client *Client
	}
	e.mu.Lock()
	targets := []target{{0, e.client}}
	for _, r := range e.replicas {
		if !r.killed {
			targets = append(targets, target{r.index, r.client})
		}
	}
	e.mu.Unlock()

	pages := make([]MetricsResponse, len(targets))
	var wg sync.WaitGroup
	for k, t := range targets {
		wg.Go(func() { pages[k] = t.client.MetricsWhere(ctx, keep) })
	}
	wg.Wait()
	var errs []error
	for k, m := range pages {
		if m.Err != nil || m.Status != http.StatusOK {
			errs = append(errs, fmt.Errorf("scrape metrics of replica %d: %s", targets[k].index, m.Response))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return pages, nil
}

// Metrics scrapes every running replica (MetricsPages) and combines the snapshots as an
// alerting query would (see Combine). With the primary alone it is the primary's snapshot.
func (e *Env) Metrics(ctx context.Context) (Snapshot, error) {
	pages, err := e.MetricsPages(ctx)
	if err != nil {
		return Snapshot{}, err
	}
	return CombinePages(pages), nil
}

// CombinePages combines the snapshots of pages (see Combine); one page is its own snapshot.
func CombinePages(pages []MetricsResponse) Snapshot {
	if len(pages) == 1 {
		return pages[0].Snapshot
	}
	snaps := make([]Snapshot, len(pages))
	for k, p := range pages {
		snaps[k] = p.Snapshot
	}
	return Combine(snaps...)
}
