package chaos

import "context"

// ContainerStopped stops dep's container (SIGTERM, then kill after a few seconds). For Redis
// this is a cold cache: the container keeps nothing, so the undo brings it back empty. The
// undo starts it again and re-points the proxy and the harness's clients at it.
func ContainerStopped(dep Dependency) Fault { return containerStopped{dep: dep} }

type containerStopped struct{ dep Dependency }

func (f containerStopped) String() string { return "container-stopped(" + string(f.dep) + ")" }

func (f containerStopped) inject(ctx context.Context, e *Env) (UndoFunc, error) {
	c, err := e.container(f.dep)
	if err != nil {
		return nil, err
	}
	if err := c.stop(ctx); err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		st, err := c.state(ctx)
		if err != nil || st.running {
			return err
		}
		return e.startContainerAgain(ctx, f.dep)
	}, nil
}

// ContainerPaused freezes dep's container (docker pause): connections stay open and
// nothing answers, as a dependency stuck in a long GC pause or on a dead disk.
func ContainerPaused(dep Dependency) Fault { return containerPaused{dep: dep} }

type containerPaused struct{ dep Dependency }

func (f containerPaused) String() string { return "container-paused(" + string(f.dep) + ")" }

func (f containerPaused) inject(ctx context.Context, e *Env) (UndoFunc, error) {
	c, err := e.container(f.dep)
	if err != nil {
		return nil, err
	}
	if err := c.pause(ctx); err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		st, err := c.state(ctx)
		if err != nil || !st.paused {
			return err
		}
		return c.unpause(ctx)
	}, nil
}

// SUTRestarted is not a fault but an event scenarios use like one: the SUT is stopped with
// SIGTERM (checked to exit cleanly) and started again with the same settings, so
// everything it held in memory is gone. Its undo does nothing.
func SUTRestarted() Fault { return sutRestarted{} }

type sutRestarted struct{}

func (sutRestarted) String() string { return "sut-restarted" }

func (sutRestarted) inject(ctx context.Context, e *Env) (UndoFunc, error) {
	if err := e.restartSUT(ctx, nil); err != nil {
		return nil, err
	}
	return func(context.Context) error { return nil }, nil
}
