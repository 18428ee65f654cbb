package chaos

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/faultline/faultline/fakes/maxapi"
)

// ResetOption configures Reset.
type ResetOption func(*resetConfig)

type resetConfig struct {
	sutEnv   []string
	chats    []ChatRow
	cache    []CacheEntry
	maxChats []maxapi.Chat
	backoffs []Backoff
	quota    SharedQuota
	maxFault []maxapi.Fault
}

// WithSUTEnv starts the SUT with these KEY=VALUE settings on top of the contract's, for
// example WithSUTEnv("PARTICIPANTS_CACHE_ERROR_POLICY=fail").
func WithSUTEnv(kv ...string) ResetOption {
	return func(c *resetConfig) { c.sutEnv = append(c.sutEnv, kv...) }
}

// WithChats seeds these rows after the table is emptied.
func WithChats(rows ...ChatRow) ResetOption {
	return func(c *resetConfig) { c.chats = append(c.chats, rows...) }
}

// WithCache seeds these cache entries after Redis is flushed.
func WithCache(entries ...CacheEntry) ResetOption {
	return func(c *resetConfig) { c.cache = append(c.cache, entries...) }
}

// WithBackoffs seeds these refresh backoffs (the reference service's) after Redis is flushed,
// as another replica would have written them.
func WithBackoffs(b ...Backoff) ResetOption {
	return func(c *resetConfig) { c.backoffs = append(c.backoffs, b...) }
}

// WithSharedQuota seeds the MAX quota and pause that other replicas of the reference
// service share through Redis, after Redis is flushed.
func WithSharedQuota(q SharedQuota) ResetOption {
	return func(c *resetConfig) { c.quota = q }
}

// WithMaxFaults installs these faults of the fake MAX after it is reset, as part of the
// world a scenario starts from (a chat MAX refuses), not as a fault Inject lifts.
func WithMaxFaults(faults ...maxapi.Fault) ResetOption {
	return func(c *resetConfig) { c.maxFault = append(c.maxFault, faults...) }
}

// WithMaxChats puts these chats into the fake MAX after it is reset.
func WithMaxChats(chats ...maxapi.Chat) ResetOption {
	return func(c *resetConfig) { c.maxChats = append(c.maxChats, chats...) }
}

// Reset makes the environment fresh for the next scenario: every fault is removed
// (toxics, disabled proxies, stopped or paused containers, fake MAX faults), Redis is
// flushed, the chats table is emptied and seeded, and the SUT is restarted with the given
// settings, so its breakers, queues and metrics start from zero; extra replicas are
// stopped, and the SUT starts again as the primary alone. It then takes the log and
// metrics baselines that Logs and Baseline count from.
//
// Reset also reports an unclean exit of the previous SUT run (after resetting anyway):
// a crash or a race report there is a finding, not noise.
func (e *Env) Reset(ctx context.Context, opts ...ResetOption) error {
	var rc resetConfig
	for _, o := range opts {
		o(&rc)
	}
	if err := checkSettings(rc.sutEnv); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	e.opMu.Lock()
	defer e.opMu.Unlock()
	t0 := time.Now()

	var errs []error
	stopErr, err := e.clear(ctx)
	if err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	if stopErr != nil {
		errs = append(errs, fmt.Errorf("previous SUT run: %w", stopErr))
	}
	// The fake returns to its start-up state: the token, no chats but those given at
	// Start, no faults, an empty journal; requests held by a hang are released.
	e.max.Reset()
	for _, c := range rc.maxChats {
		if err := e.max.PutChat(c); err != nil {
			return fmt.Errorf("reset: seed fake MAX: %w", err)
		}
	}
	for _, f := range rc.maxFault {
		if _, err := e.max.AddFault(f); err != nil {
			return fmt.Errorf("reset: fake MAX fault: %w", err)
		}
	}
	if err := e.resetData(ctx, rc.chats, rc.cache, rc.backoffs, rc.quota); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	if err := e.startSUT(ctx, rc.sutEnv); err != nil {
		return errors.Join(append(errs, fmt.Errorf("reset: %w", err))...)
	}
	if err := e.takeBaseline(ctx); err != nil {
		return errors.Join(append(errs, fmt.Errorf("reset: %w", err))...)
	}
	e.mu.Lock()
	e.timings.Reset = time.Since(t0)
	took := e.timings.Reset
	e.mu.Unlock()
	e.log.InfoContext(ctx, "Environment reset", "took", took, "sut_env", rc.sutEnv,
		"chats", len(rc.chats), "cache_entries", len(rc.cache))
	return errors.Join(errs...)
}

// Clear lifts every fault and stops the SUT, as a Reset begins, and reports an unclean
// exit of the SUT. A run that tests several services on one environment clears it after
// each row, so that a service's unclean exit counts against that service's row and not
// the next one's.
func (e *Env) Clear(ctx context.Context) error {
	e.opMu.Lock()
	defer e.opMu.Unlock()
	stopErr, err := e.clear(ctx)
	return errors.Join(err, stopErr)
}

// clear lifts every fault and stops the SUT. It returns how the SUT stopped apart from
// a failure to lift the faults. The caller holds opMu.
func (e *Env) clear(ctx context.Context) (stopErr, err error) {
	e.mu.Lock()
	e.generation++
	clear(e.active)
	e.mu.Unlock()

	if err := e.proxies.reset(ctx); err != nil {
		return nil, fmt.Errorf("reset proxies: %w", err)
	}
	if err := e.restoreContainers(ctx); err != nil {
		return nil, err
	}
	// Release calls held by a hanging fake before the SUT stops, so its graceful shutdown
	// does not wait for them.
	e.max.ClearFaults()
	return e.stopSUT(), nil
}

// restoreContainers unpauses and starts whatever a process fault left paused or stopped.
func (e *Env) restoreContainers(ctx context.Context) error {
	for _, dep := range []Dependency{Postgres, Redis} {
		c := e.containers[dep]
		st, err := c.state(ctx)
		if err != nil {
			return err
		}
		switch {
		case st.paused:
			if err := c.unpause(ctx); err != nil {
				return err
			}
		case !st.running:
			if err := e.startContainerAgain(ctx, dep); err != nil {
				return err
			}
		}
	}
	return nil
}

// startContainerAgain starts a stopped container and points its proxy and the direct
// clients at its new published port.
func (e *Env) startContainerAgain(ctx context.Context, dep Dependency) error {
	c := e.containers[dep]
	if err := c.start(ctx); err != nil {
		return err
	}
	addr, err := c.addr(ctx)
	if err != nil {
		return err
	}
	if err := e.proxies.setUpstream(dep, addr); err != nil {
		return err
	}
	return e.connectDirect(ctx)
}

func (e *Env) container(dep Dependency) (dependency, error) {
	c, ok := e.containers[dep]
	if !ok {
		return nil, fmt.Errorf("%s does not run in a container; use Down(%s) instead", dep, dep)
	}
	return c, nil
}
