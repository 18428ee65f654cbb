package chaos

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Fault is one way of breaking the environment. Each constructor in this package (Down,
// Latency, MaxStatus, ContainerStopped...) returns one; Env.Inject puts it
// in place and returns the function that takes it away again.
type Fault interface {
	// String names the fault for logs and reports, for example "latency(redis, 500ms±0s)".
	String() string
	inject(ctx context.Context, e *Env) (UndoFunc, error)
}

// UndoFunc takes a fault away. It is safe to call more than once, and after a Reset it
// does nothing.
type UndoFunc func(ctx context.Context) error

// Inject puts the faults in place, in order, and returns their undo. If one fault fails,
// the ones already applied are taken away first.
func (e *Env) Inject(ctx context.Context, faults ...Fault) (UndoFunc, error) {
	e.opMu.Lock()
	defer e.opMu.Unlock()
	e.mu.Lock()
	gen := e.generation
	e.mu.Unlock()

	type applied struct {
		id   int64
		name string
		undo UndoFunc
	}
	var done []applied
	rollback := func(ctx context.Context) error {
		var errs []error
		for _, a := range slices.Backward(done) {
			if err := a.undo(ctx); err != nil {
				errs = append(errs, fmt.Errorf("undo %s: %w", a.name, err))
			}
			e.mu.Lock()
			delete(e.active, a.id)
			e.mu.Unlock()
			e.log.InfoContext(ctx, "Fault removed", "fault", a.name)
		}
		return errors.Join(errs...)
	}
	for _, f := range faults {
		undo, err := f.inject(ctx, e)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("apply %s: %w", f, err), rollback(ctx))
		}
		e.mu.Lock()
		e.nextFault++
		id := e.nextFault
		e.active[id] = f.String()
		e.mu.Unlock()
		done = append(done, applied{id: id, name: f.String(), undo: undo})
		e.log.InfoContext(ctx, "Fault applied", "fault", f.String())
	}
	var once sync.Once
	var undoErr error
	return func(ctx context.Context) error {
		once.Do(func() {
			e.opMu.Lock()
			defer e.opMu.Unlock()
			e.mu.Lock()
			stale := e.generation != gen
			e.mu.Unlock()
			// Reset already took these faults away; undoing now could take away a fault
			// of the next scenario that happens to look the same.
			if stale {
				return
			}
			undoErr = rollback(ctx)
		})
		return undoErr
	}, nil
}

// ActiveFaults names the faults applied since the last Reset and not yet undone.
func (e *Env) ActiveFaults() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var ids []int64
	for id := range e.active {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = e.active[id]
	}
	return out
}

// Faults combines several faults into one, applied in order and undone in reverse.
func Faults(faults ...Fault) Fault { return faultSet(faults) }

type faultSet []Fault

func (s faultSet) String() string {
	names := make([]string, len(s))
	for i, f := range s {
		names[i] = f.String()
	}
	return strings.Join(names, " + ")
}

func (s faultSet) inject(ctx context.Context, e *Env) (UndoFunc, error) {
	var undos []UndoFunc
	undoAll := func(ctx context.Context) error {
		var errs []error
		for _, u := range slices.Backward(undos) {
			errs = append(errs, u(ctx))
		}
		return errors.Join(errs...)
	}
	for _, f := range s {
		u, err := f.inject(ctx, e)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("%s: %w", f, err), undoAll(ctx))
		}
		undos = append(undos, u)
	}
	return undoAll, nil
}
