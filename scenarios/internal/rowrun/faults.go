package rowrun

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/faultline/faultline/chaos"
	"github.com/faultline/faultline/fakes/maxapi"
	"github.com/faultline/faultline/matrix"
)

// oversizedBody is the body size of matrix.FaultOversized: four times the reference
// service's 1 MiB limit, far beyond what any client should read for one chat.
const oversizedBody = 4 << 20

// step is how one dependency's fault is put in place.
type step struct {
	fault chaos.Fault
	// passing faults are applied and lifted again before the requests: the event happened
	// (a restart) and only its effect remains.
	passing bool
	// freezes is set when the harness cannot read the dependency's store directly while the
	// fault holds (a paused container).
	freezes bool
}

// faultTable maps every fault kind of the matrix to the chaos fault that produces it.
// matrix.FaultUp has no entry: nothing is applied.
var faultTable = map[matrix.FaultKind]func(dep chaos.Dependency, f matrix.Fault) step{
	matrix.FaultDown:      func(dep chaos.Dependency, _ matrix.Fault) step { return step{fault: chaos.Down(dep)} },
	matrix.FaultBlackhole: func(dep chaos.Dependency, _ matrix.Fault) step { return step{fault: chaos.Blackhole(dep)} },
	matrix.FaultLatency: func(dep chaos.Dependency, f matrix.Fault) step {
		return step{fault: chaos.Latency(dep, f.Delay, 0)}
	},
	matrix.FaultReset: func(dep chaos.Dependency, _ matrix.Fault) step { return step{fault: chaos.Reset(dep)} },
	// Stopping the container loses everything Redis held; the undo starts it again, empty.
	matrix.FaultRestartedEmpty: func(dep chaos.Dependency, _ matrix.Fault) step {
		return step{fault: chaos.ContainerStopped(dep), passing: true}
	},
	matrix.FaultPaused: func(dep chaos.Dependency, _ matrix.Fault) step {
		return step{fault: chaos.ContainerPaused(dep), freezes: true}
	},
	matrix.FaultStatus: func(_ chaos.Dependency, f matrix.Fault) step { return step{fault: chaos.MaxStatus(f.Status)} },
	matrix.FaultRateLimited: func(_ chaos.Dependency, f matrix.Fault) step {
		return step{fault: chaos.MaxRateLimited(f.RetryAfter)}
	},
	matrix.FaultUnauthorized: func(chaos.Dependency, matrix.Fault) step { return step{fault: chaos.MaxUnauthorized()} },
	matrix.FaultSlow:         func(_ chaos.Dependency, f matrix.Fault) step { return step{fault: chaos.MaxSlow(f.Delay)} },
	matrix.FaultHang:         func(chaos.Dependency, matrix.Fault) step { return step{fault: chaos.MaxHang()} },
	matrix.FaultMalformed:    func(chaos.Dependency, matrix.Fault) step { return step{fault: chaos.MaxMalformed()} },
	matrix.FaultWrongTypes:   func(chaos.Dependency, matrix.Fault) step { return step{fault: chaos.MaxWrongTypes()} },
	matrix.FaultTruncated:    func(chaos.Dependency, matrix.Fault) step { return step{fault: chaos.MaxTruncated()} },
	matrix.FaultOversized:    func(chaos.Dependency, matrix.Fault) step { return step{fault: chaos.MaxOversized(oversizedBody)} },
}

// Plan is how a row's Given faults are put in place.
type Plan struct {
	// Passing are applied and lifted again before the requests (a restart).
	Passing []chaos.Fault
	// Held stay in place during the requests, until the row lifts them (recovery) or the
	// next reset takes them away.
	Held []chaos.Fault
	// Freezing are the Held faults that keep the harness from reading a store directly.
	Freezing []chaos.Fault
}

// PlanFaults maps a row's dependency states onto chaos faults, in dependency order.
func PlanFaults(g matrix.Given) (Plan, error) {
	var p Plan
	for _, d := range matrix.Dependencies() {
		f := g.Fault(d)
		if !f.Active() {
			continue
		}
		if !f.Kind.AppliesTo(d) {
			return Plan{}, fmt.Errorf("fault %s does not apply to %s", f, d)
		}
		build, ok := faultTable[f.Kind]
		if !ok {
			return Plan{}, fmt.Errorf("no chaos fault for %s of %s", f, d)
		}
		s := build(d, f)
		if f.Times > 0 {
			mf, ok := s.fault.(chaos.MaxFault)
			if !ok {
				return Plan{}, fmt.Errorf("%s of %s cannot be limited to a number of calls", f, d)
			}
			s.fault = mf.OnEndpoint(maxapi.EndpointChat).Times(f.Times)
		}
		switch {
		case s.passing:
			p.Passing = append(p.Passing, s.fault)
		default:
			p.Held = append(p.Held, s.fault)
			if s.freezes {
				p.Freezing = append(p.Freezing, s.fault)
			}
		}
	}
	return p, nil
}

// Injector puts faults in place; *chaos.Env is one, and the unit tests have a fake.
type Injector interface {
	Inject(ctx context.Context, faults ...chaos.Fault) (chaos.UndoFunc, error)
}

// Applied is a plan in place. Undo lifts every held fault; UndoFreezing lifts only those
// that keep the harness from reading a store directly (nil when there are none).
type Applied struct {
	Undo         chaos.UndoFunc
	UndoFreezing chaos.UndoFunc
}

// Apply puts the plan in place: passing faults come and go, then the held ones are applied
// and stay, the freezing ones last and separately, so they can be lifted on their own.
// The row and its alert replay both apply their faults this way.
func (p Plan) Apply(ctx context.Context, env Injector) (Applied, error) {
	for _, f := range p.Passing {
		undo, err := env.Inject(ctx, f)
		if err != nil {
			return Applied{}, fmt.Errorf("apply %s: %w", f, err)
		}
		if err := undo(ctx); err != nil {
			return Applied{}, fmt.Errorf("lift %s: %w", f, err)
		}
	}
	var steady []chaos.Fault
	for _, f := range p.Held {
		if !slices.Contains(p.Freezing, f) {
			steady = append(steady, f)
		}
	}
	undoSteady, err := env.Inject(ctx, steady...)
	if err != nil {
		return Applied{}, fmt.Errorf("apply %v: %w", steady, err)
	}
	undoFreezing, err := env.Inject(ctx, p.Freezing...)
	if err != nil {
		return Applied{}, errors.Join(fmt.Errorf("apply %v: %w", p.Freezing, err), undoSteady(ctx))
	}
	a := Applied{Undo: func(ctx context.Context) error { return errors.Join(undoFreezing(ctx), undoSteady(ctx)) }}
	if len(p.Freezing) > 0 {
		a.UndoFreezing = undoFreezing
	}
	return a, nil
}
